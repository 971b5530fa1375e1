package sqlite

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/ajar-scan/ajar"
)

// Bounds of a time stored as int64 nanoseconds since the Unix epoch: the years
// 1677 to 2262.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// nanos encodes t for an INTEGER column.
func nanos(t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("time %s is outside the years 1678 to 2262", t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// nullNanos encodes an optional time; nil is NULL.
func nullNanos(t *time.Time) (any, error) {
	if t == nil {
		return nil, nil
	}
	return nanos(*t)
}

// fromNanos decodes an INTEGER column written by nanos.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// normalAddr is the form of an address the store keys by: IPv4-mapped IPv6
// addresses are stored as IPv4, and zones are dropped.
func normalAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// addrKey encodes a for the ip columns: a family byte (4 or 6) then the
// address bytes, so that byte order is netip.Addr.Compare order: IPv4 before
// IPv6, each family numerically. An invalid address gives nil, which
// matches no row.
func addrKey(a netip.Addr) []byte {
	a = normalAddr(a)
	switch {
	case a.Is4():
		b := a.As4()
		return append([]byte{4}, b[:]...)
	case a.Is6():
		b := a.As16()
		return append([]byte{6}, b[:]...)
	}
	return nil
}

// prefixRange returns the keys of the first and last addresses of p.
func prefixRange(p netip.Prefix) (lo, hi []byte) {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	p = p.Masked()
	last := p.Addr().AsSlice()
	for i := p.Bits(); i < len(last)*8; i++ {
		last[i/8] |= 0x80 >> (i % 8)
	}
	end, _ := netip.AddrFromSlice(last)
	return addrKey(p.Addr()), addrKey(end)
}

// encodeEvent renders ev as stored: its ajar/1 JSON form.
func encodeEvent(ev *ajar.Event) ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return b, nil
}

// decodeEvent parses a stored event and puts its times in UTC.
func decodeEvent(b []byte) (ajar.Event, error) {
	var ev ajar.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return ajar.Event{}, fmt.Errorf("decode stored event: %w", err)
	}
	ev.Time = ev.Time.UTC()
	ev.FirstSeen = ev.FirstSeen.UTC()
	ev.LastSeen = ev.LastSeen.UTC()
	if ev.ClosedAt != nil {
		c := ev.ClosedAt.UTC()
		ev.ClosedAt = &c
	}
	if ev.TLS != nil {
		ev.TLS.NotBefore = ev.TLS.NotBefore.UTC()
		ev.TLS.NotAfter = ev.TLS.NotAfter.UTC()
	}
	return ev, nil
}
