package discover

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source of the limiter; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Limiter is a token bucket that spaces attempts evenly at a rate per second,
// with a small burst. Every attempt, retries included, takes one token.
type Limiter struct {
	mu       sync.Mutex
	clock    Clock
	interval time.Duration // time per token
	burst    time.Duration // how far the schedule may lag behind now
	next     time.Time     // when the next token is due
}

// NewLimiter returns a limiter of rate tokens per second. A rate ≤ 0 means
// no limit. burst is the number of tokens that may be taken at once after an
// idle period (at least 1).
func NewLimiter(rate float64, burst int, clock Clock) *Limiter {
	if clock == nil {
		clock = realClock{}
	}
	if burst < 1 {
		burst = 1
	}
	l := &Limiter{clock: clock}
	if rate > 0 {
		l.interval = time.Duration(float64(time.Second) / rate)
		if l.interval <= 0 {
			l.interval = 1
		}
		l.burst = time.Duration(burst-1) * l.interval
	}
	return l
}

// Wait takes one token, sleeping until it is due or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil || l.interval == 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := l.clock.Now()
	if earliest := now.Add(-l.burst); l.next.Before(earliest) {
		l.next = earliest
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return l.clock.Sleep(ctx, d)
	}
	return ctx.Err()
}
