// Package attribution says who hosts an exposed service and how each answer
// was inferred: published IP ranges, certificate and reverse-DNS names, and
// MaxMind-format databases for the AS number, organisation and country.
package attribution

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/ajar-scan/ajar"
)

// Sources of a reason, as the output contract names them.
const (
	SourceIPRange    = "ip-range"
	SourceCertName   = "certificate-name"
	SourceReverseDNS = "reverse-dns"
	SourceHTTPHeader = "http-header"
	SourceMMDB       = "mmdb"
)

// Config says where attribution data comes from. Every part is optional.
type Config struct {
	// Ranges is the ranges file `ajar ranges import` writes beside the
	// store; a missing file holds no ranges.
	Ranges string
	// MMDB are MaxMind-format databases (GeoLite2-ASN, GeoLite2-Country or
	// -City, GeoIP2-ISP…), looked up in order: the first that answers a
	// field gives it.
	MMDB []string
	// Resolver is the DNS server (ADDR:PORT) asked for PTR records. Empty
	// means no reverse DNS at all: nothing is sent.
	Resolver string
	// Timeout bounds one reverse-DNS lookup; zero means 2s.
	Timeout time.Duration
}

// Enricher attributes events. It is safe for concurrent use.
type Enricher struct {
	ranges   *Table
	dbs      []*maxminddb.Reader
	names    []string // of dbs, for reasons
	resolver *net.Resolver
	timeout  time.Duration
}

// New loads the ranges file and opens the databases of cfg.
func New(cfg Config) (*Enricher, error) {
	e := &Enricher{timeout: cfg.Timeout}
	if e.timeout <= 0 {
		e.timeout = 2 * time.Second
	}
	if cfg.Ranges != "" {
		rs, err := ReadFile(cfg.Ranges)
		if err != nil {
			return nil, err
		}
		e.ranges = NewTable(rs)
	}
	for _, p := range cfg.MMDB {
		db, err := maxminddb.Open(p)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("open mmdb %s: %w", p, err)
		}
		e.dbs = append(e.dbs, db)
		e.names = append(e.names, filepath.Base(p))
	}
	if cfg.Resolver != "" {
		if _, _, err := net.SplitHostPort(cfg.Resolver); err != nil {
			e.Close()
			return nil, fmt.Errorf("resolver %q: want ADDR:PORT: %w", cfg.Resolver, err)
		}
		server := cfg.Resolver
		e.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			// Every query goes to the resolver the user named, never to
			// the system's.
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}}
	}
	return e, nil
}

// Close releases the databases.
func (e *Enricher) Close() error {
	var errs []error
	for _, db := range e.dbs {
		errs = append(errs, db.Close())
	}
	e.dbs = nil
	return errors.Join(errs...)
}

