package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is fedctl's version, set at build time with
// -ldflags "-X github.com/federation-dev/federation/cmd/fedctl/cli.Version=v0.1.0".
var Version = "dev"

// versionInfo is what `fedctl version` prints.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// buildVersion gathers the version and, when the binary was built from a
// git checkout, the commit it was built from.
func buildVersion() versionInfo {
	v := versionInfo{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v.Commit = s.Value
			}
		}
	}
	return v
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print fedctl's version",
		Example: `  fedctl version
  fedctl version -o json`,
		Args: exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			v := buildVersion()
			return g.print(v, func(w io.Writer) error {
				commit := ""
				if v.Commit != "" {
					commit = ", commit " + v.Commit
				}
				_, err := fmt.Fprintf(w, "fedctl %s (%s %s%s)\n", v.Version, v.GoVersion, v.Platform, commit)
				return err
			})
		},
	}
}
