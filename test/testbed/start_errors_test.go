package testbed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartFailures(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	realBin, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	// fakeBinDir links the real binaries except those replaced by scripts.
	fakeBinDir := func(t *testing.T, scripts map[string]string) string {
		dir := t.TempDir()
		for _, name := range binaries {
			path := filepath.Join(dir, name)
			if script, ok := scripts[name]; ok {
				if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.Symlink(filepath.Join(realBin, name), path); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name    string
		binDir  func(t *testing.T) string
		nodes   []NodeSpec
		wantIs  error
		wantSub []string
	}{
		{
			name:   "missing binaries say how to build them",
			binDir: func(t *testing.T) string { return t.TempDir() },
			wantIs: ErrBinariesMissing, wantSub: []string{"make testbin"},
		},
		{
			name: "apiserver that dies quotes its log",
			binDir: func(t *testing.T) string {
				return fakeBinDir(t, map[string]string{"kube-apiserver": `echo "E0000 fatal: no such flag --bogus" >&2; exit 3`})
			},
			wantSub: []string{"kube-apiserver exited before ready", "no such flag --bogus"},
		},
		{
			name:    "bad node quantity",
			binDir:  func(t *testing.T) string { return realBin },
			nodes:   []NodeSpec{{Name: "n", CPU: "lots"}},
			wantSub: []string{`node n cpu "lots"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			before, _ := filepath.Glob(filepath.Join(os.TempDir(), "testbed-bad-*"))
			start := time.Now()
			c, err := Start(ctx, ClusterOptions{Name: "bad", BinDir: tt.binDir(t), Nodes: tt.nodes})
			if err == nil {
				_ = c.Stop()
				t.Fatal("Start succeeded, want error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v, want errors.Is %v", err, tt.wantIs)
			}
			for _, sub := range tt.wantSub {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("failing Start took %s", d)
			}
			after, _ := filepath.Glob(filepath.Join(os.TempDir(), "testbed-bad-*"))
			if len(after) > len(before) {
				t.Errorf("failed Start left temp dirs: %v", after)
			}
		})
	}
}

func TestStartNRunsIndependentClusters(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	ctx := t.Context()
	clusters, err := StartN(ctx, []ClusterOptions{
		{Name: "east", Nodes: []NodeSpec{{Name: "e1", CPU: "4"}}},
		{Name: "west", Nodes: []NodeSpec{{Name: "w1", CPU: "8"}, {Name: "w2", CPU: "8"}}},
	})
	if err != nil {
		t.Fatalf("StartN: %v", err)
	}
	for _, c := range clusters {
		t.Cleanup(func() {
			if err := c.Stop(); err != nil {
				t.Errorf("Stop %s: %v", c.Name, err)
			}
		})
	}
	if clusters[0].RESTConfig.Host == clusters[1].RESTConfig.Host {
		t.Fatalf("both clusters at %s", clusters[0].RESTConfig.Host)
	}
	for i, want := range []int{1, 2} {
		c := clusters[i]
		// Through the kubeconfig file, as an out-of-process user would.
		cfg, err := restConfigFromKubeconfig(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := listNodeNames(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: list nodes via kubeconfig: %v", c.Name, err)
		}
		if len(nodes) != want {
			t.Errorf("%s has nodes %v, want %d", c.Name, nodes, want)
		}
	}
}
