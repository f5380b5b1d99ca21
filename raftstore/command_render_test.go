package raftstore

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// decodeBoth decodes raw with encoding/json and with the FSM's decoder,
// which must agree.
func decodeBoth(t *testing.T, raw []byte) Command {
	t.Helper()
	var std, fast Command
	if err := json.Unmarshal(raw, &std); err != nil {
		t.Fatalf("encoding/json: %s: %v", raw, err)
	}
	if err := fastJSON.Unmarshal(raw, &fast); err != nil {
		t.Fatalf("fastJSON: %s: %v", raw, err)
	}
	if !reflect.DeepEqual(std, fast) {
		t.Fatalf("%s decodes to\n%+v with encoding/json,\n%+v with fastJSON", raw, std, fast)
	}
	return std
}

// checkAssignRendering: an assignment rendered by hand decodes to exactly
// what json.Marshal's document of the same command decodes to.
func checkAssignRendering(t *testing.T, c *Command) {
	t.Helper()
	marshalled, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := decodeBoth(t, raw), decodeBoth(t, marshalled); !reflect.DeepEqual(got, want) {
		t.Fatalf("rendered %s\ndecodes to %+v,\njson.Marshal's %s\nto %+v", raw, got, marshalled, want)
	}
}

func TestAssignRendering(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)
	tests := []struct {
		name string
		a    AssignCmd
	}{
		{"plain", AssignCmd{Key: v1.ExecutionKey{Project: "p", Domain: "d", Name: "n-1"}, Cluster: "c1", Attempt: 1}},
		{"empty strings", AssignCmd{}},
		{"longest attempt", AssignCmd{Key: v1.ExecutionKey{Project: "p", Domain: "d", Name: "n"}, Cluster: "c", Attempt: math.MinInt}},
		{"escapes", AssignCmd{Key: v1.ExecutionKey{Project: `q"\`, Domain: "tab\tnl\n", Name: "<&>"}, Cluster: "\u2028é\xff", Attempt: -3}},
		{"large attempt", AssignCmd{Key: v1.ExecutionKey{Project: "p", Domain: "d", Name: "n"}, Cluster: "c", Attempt: 1 << 40}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			c := &Command{Version: CommandVersion, Type: CmdAssign, At: at, Assign: &a}
			checkAssignRendering(t, c)
			// The size is what the entry's buffer grows by: exact enough for
			// names, which need no escapes.
			if raw, _ := encodeCommand(c); tc.name != "escapes" && len(raw) > renderedSize(c) {
				t.Errorf("rendered %d bytes, bound %d", len(raw), renderedSize(c))
			}
		})
	}
}

func FuzzAssignRendering(f *testing.F) {
	f.Add("p", "d", "n", "c", 1, int64(0))
	f.Add(`"\`, "<>&", "\x00\x1f", "\u2028\u2029\xc3", -1, int64(-62135596800))
	f.Fuzz(func(t *testing.T, project, domain, name, cluster string, attempt int, sec int64) {
		at := time.Unix(sec, 0).UTC()
		c := &Command{Version: CommandVersion, Type: CmdAssign, At: at,
			Assign: &AssignCmd{Key: v1.ExecutionKey{Project: project, Domain: domain, Name: name}, Cluster: cluster, Attempt: attempt}}
		if checkRenderTime(c) != nil {
			if _, err := json.Marshal(c); err == nil {
				t.Fatalf("time %v refused, but encoding/json renders it", at)
			}
			return
		}
		checkAssignRendering(t, c)
	})
}
