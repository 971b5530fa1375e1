package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/resume"
	"github.com/ajar-scan/ajar/targets"
)

// walk is a prepared walk over the target space, resumable when --resume
// names a state file.
type walk struct {
	space *targets.Space
	opt   targets.WalkOptions
	total uint64 // targets in this shard
	path  string // resume file, or ""
	state *resume.State
	mark  *resume.Watermark

	mu   sync.Mutex
	open []string
}

// fingerprint identifies what a resume file is valid for.
func (f *targetFlags) fingerprint(args []string) string {
	h := sha256.New()
	part := func(name string, vals ...string) {
		fmt.Fprintf(h, "%s=%s\n", name, strings.Join(vals, ","))
	}
	part("include", args...)
	part("input-list", f.inputList)
	part("exclude", f.exclude...)
	part("exclude-file", f.excludeFile)
	part("exclude-ports", f.excludePorts...)
	part("ports", f.ports)
	part("flags", fmt.Sprint(f.noDefaultExcludes, f.allowLarge), f.shard)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// prepareWalk builds the space and, with --resume, loads or starts the state.
func (f *targetFlags) prepareWalk(ctx context.Context, a *app, args []string, resumePath, scanID string) (*walk, error) {
	sp, opt, err := f.space(ctx, a, args)
	if err != nil {
		return nil, err
	}
	w := &walk{space: sp, opt: opt, path: resumePath, total: sp.Size()}
	if opt.Shards > 1 {
		w.total = (sp.Size() + uint64(opt.Shards) - 1) / uint64(opt.Shards)
	}
	if resumePath == "" {
		return w, nil
	}
	fp := f.fingerprint(args)
	st, err := resume.Load(resumePath)
	if err != nil {
		return nil, usageError{err}
	}
	switch {
	case st == nil:
		st = &resume.State{Fingerprint: fp, ScanID: scanID, Seed: opt.Seed}
	case st.Fingerprint != fp:
		return nil, usagef("--resume %s belongs to another scan (other targets, ports or shard); use a new file", resumePath)
	case f.seed != 0 && f.seed != st.Seed:
		return nil, usagef("--resume %s was written with --seed %d, not %d", resumePath, st.Seed, f.seed)
	case st.Finished:
		return nil, usagef("--resume %s: that scan already finished; remove the file to scan again", resumePath)
	}
	w.state = st
	w.opt.Seed, w.opt.Start = st.Seed, st.Next
	w.open = slices.Clone(st.Open)
	w.mark = resume.NewWatermark(st.Next)
	if err := resume.Save(resumePath, st); err != nil {
		return nil, usageError{err}
	}
	return w, nil
}

// targets is the walk, telling the watermark about every position handed out.
func (w *walk) targets() iter.Seq2[uint64, ajar.Target] {
	seq := w.space.Walk(w.opt)
	if w.mark == nil {
		return seq
	}
	return func(yield func(uint64, ajar.Target) bool) {
		for pos, t := range seq {
			w.mark.Issue(pos)
			if !yield(pos, t) {
				return
			}
		}
	}
}

// done records a finished position (nil without --resume).
func (w *walk) doneFunc() func(uint64) {
	if w.mark == nil {
		return nil
	}
	return w.mark.Done
}

// found records an open port for the state file.
func (w *walk) found(t ajar.Target) {
	if w.mark == nil {
		return
	}
	w.mu.Lock()
	w.open = append(w.open, t.AddrPort().String())
	w.mu.Unlock()
}

// knownOpen are the open ports an earlier run of this scan found.
func (w *walk) knownOpen() []ajar.Target {
	if w.state == nil {
		return nil
	}
	var out []ajar.Target
	for _, s := range w.state.Open {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, ajar.Target{Addr: ap.Addr(), Port: ap.Port()})
		}
	}
	return out
}

// save writes the state; finished marks the walk complete.
func (w *walk) save(finished bool) error {
	if w.mark == nil {
		return nil
	}
	w.mu.Lock()
	w.state.Open = slices.Compact(slices.Sorted(slices.Values(w.open)))
	w.mu.Unlock()
	w.state.Next = w.mark.Next()
	w.state.Finished = finished
	return resume.Save(w.path, w.state)
}

// saveEvery writes the state periodically until the returned stop is called.
func (w *walk) saveEvery(d time.Duration, onErr func(error)) (stop func()) {
	if w.mark == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := w.save(false); err != nil {
					onErr(err)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
