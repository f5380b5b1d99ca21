// Package kube is the cluster agent's Kubernetes backend: it runs each
// assignment as a Workflow custom resource (api/workflow/v1alpha1) in one
// namespace of the member cluster, drives it with the propeller loop, and
// reads back status and capacity from a controller-runtime cache.
//
// The agent needs, in the member cluster: get/list/watch/create/patch/delete
// on workflows and workflows/status in its namespace; get/list/watch/create/
// delete/deletecollection on pods (list/watch cluster-wide, for capacity);
// get/list/watch on nodes; and, with InstallCRD, create/get/update on
// customresourcedefinitions and create on namespaces and serviceaccounts.
package kube
