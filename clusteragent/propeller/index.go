package propeller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// IndexPodWorkflow is the cache index of task pods by the name of their
// workflow (the LabelWorkflow label). Listing a workflow's pods by label
// would match the selector against every pod of the namespace on each
// reconcile; through the index it costs a map lookup.
const IndexPodWorkflow = "workflow.federation.dev/pod-workflow"

// IndexPodsByWorkflow registers IndexPodWorkflow. SetupWithManager calls it;
// the manager's cache then answers
// List(..., InNamespace(ns), MatchingFields{IndexPodWorkflow: name}).
func IndexPodsByWorkflow(ctx context.Context, idx client.FieldIndexer) error {
	err := idx.IndexField(ctx, &corev1.Pod{}, IndexPodWorkflow, func(o client.Object) []string {
		if name, ok := o.GetLabels()[LabelWorkflow]; ok {
			return []string{name}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index pods by workflow: %w", err)
	}
	return nil
}

// FromWatchCache makes a DeleteAllOf select what it deletes from the API
// server's watch cache (resourceVersion "0") instead of a consistent list.
// A consistent list waits until the watch cache has caught up with etcd's
// latest revision, which on a busy cluster means waiting for etcd's next
// progress notification (the API server asks every 100 ms): a tenth of a
// second per collection. The callers delete the pods their own informer
// cache shows, and that cache is fed from the same watch cache, which has
// therefore seen every one of them: the fresh read adds nothing but the
// wait.
var FromWatchCache client.DeleteAllOfOption = fromWatchCache{}

type fromWatchCache struct{}

func (fromWatchCache) ApplyToDeleteAllOf(o *client.DeleteAllOfOptions) {
	if o.ListOptions.Raw == nil {
		o.ListOptions.Raw = &metav1.ListOptions{}
	}
	o.ListOptions.Raw.ResourceVersion = "0"
}

// podEventMatters passes the pod events a reconcile can act on: a pod that
// ended (Succeeded or Failed), began terminating, or is gone. The rest of a
// pod's life (created by the loop itself, bound, started) changes nothing
// the loop reads, and would cost a reconcile each: four of the six events
// of a task pod's life. A pod seen for the first time (a restarted agent's
// initial list) passes when it has already ended or is terminating; its
// workflow is reconciled on its own create event anyway.
var podEventMatters = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool { return podSettled(e.Object) },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return podSettled(e.ObjectNew) && !podSettled(e.ObjectOld)
	},
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return true },
}

// podSettled reports whether a pod ended or is being deleted: what the
// loop waits for.
func podSettled(o client.Object) bool {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return true
	}
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || !p.DeletionTimestamp.IsZero()
}
