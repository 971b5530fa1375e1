package targets

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/ajar-scan/ajar"
)

// spaceOf builds a space of n addresses from 1.0.0.0 on the given ports.
func spaceOf(t testing.TB, n uint64, ports ...uint16) *Space {
	t.Helper()
	if len(ports) == 0 {
		ports = []uint16{80}
	}
	last := netip.AddrFrom4([4]byte{1, byte((n - 1) >> 16), byte((n - 1) >> 8), byte(n - 1)})
	s, err := Build(t.Context(), Spec{Include: Entries("1.0.0.0-" + last.String()), Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != n*uint64(len(ports)) {
		t.Fatalf("space of %d addresses × %d ports has size %d", n, len(ports), s.Size())
	}
	return s
}

// index returns the index of tg in s, the inverse of s.target.
func index(s *Space, tg ajar.Target) (uint64, bool) {
	pi, ok := slices.BinarySearch(s.ports, tg.Port)
	if !ok {
		return 0, false
	}
	v := fromAddr(tg.Addr)
	for _, b := range s.blocks {
		if b.is4 == tg.Addr.Is4() && b.first.cmp(v) <= 0 && v.cmp(b.first.add64(b.n-1)) <= 0 {
			return uint64(pi)*s.addrs + b.start + v.sub(b.first).lo, true
		}
	}
	return 0, false
}

// checkCover walks every shard of s and checks that together they yield
// each target exactly once, in increasing positions below Positions.
func checkCover(t *testing.T, s *Space, seed uint64, shards int) {
	t.Helper()
	seen := make([]uint64, (s.n+63)/64)
	var total uint64
	for i := 1; i <= shards; i++ {
		opt := WalkOptions{Seed: seed, Shard: i, Shards: shards}
		limit := s.Positions(opt)
		last := int64(-1)
		for pos, tg := range s.Walk(opt) {
			if int64(pos) <= last || pos >= limit {
				t.Fatalf("shard %d/%d: position %d after %d, limit %d", i, shards, pos, last, limit)
			}
			last = int64(pos)
			x, ok := index(s, tg)
			if !ok {
				t.Fatalf("shard %d/%d: %v is not in the space", i, shards, tg)
			}
			if seen[x/64]&(1<<(x%64)) != 0 {
				t.Fatalf("shard %d/%d: %v yielded twice", i, shards, tg)
			}
			seen[x/64] |= 1 << (x % 64)
			total++
		}
	}
	if total != s.Size() {
		t.Fatalf("%d shards yielded %d targets, want Size %d", shards, total, s.Size())
	}
}

func TestWalkPermutation(t *testing.T) {
	sizes := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 16, 23, 31, 32, 64, 97, 100, 127, 128, 255, 256,
		1000, 1021, 1024, 4093, 4096, 65521, 65536, 1 << 20}
	r := rand.New(rand.NewPCG(5, 6))
	for range 6 {
		sizes = append(sizes, 1+r.Uint64N(1_000_000))
	}
	for _, n := range sizes {
		s := spaceOf(t, n)
		for shards := 1; shards <= 7; shards++ {
			checkCover(t, s, n*7+uint64(shards), shards)
		}
	}
}

func TestWalkMixedSpaces(t *testing.T) {
	specs := []Spec{
		{Include: Entries("127.0.10.0/30"), Ports: []uint16{80, 443, 6379, 9200, 27017}},
		{Include: Entries("1.2.3.0/24", "5.6.7.8", "2a00::/120", "::1", "9.9.9.9-9.9.10.20"), Ports: []uint16{22, 80, 443}},
		{
			Include: Entries("127.0.10.0/28", "::1"), Ports: []uint16{80, 6379},
			ExcludePorts: []string{"127.0.10.1:6379", "[::1]:80", "127.0.10.15:80"},
		},
	}
	for i, spec := range specs {
		s, err := Build(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		for shards := 1; shards <= 7; shards++ {
			checkCover(t, s, uint64(i), shards)
		}
		for _, tg := range s.Walk(WalkOptions{}) {
			if s.skipped(tg) {
				t.Errorf("spec %d: excluded %v yielded", i, tg)
			}
		}
	}
}

func TestWalkFragmented(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for round := range 20 {
		var inc []string
		for range 1 + r.IntN(300) {
			a := netip.AddrFrom4([4]byte{1, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
			inc = append(inc, netip.PrefixFrom(a, 22+r.IntN(11)).String())
		}
		for range r.IntN(20) {
			inc = append(inc, fmt.Sprintf("2a00::%x/%d", r.IntN(1<<16), 120+r.IntN(9)))
		}
		s, err := Build(t.Context(), Spec{Include: Entries(inc...), Ports: []uint16{80, 443}})
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(0); i < s.addrs; i++ {
			if b := s.find(i); i < b.start || i-b.start >= b.n {
				t.Fatalf("round %d: find(%d) = block at %d of %d", round, i, b.start, b.n)
			}
		}
		checkCover(t, s, uint64(round), 1+round%7)
	}
}

func collect(s *Space, opt WalkOptions) (pos []uint64, tgs []ajar.Target) {
	for p, tg := range s.Walk(opt) {
		pos = append(pos, p)
		tgs = append(tgs, tg)
	}
	return pos, tgs
}

func TestWalkStart(t *testing.T) {
	s, err := Build(t.Context(), Spec{
		Include: Entries("127.0.10.0/26"), Ports: []uint16{80, 443, 6379},
		ExcludePorts: []string{"127.0.10.7:443"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, shards := range []int{1, 3} {
		opt := WalkOptions{Seed: 42, Shard: shards, Shards: shards}
		pos, all := collect(s, opt)
		count := s.Positions(opt)
		for _, start := range []uint64{0, 1, 2, pos[len(pos)/2], pos[len(pos)/2] + 1, pos[len(pos)-1], count - 1, count, count + 10} {
			opt.Start = start
			gotPos, got := collect(s, opt)
			i, _ := slices.BinarySearch(pos, start)
			if !slices.Equal(gotPos, pos[i:]) || !slices.Equal(got, all[i:]) {
				t.Errorf("shard %d/%d from %d: %d targets, want the last %d", shards, shards, start, len(got), len(all)-i)
			}
		}
	}
	// Stopping early and resuming at the next position misses nothing.
	opt := WalkOptions{Seed: 9}
	_, all := collect(s, opt)
	var got []ajar.Target
	for opt.Start < s.Positions(opt) {
		n := 0
		for p, tg := range s.Walk(opt) {
			got = append(got, tg)
			opt.Start = p + 1
			if n++; n == 17 {
				break
			}
		}
		if n < 17 {
			break
		}
	}
	if !slices.Equal(got, all) {
		t.Errorf("resuming in steps of 17 gave %d targets, want %d", len(got), len(all))
	}
}

func TestWalkSeed(t *testing.T) {
	s := spaceOf(t, 1000, 80, 443)
	orders := map[string]uint64{}
	for seed := range uint64(50) {
		_, a := collect(s, WalkOptions{Seed: seed})
		_, b := collect(s, WalkOptions{Seed: seed})
		if !slices.Equal(a, b) {
			t.Fatalf("seed %d: two walks differ", seed)
		}
		key := fmt.Sprint(a)
		if other, ok := orders[key]; ok {
			t.Errorf("seeds %d and %d give the same order", other, seed)
		}
		orders[key] = seed
	}
	// A shard of a seed is the same whatever the other shards do.
	_, a := collect(s, WalkOptions{Seed: 3, Shard: 2, Shards: 4})
	_, b := collect(s, WalkOptions{Seed: 3, Shard: 2, Shards: 4})
	if !slices.Equal(a, b) {
		t.Error("shard 2/4 differs between two walks")
	}
}

func TestWalkSpread(t *testing.T) {
	s := spaceOf(t, 256, 80, 443, 6379, 9200)
	// Neighbouring indices name different hosts.
	for i := uint64(0); i+1 < s.n; i++ {
		if s.target(i).Addr == s.target(i+1).Addr {
			t.Fatalf("indices %d and %d both name %v", i, i+1, s.target(i).Addr)
		}
	}
	// And the walk rarely puts two targets of one host side by side.
	var prev ajar.Target
	same := 0
	for _, tg := range s.Walk(WalkOptions{Seed: 1}) {
		if tg.Addr == prev.Addr {
			same++
		}
		prev = tg
	}
	if same > int(s.Size()/50) {
		t.Errorf("%d of %d neighbours share a host", same, s.Size())
	}
}

func TestWalkOptions(t *testing.T) {
	tests := []struct {
		opt WalkOptions
		ok  bool
	}{
		{WalkOptions{}, true},
		{WalkOptions{Shard: 1, Shards: 1}, true},
		{WalkOptions{Shard: 4, Shards: 4}, true},
		{WalkOptions{Shard: 3, Shards: 2}, false},
		{WalkOptions{Shard: 0, Shards: 4}, false},
		{WalkOptions{Shard: 1, Shards: 0}, false},
		{WalkOptions{Shard: -1, Shards: 2}, false},
	}
	s := spaceOf(t, 10)
	for _, tt := range tests {
		err := tt.opt.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v", tt.opt, err)
		}
		if !tt.ok {
			if s.Positions(tt.opt) != 0 {
				t.Errorf("Positions(%+v) != 0", tt.opt)
			}
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("Walk(%+v) did not panic", tt.opt)
					}
				}()
				s.Walk(tt.opt)
			}()
		}
	}
	// More shards than positions: the extra shards are empty.
	one := spaceOf(t, 1)
	checkCover(t, one, 0, 7)
	if n := one.Positions(WalkOptions{Shard: 7, Shards: 7}); n != 0 {
		t.Errorf("shard 7/7 of a 1-target space has %d positions", n)
	}
}

// TestWalkLarge takes a few targets of a space too large to walk whole.
func TestWalkLarge(t *testing.T) {
	s, err := Build(t.Context(), Spec{Include: Entries("2a00::/65"), AllowLarge: true, Ports: []uint16{443}})
	if err != nil {
		t.Fatal(err)
	}
	prefix := netip.MustParsePrefix("2a00::/65")
	opt := WalkOptions{Seed: 1, Shard: 2, Shards: 3, Start: 1 << 60}
	n := 0
	for pos, tg := range s.Walk(opt) {
		if pos < opt.Start || !prefix.Contains(tg.Addr) || tg.Port != 443 {
			t.Fatalf("position %d: %v", pos, tg)
		}
		if n++; n == 1000 {
			break
		}
	}
	if n != 1000 {
		t.Errorf("walked %d targets", n)
	}
}

func TestWalkAllocations(t *testing.T) {
	for _, n := range []uint64{1 << 10, 1 << 16} {
		s := spaceOf(t, n)
		allocs := testing.AllocsPerRun(3, func() {
			for range s.Walk(WalkOptions{Seed: 1}) {
			}
		})
		if allocs > 4 {
			t.Errorf("walking %d targets: %.0f allocations", n, allocs)
		}
	}
}

// BenchmarkWalk enumerates 1.0.0.0/8 on one port, 16.7 M targets per run
// (the figure to watch), then parts of larger and more fragmented spaces.
func BenchmarkWalk(b *testing.B) {
	b.Run("1.0.0.0/8x1", func(b *testing.B) {
		benchWalk(b, Spec{Include: Entries("1.0.0.0/8"), Ports: []uint16{80}}, 0)
	})
	b.Run("4096blocksx3", func(b *testing.B) {
		var inc []string
		for i := range 4096 {
			inc = append(inc, fmt.Sprintf("1.%d.%d.0/26", i/16, i%16*16))
		}
		benchWalk(b, Spec{Include: Entries(inc...), Ports: []uint16{80, 443, 6379}}, 0)
	})
	b.Run("1.0.0.0/8x1000", func(b *testing.B) { // a group above 2^32
		ports, _ := ParsePorts("1-1000", nil)
		benchWalk(b, Spec{Include: Entries("1.0.0.0/8"), Ports: ports}, 1<<24)
	})
}

// benchWalk walks the space of spec, or its first limit targets when limit
// is not zero, and reports the time per target.
func benchWalk(b *testing.B, spec Spec, limit uint64) {
	s, err := Build(b.Context(), spec)
	if err != nil {
		b.Fatal(err)
	}
	if limit == 0 || limit > s.Size() {
		limit = s.Size()
	}
	b.ReportAllocs()
	var n, sum uint64
	for b.Loop() {
		k := uint64(0)
		for _, tg := range s.Walk(WalkOptions{Seed: 1}) {
			sum += uint64(tg.Port)
			if k++; k == limit {
				break
			}
		}
		n += k
	}
	if n != uint64(b.N)*limit || sum == 0 {
		b.Fatalf("walked %d targets, want %d", n, uint64(b.N)*limit)
	}
	perTarget := float64(b.Elapsed().Nanoseconds()) / float64(n)
	b.ReportMetric(perTarget, "ns/target")
	b.ReportMetric(1e3/perTarget, "Mtargets/s")
}
