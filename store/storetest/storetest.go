// Package storetest is the behaviour every ajar.Store must have, written as
// one test suite that each back end (SQLite, PostgreSQL) runs on its own stores.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
)

// Run runs the suite. open must return a new, empty store and close it when
// the test ends (t.Cleanup); each subtest opens its own.
//
// Beyond what the ajar.Store interface says, the suite holds a store to these
// rules, so that the back ends agree:
//   - events round-trip exactly, with their times in UTC and nanoseconds kept;
//   - Record puts the event's times in UTC and keys an IPv4-mapped IPv6
//     address as IPv4; a Record that fails stores nothing and leaves the
//     event's timeline unfilled;
//   - List orders IPv4 before IPv6, each numerically, then by port and plugin;
//   - the Protocol filter matches the latest protocol known for a key, even
//     when its latest event (a closed one) names none;
//   - Events of a key never recorded is empty, not an error;
//   - BeginScan of a scan begun already succeeds (a resumed scan), and
//     FinishScan of one never begun wraps ajar.ErrNotFound.
func Run(t *testing.T, open func(t *testing.T) ajar.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ajar.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Timeline", testTimeline},
		{"List", testList},
		{"Events", testEvents},
		{"NotFound", testNotFound},
		{"Invalid", testInvalid},
		{"Cancelled", testCancelled},
		{"Concurrent", testConcurrent},
		{"Scans", testScans},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func testRoundTrip(t *testing.T, s ajar.Store) {
	ctx := context.Background()
	cst := time.FixedZone("CST", 8*60*60)
	protected := event("127.0.10.7", 6379, "redis", ajar.StatusProtected, t0)
	protected.Detail = "NOAUTH Authentication required."
	inCST := fullEvent("127.0.10.8", t0.In(cst))
	inCST.TLS.NotBefore, inCST.TLS.NotAfter = inCST.TLS.NotBefore.In(cst), inCST.TLS.NotAfter.In(cst)
	tests := []struct {
		name string
		in   ajar.Event
		// want is the event as stored, before the timeline is filled.
		want ajar.Event
	}{
		{"full IPv4", fullEvent("127.0.10.5", t0), fullEvent("127.0.10.5", t0)},
		{"full IPv6", fullEvent("2001:db8::5", t0), fullEvent("2001:db8::5", t0)},
		{"open, no plugin", event("127.0.10.6", 8080, "", ajar.StatusOpen, t0), event("127.0.10.6", 8080, "", ajar.StatusOpen, t0)},
		{"protected with detail", protected, protected},
		{"times in another zone come back in UTC", inCST, fullEvent("127.0.10.8", t0)},
		{
			"IPv4-mapped address is keyed as IPv4",
			event("::ffff:127.0.10.9", 6379, "redis", ajar.StatusExposed, t0),
			event("127.0.10.9", 6379, "redis", ajar.StatusExposed, t0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.in
			if err := s.Record(ctx, &ev); err != nil {
				t.Fatalf("Record: %v", err)
			}
			want := tt.want
			want.FirstSeen, want.LastSeen = t0, t0
			equalEvent(t, "event after Record", ev, want)

			r, err := s.Get(ctx, want.Key())
			if err != nil {
				t.Fatalf("Get(%s): %v", want.Key(), err)
			}
			if r.ID == 0 {
				t.Errorf("Get(%s).ID = 0, want the record's id", want.Key())
			}
			equalEvent(t, "Get", r.Last, want)

			evs, err := s.Events(ctx, want.Key())
			if err != nil {
				t.Fatalf("Events(%s): %v", want.Key(), err)
			}
			if len(evs) != 1 {
				t.Fatalf("Events(%s) returned %d events, want 1", want.Key(), len(evs))
			}
			equalEvent(t, "Events", evs[0], want)

			rs, err := s.List(ctx, ajar.Filter{Addr: want.Addr, Port: want.Port})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(rs) != 1 {
				t.Fatalf("List(%s) returned %d records, want 1", want.Key(), len(rs))
			}
			equalEvent(t, "List", rs[0].Last, want)
		})
	}
}

func testTimeline(t *testing.T, s ajar.Store) {
	ctx := context.Background()
	t1 := t0.Add(time.Hour)
	t2 := t0.Add(3*time.Hour + 30*time.Minute + 400*time.Millisecond)
	t3 := t0.Add(5 * time.Hour)
	t4 := t0.Add(6 * time.Hour)
	steps := []struct {
		name    string
		status  ajar.Status
		at      time.Time
		first   time.Time
		last    time.Time
		closed  *time.Time
		openFor *int64
	}{
		{"new", ajar.StatusExposed, t0, t0, t0, nil, nil},
		{"seen again", ajar.StatusExposed, t1, t0, t1, nil, nil},
		// open_for is t2-t0 rounded to the second: 3h30m0.4s → 12600.
		{"closed", ajar.StatusClosed, t2, t0, t1, timePtr(t2), int64Ptr(12600)},
		{"reopened: a new period", ajar.StatusExposed, t3, t3, t3, nil, nil},
		{"seen again in the new period", ajar.StatusExposed, t4, t3, t4, nil, nil},
	}
	var (
		want []ajar.Event
		id   int64
	)
	for _, st := range steps {
		ev := event("127.0.10.20", 3306, "mysql", st.status, st.at)
		if err := s.Record(ctx, &ev); err != nil {
			t.Fatalf("%s: Record: %v", st.name, err)
		}
		exp := event("127.0.10.20", 3306, "mysql", st.status, st.at)
		exp.FirstSeen, exp.LastSeen, exp.ClosedAt, exp.OpenFor = st.first, st.last, st.closed, st.openFor
		equalEvent(t, st.name+": event after Record", ev, exp)

		r, err := s.Get(ctx, exp.Key())
		if err != nil {
			t.Fatalf("%s: Get: %v", st.name, err)
		}
		equalEvent(t, st.name+": Get", r.Last, exp)
		if id == 0 {
			id = r.ID
		} else if r.ID != id {
			t.Errorf("%s: record ID changed from %d to %d", st.name, id, r.ID)
		}
		want = append(want, exp)
	}
	got, err := s.Events(ctx, want[0].Key())
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Events returned %d events, want %d", len(got), len(want))
	}
	for i := range want {
		equalEvent(t, fmt.Sprintf("Events[%d]", i), got[i], want[i])
	}
}

