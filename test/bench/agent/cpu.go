package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSample is the CPU time used so far by named processes.
type cpuSample map[string]time.Duration

// sampleCPU reads the CPU time of the given processes (by /proc comm) and
// of this process (the agent).
func sampleCPU(pids []int) cpuSample {
	s := cpuSample{}
	for _, pid := range pids {
		name, used, err := procCPU(pid)
		if err == nil {
			s[name] += used
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s["agent (bench process)"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s
}

func procCPU(pid int) (string, time.Duration, error) {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "", 0, err
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	// The command may hold spaces: the fields start after its ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return "", 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(stat)[i+1:])
	if len(f) < 13 {
		return "", 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strings.TrimSpace(string(comm)), time.Duration(utime+stime) * clockTick, nil
}

// since returns the CPU time used between before and s.
func (s cpuSample) since(before cpuSample) cpuSample {
	out := cpuSample{}
	for k, v := range s {
		out[k] = v - before[k]
	}
	return out
}

// machineCPU is the CPU time every process on the machine has used so far
// (busy time summed over all CPUs, from /proc/stat), to tell what others
// ran beside the benchmark; 0 if unreadable.
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		busy += n
	}
	return time.Duration(busy) * clockTick
}
