//go:build e2e

package e2e

// The partition suite proves issue 5's last promise: cut one control-plane
// replica off from the others and the majority keeps serving; the minority
// refuses writes with 503 (and linearizable reads too) and serves stale
// reads only when asked; after healing it catches up.
//
// The cut is made by the proxies of proxy_test.go: Raft traffic to and from
// the minority stops, HTTP stays up. That leaves one path a real partition
// would not: a minority follower may forward a write over HTTP to the leader
// it still remembers. That write goes through a leader with a quorum, so it
// is committed like any other; the suite checks that any write the minority
// acknowledged is in the majority's state, and that once the minority has
// noticed it has no leader (a bounded wait) it refuses every write.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	fedclient "github.com/federation-dev/federation/federation/client"
)

// partitionRaftTimeout is the replicas' --raft-timeout: a follower notices a
// lost leader after 1-2x this, a leader its lost quorum after half of it.
const partitionRaftTimeout = 500 * time.Millisecond

// partitionHold is how long the cut lasts at least.
const partitionHold = 5 * time.Second

func TestPartition(t *testing.T) {
	cases := []struct {
		name string
		// cutLeader cuts the leader off; else a follower.
		cutLeader bool
	}{
		{name: "follower", cutLeader: false},
		{name: "leader", cutLeader: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runPartition(t, tc.cutLeader) })
	}
}

