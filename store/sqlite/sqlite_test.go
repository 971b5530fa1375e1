package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/store/storetest"
)

// open opens a store in a new temporary directory and closes it when the
// test ends.
func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ajar.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ajar.Store { return open(t) })
	storetest.RunSearch(t, func(t *testing.T) ajar.Store { return open(t) })
	storetest.RunServer(t, func(t *testing.T) ajar.Store { return open(t) })
}

func TestOpenFails(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "regular")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("this is not a database file "), 200), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string // in the error, besides the path
	}{
		{"under a regular file", filepath.Join(file, "ajar.db"), "create its directory"},
		{"deep under a regular file", filepath.Join(file, "a", "b", "ajar.db"), "create its directory"},
		{"a directory", dir, "is a directory"},
		{"not a database", notDB, "not a database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded, want an error", tt.path)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.path) || !strings.Contains(msg, tt.want) {
				t.Errorf("Open(%s) error %q does not name the path and say %q", tt.path, msg, tt.want)
			}
		})
	}
	if _, err := Open(context.Background(), ""); err == nil {
		t.Error("Open with an empty path succeeded")
	}
}

func TestOpenCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "ajar")
	// A '?', '%' and '#' in the path belong to the file name, not to a URI.
	path := filepath.Join(dir, "odd name?x=1%20#frag.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("the directory was not created: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode %o, want 700", perm)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the path given: %v", err)
	}
	var mode string
	if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.r.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if _, err := s.r.Exec("DELETE FROM scans"); err == nil {
		t.Error("a read connection could write")
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ajar.db")
	ev := testEvent(netip.MustParseAddr("127.0.10.5"), 0)
	for i := range 3 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if i == 0 {
			if err := s.Record(ctx, &ev); err != nil {
				t.Fatalf("Record: %v", err)
			}
		}
		r, err := s.Get(ctx, ev.Key())
		if err != nil {
			t.Fatalf("open %d: Get: %v", i, err)
		}
		if !r.Last.Time.Equal(ev.Time) || r.Last.Exposure.Records != ev.Exposure.Records {
			t.Errorf("open %d: stored event changed: %+v", i, r.Last)
		}
		ms, err := migrations()
		if err != nil {
			t.Fatal(err)
		}
		var n, top, user int
		if err := s.r.QueryRow("SELECT count(*), max(version) FROM schema_version").Scan(&n, &top); err != nil {
			t.Fatal(err)
		}
		if err := s.r.QueryRow("PRAGMA user_version").Scan(&user); err != nil {
			t.Fatal(err)
		}
		if latest := ms[len(ms)-1].version; n != len(ms) || top != latest || user != latest {
			t.Errorf("open %d: schema_version has %d rows up to %d, user_version %d; want %d up to %d",
				i, n, top, user, len(ms), latest)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestOpenNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ajar.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec("INSERT INTO schema_version (version, name) VALUES (9999, '9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer ajar succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

func TestMigrationNames(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("migration %s has version %d, want %d (no gaps)", m.name, m.version, i+1)
		}
	}
}

// TestRecordCancelledMidway cancels Record's context after the event is
// inserted and before the exposure is updated: neither may be stored.
func TestRecordCancelledMidway(t *testing.T) {
	s := open(t)
	addr := netip.MustParseAddr("127.0.10.5")
	first := testEvent(addr, 0)
	if err := s.Record(context.Background(), &first); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ev   ajar.Event
	}{
		{"existing key", testEvent(addr, time.Minute)},
		{"new key", testEvent(netip.MustParseAddr("127.0.10.6"), time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s.afterEvent = cancel
			defer func() { s.afterEvent = nil }()
			ev := tt.ev
			if err := s.Record(ctx, &ev); !errors.Is(err, context.Canceled) {
				t.Errorf("Record = %v, want context.Canceled", err)
			}
			checkConsistent(t, s)
			var n int
			if err := s.r.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("%d events stored, want only the first", n)
			}
			r, err := s.Get(context.Background(), first.Key())
			if err != nil {
				t.Fatal(err)
			}
			if !r.Last.Time.Equal(first.Time) {
				t.Errorf("record's last event at %s, want the first at %s", r.Last.Time, first.Time)
			}
		})
	}
}

