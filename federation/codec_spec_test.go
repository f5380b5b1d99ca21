package federation

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// specBodyCases are bodies for the hand reader on top of decodeCases: what
// it reads, and what it must leave to the reference.
var specBodyCases = []struct {
	name string
	body string
}{
	{"readme", `{"project":"pricing","domain":"production","name":"eta-model-0001","tier":"standard","clusterSelector":{"matchLabels":{"region":"us-east"}},"inputs":{"date":"2026-11-24"},"workflow":{"nodes":[{"id":"extract","image":"python:3.12","command":["python","-m","extract"],"resources":{"cpu":"500m","memory":"256Mi"},"inputs":{"date":{"fromInput":"date"}}},{"id":"train","dependsOn":["extract"],"image":"python:3.12","command":["python","-m","train"],"resources":{"cpu":"2","memory":"4Gi"},"inputs":{"data":{"fromNode":"extract","output":"path"}},"retries":2,"timeout":"30m"}]}}`},
	{"whitespace everywhere", " \t\n{ \"project\" : \"p\" ,\r\n\"domain\":\"d\" , \"name\" :\"n\", \"inputs\" : { \"a\" : \"1\" , \"b\":\"2\" } ,\"clusterSelector\" : { \"matchExpressions\" : [ { \"key\" : \"k\" , \"operator\" : \"In\" , \"values\" : [ \"x\" , \"y\" ] } ] } , \"workflow\" : { \"nodes\" : [ { \"id\" : \"a\" , \"image\" : \"i\" } ] } , \"maxAttempts\" : 3 } \n"},
	{"escapes in values", `{"project":"p\u0041\n\"\\\/","inputs":{"k\u00e9\"":"v\u003c\u0026\u2028\ud83d\ude00"},"preferredLabels":{"\\":"\""}}`},
	{"lone surrogate escape", `{"name":"\ud800x","inputs":{"\udc00":"\ud800\ud800"}}`},
	{"bad escape in a value", `{"inputs":{"a":"\x"}}`},
	{"truncated escape", `{"name":"\u00"}`},
	{"escaped key", `{"inputs":{"\u0061":"1","a":"2"}}`},
	{"escaped quote then end", `{"name":"a\\","domain":"b\\\"c"}`},
	{"duplicate map keys", `{"inputs":{"a":"1","a":"2"},"preferredLabels":{"x":"","x":"y"}}`},
	{"duplicate selector keys", `{"clusterSelector":{"matchLabels":{"a":"b"},"matchLabels":{"c":"d"}}}`},
	{"duplicate requirement keys", `{"clusterSelector":{"matchExpressions":[{"key":"a","key":"b"}]}}`},
	{"empty collections", `{"inputs":{},"preferredLabels":{},"clusterSelector":{"matchLabels":{},"matchExpressions":[]},"workflow":{}}`},
	{"empty selector", `{"clusterSelector":{}}`},
	{"empty requirement", `{"clusterSelector":{"matchExpressions":[{},{"values":[]}]}}`},
	{"unknown selector key", `{"clusterSelector":{"matchlabels":{}}}`},
	{"null in a map", `{"inputs":{"a":null}}`},
	{"null workflow", `{"workflow":null}`},
	{"array workflow", `{"workflow":[]}`},
	{"string workflow", `{"workflow":"x"}`},
	{"workflow with brackets in strings", `{"workflow":{"nodes":[{"id":"a","image":"i}]\"{[","command":["]","}","\\","\""]}]}}`},
	{"unbalanced workflow", `{"workflow":{"nodes":[{"id":"a"}]}}}`},
	{"workflow closed by the wrong bracket", `{"workflow":{"nodes":[{"id":"a"}}]}`},
	{"unterminated workflow", `{"workflow":{"nodes":[`},
	{"unknown field in the workflow", `{"workflow":{"nodes":[{"id":"a","colour":"red"}]}}`},
	{"minus zero", `{"maxAttempts":-0}`},
	{"negative", `{"maxAttempts":-7}`},
	{"eighteen digits", `{"maxAttempts":999999999999999999}`},
	{"nineteen digits", `{"maxAttempts":9223372036854775807}`},
	{"over int64", `{"maxAttempts":9223372036854775808}`},
	{"minus nothing", `{"maxAttempts":-}`},
	{"plus", `{"maxAttempts":+1}`},
	{"fraction", `{"maxAttempts":1.5}`},
	{"exponent", `{"maxAttempts":1E2}`},
	{"number then garbage", `{"maxAttempts":1x}`},
	{"number for string", `{"name":1}`},
	{"string for number", `{"maxAttempts":"1"}`},
	{"object for string", `{"name":{}}`},
	{"array for map", `{"preferredLabels":["a"]}`},
	{"number in a string slice", `{"clusterSelector":{"matchExpressions":[{"values":[1]}]}}`},
	{"trailing comma in a map", `{"inputs":{"a":"b",}}`},
	{"trailing comma in an array", `{"clusterSelector":{"matchExpressions":[{"values":["a",]}]}}`},
	{"missing comma", `{"project":"p" "domain":"d"}`},
	{"unterminated string", `{"project":"p`},
	{"body after the object", `{"project":"p"}{}`},
	{"second value", `{"project":"p"} 1`},
	{"empty object", `{}`},
	{"html and separators", "{\"project\":\"<p>&\",\"name\":\"\u2028\u2029\",\"inputs\":{\"\u00e9\":\"\U0001F600\"}}"},
	{"key without colon", `{"project"}`},
	{"every field twice", `{"tier":"a","tier":"b"}`},
	{"workflow twice", `{"workflow":{"nodes":[]},"workflow":{"nodes":[{"id":"a","image":"i"}]}}`},
	{"max attempts twice", `{"maxAttempts":1,"maxAttempts":2}`},
	{"upper-case key", `{"Name":"n"}`},
	{"known tiers", `{"tier":"critical"}`},
	{"escaped tier", `{"tier":"\u0063ritical"}`},
	{"unknown tier", `{"tier":"gold"}`},
	{"number tier", `{"tier":1}`},
	{"unterminated tier", `{"tier":"crit`},
	{"workflow then garbage", `{"workflow":{"nodes":[{"id":"a","image":"i"}]}x}`},
}