func runPartition(t *testing.T, cutLeader bool) {
	start := time.Now()
	env := NewEnv(t, 3*time.Minute)
	rn := newRaftNet(env)
	cp, ipOf := startPartitionedControlPlane(env, rn)
	cp.WaitReady()
	ctx := env.Ctx
	oldLeader := cp.Leader()

	minority := oldLeader
	if !cutLeader {
		minority = cp.Follower()
	}
	var majority []*Server
	for _, s := range cp.Servers {
		if s != minority {
			majority = append(majority, s)
		}
	}
	var acked []v1.ExecutionKey // every write the control plane acknowledged
	majorityRetries := 0        // majority writes answered 503 during a re-election

	// Before the cut: executions every replica holds.
	before := partitionSubmit(t, ctx, []*fedclient.Client{oldLeader.Client}, "before", 5)
	acked = append(acked, before...)
	waitPartitionConverged(env, cp, minority, acked, 30*time.Second)

	// The cut, and a write sent to the minority at once: the cut leader
	// cannot commit it; a cut follower may still forward it to the leader.
	rn.Cut(ipOf[minority.ID])
	cutAt := time.Now()
	earlyKey := partitionKey("early", 0)
	early := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, _, err := minority.Client.SubmitExecution(wctx, chaosSpec(earlyKey, 1))
		early <- err
	}()

	// The minority notices it has no leader, and the majority agrees on a
	// leader among itself: the same one when a follower was cut, a new one
	// when the leader was. Both are timed from the cut.
	var leader *Server
	times := partitionWait(env, 15*time.Second, cutAt, partitionCond{
		what: minority.ID + " to know no leader",
		cond: func() (bool, error) {
			st, err := minority.Client.RaftStatus(ctx)
			if err != nil {
				return false, err
			}
			if st.Leader != nil || st.State == "Leader" {
				return false, fmt.Errorf("%s is %s and sees leader %v", minority.ID, st.State, st.Leader)
			}
			return true, nil
		},
	}, partitionCond{
		what: "the majority to agree on a leader",
		cond: func() (bool, error) {
			var err error
			leader, err = agreedLeader(ctx, majority)
			return err == nil, err
		},
	})
	detected, elected := times[0], times[1]
	if cutLeader && leader == oldLeader {
		t.Fatalf("the cut leader %s still leads the majority", oldLeader.ID)
	}
	if !cutLeader && leader != oldLeader {
		// Not a failure (a slow machine may miss a heartbeat), but with
		// pre-vote a cut follower should not unseat the leader.
		t.Logf("the majority changed leader while a follower was cut: %s → %s", oldLeader.ID, leader.ID)
	}

	// What became of the early write.
	earlyOutcome := "refused"
	select {
	case err := <-early:
		switch {
		case err == nil:
			earlyOutcome = "forwarded"
			if cutLeader {
				t.Fatalf("the cut leader %s acknowledged a write it could not commit", minority.ID)
			}
			acked = append(acked, earlyKey)
		case fedclient.IsUnavailable(err):
		default:
			t.Fatalf("early write to %s: want 201 or 503, got %v", minority.ID, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the early write to %s got no answer", minority.ID)
	}

	// The majority keeps serving: writes through both of its replicas, and
	// linearizable reads of them.
	during := partitionSubmit(t, ctx, []*fedclient.Client{majority[0].Client, majority[1].Client}, "during", 10)
	acked = append(acked, during...)
	for _, s := range majority {
		for _, k := range []v1.ExecutionKey{before[0], during[len(during)-1]} {
			if _, err := s.Client.GetExecution(ctx, k, false); err != nil {
				t.Fatalf("linearizable read of %s through majority replica %s: %v", k, s.ID, err)
			}
		}
	}
	if earlyOutcome == "forwarded" {
		if _, err := leader.Client.GetExecution(ctx, earlyKey, false); err != nil {
			t.Fatalf("the minority acknowledged %s but the majority lacks it: %v", earlyKey, err)
		}
	}

	// The minority refuses writes and linearizable reads with 503, and
	// serves stale reads, which lack what the majority did meanwhile.
	refusedKey := partitionKey("refused", 0)
	_, _, err := minority.Client.SubmitExecution(ctx, chaosSpec(refusedKey, 1))
	wantUnavailable(t, "a write to the minority", err)
	_, err = minority.Client.GetExecution(ctx, before[0], false)
	wantUnavailable(t, "a linearizable read from the minority", err)
	if _, err := minority.Client.ListExecutions(ctx, fedclient.ListOptions{Project: partitionProject}); err != nil {
		wantUnavailable(t, "a linearizable list from the minority", err)
	} else {
		t.Fatal("a linearizable list from the minority: want 503, got 200")
	}
	stale, err := partitionStaleKeys(ctx, minority)
	if err != nil {
		t.Fatalf("stale read from the minority: %v", err)
	}
	if missing := partitionMissing(stale, before); len(missing) > 0 {
		t.Fatalf("the minority's stale read lacks %v, committed before the cut", missing)
	}
	if leaked := slices.DeleteFunc(slices.Clone(during), func(k v1.ExecutionKey) bool { return !stale[k] }); len(leaked) > 0 {
		t.Fatalf("the cut minority's state holds %v, written during the cut: the cut leaked", leaked)
	}
	// The cut holds for partitionHold, many election timeouts: the majority
	// serves throughout, the minority refuses every write throughout.
	for i := 0; time.Since(cutAt) < partitionHold; i++ {
		k := partitionKey("held", i)
		c := majority[i%2]
		// The two majority replicas may re-elect between themselves when a
		// loaded machine delays a heartbeat past the lease; serving means an
		// answer within a few election timeouts, not on every first try.
		var created bool
		var err error
		for deadline := time.Now().Add(6 * partitionRaftTimeout); ; time.Sleep(100 * time.Millisecond) {
			_, created, err = c.Client.SubmitExecution(ctx, chaosSpec(k, 1))
			if !fedclient.IsUnavailable(err) || time.Now().After(deadline) {
				break
			}
			majorityRetries++
		}
		if err != nil || !created {
			t.Fatalf("submit %s through majority replica %s %s after the cut: created %v, %v", k, c.ID, time.Since(cutAt).Round(time.Millisecond), created, err)
		}
		acked = append(acked, k)
		during = append(during, k)
		_, _, err = minority.Client.SubmitExecution(ctx, chaosSpec(refusedKey, 1))
		wantUnavailable(t, fmt.Sprintf("a write to the minority %s after the cut", time.Since(cutAt).Round(time.Millisecond)), err)
		time.Sleep(200 * time.Millisecond)
	}
	stale, err = partitionStaleKeys(ctx, minority)
	if err != nil {
		t.Fatalf("stale read from the minority: %v", err)
	}
	if leaked := slices.DeleteFunc(slices.Clone(during), func(k v1.ExecutionKey) bool { return !stale[k] }); len(leaked) > 0 {
		t.Fatalf("the cut minority's state holds %v, written during the cut: the cut leaked", leaked)
	}
	if l, err := agreedLeader(ctx, majority); err != nil || l != leader {
		t.Logf("the majority's leader moved during the cut: %v, %v", l, err)
	}
	cutFor := time.Since(cutAt)
	refusedIn, refusedOut := rn.Refused(ipOf[minority.ID])
	if refusedIn == 0 || refusedOut == 0 {
		t.Fatalf("the cut refused %d connections to %s and %d from it: want both > 0", refusedIn, minority.ID, refusedOut)
	}

	// Heal: the minority catches up with everything acknowledged, at the
	// leader's commit index.
	rn.Heal()
	healAt := time.Now()
	caughtUp := partitionWait(env, 60*time.Second, healAt, partitionCond{
		what: minority.ID + " to catch up",
		cond: func() (bool, error) { return partitionCaughtUp(ctx, cp, minority, acked) },
	})[0]

	// Writes the minority refused, or could not commit, are nowhere.
	absent := []v1.ExecutionKey{refusedKey}
	if earlyOutcome == "refused" {
		absent = append(absent, earlyKey)
	}
	l := cp.Leader()
	for _, k := range absent {
		if _, err := l.Client.GetExecution(ctx, k, false); !fedclient.IsNotFound(err) {
			t.Fatalf("%s was refused during the cut, yet the leader answers %v for it", k, err)
		}
	}
	// And the former minority serves writes and reads again.
	after := partitionSubmit(t, ctx, []*fedclient.Client{minority.Client}, "after", 1)
	acked = append(acked, after...)
	if _, err := minority.Client.GetExecution(ctx, after[0], false); err != nil {
		t.Fatalf("linearizable read through %s after healing: %v", minority.ID, err)
	}
	env.Eventually(30*time.Second, "every replica to hold every acknowledged write", func() (bool, error) {
		for _, s := range cp.Servers {
			got, err := partitionStaleKeys(ctx, s)
			if err != nil {
				return false, err
			}
			if missing := partitionMissing(got, acked); len(missing) > 0 {
				return false, fmt.Errorf("%s lacks %v", s.ID, missing)
			}
		}
		return true, nil
	})

	cut := "follower"
	if cutLeader {
		cut = "leader"
	}
	partitionReport(env, Report{
		Submitted: len(acked),
		Duration:  time.Since(start),
		Extra: []string{
			"cut=" + cut,
			fmt.Sprintf("detected_after=%.2fs", detected.Seconds()),
			fmt.Sprintf("majority_leader_after=%.2fs", elected.Seconds()),
			fmt.Sprintf("cut_for=%.1fs", cutFor.Seconds()),
			fmt.Sprintf("caught_up_after_heal=%.2fs", caughtUp.Seconds()),
			fmt.Sprintf("leader_changed=%v", leader != oldLeader),
			"early_write=" + earlyOutcome,
			fmt.Sprintf("refused_conns_in=%d", refusedIn),
			fmt.Sprintf("refused_conns_out=%d", refusedOut),
			fmt.Sprintf("majority_503_retries=%d", majorityRetries),
		},
	})
}

// partitionProject holds the suite's executions.
const partitionProject = "partition"

func partitionKey(prefix string, i int) v1.ExecutionKey {
	return v1.ExecutionKey{Project: partitionProject, Domain: "e2e", Name: fmt.Sprintf("%s-%03d", prefix, i)}
}

// startPartitionedControlPlane starts three replicas, replica i bound on
// 127.0.0.(i+1) and advertising its proxy in rn. It returns the control
// plane and each replica's bind IP by ID.
func startPartitionedControlPlane(env *Env, rn *raftNet) (*ControlPlane, map[string]string) {
	env.T.Helper()
	o := ControlPlaneOptions{Replicas: 3}
	o.defaults()
	cp := &ControlPlane{env: env, Opts: o}
	ipOf := map[string]string{}
	for i := 1; i <= o.Replicas; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		s := &Server{ID: fmt.Sprintf("cp%d", i), HTTPAddr: env.FreeAddr(), RaftAddr: freeAddrOn(env, ip)}
		s.URL = "http://" + s.HTTPAddr
		s.DataDir = filepath.Join(env.Dir, s.ID)
		proxy := rn.add(ip, s.RaftAddr)
		args := []string{"--id", s.ID, "--data-dir", s.DataDir, "--http-addr", s.HTTPAddr,
			"--raft-addr", s.RaftAddr, "--raft-advertise", proxy.Addr(),
			"--raft-timeout", partitionRaftTimeout.String(),
			"--heartbeat-timeout", o.HeartbeatTimeout.String(), "--failover-grace", o.FailoverGrace.String(),
			"--settle-time", o.SettleTime.String(), "--insecure-no-auth", "--log-level", "info"}
		if i == 1 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", cp.Servers[0].URL)
		}
		s.Proc = env.StartProc(s.ID, filepath.Join(env.BinDir, "federation-server"), args...)
		c, err := fedclient.New(s.URL)
		if err != nil {
			env.T.Fatalf("client for %s: %v", s.ID, err)
		}
		s.Client = c
		cp.Servers = append(cp.Servers, s)
		ipOf[s.ID] = ip
	}
	return cp, ipOf
}

