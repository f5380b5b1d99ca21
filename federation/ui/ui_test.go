package ui_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
	"github.com/federation-dev/federation/federation"
	"github.com/federation-dev/federation/federation/client"
	"github.com/federation-dev/federation/raftstore"
)

// chromium finds a Chromium-family browser, or skips the test saying how to
// get one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on PATH: the dashboard's browser test needs one (Debian: apt-get install -y chromium)")
	return ""
}

// startServer runs one control-plane replica in this process, on loopback,
// with authentication off, and returns its URL and a client.
func startServer(t *testing.T) (string, *client.Client) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := raftstore.Open(raftstore.Config{
		ID: "ui-1", Dir: t.TempDir(), BindAddr: "127.0.0.1:0", Bootstrap: true, NoSync: true,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 200 * time.Millisecond, CommitTimeout: 5 * time.Millisecond, Logger: quiet,
	})
	if err != nil {
		t.Fatalf("open raft node: %v", err)
	}
	cfg := federation.DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SettleTime = 0
	cfg.SchedulerInterval = 100 * time.Millisecond
	cfg.Logger = quiet
	srv, err := federation.New(cfg, node)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = node.Close() })
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := node.WaitForLeader(wctx); err != nil {
		t.Fatalf("no leader: %v", err)
	}
	url := "http://" + addr
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return url, c
}

