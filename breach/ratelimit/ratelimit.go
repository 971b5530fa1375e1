// Package ratelimit limits requests per client address with token buckets,
// so that each guess against the breach range API costs time.
package ratelimit

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// Limiter holds one token bucket per client address. IPv6 clients are
// grouped by /64, the block one subscriber usually gets. The zero rate
// lifts the limit.
type Limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time
	max   int // addresses tracked before idle ones are forgotten

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter that allows rate requests per second per address,
// with bursts of up to burst. now may be nil (time.Now).
func New(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, burst: float64(max(burst, 1)), now: now, max: 100_000, buckets: map[netip.Addr]*bucket{}}
}

// Allow takes a token for addr. When none is left it returns false and how
// long until one is.
func (l *Limiter) Allow(addr netip.Addr) (ok bool, retryAfter time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	addr = addr.Unmap()
	if addr.Is6() {
		addr = netip.PrefixFrom(addr, 64).Masked().Addr()
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.forgetFull(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// forgetFull drops the buckets that have refilled: forgetting them changes
// nothing. If every bucket is in use, it drops them all rather than grow.
func (l *Limiter) forgetFull(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) >= l.max {
		clear(l.buckets)
	}
}
