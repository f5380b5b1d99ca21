package federation

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// FuzzDecodeRequest feeds arbitrary bodies to the API's request decoding
// as each kind of request. Nothing may panic; a refusal is a 400 or 413,
// never a 500; an accepted spec is canonical (it decodes, defaults and
// validates to the same hash again); and the authorization peek reads the
// same project as the handler, so that the project a submitter is checked
// against is the project stored.
func FuzzDecodeRequest(f *testing.F) {
	specJSON, _ := json.Marshal(spec("pricing", "eta-0001"))
	for _, seed := range []struct {
		kind uint8
		body string
	}{
		{0, string(specJSON)},
		{0, `{"project":"a","domain":"d","name":"n","workflow":{"nodes":[{"id":"x","image":"i","dependsOn":["x"]}]}}`},
		{0, `{"project":"a","Project":"b","domain":"d","name":"n","workflow":{"nodes":[{"id":"x","image":"i"}]}}`},
		{0, `{"project":"a","domain":"d","name":"n","workflow":{"nodes":[{"id":"x","image":"i"}]}} {}`},
		{0, `{"project":"a","domain":"d","name":"n","inputs":{"k":"v"},"workflow":{"nodes":[{"id":"x","image":"i","inputs":{"i":{"fromInput":"k"}}}]}}`},
		{1, `{"name":"east-1","weight":3,"labels":{"region":"eu"},"tiers":["critical"]}`},
		{2, `{"reports":[{"project":"a","domain":"d","name":"n","attempt":1,"phase":"Running"}]}`},
		{3, `{"deadline":"30m"}`},
		{4, `{"labels":{"a":"b"},"weight":2}`},
		{5, `{"id":"r2","address":"127.0.0.1:7001"}`},
		{0, ``},
		{0, `[]`},
		{0, `{"project":"\u0000"}`},
	} {
		f.Add(seed.kind, []byte(seed.body))
	}
	s := &Server{cfg: DefaultConfig(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.cfg.MaxBodyBytes = 64 << 10
	request := func(body []byte) *http.Request {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		return r
	}
	refusedWell := func(t *testing.T, err error) {
		t.Helper()
		if status, _ := statusOf(err); status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
			t.Fatalf("refusal %v maps to %d, want 400 or 413", err, status)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		w := httptest.NewRecorder()
		switch kind % 6 {
		case 0:
			// As the authorization peek and then the handler see it.
			r := request(body)
			var peeked v1.ExecutionSpec
			peekErr := s.peekBody(r, &peeked)
			got, err := s.decodeSpec(w, r)
			if peekErr == nil && got.Project != peeked.Project {
				t.Fatalf("peek read project %q, handler %q", peeked.Project, got.Project)
			}
			if (peekErr != nil) && err == nil {
				t.Fatalf("peek refused (%v) a body the handler accepts", peekErr)
			}
			if err != nil {
				refusedWell(t, err)
				return
			}
			again, _ := json.Marshal(&got)
			back, err := s.decodeSpec(httptest.NewRecorder(), request(again))
			if err != nil {
				t.Fatalf("an accepted spec does not decode again: %v\n%s", err, again)
			}
			if back.Hash() != got.Hash() {
				t.Fatalf("spec hash changed on a round trip:\n%s", again)
			}
		case 1:
			var c v1.ClusterSpec
			if err := s.decodeBody(w, request(body), &c); err != nil {
				refusedWell(t, err)
				return
			}
			c.Default()
			if err := c.Validate(s.cfg.Limits); err != nil {
				refusedWell(t, err)
			}
		case 2:
			var b v1.ReportBatch
			if err := s.decodeBody(w, request(body), &b); err != nil {
				refusedWell(t, err)
			}
		case 3:
			var d v1.DrainRequest
			if err := s.decodeBody(w, request(body), &d); err != nil {
				refusedWell(t, err)
				return
			}
			if dl, err := d.ParseDrainDeadline(); err != nil {
				refusedWell(t, err)
			} else if dl < 0 {
				t.Fatalf("negative drain deadline %s accepted", dl)
			}
		case 4:
			var p v1.ClusterPatch
			if err := s.decodeBody(w, request(body), &p); err != nil {
				refusedWell(t, err)
				return
			}
			merged := applyPatch(v1.ClusterSpec{Name: "c1", Weight: 1}, p)
			if err := merged.Validate(s.cfg.Limits); err != nil {
				refusedWell(t, err)
			}
		case 5:
			var j v1.JoinRequest
			if err := s.decodeBody(w, request(body), &j); err != nil {
				refusedWell(t, err)
			}
		}
	})
}
