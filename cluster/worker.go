package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/identify"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/scan"
	"github.com/ajar-scan/ajar/targets"
)

// Worker pulls shards and scans them, one at a time, until its context ends.
type Worker struct {
	JS    jetstream.JetStream
	Store Store
	// Name identifies the worker in the live-worker bucket and the shard
	// records; empty means host-pid.
	Name string
	// Concurrency is the most connection attempts in flight; 0 takes
	// discover's default.
	Concurrency int
	// Workers is how many open ports are identified and probed at once;
	// 0 means 32.
	Workers int
	// Rate caps this worker's connection attempts per second, whatever the
	// scan allows; 0 means no cap of its own.
	Rate float64
	// Drain is how long the shard in hand may run on once the context
	// ends; after that it is interrupted and handed back. 0 hands it back
	// at once.
	Drain time.Duration
	// Patience is how long a store or NATS call is retried through an
	// outage before the shard is handed back; 0 means 5 minutes.
	Patience time.Duration
	// Transient says which store errors are worth retrying (for
	// PostgreSQL, postgres.IsTransient); nil retries all.
	Transient func(error) bool
	// Metrics, when set, are updated as the worker goes.
	Metrics *Metrics
	Logger  *slog.Logger
	// OnEvent, when set, is called with every stored observation.
	OnEvent func(scan string, shard int, ev *ajar.Event)

	kv      struct{ scans, shards, workers jetstream.KeyValue }
	members *membership
	ackWait time.Duration

	mu     sync.Mutex
	spaces map[string]*targets.Space // by scan id
	pacer  *pacer                    // of the shard in hand
	rates  struct{ scan, cap float64 }
}

