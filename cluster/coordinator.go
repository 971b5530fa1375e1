package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ajar-scan/ajar"
)

// Coordinator starts cluster scans, follows them to the end and runs their
// closing pass.
type Coordinator struct {
	JS    jetstream.JetStream
	Store Store
	// AckWait is how long a shard may go without a heartbeat before it is
	// delivered to another worker; 0 means DefaultAckWait.
	AckWait time.Duration
	Logger  *slog.Logger
	// Transient and Patience retry the closing pass's store calls through
	// an outage, as in Worker.
	Transient func(error) bool
	Patience  time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Coordinator) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Coordinator) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Start registers scan id with the store and the cluster and queues all
// its shards. args is the command line, kept for people.
func (c *Coordinator) Start(ctx context.Context, id, args string, spec Spec) (*Scan, error) {
	if err := checkScanID(id); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	sp, err := spec.Space(ctx)
	if err != nil {
		return nil, err
	}
	ackWait := c.AckWait
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	if err := Setup(ctx, c.JS, ackWait); err != nil {
		return nil, err
	}
	now := c.now()
	if err := c.Store.BeginScan(ctx, ajar.ScanInfo{ID: id, Started: now, Args: args}); err != nil {
		return nil, fmt.Errorf("start scan %s: %w", id, err)
	}
	sc := &Scan{ID: id, Args: args, State: StateRunning, Spec: spec, Targets: sp.Size(),
		Round: 1, Created: now, Updated: now}
	kv, err := c.JS.KeyValue(ctx, ScansBucket)
	if err != nil {
		return nil, fmt.Errorf("start scan %s: open bucket %s: %w", id, ScansBucket, err)
	}
	js, err := json.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("start scan %s: %w", id, err)
	}
	if _, err := kv.Create(ctx, id, js); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("start scan %s: a cluster scan with that id exists", id)
		}
		return nil, fmt.Errorf("start scan %s: %w", id, err)
	}
	if err := c.publish(ctx, sc, nil); err != nil {
		return nil, fmt.Errorf("start scan %s: %w", id, err)
	}
	c.log().Info("scan queued", "scan", id, "shards", spec.Shards, "targets", sc.Targets)
	return sc, nil
}

