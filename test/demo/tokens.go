package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// demoTokens are the bearer tokens of a demo run: the control plane
// requires them, as it does in production.
type demoTokens struct {
	file   string
	admin  string
	agents map[string]string // by cluster name
}

// writeDemoTokens generates an admin token and one agent token per member
// cluster into a token file in dir.
func writeDemoTokens(dir string) (*demoTokens, error) {
	gen := func() (string, error) {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("generate a token: %w", err)
		}
		return hex.EncodeToString(b), nil
	}
	t := &demoTokens{file: filepath.Join(dir, "tokens.csv"), agents: map[string]string{}}
	var err error
	if t.admin, err = gen(); err != nil {
		return nil, err
	}
	lines := []string{"# token,name,role,scope", t.admin + ",demo-sre,admin,"}
	for _, m := range members {
		tok, err := gen()
		if err != nil {
			return nil, err
		}
		t.agents[m.spec.Name] = tok
		lines = append(lines, fmt.Sprintf("%s,agent-%s,agent,%s", tok, m.spec.Name, m.spec.Name))
	}
	if err := os.WriteFile(t.file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write token file: %w", err)
	}
	return t, nil
}
