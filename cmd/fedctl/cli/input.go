package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"
)

// maxInputBytes bounds a spec file; the server refuses far smaller bodies,
// so this only guards against reading a wrong, huge file into memory.
const maxInputBytes = 16 << 20

// readObject decodes the JSON or YAML document at path ("-" is stdin) into
// out. Unknown fields are an error: a misspelt field would otherwise be
// dropped silently and the submission would not be what the user wrote.
func (g *globals) readObject(path string, out any) error {
	var (
		data []byte
		err  error
	)
	name := path
	if path == "-" {
		name = "stdin"
		data, err = io.ReadAll(io.LimitReader(g.env.Stdin, maxInputBytes+1))
	} else {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			data, err = io.ReadAll(io.LimitReader(f, maxInputBytes+1))
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxInputBytes {
		return fmt.Errorf("read %s: larger than %d bytes", name, maxInputBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("read %s: it is empty", name)
	}
	// sigs.k8s.io/yaml reads JSON too, since JSON is YAML.
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		return fmt.Errorf("decode %s: %w", name, err)
	}
	return nil
}
