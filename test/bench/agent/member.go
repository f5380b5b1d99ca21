package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/federation-dev/federation/test/testbed"
)

// requestCounts is the member API servers' apiserver_request_total for
// mutating verbs, summed by "verb resource[/subresource]": every write the
// member clusters paid for, whoever sent it (the agent, the scheduler,
// kwok), refused or not.
type requestCounts map[string]float64

// podsCreatedKey holds, beside the writes, how many pods were created
// (POST pods answered 201): the task pods, since only the agents create
// pods in the benchmark's namespace and nothing else creates any.
const podsCreatedKey = "(pods created)"

// writeVerbs are the verbs of apiserver_request_total that change state
// (a deletecollection counts as DELETE).
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "APPLY": true}

// memberWrites reads a member API server's /metrics.
func memberWrites(ctx context.Context, c *testbed.Cluster) (requestCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, err := c.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("member /metrics: %w", err)
	}
	return parseRequestTotals(body), nil
}

// parseRequestTotals sums apiserver_request_total's samples of mutating
// verbs by verb and resource. The text format is simple enough to read by
// hand: name{labels} value.
func parseRequestTotals(body []byte) requestCounts {
	out := requestCounts{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "apiserver_request_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		l := parseLabels(labels)
		if !writeVerbs[l["verb"]] {
			continue
		}
		res := l["resource"]
		if s := l["subresource"]; s != "" {
			res += "/" + s
		}
		out[l["verb"]+" "+res] += v
		if l["verb"] == "POST" && res == "pods" && l["code"] == "201" {
			out[podsCreatedKey] += v
		}
	}
	return out
}

// parseLabels reads k="v",k="v" (label values here hold no quotes or
// commas).
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

func (r requestCounts) since(before requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range r {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func (r requestCounts) podsCreated() float64 { return r[podsCreatedKey] }

// total is every write.
func (r requestCounts) total() float64 {
	t := 0.0
	for k, v := range r {
		if k != podsCreatedKey {
			t += v
		}
	}
	return t
}

// keys are the writes' keys, sorted.
func (r requestCounts) keys() []string {
	var ks []string
	for _, k := range slices.Sorted(maps.Keys(r)) {
		if k != podsCreatedKey {
			ks = append(ks, k)
		}
	}
	return ks
}

// profileAPIServer writes a CPU profile of the member's kube-apiserver over
// the next d to path (the testbed serves /debug/pprof).
func profileAPIServer(ctx context.Context, c *testbed.Cluster, d time.Duration, path string) error {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	body, err := c.Client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", strconv.Itoa(int(d.Seconds()))).Timeout(d + 20*time.Second).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("member apiserver profile: %w", err)
	}
	return os.WriteFile(path, body, 0o644)
}