// TestRecordCancelledAnytime cancels Records at varied moments and checks that
// every Record that succeeded is stored, every one that failed is not, and
// the exposures agree with the events.
func TestRecordCancelledAnytime(t *testing.T) {
	s := open(t)
	addrs := []netip.Addr{netip.MustParseAddr("127.0.10.5"), netip.MustParseAddr("2001:db8::5")}
	var stored []ajar.Event
	failed := 0
	for i := range 300 {
		ev := testEvent(addrs[i%len(addrs)], time.Duration(i)*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%60)*10*time.Microsecond)
		err := s.Record(ctx, &ev)
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Record: %v, want success or context.DeadlineExceeded", err)
			}
			failed++
			continue
		}
		stored = append(stored, ev)
	}
	t.Logf("%d Records stored, %d cancelled", len(stored), failed)
	checkConsistent(t, s)
	for _, a := range addrs {
		k := ajar.Key{Addr: a, Port: 9200, Plugin: "elasticsearch"}
		var want []time.Time
		for _, ev := range stored {
			if ev.Addr == a {
				want = append(want, ev.Time)
			}
		}
		evs, err := s.Events(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		var got []time.Time
		for _, ev := range evs {
			got = append(got, ev.Time)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s: stored events at %v, want those of the successful Records %v", k, got, want)
		}
	}
}

// checkConsistent checks that every event has its exposure and that every
// exposure points to the latest event of its key and holds its JSON.
func checkConsistent(t *testing.T, s *Store) {
	t.Helper()
	checks := []struct {
		what  string
		query string
	}{
		{"events without an exposure", `SELECT count(*) FROM events e WHERE NOT EXISTS (
			SELECT 1 FROM exposures x WHERE x.ip = e.ip AND x.port = e.port AND x.plugin = e.plugin)`},
		{"exposures not at their latest event", `SELECT count(*) FROM exposures x WHERE x.last_event IS NOT (
			SELECT max(e.id) FROM events e WHERE x.ip = e.ip AND x.port = e.port AND x.plugin = e.plugin)`},
		{"exposures whose JSON is not their last event's", `SELECT count(*) FROM exposures x
			JOIN events e ON e.id = x.last_event WHERE e.json IS NOT x.last_json`},
	}
	for _, c := range checks {
		var n int
		if err := s.r.QueryRow(c.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
}

func TestAddrKeyOrder(t *testing.T) {
	addrs := []string{
		"0.0.0.0", "1.2.3.4", "127.0.10.9", "127.0.10.10", "127.0.10.200", "255.255.255.255",
		"::", "::1", "::2", "2001:db8::1", "2001:db8::1:0", "fd00::1", "ffff::",
	}
	var keys [][]byte
	for _, a := range addrs {
		keys = append(keys, addrKey(netip.MustParseAddr(a)))
	}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			t.Errorf("key of %s does not sort before key of %s", addrs[i-1], addrs[i])
		}
	}
	if addrKey(netip.Addr{}) != nil {
		t.Error("the key of an invalid address is not nil")
	}
	if !bytes.Equal(addrKey(netip.MustParseAddr("::ffff:127.0.10.9")), addrKey(netip.MustParseAddr("127.0.10.9"))) {
		t.Error("an IPv4-mapped address has a key of its own")
	}
}

