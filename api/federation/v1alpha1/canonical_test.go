package v1alpha1

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// trickyStrings are what a string escaper can get wrong.
var trickyStrings = []string{
	"", "a", "<script>&amp;</script>", "a>b", "&", "\u2028", "\u2029", "x\u2028y\u2029z",
	"\xff", "\xfe\xff", "a\xffb", "\xed\xa0\x80", "\xc0\x80", "\xe2\x80", "\xe2\x80\xa8\xe2",
	"\"quoted\"", `back\slash`, "\n\r\t\b\f", "\x00", "\x01\x1f", "\x7f", "é", "日本語", "\U0001F600",
	"\ufffd", "\\u0041", "/", "a b", "DOMAIN", "\u212a", "\u017f",
}

// filler fills a value of any type from fuzz bytes, field by field, by
// reflection: a field a type gains is filled too, so the comparison with
// json.Marshal fails until canonical.go renders it.
type filler struct{ data []byte }

func (f *filler) next() int {
	if len(f.data) == 0 {
		return 0
	}
	c := f.data[0]
	f.data = f.data[1:]
	return int(c)
}

func (f *filler) str() string {
	switch f.next() % 4 {
	case 0:
		return ""
	case 1:
		return trickyStrings[f.next()%len(trickyStrings)]
	case 2:
		// Raw bytes, any of them.
		n := min(f.next()%12, len(f.data))
		s := string(f.data[:n])
		f.data = f.data[n:]
		return s
	}
	return trickyStrings[f.next()%len(trickyStrings)] + f.str()
}

func (f *filler) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(f.str())
	case reflect.Int, reflect.Int64, reflect.Int32:
		switch f.next() % 5 {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(int64(f.next()))
		case 2:
			v.SetInt(-int64(f.next()))
		case 3:
			v.SetInt(math.MaxInt64)
		default:
			v.SetInt(math.MinInt64)
		}
	case reflect.Pointer:
		if f.next()%3 == 0 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem())
	case reflect.Slice:
		switch n := f.next() % 6; n {
		case 0:
			v.SetZero()
		default:
			n--
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				f.fill(v.Index(i))
			}
		}
	case reflect.Map:
		switch n := f.next() % 5; n {
		case 0:
			v.SetZero()
		default:
			m := reflect.MakeMap(v.Type())
			n = []int{0, 1, 3, 11}[n-1]
			for range n {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				f.fill(k)
				f.fill(e)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i))
			}
		}
	default:
		panic("filler: no rule for " + v.Type().String())
	}
}