func testList(t *testing.T, s ajar.Store) {
	ctx := context.Background()
	at := t0
	record := func(ev ajar.Event) {
		t.Helper()
		at = at.Add(time.Minute)
		ev.Time = at
		if err := s.Record(ctx, &ev); err != nil {
			t.Fatalf("Record %s: %v", ev.Key(), err)
		}
	}
	// Recorded out of order, so that the order of List is the store's doing.
	record(event("2001:db8::1", 27017, "mongodb", ajar.StatusExposed, at))
	record(event("127.0.10.10", 6379, "redis", ajar.StatusExposed, at))
	record(event("127.0.10.200", 9200, "elasticsearch", ajar.StatusExposed, at))
	record(event("127.0.10.9", 6379, "redis", ajar.StatusProtected, at))
	record(event("127.0.10.9", 9200, "elasticsearch", ajar.StatusExposed, at))
	record(event("127.0.10.9", 6379, "", ajar.StatusOpen, at))
	record(event("127.0.11.1", 3306, "mysql", ajar.StatusExposed, at))
	record(event("::ffff:127.0.9.250", 11211, "memcached", ajar.StatusExposed, at))
	// The closing event names no protocol; the filter still knows it.
	closing := event("127.0.11.1", 3306, "mysql", ajar.StatusClosed, at)
	closing.Protocol = ""
	record(closing)
	record(event("fd00::1", 80, "http", ajar.StatusOpen, at))

	const (
		memcached = "127.0.9.250:11211/memcached"
		open9     = "127.0.10.9:6379/-"
		redis9    = "127.0.10.9:6379/redis"
		es9       = "127.0.10.9:9200/elasticsearch"
		redis10   = "127.0.10.10:6379/redis"
		es200     = "127.0.10.200:9200/elasticsearch"
		mysql     = "127.0.11.1:3306/mysql"
		mongo     = "[2001:db8::1]:27017/mongodb"
		http      = "[fd00::1]:80/http"
	)
	tests := []struct {
		name   string
		filter ajar.Filter
		want   []string
	}{
		{"all, in address order", ajar.Filter{},
			[]string{memcached, open9, redis9, es9, redis10, es200, mysql, mongo, http}},
		{"status", ajar.Filter{Status: []ajar.Status{ajar.StatusProtected}}, []string{redis9}},
		{"statuses", ajar.Filter{Status: []ajar.Status{ajar.StatusOpen, ajar.StatusClosed}}, []string{open9, mysql, http}},
		{"unknown status", ajar.Filter{Status: []ajar.Status{"nope"}}, nil},
		{"protocol", ajar.Filter{Protocol: []string{"redis"}}, []string{redis9, redis10}},
		{"protocols", ajar.Filter{Protocol: []string{"mongodb", "elasticsearch"}}, []string{es9, es200, mongo}},
		{"protocol of a closed exposure", ajar.Filter{Protocol: []string{"mysql"}}, []string{mysql}},
		{"status and protocol", ajar.Filter{Status: []ajar.Status{ajar.StatusExposed}, Protocol: []string{"redis"}}, []string{redis10}},
		{"IPv4 prefix", ajar.Filter{Prefix: netip.MustParsePrefix("127.0.10.0/24")}, []string{open9, redis9, es9, redis10, es200}},
		{"narrow prefix", ajar.Filter{Prefix: netip.MustParsePrefix("127.0.10.8/29")}, []string{open9, redis9, es9, redis10}},
		{"unmasked prefix", ajar.Filter{Prefix: netip.MustParsePrefix("127.0.11.77/16")}, []string{memcached, open9, redis9, es9, redis10, es200, mysql}},
		{"single-address prefix", ajar.Filter{Prefix: netip.MustParsePrefix("127.0.10.200/32")}, []string{es200}},
		{"IPv6 prefix", ajar.Filter{Prefix: netip.MustParsePrefix("2001:db8::/32")}, []string{mongo}},
		{"IPv4 prefix leaves IPv6 out", ajar.Filter{Prefix: netip.MustParsePrefix("0.0.0.0/0")}, []string{memcached, open9, redis9, es9, redis10, es200, mysql}},
		{"IPv6 prefix leaves IPv4 out", ajar.Filter{Prefix: netip.MustParsePrefix("::/0")}, []string{mongo, http}},
		{"addr", ajar.Filter{Addr: netip.MustParseAddr("127.0.10.9")}, []string{open9, redis9, es9}},
		{"addr and port", ajar.Filter{Addr: netip.MustParseAddr("127.0.10.9"), Port: 6379}, []string{open9, redis9}},
		{"IPv6 addr", ajar.Filter{Addr: netip.MustParseAddr("2001:db8::1")}, []string{mongo}},
		{"port", ajar.Filter{Port: 9200}, []string{es9, es200}},
		{"addr with nothing", ajar.Filter{Addr: netip.MustParseAddr("127.0.10.11")}, nil},
		{"limit", ajar.Filter{Limit: 2}, []string{memcached, open9}},
		{"limit after filter", ajar.Filter{Status: []ajar.Status{ajar.StatusExposed}, Limit: 3}, []string{memcached, es9, redis10}},
		{"limit above count", ajar.Filter{Protocol: []string{"redis"}, Limit: 100}, []string{redis9, redis10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := s.List(ctx, tt.filter)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.Last.Key().String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("List(%+v)\n got %q\nwant %q", tt.filter, got, tt.want)
			}
		})
	}
}

