package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	cgroup := func(content string) string {
		p := filepath.Join(dir, content+".max")
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, flag, env, file string
		want                  int64
		source                string
		wantErr               bool
	}{
		{name: "flag", flag: "1800Mi", file: cgroup("4294967296"), want: 1800 << 20, source: "--memory-limit"},
		{name: "flag off", flag: "0", file: cgroup("4294967296"), want: 0, source: "--memory-limit"},
		{name: "bad flag", flag: "lots", wantErr: true},
		{name: "negative flag", flag: "-1Gi", wantErr: true},
		{name: "env wins over cgroup", env: "1GiB", file: cgroup("4294967296"), source: "GOMEMLIMIT"},
		{name: "cgroup", file: cgroup("2147483648"), want: 1932735283},
		{name: "cgroup unlimited", file: cgroup("max")},
		{name: "no cgroup", file: filepath.Join(dir, "missing")},
		{name: "cgroup garbage", file: cgroup("lots"), wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", c.env)
			got, source, err := memoryLimit(c.flag, c.file)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if c.wantErr {
				return
			}
			if c.source == "" && c.want != 0 {
				c.source = c.file
			}
			if got != c.want || source != c.source {
				t.Errorf("got %d from %q, want %d from %q", got, source, c.want, c.source)
			}
		})
	}
}

func TestGCPercent(t *testing.T) {
	cases := []struct {
		name       string
		flag       int
		limited    bool
		env        string
		want       int
		wantSource string
	}{
		{name: "flag wins", flag: 150, limited: true, env: "50", want: 150, wantSource: "--gc-percent"},
		{name: "flag zero is a value", flag: 0, want: 0, wantSource: "--gc-percent"},
		{name: "GOGC from the environment is left alone", flag: -1, limited: true, env: "off", wantSource: "GOGC"},
		{name: "under a memory limit", flag: -1, limited: true, want: 400, wantSource: "memory limit"},
		{name: "no limit: the runtime's default", flag: -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, source := gcPercent(c.flag, c.limited, c.env)
			if got != c.want || source != c.wantSource {
				t.Fatalf("gcPercent(%d, %v, %q) = %d, %q; want %d, %q", c.flag, c.limited, c.env, got, source, c.want, c.wantSource)
			}
		})
	}
}

func TestGCPercentFlagRefusesBelowMinusOne(t *testing.T) {
	_, err := parseFlags([]string{"--id", "a", "--data-dir", t.TempDir(), "--insecure-no-auth", "--gc-percent", "-2"})
	if err == nil || !strings.Contains(err.Error(), "--gc-percent -2") {
		t.Fatalf("err = %v, want a refusal naming --gc-percent -2", err)
	}
}
