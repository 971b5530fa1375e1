package enrich_test

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
	"github.com/ajar-scan/ajar/enrich/attribution"
	"github.com/ajar-scan/ajar/identify"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
	"github.com/ajar-scan/ajar/probe"
	_ "github.com/ajar-scan/ajar/probe/all"
	"github.com/ajar-scan/ajar/scan"
	"github.com/ajar-scan/ajar/store/sqlite"
)

// TestPipelineStoresNothingRaw scans the lab's open Redis, MariaDB and
// PostgreSQL with sampling, through the real pipeline into a SQLite store,
// and checks that no identifier of the lab's persons, orders and cases
// appears verbatim in the store's files, the JSON output or the logs, while
// the classes are found and the samples are kept, redacted.
func TestPipelineStoresNothingRaw(t *testing.T) {
	lab.Require(t, lab.RedisOpen, lab.MySQLOpen, lab.PGOpen)
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "ajar.db")
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)

	ranges := filepath.Join(dir, "ajar.db.ranges")
	if err := attribution.WriteFile(ranges, []attribution.Range{{Prefix: netip.MustParsePrefix("127.0.10.0/24"), Provider: "alibaba", Region: "cn-hangzhou", Source: "csv:lab"}}); err != nil {
		t.Fatal(err)
	}
	attr, err := attribution.New(attribution.Config{Ranges: ranges})
	if err != nil {
		t.Fatal(err)
	}
	defer attr.Close()

	var targets []ajar.Target
	for _, a := range []string{lab.RedisOpen, lab.MySQLOpen, lab.PGOpen} {
		tg, err := ajar.ParseAddrPort(a)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	var out bytes.Buffer
	var events []*ajar.Event
	cfg := scan.Config{
		ID: "leak-test",
		Targets: iter.Seq2[uint64, ajar.Target](func(yield func(uint64, ajar.Target) bool) {
			for i, tg := range targets {
				if !yield(uint64(i), tg) {
					return
				}
			}
		}),
		Total:    uint64(len(targets)),
		Covers:   func(x ajar.Target) bool { return slices.Contains(targets, x) },
		Discover: discover.Options{Concurrency: 4, PerHost: 4, Timeout: 2 * time.Second},
		Identify: identify.DefaultOptions(), Probe: probe.DefaultOptions(),
		Workers: 3, TargetTimeout: time.Minute,
		Store:     st,
		Attribute: attr.Attribute,
		Emit: func(ev *ajar.Event) {
			events = append(events, ev)
			b, err := json.Marshal(ev)
			if err != nil {
				t.Error(err)
			}
			out.Write(append(b, '\n'))
			slog.Info("event", "event", string(b))
		},
	}
	if _, err := scan.Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	// What was found.
	classes := map[string]bool{}
	samples := 0
	maskedPhone := regexp.MustCompile(`^1\d\d\*{4}\d{4}$`)
	for _, ev := range events {
		if ev.Status != ajar.StatusExposed || ev.Exposure == nil {
			continue
		}
		if ev.Attribution == nil || ev.Attribution.Provider != "alibaba" || ev.Attribution.Hosting != ajar.HostingCustomer {
			t.Errorf("%s: attribution %+v", ev.Key(), ev.Attribution)
		}
		for _, c := range ev.Exposure.Classes {
			classes[c] = true
		}
		for _, s := range ev.Exposure.Samples {
			samples++
			for _, k := range []string{"mobile", "phone"} {
				if v, ok := s.Doc[k]; ok && !maskedPhone.MatchString(v) {
					t.Errorf("%s %s: %s = %q, want a masked mobile", ev.Key(), s.Dataset, k, v)
				}
			}
		}
	}
	for _, c := range []string{"phone", "cn_resident_id", "person_name", "address", "criminal_record"} {
		if !classes[c] {
			t.Errorf("class %s not found; found %v", c, classes)
		}
	}
	if samples < 3*probe.DefaultOptions().Samples {
		t.Errorf("%d samples kept, want the sampled records of every store", samples)
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	haystacks := map[string][]byte{"JSON output": out.Bytes(), "logs": logs.Bytes()}
	for _, suffix := range []string{"", "-wal", "-journal"} {
		if b, err := os.ReadFile(dbPath + suffix); err == nil {
			haystacks["store file ajar.db"+suffix] = b
		}
	}
	ids := identifiers()
	if v, ok := ids.find([]byte("{\"m\":\"" + fake.New(lab.Seed).Person(7).Mobile + "\"}")); !ok || v == "" {
		t.Fatal("the search finds no planted identifier")
	}
	for name, h := range haystacks {
		// The haystacks hold the redacted samples, so the search looks at
		// the same text that would have leaked.
		if !bytes.Contains(h, []byte("****")) {
			t.Errorf("%s holds no masked value: is it the right file?", name)
		}
		if v, ok := ids.find(h); ok {
			t.Errorf("%s holds %q verbatim", name, v)
		}
	}
}

// idSet is the set of the lab's identifiers, searched by length.
type idSet struct {
	set     map[string]bool
	lengths []int
}

// identifiers are every name, mobile number, resident ID number, address
// and case number the lab seeds into Redis, MariaDB and PostgreSQL.
func identifiers() idSet {
	g := fake.New(lab.Seed)
	s := idSet{set: map[string]bool{}}
	add := func(v ...string) {
		for _, x := range v {
			s.set[x] = true
		}
	}
	for i := 1; i <= max(lab.RedisPersons, lab.SQLPersons); i++ {
		p := g.Person(i)
		add(p.Name, p.Mobile, p.IDNumber, p.Address)
	}
	for i := 1; i <= max(lab.RedisOrders, lab.SQLOrders); i++ {
		o := g.Order(i)
		add(o.Customer, o.Mobile, o.Address)
	}
	for i := 1; i <= lab.SQLCases; i++ {
		add(g.Case(i, lab.SQLPersons).CaseNo)
	}
	seen := map[int]bool{}
	for v := range s.set {
		if !seen[len(v)] {
			seen[len(v)] = true
			s.lengths = append(s.lengths, len(v))
		}
	}
	return s
}

// find returns an identifier that occurs in h.
func (s idSet) find(h []byte) (string, bool) {
	for i := 0; i < len(h); i++ {
		if !utf8.RuneStart(h[i]) {
			continue
		}
		for _, n := range s.lengths {
			if i+n <= len(h) && s.set[string(h[i:i+n])] {
				return string(h[i : i+n]), true
			}
		}
	}
	return "", false
}
