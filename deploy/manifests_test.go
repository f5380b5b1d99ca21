// Package deploy_test renders the kustomizations of deploy/ and applies
// them, server-side and dry-run, to a real kube-apiserver from the testbed.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/federation-dev/federation/test/testbed"
)

// render builds the kustomization in dir, as `kubectl kustomize dir` does.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		// Through JSON, so that numbers are int64 as client-go expects.
		y, err := r.AsYAML()
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		out = append(out, u)
	}
	return out
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// TestKustomizationsRender builds every kustomization and checks what the
// overlays change and what the bases promise.
func TestKustomizationsRender(t *testing.T) {
	cases := []struct {
		dir   string
		kinds []string
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{"control-plane", []string{"Namespace", "ServiceAccount", "Service", "Service", "StatefulSet", "PodDisruptionBudget"}, func(t *testing.T, objs []*unstructured.Unstructured) {
			sts := find(objs, "StatefulSet", "federation")
			if n, _, _ := unstructured.NestedInt64(sts.Object, "spec", "replicas"); n != 3 {
				t.Errorf("replicas %d, want 3", n)
			}
			if svc, _, _ := unstructured.NestedString(sts.Object, "spec", "serviceName"); svc != "federation-peers" || find(objs, "Service", svc) == nil {
				t.Errorf("serviceName %q has no headless Service", svc)
			}
			if ip, _, _ := unstructured.NestedString(find(objs, "Service", "federation-peers").Object, "spec", "clusterIP"); ip != "None" {
				t.Errorf("peers Service clusterIP %q, want None (headless)", ip)
			}
			c := container(t, sts)
			if p, _, _ := unstructured.NestedString(c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
				t.Errorf("readiness probe %q, want /readyz", p)
			}
			if tpl, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates"); len(tpl) != 1 {
				t.Errorf("volumeClaimTemplates %v, want the data PVC", tpl)
			}
			for _, o := range objs {
				if o.GetKind() != "Namespace" && o.GetNamespace() != "federation-system" {
					t.Errorf("%s/%s in namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
				}
			}
		}},
		{"agent", []string{"CustomResourceDefinition", "Namespace", "Namespace", "ServiceAccount", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Deployment"}, checkLeastPrivilege},
		{"overlays/production", nil, func(t *testing.T, objs []*unstructured.Unstructured) {
			sts := find(objs, "StatefulSet", "federation")
			if n, _, _ := unstructured.NestedInt64(sts.Object, "spec", "replicas"); n != 5 {
				t.Errorf("production replicas %d, want 5", n)
			}
			if n, _, _ := unstructured.NestedInt64(find(objs, "PodDisruptionBudget", "federation-server").Object, "spec", "maxUnavailable"); n != 2 {
				t.Errorf("production PDB maxUnavailable %d, want 2", n)
			}
			if img, _, _ := unstructured.NestedString(container(t, sts), "image"); !strings.HasSuffix(img, ":v0.1.0") {
				t.Errorf("image %q, want the pinned tag", img)
			}
			if c := container(t, sts); c["readinessProbe"] == nil || c["args"] == nil {
				t.Errorf("the resources patch dropped the container's other fields: %v", c)
			}
		}},
		{"overlays/member", nil, func(t *testing.T, objs []*unstructured.Unstructured) {
			env, _, _ := unstructured.NestedSlice(container(t, find(objs, "Deployment", "cluster-agent")), "env")
			got := map[string]any{}
			for _, e := range env {
				m := e.(map[string]any)
				got[m["name"].(string)] = m["value"]
			}
			if got["FEDERATION_CLUSTER"] != "us-east-1" || !strings.HasPrefix(got["FEDERATION_SERVER"].(string), "https://federation.") {
				t.Errorf("member overlay env %v", got)
			}
		}},
		{"monitoring", []string{"ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"}, func(t *testing.T, objs []*unstructured.Unstructured) {
			data, _, _ := unstructured.NestedString(find(objs, "ConfigMap", "federation-grafana-dashboard").Object, "data", "federation-dashboard.json")
			var dash struct {
				Title  string           `json:"title"`
				Panels []map[string]any `json:"panels"`
			}
			if err := json.Unmarshal([]byte(data), &dash); err != nil || dash.Title == "" || len(dash.Panels) < 20 {
				t.Errorf("dashboard: %v, title %q, %d panels", err, dash.Title, len(dash.Panels))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.dir, func(t *testing.T) {
			objs := render(t, tc.dir)
			if tc.kinds != nil {
				var kinds []string
				for _, o := range objs {
					kinds = append(kinds, o.GetKind())
				}
				if slices.Sort(kinds); !slices.Equal(kinds, sorted(tc.kinds)) {
					t.Errorf("kinds %v, want %v", kinds, sorted(tc.kinds))
				}
			}
			tc.check(t, objs)
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func container(t *testing.T, o *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("%s/%s has %d containers, want 1", o.GetKind(), o.GetName(), len(cs))
	}
	return cs[0].(map[string]any)
}

// checkLeastPrivilege: no wildcard anywhere, no write cluster-wide, and
// writes only on what the agent owns.
func checkLeastPrivilege(t *testing.T, objs []*unstructured.Unstructured) {
	writes := []string{"create", "update", "patch", "delete", "deletecollection"}
	for _, o := range objs {
		if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			b, _ := json.Marshal(r)
			var rule struct {
				APIGroups, Resources, Verbs []string
			}
			_ = json.Unmarshal(b, &rule)
			if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") || slices.Contains(rule.APIGroups, "*") {
				t.Errorf("%s %s has a wildcard: %s", o.GetKind(), o.GetName(), b)
			}
			for _, v := range rule.Verbs {
				if !slices.Contains(writes, v) {
					continue
				}
				if o.GetKind() == "ClusterRole" {
					t.Errorf("ClusterRole %s writes (%s %v): cluster-wide access must be read-only", o.GetName(), v, rule.Resources)
				}
				for _, res := range rule.Resources {
					if !strings.HasPrefix(res, "workflows") && res != "pods" {
						t.Errorf("Role %s may %s %s", o.GetName(), v, res)
					}
				}
			}
		}
	}
	// The CRD shipped here is the generated one, byte for byte.
	want, err := os.ReadFile(filepath.Join("..", "api", "workflow", "v1alpha1", "crd", "workflow.federation.dev_workflows.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("agent", "crd-workflows.yaml"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("deploy/agent/crd-workflows.yaml differs from the generated CRD (%v): copy api/workflow/v1alpha1/crd/workflow.federation.dev_workflows.yaml", err)
	}
}

// TestManifestsApplyToARealAPIServer applies every object of the control
// plane, the agent and both overlays to a real kube-apiserver with
// server-side apply and dry-run: the API server validates and defaults
// them (schema, RBAC rules, probes, PVC templates) and stores nothing. Only
// the namespaces are created for real, since a dry-run object cannot live in
// a namespace that does not exist.
func TestManifestsApplyToARealAPIServer(t *testing.T) {
	if err := testbed.Available(); err != nil {
		t.Skipf("no real API server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := testbed.Start(ctx, testbed.ClusterOptions{Name: "deploy"})
	if err != nil {
		t.Fatalf("start testbed cluster: %v", err)
	}
	t.Cleanup(func() { _ = cl.Stop() })
	dyn, err := dynamic.NewForConfig(cl.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cl.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))

	for _, dir := range []string{"control-plane", "agent", "overlays/production", "overlays/member"} {
		t.Run(dir, func(t *testing.T) {
			for _, o := range render(t, dir) {
				apply(t, ctx, dyn, mapper, o)
			}
		})
	}
}

func apply(t *testing.T, ctx context.Context, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, o *unstructured.Unstructured) {
	t.Helper()
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
	if err != nil {
		t.Fatalf("%s %s: no such API on the server: %v", gvk, o.GetName(), err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == "namespace" {
		ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	opts := metav1.ApplyOptions{FieldManager: "deploy-test", Force: true}
	if gvk.Kind != "Namespace" {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	got, err := ri.Apply(ctx, o.GetName(), o, opts)
	if err != nil {
		b, _ := yaml.Marshal(o.Object)
		t.Errorf("apply %s %s/%s: %v\n%s", gvk.Kind, o.GetNamespace(), o.GetName(), err, b)
		return
	}
	if got.GetUID() == "" && gvk.Kind != "Namespace" {
		t.Errorf("apply %s %s: the server returned no object", gvk.Kind, o.GetName())
	}
	if gvk.Kind == "Namespace" {
		return
	}
	// Dry-run stored nothing.
	if _, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("%s %s exists after a dry-run apply (%v)", gvk.Kind, o.GetName(), err)
	}
}
