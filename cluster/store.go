package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ajar-scan/ajar"
)

// retrier retries calls to the store and to NATS through short outages.
type retrier struct {
	// transient says whether an error may pass; nil retries every error
	// but a missing record and the end of a context.
	transient func(error) bool
	// patience is how long one call is retried before its error stands.
	patience time.Duration
	// stop ends the waiting early (the worker is stopping for good).
	stop context.Context
	// observe, when set, sees every attempt.
	observe func(op string, took time.Duration, err error)
	// log, when set, hears of the first failure of a call that is retried.
	log *slog.Logger
}

func (r *retrier) retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ajar.ErrNotFound) {
		return false
	}
	if r.transient == nil {
		return true
	}
	return r.transient(err)
}

const firstWait = 100 * time.Millisecond

// do calls fn until it succeeds, fails for good, or patience runs out.
func (r *retrier) do(op string, fn func() error) error {
	start := time.Now()
	wait := firstWait
	for {
		t := time.Now()
		err := fn()
		if r.observe != nil {
			r.observe(op, time.Since(t), err)
		}
		if err == nil || !r.retryable(err) || time.Since(start)+wait > r.patience {
			return err
		}
		if r.log != nil && wait == firstWait {
			r.log.Warn("unavailable; retrying", "op", op, "err", err, "patience", r.patience)
		}
		select {
		case <-time.After(wait):
		case <-r.stop.Done():
			return fmt.Errorf("%w (gave up: %v)", err, r.stop.Err())
		}
		wait = min(wait*2, 2*time.Second)
	}
}

// shardStore is the store as one run of one shard sees it: every
// observation gets its deterministic id (EventID), calls are retried
// through short outages, and beginning and finishing the scan are left to
// the coordinator.
type shardStore struct {
	Store
	scan  string
	shard int
	retry *retrier

	mu  sync.Mutex
	seq map[ajar.Key]int
	// dups counts observations stored already by an earlier delivery.
	dups int
}

var _ ajar.Store = (*shardStore)(nil)

func newShardStore(s Store, scan string, shard int, r *retrier) *shardStore {
	return &shardStore{Store: s, scan: scan, shard: shard, retry: r, seq: map[ajar.Key]int{}}
}

// BeginScan does nothing: the coordinator began the scan.
func (s *shardStore) BeginScan(context.Context, ajar.ScanInfo) error { return nil }

// FinishScan does nothing: the scan finishes when all its shards have.
func (s *shardStore) FinishScan(context.Context, string, time.Time) error { return nil }

// Record records ev under the id of its place in the shard.
func (s *shardStore) Record(ctx context.Context, ev *ajar.Event) error {
	k := ev.Key()
	k.Addr = k.Addr.Unmap()
	s.mu.Lock()
	n := s.seq[k]
	s.seq[k]++
	s.mu.Unlock()
	id := EventID(s.scan, s.shard, k, n)
	return s.retry.do("record", func() error {
		stored, err := s.Store.RecordOnce(ctx, id, ev)
		if err == nil && !stored {
			s.mu.Lock()
			s.dups++
			s.mu.Unlock()
		}
		return err
	})
}

// Get reads a record, retrying through outages.
func (s *shardStore) Get(ctx context.Context, k ajar.Key) (*ajar.Record, error) {
	var r *ajar.Record
	err := s.retry.do("get", func() error {
		var err error
		r, err = s.Store.Get(ctx, k)
		return err
	})
	return r, err
}

// List reads records, retrying through outages.
func (s *shardStore) List(ctx context.Context, f ajar.Filter) ([]ajar.Record, error) {
	var rs []ajar.Record
	err := s.retry.do("list", func() error {
		var err error
		rs, err = s.Store.List(ctx, f)
		return err
	})
	return rs, err
}

func (s *shardStore) duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dups
}
