package federation

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTokens(t *testing.T) {
	const tok = "0123456789abcdef"
	cases := []struct {
		name    string
		file    string
		wantErr string // empty: valid
		check   func(t *testing.T, s *TokenSet)
	}{
		{name: "every role, comments and blank lines", file: "# token,name,role,scope\n\n" +
			"adm-" + tok + ",alice,admin,\n" +
			"sub-" + tok + ",ci-pricing,submitter,pricing;search\n" +
			"all-" + tok + ",ci-all,submitter,*\n" +
			"agt-" + tok + ",agent-east,agent,east-1\n" +
			"adm2-" + tok + ",bob,admin\n",
			check: func(t *testing.T, s *TokenSet) {
				if s.Len() != 5 {
					t.Fatalf("%d tokens, want 5", s.Len())
				}
				p, ok := s.Authenticate("sub-" + tok)
				if !ok || p.Name != "ci-pricing" || p.Role != RoleSubmitter || !p.HasProject("search") || p.HasProject("ads") {
					t.Fatalf("submitter: %+v %v", p, ok)
				}
				if p, ok := s.Authenticate("all-" + tok); !ok || !p.HasProject("anything") {
					t.Fatalf("submitter of *: %+v %v", p, ok)
				}
				if p, ok := s.Authenticate("agt-" + tok); !ok || p.Role != RoleAgent || p.Cluster != "east-1" {
					t.Fatalf("agent: %+v %v", p, ok)
				}
				if p, ok := s.Authenticate("adm2-" + tok); !ok || p.Role != RoleAdmin {
					t.Fatalf("admin without scope field: %+v %v", p, ok)
				}
				for _, bad := range []string{"", "adm-" + tok + "x", "adm-" + tok[:len(tok)-1], "ADM-" + tok, "alice"} {
					if p, ok := s.Authenticate(bad); ok {
						t.Fatalf("token %q authenticated as %+v", bad, p)
					}
				}
			}},
		{name: "short token", file: "short,alice,admin,\n", wantErr: "line 1: token of \"alice\" is shorter"},
		{name: "unknown role", file: "x-" + tok + ",alice,root,\n", wantErr: "role \"root\""},
		{name: "admin with scope", file: "x-" + tok + ",alice,admin,pricing\n", wantErr: "scope must be empty"},
		{name: "submitter without projects", file: "x-" + tok + ",ci,submitter,\n", wantErr: "must list its projects"},
		{name: "submitter with a bad project", file: "x-" + tok + ",ci,submitter,Pricing\n", wantErr: "project"},
		{name: "agent without cluster", file: "x-" + tok + ",ag,agent,\n", wantErr: "its cluster name"},
		{name: "agent with a bad cluster", file: "x-" + tok + ",ag,agent,a;b\n", wantErr: "its cluster name"},
		{name: "duplicate token", file: "x-" + tok + ",a,admin,\nx-" + tok + ",b,admin,\n", wantErr: "line 2: token of \"b\" repeats"},
		{name: "duplicate name", file: "x-" + tok + ",a,admin,\ny-" + tok + ",a,admin,\n", wantErr: "line 2: name \"a\" repeats"},
		{name: "too many fields", file: "x-" + tok + ",a,admin,,extra\n", wantErr: "5 fields"},
		{name: "too few fields", file: "x-" + tok + ",a\n", wantErr: "2 fields"},
		{name: "empty name", file: "x-" + tok + ",,admin,\n", wantErr: "name is empty"},
		{name: "malformed CSV", file: "\"x-" + tok + ",a,admin,\n", wantErr: "malformed CSV"},
		{name: "empty file", file: "", check: func(t *testing.T, s *TokenSet) {
			if s.Len() != 0 {
				t.Fatal("tokens from nothing")
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseTokens(strings.NewReader(tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrTokenFile) {
					t.Fatalf("err = %v, want ErrTokenFile mentioning %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tok) {
					t.Fatalf("error %q reveals a token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestTokenFileReloadsOnChangeAndKeepsTokensOnABadEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.csv")
	// write replaces the file as an operator should: a new file renamed
	// over the old one, with distinct modification times whatever the file
	// system's clock granularity.
	write := func(content string, mtime time.Time) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("old-0123456789abcdef,alice,admin,\n", t0)
	store, err := OpenTokenFile(path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Authenticate("old-0123456789abcdef"); !ok {
		t.Fatal("token of the file at start refused")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); store.Watch(ctx, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })

	// Revoke alice, add bob: picked up without a restart.
	write("new-0123456789abcdef,bob,admin,\n", t0.Add(time.Minute))
	waitUntil(t, 5*time.Second, "the edited token file to be loaded", func() bool {
		_, newOK := store.Authenticate("new-0123456789abcdef")
		_, oldOK := store.Authenticate("old-0123456789abcdef")
		return newOK && !oldOK
	})
	// A broken edit is refused and the last good tokens stay in force.
	write("broken,bob,admin,\n", t0.Add(2*time.Minute))
	if _, err := store.reload(false); err == nil {
		t.Fatal("a broken token file was accepted")
	}
	if _, ok := store.Authenticate("new-0123456789abcdef"); !ok {
		t.Fatal("a broken edit revoked the previous tokens")
	}
	// An emptied file is refused too: it would lock everyone out.
	write("# nobody\n", t0.Add(3*time.Minute))
	if _, err := store.reload(false); err == nil || !strings.Contains(err.Error(), "holds no tokens") {
		t.Fatalf("an empty token file: %v, want refused", err)
	}
	if _, ok := store.Authenticate("new-0123456789abcdef"); !ok {
		t.Fatal("an emptied file revoked the previous tokens")
	}
	// Reload (SIGHUP) forces a read even when nothing seems changed: same
	// size and modification time as the last good load, which polling
	// cannot tell apart.
	cancel()
	<-done
	write("sig-0123456789abcdef,eve,admin,\n", t0.Add(time.Minute))
	if loaded, err := store.reload(false); err != nil || loaded {
		t.Fatalf("poll of a file that looks unchanged: loaded=%v err=%v, want nothing done", loaded, err)
	}
	if err := store.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Authenticate("sig-0123456789abcdef"); !ok {
		t.Fatal("forced reload did not load the file")
	}
}

func TestOpenTokenFileRefusesMissingOrInvalidFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("x,y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.csv"), bad} {
		if _, err := OpenTokenFile(path, nil); !errors.Is(err, ErrTokenFile) {
			t.Fatalf("OpenTokenFile(%s) = %v, want ErrTokenFile", path, err)
		}
	}
}