// freeAddrOn returns ip:port with a port free at the time of the call.
func freeAddrOn(env *Env, ip string) string {
	env.T.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		env.T.Fatalf("free port on %s: %v", ip, err)
	}
	defer l.Close()
	return l.Addr().String()
}

// partitionCond is one condition partitionWait awaits.
type partitionCond struct {
	what string
	cond func() (bool, error)
}

// partitionWait polls every condition every 50 ms (finer than Eventually,
// since it measures) until all have held once, and returns for each the
// time from from to the first poll it held at.
func partitionWait(env *Env, timeout time.Duration, from time.Time, conds ...partitionCond) []time.Duration {
	env.T.Helper()
	deadline := time.Now().Add(timeout)
	took := make([]time.Duration, len(conds))
	last := make([]error, len(conds))
	pending := len(conds)
	for {
		if err := env.CheckProcs(); err != nil {
			env.T.Fatalf("waiting for %s: %v", conds[0].what, err)
		}
		for i, c := range conds {
			if took[i] > 0 {
				continue
			}
			ok, err := c.cond()
			if ok {
				took[i] = max(time.Since(from), time.Nanosecond)
				pending--
			}
			last[i] = err
		}
		if pending == 0 {
			return took
		}
		if time.Now().After(deadline) {
			for i, c := range conds {
				if took[i] == 0 {
					env.T.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, c.what, last[i])
				}
			}
		}
		select {
		case <-env.Ctx.Done():
			env.T.Fatalf("test deadline passed waiting for %s", conds[0].what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// agreedLeader returns the leader every one of servers names, when they
// agree and it is one of them.
func agreedLeader(ctx context.Context, servers []*Server) (*Server, error) {
	var leader *Server
	for _, s := range servers {
		st, err := s.Client.RaftStatus(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.ID, err)
		}
		if st.Leader == nil {
			return nil, fmt.Errorf("%s knows no leader", s.ID)
		}
		i := slices.IndexFunc(servers, func(x *Server) bool { return x.ID == st.Leader.ID })
		if i < 0 {
			return nil, fmt.Errorf("%s follows %s, outside %d replicas", s.ID, st.Leader.ID, len(servers))
		}
		if leader != nil && leader != servers[i] {
			return nil, fmt.Errorf("replicas disagree on the leader: %s and %s", leader.ID, st.Leader.ID)
		}
		leader = servers[i]
	}
	return leader, nil
}

// partitionSubmit submits count one-node executions prefix-NNN through the
// clients in turn; each must be acknowledged as created at once.
func partitionSubmit(t *testing.T, ctx context.Context, clients []*fedclient.Client, prefix string, count int) []v1.ExecutionKey {
	t.Helper()
	keys := make([]v1.ExecutionKey, count)
	for i := range count {
		keys[i] = partitionKey(prefix, i)
		c := clients[i%len(clients)]
		_, created, err := c.SubmitExecution(ctx, chaosSpec(keys[i], 1))
		if err != nil || !created {
			t.Fatalf("submit %s through %s: created %v, %v", keys[i], c.BaseURL(), created, err)
		}
	}
	return keys
}

// wantUnavailable fails unless err is a 503 with code Unavailable and a
// Retry-After.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var ae *fedclient.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: want 503 Unavailable, got %v", what, err)
	}
	if ae.Status != 503 || ae.Code != v1.CodeUnavailable || ae.RetryAfter <= 0 {
		t.Fatalf("%s: want 503 %s with Retry-After, got %d %s (Retry-After %s): %s",
			what, v1.CodeUnavailable, ae.Status, ae.Code, ae.RetryAfter, ae.Message)
	}
}

