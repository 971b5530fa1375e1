package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
)

// RunSearch runs the search-language tests against a store that implements
// ajar.Searcher.
func RunSearch(t *testing.T, open func(t *testing.T) ajar.Store) {
	t.Run("Search", func(t *testing.T) {
		s := open(t)
		se, ok := s.(ajar.Searcher)
		if !ok {
			t.Fatalf("%T does not implement ajar.Searcher", s)
		}
		testSearch(t, s, se)
	})
}

// searchFixture records a small, varied world and returns its base time.
func searchFixture(t *testing.T, s ajar.Store) time.Time {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)
	type fx struct {
		addr     string
		port     uint16
		plugin   string
		status   ajar.Status
		records  int64
		bytes    int64
		classes  []string
		provider string
		country  string
		asn      uint32
		names    []string
		ransom   bool
		first    time.Duration // after t0
		closed   bool
	}
	rows := []fx{
		{"47.100.1.5", 9200, "elasticsearch", ajar.StatusExposed, 3_000_000, 1_288_490_188, []string{"phone", "cn_resident_id", "address"}, "alibaba", "CN", 37963, []string{"es-cn-abc.elasticsearch.aliyuncs.com"}, false, 0, false},
		{"47.101.2.6", 6379, "redis", ajar.StatusExposed, 2500, 1_900_000, []string{"phone"}, "alibaba", "CN", 37963, nil, false, 24 * time.Hour, false},
		{"52.1.2.3", 27017, "mongodb", ajar.StatusWiped, 1, 300, nil, "aws", "US", 14618, []string{"ec2-52-1-2-3.compute-1.amazonaws.com"}, true, 48 * time.Hour, false},
		{"52.1.2.4", 5432, "postgresql", ajar.StatusProtected, 0, 0, nil, "aws", "US", 14618, nil, false, 72 * time.Hour, false},
		{"203.0.113.9", 3306, "mysql", ajar.StatusExposed, 120, 40_000, []string{"email"}, "", "DE", 0, nil, false, 0, true},
		{"2001:db8::5", 9200, "elasticsearch", ajar.StatusExposed, 10, 1000, nil, "hetzner", "DE", 24940, nil, false, 0, false},
	}
	for _, r := range rows {
		ev := ajar.Event{Schema: ajar.Schema, Time: t0.Add(r.first), Scan: "s1",
			Target:  ajar.Target{Addr: netip.MustParseAddr(r.addr), Port: r.port},
			Service: ajar.Service{Transport: "tcp", Protocol: r.plugin, Product: "P-" + r.plugin, Version: "7.17.9"},
			Plugin:  r.plugin, Status: r.status}
		if len(r.names) > 0 {
			ev.Transport = "tls"
			ev.TLS = &ajar.TLS{Names: r.names}
		}
		if r.provider != "" || r.country != "" {
			ev.Attribution = &ajar.Attribution{Provider: r.provider, Country: r.country, ASN: r.asn}
		}
		if r.status == ajar.StatusExposed || r.status == ajar.StatusWiped {
			ev.Exposure = &ajar.Exposure{Plugin: r.plugin, Access: ajar.AccessRead, Records: r.records, Bytes: r.bytes,
				Classes:  r.classes,
				Datasets: []ajar.Dataset{{Name: "person_info", Records: r.records, Bytes: r.bytes, Fields: []string{"sfzh", "sjhm"}}},
				Severity: ajar.SeverityHigh}
			if r.ransom {
				ev.Exposure.Ransom = &ajar.Ransom{Note: "pay", Datasets: []string{"read_me"}}
				ev.Exposure.Datasets = []ajar.Dataset{{Name: "read_me", Records: 1}}
			}
		}
		if err := s.Record(ctx, &ev); err != nil {
			t.Fatal(err)
		}
		if r.closed {
			cl := ajar.Event{Schema: ajar.Schema, Time: t0.Add(40 * 24 * time.Hour), Target: ev.Target,
				Service: ev.Service, Plugin: ev.Plugin, Status: ajar.StatusClosed}
			if err := s.Record(ctx, &cl); err != nil {
				t.Fatal(err)
			}
		}
	}
	return t0
}

