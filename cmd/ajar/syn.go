package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/discover/syn"
	"github.com/ajar-scan/ajar/scan"
)

// synRun runs a raw SYN scan; ok is false when raw sockets are not
// available (or the targets need connect mode) and the caller should fall
// back to connect mode.
func (a *app) synRun(ctx context.Context, f *discoverFlags, w *walk, found func(discover.Found)) (discoverStats, bool, error) {
	if err := syn.Available(); err != nil {
		fmt.Fprintf(a.stderr, "ajar: --syn: %v; falling back to connect mode\n", err)
		return discoverStats{}, false, nil
	}
	// A SYN scan covers IPv4, all loopback or none: decide before sending,
	// so that no port is reported twice by a scan that falls back midway.
	loop, other := false, false
	for r := range w.space.Ranges() {
		if !r.First.Is4() {
			fmt.Fprintf(a.stderr, "ajar: --syn: %v; scanning in connect mode\n", syn.ErrNotIPv4)
			return discoverStats{}, false, nil
		}
		if r.First.IsLoopback() && r.Last.IsLoopback() {
			loop = true
		} else {
			other = true
		}
	}
	if loop && other {
		fmt.Fprintf(a.stderr, "ajar: --syn: %v; scanning in connect mode\n", syn.ErrMixed)
		return discoverStats{}, false, nil
	}
	var c syn.Counters
	opt := syn.Options{Rate: f.rate, Retries: f.retries, Wait: f.timeout, Counters: &c}
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
					s := c.Snapshot()
					pp.print(scan.Progress{Total: int64(w.total), Done: s.Open + s.Closed + s.Dropped, Open: s.Open, Elapsed: time.Since(start)})
				case <-stop:
					return
				}
			}
		}()
	}
	st, err := syn.Run(ctx, w.targets(), opt, found, w.doneFunc())
	close(stop)
	wg.Wait()
	if errors.Is(err, syn.ErrNotIPv4) || errors.Is(err, syn.ErrMixed) {
		fmt.Fprintf(a.stderr, "ajar: --syn: %v; falling back to connect mode\n", err)
		return discoverStats{}, false, nil
	}
	return discoverStats{done: st.Open + st.Closed + st.Dropped, open: st.Open}, true, err
}
