//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestChaosReport prints, after the health, drain and failover suites of
// this run (it sorts after their files), the report lines they produced:
// executions submitted and acknowledged, finished, lost and duplicated (both
// must be 0, each suite fails otherwise) and the failover times measured.
func TestChaosReport(t *testing.T) {
	chaosSummary.mu.Lock()
	lines := append([]string(nil), chaosSummary.lines...)
	chaosSummary.mu.Unlock()
	if len(lines) == 0 {
		t.Skip("no chaos suite ran in this process")
	}
	out := "chaos suite report:\n  " + strings.Join(lines, "\n  ")
	t.Log(out)
	fmt.Println(out)
	if path := os.Getenv("E2E_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatalf("write e2e report: %v", err)
		}
		defer f.Close()
		if _, err := f.WriteString(out + "\n"); err != nil {
			t.Fatalf("write e2e report: %v", err)
		}
	}
}
