package v1alpha1

import "testing"

func TestCacheKey(t *testing.T) {
	base := TaskNode{ID: "train", Image: "python:3.12", Command: []string{"python", "-m", "train"}, Args: []string{"--epochs=3"},
		Env: map[string]string{"MODE": "fast"}, Resources: Resources{CPU: "2"}, Cache: &CacheSpec{Version: "v3"}}
	inputs := map[string]string{"data": "s3://d/1", "date": "2026-11-24"}
	key := CacheKey(base, inputs)
	if !ValidCacheKey(key) {
		t.Fatalf("key %q is not a valid cache key", key)
	}
	same := []struct {
		name   string
		change func(*TaskNode, map[string]string)
	}{
		{"another node id", func(n *TaskNode, _ map[string]string) { n.ID = "train-again" }},
		{"other resources", func(n *TaskNode, _ map[string]string) { n.Resources = Resources{CPU: "8", GPU: "1"} }},
		{"retries and timeout", func(n *TaskNode, _ map[string]string) { n.Retries, n.Timeout = 3, "1h" }},
		{"other dependencies", func(n *TaskNode, _ map[string]string) { n.DependsOn = []string{"x"} }},
	}
	for _, tc := range same {
		t.Run("same key: "+tc.name, func(t *testing.T) {
			n, in := base, map[string]string{"data": "s3://d/1", "date": "2026-11-24"}
			tc.change(&n, in)
			if got := CacheKey(n, in); got != key {
				t.Fatalf("key changed: %s, want %s", got, key)
			}
		})
	}
	differ := []struct {
		name   string
		change func(*TaskNode, map[string]string)
	}{
		{"cache version", func(n *TaskNode, _ map[string]string) { n.Cache = &CacheSpec{Version: "v4"} }},
		{"image", func(n *TaskNode, _ map[string]string) { n.Image = "python:3.13" }},
		{"command", func(n *TaskNode, _ map[string]string) { n.Command = []string{"python", "-m", "train2"} }},
		{"args", func(n *TaskNode, _ map[string]string) { n.Args = nil }},
		{"env", func(n *TaskNode, _ map[string]string) { n.Env = map[string]string{"MODE": "slow"} }},
		{"an input value", func(_ *TaskNode, in map[string]string) { in["date"] = "2026-11-25" }},
		{"an input name", func(_ *TaskNode, in map[string]string) { in["day"] = in["date"]; delete(in, "date") }},
		{"an extra input", func(_ *TaskNode, in map[string]string) { in["x"] = "" }},
		// Values cannot shift between fields: the rendering is structured.
		{"args moved into command", func(n *TaskNode, _ map[string]string) {
			n.Command, n.Args = []string{"python", "-m", "train", "--epochs=3"}, nil
		}},
	}
	for _, tc := range differ {
		t.Run("new key: "+tc.name, func(t *testing.T) {
			n, in := base, map[string]string{"data": "s3://d/1", "date": "2026-11-24"}
			tc.change(&n, in)
			if got := CacheKey(n, in); got == key {
				t.Fatal("key did not change")
			}
		})
	}
	if CacheKey(TaskNode{Image: "x", Cache: &CacheSpec{Version: "1"}}, nil) != CacheKey(TaskNode{Image: "x", Command: []string{}, Cache: &CacheSpec{Version: "1"}}, map[string]string{}) {
		t.Error("nil and empty hash differently")
	}
	if got := CacheKey(TaskNode{Image: "x"}, nil); got != "" {
		t.Errorf("a node without cache has key %q, want none", got)
	}
}

func TestValidCacheKey(t *testing.T) {
	for k, want := range map[string]bool{
		CacheKey(TaskNode{Image: "x", Cache: &CacheSpec{Version: "1"}}, nil): true,
		"": false, "abc": false,
		"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789": false,
		"../../etc/passwd0123456789abcdef0123456789abcdef0123456789abcdef": false,
	} {
		if got := ValidCacheKey(k); got != want {
			t.Errorf("ValidCacheKey(%q) = %v, want %v", k, got, want)
		}
	}
}
