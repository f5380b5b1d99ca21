package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// logCacheSize is how many of the newest log entries the log cache holds:
// more than group commit keeps in flight and a pipelined follower trails by.
const logCacheSize = 256

// Node is one member of the control plane's Raft cluster, with the
// federation state as its FSM.
type Node struct {
	cfg   Config
	log   *slog.Logger
	state *State

	raft      *raft.Raft
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
	archive   *boltArchive
	batcher   *batcher

	// notify receives raft's leadership changes; runNotify fans them out.
	notify     chan bool
	leaderMu   sync.Mutex
	leaderSubs []chan bool

	// barrierTerm is the term in which this node, as leader, last committed
	// a barrier: from then on its commit index covers every entry committed
	// before it led, which VerifyRead relies on.
	barrierTerm atomic.Uint64
	barrierMu   sync.Mutex

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open starts a node from cfg.Dir, bootstrapping a single-voter cluster when
// cfg.Bootstrap is set and the directory holds no Raft state.
func Open(cfg Config) (n *Node, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open raft node %s: %w", cfg.ID, err)
	}
	n = &Node{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "raftstore", "id", cfg.ID),
		state:  NewState(),
		notify: make(chan bool),
		stop:   make(chan struct{}),
	}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	n.store, err = raftboltdb.New(raftboltdb.Options{
		Path:   filepath.Join(cfg.Dir, "raft.db"),
		NoSync: cfg.NoSync,
		BoltOptions: &bbolt.Options{
			// Fail rather than hang when another process holds the file.
			Timeout: 5 * time.Second,
			// As etcd does: the freelist is not written on every commit
			// (fewer pages to write before each fsync) but rebuilt when the
			// file is opened; the map freelist is the faster one for that.
			NoFreelistSync: true,
			FreelistType:   bbolt.FreelistMapType,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open raft node %s: bolt store: %w", cfg.ID, err)
	}
	closers = append(closers, n.store.Close)

	// The archive lives on disk (archive_store.go); the FSM starts it empty
	// and fills it from the snapshot and the log like the rest of its state.
	n.archive, err = openBoltArchive(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open raft node %s: %w", cfg.ID, err)
	}
	closers = append(closers, n.archive.close)
	n.state.arch = n.archive

	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, newHclog(cfg.Logger, "snapshot"))
	if err != nil {
		return nil, fmt.Errorf("open raft node %s: snapshot store: %w", cfg.ID, err)
	}

	n.transport, err = newTransport(&cfg)
	if err != nil {
		return nil, fmt.Errorf("open raft node %s: transport: %w", cfg.ID, err)
	}
	closers = append(closers, n.transport.Close)

	existing, err := raft.HasExistingState(n.store, n.store, snaps)
	if err != nil {
		return nil, fmt.Errorf("open raft node %s: read state: %w", cfg.ID, err)
	}

	n.wg.Add(1)
	go n.runNotify()
	closers = append(closers, func() error { close(n.stop); n.wg.Wait(); return nil })

	local := newLocalEntries()
	f := &fsm{state: n.state, log: n.log, local: local}
	// The cache keeps the newest entries in memory, write-through: a leader
	// replicates what it just wrote without reading it back from bolt and
	// decoding it again for every follower.
	logs, err := raft.NewLogCache(logCacheSize, n.store)
	if err != nil {
		return nil, fmt.Errorf("open raft node %s: log cache: %w", cfg.ID, err)
	}
	n.raft, err = raft.NewRaft(cfg.raftConfig(n.notify), f, logs, n.store, snaps, n.transport)
	if err != nil {
		return nil, fmt.Errorf("open raft node %s: %w", cfg.ID, err)
	}
	closers = append(closers, func() error { return n.raft.Shutdown().Error() })

	if cfg.Bootstrap && !existing {
		boot := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(cfg.ID), Address: n.transport.LocalAddr(),
		}}}
		if err := n.raft.BootstrapCluster(boot).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("open raft node %s: bootstrap: %w", cfg.ID, err)
		}
		n.log.Info("bootstrapped a new raft cluster", "addr", n.RaftAddr())
	}
	n.batcher = newBatcher(n.raft, cfg.MaxBatch, n.log)
	n.batcher.local = local
	n.log.Info("raft node open", "addr", n.RaftAddr(), "existing_state", existing)
	return n, nil
}

