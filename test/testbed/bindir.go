package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrBinariesMissing is returned by Available (wrapped) when a component
// binary is absent: run `make testbin` (test/testbin/build.sh).
var ErrBinariesMissing = errors.New("testbed binaries missing: run make testbin (test/testbin/build.sh)")

// binaries are the executables every cluster runs, all looked up in BinDir.
var binaries = []string{"etcd", "kube-apiserver", "kube-scheduler", "kwok"}

// BinDir returns the folder holding the component binaries: $TESTBIN_DIR if
// set (the same variable build.sh honours), else <repo>/bin/testbin where
// <repo> is the first parent of the working directory with a go.mod.
func BinDir() (string, error) {
	if dir := os.Getenv("TESTBIN_DIR"); dir != "" {
		return dir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find testbin dir: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin", "testbin"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find testbin dir: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Available reports whether the binaries a cluster needs exist in BinDir.
// Tests call it to skip with a message that says how to get them.
func Available() error {
	dir, err := BinDir()
	if err != nil {
		return err
	}
	return checkBinaries(dir)
}

func checkBinaries(dir string) error {
	for _, name := range binaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%w: %s not found in %s", ErrBinariesMissing, name, dir)
		}
	}
	return nil
}
