// Package scan is the pipeline: it walks the targets, discovers open ports,
// identifies and probes what answers, grades it and records every
// observation. Both the CLI and a cluster worker run scans through it.
package scan

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/enrich"
	"github.com/ajar-scan/ajar/enrich/ransom"
	"github.com/ajar-scan/ajar/identify"
	"github.com/ajar-scan/ajar/probe"
)

// Config is one scan.
type Config struct {
	// ID names the scan in the store and the output.
	ID string
	// Args is the command line, kept with the scan for people.
	Args string
	// Targets is the walk over the target space; positions feed Done.
	Targets iter.Seq2[uint64, ajar.Target]
	// Total is the number of targets, for progress.
	Total uint64
	// Covers reports whether a target is inside this scan's space: only
	// exposures it covers can be found closed by it.
	Covers func(ajar.Target) bool

	Discover discover.Options
	Identify identify.Options
	Probe    probe.Options
	// Workers is how many open ports are identified and probed at once.
	Workers int
	// TargetTimeout bounds identification and probing of one open port.
	TargetTimeout time.Duration
	// ReadCap bounds the bytes a probe reads on one connection.
	ReadCap int64

	Store ajar.Store
	// Emit receives every event once stored, one call at a time.
	Emit func(*ajar.Event)
	// Progress, when set, is called a few times a second and once at the end.
	Progress func(Progress)
	// Done, when set, is called with the walk position of every target
	// finished: a closed port once discovery gave up on it, an open port once
	// it was probed and recorded (resume bookkeeping).
	Done func(pos uint64)
	// KnownOpen are open ports an earlier, interrupted run of this scan
	// found; with them a resumed scan can still tell which exposures closed.
	KnownOpen []ajar.Target
	// OnOpen, when set, is called with every open port found.
	OnOpen func(ajar.Target)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Attribute, when set, says who hosts the service of each event before
	// it is stored (attribution.Enricher.Attribute).
	Attribute func(context.Context, *ajar.Event)
}

// Progress is a snapshot of a running scan.
type Progress struct {
	Total, Done, Open       int64
	Exposed, Protected      int64
	Closed                  int64
	Elapsed                 time.Duration
	Final                   bool
	Attempts, LocalBackoffs int64
}

// Summary is what a finished scan did.
type Summary struct {
	Progress
	// Interrupted is true when the context ended before the walk did; no
	// exposure is then marked closed, since the scan did not cover its space.
	Interrupted bool
}

// Run runs the scan. The error is a failure of the store or of the setup;
// an interrupted scan returns ctx's error with what it found stored.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.TargetTimeout <= 0 {
		cfg.TargetTimeout = 60 * time.Second
	}
	if cfg.Emit == nil {
		cfg.Emit = func(*ajar.Event) {}
	}
	// Results already in hand are stored even when the scan is interrupted.
	storeCtx := context.WithoutCancel(ctx)
	start := cfg.Now()
	if err := cfg.Store.BeginScan(storeCtx, ajar.ScanInfo{ID: cfg.ID, Started: start.UTC(), Args: cfg.Args}); err != nil {
		return Summary{}, fmt.Errorf("register scan: %w", err)
	}
	sc, err := discover.New(cfg.Discover)
	if err != nil {
		return Summary{}, err
	}
	r := &run{cfg: cfg, storeCtx: storeCtx, sc: sc, start: start,
		seen: map[ajar.Key]bool{}, openPorts: map[ajar.Target]bool{}, openPos: map[uint64]bool{}}
	for _, t := range cfg.KnownOpen {
		r.openPorts[ajar.Target{Addr: t.Addr, Port: t.Port}] = true
	}

	stopProgress := r.reportProgress()
	found := make(chan discover.Found, 1024)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range found {
				r.handle(ctx, f.Target)
				if cfg.Done != nil && ctx.Err() == nil {
					cfg.Done(f.Pos)
				}
			}
		}()
	}
	walkErr := sc.Run(ctx, cfg.Targets, func(f discover.Found) {
		r.markOpen(f)
		found <- f
	}, r.closedDone)
	close(found)
	wg.Wait()

	sum := Summary{Interrupted: walkErr != nil}
	if !sum.Interrupted {
		if err := r.closeMissing(); err != nil {
			r.fail(err)
		}
	}
	if err := cfg.Store.FinishScan(storeCtx, cfg.ID, cfg.Now().UTC()); err != nil {
		r.fail(fmt.Errorf("finish scan: %w", err))
	}
	stopProgress()
	sum.Progress = r.snapshot(true)
	if err := r.err(); err != nil {
		return sum, err
	}
	return sum, walkErr
}