// newTransport builds the network transport: over cfg.StreamLayer when set,
// else over plain TCP on cfg.BindAddr that dials from the bind IP
// (TCPStreamLayer). cfg.AdvertiseAddr, when set, is what peers dial either
// way.
func newTransport(cfg *Config) (*raft.NetworkTransport, error) {
	tc := &raft.NetworkTransportConfig{
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  newHclog(cfg.Logger, "transport"),
	}
	switch {
	case cfg.StreamLayer != nil && cfg.AdvertiseAddr != "":
		addr, err := advertisedAddr(cfg.StreamLayer.Addr(), cfg.AdvertiseAddr)
		if err != nil {
			return nil, err
		}
		tc.Stream = advertisedLayer{StreamLayer: cfg.StreamLayer, addr: addr}
	case cfg.StreamLayer != nil:
		tc.Stream = cfg.StreamLayer
	default:
		l, err := NewTCPStreamLayer(cfg.BindAddr, cfg.AdvertiseAddr)
		if err != nil {
			return nil, err
		}
		tc.Stream = l
	}
	return raft.NewNetworkTransportWithConfig(tc), nil
}

// Close shuts the node down: it stops taking commands, hands leadership to
// another voter if it leads, and stops Raft. It is idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(true) })
	return n.closeErr
}

// shutdown stops everything; transfer asks for a leadership transfer first.
func (n *Node) shutdown(transfer bool) error {
	n.batcher.close()
	if transfer && n.IsLeader() && n.otherVoters() {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.log.Warn("leadership transfer on close failed", "error", err)
		}
	}
	var errs []error
	if err := n.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
	}
	n.batcher.wait()
	close(n.stop)
	n.wg.Wait()
	// Subscribers learn that this node no longer leads; their channels stay
	// open so that a select on them cannot spin.
	n.leaderMu.Lock()
	for _, ch := range n.leaderSubs {
		sendLatest(ch, false)
	}
	n.leaderMu.Unlock()
	if err := n.transport.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close transport: %w", err))
	}
	if err := n.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close bolt store: %w", err))
	}
	// Every generation of the archive shares this file.
	if err := n.archive.close(); err != nil {
		errs = append(errs, fmt.Errorf("close archive: %w", err))
	}
	n.log.Info("raft node closed")
	if len(errs) > 0 {
		return fmt.Errorf("close raft node %s: %w", n.cfg.ID, errors.Join(errs...))
	}
	return nil
}

// otherVoters reports whether the configuration has a voter besides this
// node, i.e. whether a leadership transfer can succeed.
func (n *Node) otherVoters() bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != n.cfg.ID {
			return true
		}
	}
	return false
}

// ID returns the node's Raft server ID.
func (n *Node) ID() string { return n.cfg.ID }

// RaftAddr returns the advertised Raft address.
func (n *Node) RaftAddr() string { return string(n.transport.LocalAddr()) }

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the current leader's ID and address, empty when unknown.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// State returns the FSM state.
func (n *Node) State() *State { return n.state }

// Raft returns the underlying Raft instance, for tests and metrics.
func (n *Node) Raft() *raft.Raft { return n.raft }

// WaitForLeader waits until a leader is known.
func (n *Node) WaitForLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if id, _ := n.Leader(); id != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for leader: %w", ctx.Err())
		case <-n.stop:
			return fmt.Errorf("wait for leader: %w", ErrClosed)
		case <-t.C:
		}
	}
}

// Snapshot takes a snapshot now.
func (n *Node) Snapshot() error {
	if err := n.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}
