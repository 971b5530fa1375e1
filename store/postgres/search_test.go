package postgres

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
	"github.com/ajar-scan/ajar/store/sqlite"
)

// searchStore is what the comparison of the two stores uses.
type searchStore interface {
	ajar.Store
	ajar.Searcher
	ajar.DisclosureStore
}

// world records the same varied, seeded set of observations in every
// store: both address families, mixed-case and non-ASCII text, LIKE's
// special characters in names, closed and reopened exposures, disclosures
// under way when a scan closes them.
func world(t *testing.T, stores ...searchStore) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	t0 := time.Date(2026, 1, 10, 8, 0, 0, 123456789, time.UTC)
	plugins := []string{"redis", "elasticsearch", "mongodb", "mysql", "Kibana", ""}
	for i := range 240 {
		var addr netip.Addr
		switch i % 4 {
		case 0:
			addr = netip.AddrFrom4([4]byte{47, byte(100 + i%3), byte(i), byte(i * 7)})
		case 1:
			addr = netip.AddrFrom4([4]byte{byte(1 + i%250), 2, 3, byte(i)})
		case 2:
			addr = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x:%x", i*977&0xffff, i*31))
		default:
			addr = netip.MustParseAddr(fmt.Sprintf("::ffff:203.0.113.%d", i%256))
		}
		plugin := plugins[rng.IntN(len(plugins))]
		status := ajar.StatusExposed
		switch {
		case plugin == "":
			status = ajar.StatusOpen
		case i%7 == 3:
			status = ajar.StatusProtected
		case i%11 == 5:
			status = ajar.StatusWiped
		}
		ev := ajar.Event{Schema: ajar.Schema, Scan: "s1",
			Time:    t0.Add(time.Duration(i)*97*time.Minute + time.Duration(i*7919)*time.Nanosecond),
			Target:  ajar.Target{Addr: addr, Port: []uint16{6379, 9200, 27017, 3306, 80, 443}[i%6]},
			Service: ajar.Service{Transport: "tcp", Protocol: strings.ToLower(plugin), Product: pick("Redis", "redis", "Elasticsearch", "MongoDB", ""), Version: pick("7.17.9", "6.2.1", "8.0", "")},
			Plugin:  plugin, Status: status,
		}
		if i%3 == 0 {
			ev.Transport = "tls"
			ev.TLS = &ajar.TLS{Names: []string{pick("es-cn-abc.elasticsearch.aliyuncs.com", "ec2-52-1-2-3.compute-1.amazonaws.com", "DB.Example.TEST"), "*.example.test"}}
		}
		if i%5 != 4 {
			ev.Attribution = &ajar.Attribution{
				Provider: pick("alibaba", "Alibaba", "aws", "hetzner", "Egypt Net", "a_b%c", ""),
				Hosting:  pick(ajar.HostingManaged, ajar.HostingCustomer, ajar.HostingUnknown, ""),
				Country:  pick("CN", "US", "DE", "de", ""),
				ASN:      []uint32{37963, 14618, 24940, 0, 4294967295}[rng.IntN(5)],
				Org:      pick("Alibaba Cloud", "Amazon.com, Inc.", "Hetzner Online GmbH", "ÄÖÜ GmbH", ""),
			}
		}
		if status == ajar.StatusExposed || status == ajar.StatusWiped {
			records := []int64{0, 1, 99, 100, 2500, 100_000, 3_000_000}[rng.IntN(7)]
			ev.Exposure = &ajar.Exposure{Plugin: plugin, Access: ajar.AccessRead, Records: records, Bytes: records * 430,
				Classes: []string{pick("phone", "email", "cn_resident_id", "Address")},
				Datasets: []ajar.Dataset{
					{Name: pick("person_info", "Person_Info", "a_b1", "axb1", "100%_done", "日志"), Records: records, Fields: []string{pick("sfzh", "SJHM", "email"), "id"},
						Classes: map[string]ajar.ClassCount{pick("phone", "bank_card"): {Count: 3, Confidence: 0.9}}},
				},
				Severity: ajar.Severity(pick("critical", "high", "low", "")),
			}
			if status == ajar.StatusWiped && i%2 == 0 {
				ev.Exposure.Ransom = &ajar.Ransom{Note: "pay", Datasets: []string{"read_me"}}
			}
		}
		closed := i%6 == 1
		reopened := i%12 == 1
		for _, s := range stores {
			e := ev
			if err := s.Record(ctx, &e); err != nil {
				t.Fatal(err)
			}
			if i%4 == 1 {
				r, err := s.Get(ctx, e.Key())
				if err != nil {
					t.Fatal(err)
				}
				state := []string{ajar.DisclosureTriaged, ajar.DisclosureNotified, ajar.DisclosureIgnored}[i%3]
				if err := s.SetDisclosure(ctx, r.ID, ajar.Disclosure{State: state, By: "k1", At: e.Time.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			if closed {
				cl := ajar.Event{Schema: ajar.Schema, Time: e.Time.Add(time.Duration(i) * 7 * time.Hour), Target: e.Target,
					Service: e.Service, Plugin: e.Plugin, Status: ajar.StatusClosed}
				if err := s.Record(ctx, &cl); err != nil {
					t.Fatal(err)
				}
				if reopened {
					again := e
					again.Time = cl.Time.Add(24 * time.Hour)
					again.Attribution = nil
					if err := s.Record(ctx, &again); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
}

// searchQueries exercise every field and operator of the language.
var searchQueries = []string{
	``,
	`protocol:elasticsearch class:cn_resident_id provider:alibaba status:exposed`,
	`provider:ali*`, `provider:ALIBABA`, `provider:a_b%c`, `provider:a_b*`, `provider:e*`, `provider:*net`,
	`-provider:aws`, `provider!=aws`, `provider!=ali*`,
	`ip:47.100.0.0/14`, `ip:47.100.0.0/16 OR ip:2001:db8::/32`, `ip:1.2.3.0-9.255.255.255`,
	`ip:::ffff:203.0.113.0/120`, `ip:203.0.113.5`, `ip>52.0.0.0`, `ip<=9.2.3.4`, `ip>=2001:db8::1000`, `ip<::1`, `ip!=47.100.0.0/16`,
	`port:9200`, `port>=6379 port<9200`, `port>99999999999`, `port!=80`,
	`records>100000`, `records>1M`, `records<100`, `records:0`, `records!=2500`, `bytes>=1GB`, `bytes<1KiB`,
	`name:*.aliyuncs.com`, `name:db.example.test`, `name:*.EXAMPLE.test`, `-name:*.example.test`,
	`name:*.amazonaws.com OR status:protected`, `-status:exposed`, `status:closed open_for>30d`, `open_for<2h`, `open_for>=0s`,
	`ransom:true`, `ransom:false`, `ransom:yes`,
	`first_seen>=2026-01-11 first_seen<2026-01-13`, `last_seen>-30d`, `closed_at<2026-03-01`, `closed_at>=2026-01-01T10:00:00Z`,
	`asn:AS14618 port:3306`, `asn:4294967295`, `asn>20000`,
	`country:de (class:email OR records<100)`, `country:DE`, `hosting:managed-service`, `hosting:*instance`,
	`sfzh protocol:redis`, `person`, `_`, `%`, `日志`, `field:sjhm -protocol:elasticsearch`, `field:s*`,
	`dataset:a_b1`, `dataset:a_b*`, `dataset:100%*`, `dataset:person_info`, `dataset!=person_info`,
	`class:address`, `class:bank_card OR class:phone`, `class:*card`,
	`product:redis version:7.*`, `product:mongo*`, `version!=7.*`, `org:alibaba*`, `org:äöü*`, `org:"amazon.com, inc."`,
	`severity:critical`, `severity:*i*`, `plugin:kibana`, `plugin:Kibana`,
	`disclosure:new port:6379`, `disclosure:fixed`, `disclosure:triaged OR disclosure:ignored`, `-disclosure:new`,
	`protocol:"x' OR 1=1 --"`, `NOT (status:open OR status:protected) AND port:443`,
}

// TestSearchMatchesSQLite answers the same queries on both stores over the
// same world: the same totals, records, pages, cursors and facets.
func TestSearchMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	pg := newStores(t)(t)
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ajar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	world(t, pg, lite)
	now := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)

	for _, q := range searchQueries {
		want, err := lite.Search(ctx, ajar.SearchRequest{Query: q, Limit: 1000, Facets: query.FacetFields, Now: now})
		if err != nil {
			t.Fatalf("%q on SQLite: %v", q, err)
		}
		got, err := pg.Search(ctx, ajar.SearchRequest{Query: q, Limit: 1000, Facets: query.FacetFields, Now: now})
		if err != nil {
			t.Errorf("%q: %v", q, err)
			continue
		}
		if got.Total != want.Total || keysOf(got) != keysOf(want) {
			t.Errorf("%q:\n got total %d %s\nwant total %d %s", q, got.Total, keysOf(got), want.Total, keysOf(want))
			continue
		}
		for f := range want.Facets {
			if f == "port" || f == "asn" {
				// Ties are in numeric order here; the embedded store
				// orders them as text when the search has a filter.
				numericTies(t, q, f, got.Facets[f])
				byText(got.Facets[f])
				byText(want.Facets[f])
			}
			if !reflect.DeepEqual(got.Facets[f], want.Facets[f]) {
				t.Errorf("%q: facet %s\n got %v\nwant %v", q, f, got.Facets[f], want.Facets[f])
			}
		}
		for i := range got.Items {
			g, _ := json.Marshal(got.Items[i].Last)
			w, _ := json.Marshal(want.Items[i].Last)
			if string(g) != string(w) {
				t.Errorf("%q: item %d\n got %s\nwant %s", q, i, g, w)
				break
			}
		}
	}

	// Pages of 7: the same cursors, and a cursor of one store continues a
	// search on the other.
	for _, q := range []string{``, `-status:protected`, `ip>47.0.0.0`} {
		var cur string
		for n := 0; ; n++ {
			want, err := lite.Search(ctx, ajar.SearchRequest{Query: q, Limit: 7, Cursor: cur, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			got, err := pg.Search(ctx, ajar.SearchRequest{Query: q, Limit: 7, Cursor: cur, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if keysOf(got) != keysOf(want) || got.NextCursor != want.NextCursor || got.Total != want.Total {
				t.Fatalf("%q page %d:\n got %s next %q\nwant %s next %q", q, n, keysOf(got), got.NextCursor, keysOf(want), want.NextCursor)
			}
			if want.NextCursor == "" {
				break
			}
			cur = want.NextCursor
		}
	}
}

// numericTies checks that values of equal count are in numeric order,
// unknown last.
func numericTies(t *testing.T, q, f string, fc []ajar.FacetCount) {
	t.Helper()
	for i := 1; i < len(fc); i++ {
		if fc[i].Count != fc[i-1].Count || fc[i].Value == "unknown" {
			continue
		}
		a, _ := strconv.ParseInt(fc[i-1].Value, 10, 64)
		b, _ := strconv.ParseInt(fc[i].Value, 10, 64)
		if fc[i-1].Value == "unknown" || a > b {
			t.Errorf("%q: facet %s: %v not in numeric order", q, f, fc)
		}
	}
}

// byText orders the values of equal count as text, unknown last.
func byText(fc []ajar.FacetCount) {
	slices.SortStableFunc(fc, func(a, b ajar.FacetCount) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		if (a.Value == "unknown") != (b.Value == "unknown") {
			if a.Value == "unknown" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Value, b.Value)
	})
}

func keysOf(r *ajar.SearchResult) string {
	var b strings.Builder
	for _, it := range r.Items {
		b.WriteString(it.Last.Key().String())
		b.WriteByte(' ')
	}
	return b.String()
}

func TestSearchErrors(t *testing.T) {
	ctx := context.Background()
	s := newStores(t)(t)
	enc := base64.RawURLEncoding.EncodeToString
	for _, c := range []string{"!!!", "AA", enc([]byte{5, 4, 1, 2, 3, 4}), enc([]byte{3, 9, 9, 9, 0, 1}), enc([]byte{5, 6, 1, 2, 3, 4, 0, 1})} {
		_, err := s.Search(ctx, ajar.SearchRequest{Cursor: c})
		var qe *query.Error
		if !errors.As(err, &qe) {
			t.Errorf("cursor %q: error %v, want a *query.Error", c, err)
		}
	}
	good := cursor{addr: netip.MustParseAddr("2001:db8::1"), port: 80, plugin: "http"}.encode()
	if _, err := s.Search(ctx, ajar.SearchRequest{Cursor: good}); err != nil {
		t.Errorf("cursor %q: %v", good, err)
	}
	// Text PostgreSQL cannot hold (NUL, invalid UTF-8) is stored and
	// searched for, not refused.
	ev := ajar.Event{Schema: ajar.Schema, Time: time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC),
		Target:  ajar.Target{Addr: netip.MustParseAddr("127.0.10.5"), Port: 6379},
		Service: ajar.Service{Transport: "tcp", Protocol: "redis", Product: "re\x00dis", Version: "7\xff"},
		Plugin:  "redis", Status: ajar.StatusExposed,
		Attribution: &ajar.Attribution{Org: "a\x00b"},
		Exposure: &ajar.Exposure{Plugin: "redis", Access: ajar.AccessRead, Records: 1,
			Datasets: []ajar.Dataset{{Name: "db\x00\xfe", Records: 1, Fields: []string{"k\x00"}}}},
	}
	if err := s.Record(ctx, &ev); err != nil {
		t.Fatalf("Record with NUL and invalid UTF-8: %v", err)
	}
	for _, q := range []string{"dataset:db*", "dataset:\"db\x00\xfe\"", "field:\"k\x00\"", "product:\"re\x00dis\"", "org:a*", "\x00"} {
		res, err := s.Search(ctx, ajar.SearchRequest{Query: q})
		var qe *query.Error
		switch {
		case errors.As(err, &qe):
			// The language refuses it, as on any store.
		case err != nil:
			t.Errorf("%q: %v", q, err)
		case res.Total != 1 && q != "\x00":
			t.Errorf("%q: %d found, want 1", q, res.Total)
		}
	}
}
