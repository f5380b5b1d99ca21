package raftstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
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
	b = appendJSONString(b, string(c.Type))
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
		b = appendJSONString(b, sub.Hash)
	}
	return append(b, "}}"...)
}

func appendAssign(b []byte, a *AssignCmd) []byte {
	b = append(b, `,"assign":{"key":{"project":`...)
	b = appendJSONString(b, a.Key.Project)
	b = append(b, `,"domain":`...)
	b = appendJSONString(b, a.Key.Domain)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, a.Key.Name)
	b = append(b, `},"cluster":`...)
	b = appendJSONString(b, a.Cluster)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(a.Attempt), 10)
	return append(b, "}}"...)
}

// appendJSONString appends s as encoding/json renders a string. Names and
// hashes are plain ASCII and are copied; anything else (escapes, HTML
// characters, non-ASCII) is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
