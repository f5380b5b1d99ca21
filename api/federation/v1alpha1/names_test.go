package v1alpha1

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// nameCheckerCases are the edges of the three grammars: lengths at and past
// the limits, separators at either end, characters one grammar allows and
// another does not, and prefixes of every shape.
var nameCheckerCases = []string{
	"", "a", "A", "0", "-", ".", "_", "/", "//", "a/", "/a", "a//b", "a/b/c",
	"abc", "a-b", "a--b", "-ab", "ab-", "a.b", "a_b", "a_", "_a", ".a", "a.",
	"My.Name", "my_value", "123-abc", "ABC", "aBc", "a b", "a\n", "\na", "a\x00",
	"é", "aé", "éa", "a\u00e9b", "日本", "ａ", "a\xff",
	strings.Repeat("a", 62), strings.Repeat("a", 63), strings.Repeat("a", 64),
	strings.Repeat("a", 62) + "-", strings.Repeat("A", 63), strings.Repeat("A", 64),
	"example.com/a", "example.com/My.Name", "Example.com/a", "example..com/a",
	".example.com/a", "example.com./a", "-example.com/a", "example-.com/a",
	"ex_ample.com/a", "e/" + strings.Repeat("a", 63), "e/" + strings.Repeat("a", 64),
	"example.com/", "example.com/-a", "example.com/a_", "a.b.c/d", "1.2.3/x",
	strings.Repeat("a", 253) + "/a", strings.Repeat("a", 254) + "/a",
	strings.Repeat("a.", 126) + "a/b", strings.Repeat("a.", 126) + "ab/b",
	strings.Repeat("a", 64) + ".b/c", strings.Repeat("a", 63) + ".b",
}

// checkNameCheckers fails t when a fast checker's verdict on s differs from
// apimachinery's: valid exactly when apimachinery returns no errors.
func checkNameCheckers(t *testing.T, s string) {
	t.Helper()
	for _, c := range []struct {
		name string
		fast func(string) bool
		slow func(string) []string
	}{
		{"DNS-1123 label", isDNS1123Label, validation.IsDNS1123Label},
		{"DNS-1123 subdomain", isDNS1123Subdomain, validation.IsDNS1123Subdomain},
		{"qualified name", isQualifiedName, validation.IsQualifiedName},
		{"label value", isLabelValue, validation.IsValidLabelValue},
	} {
		errs := c.slow(s)
		if got, want := c.fast(s), len(errs) == 0; got != want {
			t.Errorf("%s %q: fast check says valid=%v, apimachinery %q", c.name, s, got, errs)
		}
	}
	for _, c := range []struct {
		name string
		fast func(string) []string
		slow func(string) []string
	}{
		{"dns1123LabelErrors", dns1123LabelErrors, validation.IsDNS1123Label},
		{"qualifiedNameErrors", qualifiedNameErrors, validation.IsQualifiedName},
		{"labelValueErrors", labelValueErrors, validation.IsValidLabelValue},
	} {
		if got, want := c.fast(s), c.slow(s); strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
			t.Errorf("%s(%q) = %q, apimachinery %q", c.name, s, got, want)
		}
	}
}

func TestNameCheckersAgreeWithApimachinery(t *testing.T) {
	for _, s := range nameCheckerCases {
		checkNameCheckers(t, s)
	}
}

// TestNameCheckersVerdicts pins a few verdicts, so the checkers are not
// only consistent with apimachinery but also what the API documents.
func TestNameCheckersVerdicts(t *testing.T) {
	for _, c := range []struct {
		s                            string
		label, qualified, labelValue bool
	}{
		{"", false, false, true},
		{"pricing", true, true, true},
		{"eta-model-run1-7", true, true, true},
		{"Pricing", false, true, true},
		{"a.b", false, true, true},
		{"a_b", false, true, true},
		{"-a", false, false, false},
		{"topology.kubernetes.io/region", false, true, false},
		{"Example.com/region", false, false, false},
		{strings.Repeat("a", 63), true, true, true},
		{strings.Repeat("a", 64), false, false, false},
	} {
		if got := isDNS1123Label(c.s); got != c.label {
			t.Errorf("isDNS1123Label(%q) = %v, want %v", c.s, got, c.label)
		}
		if got := isQualifiedName(c.s); got != c.qualified {
			t.Errorf("isQualifiedName(%q) = %v, want %v", c.s, got, c.qualified)
		}
		if got := isLabelValue(c.s); got != c.labelValue {
			t.Errorf("isLabelValue(%q) = %v, want %v", c.s, got, c.labelValue)
		}
	}
}

// FuzzNameCheckers holds the fast name checkers to apimachinery's verdict
// on any input.
func FuzzNameCheckers(f *testing.F) {
	for _, s := range nameCheckerCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkNameCheckers(t, s)
	})
}
