package targets

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestSpanSets checks merge and subtract against a bitmap of a small universe.
func TestSpanSets(t *testing.T) {
	const size = 64
	r := rand.New(rand.NewPCG(7, 8))
	random := func() ([]span, [size]bool) {
		var spans []span
		var bits [size]bool
		for range r.IntN(6) {
			lo := r.Uint64N(size)
			hi := lo + r.Uint64N(size-lo)
			spans = append(spans, span{u128{lo: lo}, u128{lo: hi}})
			for i := lo; i <= hi; i++ {
				bits[i] = true
			}
		}
		return spans, bits
	}
	toBits := func(spans []span) (bits [size]bool) {
		for i, s := range spans {
			if s.lo.cmp(s.hi) > 0 || i > 0 && spans[i-1].hi.inc().cmp(s.lo) >= 0 {
				t.Fatalf("spans %v are not sorted, disjoint and apart", spans)
			}
			for x := s.lo.lo; x <= s.hi.lo; x++ {
				bits[x] = true
			}
		}
		return bits
	}
	for range 5000 {
		a, abits := random()
		b, bbits := random()
		if got := toBits(merge(a)); got != abits {
			t.Fatalf("merge(%v) wrong", a)
		}
		var want [size]bool
		for i := range want {
			want[i] = abits[i] && !bbits[i]
		}
		if got := toBits(subtract(merge(a), merge(b))); got != want {
			t.Fatalf("subtract(%v, %v) wrong", a, b)
		}
	}
}

func TestSpanEdges(t *testing.T) {
	all := spanOf(netip.MustParsePrefix("::/0"))
	if all.lo != (u128{}) || all.hi != maxU128 {
		t.Errorf("::/0 = %v", all)
	}
	if _, ok := all.count(); ok {
		t.Error("::/0 counted in a uint64")
	}
	if n, ok := spanOf(netip.MustParsePrefix("::/65")).count(); !ok || n != 1<<63 {
		t.Errorf("::/65 count = %d, %v", n, ok)
	}
	top := span{maxU128, maxU128}
	if got := merge([]span{top, all, top}); len(got) != 1 || got[0] != all {
		t.Errorf("merge at the top = %v", got)
	}
	if got := subtract([]span{all}, []span{top}); len(got) != 1 || got[0].hi != maxU128.dec() {
		t.Errorf("subtract at the top = %v", got)
	}
	if got := subtract([]span{all}, []span{{u128{}, u128{}}}); len(got) != 1 || got[0].lo != (u128{lo: 1}) {
		t.Errorf("subtract at the bottom = %v", got)
	}
	for _, s := range []string{"0.0.0.0/0", "1.2.3.4/32", "10.0.0.0/8", "::/0", "2001:db8::/64", "::1/128", "8000::/1"} {
		p := netip.MustParsePrefix(s)
		sp := spanOf(p)
		if sp.lo.addr(p.Addr().Is4()) != p.Addr() {
			t.Errorf("%s starts at %v", s, sp.lo.addr(p.Addr().Is4()))
		}
		r := Range{sp.lo.addr(p.Addr().Is4()), sp.hi.addr(p.Addr().Is4())}
		if r.String() != s && !(p.Bits() == p.Addr().BitLen() && r.String() == p.Addr().String()) {
			t.Errorf("%s renders as %s", s, r)
		}
	}
}
