package discover

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when someone sleeps on it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if end := c.now.Add(d); end.After(c.now) {
		c.now = end
	}
	return nil
}

func TestLimiterRate(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		burst int
		n     int
	}{
		{rate: 100, burst: 1, n: 1000},
		{rate: 20000, burst: 32, n: 200000},
		{rate: 3, burst: 1, n: 30},
		{rate: 1e6, burst: 128, n: 1e6},
	} {
		clk := &fakeClock{now: time.Unix(1000, 0)}
		l := NewLimiter(tc.rate, tc.burst, clk)
		start := clk.Now()
		for range tc.n {
			if err := l.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		elapsed := clk.Now().Sub(start).Seconds()
		// n tokens at rate r take (n-burst)/r seconds: the first burst are free.
		want := float64(tc.n-tc.burst) / tc.rate
		if elapsed < want*0.99 || elapsed > want*1.01+1e-6 {
			t.Errorf("rate %g burst %d: %d tokens took %.4fs, want %.4fs", tc.rate, tc.burst, tc.n, elapsed, want)
		}
	}
}

func TestLimiterIdleDoesNotBank(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewLimiter(10, 2, clk)
	_ = l.Wait(context.Background())
	clk.now = clk.now.Add(time.Hour) // idle for an hour
	start := clk.Now()
	for range 12 {
		_ = l.Wait(context.Background())
	}
	// Only the burst of 2 is free after idling, the rest is paced: 10 × 0.1 s.
	if got := clk.Now().Sub(start); got != time.Second {
		t.Errorf("after idling, 12 tokens took %s, want 1s", got)
	}
}

func TestLimiterUnlimited(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	l := NewLimiter(0, 1, clk)
	for range 1000 {
		_ = l.Wait(context.Background())
	}
	if !clk.Now().Equal(time.Unix(1000, 0)) {
		t.Errorf("an unlimited limiter slept")
	}
}

func TestLimiterCancelled(t *testing.T) {
	l := NewLimiter(1, 1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	_ = l.Wait(ctx)
	cancel()
	start := time.Now()
	if err := l.Wait(ctx); err == nil {
		t.Fatal("Wait on a cancelled context returned nil")
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Wait on a cancelled context took %s", d)
	}
}
