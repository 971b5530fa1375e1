package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/scan"
	"github.com/ajar-scan/ajar/targets"
)

type discoverFlags struct {
	targetFlags
	rate        float64
	concurrency int
	perHost     int
	timeout     time.Duration
	retries     int
	json        bool
	dryRun      bool
	syn         bool
}

func (a *app) discoverCommand() *cobra.Command {
	var f discoverFlags
	cmd := &cobra.Command{
		Use:   "discover TARGET... [flags]",
		Short: "Find open ports only: no identification, no probes, nothing stored",
		Long: `discover walks the targets × ports in a pseudo-random order and prints every
open port. It sends nothing but connection attempts (or, with --syn, SYN
packets) and stores nothing.

--dry-run only enumerates the target space (nothing is sent) and prints how
many targets it holds: a way to check targets, exclusions and shards.`,
		Example: `  ajar discover 127.0.78.0/24 -p 1-1024
  ajar discover -i targets.txt -p 6379 --rate 5000 --json
  ajar discover 127.0.78.1 -p 1-65535 --syn
  ajar discover 1.0.0.0/8 -p 80 --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDiscover(cmd.Context(), cmd, &f, args)
		},
	}
	f.register(cmd)
	def := discover.DefaultOptions()
	fl := cmd.Flags()
	fl.Float64Var(&f.rate, "rate", 0, "most connection attempts (or packets) per second, retries included (0: no limit)")
	fl.IntVar(&f.concurrency, "concurrency", def.Concurrency, "most connection attempts in flight")
	fl.IntVar(&f.perHost, "per-host", def.PerHost, "most connection attempts in flight to one address")
	fl.DurationVar(&f.timeout, "timeout", def.Timeout, "timeout of each connect")
	fl.IntVar(&f.retries, "retries", def.Retries, "extra attempts on a port that did not answer")
	fl.BoolVar(&f.json, "json", false, `print JSON Lines (schema ajar/1, status "open"), one per open port`)
	fl.BoolVar(&f.dryRun, "dry-run", false, "enumerate the targets without sending anything; print their number")
	fl.BoolVar(&f.syn, "syn", false, "raw SYN scan (root or CAP_NET_RAW; falls back to connect mode)")
	return cmd
}

func (a *app) runDiscover(ctx context.Context, cmd *cobra.Command, f *discoverFlags, args []string) error {
	dopt := discover.Options{Rate: f.rate, Concurrency: f.concurrency, PerHost: f.perHost,
		Timeout: f.timeout, Retries: f.retries}
	if cmd.Flags().Changed("rate") && f.rate <= 0 {
		return usagef("--rate must be positive, got %g", f.rate)
	}
	if err := dopt.Validate(); err != nil {
		return usageError{err}
	}
	w, err := f.prepareWalk(ctx, a, args, f.resume, newScanID())
	if errors.Is(err, targets.ErrEmpty) {
		if !a.quiet {
			fmt.Fprintln(a.stderr, "ajar: nothing to scan: every target is excluded (see --exclude and --no-default-excludes); nothing was sent")
		}
		return nil
	}
	if err != nil {
		return err
	}
	if f.dryRun {
		return a.dryRun(ctx, w)
	}
	if _, err := discover.RaiseFileLimit(); err != nil && !a.quiet {
		fmt.Fprintln(a.stderr, "ajar: warning:", err)
	}

	var mu sync.Mutex
	var open []ajar.Target
	now := func() time.Time { return time.Now().UTC() }
	found := func(fd discover.Found) {
		w.found(fd.Target)
		mu.Lock()
		defer mu.Unlock()
		if f.json {
			t := now()
			ev := &ajar.Event{Schema: ajar.Schema, Time: t, Target: fd.Target,
				Service: ajar.Service{Transport: "tcp"}, Status: ajar.StatusOpen, FirstSeen: t, LastSeen: t}
			_ = jsonLine(a.stdout, ev)
			return
		}
		open = append(open, fd.Target)
	}
	stopSaving := w.saveEvery(2*time.Second, func(err error) { fmt.Fprintln(a.stderr, "ajar: warning:", err) })
	start := time.Now()
	stats, runErr := a.discoverRun(ctx, f, dopt, w, found)
	stopSaving()
	interrupted := ctx.Err() != nil
	if serr := w.save(runErr == nil && !interrupted); serr != nil && runErr == nil {
		runErr = serr
	}
	if !a.quiet {
		pp := &progressPrinter{w: a.stderr, terminal: a.isTerminal}
		pp.print(scan.Progress{Total: int64(w.total), Done: stats.done, Open: stats.open, Elapsed: time.Since(start), Final: true})
	}
	if !f.json {
		slices.SortFunc(open, func(x, y ajar.Target) int { return cmp.Or(x.Addr.Compare(y.Addr), cmp.Compare(x.Port, y.Port)) })
		t := newTable(a.stdout, "TARGET", "STATUS")
		for _, o := range open {
			t.row(o.String(), "open")
		}
		if len(open) > 0 {
			_ = t.flush()
		}
	}
	if runErr != nil && (ctx.Err() == nil || !errors.Is(runErr, ctx.Err())) {
		return fmt.Errorf("discover: %w", runErr)
	}
	if interrupted {
		return exitCodeError{code: exitInterrupted}
	}
	return nil
}

type discoverStats struct{ done, open int64 }

// discoverRun runs the connect scanner with a progress line.
func (a *app) discoverRun(ctx context.Context, f *discoverFlags, dopt discover.Options, w *walk, found func(discover.Found)) (discoverStats, error) {
	if f.syn {
		if st, ok, err := a.synRun(ctx, f, w, found); ok {
			return st, err
		}
	}
	sc, err := discover.New(dopt)
	if err != nil {
		return discoverStats{}, usageError{err}
	}
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if !a.quiet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pp := &progressPrinter{w: a.stderr, terminal: a.isTerminal, every: 5 * time.Second}
			tk := time.NewTicker(250 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-tk.C:
					pp.print(scan.Progress{Total: int64(w.total), Done: sc.Stats.Done.Load(), Open: sc.Stats.Open.Load(), Elapsed: time.Since(start)})
				case <-stop:
					return
				}
			}
		}()
	}
	err = sc.Run(ctx, w.targets(), found, w.doneFunc())
	close(stop)
	wg.Wait()
	return discoverStats{done: sc.Stats.Done.Load(), open: sc.Stats.Open.Load()}, err
}

// dryRun enumerates the walk without sending anything.
func (a *app) dryRun(ctx context.Context, w *walk) error {
	start := time.Now()
	var n uint64
	for range w.space.Walk(w.opt) {
		n++
		if n&(1<<20-1) == 0 && ctx.Err() != nil {
			return exitCodeError{code: exitInterrupted}
		}
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(a.stdout, "%d\n", n)
	if !a.quiet {
		fmt.Fprintf(a.stderr, "%d targets (%d addresses × %d ports) enumerated in %.3fs, %.1f M targets/s; nothing sent\n",
			n, w.space.Addresses(), len(w.space.Ports()), secs, float64(n)/secs/1e6)
	}
	return nil
}