// Attribute fills ev.Attribution from what is known of its address and its
// service. Provider: the published ranges first (the provider's own word),
// then reverse-DNS names (set by the address's owner), certificate names
// and Server headers. Hosting: managed-service when a name is
// the provider's managed-service domain, customer-instance when a name is a
// compute instance's or the address is only in the provider's ranges,
// otherwise unknown. Nothing is set when nothing is known.
func (e *Enricher) Attribute(ctx context.Context, ev *ajar.Event) {
	if e == nil || ev == nil {
		return
	}
	a := &ajar.Attribution{}
	add := func(field, value, source, detail string) {
		a.Reasons = append(a.Reasons, ajar.Reason{Field: field, Value: value, Source: source, Detail: detail})
	}
	provider := func(p, source, detail string) {
		if a.Provider == "" {
			a.Provider = p
			add("provider", p, source, detail)
		}
	}
	var hosting, hostingSource, hostingDetail string
	host := func(kind, source, detail string) {
		// A managed-service name outranks everything; a compute name or a
		// range outranks nothing.
		if hosting == "" || kind == ajar.HostingManaged && hosting != ajar.HostingManaged {
			hosting, hostingSource, hostingDetail = kind, source, detail
		}
	}
	addr := ev.Addr.Unmap()
	inRange := false
	if r, ok := e.ranges.Lookup(addr); ok {
		inRange = true
		provider(r.Provider, SourceIPRange, rangeDetail(r))
	}

	type named struct{ name, source, note string }
	var names []named
	for _, n := range e.ptr(ctx, addr) {
		names = append(names, named{n, SourceReverseDNS, ""})
	}
	if t := ev.TLS; t != nil {
		note := ""
		if t.SelfSigned {
			note = " (self-signed)"
		}
		for _, n := range certNames(t.Subject, t.Names) {
			names = append(names, named{n, SourceCertName, note})
		}
	}
	for _, n := range names {
		s, ok := matchName(n.name)
		if !ok {
			continue
		}
		provider(s.provider, n.source, n.name+n.note)
		switch s.kind {
		case managed:
			host(ajar.HostingManaged, n.source, n.name+" is "+s.provider+"'s managed-service domain "+s.domain+n.note)
		case compute:
			host(ajar.HostingCustomer, n.source, n.name+" is a compute instance's name under "+s.domain+n.note)
		}
	}
	if h := ev.HTTP; h != nil && h.Server != "" {
		srv := strings.ToLower(strings.Fields(h.Server + " x")[0])
		if p, ok := serverHeaders[srv]; ok {
			provider(p, SourceHTTPHeader, "Server: "+h.Server)
			host(ajar.HostingManaged, SourceHTTPHeader, "Server: "+h.Server+" is "+p+"'s managed storage")
		}
	}
	if inRange && hosting == "" {
		host(ajar.HostingCustomer, SourceIPRange, "in "+a.Provider+"'s published ranges and under no managed-service name")
	}

	e.lookup(addr, a, add)

	if a.Provider == "" && a.ASN == 0 && a.Org == "" && a.Country == "" {
		return
	}
	if hosting == "" {
		// Unknown for want of a range or a name: the reason is the range
		// lookup that found nothing.
		detail := "address in no provider's published ranges, no managed-service or compute name"
		if e.ranges == nil || e.ranges.Len() == 0 {
			detail = "no ranges imported (ajar ranges import), no managed-service or compute name"
		}
		hosting, hostingSource, hostingDetail = ajar.HostingUnknown, SourceIPRange, detail
	}
	a.Hosting = hosting
	add("hosting", hosting, hostingSource, hostingDetail)
	ev.Attribution = a
}

func rangeDetail(r Range) string {
	var parts []string
	for _, s := range []string{r.Region, r.Service} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	d := r.Prefix.String()
	if len(parts) > 0 {
		d += " (" + strings.Join(parts, ", ") + ")"
	}
	return d + " from " + r.Source
}

// ptr returns the PTR names of addr, or none when no resolver was given or
// the lookup fails.
func (e *Enricher) ptr(ctx context.Context, addr netip.Addr) []string {
	if e.resolver == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	names, err := e.resolver.LookupAddr(ctx, addr.String())
	if err != nil {
		return nil
	}
	return names
}

// record holds the fields ajar reads from the MaxMind databases: ASN
// (GeoLite2-ASN), country (GeoLite2-Country and -City) and the traits and
// ISP fields of the commercial databases.
type record struct {
	ASN     uint32 `maxminddb:"autonomous_system_number"`
	ASOrg   string `maxminddb:"autonomous_system_organization"`
	ISP     string `maxminddb:"isp"`
	Org     string `maxminddb:"organization"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Registered struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Traits struct {
		ASN   uint32 `maxminddb:"autonomous_system_number"`
		ASOrg string `maxminddb:"autonomous_system_organization"`
		Org   string `maxminddb:"organization"`
	} `maxminddb:"traits"`
}

// lookup fills ASN, organisation and country from the databases.
func (e *Enricher) lookup(addr netip.Addr, a *ajar.Attribution, add func(field, value, source, detail string)) {
	for i, db := range e.dbs {
		res := db.Lookup(addr)
		if !res.Found() {
			continue
		}
		var r record
		if err := res.Decode(&r); err != nil {
			continue
		}
		detail := e.names[i] + " " + res.Prefix().String()
		if asn := max(r.ASN, r.Traits.ASN); a.ASN == 0 && asn != 0 {
			a.ASN = asn
			add("asn", strconv.FormatUint(uint64(asn), 10), SourceMMDB, detail)
		}
		if org := firstOf(r.ASOrg, r.Traits.ASOrg, r.Org, r.Traits.Org, r.ISP); a.Org == "" && org != "" {
			a.Org = org
			add("org", org, SourceMMDB, detail)
		}
		if c := firstOf(r.Country.ISOCode, r.Registered.ISOCode); a.Country == "" && c != "" {
			a.Country = c
			add("country", c, SourceMMDB, detail)
		}
	}
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
