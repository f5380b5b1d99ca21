// Package v1alpha1 holds the wire types of the federation API: clusters,
// executions, workflow specs, capacity, and the requests and responses of the
// HTTP API and the agent protocol. It also holds pure validation of those
// types. Nothing here does I/O.
package v1alpha1

// APIPrefix is the path prefix of every endpoint of this API version.
const APIPrefix = "/api/v1alpha1"
