package targets

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Range is an inclusive range of addresses of one family.
type Range struct {
	First, Last netip.Addr
}

// String renders the range as an address when it holds one, as a prefix
// when it is exactly one, and as "first-last" otherwise.
func (r Range) String() string {
	if r.First == r.Last {
		return r.First.String()
	}
	if bits, ok := r.prefixBits(); ok {
		return netip.PrefixFrom(r.First, bits).String()
	}
	return r.First.String() + "-" + r.Last.String()
}

func (r Range) prefixBits() (int, bool) {
	for b := 0; b <= r.First.BitLen(); b++ {
		p := netip.PrefixFrom(r.First, b)
		if p.Masked().Addr() != r.First {
			continue
		}
		if s := spanOf(p); s.hi == fromAddr(r.Last) {
			return b, true
		}
	}
	return 0, false
}

func (r Range) span() span { return span{fromAddr(r.First), fromAddr(r.Last)} }

// ParseTarget parses one target entry: an address ("127.0.10.5", "::1"), a
// prefix ("127.0.10.0/24"; host bits are ignored), a range of two addresses of
// the same family ("127.0.10.1-127.0.10.9") or a host name. It returns the
// range, or the host name when s is one; nothing is resolved here.
// IPv4-mapped IPv6 addresses are returned as IPv4.
func ParseTarget(s string) (r Range, host string, err error) {
	r, host, err = parseTarget(strings.TrimSpace(s))
	if err != nil {
		return Range{}, "", fmt.Errorf("bad target %q: %w", s, err)
	}
	return r, host, nil
}

func parseTarget(s string) (Range, string, error) {
	if s == "" {
		return Range{}, "", errors.New("empty")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Range{}, "", err
		}
		p = p.Masked()
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		sp := spanOf(p)
		is4 := p.Addr().Is4()
		return Range{sp.lo.addr(is4), sp.hi.addr(is4)}, "", nil
	}
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err := parseAddr(first)
		if err == nil {
			b, err := parseAddr(last)
			if err != nil {
				return Range{}, "", fmt.Errorf("end of range: %w", err)
			}
			if a.Is4() != b.Is4() {
				return Range{}, "", errors.New("range mixes IPv4 and IPv6")
			}
			if b.Less(a) {
				return Range{}, "", errors.New("range ends before it starts")
			}
			return Range{a, b}, "", nil
		}
	}
	a, err := parseAddr(s)
	if err == nil {
		return Range{a, a}, "", nil
	}
	if isHostName(s) {
		return Range{}, strings.ToLower(strings.TrimSuffix(s, ".")), nil
	}
	if strings.Trim(s, "0123456789.") == "" || strings.Contains(s, ":") {
		return Range{}, "", err // meant as an address: say what is wrong with it
	}
	return Range{}, "", errors.New("not an IP address, prefix, range or host name")
}

// parseAddr parses an address without a zone, unmapping IPv4-mapped IPv6.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s: zones are not supported", s)
	}
	return a.Unmap(), nil
}

// isHostName reports whether s is a DNS name in the preferred syntax of
// RFC 1123 §2.1 (letters, digits, hyphens; labels of 1–63 octets; at most
// 253 octets), also allowing '_' as real zones do. The last label must not be
// all digits (RFC 3696 §2), so "127.0.10.300" is a bad address, not a name.
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// ParsePorts parses a port list such as "80,443,8000-8100,data": numbers,
// inclusive ranges and names looked up in named (case-insensitive keys are
// expected in lower case). The result is sorted and free of duplicates.
func ParsePorts(s string, named map[string][]uint16) ([]uint16, error) {
	var set portSet
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("bad port list: empty")
	}
	for part := range strings.SplitSeq(s, ",") {
		if err := set.addPart(strings.TrimSpace(part), named); err != nil {
			return nil, fmt.Errorf("bad port %q in %q: %w", strings.TrimSpace(part), s, err)
		}
	}
	return set.list(), nil
}

// portSet is a bitmap of the 65536 ports.
type portSet [1024]uint64

func (p *portSet) add(port uint16)      { p[port>>6] |= 1 << (port & 63) }
func (p *portSet) has(port uint16) bool { return p[port>>6]&(1<<(port&63)) != 0 }
func (p *portSet) addAll(ports ...uint16) {
	for _, x := range ports {
		p.add(x)
	}
}

func (p *portSet) addPart(part string, named map[string][]uint16) error {
	if part == "" {
		return errors.New("empty item")
	}
	if c := part[0]; c < '0' || c > '9' {
		ports, ok := named[strings.ToLower(part)]
		if !ok {
			return errors.New("unknown port set")
		}
		for _, x := range ports {
			if x == 0 {
				return errors.New("port set holds port 0")
			}
		}
		p.addAll(ports...)
		return nil
	}
	lo, hi, isRange := strings.Cut(part, "-")
	a, err := parsePort(lo)
	if err != nil {
		return err
	}
	b := a
	if isRange {
		if b, err = parsePort(hi); err != nil {
			return err
		}
		if b < a {
			return errors.New("range ends before it starts")
		}
	}
	for x := uint32(a); x <= uint32(b); x++ {
		p.add(uint16(x))
	}
	return nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number from 1 to 65535", s)
	}
	return uint16(n), nil
}

func (p *portSet) list() []uint16 {
	var out []uint16
	for x := range 65536 {
		if p.has(uint16(x)) {
			out = append(out, uint16(x))
		}
	}
	return out
}

// parsePortExclusion parses one --exclude-ports item: a port, a range, a
// comma-separated list of those, "IP:PORT" or "[IPv6]:PORT".
func parsePortExclusion(s string, ports *portSet, addrPorts map[netip.AddrPort]struct{}) error {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ":") {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return fmt.Errorf("bad port exclusion %q: want PORT, PORT-PORT, IP:PORT or [IPv6]:PORT: %w", s, err)
		}
		if ap.Port() == 0 || ap.Addr().Zone() != "" {
			return fmt.Errorf("bad port exclusion %q: want a port from 1 to 65535 and no zone", s)
		}
		addrPorts[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = struct{}{}
		return nil
	}
	list, err := ParsePorts(s, nil)
	if err != nil {
		return fmt.Errorf("bad port exclusion: %w", err)
	}
	ports.addAll(list...)
	return nil
}

// ParseShard parses "i/n", the i-th of n shards counting from 1.
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("bad shard %q: want i/n, as in 1/4", s)
	}
	if err := checkShard(i, n); err != nil {
		return 0, 0, fmt.Errorf("bad shard %q: %w", s, err)
	}
	return i, n, nil
}

func checkShard(i, n int) error {
	if n < 1 || i < 1 || i > n {
		return fmt.Errorf("shard %d of %d does not exist (want 1 ≤ i ≤ n)", i, n)
	}
	return nil
}