func testEvents(t *testing.T, s ajar.Store) {
	ctx := context.Background()
	a := ajar.Key{Addr: netip.MustParseAddr("127.0.10.30"), Port: 5432, Plugin: "postgresql"}
	b := ajar.Key{Addr: a.Addr, Port: a.Port, Plugin: "http"}
	statuses := []ajar.Status{ajar.StatusOpen, ajar.StatusProtected, ajar.StatusExposed, ajar.StatusExposed, ajar.StatusWiped, ajar.StatusClosed}
	for i, st := range statuses {
		at := t0.Add(time.Duration(i) * time.Minute)
		ev := event(a.Addr.String(), a.Port, a.Plugin, st, at)
		if err := s.Record(ctx, &ev); err != nil {
			t.Fatalf("Record %s: %v", a, err)
		}
		other := event(b.Addr.String(), b.Port, b.Plugin, ajar.StatusExposed, at.Add(time.Second))
		if err := s.Record(ctx, &other); err != nil {
			t.Fatalf("Record %s: %v", b, err)
		}
	}
	got, err := s.Events(ctx, a)
	if err != nil {
		t.Fatalf("Events(%s): %v", a, err)
	}
	if len(got) != len(statuses) {
		t.Fatalf("Events(%s) returned %d events, want %d", a, len(got), len(statuses))
	}
	for i, ev := range got {
		if ev.Key() != a || ev.Status != statuses[i] || !ev.Time.Equal(t0.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("Events(%s)[%d] = %s %s at %s, want %s at %s", a, i, ev.Key(), ev.Status, ev.Time, statuses[i], t0.Add(time.Duration(i)*time.Minute))
		}
	}

	none := ajar.Key{Addr: a.Addr, Port: a.Port, Plugin: "redis"}
	got, err = s.Events(ctx, none)
	if err != nil {
		t.Errorf("Events(%s) of an unknown key: %v, want no error", none, err)
	}
	if len(got) != 0 {
		t.Errorf("Events(%s) of an unknown key returned %d events", none, len(got))
	}
}