type run struct {
	cfg      Config
	storeCtx context.Context
	sc       *discover.Scanner
	start    time.Time

	mu        sync.Mutex
	seen      map[ajar.Key]bool
	openPorts map[ajar.Target]bool
	openPos   map[uint64]bool
	firstErr  error

	emitMu                     sync.Mutex
	exposed, protected, closed atomic.Int64
}

func (r *run) markOpen(f discover.Found) {
	r.mu.Lock()
	r.openPorts[ajar.Target{Addr: f.Target.Addr, Port: f.Target.Port}] = true
	r.openPos[f.Pos] = true
	r.mu.Unlock()
	if r.cfg.OnOpen != nil {
		r.cfg.OnOpen(f.Target)
	}
}

// closedDone passes on discovery's "done" for ports that were not open; an
// open port is done only once it has been probed and recorded.
func (r *run) closedDone(pos uint64) {
	if r.cfg.Done == nil {
		return
	}
	r.mu.Lock()
	open := r.openPos[pos]
	delete(r.openPos, pos)
	r.mu.Unlock()
	if !open {
		r.cfg.Done(pos)
	}
}

func (r *run) fail(err error) {
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
}

func (r *run) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErr
}

// handle identifies and probes one open port and records what it saw.
func (r *run) handle(ctx context.Context, t ajar.Target) {
	tctx, cancel := context.WithTimeout(ctx, r.cfg.TargetTimeout)
	defer cancel()
	d := &probe.TargetDialer{Target: t, Timeout: r.cfg.Discover.Timeout, ReadCap: r.cfg.ReadCap}
	idOpt := r.cfg.Identify
	if idOpt.MaxBanner == 0 {
		idOpt = identify.DefaultOptions()
	}
	svc, err := identify.Identify(tctx, t, d.Dial, idOpt)
	if ctx.Err() != nil {
		return // interrupted: record nothing half-seen
	}
	base := ajar.Event{Schema: ajar.Schema, Scan: r.cfg.ID, Target: t, Service: svc}
	if err != nil {
		base.Detail = "identify: " + err.Error()
	}
	if svc.Transport == "tls" {
		// The protocol runs inside TLS: every probe connection does too.
		d.TLS = probe.InsecureTLS(t.Host)
	}
	probers := probersFor(svc)
	if len(probers) == 0 {
		ev := base
		ev.Status = ajar.StatusOpen
		r.record(&ev)
		return
	}
	// Several probes may run on one port (an HTTP API and the generic HTTP
	// leaks). Each verdict is recorded; a probe without one ("not my
	// protocol", or it could not decide) is recorded only when no probe
	// reached a verdict, and then once, preferring the probe of the
	// identified protocol.
	var fallback *ajar.Event
	fallbackSpecific := false
	verdicts := 0
	for _, p := range probers {
		pt := &probe.Target{Target: t, Service: svc, Dialer: d, Options: r.cfg.Probe}
		res, perr := safeProbe(tctx, p, pt)
		if ctx.Err() != nil {
			return
		}
		ev := base
		ev.Plugin = p.Name()
		ev.Status = ajar.StatusOpen
		if res != nil {
			if res.Status.Valid() {
				ev.Status = res.Status
			}
			if res.Product != "" {
				ev.Product = res.Product
			}
			if res.Version != "" {
				ev.Version = res.Version
			}
			ev.Detail = res.Detail
			if ev.Status == ajar.StatusExposed {
				ev.Exposure = res.Exposure
				if ev.Exposure == nil {
					ev.Exposure = &ajar.Exposure{Plugin: p.Name(), Access: ajar.AccessRead}
				}
				enrich.Apply(ev.Exposure)
			}
		}
		if perr != nil && ev.Detail == "" {
			ev.Detail = perr.Error()
		}
		if ev.Status == ajar.StatusOpen {
			specific := slices.Contains(p.Protocols(), svc.Protocol)
			if fallback == nil || specific && !fallbackSpecific {
				e := ev
				fallback, fallbackSpecific = &e, specific
			}
			continue
		}
		verdicts++
		r.record(&ev)
	}
	if verdicts == 0 && fallback != nil {
		r.record(fallback)
	}
}

