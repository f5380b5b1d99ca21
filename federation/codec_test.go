package federation

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// exampleSpecJSON is a full spec of the README's shape.
const exampleSpecJSON = `{"project":"pricing","domain":"production","name":"eta-model-1","tier":"standard",
"clusterSelector":{"matchLabels":{"region":"us-east"},"matchExpressions":[{"key":"gpu","operator":"In","values":["a","b"]}]},
"preferredLabels":{"zone":"a"},"inputs":{"date":"2026-11-24"},"maxAttempts":3,
"workflow":{"nodes":[{"id":"extract","image":"python:3.12","command":["python","-m","extract"],"args":["--x"],
"env":{"A":"1"},"resources":{"cpu":"500m","memory":"256Mi"},"inputs":{"date":{"fromInput":"date"}}},
{"id":"train","dependsOn":["extract"],"image":"python:3.12","command":["python"],"resources":{"cpu":"2","memory":"4Gi"},
"inputs":{"data":{"fromNode":"extract","output":"path"},"v":{"value":"x"}},"retries":2,"timeout":"30m","cache":{"key":"k"}}]}}`

// decodeCases are bodies the fast decoder must treat exactly as the
// reference decoder does: accepted with the same value, or refused.
var decodeCases = []struct {
	name string
	body string
}{
	{"full spec", exampleSpecJSON},
	{"minimal", `{"project":"p","domain":"d","name":"n"}`},
	{"unknown top-level field", `{"project":"p","domain":"d","name":"n","tiers":"standard"}`},
	{"unknown nested field", `{"project":"p","workflow":{"nodes":[{"id":"a","imagee":"x"}]}}`},
	{"trailing data", `{"project":"p"} {"project":"q"}`},
	{"trailing garbage", `{"project":"p"}x`},
	{"trailing whitespace", "{\"project\":\"p\"} \n\t "},
	{"empty", ``},
	{"whitespace only", "  \n"},
	{"array", `[]`},
	{"null", `null`},
	{"string", `"spec"`},
	{"field names in another case", `{"Project":"p","DOMAIN":"d","name":"n"}`},
	{"long s folds to s in a key", "{\"project\":\"p\",\"\u017fe\":1}"},
	{"long s in a known key", "{\"domain\":\"d\",\"project\u017f\":1,\"name\":\"\u017f\"}"},
	{"kelvin sign in a key", "{\"wor\u212aflow\":{}}"},
	{"escaped key", `{"\u0070roject":"p"}`},
	{"float for int", `{"maxAttempts":1.0}`},
	{"exponent for int", `{"maxAttempts":1e1}`},
	{"negative int", `{"maxAttempts":-1}`},
	{"leading zero", `{"maxAttempts":01}`},
	{"int overflow", `{"maxAttempts":99999999999999999999999}`},
	{"string for int", `{"maxAttempts":"3"}`},
	{"int for string", `{"project":3}`},
	{"bool for string", `{"project":true}`},
	{"null fields", `{"project":null,"inputs":null,"clusterSelector":null,"workflow":null}`},
	{"duplicate keys", `{"project":"a","project":"b"}`},
	{"duplicate map keys", `{"inputs":{"a":"1","a":"2"}}`},
	{"escapes", `{"project":"\u0070\n\t\"\\\/"}`},
	{"bad escape", `{"project":"\x"}`},
	{"lone surrogate", `{"project":"\ud800"}`},
	{"invalid utf-8", "{\"project\":\"\xff\xfe\"}"},
	{"raw control char", "{\"project\":\"a\x01b\"}"},
	{"unterminated", `{"project":"p"`},
	{"missing colon", `{"project" "p"}`},
	{"trailing comma", `{"project":"p",}`},
	{"single quotes", `{'project':'p'}`},
	{"comment", `{"project":"p"/* c */}`},
	{"NaN", `{"maxAttempts":NaN}`},
	{"empty key", `{"":"p"}`},
	{"object for array", `{"workflow":{"nodes":{}}}`},
	{"array for object", `{"inputs":[]}`},
	{"nested nulls", `{"workflow":{"nodes":[null,{"id":"a","cache":null,"inputs":{"x":null}}]}}`},
	{"deep nesting", `{"inputs":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`},
}

// checkSameDecode fails unless decodeBytes, and the fast decoder alone
// where it accepts, agree with the reference decoder on body.
func checkSameDecode(t *testing.T, body []byte) {
	t.Helper()
	var ref, fast, got v1.ExecutionSpec
	refErr := decodeStrict(bytes.NewReader(body), &ref, 1<<20)
	if err := strictJSON.Unmarshal(body, &fast); err == nil && utf8.Valid(body) && !hasControlBytes(body) {
		if refErr != nil {
			t.Fatalf("fast decoder accepts %q, the reference refuses it: %v", body, refErr)
		}
		if !reflect.DeepEqual(ref, fast) {
			t.Fatalf("fast decoder reads %q as\n%+v\nthe reference as\n%+v", body, fast, ref)
		}
	}
	gotErr := decodeBytes(body, &got, 1<<20)
	if (gotErr == nil) != (refErr == nil) || (gotErr != nil && gotErr.Error() != refErr.Error()) {
		t.Fatalf("decodeBytes(%q) = %v, reference %v", body, gotErr, refErr)
	}
	if gotErr == nil && !reflect.DeepEqual(ref, got) {
		t.Fatalf("decodeBytes reads %q as\n%+v\nthe reference as\n%+v", body, got, ref)
	}
}

func TestDecodeBytesMatchesReferenceDecoder(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) { checkSameDecode(t, []byte(tc.body)) })
	}
}

// FuzzDecodeBytes holds the fast decoder to the reference on any body:
// go test -run '^$' -fuzz FuzzDecodeBytes -fuzztime 30s ./federation/
func FuzzDecodeBytes(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkSameDecode(t, body) })
}

func TestReadBodyEnforcesLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		limit   int64
		wantErr error
	}{
		{"under the limit", `{"project":"p"}`, 100, nil},
		{"at the limit", `{"project":"p"}`, int64(len(`{"project":"p"}`)), nil},
		{"over the limit", `{"project":"p"}`, 5, errTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			got, err := readBody(httptest.NewRecorder(), r, tc.limit)
			if tc.wantErr != nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr.Error()) {
					t.Fatalf("readBody = %q, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.body {
				t.Fatalf("readBody = %q, %v; want %q", got, err, tc.body)
			}
		})
	}
}

func TestWriteJSONFastMatchesWriteJSON(t *testing.T) {
	var spec v1.ExecutionSpec
	if err := json.Unmarshal([]byte(exampleSpecJSON), &spec); err != nil {
		t.Fatal(err)
	}
	spec.Default()
	ex := &v1.Execution{ExecutionSpec: spec, SpecHash: spec.Hash(), Phase: v1.PhaseQueued, Attempt: 1,
		Reason: "<submitted> & queued", History: []v1.PhaseTransition{{Phase: v1.PhaseQueued, Attempt: 1}}}
	ref, fast := httptest.NewRecorder(), httptest.NewRecorder()
	writeJSON(ref, http.StatusCreated, ex)
	writeJSONFast(fast, http.StatusCreated, ex)
	if ref.Code != fast.Code || ref.Header().Get("Content-Type") != fast.Header().Get("Content-Type") {
		t.Fatalf("status/type %d %q, want %d %q", fast.Code, fast.Header().Get("Content-Type"), ref.Code, ref.Header().Get("Content-Type"))
	}
	if ref.Body.String() != fast.Body.String() {
		t.Fatalf("body\n%s\nwant\n%s", fast.Body, ref.Body)
	}
}