// checkCanonical fails unless Canonical, AppendCanonical after a prefix,
// and AppendCanonicalWorkflow with the workflow's own rendering, all give
// json.Marshal's bytes.
func checkCanonical(t *testing.T, s *ExecutionSpec) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Canonical(); !bytes.Equal(got, want) {
		t.Fatalf("Canonical:\n%q\njson.Marshal:\n%q", got, want)
	}
	if got := s.AppendCanonical([]byte("xy")); string(got) != "xy"+string(want) {
		t.Fatalf("AppendCanonical after a prefix:\n%q\nwant:\n%q", got, "xy"+string(want))
	}
	wf, err := json.Marshal(&s.Workflow)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Workflow.AppendCanonical(nil); !bytes.Equal(got, wf) {
		t.Fatalf("workflow:\n%q\njson.Marshal:\n%q", got, wf)
	}
	if got := s.AppendCanonicalWorkflow(nil, wf); !bytes.Equal(got, want) {
		t.Fatalf("AppendCanonicalWorkflow:\n%q\njson.Marshal:\n%q", got, want)
	}
	if got := s.CanonicalWith(wf); !bytes.Equal(got, want) {
		t.Fatalf("CanonicalWith:\n%q\njson.Marshal:\n%q", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCanonicalIsJSONMarshal(t *testing.T) {
	full := ExecutionSpec{
		Project: "p<&>", Domain: "d\u2028", Name: "n\xff", Tier: "x\"y",
		ClusterSelector: &LabelSelector{
			MatchLabels:      map[string]string{"b": "2", "a": "1", "é": "\u2029", "\xff": "<", "A": ""},
			MatchExpressions: []LabelSelectorRequirement{{Key: "k", Operator: OpIn, Values: []string{"a", "", "\x00"}}, {Key: "", Operator: ""}},
		},
		PreferredLabels: map[string]string{"日本": "語", "z": "\\"},
		Inputs:          map[string]string{"": "", "date": "2026-11-24", "\U0001F600": "\t"},
		Workflow: WorkflowSpec{Nodes: []TaskNode{{
			ID: "a", DependsOn: []string{"b", "<"}, Image: "i", Command: []string{"sh", "-c", "echo '<x>' && exit"},
			Args: []string{""}, Env: map[string]string{"K": "V", "k": "v"},
			Resources: Resources{CPU: "1", Memory: "2Gi", GPU: "1"},
			Inputs: map[string]Binding{
				"x": {FromInput: "date"}, "y": {FromNode: "b", Output: "o"}, "z": {Value: ptr("")}, "w": {},
				"all": {FromInput: "i", FromNode: "n", Output: "o", Value: ptr("<v>")},
			},
			Retries: -3, Timeout: "30m", Cache: &CacheSpec{},
		}, {}}},
		MaxAttempts: math.MinInt64,
	}
	many := map[string]string{}
	for i := range 40 {
		many[strings.Repeat("k", i%7)+string(rune('a'+i))] = "v"
	}
	for name, s := range map[string]ExecutionSpec{
		"zero":                   {},
		"full":                   full,
		"empty maps and slices":  {PreferredLabels: map[string]string{}, Inputs: map[string]string{}, ClusterSelector: &LabelSelector{MatchLabels: map[string]string{}, MatchExpressions: []LabelSelectorRequirement{}}, Workflow: WorkflowSpec{Nodes: []TaskNode{{DependsOn: []string{}, Command: []string{}, Env: map[string]string{}, Inputs: map[string]Binding{}}}}},
		"empty nodes":            {Workflow: WorkflowSpec{Nodes: []TaskNode{}}},
		"many keys":              {Inputs: many, PreferredLabels: many},
		"only expressions":       {ClusterSelector: &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "k", Values: []string{}}}}},
		"every escape in a key":  {Inputs: map[string]string{strings.Join(trickyStrings, ""): strings.Join(trickyStrings, "|")}},
		"max attempts positive":  {MaxAttempts: math.MaxInt64},
		"binding value only":     {Workflow: WorkflowSpec{Nodes: []TaskNode{{Inputs: map[string]Binding{"v": {Value: ptr("\u2028")}}}}}},
		"resources gpu only":     {Workflow: WorkflowSpec{Nodes: []TaskNode{{Resources: Resources{GPU: "1"}}}}},
		"resources memory only":  {Workflow: WorkflowSpec{Nodes: []TaskNode{{Resources: Resources{Memory: "1"}}}}},
		"binding node and value": {Workflow: WorkflowSpec{Nodes: []TaskNode{{Inputs: map[string]Binding{"v": {FromNode: "x", Value: ptr("")}}}}}},
	} {
		t.Run(name, func(t *testing.T) { checkCanonical(t, &s) })
	}
	for _, str := range trickyStrings {
		s := ExecutionSpec{Project: str, Inputs: map[string]string{str: str}}
		checkCanonical(t, &s)
	}
	// Every byte, alone and after a multi-byte rune.
	for c := range 256 {
		s := ExecutionSpec{Name: string([]byte{byte(c)}), Domain: "é" + string([]byte{byte(c)}) + "\xe2\x80"}
		checkCanonical(t, &s)
	}
}

// TestCanonicalOfRandomSpecs fills specs from pseudo-random bytes, the
// fuzz target's way, in every test run.
func TestCanonicalOfRandomSpecs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 512)
	for range 3000 {
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		var s ExecutionSpec
		(&filler{data: data}).fill(reflect.ValueOf(&s).Elem())
		checkCanonical(t, &s)
	}
}

