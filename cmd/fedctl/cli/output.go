package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// Output formats of -o.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// print writes obj as JSON or YAML when -o asks for it, or else calls table
// with a tabwriter that is flushed afterwards.
func (g *globals) print(obj any, table func(w io.Writer) error) error {
	out := g.env.Stdout
	switch g.output {
	case outputJSON:
		b, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return fmt.Errorf("render JSON: %w", err)
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	case outputYAML:
		b, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("render YAML: %w", err)
		}
		_, err = out.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	if err := table(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// row writes one tab-separated table row.
func row(w io.Writer, cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, c)
	}
	fmt.Fprint(w, "\n")
}

// age renders how long ago t was, as kubectl does; "-" for the zero time.
func (g *globals) age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := g.env.Now().Sub(t)
	if d < 0 {
		d = 0
	}
	return duration.HumanDuration(d)
}

// orDash renders an empty string as "-" so that table columns stay aligned
// and readable.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// labelString renders labels as sorted k=v pairs.
func labelString(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := v1.SortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
