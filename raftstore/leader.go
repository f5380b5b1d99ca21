package raftstore

// LeaderCh returns a new channel that receives every leadership change of
// this node (true: it became leader, false: it stopped). The channel is
// buffered; a slow reader loses the oldest values, never the latest. On
// Close it receives false; it is never closed.
func (n *Node) LeaderCh() <-chan bool {
	ch := make(chan bool, 4)
	n.leaderMu.Lock()
	n.leaderSubs = append(n.leaderSubs, ch)
	n.leaderMu.Unlock()
	return ch
}

// runNotify fans raft's leadership notifications out to the subscribers.
// Raft blocks until its notification is taken, so this loop never waits on
// a subscriber.
func (n *Node) runNotify() {
	defer n.wg.Done()
	for {
		select {
		case v := <-n.notify:
			n.log.Info("leadership changed", "leader", v)
			n.leaderMu.Lock()
			for _, ch := range n.leaderSubs {
				sendLatest(ch, v)
			}
			n.leaderMu.Unlock()
		case <-n.stop:
			return
		}
	}
}

// sendLatest sends v without blocking, dropping the oldest buffered value
// when full. Only one goroutine sends at a time (under leaderMu), so after a
// drop there is room.
func sendLatest(ch chan bool, v bool) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
