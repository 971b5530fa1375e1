package targets

import (
	"encoding/binary"
	"fmt"
	"iter"
	"net/netip"

	"github.com/ajar-scan/ajar"
)

// WalkOptions choose the order of a walk and the part of it to take.
type WalkOptions struct {
	// Seed picks the order; the same seed gives the same order. Every shard
	// of one scan must use the same seed.
	Seed uint64
	// Shard and Shards take the Shard-th of Shards disjoint parts, counting
	// from 1; zero values mean 1 of 1.
	Shard, Shards int
	// Start skips the first Start positions of the shard's sequence, to
	// resume from a position saved earlier.
	Start uint64
}

// Validate reports whether the shard options are well formed.
func (o WalkOptions) Validate() error {
	i, n := o.shard()
	if err := checkShard(i, n); err != nil {
		return fmt.Errorf("walk options: %w", err)
	}
	return nil
}

func (o WalkOptions) shard() (i, n int) {
	if o.Shard == 0 && o.Shards == 0 {
		return 1, 1
	}
	return o.Shard, o.Shards
}

// The walk is a cyclic group, as in ZMap (Durumeric, Wustrow, Halderman,
// "ZMap: Fast Internet-wide Scanning and its Security Applications",
// USENIX Security 2013, §3): with p a prime above the number of targets N
// and g a generator of the integers mod p under multiplication, the
// sequence x·g^k (k = 0 … p−2) visits each of 1 … p−1 once. Index x−1 names
// a target when it is below N and is skipped otherwise. Position k belongs
// to shard (k mod n)+1, so shards are disjoint and cover the cycle, and a
// position is reached directly by exponentiation, which makes Start free.

// group returns the generator and first element derived from seed.
func (s *Space) group(seed uint64) (g, x0 uint64) {
	p := s.prime
	q := (p - 1) / 2
	h := splitmix(seed)
	// g ∈ [2, p−2] generates the group of order 2q exactly when g^q ≠ 1.
	g = 2 + h%(p-3)
	for powmod(g, q, p) == 1 {
		if g++; g > p-2 {
			g = 2
		}
	}
	x0 = 1 + splitmix(h)%(p-1)
	return g, x0
}

// splitmix is the SplitMix64 finaliser (Steele, Lea, Flood, "Fast
// Splittable Pseudorandom Number Generators", OOPSLA 2014).
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Positions returns the number of positions of the shard chosen by opt (its
// Seed and Start do not matter). Positions run from 0 to Positions−1; some
// yield no target, so a position over Positions measures progress.
func (s *Space) Positions(opt WalkOptions) uint64 {
	i, n := opt.shard()
	if checkShard(i, n) != nil {
		return 0
	}
	cycle, first := s.prime-1, uint64(i-1)
	if first >= cycle {
		return 0
	}
	return (cycle-first-1)/uint64(n) + 1
}

// Walk yields the targets of one shard in pseudo-random order, each with its
// position in the shard's sequence. Positions increase but skip values: a
// position is yielded only when it names a target not excluded. Resume
// with Start set to a position below which every target was handled; every
// target at a position ≥ Start is yielded again, none is missed.
//
// Consecutive targets fall on different hosts: index i names address
// i mod Addresses() on port i div Addresses(), and the group scatters
// consecutive indices. The walk allocates nothing per target; its memory
// does not depend on the size of the space. Walk panics if opt fails Validate.
func (s *Space) Walk(opt WalkOptions) iter.Seq2[uint64, ajar.Target] {
	if err := opt.Validate(); err != nil {
		panic(err)
	}
	shard, shards := opt.shard()
	count := s.Positions(opt)
	p := s.prime
	g, x := s.group(opt.Seed)
	step := powmod(g, uint64(shards), p)
	x = mulmod(x, powmod(g, uint64(shard-1), p), p)
	return func(yield func(uint64, ajar.Target) bool) {
		if opt.Start >= count {
			return
		}
		x := mulmod(x, powmod(step, opt.Start, p), p)
		n := s.n
		for k := opt.Start; k < count; k++ {
			if i := x - 1; i < n {
				if t := s.target(i); !s.skipped(t) && !yield(k, t) {
					return
				}
			}
			x = mulmod(x, step, p)
		}
	}
}

// skipped reports whether t is an excluded service.
func (s *Space) skipped(t ajar.Target) bool {
	if len(s.skip) == 0 {
		return false
	}
	_, ok := s.skip[t.AddrPort()]
	return ok
}

// target returns the target of index i < s.n.
func (s *Space) target(i uint64) ajar.Target {
	port := s.ports[0]
	if len(s.ports) > 1 {
		q := i / s.addrs
		port = s.ports[q]
		i -= q * s.addrs
	}
	b := &s.blocks[0]
	if len(s.blocks) > 1 {
		b = s.find(i)
	}
	off := i - b.start
	var t ajar.Target
	t.Port = port
	if b.is4 {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], uint32(b.first.lo+off))
		t.Addr = netip.AddrFrom4(a)
	} else {
		t.Addr = b.first.add64(off).addr(false)
	}
	if s.hosts != nil {
		t.Host = s.hosts[t.Addr]
	}
	return t
}