func testNotFound(t *testing.T, s ajar.Store) {
	ctx := context.Background()
	ev := event("127.0.10.40", 6379, "redis", ajar.StatusExposed, t0)
	if err := s.Record(ctx, &ev); err != nil {
		t.Fatalf("Record: %v", err)
	}
	tests := []struct {
		name string
		key  ajar.Key
	}{
		{"other address", ajar.Key{Addr: netip.MustParseAddr("127.0.10.41"), Port: 6379, Plugin: "redis"}},
		{"other port", ajar.Key{Addr: ev.Addr, Port: 6380, Plugin: "redis"}},
		{"other plugin", ajar.Key{Addr: ev.Addr, Port: 6379, Plugin: "memcached"}},
		{"no plugin", ajar.Key{Addr: ev.Addr, Port: 6379}},
		{"IPv6", ajar.Key{Addr: netip.MustParseAddr("2001:db8::40"), Port: 6379, Plugin: "redis"}},
		{"zero key", ajar.Key{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := s.Get(ctx, tt.key)
			if !errors.Is(err, ajar.ErrNotFound) {
				t.Errorf("Get(%s) = %v, %v; want ErrNotFound", tt.key, r, err)
			}
		})
	}
	if err := s.FinishScan(ctx, "never-begun", t0); !errors.Is(err, ajar.ErrNotFound) {
		t.Errorf("FinishScan of a scan never begun = %v, want ErrNotFound", err)
	}
}

