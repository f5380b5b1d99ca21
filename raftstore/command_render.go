package raftstore

import (
	"fmt"
	"strconv"
	"time"

	v1 "github.com/federation-dev/federation/api/federation/v1alpha1"
)

// The two commands proposed by the thousand, submissions and assignments,
// are rendered by hand, straight into the log entry: json.Marshal of a
// Command costs an allocation per command and renders every payload field,
// zero time included. A rendering is the document json.Marshal would make
// minus the fields the command does not read, so a replica decodes it to
// the same command.

// rendered reports whether c is rendered by hand rather than by json.Marshal.
func rendered(c *Command) bool {
	switch c.Type {
	case CmdSubmit:
		// Only NewSubmitCmd keeps the spec's canonical JSON to embed.
		return c.Submit != nil && c.Submit.canonical != nil
	case CmdAssign:
		return c.Assign != nil
	}
	return false
}

// checkRenderTime refuses the times that encoding/json cannot render (a
// year outside 0..9999; times are proposed in UTC), so that appendRendered
// cannot fail.
func checkRenderTime(c *Command) error {
	if y := c.At.Year(); y < 0 || y > 9999 {
		return fmt.Errorf("encode %s command: time %v: year outside [0,9999]", c.Type, c.At)
	}
	return nil
}

// renderedSize bounds the length of c's rendering.
func renderedSize(c *Command) int {
	const envelope = 112 // {"v":..,"t":..,"at":..} and the payload's own keys
	if c.Type == CmdAssign {
		a := c.Assign
		return envelope + len(a.Key.Project) + len(a.Key.Domain) + len(a.Key.Name) + len(a.Cluster) + 64
	}
	return envelope + len(c.Submit.canonical) + len(c.Submit.Hash)
}

// appendRendered appends the rendering of c, for which rendered is true and
// whose time checkRenderTime accepted, to b.
func appendRendered(b []byte, c *Command) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(c.Version), 10)
	b = append(b, `,"t":`...)
	b = v1.AppendJSONString(b, string(c.Type))
	b = append(b, `,"at":"`...)
	b = c.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if c.Type == CmdAssign {
		return appendAssign(b, c.Assign)
	}
	return appendSubmit(b, c.Submit)
}

func appendSubmit(b []byte, sub *SubmitCmd) []byte {
	b = append(b, `,"submit":{"spec":`...)
	b = append(b, sub.canonical...)
	if sub.Hash != "" {
		b = append(b, `,"hash":`...)
		b = v1.AppendJSONString(b, sub.Hash)
	}
	return append(b, "}}"...)
}

func appendAssign(b []byte, a *AssignCmd) []byte {
	b = append(b, `,"assign":{"key":{"project":`...)
	b = v1.AppendJSONString(b, a.Key.Project)
	b = append(b, `,"domain":`...)
	b = v1.AppendJSONString(b, a.Key.Domain)
	b = append(b, `,"name":`...)
	b = v1.AppendJSONString(b, a.Key.Name)
	b = append(b, `},"cluster":`...)
	b = v1.AppendJSONString(b, a.Cluster)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(a.Attempt), 10)
	return append(b, "}}"...)
}
