package targets

import "net/netip"

// DefaultExcludes returns the ranges excluded unless Spec.NoDefaultExcludes
// is set: the blocks of the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890, updated by RFC 8190) that are not globally
// reachable, widened to their covering block where the registry lists a few
// reachable addresses inside one, plus multicast, which has
// registries of its own. Loopback is among them; see Build for how a
// target inside loopback is still scanned.
//
// https://www.iana.org/assignments/iana-ipv4-special-registry/
// https://www.iana.org/assignments/iana-ipv6-special-registry/
func DefaultExcludes() []netip.Prefix {
	return []netip.Prefix{
		// IPv4
		netip.MustParsePrefix("0.0.0.0/8"),          // "this network", RFC 791 §3.2
		netip.MustParsePrefix("10.0.0.0/8"),         // private use, RFC 1918
		netip.MustParsePrefix("100.64.0.0/10"),      // shared address space, RFC 6598
		netip.MustParsePrefix("127.0.0.0/8"),        // loopback, RFC 1122 §3.2.1.3
		netip.MustParsePrefix("169.254.0.0/16"),     // link local, RFC 3927
		netip.MustParsePrefix("172.16.0.0/12"),      // private use, RFC 1918
		netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments, RFC 6890 §2.1
		netip.MustParsePrefix("192.0.2.0/24"),       // documentation TEST-NET-1, RFC 5737
		netip.MustParsePrefix("192.88.99.0/24"),     // deprecated 6to4 relay anycast, RFC 7526
		netip.MustParsePrefix("192.168.0.0/16"),     // private use, RFC 1918
		netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking, RFC 2544
		netip.MustParsePrefix("198.51.100.0/24"),    // documentation TEST-NET-2, RFC 5737
		netip.MustParsePrefix("203.0.113.0/24"),     // documentation TEST-NET-3, RFC 5737
		netip.MustParsePrefix("224.0.0.0/4"),        // multicast, RFC 5771
		netip.MustParsePrefix("240.0.0.0/4"),        // reserved, RFC 1112 §4
		netip.MustParsePrefix("255.255.255.255/32"), // limited broadcast, RFC 919 §7, RFC 8190

		// IPv6
		netip.MustParsePrefix("::/128"),         // unspecified, RFC 4291 §2.5.2
		netip.MustParsePrefix("::1/128"),        // loopback, RFC 4291 §2.5.3
		netip.MustParsePrefix("::ffff:0:0/96"),  // IPv4-mapped, RFC 4291 §2.5.5.2
		netip.MustParsePrefix("64:ff9b::/96"),   // IPv4/IPv6 translation, RFC 6052
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use IPv4/IPv6 translation, RFC 8215
		netip.MustParsePrefix("100::/64"),       // discard-only, RFC 6666
		netip.MustParsePrefix("100:0:0:1::/64"), // dummy prefix, RFC 9780
		netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments, RFC 2928
		netip.MustParsePrefix("2001:db8::/32"),  // documentation, RFC 3849
		netip.MustParsePrefix("3fff::/20"),      // documentation, RFC 9637
		netip.MustParsePrefix("5f00::/16"),      // SRv6 SIDs, RFC 9602
		netip.MustParsePrefix("fc00::/7"),       // unique local, RFC 4193
		netip.MustParsePrefix("fe80::/10"),      // link-local unicast, RFC 4291 §2.5.6
		netip.MustParsePrefix("ff00::/8"),       // multicast, RFC 4291 §2.7
	}
}

// loopback returns the loopback blocks: a target inside one of them is
// scanned only when it is named explicitly.
func loopback() (v4, v6 span) {
	return spanOf(netip.MustParsePrefix("127.0.0.0/8")), spanOf(netip.MustParsePrefix("::1/128"))
}
