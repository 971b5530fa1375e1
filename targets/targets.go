// Package targets turns what the user asks to scan into a target space of
// addresses × ports, minus exclusions, walked in a seeded pseudo-random order.
package targets

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"net/netip"
	"slices"

	"github.com/ajar-scan/ajar"
)

// ErrEmpty is returned by Build when nothing is left to scan after the
// exclusions; it is not a usage error.
var ErrEmpty = errors.New("nothing left to scan after exclusions")

// Limits on a single include entry unless Spec.AllowLarge is set.
const (
	// MaxIPv4 is the number of addresses in a /8.
	MaxIPv4 = 1 << 24
	// MaxIPv6 keeps IPv6 to lists of hosts, not sweeps.
	MaxIPv6 = 1 << 16
)

// Spec is what the user asked to scan.
type Spec struct {
	// Include holds addresses, prefixes, ranges and host names (see ParseTarget).
	Include []Entry
	// Exclude holds addresses, prefixes and ranges; host names are refused.
	Exclude []Entry
	// ExcludePorts holds ports ("25"), ranges ("8000-8100"), lists of them,
	// and single services ("127.0.10.5:6379", "[::1]:80").
	ExcludePorts []string
	// Ports to scan on every address; see ParsePorts.
	Ports []uint16
	// NoDefaultExcludes drops DefaultExcludes.
	NoDefaultExcludes bool
	// AllowLarge permits an include entry of more than MaxIPv4 IPv4 or MaxIPv6
	// IPv6 addresses.
	AllowLarge bool
	// Resolve looks up host names; nil makes a host name an error.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Space is a target space: sorted, disjoint address blocks × ports, with
// the exclusions applied. It is immutable and safe for concurrent use.
type Space struct {
	blocks   []block // IPv4 first, then IPv6, each in address order
	addrs    uint64
	ports    []uint16
	n        uint64 // addrs × len(ports): the index space
	size     uint64 // n minus the excluded services inside it
	skip     map[netip.AddrPort]struct{}
	hosts    map[netip.Addr]string
	prime    uint64 // safe prime > n: the walk's group is the integers mod prime
	v4Blocks int
	// jump[k] is the block holding address index k<<shift; it narrows the
	// search in find to a block or two.
	jump  []uint32
	shift uint
}

// block is a run of consecutive addresses holding the indices
// [start, start+n) of the address space.
type block struct {
	first u128
	start uint64
	n     uint64
	is4   bool
}

// Build parses and resolves spec into a Space.
//
// Include entries are merged, so overlaps and duplicates are scanned once.
// Exclusions are subtracted: Spec.Exclude, then DefaultExcludes unless
// Spec.NoDefaultExcludes. Loopback is scanned only when named: an include
// entry that lies wholly inside 127.0.0.0/8 or is ::1 is exempt from the
// default loopback exclusion (not from Spec.Exclude); host names never are,
// since a name that resolves to loopback does not name it.
//
// A host name that resolves to several addresses adds them all; an address
// reached through several names keeps the first. Errors name the bad entry,
// with its file and line when it came from a list; when nothing is left,
// the error wraps ErrEmpty.
func Build(ctx context.Context, spec Spec) (*Space, error) {
	if len(spec.Include) == 0 {
		return nil, errors.New("no targets given")
	}
	if len(spec.Ports) == 0 {
		return nil, errors.New("no ports given")
	}
	var (
		inc4, inc6   []span
		loop4, loop6 []span // include entries inside loopback
		hosts        = map[netip.Addr]string{}
	)
	lb4, lb6 := loopback()
	for _, e := range spec.Include {
		r, host, err := ParseTarget(e.Value)
		if err != nil {
			return nil, e.wrap(err)
		}
		if host != "" {
			addrs, err := resolve(ctx, spec.Resolve, host)
			if err != nil {
				return nil, e.wrap(fmt.Errorf("bad target %q: %w", e.Value, err))
			}
			for _, a := range addrs {
				if _, ok := hosts[a]; !ok {
					hosts[a] = host
				}
				s := span{fromAddr(a), fromAddr(a)}
				if a.Is4() {
					inc4 = append(inc4, s)
				} else {
					inc6 = append(inc6, s)
				}
			}
			continue
		}
		s := r.span()
		n, fits := s.count()
		if r.First.Is4() {
			if n > MaxIPv4 && !spec.AllowLarge {
				return nil, e.wrap(fmt.Errorf("bad target %q: %d addresses is more than a /8; pass --allow-large to scan it", e.Value, n))
			}
			inc4 = append(inc4, s)
			if s.within(lb4) {
				loop4 = append(loop4, s)
			}
			continue
		}
		if (!fits || n > MaxIPv6) && !spec.AllowLarge {
			return nil, e.wrap(fmt.Errorf("bad target %q: more than %d IPv6 addresses; IPv6 is scanned from lists, pass --allow-large to sweep it", e.Value, MaxIPv6))
		}
		inc6 = append(inc6, s)
		if s.within(lb6) {
			loop6 = append(loop6, s)
		}
	}
	inc4, inc6 = unmapSpans(merge(inc4), merge(inc6))

	var ex4, ex6 []span
	for _, e := range spec.Exclude {
		r, host, err := ParseTarget(e.Value)
		if err != nil {
			return nil, e.wrap(fmt.Errorf("bad exclusion: %w", err))
		}
		if host != "" {
			return nil, e.wrap(fmt.Errorf("bad exclusion %q: host names cannot be excluded, give addresses", e.Value))
		}
		if r.First.Is4() {
			ex4 = append(ex4, r.span())
		} else {
			ex6 = append(ex6, r.span())
		}
	}
	ex4, ex6 = unmapSpans(merge(ex4), merge(ex6))
	if !spec.NoDefaultExcludes {
		var d4, d6 []span
		for _, p := range DefaultExcludes() {
			if p.Addr().Is4() {
				d4 = append(d4, spanOf(p))
			} else {
				d6 = append(d6, spanOf(p))
			}
		}
		ex4 = merge(append(ex4, subtract(merge(d4), merge(loop4))...))
		ex6 = merge(append(ex6, subtract(merge(d6), merge(loop6))...))
	}
	s := &Space{}
	if err := s.setBlocks(subtract(inc4, ex4), subtract(inc6, ex6)); err != nil {
		return nil, err
	}
	if err := s.setPorts(spec.Ports, spec.ExcludePorts); err != nil {
		return nil, err
	}
	hi, lo := bits.Mul64(s.addrs, uint64(len(s.ports)))
	if hi != 0 {
		return nil, fmt.Errorf("%d addresses × %d ports is too many targets to count", s.addrs, len(s.ports))
	}
	s.n = lo
	s.size = s.n
	for ap := range s.skip {
		if s.contains(ap) {
			s.size--
		} else {
			delete(s.skip, ap)
		}
	}
	if s.size == 0 {
		return nil, ErrEmpty // every address, or every service, is excluded
	}
	for a := range hosts {
		if !s.containsAddr(a) {
			delete(hosts, a)
		}
	}
	if len(hosts) > 0 {
		s.hosts = hosts
	}
	p, ok := safePrimeAbove(s.n)
	if !ok {
		return nil, fmt.Errorf("%d targets are too many to walk", s.n)
	}
	s.prime = p
	return s, nil
}

func resolve(ctx context.Context, fn func(context.Context, string) ([]netip.Addr, error), host string) ([]netip.Addr, error) {
	if fn == nil {
		return nil, errors.New("host names need a resolver")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	addrs, err := fn(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if !a.IsValid() {
			continue
		}
		out = append(out, a.Unmap().WithZone(""))
	}
	return out, nil
}

// unmapSpans moves the IPv4-mapped part of the IPv6 spans (::ffff:0:0/96)
// into the IPv4 spans, so every IPv4 address is handled as IPv4.
func unmapSpans(v4, v6 []span) ([]span, []span) {
	mapped := spanOf(netip.MustParsePrefix("::ffff:0:0/96"))
	in := intersect(v6, mapped)
	if len(in) == 0 {
		return v4, v6
	}
	for _, s := range in {
		v4 = append(v4, span{u128{lo: uint64(uint32(s.lo.lo))}, u128{lo: uint64(uint32(s.hi.lo))}})
	}
	return merge(v4), subtract(v6, []span{mapped})
}

func (s *Space) setBlocks(v4, v6 []span) error {
	for i, list := range [][]span{v4, v6} {
		for _, sp := range list {
			n, ok := sp.count()
			total, carry := bits.Add64(s.addrs, n, 0)
			if !ok || carry != 0 {
				return errors.New("too many addresses to count: narrow the IPv6 targets")
			}
			s.blocks = append(s.blocks, block{first: sp.lo, start: s.addrs, n: n, is4: i == 0})
			s.addrs = total
		}
		if i == 0 {
			s.v4Blocks = len(s.blocks)
		}
	}
	if len(s.blocks) > 1 {
		for (s.addrs-1)>>s.shift >= uint64(2*len(s.blocks)) {
			s.shift++
		}
		buckets := (s.addrs-1)>>s.shift + 1
		s.jump = make([]uint32, buckets+1)
		j := 0
		for k := range buckets {
			for j+1 < len(s.blocks) && s.blocks[j+1].start <= k<<s.shift {
				j++
			}
			s.jump[k] = uint32(j)
		}
		s.jump[buckets] = uint32(len(s.blocks) - 1)
	}
	return nil
}

func (s *Space) setPorts(ports []uint16, exclude []string) error {
	var set, ex portSet
	for _, p := range ports {
		if p == 0 {
			return errors.New("bad port 0")
		}
		set.add(p)
	}
	s.skip = map[netip.AddrPort]struct{}{}
	for _, e := range exclude {
		if err := parsePortExclusion(e, &ex, s.skip); err != nil {
			return err
		}
	}
	for _, p := range set.list() {
		if !ex.has(p) {
			s.ports = append(s.ports, p)
		}
	}
	if len(s.ports) == 0 {
		return fmt.Errorf("every port is excluded: %w", ErrEmpty)
	}
	return nil
}

// find returns the block holding address index i; it lies between the
// blocks holding the first indices of i's bucket and of the next one.
func (s *Space) find(i uint64) *block {
	k := i >> s.shift
	lo, hi := int(s.jump[k]), int(s.jump[k+1])+1
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if s.blocks[m].start <= i {
			lo = m
		} else {
			hi = m
		}
	}
	return &s.blocks[lo]
}

func (s *Space) containsAddr(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	v := fromAddr(a)
	bs := s.blocks[s.v4Blocks:]
	if a.Is4() {
		bs = s.blocks[:s.v4Blocks]
	}
	_, found := slices.BinarySearchFunc(bs, v, func(b block, v u128) int {
		if b.first.cmp(v) > 0 {
			return 1
		}
		if b.first.add64(b.n-1).cmp(v) < 0 {
			return -1
		}
		return 0
	})
	return found
}

func (s *Space) contains(ap netip.AddrPort) bool {
	_, ok := slices.BinarySearch(s.ports, ap.Port())
	return ok && s.containsAddr(ap.Addr())
}

// Size returns the number of targets: addresses × ports, minus excluded
// ports and excluded services. It is exactly what the shards of one Walk
// yield together.
func (s *Space) Size() uint64 { return s.size }

// Addresses returns the number of addresses after exclusions.
func (s *Space) Addresses() uint64 { return s.addrs }

// Ports returns the ports scanned on every address, in order.
func (s *Space) Ports() []uint16 { return slices.Clone(s.ports) }

// Ranges yields the address ranges of the space in order, IPv4 first.
func (s *Space) Ranges() iter.Seq[Range] {
	return func(yield func(Range) bool) {
		for _, b := range s.blocks {
			if !yield(Range{b.first.addr(b.is4), b.first.add64(b.n - 1).addr(b.is4)}) {
				return
			}
		}
	}
}

// Contains reports whether t (address and port) is inside the space: a scan
// of the space is evidence about t, so only it can find t closed.
func (s *Space) Contains(t ajar.Target) bool {
	return s.contains(netip.AddrPortFrom(t.Addr.Unmap(), t.Port))
}
