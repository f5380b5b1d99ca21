package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/federation-dev/federation/federation"
)

// cgroupMemoryMax is where cgroup v2 tells a container its memory limit.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// memoryLimitShare is the part of a container's memory limit given to the
// Go heap by default; the rest covers stacks, the Raft log's mmap and
// what the runtime has not returned yet.
const memoryLimitShare = 0.9

// memoryLimit decides the Go runtime's soft memory limit: flag, when set
// ("0" turns it off); else GOMEMLIMIT, which the runtime already applied;
// else a share of the cgroup limit read from cgroupFile. Without a soft
// limit the heap may grow to twice the live state before a collection, and
// a replica holding a million executions would be killed by a container
// limit its live state fits in.
func memoryLimit(flag, cgroupFile string) (limit int64, source string, err error) {
	if flag != "" {
		q, err := resource.ParseQuantity(flag)
		if err != nil {
			return 0, "", fmt.Errorf("--memory-limit %q: %w", flag, err)
		}
		if q.Sign() < 0 {
			return 0, "", fmt.Errorf("--memory-limit %q: negative", flag)
		}
		return q.Value(), "--memory-limit", nil
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, "GOMEMLIMIT", nil
	}
	b, err := os.ReadFile(cgroupFile)
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", cgroupFile, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" || s == "" {
		return 0, "", nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %q is not a byte count", cgroupFile, s)
	}
	return int64(float64(n) * memoryLimitShare), cgroupFile, nil
}

// applyMemoryLimit sets the soft limit memoryLimit decided, if any.
func applyMemoryLimit(limit int64, source string) {
	switch {
	case source == "" || source == "GOMEMLIMIT":
	case limit == 0:
		debug.SetMemoryLimit(math.MaxInt64) // "0" turns the limit off: the runtime's "no limit"
	default:
		debug.SetMemoryLimit(limit)
	}
}

// gcPercent decides the collector's GOGC: flag, when set (-1 is "decide");
// else GOGC from the environment, which the runtime already applied; else
// federation.GCPercentUnderMemoryLimit when a soft memory limit is in force,
// and the runtime's 100 otherwise.
//
// With a limit, a higher GOGC is safe: the limit, not GOGC, bounds the heap
// once the state is large, and while it is small the collector runs a
// quarter as often. Collection was a fifth of a busy leader's CPU and the
// main source of its tail latency.
func gcPercent(flag int, limitInForce bool, gogcEnv string) (percent int, source string) {
	switch {
	case flag >= 0:
		return flag, "--gc-percent"
	case gogcEnv != "":
		return 0, "GOGC"
	case limitInForce:
		return federation.GCPercentUnderMemoryLimit, "memory limit"
	}
	return 0, ""
}