// Run pulls and scans shards until ctx ends; then it finishes or hands back
// the shard in hand (see Drain), leaves the live-worker bucket and returns
// nil. It returns an error only when it cannot start.
func (w *Worker) Run(ctx context.Context) error {
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	if w.Metrics == nil {
		w.Metrics = NewMetrics()
	}
	if w.Name == "" {
		host, _ := os.Hostname()
		w.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if w.Patience <= 0 {
		w.Patience = 5 * time.Minute
	}
	w.spaces = map[string]*targets.Space{}
	if err := Setup(ctx, w.JS, 0); err != nil {
		return err
	}
	for _, b := range []struct {
		dst  *jetstream.KeyValue
		name string
	}{{&w.kv.scans, ScansBucket}, {&w.kv.shards, ShardsBucket}, {&w.kv.workers, WorkersBucket}} {
		kv, err := w.JS.KeyValue(ctx, b.name)
		if err != nil {
			return fmt.Errorf("open bucket %s: %w", b.name, err)
		}
		*b.dst = kv
	}
	cons, err := w.JS.Consumer(ctx, StreamName, ConsumerName)
	if err != nil {
		return fmt.Errorf("open consumer %s: %w", ConsumerName, err)
	}
	w.ackWait = cons.CachedInfo().Config.AckWait

	w.members = newMembership(w.kv.workers, w.Name, w.Rate, w.Logger, func(n int) {
		w.Metrics.workers.Set(float64(n))
		w.adjustRate()
	})
	if err := w.members.refresh(ctx); err != nil {
		return fmt.Errorf("join the live workers: %w", err)
	}
	w.Metrics.workers.Set(float64(w.members.live()))
	mctx, stopMembers := context.WithCancel(context.WithoutCancel(ctx))
	var mwg sync.WaitGroup
	mwg.Add(1)
	go func() { defer mwg.Done(); w.members.run(mctx) }()
	defer func() { stopMembers(); mwg.Wait() }()

	w.Logger.Info("worker started", "name", w.Name, "ack_wait", w.ackWait)
	// Let every other worker count this one before it takes a share.
	select {
	case <-time.After(joinDelay):
	case <-ctx.Done():
		return nil
	}
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		w.Metrics.addPorts(0, 0)
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			w.Logger.Warn("pull a shard", "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		w.handle(ctx, msg)
	}
	w.Logger.Info("worker stopped", "name", w.Name)
	return nil
}

// handle scans one shard message and acknowledges, hands back or drops it.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	var m shardMsg
	if err := json.Unmarshal(msg.Data(), &m); err != nil || checkScanID(m.Scan) != nil || m.Shard < 1 || m.Shard > m.Shards {
		w.Logger.Error("drop a malformed shard message", "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("malformed")
		w.Metrics.shards.WithLabelValues("dropped").Inc()
		return
	}
	log := w.Logger.With("scan", m.Scan, "shard", m.Shard, "shards", m.Shards)
	if meta, err := msg.Metadata(); err == nil && meta.NumDelivered > 1 {
		log = log.With("delivery", meta.NumDelivered)
	}
	sc, err := w.scanDoc(ctx, m.Scan)
	switch {
	case errors.Is(err, ErrNoScan):
		log.Warn("drop a shard of an unknown scan")
		_ = msg.TermWithReason("unknown scan")
		w.Metrics.shards.WithLabelValues("dropped").Inc()
		return
	case err != nil:
		log.Warn("read the scan; handing the shard back", "err", err)
		_ = msg.NakWithDelay(time.Second)
		w.Metrics.shards.WithLabelValues("handed_back").Inc()
		return
	case sc.State == StateCancelled || sc.State == StateFinished:
		log.Info("drop a shard of a scan no longer running", "state", sc.State)
		_ = msg.TermWithReason(string(sc.State))
		w.Metrics.shards.WithLabelValues("dropped").Inc()
		return
	}
	if _, err := w.kv.shards.Get(ctx, shardKey(m.Scan, m.Shard)); err == nil {
		// Stored by an earlier delivery whose acknowledgement was lost.
		log.Info("shard already done")
		w.ack(ctx, msg, log)
		w.Metrics.shards.WithLabelValues("already_done").Inc()
		return
	}

	w.Metrics.inFlight.Inc()
	defer w.Metrics.inFlight.Dec()
	log.Info("shard started")
	outcome, res, err := w.runShard(ctx, msg, sc, m.Shard, log)
	switch outcome {
	case shardDone:
		w.finish(ctx, msg, m, res, log)
	case shardCancelled:
		log.Info("scan cancelled; shard dropped")
		_ = msg.TermWithReason("cancelled")
		w.Metrics.shards.WithLabelValues("dropped").Inc()
	case shardInterrupted:
		log.Info("worker stopping; shard handed back", "targets", res.Targets)
		_ = msg.Nak()
		w.Metrics.shards.WithLabelValues("handed_back").Inc()
	case shardFailed:
		log.Error("shard failed; handed back", "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		w.Metrics.shards.WithLabelValues("failed").Inc()
	}
}

// finish records the shard as done, then acknowledges it: once the record
// is written, a delivery of the same shard is acknowledged without a scan.
func (w *Worker) finish(ctx context.Context, msg jetstream.Msg, m shardMsg, res ShardResult, log *slog.Logger) {
	js, _ := json.Marshal(res)
	// NATS errors are all worth retrying: the server may be restarting.
	r := &retrier{patience: w.Patience, stop: context.WithoutCancel(ctx), observe: w.Metrics.observeStore, log: w.Logger}
	err := r.do("ledger", func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, err := w.kv.shards.Create(cctx, shardKey(m.Scan, m.Shard), js)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil // another delivery finished it first
		}
		return err
	})
	if err != nil {
		// The events are stored; the shard will be delivered again and
		// its observations found stored already.
		log.Error("record the shard as done; handing it back", "err", err)
		_ = msg.NakWithDelay(time.Second)
		w.Metrics.shards.WithLabelValues("failed").Inc()
		return
	}
	w.ack(ctx, msg, log)
	w.Metrics.shards.WithLabelValues("done").Inc()
	log.Info("shard done", "targets", res.Targets, "open", res.Open, "exposed", res.Exposed, "elapsed", res.Elapsed.Round(time.Millisecond))
}

// ack acknowledges msg and waits for the server to confirm. A lost ack is
// harmless: the shard is delivered again and found done.
func (w *Worker) ack(ctx context.Context, msg jetstream.Msg, log *slog.Logger) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		log.Warn("acknowledge the shard (it will come back and be found done)", "err", err)
	}
}

type shardOutcome int

const (
	shardDone shardOutcome = iota
	shardCancelled
	shardInterrupted
	shardFailed
)

