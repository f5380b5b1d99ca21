package federation

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Role is what a token may do.
type Role string

// Roles. An admin is an SRE: clusters, drain, Raft membership, and every
// execution. A submitter submits, reads and cancels the executions of its
// projects only. An agent speaks for one member cluster only.
const (
	RoleAdmin     Role = "admin"
	RoleSubmitter Role = "submitter"
	RoleAgent     Role = "agent"
)

// MinTokenLength is the shortest token a token file may hold: shorter ones
// can be guessed.
const MinTokenLength = 16

// ErrTokenFile is wrapped by every error of a token file's content.
var ErrTokenFile = errors.New("token file")

// Principal is who a request comes from: the identity behind a token.
type Principal struct {
	// Name identifies the token in logs and rate limits; it is never the
	// token itself.
	Name string
	Role Role
	// Projects are a submitter's projects; "*" is every project.
	Projects []string
	// Cluster is an agent's member cluster.
	Cluster string
}

// HasProject reports whether a submitter's scope covers project.
func (p *Principal) HasProject(project string) bool {
	return slices.Contains(p.Projects, "*") || slices.Contains(p.Projects, project)
}

// tokenEntry is one token of a file: only its digest is kept.
type tokenEntry struct {
	digest [sha256.Size]byte
	p      *Principal
}

// TokenSet is the parsed content of a token file, looked up by the SHA-256
// digest of a token so that no lookup compares secrets byte by byte.
type TokenSet struct {
	byDigest map[[sha256.Size]byte]tokenEntry
}

// Len is the number of tokens in the set.
func (t *TokenSet) Len() int { return len(t.byDigest) }

// Authenticate returns the principal of token, or false.
func (t *TokenSet) Authenticate(token string) (*Principal, bool) {
	if t == nil || token == "" {
		return nil, false
	}
	d := sha256.Sum256([]byte(token))
	e, ok := t.byDigest[d]
	// The map finds the entry by digest; the constant-time compare is the
	// actual check, so that nothing about the stored token leaks through
	// how long a mismatch takes.
	if !ok || subtle.ConstantTimeCompare(e.digest[:], d[:]) != 1 {
		return nil, false
	}
	return e.p, true
}

// ParseTokens reads a token file: one CSV line per token,
// token,name,role,scope. The scope of a submitter is its projects separated
// by ";" (or "*"), of an agent its cluster name, of an admin empty. Blank
// lines and lines starting with "#" are skipped. Errors name the line, never
// the token.
func ParseTokens(r io.Reader) (*TokenSet, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	set := &TokenSet{byDigest: map[[sha256.Size]byte]tokenEntry{}}
	names := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%w: line %d: malformed CSV", ErrTokenFile, pe.Line)
			}
			return nil, fmt.Errorf("%w: %v", ErrTokenFile, err)
		}
		line, _ := cr.FieldPos(0)
		p, token, err := parseTokenRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrTokenFile, line, err)
		}
		d := sha256.Sum256([]byte(token))
		if _, dup := set.byDigest[d]; dup {
			return nil, fmt.Errorf("%w: line %d: token of %q repeats an earlier token", ErrTokenFile, line, p.Name)
		}
		if names[p.Name] {
			return nil, fmt.Errorf("%w: line %d: name %q repeats an earlier name", ErrTokenFile, line, p.Name)
		}
		names[p.Name] = true
		set.byDigest[d] = tokenEntry{digest: d, p: p}
	}
	return set, nil
}

