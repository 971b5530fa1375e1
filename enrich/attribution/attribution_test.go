package attribution

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"

	"github.com/ajar-scan/ajar"
)

// writeMMDB builds a MaxMind-format database covering 127.0.10.0/24 with
// the fields of GeoLite2-ASN and GeoLite2-Country.
func writeMMDB(t *testing.T) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "ajar-test-asn-country", IncludeReservedNetworks: true, IPVersion: 4, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	_, network, _ := net.ParseCIDR("127.0.10.0/24")
	if err := tree.Insert(network, mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(37963),
		"autonomous_system_organization": mmdbtype.String("Hangzhou Alibaba Advertising Co.,Ltd."),
		"country":                        mmdbtype.Map{"iso_code": mmdbtype.String("CN")},
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "test.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

// ptrServer answers PTR queries for 127.0.10.x on a loopback address with
// the names of EC2 instances, and counts the queries it gets.
func ptrServer(t *testing.T) (addr string, queries *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.20.53:0")
	if err != nil {
		t.Fatal(err)
	}
	queries = &atomic.Int64{}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, m *dns.Msg) {
		queries.Add(1)
		r := new(dns.Msg)
		r.SetReply(m)
		for _, q := range m.Question {
			if q.Qtype != dns.TypePTR || !strings.HasSuffix(q.Name, ".10.0.127.in-addr.arpa.") {
				r.Rcode = dns.RcodeNameError
				continue
			}
			host := strings.TrimSuffix(q.Name, ".10.0.127.in-addr.arpa.")
			r.Answer = append(r.Answer, &dns.PTR{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 60},
				Ptr: "ec2-127-0-10-" + host + ".cn-north-1.compute.amazonaws.com.cn.",
			})
		}
		_ = w.WriteMsg(r)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String(), queries
}

func event(addr string, tls *ajar.TLS) *ajar.Event {
	return &ajar.Event{Target: ajar.Target{Addr: netip.MustParseAddr(addr), Port: 9200}, Service: ajar.Service{TLS: tls}}
}

// reasons renders the attribution as field=value(source) items.
func reasons(a *ajar.Attribution) string {
	if a == nil {
		return "none"
	}
	var s []string
	for _, r := range a.Reasons {
		s = append(s, r.Field+"="+r.Value+"("+r.Source+")")
	}
	return strings.Join(s, " ")
}

func TestAttribute(t *testing.T) {
	ctx := context.Background()
	mmdb := writeMMDB(t)
	ranges := filepath.Join(t.TempDir(), "ajar.db.ranges")
	csv, err := Parse(mustOpen(t, "ranges.csv"), "", "ranges.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ranges, csv); err != nil {
		t.Fatal(err)
	}
	dnsAddr, queries := ptrServer(t)

	withDNS, err := New(Config{Ranges: ranges, MMDB: []string{mmdb}, Resolver: dnsAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer withDNS.Close()
	noDNS, err := New(Config{Ranges: ranges, MMDB: []string{mmdb}})
	if err != nil {
		t.Fatal(err)
	}
	defer noDNS.Close()

	for _, tc := range []struct {
		name string
		e    *Enricher
		ev   *ajar.Event
		want string
	}{
		{
			"managed Elasticsearch by its certificate", noDNS,
			event("127.0.10.100", &ajar.TLS{Subject: "CN=es-cn-abc123.elasticsearch.aliyuncs.com", Names: []string{"*.elasticsearch.aliyuncs.com"}}),
			"provider=alibaba(certificate-name) asn=37963(mmdb) org=Hangzhou Alibaba Advertising Co.,Ltd.(mmdb) country=CN(mmdb) hosting=managed-service(certificate-name)",
		},
		{
			"a compute instance by reverse DNS", withDNS, event("127.0.10.200", nil),
			"provider=aws(reverse-dns) asn=37963(mmdb) org=Hangzhou Alibaba Advertising Co.,Ltd.(mmdb) country=CN(mmdb) hosting=customer-instance(reverse-dns)",
		},
		{
			"only in a provider's range", noDNS, event("127.0.10.5", nil),
			"provider=tencent(ip-range) asn=37963(mmdb) org=Hangzhou Alibaba Advertising Co.,Ltd.(mmdb) country=CN(mmdb) hosting=customer-instance(ip-range)",
		},
		{
			"the range names the provider, the certificate the managed service", noDNS,
			event("127.0.10.6", &ajar.TLS{Names: []string{"sh-cdb-abc.sql.tencentcdb.com"}}),
			"provider=tencent(ip-range) asn=37963(mmdb) org=Hangzhou Alibaba Advertising Co.,Ltd.(mmdb) country=CN(mmdb) hosting=managed-service(certificate-name)",
		},
		{
			"only the databases know it", noDNS, event("127.0.10.150", &ajar.TLS{Names: []string{"example.com"}}),
			"asn=37963(mmdb) org=Hangzhou Alibaba Advertising Co.,Ltd.(mmdb) country=CN(mmdb) hosting=unknown(ip-range)",
		},
		{"nothing known", noDNS, event("127.0.11.1", nil), "none"},
	} {
		tc.e.Attribute(ctx, tc.ev)
		if got := reasons(tc.ev.Attribution); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// Reverse DNS is asked only of the resolver given, and only when one is.
	if n := queries.Load(); n != 1 {
		t.Errorf("%d DNS queries, want 1 (only the enricher with a resolver asks)", n)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{MMDB: []string{filepath.Join(t.TempDir(), "missing.mmdb")}}); err == nil {
		t.Error("missing mmdb accepted")
	}
	if _, err := New(Config{Resolver: "127.0.20.53"}); err == nil {
		t.Error("resolver without a port accepted")
	}
	var e *Enricher
	e.Attribute(context.Background(), event("127.0.10.1", nil)) // a nil enricher does nothing
}