func testInvalid(t *testing.T, s ajar.Store) {
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(ev *ajar.Event)
	}{
		{"no address", func(ev *ajar.Event) { ev.Addr = netip.Addr{} }},
		{"invalid status", func(ev *ajar.Event) { ev.Status = "exposd" }},
		{"no status", func(ev *ajar.Event) { ev.Status = "" }},
		{"no time", func(ev *ajar.Event) { ev.Time = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event("127.0.10.50", 6379, "redis", ajar.StatusExposed, t0)
			tt.edit(&ev)
			if err := s.Record(ctx, &ev); err == nil {
				t.Errorf("Record of an event with %s succeeded, want an error", tt.name)
			}
		})
	}
	if err := s.Record(ctx, nil); err == nil {
		t.Error("Record(nil) succeeded, want an error")
	}
	rs, err := s.List(ctx, ajar.Filter{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(rs) != 0 {
		t.Errorf("invalid events left %d records", len(rs))
	}
}

func testCancelled(t *testing.T, s ajar.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev := event("127.0.10.60", 6379, "redis", ajar.StatusExposed, t0)
	if err := s.Record(ctx, &ev); err == nil {
		t.Fatal("Record with a cancelled context succeeded, want an error")
	}
	if !ev.FirstSeen.IsZero() {
		t.Errorf("a failed Record filled the event's timeline: first_seen %s", ev.FirstSeen)
	}
	bg := context.Background()
	if _, err := s.Get(bg, ev.Key()); !errors.Is(err, ajar.ErrNotFound) {
		t.Errorf("Get after a cancelled Record = %v, want ErrNotFound", err)
	}
	evs, err := s.Events(bg, ev.Key())
	if err != nil || len(evs) != 0 {
		t.Errorf("Events after a cancelled Record = %d events, %v; want none", len(evs), err)
	}
}

func testConcurrent(t *testing.T, s ajar.Store) {
	const (
		workers = 16
		keys    = 4  // own keys per worker
		rounds  = 20 // events per own key
	)
	ctx := context.Background()
	shared := ajar.Key{Addr: netip.MustParseAddr("127.0.10.70"), Port: 6379, Plugin: "redis"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds * keys {
				at := t0.Add(time.Duration(i) * time.Second)
				addr := netip.AddrFrom4([4]byte{127, 0, byte(11 + w), byte(i % keys)})
				ev := event(addr.String(), 9200, "elasticsearch", ajar.StatusExposed, at)
				if err := s.Record(ctx, &ev); err != nil {
					t.Errorf("worker %d: Record %s: %v", w, ev.Key(), err)
					return
				}
				if i%keys == 0 {
					sh := event(shared.Addr.String(), shared.Port, shared.Plugin, ajar.StatusExposed, at)
					if err := s.Record(ctx, &sh); err != nil {
						t.Errorf("worker %d: Record %s: %v", w, shared, err)
						return
					}
				}
				if _, err := s.Get(ctx, ev.Key()); err != nil {
					t.Errorf("worker %d: Get %s after its Record: %v", w, ev.Key(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	rs, err := s.List(ctx, ajar.Filter{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := workers*keys + 1; len(rs) != want {
		t.Errorf("List returned %d records, want %d", len(rs), want)
	}
	for _, r := range rs {
		k := r.Last.Key()
		want := rounds
		if k == shared {
			want = workers * rounds
		}
		evs, err := s.Events(ctx, k)
		if err != nil {
			t.Fatalf("Events(%s): %v", k, err)
		}
		if len(evs) != want {
			t.Errorf("Events(%s) returned %d events, want %d", k, len(evs), want)
		}
		if k != shared {
			// One writer per key: its timeline is exact.
			last := t0.Add(time.Duration((rounds-1)*keys+int(k.Addr.As4()[3])) * time.Second)
			if !r.Last.FirstSeen.Equal(t0.Add(time.Duration(k.Addr.As4()[3])*time.Second)) || !r.Last.LastSeen.Equal(last) {
				t.Errorf("%s: first_seen %s last_seen %s, want %s and %s", k, r.Last.FirstSeen, r.Last.LastSeen,
					t0.Add(time.Duration(k.Addr.As4()[3])*time.Second), last)
			}
		}
	}
}

func testScans(t *testing.T, s ajar.Store) {
	ctx := context.Background()
	sc := ajar.ScanInfo{ID: "scan-1", Started: t0, Args: "ajar scan 127.0.10.0/24 -p data"}
	if err := s.BeginScan(ctx, sc); err != nil {
		t.Fatalf("BeginScan: %v", err)
	}
	if err := s.BeginScan(ctx, sc); err != nil {
		t.Errorf("BeginScan of a scan begun already (a resume): %v", err)
	}
	ev := event("127.0.10.80", 6379, "redis", ajar.StatusExposed, t0.Add(time.Second))
	ev.Scan = sc.ID
	if err := s.Record(ctx, &ev); err != nil {
		t.Fatalf("Record: %v", err)
	}
	r, err := s.Get(ctx, ev.Key())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if r.Last.Scan != sc.ID {
		t.Errorf("stored event's scan = %q, want %q", r.Last.Scan, sc.ID)
	}
	if err := s.FinishScan(ctx, sc.ID, t0.Add(time.Minute)); err != nil {
		t.Errorf("FinishScan: %v", err)
	}
	if err := s.BeginScan(ctx, ajar.ScanInfo{Started: t0}); err == nil {
		t.Error("BeginScan with no id succeeded, want an error")
	}
}

// equalEvent reports a difference between two events, showing both as JSON.
// It also checks that every time is in UTC.
func equalEvent(t *testing.T, what string, got, want ajar.Event) {
	t.Helper()
	times := map[string]time.Time{"time": got.Time, "first_seen": got.FirstSeen, "last_seen": got.LastSeen}
	if got.ClosedAt != nil {
		times["closed_at"] = *got.ClosedAt
	}
	if got.TLS != nil {
		times["tls.not_before"], times["tls.not_after"] = got.TLS.NotBefore, got.TLS.NotAfter
	}
	for name, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: %s is in %s, want UTC", what, name, tm.Location())
		}
	}
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	t.Errorf("%s: events differ\n got %s\nwant %s", what, g, w)
}