func testSearch(t *testing.T, s ajar.Store, se ajar.Searcher) {
	ctx := context.Background()
	t0 := searchFixture(t, s)
	now := t0.Add(100 * 24 * time.Hour)
	keys := func(res *ajar.SearchResult) []string {
		var out []string
		for _, r := range res.Items {
			out = append(out, fmt.Sprintf("%s/%s", r.Last.Target, r.Last.Plugin))
		}
		return out
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{``, []string{"47.100.1.5:9200/elasticsearch", "47.101.2.6:6379/redis", "52.1.2.3:27017/mongodb", "52.1.2.4:5432/postgresql", "203.0.113.9:3306/mysql", "[2001:db8::5]:9200/elasticsearch"}},
		{`protocol:elasticsearch class:cn_resident_id provider:alibaba status:exposed`, []string{"47.100.1.5:9200/elasticsearch"}},
		{`provider:ali*`, []string{"47.100.1.5:9200/elasticsearch", "47.101.2.6:6379/redis"}},
		{`ip:47.100.0.0/14`, []string{"47.100.1.5:9200/elasticsearch", "47.101.2.6:6379/redis"}},
		{`ip:2001:db8::/32`, []string{"[2001:db8::5]:9200/elasticsearch"}},
		{`records>100000`, []string{"47.100.1.5:9200/elasticsearch"}},
		{`bytes>=1GB`, []string{"47.100.1.5:9200/elasticsearch"}},
		{`name:*.aliyuncs.com`, []string{"47.100.1.5:9200/elasticsearch"}},
		{`name:*.amazonaws.com OR status:protected`, []string{"52.1.2.3:27017/mongodb", "52.1.2.4:5432/postgresql"}},
		{`-status:exposed`, []string{"52.1.2.3:27017/mongodb", "52.1.2.4:5432/postgresql", "203.0.113.9:3306/mysql"}},
		{`status:closed open_for>30d`, []string{"203.0.113.9:3306/mysql"}},
		{`ransom:true`, []string{"52.1.2.3:27017/mongodb"}},
		{`first_seen>=2026-01-11 first_seen<2026-01-13`, []string{"47.101.2.6:6379/redis", "52.1.2.3:27017/mongodb"}},
		{`asn:AS14618 port:5432`, []string{"52.1.2.4:5432/postgresql"}},
		{`country:de (class:email OR records<100)`, []string{"203.0.113.9:3306/mysql", "[2001:db8::5]:9200/elasticsearch"}},
		{`sfzh protocol:redis`, []string{"47.101.2.6:6379/redis"}},
		{`field:sjhm -protocol:elasticsearch`, []string{"47.101.2.6:6379/redis", "203.0.113.9:3306/mysql"}},
		{`dataset:read_me`, []string{"52.1.2.3:27017/mongodb"}},
		{`product:p-redis version:7.*`, []string{"47.101.2.6:6379/redis"}},
		{`disclosure:new port:6379`, []string{"47.101.2.6:6379/redis"}},
		{`protocol:"x' OR 1=1 --"`, nil},
	} {
		res, err := se.Search(ctx, ajar.SearchRequest{Query: tc.q, Now: now})
		if err != nil {
			t.Errorf("%q: %v", tc.q, err)
			continue
		}
		if got := keys(res); !slices.Equal(got, tc.want) || res.Total != int64(len(tc.want)) {
			t.Errorf("%q: got %v (total %d), want %v", tc.q, got, res.Total, tc.want)
		}
	}

	// Pages: three of two cover everything once, in order.
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		res, err := se.Search(ctx, ajar.SearchRequest{Limit: 2, Cursor: cursor, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, keys(res)...)
		if res.Total != 6 {
			t.Errorf("page %d: total %d", page, res.Total)
		}
		if res.NextCursor == "" {
			break
		}
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = res.NextCursor
	}
	if len(all) != 6 || all[0] != "47.100.1.5:9200/elasticsearch" || all[5] != "[2001:db8::5]:9200/elasticsearch" {
		t.Errorf("pages gave %v", all)
	}

	// Facets count the matching exposures.
	res, err := se.Search(ctx, ajar.SearchRequest{Query: `-status:protected`, Facets: []string{"provider", "class", "country", "status"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]ajar.FacetCount{
		"provider": {{Value: "alibaba", Count: 2}, {Value: "aws", Count: 1}, {Value: "hetzner", Count: 1}, {Value: "unknown", Count: 1}},
		"class":    {{Value: "phone", Count: 2}, {Value: "address", Count: 1}, {Value: "cn_resident_id", Count: 1}, {Value: "email", Count: 1}},
		"country":  {{Value: "CN", Count: 2}, {Value: "DE", Count: 2}, {Value: "US", Count: 1}},
		"status":   {{Value: "exposed", Count: 3}, {Value: "closed", Count: 1}, {Value: "wiped", Count: 1}},
	}
	for f, w := range want {
		if !slices.Equal(res.Facets[f], w) {
			t.Errorf("facet %s: got %v, want %v", f, res.Facets[f], w)
		}
	}

	// Bad input is a query error with a column.
	for _, q := range []string{`colour:red`, `records>lots`, `(protocol:x`} {
		_, err := se.Search(ctx, ajar.SearchRequest{Query: q, Now: now})
		var qe *query.Error
		if !errors.As(err, &qe) || qe.Col < 1 {
			t.Errorf("%q: error %v, want a *query.Error", q, err)
		}
	}
	if _, err := se.Search(ctx, ajar.SearchRequest{Facets: []string{"password"}}); err == nil {
		t.Error("a facet on an unknown field was accepted")
	}
	if _, err := se.Search(ctx, ajar.SearchRequest{Cursor: "!!!"}); err == nil {
		t.Error("a garbage cursor was accepted")
	}
}
