package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(2, 3, func() time.Time { return now })
	a := netip.MustParseAddr("127.0.20.1")
	b := netip.MustParseAddr("127.0.20.2")
	for i := range 3 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait := l.Allow(a)
	if ok || wait != 500*time.Millisecond {
		t.Errorf("fourth request: %v, retry after %v; want refused, 500ms", ok, wait)
	}
	if ok, _ := l.Allow(b); !ok {
		t.Error("another address was refused")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow(a); !ok {
		t.Error("refused after the bucket refilled one token")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("::ffff:127.0.20.1")); ok {
		t.Error("the IPv4-mapped form of a spent address was allowed")
	}
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff")
	for range 3 {
		l.Allow(v6a)
	}
	if ok, _ := l.Allow(v6b); ok {
		t.Error("an address in a spent /64 was allowed")
	}
	if ok, _ := New(0, 1, nil).Allow(a); !ok {
		t.Error("rate 0 did not lift the limit")
	}
}

func TestForget(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(1, 1, func() time.Time { return now })
	l.max = 10
	for i := range 25 {
		l.Allow(netip.AddrFrom4([4]byte{127, 0, 20, byte(i)}))
		if len(l.buckets) > l.max {
			t.Fatalf("%d buckets tracked, max %d", len(l.buckets), l.max)
		}
	}
}