func parseTokenRecord(rec []string) (*Principal, string, error) {
	if len(rec) != 3 && len(rec) != 4 {
		return nil, "", fmt.Errorf("%d fields, want token,name,role,scope", len(rec))
	}
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	token, name, role := rec[0], rec[1], Role(rec[2])
	scope := ""
	if len(rec) == 4 {
		scope = rec[3]
	}
	if len(token) < MinTokenLength {
		return nil, "", fmt.Errorf("token of %q is shorter than %d characters", name, MinTokenLength)
	}
	if strings.ContainsAny(token, " \t") {
		return nil, "", fmt.Errorf("token of %q holds white space", name)
	}
	if name == "" {
		return nil, "", errors.New("name is empty")
	}
	p := &Principal{Name: name, Role: role}
	switch role {
	case RoleAdmin:
		if scope != "" {
			return nil, "", fmt.Errorf("admin %q: scope must be empty, got %q", name, scope)
		}
	case RoleSubmitter:
		if scope == "" {
			return nil, "", fmt.Errorf("submitter %q: scope must list its projects (a;b) or be *", name)
		}
		for _, proj := range strings.Split(scope, ";") {
			proj = strings.TrimSpace(proj)
			if proj != "*" {
				if err := v1.ValidateName("project", proj); err != nil {
					return nil, "", fmt.Errorf("submitter %q: %v", name, err)
				}
			}
			p.Projects = append(p.Projects, proj)
		}
	case RoleAgent:
		if err := v1.ValidateName("cluster", scope); err != nil {
			return nil, "", fmt.Errorf("agent %q: scope must be its cluster name: %v", name, err)
		}
		p.Cluster = scope
	default:
		return nil, "", fmt.Errorf("%q: role %q, want admin, submitter or agent", name, role)
	}
	return p, token, nil
}

// TokenStore holds the tokens of a file and reloads them when the file
// changes, so that tokens are added and revoked without a restart. A reload
// that fails, or finds no token at all, keeps the previous tokens. Edit the
// file by writing a new one and renaming it over the old, so that a reload
// never sees it half written.
type TokenStore struct {
	path string
	log  *slog.Logger
	set  atomic.Pointer[TokenSet]

	mu      sync.Mutex // serializes reloads
	modTime time.Time
	size    int64
}

// OpenTokenFile loads path; it fails when the file is missing or invalid,
// so that a server never starts with tokens it cannot read.
func OpenTokenFile(path string, log *slog.Logger) (*TokenStore, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &TokenStore{path: path, log: log}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewStaticTokens serves a fixed set, for tests and embedders.
func NewStaticTokens(set *TokenSet) *TokenStore {
	s := &TokenStore{log: slog.Default()}
	s.set.Store(set)
	return s
}

// Authenticate returns the principal of token, or false.
func (s *TokenStore) Authenticate(token string) (*Principal, bool) {
	return s.set.Load().Authenticate(token)
}

// Reload reads the file again (on SIGHUP, say).
func (s *TokenStore) Reload() error {
	_, err := s.reload(true)
	return err
}

// reload reads the file if force is set or it changed since the last
// load; it reports whether it loaded a new set.
func (s *TokenStore) reload(force bool) (bool, error) {
	if s.path == "" {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		return false, fmt.Errorf("%w %s: %w", ErrTokenFile, s.path, err)
	}
	if !force && fi.ModTime().Equal(s.modTime) && fi.Size() == s.size {
		return false, nil
	}
	if fi.Mode().Perm()&0o077 != 0 {
		s.log.Warn("token file is readable by other users; chmod 600 it", "path", s.path, "mode", fi.Mode().Perm().String())
	}
	f, err := os.Open(s.path)
	if err != nil {
		return false, fmt.Errorf("%w %s: %w", ErrTokenFile, s.path, err)
	}
	defer f.Close()
	set, err := ParseTokens(f)
	if err != nil {
		return false, fmt.Errorf("%s: %w", s.path, err)
	}
	if set.Len() == 0 {
		// Most likely a file caught mid-write (truncated, not yet filled):
		// revoking every token on that would lock everyone out. To revoke
		// all tokens, stop the replicas.
		return false, fmt.Errorf("%w %s: holds no tokens", ErrTokenFile, s.path)
	}
	s.set.Store(set)
	s.modTime, s.size = fi.ModTime(), fi.Size()
	s.log.Info("loaded token file", "path", s.path, "tokens", set.Len())
	return true, nil
}

// Watch reloads the file every interval until ctx ends. A bad file is
// logged and the previous tokens stay in force.
func (s *TokenStore) Watch(ctx context.Context, interval time.Duration) {
	if s.path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.reload(false); err != nil {
				s.log.Error("reload token file; keeping the previous tokens", "err", err)
			}
		}
	}
}
