// Command submit measures replicated submission: acknowledged submissions per
// second and p50/p99 latency of a 3-voter federation control plane with fsync
// on, side by side with a 3-member etcd doing one create-if-absent transaction
// per execution of the same JSON, at several client counts.
//
//	go run ./test/bench/submit [--duration 10s] [--clients 1,16,128] [--runs 1] [--out FILE.md]
//
// It needs bin/federation-server (make build) and bin/testbin/etcd (make
// testbin). It ends every process it started, also on Ctrl-C, and removes its
// temporary folders.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/federation-dev/federation/federation/client"
)

// config is every flag, validated before anything starts.
type config struct {
	duration time.Duration
	warmup   time.Duration
	clients  []int
	// runs is how many times each point is measured; the report shows
	// each system's median run.
	runs     int
	out      string
	fedBin   string
	etcdBin  string
	dataRoot string
	keep     bool
	// profile, when set, is the folder that gets a CPU profile of every
	// federation replica (started with --pprof) over each measured phase.
	profile string
	// fedOnly skips etcd: for quick iterations on federation alone.
	fedOnly bool
	// memoryLimit is each replica's --memory-limit.
	memoryLimit string
}

// Bounds that keep a mistyped flag from tying up the shared machine.
const (
	maxDuration = 10 * time.Minute
	maxClients  = 1024
	maxRuns     = 9
	// startTimeout bounds the wait for a cluster to elect a leader.
	startTimeout = 60 * time.Second
	// stopGrace is how long processes get to exit on SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// requestTimeout bounds one request, hence how far past the duration a
	// phase can run.
	requestTimeout = 10 * time.Second
	// probeTimeout bounds the retries of the first submission.
	probeTimeout = 15 * time.Second
)

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per system and client count")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured load before each measurement")
	clients := fs.String("clients", "1,16,128", "comma-separated concurrent client counts")
	fs.IntVar(&c.runs, "runs", 1, "measure each point this many times, the systems alternating; the report shows each system's median run")
	fs.StringVar(&c.out, "out", "", "also write the report as Markdown to this file")
	bin := fs.String("bin", "", "folder with federation-server (default <repo>/bin)")
	fs.StringVar(&c.etcdBin, "etcd", "", "etcd binary (default <bin>/testbin/etcd)")
	fs.StringVar(&c.dataRoot, "data-root", os.TempDir(), "where the temporary data dirs go; must be a disk for fsync to mean anything")
	fs.BoolVar(&c.keep, "keep", false, "keep the data dirs and logs instead of removing them")
	fs.StringVar(&c.memoryLimit, "memory-limit", "1800Mi", "each federation replica's --memory-limit, as in a container limited to 2 GiB (the server then runs GOGC 400); \"\": the server's default (here: none)")
	fs.BoolVar(&c.fedOnly, "fed-only", false, "measure federation only, without etcd (quick iterations; no ratio)")
	fs.StringVar(&c.profile, "profile", "", "write CPU profiles of every federation replica over each measured phase to this folder")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var errs []error
	if c.duration <= 0 || c.duration > maxDuration {
		errs = append(errs, fmt.Errorf("--duration %s: want more than 0 and at most %s", c.duration, maxDuration))
	}
	if c.runs < 1 || c.runs > maxRuns {
		errs = append(errs, fmt.Errorf("--runs %d: want 1 to %d", c.runs, maxRuns))
	}
	if c.warmup < 0 || c.warmup > maxDuration {
		errs = append(errs, fmt.Errorf("--warmup %s: want 0 to %s", c.warmup, maxDuration))
	}
	cs, err := parseClients(*clients)
	if err != nil {
		errs = append(errs, err)
	}
	c.clients = cs
	if *bin == "" {
		d, err := repoBinDir()
		if err != nil {
			errs = append(errs, err)
		}
		*bin = d
	}
	c.fedBin = filepath.Join(*bin, "federation-server")
	if c.etcdBin == "" {
		c.etcdBin = filepath.Join(*bin, "testbin", "etcd")
	}
	return c, errors.Join(errs...)
}

// parseClients reads "1,16,128".
func parseClients(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxClients {
			return nil, fmt.Errorf("--clients %q: each must be a whole number from 1 to %d", s, maxClients)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "submit:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "submit:", err)
		os.Exit(1)
	}
}

