package federation

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// TestRetentionArchivesFinishedExecutionsAndKeepsThemReadable: with a short
// retention the leader moves a finished execution out of the hot state; it
// is still served by key and listed with ?archived=true, the live one is
// not touched, and resubmitting the finished one is still idempotent.
func TestRetentionArchivesFinishedExecutionsAndKeepsThemReadable(t *testing.T) {
	rs := startControlPlane(t, 1, func(c *Config) { c.Retention = time.Second })
	c := rs[0].client
	ctx := ctxT(t)
	done, live := spec("pricing", "done"), spec("pricing", "live")
	for _, s := range []v1.ExecutionSpec{done, live} {
		if _, _, err := c.SubmitExecution(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CancelExecution(ctx, done.Key()); err != nil { // queued: Aborted at once
		t.Fatal(err)
	}
	st := rs[0].node.State()
	waitUntil(t, 15*time.Second, "the finished execution to be archived", func() bool { return st.ArchivedCount() == 1 })

	got, err := c.GetExecution(ctx, done.Key(), false)
	if err != nil || got.Phase != v1.PhaseAborted {
		t.Fatalf("get archived: %v %+v", err, got.Phase)
	}
	for _, tc := range []struct {
		query string
		want  string
	}{{"", "live"}, {"&archived=false", "live"}, {"&archived=true", "done"}} {
		list := listRaw(t, rs[0].url+"/api/v1alpha1/executions?project=pricing"+tc.query)
		if len(list.Items) != 1 || list.Items[0].Name != tc.want {
			t.Fatalf("list%s: %+v, want only %s", tc.query, list.Items, tc.want)
		}
	}
	if _, created, err := c.SubmitExecution(ctx, done); err != nil || created {
		t.Fatalf("resubmit archived: created %v, %v", created, err)
	}
	if e, _ := c.GetExecution(ctx, live.Key(), false); e.Phase != v1.PhaseQueued {
		t.Fatalf("live execution is %s", e.Phase)
	}
}

func listRaw(t *testing.T, url string) v1.ExecutionList {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var l v1.ExecutionList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return l
}
