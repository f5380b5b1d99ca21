package propeller

import (
	"context"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Write verbs, the values of the verb label of clusteragent_api_writes_total.
// Writes to a subresource are labelled "<verb>_<subresource>", such as
// update_status.
const (
	VerbCreate      = "create"
	VerbUpdate      = "update"
	VerbPatch       = "patch"
	VerbApply       = "apply"
	VerbDelete      = "delete"
	VerbDeleteAllOf = "deletecollection"
)

// CountingClient is a client.Client that counts its write requests, whether
// or not the API server accepts them: a refused write still cost a round
// trip. Reads pass through untouched.
type CountingClient struct {
	client.Client
	writes atomic.Int64
}

// NewCountingClient wraps c.
func NewCountingClient(c client.Client) *CountingClient {
	return &CountingClient{Client: c}
}

// Writes returns how many write requests went through this client.
func (c *CountingClient) Writes() int64 { return c.writes.Load() }

func (c *CountingClient) count(verb string) {
	c.writes.Add(1)
	apiWrites.WithLabelValues(verb).Inc()
}

// Create counts and creates.
func (c *CountingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.count(VerbCreate)
	return c.Client.Create(ctx, obj, opts...)
}

// Update counts and updates.
func (c *CountingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.count(VerbUpdate)
	return c.Client.Update(ctx, obj, opts...)
}

// Patch counts and patches.
func (c *CountingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.count(VerbPatch)
	return c.Client.Patch(ctx, obj, patch, opts...)
}

// Apply counts and applies.
func (c *CountingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	c.count(VerbApply)
	return c.Client.Apply(ctx, obj, opts...)
}

// Delete counts and deletes.
func (c *CountingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.count(VerbDelete)
	return c.Client.Delete(ctx, obj, opts...)
}

// DeleteAllOf counts and deletes a collection.
func (c *CountingClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	c.count(VerbDeleteAllOf)
	return c.Client.DeleteAllOf(ctx, obj, opts...)
}

// Status returns a status writer whose writes are counted.
func (c *CountingClient) Status() client.SubResourceWriter {
	return &countingSubResource{parent: c, w: c.Client.Status(), name: "status"}
}

// SubResource returns a subresource client whose writes are counted.
func (c *CountingClient) SubResource(name string) client.SubResourceClient {
	sc := c.Client.SubResource(name)
	return &countingSubResourceClient{SubResourceReader: sc, countingSubResource: countingSubResource{parent: c, w: sc, name: name}}
}

type countingSubResource struct {
	parent *CountingClient
	w      client.SubResourceWriter
	name   string
}

func (s *countingSubResource) Create(ctx context.Context, obj client.Object, sub client.Object, opts ...client.SubResourceCreateOption) error {
	s.parent.count(VerbCreate + "_" + s.name)
	return s.w.Create(ctx, obj, sub, opts...)
}

func (s *countingSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.parent.count(VerbUpdate + "_" + s.name)
	return s.w.Update(ctx, obj, opts...)
}

func (s *countingSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	s.parent.count(VerbPatch + "_" + s.name)
	return s.w.Patch(ctx, obj, patch, opts...)
}

func (s *countingSubResource) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	s.parent.count(VerbApply + "_" + s.name)
	return s.w.Apply(ctx, obj, opts...)
}

type countingSubResourceClient struct {
	client.SubResourceReader
	countingSubResource
}