// run measures every client count against both systems, one system at a
// time, and reports. On an error or Ctrl-C it still reports the points done.
func run(ctx context.Context, cfg *config, stdout, progress io.Writer) error {
	if err := checkExecutable(cfg.fedBin, "run `make build` first"); err != nil {
		return err
	}
	if !cfg.fedOnly {
		if err := checkExecutable(cfg.etcdBin, "run `make testbin` first (etcd v3.6 from its Go module)"); err != nil {
			return err
		}
	}
	root, err := os.MkdirTemp(cfg.dataRoot, "federation-bench-")
	if err != nil {
		return fmt.Errorf("make data root: %w", err)
	}
	if cfg.keep {
		fmt.Fprintln(progress, "data dirs and logs kept in", root)
	} else {
		defer os.RemoveAll(root)
	}
	m := probeMachine(root, etcdVersion(ctx, cfg.etcdBin), cfg.duration, cfg.warmup)
	m.FedMemoryLimit = cfg.memoryLimit
	m.Runs = cfg.runs
	var points []point
	var runErr error
	for _, n := range cfg.clients {
		var p point
		p, runErr = measurePoint(ctx, cfg, root, n, progress)
		if runErr != nil {
			break
		}
		points = append(points, p)
	}
	if len(points) > 0 {
		fmt.Fprintln(stdout)
		if err := renderText(stdout, m, points); err != nil {
			return errors.Join(runErr, err)
		}
		if cfg.out != "" {
			if err := writeMarkdown(cfg.out, m, points); err != nil {
				return errors.Join(runErr, err)
			}
		}
	}
	return runErr
}

// measurePoint measures one client count cfg.runs times, federation and
// etcd alternating so that a slow spell of the shared machine falls on
// both, and keeps each system's median run.
func measurePoint(ctx context.Context, cfg *config, root string, n int, progress io.Writer) (point, error) {
	systems := []struct {
		name, system, cluster string
		m                     measurer
		runs                  []result
	}{
		{name: "federation", system: "fed", cluster: "3 replicas", m: measureFederation},
		{name: "etcd", system: "etcd", cluster: "3 members", m: measureEtcd},
	}
	if cfg.fedOnly {
		systems = systems[:1]
	}
	for run := 1; run <= cfg.runs; run++ {
		of := ""
		if cfg.runs > 1 {
			of = fmt.Sprintf(" (run %d of %d)", run, cfg.runs)
		}
		for i := range systems {
			s := &systems[i]
			fmt.Fprintf(progress, "%s, %d clients%s: starting %s, %s warm-up, %s measured\n", s.name, n, of, s.cluster, cfg.warmup, cfg.duration)
			r, err := measure(ctx, cfg, root, s.system, n, run, s.m)
			if err != nil {
				return point{}, fmt.Errorf("%s, %d clients: %w", s.name, n, err)
			}
			fmt.Fprintf(progress, "  %s ops/s, p50 %s, p99 %s\n", ops(r), ms(r.P50), ms(r.P99))
			s.runs = append(s.runs, r)
		}
	}
	p := point{Clients: n}
	p.Fed, p.FedRuns = medianRun(systems[0].runs)
	if !cfg.fedOnly {
		p.Etcd, p.EtcdRuns = medianRun(systems[1].runs)
	}
	return p, nil
}

// medianRun is the run with the median throughput (the lower middle one
// of an even count), and every run's ops/s in the order they ran.
func medianRun(runs []result) (result, []float64) {
	if len(runs) == 0 {
		return result{}, nil
	}
	all := make([]float64, len(runs))
	for i, r := range runs {
		all[i] = r.OpsPerSec()
	}
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b result) int { return cmp.Compare(a.OpsPerSec(), b.OpsPerSec()) })
	return sorted[(len(sorted)-1)/2], all
}

func writeMarkdown(path string, m machine, points []point) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := renderMarkdown(f, m, points); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// measurer starts one system's cluster with processes owned by g and data in
// dir, and runs the load of o against it.
type measurer func(ctx context.Context, cfg *config, g *procGroup, dir string, o loadOptions) (result, error)

