package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The global rate limit. Every worker keeps a key alive in WorkersBucket
// (memberEvery; the bucket forgets a key memberTTL after its last write) and
// counts the keys as often. A worker scanning a shard of a scan with rate R
// while it counts n live workers runs its discovery at R/n (or at its own
// --rate when lower), so the cluster as a whole stays at or below R:
//   - a worker that joins waits joinDelay, longer than one count, before
//     its first shard, so every worker already counts it when it starts;
//   - a worker that dies is forgotten after memberTTL; until then the
//     others run below R, never above;
//   - a change of n reaches a running shard's limiter within
//     pacerStep (see pacer).
//
// Idle workers count too: at the end of a scan, when fewer shards than
// workers are left, the cluster runs below R. That is the price of never
// going above it without a round trip per connection attempt.
const (
	memberTTL   = 10 * time.Second
	memberEvery = 2 * time.Second
	joinDelay   = memberEvery + time.Second
)

// member is the value of a worker's key in WorkersBucket, for people.
type member struct {
	Started time.Time `json:"started"`
	Rate    float64   `json:"rate,omitempty"`
}

// membership keeps this worker's key alive and counts the live workers.
type membership struct {
	kv     jetstream.KeyValue
	name   string
	value  []byte
	log    *slog.Logger
	n      atomic.Int64
	notify func(n int)
}

func newMembership(kv jetstream.KeyValue, name string, rate float64, log *slog.Logger, notify func(int)) *membership {
	v, _ := json.Marshal(member{Started: time.Now().UTC(), Rate: rate})
	m := &membership{kv: kv, name: name, value: v, log: log, notify: notify}
	m.n.Store(1)
	return m
}

// live returns the number of live workers last counted, at least 1.
func (m *membership) live() int { return int(m.n.Load()) }

// refresh writes this worker's key and counts the keys.
func (m *membership) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, memberEvery)
	defer cancel()
	if _, err := m.kv.Put(ctx, m.name, m.value); err != nil {
		return err
	}
	lister, err := m.kv.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		return err
	}
	n := 0
	self := false
	for k := range lister.Keys() {
		n++
		self = self || k == m.name
	}
	if !self {
		n++ // our own write raced the listing
	}
	if old := m.n.Swap(int64(n)); old != int64(n) && m.notify != nil {
		m.notify(n)
	}
	return nil
}

// run refreshes every memberEvery until ctx ends, then removes the key.
// Errors (NATS restarting) keep the last count: a worker cut off from NATS
// pulls no new shards, and its running shard keeps the share it had.
func (m *membership) run(ctx context.Context) {
	t := time.NewTicker(memberEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = m.kv.Delete(dctx, m.name)
			cancel()
			return
		case <-t.C:
			if err := m.refresh(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("count live workers", "err", err)
			}
		}
	}
}

// share is the attempts per second one of n live workers may make on a
// scan limited to scanRate, with its own cap; 0 means no limit.
func share(scanRate, cap float64, n int) float64 {
	r := cap
	if scanRate > 0 {
		s := scanRate / float64(max(n, 1))
		if r <= 0 || s < r {
			r = s
		}
	}
	return r
}

// pacerStep bounds how long a sleeping attempt goes without looking at the
// pacer's speed again.
const pacerStep = 50 * time.Millisecond

// pacer is the clock of a shard's discovery limiter. The limiter
// (discover.Limiter) is built for a fixed rate, base; the pacer's time runs
// at speed share/base of real time, so the limiter hands out share attempts
// per second, and a new share takes effect at once, for the attempts already
// waiting too. It plugs into discover.Options.Clock.
type pacer struct {
	mu     sync.Mutex
	speed  float64
	realAt time.Time // the real time of the last speed change
	virtAt time.Time // the pacer's time then
}

func newPacer(speed float64) *pacer {
	now := time.Now()
	return &pacer{speed: speed, realAt: now, virtAt: now}
}

// Now returns the pacer's time.
func (p *pacer) Now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now(time.Now())
}

func (p *pacer) now(real time.Time) time.Time {
	return p.virtAt.Add(time.Duration(float64(real.Sub(p.realAt)) * p.speed))
}

// setSpeed changes the speed from now on; speed must be positive.
func (p *pacer) setSpeed(speed float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	real := time.Now()
	p.virtAt = p.now(real)
	p.realAt = real
	p.speed = speed
}

// Sleep waits until the pacer's time has advanced by d, or ctx ends.
func (p *pacer) Sleep(ctx context.Context, d time.Duration) error {
	until := p.Now().Add(d)
	for {
		p.mu.Lock()
		left := until.Sub(p.now(time.Now()))
		speed := p.speed
		p.mu.Unlock()
		if left <= 0 {
			return ctx.Err()
		}
		wait := min(time.Duration(float64(left)/speed)+1, pacerStep)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}
