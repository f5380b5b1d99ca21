package kube

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/clusteragent/propeller"
	"github.com/federation-dev/federation/clusteragent/propeller/kubetest"
)

func TestRecentDeletesExpire(t *testing.T) {
	a := types.NamespacedName{Namespace: "ns", Name: "a"}
	b := types.NamespacedName{Namespace: "ns", Name: "b"}
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name   string
		ops    func(r *recentDeletes)
		at     time.Duration
		wantA  bool
		wantB  bool
		queued int
	}{
		{"remembered", func(r *recentDeletes) { r.add(a, t0) }, time.Minute, true, false, 1},
		{"expired", func(r *recentDeletes) { r.add(a, t0) }, deletedTTL, false, false, 0},
		{"renewed", func(r *recentDeletes) { r.add(a, t0); r.add(a, t0.Add(deletedTTL/2)) }, deletedTTL, true, false, 1},
		{"one of two expired", func(r *recentDeletes) { r.add(a, t0); r.add(b, t0.Add(time.Minute)) }, deletedTTL, false, true, 1},
		{"forgotten on create", func(r *recentDeletes) { r.add(a, t0); r.forget(a) }, time.Second, false, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r recentDeletes
			tc.ops(&r)
			now := t0.Add(tc.at)
			if got := r.has(a, now); got != tc.wantA {
				t.Errorf("has(a) = %v, want %v", got, tc.wantA)
			}
			if got := r.has(b, now); got != tc.wantB {
				t.Errorf("has(b) = %v, want %v", got, tc.wantB)
			}
			if len(r.queue) > tc.queued {
				t.Errorf("queue holds %d names, want at most %d", len(r.queue), tc.queued)
			}
		})
	}
}

// TestDeleteAgainWritesNothing: the session deletes a finished workflow
// twice (after its final report, and when the assignment list drops it);
// the second Delete must not cost the API server a write. A new Start of
// the same name is deleted again.
func TestDeleteAgainWritesNothing(t *testing.T) {
	b, _, _ := startBackend(t)
	a := assignment("twice", 1)
	a.Workflow.Nodes = a.Workflow.Nodes[:1]
	a.Workflow.Nodes[0].Retries = 0
	ctx := context.Background()
	if err := b.Start(ctx, a); err != nil {
		t.Fatalf("Start: %v", err)
	}
	waitState(t, b, a.Key(), 1, v1.PhaseRunning)
	if err := b.Delete(ctx, a.Key(), 1); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	// At once, while the cache most likely still shows the workflow and
	// its pod, and again once it no longer does.
	before := b.Writes()
	if err := b.Delete(ctx, a.Key(), 1); err != nil {
		t.Fatalf("immediate second Delete: %v", err)
	}
	if got := b.Writes() - before; got != 0 {
		t.Errorf("immediate second Delete wrote %d times, want 0", got)
	}
	// Both, before the same name is started again: a pod of the deleted
	// copy still in the cache has the name the new copy's pod will have.
	kubetest.Eventually(t, 10*time.Second, "the cache to drop the workflow and its pod", func() (bool, error) {
		if _, ok := find(t, b, a.Key(), 1); ok {
			return false, nil
		}
		var pods corev1.PodList
		nn := b.key(a.Key(), 1)
		err := b.cache.List(ctx, &pods, client.InNamespace(nn.Namespace), client.MatchingFields{propeller.IndexPodWorkflow: nn.Name})
		return err == nil && len(pods.Items) == 0, err
	})
	before = b.Writes()
	if err := b.Delete(ctx, a.Key(), 1); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if got := b.Writes() - before; got != 0 {
		t.Errorf("second Delete wrote %d times, want 0", got)
	}

	if err := b.Start(ctx, a); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	waitState(t, b, a.Key(), 1, v1.PhaseRunning)
	before = b.Writes()
	if err := b.Delete(ctx, a.Key(), 1); err != nil {
		t.Fatalf("Delete of the new workflow: %v", err)
	}
	if got := b.Writes() - before; got == 0 {
		t.Error("Delete of a workflow created again wrote nothing")
	}
}
