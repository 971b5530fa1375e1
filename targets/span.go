package targets

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// u128 is an address as a 128-bit number; IPv4 addresses use only the low
// 32 bits and live in their own span sets, so the two families never mix.
type u128 struct{ hi, lo uint64 }

var maxU128 = u128{^uint64(0), ^uint64(0)}

func fromAddr(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (a u128) addr(is4 bool) netip.Addr {
	if is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(a.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return netip.AddrFrom16(b)
}

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func (a u128) add64(n uint64) u128 {
	lo, c := bits.Add64(a.lo, n, 0)
	return u128{a.hi + c, lo}
}

func (a u128) sub(b u128) u128 {
	lo, c := bits.Sub64(a.lo, b.lo, 0)
	return u128{a.hi - b.hi - c, lo}
}

func (a u128) inc() u128 { return a.add64(1) }

func (a u128) dec() u128 { return a.sub(u128{lo: 1}) }

// span is an inclusive range of addresses of one family.
type span struct{ lo, hi u128 }

// count returns the number of addresses in s, and false when that does not
// fit in a uint64.
func (s span) count() (uint64, bool) {
	d := s.hi.sub(s.lo)
	if d.hi != 0 || d.lo == ^uint64(0) {
		return 0, false
	}
	return d.lo + 1, true
}

func (s span) within(o span) bool { return o.lo.cmp(s.lo) <= 0 && s.hi.cmp(o.hi) <= 0 }

// merge sorts spans and joins those that overlap or touch, so the result is
// sorted, disjoint and minimal.
func merge(spans []span) []span {
	if len(spans) == 0 {
		return nil
	}
	s := slices.Clone(spans)
	slices.SortFunc(s, func(a, b span) int { return a.lo.cmp(b.lo) })
	out := s[:1]
	for _, x := range s[1:] {
		last := &out[len(out)-1]
		if last.hi == maxU128 || x.lo.cmp(last.hi.inc()) <= 0 {
			if x.hi.cmp(last.hi) > 0 {
				last.hi = x.hi
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// subtract returns a minus b; both must be merged.
func subtract(a, b []span) []span {
	var out []span
	j := 0
	for _, x := range a {
		for j < len(b) && b[j].hi.cmp(x.lo) < 0 {
			j++
		}
		cur := x
		alive := true
		for k := j; k < len(b) && b[k].lo.cmp(cur.hi) <= 0; k++ {
			if b[k].lo.cmp(cur.lo) > 0 {
				out = append(out, span{cur.lo, b[k].lo.dec()})
			}
			if b[k].hi.cmp(cur.hi) >= 0 {
				alive = false
				break
			}
			cur.lo = b[k].hi.inc()
		}
		if alive {
			out = append(out, cur)
		}
	}
	return out
}

// intersect returns the parts of the merged spans a that lie inside w.
func intersect(a []span, w span) []span {
	var out []span
	for _, x := range a {
		lo, hi := x.lo, x.hi
		if lo.cmp(w.lo) < 0 {
			lo = w.lo
		}
		if hi.cmp(w.hi) > 0 {
			hi = w.hi
		}
		if lo.cmp(hi) <= 0 {
			out = append(out, span{lo, hi})
		}
	}
	return out
}

// spanOf returns the span of a prefix.
func spanOf(p netip.Prefix) span {
	p = p.Masked()
	lo := fromAddr(p.Addr())
	host := 32 - p.Bits()
	if p.Addr().Is6() {
		host = 128 - p.Bits()
	}
	var m u128 // host bits set
	switch {
	case host >= 128:
		m = maxU128
	case host >= 64:
		m = u128{hi: 1<<(host-64) - 1, lo: ^uint64(0)}
	default:
		m = u128{lo: 1<<host - 1}
	}
	return span{lo, u128{lo.hi | m.hi, lo.lo | m.lo}}
}