// memberClusters registers three clusters and keeps their leases fresh,
// as their agents would, until the test ends.
func memberClusters(t *testing.T, c *client.Client) []string {
	t.Helper()
	ctx := context.Background()
	specs := []v1.ClusterSpec{
		{Name: "east", Weight: 2, Labels: map[string]string{"region": "east"}},
		{Name: "gpu", Weight: 1, Labels: map[string]string{"region": "east", "accelerator": "a100"}},
		{Name: "west", Weight: 3, Labels: map[string]string{"region": "west", "capacity": "spot"}},
	}
	capacity := v1.Capacity{
		Allocatable: v1.Amounts{MilliCPU: 64000, MemoryBytes: 256 << 30, Pods: 1000},
		Free:        v1.Amounts{MilliCPU: 40000, MemoryBytes: 100 << 30, Pods: 900},
	}
	var names []string
	for _, s := range specs {
		if _, _, err := c.RegisterCluster(ctx, s); err != nil {
			t.Fatalf("register %s: %v", s.Name, err)
		}
		names = append(names, s.Name)
	}
	hctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { stop(); <-done })
	beat := func() {
		for _, n := range names {
			hb := v1.Heartbeat{Capacity: capacity, AgentVersion: "ui-test"}
			if n == "gpu" {
				hb.Capacity.Allocatable.GPU, hb.Capacity.Free.GPU = 8, 2
			}
			_, _ = c.Heartbeat(hctx, n, hb)
		}
	}
	beat()
	go func() {
		defer close(done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return names
}

// submitWork puts three executions on west, so that its drain has
// something to wait for, and one more anywhere.
func submitWork(t *testing.T, c *client.Client) v1.ExecutionKey {
	t.Helper()
	wf := v1.WorkflowSpec{Nodes: []v1.TaskNode{
		{ID: "extract", Image: "busybox", Resources: v1.Resources{CPU: "1", Memory: "1Gi"}},
		{ID: "train", Image: "busybox", DependsOn: []string{"extract"}, Resources: v1.Resources{CPU: "4", Memory: "8Gi"}},
		{ID: "eval", Image: "busybox", DependsOn: []string{"train"}},
		{ID: "report", Image: "busybox", DependsOn: []string{"train"}},
	}}
	var key v1.ExecutionKey
	for i := range 4 {
		spec := v1.ExecutionSpec{Project: "ml", Domain: "prod", Name: fmt.Sprintf("nightly-%d", i), Tier: v1.TierStandard, Workflow: wf}
		if i < 3 {
			spec.ClusterSelector = &v1.LabelSelector{MatchLabels: map[string]string{"region": "west"}}
		}
		ex, _, err := c.SubmitExecution(context.Background(), spec)
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		key = ex.Key()
	}
	eventually(t, 10*time.Second, "executions placed on west", func() bool {
		w, err := c.GetCluster(context.Background(), "west")
		return err == nil && w.Running == 3
	})
	return key
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// browser starts headless Chromium for the test.
func browser(t *testing.T, bin string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := t.ArtifactDir()
	if d := os.Getenv("FEDERATION_UI_SCREENSHOTS"); d != "" {
		dir = d
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// TestDashboardShowsClustersAndDrains loads the dashboard in a real
// headless Chromium, checks that it shows the registered clusters and the
// queue, starts a drain from the page and checks that the API sees it, and
// opens an execution's detail page (DAG, placement, history).
func TestDashboardShowsClustersAndDrains(t *testing.T) {
	bin := chromium(t)
	url, c := startServer(t)
	names := memberClusters(t, c)
	key := submitWork(t, c)
	ctx := browser(t, bin)

	err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.cluster[data-cluster="west"]`)),
	)
	if err != nil {
		t.Fatalf("load dashboard: %v", err)
	}
	cards, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".cluster")].map(e => e.dataset.cluster)`))
	if err != nil {
		t.Fatalf("read cluster cards: %v", err)
	}
	if strings.Join(cards, ",") != strings.Join(names, ",") {
		t.Errorf("cluster cards %v, want %v", cards, names)
	}
	if rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#executions tr[data-key]").length`)); err != nil || rows != 4 {
		t.Errorf("execution rows = %d (%v), want 4", rows, err)
	}

	// Drain west from the page with a 15 minute deadline. The button asks
	// for confirmation; the test answers yes, as the admin would.
	before := time.Now()
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; undefined`),
		chromedp.SetValue(chromedp.CSS(`.cluster[data-cluster="west"] .deadline`), "15m"),
		chromedp.Click(chromedp.CSS(`.cluster[data-cluster="west"] .drain`)),
	)
	if err != nil {
		t.Fatalf("click drain: %v", err)
	}
	var west v1.Cluster
	eventually(t, 10*time.Second, "west draining in the API", func() bool {
		west, err = c.GetCluster(context.Background(), "west")
		return err == nil && west.State == v1.ClusterDraining
	})
	if west.DrainDeadline == nil || west.DrainDeadline.Before(before.Add(14*time.Minute)) || west.DrainDeadline.After(time.Now().Add(16*time.Minute)) {
		t.Errorf("drain deadline %v, want about 15m from %v", west.DrainDeadline, before)
	}
	for _, other := range []string{"east", "gpu"} {
		if cl, err := c.GetCluster(context.Background(), other); err != nil || cl.State != v1.ClusterReady {
			t.Errorf("%s: %v (%v), want Ready: the drain touched only west", other, cl.State, err)
		}
	}
	err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`.cluster[data-cluster="west"] .badge.Draining`)))
	if err != nil {
		t.Fatalf("page never showed west Draining: %v", err)
	}
	screenshot(t, ctx, "dashboard.png")

	// The detail page of one execution: its DAG, placement and history.
	err = chromedp.Do(ctx,
		chromedp.Navigate(url+"/ui/#/exec/"+key.String()),
		chromedp.WaitVisible(chromedp.CSS(`#d-dag svg g[data-node="report"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#d-explain tr`)),
	)
	if err != nil {
		t.Fatalf("detail page: %v", err)
	}
	counts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`["#d-dag g[data-node]", "#d-explain tr", "#d-history tr"].map(s => document.querySelectorAll(s).length)`))
	if err != nil || len(counts) != 3 {
		t.Fatalf("detail page counts %v: %v", counts, err)
	}
	dagNodes, verdicts, history := counts[0], counts[1], counts[2]
	if dagNodes != 4 || verdicts != 3 || history < 2 {
		t.Errorf("detail page shows %d DAG nodes, %d cluster verdicts, %d history entries; want 4, 3, >= 2", dagNodes, verdicts, history)
	}
	screenshot(t, ctx, "execution.png")
}

// TestDashboardServesAssets checks the embedded files and headers without a
// browser, so a broken embed fails even where Chromium is missing.
func TestDashboardServesAssets(t *testing.T) {
	url, _ := startServer(t)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/ui/", "text/html", `<script src="app.js">`},
		{"/ui/app.js", "text/javascript", "POLL_MS"},
		{"/ui/style.css", "text/css", ".cluster"},
	} {
		resp, err := http.Get(url + tc.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: %d %q, body has %q: %v", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contains, strings.Contains(string(body), tc.contains))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
	resp, err := http.Get(url + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/" {
		t.Errorf("GET /ui ended at %s, want a redirect to /ui/", resp.Request.URL.Path)
	}
}
