package testbed

import (
	"bytes"
	"embed"
	"io/fs"
)

// stagesFS holds the kwok Stage definitions the testbed runs with; see
// stages/*.yaml and README.md for the annotations they honour.
//
//go:embed stages/*.yaml
var stagesFS embed.FS

// stagesConfig returns every stage as one multi-document YAML for kwok --config.
func stagesConfig() []byte {
	names, err := fs.Glob(stagesFS, "stages/*.yaml")
	if err != nil {
		panic(err) // the pattern is a constant: cannot fail
	}
	var buf bytes.Buffer
	for _, name := range names {
		data, err := stagesFS.ReadFile(name)
		if err != nil {
			panic(err) // embedded at build time: cannot fail
		}
		buf.WriteString("---\n")
		buf.Write(data)
		buf.WriteString("\n")
	}
	return buf.Bytes()
}