// probersFor picks the probes for a service: those of its protocol, and the
// generic HTTP ones on any HTTP service (leaks beside an API are separate
// exposures of the same port).
func probersFor(svc ajar.Service) []probe.Prober {
	if svc.Protocol == "" {
		return nil
	}
	ps := probe.ForProtocol(svc.Protocol)
	if svc.HTTP != nil && svc.Protocol != "http" {
		for _, p := range probe.ForProtocol("http") {
			if !slices.ContainsFunc(ps, func(q probe.Prober) bool { return q.Name() == p.Name() }) {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// safeProbe runs a prober, turning a panic into an error: one broken plugin
// or one hostile server must not end the scan.
func safeProbe(ctx context.Context, p probe.Prober, t *probe.Target) (res *probe.Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			res, err = nil, fmt.Errorf("probe %s %s: panic: %v\n%s", p.Name(), t.Target, v, debug.Stack())
		}
	}()
	res, err = p.Probe(ctx, t)
	if err != nil {
		err = fmt.Errorf("probe %s %s: %w", p.Name(), t.Target, err)
	}
	return res, err
}

// record turns an observation into the event that goes on the timeline,
// stores it and emits it.
func (r *run) record(ev *ajar.Event) {
	ev.Schema = ajar.Schema
	ev.Time = r.cfg.Now().UTC()
	r.mu.Lock()
	r.seen[ev.Key()] = true
	r.mu.Unlock()
	prev, err := r.cfg.Store.Get(r.storeCtx, ev.Key())
	if err != nil && !errors.Is(err, ajar.ErrNotFound) {
		r.fail(fmt.Errorf("read %s: %w", ev.Key(), err))
		return
	}
	if err == nil && wasOpen(prev.Status()) && ev.Status == ajar.StatusProtected {
		// It asked for no password before and asks for one now.
		ev.Detail = "now requires authentication: " + ev.Detail
		ev.Status = ajar.StatusClosed
	}
	// Wiped: it held data and now holds only a ransom note, or nothing.
	if err == nil && ev.Status == ajar.StatusExposed && ransom.Wiped(prev.Status(), prev.Last.Exposure, ev.Exposure) {
		ev.Status = ajar.StatusWiped
	}
	if r.cfg.Attribute != nil {
		r.cfg.Attribute(r.storeCtx, ev)
	}
	r.store(ev)
}

func (r *run) store(ev *ajar.Event) {
	if err := r.cfg.Store.Record(r.storeCtx, ev); err != nil {
		r.fail(fmt.Errorf("store %s: %w", ev.Key(), err))
		return
	}
	switch ev.Status {
	case ajar.StatusExposed:
		r.exposed.Add(1)
	case ajar.StatusProtected:
		r.protected.Add(1)
	case ajar.StatusClosed:
		r.closed.Add(1)
	}
	r.emitMu.Lock()
	r.cfg.Emit(ev)
	r.emitMu.Unlock()
}

func wasOpen(s ajar.Status) bool {
	return s == ajar.StatusExposed || s == ajar.StatusOpen || s == ajar.StatusWiped
}

// closeMissing records a closed event for every exposure inside the scanned
// space whose port this scan found closed.
func (r *run) closeMissing() error {
	if r.cfg.Covers == nil {
		return nil
	}
	recs, err := r.cfg.Store.List(r.storeCtx, ajar.Filter{Status: []ajar.Status{ajar.StatusExposed, ajar.StatusOpen, ajar.StatusWiped}})
	if err != nil {
		return fmt.Errorf("list open exposures: %w", err)
	}
	for _, rec := range recs {
		last := rec.Last
		t := ajar.Target{Addr: last.Addr, Port: last.Port}
		if !r.cfg.Covers(t) {
			continue
		}
		r.mu.Lock()
		stillOpen := r.openPorts[t]
		r.mu.Unlock()
		if stillOpen {
			// The port answers: its plugins gave their verdicts above, and
			// one that gave none is no evidence of a closure.
			continue
		}
		ev := ajar.Event{Schema: ajar.Schema, Scan: r.cfg.ID, Time: r.cfg.Now().UTC(),
			Target: last.Target, Service: last.Service, Plugin: last.Plugin,
			Status: ajar.StatusClosed, Detail: "port no longer open"}
		r.store(&ev)
	}
	return nil
}

func (r *run) snapshot(final bool) Progress {
	return Progress{
		Total: int64(r.cfg.Total), Done: r.sc.Stats.Done.Load(), Open: r.sc.Stats.Open.Load(),
		Exposed: r.exposed.Load(), Protected: r.protected.Load(), Closed: r.closed.Load(),
		Elapsed: r.cfg.Now().Sub(r.start), Final: final,
		Attempts: r.sc.Stats.Attempts.Load(), LocalBackoffs: r.sc.Stats.Backoffs.Load(),
	}
}

func (r *run) reportProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				r.cfg.Progress(r.snapshot(false))
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		r.cfg.Progress(r.snapshot(true))
	}
}