var fuzzServer = &Server{cfg: DefaultConfig(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}

// checkSpecBody fails unless decodeSpecBody, the hand reader alone where it
// accepts, and decodeSubmission (twice, the second time from the workflow
// cache when the first accepted) agree with the reference decoder on body.
func checkSpecBody(t *testing.T, body []byte) {
	t.Helper()
	var ref v1.ExecutionSpec
	refErr := decodeStrict(bytes.NewReader(body), &ref, 1<<20)
	if utf8.Valid(body) && !hasControlBytes(body) {
		var hand v1.ExecutionSpec
		r := specReader{b: body}
		if _, ok := r.spec(&hand); ok {
			if refErr != nil {
				t.Fatalf("the hand reader accepts %q, the reference refuses it: %v", body, refErr)
			}
			if !reflect.DeepEqual(ref, hand) {
				t.Fatalf("the hand reader reads %q as\n%#v\nthe reference as\n%#v", body, hand, ref)
			}
		}
	}
	var got v1.ExecutionSpec
	_, gotErr := decodeSpecBody(body, &got, 1<<20)
	if (gotErr == nil) != (refErr == nil) || (gotErr != nil && gotErr.Error() != refErr.Error()) {
		t.Fatalf("decodeSpecBody(%q) = %v, reference %v", body, gotErr, refErr)
	}
	if gotErr == nil && !reflect.DeepEqual(ref, got) {
		t.Fatalf("decodeSpecBody reads %q as\n%#v\nthe reference as\n%#v", body, got, ref)
	}
	if refErr != nil {
		return
	}
	ref.Default()
	validErr := ref.Validate(fuzzServer.cfg.Limits)
	for range 3 { // a miss, a hit, a hit by prefix
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		spec, workflow, err := fuzzServer.decodeSubmission(httptest.NewRecorder(), r)
		if (err == nil) != (validErr == nil) || err != nil && err.Error() != validErr.Error() {
			t.Fatalf("decodeSubmission(%q) = %v, want %v", body, err, validErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(ref, spec) {
			t.Fatalf("decodeSubmission reads %q as\n%#v\nthe reference as\n%#v", body, spec, ref)
		}
		if workflow != nil {
			want, _ := json.Marshal(&spec.Workflow)
			if !bytes.Equal(workflow, want) {
				t.Fatalf("the workflow of %q renders as\n%s\nwant\n%s", body, workflow, want)
			}
			if c, want := spec.CanonicalWith(workflow), spec.Canonical(); !bytes.Equal(c, want) {
				t.Fatalf("CanonicalWith:\n%s\nCanonical:\n%s", c, want)
			}
		}
	}
}

func TestDecodeSpecBodyMatchesReferenceDecoder(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) { checkSpecBody(t, []byte(tc.body)) })
	}
	for _, tc := range specBodyCases {
		t.Run(tc.name, func(t *testing.T) { checkSpecBody(t, []byte(tc.body)) })
	}
}

// The hand reader takes what clients send: the README's spec as Go's
// encoding/json writes it, and as a person writes it.
func TestHandReaderReadsPlainBodies(t *testing.T) {
	marshalled, err := json.Marshal(readmeSpec("eta-model-1"))
	if err != nil {
		t.Fatal(err)
	}
	html := readmeSpec("eta-model-2")
	html.Workflow.Nodes[0].Command = []string{"sh", "-c", "extract <in >out && echo done"}
	html.Inputs["url"] = "https://example.com/?a=1&b=2"
	escaped, err := json.Marshal(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{string(marshalled), string(escaped), specBodyCases[0].body, specBodyCases[1].body, specBodyCases[2].body} {
		var s v1.ExecutionSpec
		r := specReader{b: []byte(body)}
		if _, ok := r.spec(&s); !ok {
			t.Errorf("the hand reader leaves %s to the reference", body)
		}
		checkSpecBody(t, []byte(body))
	}
}

// FuzzDecodeSpecBody holds the hand reader, and the whole decoding of a
// submission, to the reference decoder:
//
//	go test -run '^$' -fuzz FuzzDecodeSpecBody -fuzztime 60s ./federation/
func FuzzDecodeSpecBody(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	for _, tc := range specBodyCases {
		f.Add([]byte(tc.body))
	}
	valid, _ := json.Marshal(readmeSpec("eta-<model>&1\u2028"))
	f.Add(valid)
	f.Add([]byte(strings.Replace(string(valid), `"tier":"standard"`, `"maxAttempts":7,"preferredLabels":{"zone":"a","b":"c"}`, 1)))
	f.Fuzz(func(t *testing.T, body []byte) { checkSpecBody(t, body) })
}
