package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
)

// startProfiles writes a CPU profile, an execution trace and, at the end,
// an allocation profile of this run into dir, named for the run; the
// returned func stops and closes them.
func startProfiles(dir, run string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cpu, err := os.Create(filepath.Join(dir, run+".cpu.pprof"))
	if err != nil {
		return nil, err
	}
	tr, err := os.Create(filepath.Join(dir, run+".trace"))
	if err != nil {
		cpu.Close()
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		tr.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := trace.Start(tr); err != nil {
		pprof.StopCPUProfile()
		cpu.Close()
		tr.Close()
		return nil, fmt.Errorf("trace: %w", err)
	}
	return func() error {
		trace.Stop()
		pprof.StopCPUProfile()
		errs := []error{cpu.Close(), tr.Close()}
		if f, err := os.Create(filepath.Join(dir, run+".allocs.pprof")); err == nil {
			errs = append(errs, pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
		} else {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}, nil
}