// runShard scans one shard, sending heartbeats to JetStream, and watches
// for the scan being cancelled and the worker stopping.
func (w *Worker) runShard(ctx context.Context, msg jetstream.Msg, sc *Scan, shard int, log *slog.Logger) (shardOutcome, ShardResult, error) {
	space, err := w.space(ctx, sc)
	if err != nil {
		return shardFailed, ShardResult{}, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var (
		hmu                    sync.Mutex
		cancelled, interrupted bool
	)
	hbDone := make(chan struct{})
	var hwg sync.WaitGroup
	hwg.Add(1)
	go func() {
		defer hwg.Done()
		every := max(w.ackWait/3, 100*time.Millisecond)
		tick := time.NewTicker(every)
		defer tick.Stop()
		stopping := ctx.Done()
		var drain <-chan time.Time
		for {
			select {
			case <-hbDone:
				return
			case <-stopping:
				stopping = nil
				drain = time.After(w.Drain)
			case <-drain:
				hmu.Lock()
				interrupted = true
				hmu.Unlock()
				cancel()
			case <-tick.C:
				if err := msg.InProgress(); err != nil {
					log.Warn("heartbeat", "err", err)
				}
				if doc, err := w.scanDoc(sctx, sc.ID); err == nil && doc.State == StateCancelled {
					hmu.Lock()
					cancelled = true
					hmu.Unlock()
					cancel()
				}
			}
		}
	}()

	store := newShardStore(w.Store, sc.ID, shard, w.retrier(sctx))
	spec := sc.Spec
	base := share(spec.Rate, w.Rate, 1)
	pc := newPacer(1)
	w.mu.Lock()
	w.pacer, w.rates.scan, w.rates.cap = pc, spec.Rate, w.Rate
	w.mu.Unlock()
	w.adjustRate()
	defer func() {
		w.mu.Lock()
		w.pacer = nil
		w.mu.Unlock()
		w.Metrics.rate.Set(0)
	}()

	idopt := identify.DefaultOptions()
	if spec.Timeout > 0 {
		idopt.StepTimeout = spec.Timeout
	}
	popt := probe.DefaultOptions()
	popt.DefaultCreds, popt.Samples, popt.CountCap = spec.DefaultCreds, spec.Samples, spec.CountCap
	walk := spec.Walk(shard)
	var lastDone, lastAttempts int64
	start := time.Now()
	sum, err := scan.Run(sctx, scan.Config{
		ID:      sc.ID,
		Args:    sc.Args,
		Targets: space.Walk(walk),
		Total:   space.Positions(walk),
		// No closing pass per shard: the coordinator runs it once, when
		// every shard is stored.
		Covers: nil,
		Discover: discover.Options{Rate: base, Concurrency: w.Concurrency, PerHost: spec.PerHost,
			Timeout: spec.Timeout, Retries: spec.Retries, Clock: pc},
		Identify:      idopt,
		Probe:         popt,
		Workers:       w.Workers,
		TargetTimeout: spec.ProbeTimeout,
		Store:         store,
		Emit: func(ev *ajar.Event) {
			w.Metrics.event(ev)
			if w.OnEvent != nil {
				w.OnEvent(sc.ID, shard, ev)
			}
		},
		Progress: func(p scan.Progress) {
			w.Metrics.addPorts(p.Done-lastDone, p.Attempts-lastAttempts)
			lastDone, lastAttempts = p.Done, p.Attempts
		},
	})
	close(hbDone)
	hwg.Wait()

	res := ShardResult{Worker: w.Name, Done: time.Now().UTC(), Elapsed: time.Since(start),
		Targets: sum.Done, Attempts: sum.Attempts, Open: sum.Open,
		Exposed: sum.Exposed, Protected: sum.Protected, Closed: sum.Closed}
	if d := store.duplicates(); d > 0 {
		log.Info("observations stored already by an earlier delivery", "count", d)
	}
	hmu.Lock()
	defer hmu.Unlock()
	switch {
	case cancelled:
		return shardCancelled, res, nil
	case interrupted:
		return shardInterrupted, res, nil
	case err != nil:
		return shardFailed, res, err
	case sum.Interrupted:
		return shardInterrupted, res, nil
	}
	return shardDone, res, nil
}

// adjustRate gives the shard in hand its share of the scan's rate.
func (w *Worker) adjustRate() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pacer == nil {
		return
	}
	base := share(w.rates.scan, w.rates.cap, 1)
	now := share(w.rates.scan, w.rates.cap, w.members.live())
	if base > 0 {
		w.pacer.setSpeed(now / base)
	}
	w.Metrics.rate.Set(now)
}

// scanDoc reads a scan's document.
func (w *Worker) scanDoc(ctx context.Context, id string) (*Scan, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return getScan(ctx, w.kv.scans, id)
}

// space returns the target space of a scan, built once per scan.
func (w *Worker) space(ctx context.Context, sc *Scan) (*targets.Space, error) {
	w.mu.Lock()
	sp := w.spaces[sc.ID]
	w.mu.Unlock()
	if sp != nil {
		return sp, nil
	}
	sp, err := sc.Spec.Space(ctx)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	if len(w.spaces) > 16 {
		clear(w.spaces) // scans come and go; keep the map small
	}
	w.spaces[sc.ID] = sp
	w.mu.Unlock()
	return sp, nil
}

func (w *Worker) retrier(stop context.Context) *retrier {
	return &retrier{transient: w.Transient, patience: w.Patience, stop: stop, observe: w.Metrics.observeStore, log: w.Logger}
}