func TestPrefixRange(t *testing.T) {
	tests := []struct {
		prefix, lo, hi string
	}{
		{"127.0.10.0/24", "127.0.10.0", "127.0.10.255"},
		{"127.0.10.77/24", "127.0.10.0", "127.0.10.255"},
		{"127.0.10.9/32", "127.0.10.9", "127.0.10.9"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"10.0.0.0/9", "10.0.0.0", "10.127.255.255"},
		{"::ffff:127.0.10.0/120", "127.0.10.0", "127.0.10.255"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			lo, hi := prefixRange(netip.MustParsePrefix(tt.prefix))
			if want := addrKey(netip.MustParseAddr(tt.lo)); !bytes.Equal(lo, want) {
				t.Errorf("lo = %x, want %x (%s)", lo, want, tt.lo)
			}
			if want := addrKey(netip.MustParseAddr(tt.hi)); !bytes.Equal(hi, want) {
				t.Errorf("hi = %x, want %x (%s)", hi, want, tt.hi)
			}
		})
	}
}

func TestTimeBounds(t *testing.T) {
	s := open(t)
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"far past", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"far future", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"epoch", time.Unix(0, 0), true},
		{"last nanosecond", maxTime, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testEvent(netip.AddrFrom4([4]byte{127, 0, 20, byte(i)}), 0)
			ev.Time = tt.at
			err := s.Record(context.Background(), &ev)
			if (err == nil) != tt.ok {
				t.Errorf("Record at %s: %v, want ok=%v", tt.at, err, tt.ok)
			}
		})
	}
}

// testEvent is an exposed Elasticsearch at addr, seen d after a fixed time.
func testEvent(addr netip.Addr, d time.Duration) ajar.Event {
	return ajar.Event{
		Schema:  ajar.Schema,
		Time:    time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).Add(d),
		Scan:    "bench",
		Target:  ajar.Target{Addr: addr, Port: 9200},
		Service: ajar.Service{Transport: "tcp", Protocol: "elasticsearch", Product: "Elasticsearch", Version: "7.17.9"},
		Plugin:  "elasticsearch",
		Status:  ajar.StatusExposed,
		Exposure: &ajar.Exposure{
			Plugin: "elasticsearch", Access: ajar.AccessRead, Records: 3000, Bytes: 1 << 20,
			Datasets: []ajar.Dataset{
				{Name: "person_info", Records: 3000, Bytes: 1 << 20, Fields: []string{"name", "phone", "id_no"}},
			},
			Classes:  []string{"person_name", "phone"},
			Samples:  []ajar.Sample{{Dataset: "person_info", Doc: map[string]string{"phone": "138****5678"}}},
			Severity: ajar.SeverityHigh,
			Evidence: &ajar.Evidence{Request: "GET /_cat/indices?format=json&bytes=b", Response: strings.Repeat("x", 512)},
		},
	}
}

// BenchmarkRecord measures sequential Records over 4096 keys, each seen
// several times, as a scan that revisits a range records them.
func BenchmarkRecord(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		ev := testEvent(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8 & 0x0f), byte(i)}), time.Duration(i)*time.Second)
		if err := s.Record(ctx, &ev); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRecordParallel measures Records from many goroutines at once, as
// the scan pipeline's workers call it.
func BenchmarkRecordParallel(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ev := testEvent(netip.AddrFrom4([4]byte{127, 2, byte(i >> 8 & 0x0f), byte(i)}), time.Duration(i)*time.Second)
			if err := s.Record(ctx, &ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkGet measures reading one record while nothing writes.
func BenchmarkGet(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	const keys = 1000
	for i := range keys {
		ev := testEvent(netip.AddrFrom4([4]byte{127, 3, byte(i >> 8), byte(i)}), 0)
		if err := s.Record(ctx, &ev); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		k := ajar.Key{Addr: netip.AddrFrom4([4]byte{127, 3, byte(i % keys >> 8), byte(i % keys)}), Port: 9200, Plugin: "elasticsearch"}
		if _, err := s.Get(ctx, k); err != nil {
			b.Fatal(fmt.Errorf("get %s: %w", k, err))
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}
