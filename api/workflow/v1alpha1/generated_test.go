package v1alpha1

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// generatedFiles are the files test/codegen/generate.sh writes, relative to
// the repository root.
var generatedFiles = []string{
	"api/workflow/v1alpha1/zz_generated.deepcopy.go",
	"api/workflow/v1alpha1/crd/workflow.federation.dev_workflows.yaml",
}

// TestGeneratedFilesUpToDate regenerates the deepcopy functions and the CRD
// into a temporary folder and fails when the committed ones differ: a type
// changed without running test/codegen/generate.sh.
func TestGeneratedFilesUpToDate(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "controller-gen")); err != nil {
		t.Skip("bin/controller-gen is missing: run test/codegen/generate.sh (make generate) to install it")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is missing")
	}
	out := t.TempDir()
	ctx := t.Context()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "test", "codegen", "generate.sh"))
	cmd.Env = append(os.Environ(), "OUT="+out, "CODEGEN_NO_INSTALL=1")
	cmd.WaitDelay = 5 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
			t.Skipf("controller-gen has the wrong version: run test/codegen/generate.sh\n%s", b)
		}
		t.Fatalf("generate.sh: %v\n%s", err, b)
	}
	for _, f := range generatedFiles {
		want, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatalf("regenerated %s: %v", f, err)
		}
		got, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatalf("committed %s: %v", f, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run test/codegen/generate.sh", f)
		}
	}
}

// TestCRDYAMLEmbedded checks that the embedded manifest is the Workflow CRD
// with the status subresource and the printer columns kubectl shows.
func TestCRDYAMLEmbedded(t *testing.T) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(CRDYAML, &crd); err != nil {
		t.Fatalf("decode CRDYAML: %v", err)
	}
	if crd.Name != "workflows."+GroupVersion.Group || crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Fatalf("CRD %s scope %s", crd.Name, crd.Spec.Scope)
	}
	if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != GroupVersion.Version {
		t.Fatalf("versions %+v", crd.Spec.Versions)
	}
	v := crd.Spec.Versions[0]
	if v.Subresources == nil || v.Subresources.Status == nil {
		t.Error("status subresource missing")
	}
	var cols []string
	for _, c := range v.AdditionalPrinterColumns {
		cols = append(cols, c.Name)
	}
	if got, want := cols, []string{"Phase", "Age", "Execution", "Attempt"}; !equal(got, want) {
		t.Errorf("printer columns %v, want %v", got, want)
	}
	ttl := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["ttlAfterFinished"]
	if ttl.Default == nil || string(ttl.Default.Raw) != `"10m"` {
		t.Errorf("ttlAfterFinished default %v, want \"10m\"", ttl.Default)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
