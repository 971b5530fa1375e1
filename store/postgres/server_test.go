package postgres

import (
	"context"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
	"github.com/ajar-scan/ajar/store/postgres/pgtest"
)

// TestIndexOnce re-delivers events, as a cluster does after a worker dies:
// an event stored once moves the search index and the disclosure once.
func TestIndexOnce(t *testing.T) {
	ctx := context.Background()
	s := newStores(t)(t)
	k := ajar.Key{Addr: netip.MustParseAddr("127.0.10.10"), Port: 9200, Plugin: "elasticsearch"}
	exposed := func(at time.Time, class, provider string) ajar.Event {
		ev := event(k.Addr.String(), k.Port, k.Plugin, ajar.StatusExposed, at, "scan-1")
		ev.Exposure = &ajar.Exposure{Plugin: k.Plugin, Access: ajar.AccessRead, Records: 10, Classes: []string{class},
			Datasets: []ajar.Dataset{{Name: "users", Records: 10, Fields: []string{"phone"}}}}
		ev.Attribution = &ajar.Attribution{Provider: provider}
		return ev
	}
	closed := event(k.Addr.String(), k.Port, k.Plugin, ajar.StatusClosed, t0.Add(2*time.Hour), "scan-2")
	count := func(q string) int64 {
		t.Helper()
		res, err := s.Search(ctx, ajar.SearchRequest{Query: q})
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		return res.Total
	}
	audit := func() []string {
		t.Helper()
		_, log, err := s.Disclosure(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range log {
			out = append(out, d.State)
		}
		return out
	}
	terms := func() int {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM terms`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	steps := []struct {
		name   string
		id     string
		ev     ajar.Event
		before func()
		want   map[string]int64
		audit  []string
	}{
		{"first", "a", exposed(t0, "phone", "alibaba"), nil,
			map[string]int64{"class:phone provider:alibaba dataset:users field:phone": 1, "class:email": 0}, nil},
		{"re-delivered with other data", "a", exposed(t0.Add(time.Hour), "email", "aws"), nil,
			map[string]int64{"class:phone provider:alibaba": 1, "class:email": 0, "provider:aws": 0}, nil},
		{"closed under disclosure", "b", closed, func() {
			if err := s.SetDisclosure(ctx, 1, ajar.Disclosure{State: ajar.DisclosureNotified, Contact: "sec@example.com", At: t0}); err != nil {
				t.Fatal(err)
			}
		}, map[string]int64{"disclosure:fixed status:closed class:phone": 1}, []string{"notified", "fixed"}},
		{"close re-delivered", "b", closed, nil, map[string]int64{"disclosure:fixed": 1}, []string{"notified", "fixed"}},
		{"reopened with other data", "c", exposed(t0.Add(3*time.Hour), "email", "aws"), nil,
			map[string]int64{"class:email provider:aws status:exposed disclosure:fixed": 1, "class:phone": 0}, []string{"notified", "fixed"}},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		ev := st.ev
		if _, err := s.RecordOnce(ctx, []byte(st.id), &ev); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for q, n := range st.want {
			if got := count(q); got != n {
				t.Errorf("%s: %q found %d, want %d", st.name, q, got, n)
			}
		}
		if got := audit(); !slices.Equal(got, st.audit) {
			t.Errorf("%s: audit log %v, want %v", st.name, got, st.audit)
		}
		if n := terms(); n != 3 {
			t.Errorf("%s: %d terms stored, want 3 (class, dataset, field)", st.name, n)
		}
	}
}

// TestEventsSinceWaitsForWriters: a writer that took an id and commits after
// a later id must not be skipped by a follower of the event log.
func TestEventsSinceWaitsForWriters(t *testing.T) {
	ctx := context.Background()
	s := newStores(t)(t)

	// A writer in flight holds event id 1 …
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	slow := normalize(event("127.0.10.1", 6379, "redis", ajar.StatusExposed, t0, "s"))
	if _, err := recordTx(ctx, tx, nil, &slow); err != nil {
		t.Fatal(err)
	}
	// … while id 2 commits.
	fast := event("127.0.10.2", 6379, "redis", ajar.StatusExposed, t0, "s")
	if err := s.Record(ctx, &fast); err != nil {
		t.Fatal(err)
	}

	type result struct {
		evs []ajar.StoredEvent
		err error
	}
	done := make(chan result, 1)
	go func() {
		evs, err := s.EventsSince(ctx, 0, 10)
		done <- result{evs, err}
	}()
	// Wait until the follower waits for the writer, then let the writer commit.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("EventsSince returned %d events while a writer was in flight (err %v)", len(r.evs), r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the follower never waited for the writer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	var ids []int64
	for _, e := range r.evs {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []int64{1, 2}) {
		t.Errorf("EventsSince(0) = ids %v, want [1 2]", ids)
	}
}

// TestReindex migrates a database made before the search index: its
// exposures become searchable as if they had been indexed when recorded.
func TestReindex(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.WithSchema(t, pgtest.NewDatabase(t), "old")
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	world(t, s)
	var facets []string
	for _, f := range query.FacetFields {
		if f != "disclosure" { // the old schema had no disclosures
			facets = append(facets, f)
		}
	}
	now := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	search := func(s *Store) map[string]*ajar.SearchResult {
		out := map[string]*ajar.SearchResult{}
		for _, q := range searchQueries {
			if strings.Contains(q, "disclosure") {
				continue
			}
			res, err := s.Search(ctx, ajar.SearchRequest{Query: q, Limit: 1000, Facets: facets, Now: now})
			if err != nil {
				t.Fatalf("%q: %v", q, err)
			}
			out[q] = res
		}
		return out
	}
	want := search(s)

	// Back to the schema of migration 1.
	if _, err := s.pool.Exec(ctx, `DROP TABLE terms, disclosures, api_keys, alert_rules, outbox, cursors;
		DROP INDEX exposures_severity, exposures_records, exposures_bytes, exposures_first_seen, exposures_last_seen, exposures_open_for;
		ALTER TABLE exposures DROP COLUMN product, DROP COLUMN version, DROP COLUMN provider, DROP COLUMN hosting,
			DROP COLUMN asn, DROP COLUMN country, DROP COLUMN org, DROP COLUMN ransom, DROP COLUMN disclosure;
		DELETE FROM schema_version WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, dsn)
	if err != nil {
		t.Fatalf("migrate an old database: %v", err)
	}
	defer s.Close()
	got := search(s)
	for q, w := range want {
		g := got[q]
		if g.Total != w.Total || keysOf(g) != keysOf(w) || !reflect.DeepEqual(g.Facets, w.Facets) {
			t.Errorf("%q after reindex:\n got %d %s %v\nwant %d %s %v", q, g.Total, keysOf(g), g.Facets, w.Total, keysOf(w), w.Facets)
		}
	}
}

// TestFold: the fields the query language folds are stored folded as it
// folds the values searched for (Unicode, as strings.ToLower and ToUpper).
func TestFold(t *testing.T) {
	ctx := context.Background()
	s := newStores(t)(t)
	ev := event("127.0.10.5", 6379, "redis", ajar.StatusExposed, t0, "s")
	ev.Attribution = &ajar.Attribution{Provider: "Ägypten Net", Hosting: "Managed-Service", Country: "de"}
	if err := s.Record(ctx, &ev); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"provider:ägypten*", "provider:\"ÄGYPTEN NET\"", "hosting:managed-service", "country:DE", "country:de"} {
		res, err := s.Search(ctx, ajar.SearchRequest{Query: q, Facets: []string{"provider", "country"}})
		if err != nil || res.Total != 1 {
			t.Fatalf("%q: %+v %v", q, res, err)
		}
		if p, c := res.Facets["provider"][0].Value, res.Facets["country"][0].Value; p != "ägypten net" || c != "DE" {
			t.Errorf("%q: facets provider %q country %q, want the folded values", q, p, c)
		}
	}
}