// publish queues the shards of sc that are not in done.
func (c *Coordinator) publish(ctx context.Context, sc *Scan, done map[int]bool) error {
	subject := SubjectPrefix + sc.ID
	var pending []jetstream.PubAckFuture
	wait := func() error {
		select {
		case <-c.JS.PublishAsyncComplete():
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, f := range pending {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("queue shard: %w", err)
			}
		}
		pending = pending[:0]
		return nil
	}
	for i := 1; i <= sc.Spec.Shards; i++ {
		if done[i] {
			continue
		}
		body, _ := json.Marshal(shardMsg{Scan: sc.ID, Shard: i, Shards: sc.Spec.Shards})
		f, err := c.JS.PublishAsync(subject, body, jetstream.WithMsgID(fmt.Sprintf("%s/%d/%d", sc.ID, sc.Round, i)))
		if err != nil {
			return fmt.Errorf("queue shard %d: %w", i, err)
		}
		pending = append(pending, f)
		if len(pending) == 1024 {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return wait()
}

// Follow waits until every shard of scan id is done, calling progress, when
// set, about once a second with the scan's document; then it runs the
// closing pass, finishes the scan in the store and returns the document.
// A cancelled scan returns with state cancelled and no error. When ctx
// ends first, the scan goes on in the workers; Resume follows it again.
func (c *Coordinator) Follow(ctx context.Context, id string, progress func(*Scan)) (*Scan, error) {
	scans, err := c.JS.KeyValue(ctx, ScansBucket)
	if err != nil {
		return nil, fmt.Errorf("follow scan %s: open bucket %s: %w", id, ScansBucket, err)
	}
	shards, err := c.JS.KeyValue(ctx, ShardsBucket)
	if err != nil {
		return nil, fmt.Errorf("follow scan %s: open bucket %s: %w", id, ShardsBucket, err)
	}
	sc, err := getScan(ctx, scans, id)
	if err != nil {
		return nil, fmt.Errorf("follow scan %s: %w", id, err)
	}
	for sc.State == StateRunning {
		if sc, err = c.watch(ctx, scans, shards, sc, progress); err != nil {
			if ctx.Err() != nil {
				return sc, ctx.Err()
			}
			// NATS went away; the scan's state is in NATS, so look again.
			c.log().Warn("follow the scan; retrying", "scan", id, "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return sc, ctx.Err()
			}
			if fresh, err := getScan(ctx, scans, id); err == nil {
				fresh.Progress = sc.Progress
				sc = fresh
			}
		}
	}
	if sc.State == StateClosing {
		if sc, err = c.close(ctx, scans, sc); err != nil {
			return sc, err
		}
	}
	if progress != nil {
		progress(sc)
	}
	return sc, nil
}

// watch counts the finished shards of sc until all are done (then it
// moves the scan to closing) or the scan is cancelled.
func (c *Coordinator) watch(ctx context.Context, scans, shards jetstream.KeyValue, sc *Scan, progress func(*Scan)) (*Scan, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watcher, err := shards.Watch(wctx, sc.ID+".*")
	if err != nil {
		return sc, fmt.Errorf("watch the shards: %w", err)
	}
	defer watcher.Stop()
	var (
		p    Progress
		seen = map[int]bool{}
		tick = time.NewTicker(time.Second)
	)
	defer tick.Stop()
	report := func() error {
		next, err := updateScan(ctx, scans, sc.ID, func(s *Scan) error {
			s.Progress = p
			if s.State == StateRunning && p.Shards >= s.Spec.Shards {
				s.State = StateClosing
			}
			s.Updated = c.now()
			return nil
		})
		if err != nil {
			return fmt.Errorf("record progress: %w", err)
		}
		sc = next
		if progress != nil && sc.State == StateRunning {
			progress(sc)
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return sc, ctx.Err()
		case e, ok := <-watcher.Updates():
			if !ok {
				return sc, errors.New("the watch of the shards ended")
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			n, err := strconv.Atoi(strings.TrimPrefix(e.Key(), sc.ID+"."))
			if err != nil || seen[n] {
				continue
			}
			var r ShardResult
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				continue
			}
			seen[n] = true
			p.Add(r)
			if p.Shards < sc.Spec.Shards {
				continue
			}
		case <-tick.C:
		}
		if err := report(); err != nil {
			return sc, err
		}
		if sc.State != StateRunning {
			return sc, nil
		}
	}
}

// close runs the closing pass of sc: every exposure inside the scanned
// space that the scan did not see on its port gets a closed event. The
// events have deterministic ids, so a closing pass cut short and run
// again records each closure once.
func (c *Coordinator) close(ctx context.Context, scans jetstream.KeyValue, sc *Scan) (*Scan, error) {
	sp, err := sc.Spec.Space(ctx)
	if err != nil {
		return sc, fmt.Errorf("close scan %s: %w", sc.ID, err)
	}
	patience := c.Patience
	if patience <= 0 {
		patience = 5 * time.Minute
	}
	r := &retrier{transient: c.Transient, patience: patience, stop: ctx, log: c.log()}
	var recs []ajar.Record
	err = r.do("unseen", func() error {
		var err error
		recs, err = c.Store.Unseen(ctx, sc.ID)
		return err
	})
	if err != nil {
		return sc, fmt.Errorf("close scan %s: %w", sc.ID, err)
	}
	var closed int64
	for _, rec := range recs {
		last := rec.Last
		if !sp.Contains(last.Target) {
			continue
		}
		ev := ajar.Event{Schema: ajar.Schema, Scan: sc.ID, Time: c.now(),
			Target: last.Target, Service: last.Service, Plugin: last.Plugin,
			Status: ajar.StatusClosed, Detail: "port no longer open"}
		id := EventID(sc.ID, 0, last.Key(), 0)
		if err := r.do("record", func() error {
			_, err := c.Store.RecordOnce(ctx, id, &ev)
			return err
		}); err != nil {
			return sc, fmt.Errorf("close scan %s: %w", sc.ID, err)
		}
		closed++
	}
	finished := c.now()
	if err := r.do("finish", func() error { return c.Store.FinishScan(ctx, sc.ID, finished) }); err != nil {
		return sc, fmt.Errorf("close scan %s: %w", sc.ID, err)
	}
	sc, err = updateScan(ctx, scans, sc.ID, func(s *Scan) error {
		s.State = StateFinished
		s.Finished = &finished
		s.Updated = finished
		s.Progress.Closed += closed
		return nil
	})
	if err != nil {
		return sc, fmt.Errorf("close scan %s: %w", sc.ID, err)
	}
	c.log().Info("scan finished", "scan", sc.ID, "closed", closed)
	return sc, nil
}

// Resume queues again the shards of scan id that are not done, after a
// cancel or a coordinator that stopped; Follow then follows it. A scan
// whose shards are all done goes straight to its closing pass.
func (c *Coordinator) Resume(ctx context.Context, id string) (*Scan, error) {
	if err := Setup(ctx, c.JS, c.AckWait); err != nil {
		return nil, err
	}
	scans, err := c.JS.KeyValue(ctx, ScansBucket)
	if err != nil {
		return nil, fmt.Errorf("resume scan %s: %w", id, err)
	}
	sc, err := updateScan(ctx, scans, id, func(s *Scan) error {
		switch s.State {
		case StateFinished:
			return fmt.Errorf("it finished at %s", s.Finished.Format(time.RFC3339))
		case StateClosing:
			return nil
		}
		s.State = StateRunning
		s.Round++
		s.Updated = c.now()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resume scan %s: %w", id, err)
	}
	if sc.State != StateRunning {
		return sc, nil
	}
	done, err := doneShards(ctx, c.JS, id)
	if err != nil {
		return nil, fmt.Errorf("resume scan %s: %w", id, err)
	}
	if err := c.publish(ctx, sc, done); err != nil {
		return nil, fmt.Errorf("resume scan %s: %w", id, err)
	}
	c.log().Info("scan resumed", "scan", id, "round", sc.Round, "shards", sc.Spec.Shards-len(done))
	return sc, nil
}

// doneShards returns the shards of scan id recorded as done.
func doneShards(ctx context.Context, js jetstream.JetStream, id string) (map[int]bool, error) {
	kv, err := js.KeyValue(ctx, ShardsBucket)
	if err != nil {
		return nil, err
	}
	done := map[int]bool{}
	lister, err := kv.ListKeysFiltered(ctx, id+".*")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return done, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list done shards: %w", err)
	}
	for k := range lister.Keys() {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, id+".")); err == nil {
			done[n] = true
		}
	}
	return done, nil
}