// FuzzAppendCanonical holds the hand rendering to json.Marshal, on specs
// filled from the fuzz bytes and on the fuzz bytes read as a JSON spec:
//
//	go test -run '^$' -fuzz FuzzAppendCanonical -fuzztime 60s ./api/federation/v1alpha1/
func FuzzAppendCanonical(f *testing.F) {
	for _, seed := range []string{
		"", "\x01\x01\x01", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
		"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17",
		"\x02\x0b<&>\u2028\xff\xfe\"\\\n\x00\x1f\x7f\x01\x05\x01\x06",
		`{"project":"p<&>","domain":"d\u2028","name":"\ud800","inputs":{"é":"\u2029","":""},"workflow":{"nodes":[]}}`,
		`{"project":"p","domain":"d","name":"n","tier":"standard","clusterSelector":{"matchLabels":{"region":"us-east"},"matchExpressions":[{"key":"gpu","operator":"In","values":[]}]},"preferredLabels":{},"inputs":{"date":"2026-11-24"},"workflow":{"nodes":[{"id":"extract","image":"python:3.12","command":["python","-m","extract"],"env":{},"resources":{"cpu":"500m","memory":"256Mi"},"inputs":{"date":{"fromInput":"date"},"v":{"value":""}},"cache":{"version":""}}]},"maxAttempts":-1}`,
		`{"workflow":{"nodes":null},"clusterSelector":{}}`,
		`{"inputs":{"\u00e9\u65e5":"\u003c\u003e\u0026","\"":"\\\/\b\f\n\r\t"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s ExecutionSpec
		(&filler{data: data}).fill(reflect.ValueOf(&s).Elem())
		checkCanonical(t, &s)
		var d ExecutionSpec
		if json.Unmarshal(data, &d) == nil {
			checkCanonical(t, &d)
		}
	})
}

// TestCanonicalCoversEveryField lists the fields canonical.go renders:
// a field added to a spec type must be rendered there too, in order.
func TestCanonicalCoversEveryField(t *testing.T) {
	var got []string
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			got = append(got, typ.Name()+"."+f.Name+" "+f.Type.String()+" "+f.Tag.Get("json"))
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[ExecutionSpec]())
	want := []string{
		"ExecutionSpec.Project string project",
		"ExecutionSpec.Domain string domain",
		"ExecutionSpec.Name string name",
		"ExecutionSpec.Tier v1alpha1.Tier tier,omitempty",
		"ExecutionSpec.ClusterSelector *v1alpha1.LabelSelector clusterSelector,omitempty",
		"LabelSelector.MatchLabels map[string]string matchLabels,omitempty",
		"LabelSelector.MatchExpressions []v1alpha1.LabelSelectorRequirement matchExpressions,omitempty",
		"LabelSelectorRequirement.Key string key",
		"LabelSelectorRequirement.Operator v1alpha1.SelectorOperator operator",
		"LabelSelectorRequirement.Values []string values,omitempty",
		"ExecutionSpec.PreferredLabels map[string]string preferredLabels,omitempty",
		"ExecutionSpec.Inputs map[string]string inputs,omitempty",
		"ExecutionSpec.Workflow v1alpha1.WorkflowSpec workflow",
		"WorkflowSpec.Nodes []v1alpha1.TaskNode nodes",
		"TaskNode.ID string id",
		"TaskNode.DependsOn []string dependsOn,omitempty",
		"TaskNode.Image string image",
		"TaskNode.Command []string command,omitempty",
		"TaskNode.Args []string args,omitempty",
		"TaskNode.Env map[string]string env,omitempty",
		"TaskNode.Resources v1alpha1.Resources resources,omitempty",
		"Resources.CPU string cpu,omitempty",
		"Resources.Memory string memory,omitempty",
		"Resources.GPU string gpu,omitempty",
		"TaskNode.Inputs map[string]v1alpha1.Binding inputs,omitempty",
		"Binding.FromInput string fromInput,omitempty",
		"Binding.FromNode string fromNode,omitempty",
		"Binding.Output string output,omitempty",
		"Binding.Value *string value,omitempty",
		"TaskNode.Retries int retries,omitempty",
		"TaskNode.Timeout string timeout,omitempty",
		"TaskNode.Cache *v1alpha1.CacheSpec cache,omitempty",
		"CacheSpec.Version string version",
		"ExecutionSpec.MaxAttempts int maxAttempts,omitempty",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the spec's fields changed: render them in canonical.go, then list them here.\ngot:\n%s", strings.Join(got, "\n"))
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[ExecutionSpec](), reflect.TypeFor[WorkflowSpec](), reflect.TypeFor[TaskNode](),
		reflect.TypeFor[LabelSelector](), reflect.TypeFor[LabelSelectorRequirement](), reflect.TypeFor[Resources](),
		reflect.TypeFor[Binding](), reflect.TypeFor[CacheSpec](), reflect.TypeFor[Tier](), reflect.TypeFor[SelectorOperator]()} {
		for _, m := range []reflect.Type{reflect.TypeFor[json.Marshaler](), reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()} {
			if typ.Implements(m) || reflect.PointerTo(typ).Implements(m) {
				t.Errorf("%s implements %s: canonical.go renders it field by field", typ, m)
			}
		}
	}
}

func BenchmarkCanonical(b *testing.B) {
	var s ExecutionSpec
	if err := json.Unmarshal([]byte(`{"project":"pricing","domain":"production","name":"eta-model-0001","tier":"standard",
 "clusterSelector":{"matchLabels":{"region":"us-east"}},"inputs":{"date":"2026-11-24"},
 "workflow":{"nodes":[
   {"id":"extract","image":"python:3.12","command":["python","-m","extract"],
    "resources":{"cpu":"500m","memory":"256Mi"},"inputs":{"date":{"fromInput":"date"}}},
   {"id":"train","dependsOn":["extract"],"image":"python:3.12","command":["python","-m","train"],
    "resources":{"cpu":"2","memory":"4Gi"},"inputs":{"data":{"fromNode":"extract","output":"path"}},
    "retries":2,"timeout":"30m"}]},"maxAttempts":5}`), &s); err != nil {
		b.Fatal(err)
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = s.Canonical()
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_, _ = json.Marshal(&s)
		}
	})
}