// measure runs one point of one system in a fresh cluster and data dir, and
// stops that cluster and removes its data before returning, whatever happens.
func measure(ctx context.Context, cfg *config, root, system string, clients, run int, m measurer) (result, error) {
	dir := filepath.Join(root, fmt.Sprintf("%s-c%d-r%d", system, clients, run))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return result{}, fmt.Errorf("make data dir: %w", err)
	}
	g := &procGroup{}
	defer func() {
		g.stopAll(stopGrace)
		if !cfg.keep {
			os.RemoveAll(dir)
		}
	}()
	r, err := m(ctx, cfg, g, dir, loadOptions{Clients: clients, Warmup: cfg.warmup, Duration: cfg.duration, RequestTimeout: requestTimeout})
	if err == nil {
		err = ctx.Err()
	}
	return r, err
}

// runName tells points apart in execution names; both systems get the same,
// so they store the same JSON.
func runName(clients int) string { return fmt.Sprintf("c%d", clients) }

func measureFederation(ctx context.Context, cfg *config, g *procGroup, dir string, o loadOptions) (result, error) {
	c, err := startFederation(ctx, g, cfg.fedBin, dir, startTimeout, cfg.profile != "", cfg.memoryLimit)
	if err != nil {
		return result{}, err
	}
	s := newFedSubmitter(c.leaderURL, runName(o.Clients), o.Clients)
	defer s.close()
	if err := probe(ctx, s.submit); err != nil {
		return result{}, err
	}
	before, err := commitIndex(ctx, c.leaderURL)
	if err != nil {
		return result{}, err
	}
	// Count every acknowledgement, warm-up included, to relate them to the
	// log entries committed meanwhile: the group-commit batch size.
	var acked atomic.Uint64
	var prof *profiler
	if cfg.profile != "" {
		if err := os.MkdirAll(cfg.profile, 0o755); err != nil {
			return result{}, fmt.Errorf("make profile folder: %w", err)
		}
		prof = startProfiles(ctx, cfg.profile, o.Clients, c.leaderID, c.urls, o.Warmup, o.Duration)
	}
	r := runLoad(ctx, o, func(ctx context.Context, seq uint64) error {
		err := s.submit(ctx, seq)
		if err == nil {
			acked.Add(1)
		}
		return err
	})
	if prof != nil {
		if err := prof.wait(); err != nil {
			return r, err
		}
	}
	if err := deadErr(c.procs); err != nil {
		return r, err
	}
	if after, err := commitIndex(ctx, c.leaderURL); err == nil && after > before {
		r.PerEntry = float64(acked.Load()) / float64(after-before)
	}
	return r, nil
}

// commitIndex is the Raft commit index the replica at url reports.
func commitIndex(ctx context.Context, url string) (uint64, error) {
	cl, err := client.New(url)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, pollCallTimeout)
	defer cancel()
	st, err := cl.RaftStatus(ctx)
	if err != nil {
		return 0, fmt.Errorf("read commit index: %w", err)
	}
	return st.CommitIndex, nil
}

func measureEtcd(ctx context.Context, cfg *config, g *procGroup, dir string, o loadOptions) (result, error) {
	c, err := startEtcd(ctx, g, cfg.etcdBin, dir, startTimeout)
	if err != nil {
		return result{}, err
	}
	// Requests go to the leader only, as on the federation side.
	cli, err := newEtcdClient([]string{c.leader})
	if err != nil {
		return result{}, err
	}
	defer func() { _ = cli.Close() }()
	s := &etcdSubmitter{cli: cli, run: runName(o.Clients)}
	if err := probe(ctx, s.submit); err != nil {
		return result{}, err
	}
	r := runLoad(ctx, o, s.submit)
	return r, deadErr(c.procs)
}

// probe makes sure one submission (sequence 0, which the load never uses)
// succeeds before measuring, so that a refused spec or a cluster that cannot
// commit fails loudly instead of measuring 0/s. A just-elected leader may
// refuse for a moment, hence the retries; a 4xx will not get better.
func probe(ctx context.Context, submit submitFunc) error {
	var last error
	err := poll(ctx, probeTimeout, "a first acknowledged submission", func(ctx context.Context) (bool, error) {
		last = submit(ctx, 0)
		var se *statusError
		if errors.As(last, &se) && se.Status >= 400 && se.Status < 500 {
			return false, last
		}
		return last == nil, nil
	})
	if err != nil && last != nil && !errors.Is(err, last) {
		return fmt.Errorf("%w (last: %w)", err, last)
	}
	return err
}