// Cancel stops scan id: workers drop its shards (queued ones at once, the
// ones in hand within a heartbeat) and the stored events stay. Resume
// continues it.
func Cancel(ctx context.Context, js jetstream.JetStream, id string) (*Scan, error) {
	scans, err := js.KeyValue(ctx, ScansBucket)
	if err != nil {
		return nil, fmt.Errorf("cancel scan %s: %w", id, err)
	}
	sc, err := updateScan(ctx, scans, id, func(s *Scan) error {
		if s.State != StateRunning {
			return fmt.Errorf("it is %s", s.State)
		}
		s.State = StateCancelled
		s.Updated = time.Now().UTC()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cancel scan %s: %w", id, err)
	}
	stream, err := js.Stream(ctx, StreamName)
	if err == nil {
		err = stream.Purge(ctx, jetstream.WithPurgeSubject(SubjectPrefix+id))
	}
	if err != nil {
		return sc, fmt.Errorf("cancel scan %s: drop its queued shards (workers drop them when they pull them): %w", id, err)
	}
	return sc, nil
}

// List returns the cluster scans, newest first.
func List(ctx context.Context, js jetstream.JetStream) ([]Scan, error) {
	kv, err := js.KeyValue(ctx, ScansBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list scans: %w", err)
	}
	lister, err := kv.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list scans: %w", err)
	}
	var out []Scan
	for k := range lister.Keys() {
		sc, err := getScan(ctx, kv, k)
		if errors.Is(err, ErrNoScan) {
			continue // deleted between the listing and the read
		}
		if err != nil {
			return nil, fmt.Errorf("list scans: %w", err)
		}
		out = append(out, *sc)
	}
	slices.SortFunc(out, func(a, b Scan) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// Get returns the document of scan id, or an error wrapping ErrNoScan.
func Get(ctx context.Context, js jetstream.JetStream, id string) (*Scan, error) {
	kv, err := js.KeyValue(ctx, ScansBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("scan %s: %w", id, ErrNoScan)
	}
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", id, err)
	}
	return getScan(ctx, kv, id)
}

func getScan(ctx context.Context, kv jetstream.KeyValue, id string) (*Scan, error) {
	sc, _, err := readScan(ctx, kv, id)
	return sc, err
}

func readScan(ctx context.Context, kv jetstream.KeyValue, id string) (*Scan, uint64, error) {
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("scan %s: %w", id, ErrNoScan)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read scan %s: %w", id, err)
	}
	var sc Scan
	if err := json.Unmarshal(e.Value(), &sc); err != nil {
		return nil, 0, fmt.Errorf("read scan %s: %w", id, err)
	}
	return &sc, e.Revision(), nil
}

// updateScan applies fn to the document of scan id and writes it back if
// no one wrote it in between; otherwise it starts again.
func updateScan(ctx context.Context, kv jetstream.KeyValue, id string, fn func(*Scan) error) (*Scan, error) {
	for {
		sc, rev, err := readScan(ctx, kv, id)
		if err != nil {
			return nil, err
		}
		if err := fn(sc); err != nil {
			return sc, err
		}
		js, err := json.Marshal(sc)
		if err != nil {
			return nil, err
		}
		_, err = kv.Update(ctx, id, js, rev)
		if err == nil {
			return sc, nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			return nil, fmt.Errorf("write scan %s: %w", id, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}