// partitionStaleKeys lists the suite's executions from s's local state.
func partitionStaleKeys(ctx context.Context, s *Server) (map[v1.ExecutionKey]bool, error) {
	all, err := s.Client.ListAllExecutions(ctx, fedclient.ListOptions{Project: partitionProject, Limit: 1000, Stale: true})
	if err != nil {
		return nil, fmt.Errorf("stale list from %s: %w", s.ID, err)
	}
	got := make(map[v1.ExecutionKey]bool, len(all))
	for _, ex := range all {
		got[ex.Key()] = true
	}
	return got, nil
}

func partitionMissing(got map[v1.ExecutionKey]bool, want []v1.ExecutionKey) []v1.ExecutionKey {
	var missing []v1.ExecutionKey
	for _, k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	return missing
}

// waitPartitionConverged waits until s holds keys and every replica has
// the same commit index.
func waitPartitionConverged(env *Env, cp *ControlPlane, s *Server, keys []v1.ExecutionKey, timeout time.Duration) {
	env.T.Helper()
	env.Eventually(timeout, "every replica at the same commit index", func() (bool, error) {
		return partitionCaughtUp(env.Ctx, cp, s, keys)
	})
}

// partitionCaughtUp reports whether every replica names the same leader,
// s's commit index is the leader's, and s's stale read holds keys.
func partitionCaughtUp(ctx context.Context, cp *ControlPlane, s *Server, keys []v1.ExecutionKey) (bool, error) {
	leader, err := agreedLeader(ctx, cp.Servers)
	if err != nil {
		return false, err
	}
	ls, err := leader.Client.RaftStatus(ctx)
	if err != nil {
		return false, err
	}
	ss, err := s.Client.RaftStatus(ctx)
	if err != nil {
		return false, err
	}
	if ss.CommitIndex != ls.CommitIndex || ss.AppliedIndex < ls.CommitIndex {
		return false, fmt.Errorf("%s at commit %d applied %d, leader %s at commit %d",
			s.ID, ss.CommitIndex, ss.AppliedIndex, leader.ID, ls.CommitIndex)
	}
	got, err := partitionStaleKeys(ctx, s)
	if err != nil {
		return false, err
	}
	if missing := partitionMissing(got, keys); len(missing) > 0 {
		return false, fmt.Errorf("%s lacks %d acknowledged executions: %s", s.ID, len(missing), partitionKeyList(missing))
	}
	return true, nil
}

func partitionKeyList(keys []v1.ExecutionKey) string {
	names := make([]string, 0, min(len(keys), 5))
	for _, k := range keys[:min(len(keys), 5)] {
		names = append(names, k.Name)
	}
	return strings.Join(names, ", ")
}

// partitionReport writes the report line and adds it to the chaos summary
// (TestChaosReport).
func partitionReport(env *Env, r Report) {
	r.Test = env.T.Name()
	env.WriteReport(r)
	chaosSummary.mu.Lock()
	chaosSummary.lines = append(chaosSummary.lines, r.Line())
	chaosSummary.mu.Unlock()
}
