package propeller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestPodEventMatters(t *testing.T) {
	pod := func(phase corev1.PodPhase, deleting bool) *corev1.Pod {
		p := &corev1.Pod{Status: corev1.PodStatus{Phase: phase}}
		if deleting {
			now := metav1.Now()
			p.DeletionTimestamp = &now
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		old, new *corev1.Pod
		want     bool
	}{
		{"bound", pod(corev1.PodPending, false), pod(corev1.PodPending, false), false},
		{"started", pod(corev1.PodPending, false), pod(corev1.PodRunning, false), false},
		{"succeeded", pod(corev1.PodRunning, false), pod(corev1.PodSucceeded, false), true},
		{"failed before it ran", pod(corev1.PodPending, false), pod(corev1.PodFailed, false), true},
		{"terminating", pod(corev1.PodRunning, false), pod(corev1.PodRunning, true), true},
		{"a finished pod being deleted", pod(corev1.PodSucceeded, false), pod(corev1.PodSucceeded, true), false},
	} {
		if got := podEventMatters.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("update %s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if podEventMatters.Create(event.CreateEvent{Object: pod(corev1.PodPending, false)}) {
		t.Error("a new pending pod passed")
	}
	if !podEventMatters.Create(event.CreateEvent{Object: pod(corev1.PodSucceeded, false)}) {
		t.Error("a pod first seen finished (a restarted agent) did not pass")
	}
	if !podEventMatters.Delete(event.DeleteEvent{Object: pod(corev1.PodRunning, false)}) {
		t.Error("a deleted pod did not pass")
	}
}

func TestFromWatchCache(t *testing.T) {
	o := &client.DeleteAllOfOptions{}
	o.ApplyOptions([]client.DeleteAllOfOption{client.InNamespace("ns"), client.MatchingLabels{LabelWorkflow: "wf"}, FromWatchCache})
	lo := o.AsListOptions()
	if lo.ResourceVersion != "0" || lo.LabelSelector != LabelWorkflow+"=wf" {
		t.Errorf("list options %+v, want resourceVersion 0 and the label selector", lo)
	}
}
