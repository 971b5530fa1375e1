package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/scan"
	"github.com/ajar-scan/ajar/targets"
)

type watchFlags struct {
	scanFlags
	alertFlags
	every, recheck time.Duration
	rounds         int
}

func (a *app) watchCommand() *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch TARGET... --every DURATION",
		Short: "Scan again and again, re-check known exposures, and send alerts as things change",
		Long: `watch scans the targets every --every, and between scans re-checks every known
open exposure in the store (wherever it was found) that was not seen for
--recheck, so that closures are noticed without a full scan. It prints each
change as it happens — a new exposure, one that closed or was wiped — and
delivers the alerts of "ajar alerts" (webhooks, e-mail) while it runs.`,
		Example: `  ajar watch 127.0.10.0/24 --every 1h --recheck 6h
  ajar watch -i mine.txt --every 15m --smtp 127.0.0.1:25 --json`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.runWatch(cmd.Context(), cmd, &f, args) },
	}
	f.registerScan(cmd)
	f.alertFlags.register(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&f.every, "every", time.Hour, "time between full scans of the targets")
	fl.DurationVar(&f.recheck, "recheck", 6*time.Hour, "re-check a known open exposure when it was not seen for this long")
	fl.IntVar(&f.rounds, "rounds", 0, "stop after this many full scans (0: run until interrupted)")
	return cmd
}

func (a *app) runWatch(ctx context.Context, cmd *cobra.Command, f *watchFlags, args []string) error {
	dopt, err := f.discoverOptions(cmd)
	if err != nil {
		return err
	}
	if f.every <= 0 || f.recheck <= 0 || f.rounds < 0 {
		return usagef("--every and --recheck must be positive, --rounds not negative")
	}
	w, err := f.prepareWalk(ctx, a, args, "", "")
	if errors.Is(err, targets.ErrEmpty) {
		fmt.Fprintln(a.stderr, "ajar: nothing to watch: every target is excluded; nothing was sent")
		return nil
	}
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	actx, stopAlerts := context.WithCancel(ctx)
	var alerts sync.WaitGroup
	alerts.Add(1)
	go func() { defer alerts.Done(); a.runAlerts(actx, st, &f.alertFlags, time.Second) }()
	defer func() { stopAlerts(); alerts.Wait() }()

	emit := func(ev *ajar.Event) {
		if f.json {
			_ = jsonLine(a.stdout, ev)
			return
		}
		if change := changeWord(ev); change != "" {
			fmt.Fprintf(a.stdout, "%s  %-8s %s %s %s\n", formatTime(ev.Time), change, ev.Target, dash(ev.Plugin), summary(ev))
		}
	}
	run := func(id string, seq iter.Seq2[uint64, ajar.Target], total uint64, covers func(ajar.Target) bool) error {
		cfg := f.baseConfig(dopt, st)
		cfg.ID, cfg.Targets, cfg.Total, cfg.Covers, cfg.Emit = id, seq, total, covers, emit
		sum, err := scan.Run(ctx, cfg)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("scan: %w", err)
		}
		if !a.quiet && ctx.Err() == nil {
			fmt.Fprintf(a.stderr, "ajar: %s: %d targets, %d open, %d exposed, %d closed in %s\n",
				id, sum.Done, sum.Open, sum.Exposed, sum.Closed, sum.Elapsed.Round(time.Millisecond))
		}
		return nil
	}
	tick := min(f.every, f.recheck) / 4
	tick = max(tick, 500*time.Millisecond)
	var nextFull time.Time
	for round := 0; ctx.Err() == nil; {
		now := time.Now()
		if !now.Before(nextFull) {
			if f.rounds > 0 && round == f.rounds {
				break
			}
			round++
			nextFull = now.Add(f.every)
			opt := w.opt
			opt.Seed = uint64(now.UnixNano()) | 1
			if err := run(newScanID(), w.space.Walk(opt), w.total, w.space.Contains); err != nil {
				return err
			}
		} else if err := a.recheck(ctx, st, f, run); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(tick, time.Until(nextFull))):
		}
	}
	return nil
}

// recheck scans the known open exposures not seen for --recheck.
func (a *app) recheck(ctx context.Context, st ajar.Store, f *watchFlags,
	run func(string, iter.Seq2[uint64, ajar.Target], uint64, func(ajar.Target) bool) error) error {
	recs, err := st.List(ctx, ajar.Filter{Status: []ajar.Status{ajar.StatusExposed, ajar.StatusOpen, ajar.StatusWiped}})
	if err != nil {
		return fmt.Errorf("list open exposures: %w", err)
	}
	stale := map[ajar.Target]bool{}
	var list []ajar.Target
	for _, r := range recs {
		t := ajar.Target{Addr: r.Last.Addr, Port: r.Last.Port}
		if time.Since(r.Last.LastSeen) >= f.recheck && !stale[t] {
			stale[t] = true
			list = append(list, t)
		}
	}
	if len(list) == 0 {
		return nil
	}
	seq := func(yield func(uint64, ajar.Target) bool) {
		for i, t := range list {
			if !yield(uint64(i), t) {
				return
			}
		}
	}
	return run("recheck-"+newScanID(), seq, uint64(len(list)), func(t ajar.Target) bool {
		return stale[ajar.Target{Addr: t.Addr, Port: t.Port}]
	})
}

// changeWord says what an event changes, for people: a new period, a
// closure, a wipe.
func changeWord(ev *ajar.Event) string {
	switch {
	case ev.Status == ajar.StatusClosed:
		return "closed"
	case ev.Status == ajar.StatusWiped:
		return "wiped"
	case ev.Status == ajar.StatusExposed && ev.FirstSeen.Equal(ev.Time):
		return "new"
	}
	return ""
}

func summary(ev *ajar.Event) string {
	switch {
	case ev.Exposure != nil:
		return fmt.Sprintf("%d records, %s, %s", ev.Exposure.Records, ajar.FormatBytes(ev.Exposure.Bytes), ev.Exposure.Severity)
	case ev.OpenFor != nil:
		return "after " + formatDuration(time.Duration(*ev.OpenFor)*time.Second)
	}
	return ev.Detail
}
