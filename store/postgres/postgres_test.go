package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/store/postgres/pgtest"
	"github.com/ajar-scan/ajar/store/storetest"
)

// newStores returns a function that opens an empty store in a new schema of
// one test database, closed when the test ends.
func newStores(t *testing.T) func(t testing.TB) *Store {
	dsn := pgtest.NewDatabase(t)
	var n atomic.Int64
	return func(t testing.TB) *Store {
		t.Helper()
		s, err := Open(context.Background(), pgtest.WithSchema(t, dsn, fmt.Sprintf("s%d", n.Add(1))))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestStore(t *testing.T) {
	open := newStores(t)
	storetest.Run(t, func(t *testing.T) ajar.Store { return open(t) })
	storetest.RunSearch(t, func(t *testing.T) ajar.Store { return open(t) })
	storetest.RunServer(t, func(t *testing.T) ajar.Store { return open(t) })
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)

func event(addr string, port uint16, plugin string, st ajar.Status, at time.Time, scan string) ajar.Event {
	return ajar.Event{
		Schema: ajar.Schema, Time: at, Scan: scan,
		Target:  ajar.Target{Addr: netip.MustParseAddr(addr), Port: port},
		Service: ajar.Service{Transport: "tcp", Protocol: plugin},
		Plugin:  plugin, Status: st,
	}
}

func TestRecordOnce(t *testing.T) {
	ctx := context.Background()
	s := newStores(t)(t)
	k := ajar.Key{Addr: netip.MustParseAddr("127.0.10.10"), Port: 6379, Plugin: "redis"}
	steps := []struct {
		name       string
		id         string
		status     ajar.Status
		at         time.Time
		wantStored bool
		// wantStatus and wantLast are the record after the step.
		wantStatus ajar.Status
		wantLast   time.Time
		wantEvents int
	}{
		{"first", "a", ajar.StatusExposed, t0, true, ajar.StatusExposed, t0, 1},
		{"re-delivered, later", "a", ajar.StatusExposed, t0.Add(time.Hour), false, ajar.StatusExposed, t0, 1},
		{"re-delivered, other verdict", "a", ajar.StatusClosed, t0.Add(2 * time.Hour), false, ajar.StatusExposed, t0, 1},
		{"next observation", "b", ajar.StatusExposed, t0.Add(3 * time.Hour), true, ajar.StatusExposed, t0.Add(3 * time.Hour), 2},
		{"first again", "a", ajar.StatusExposed, t0.Add(4 * time.Hour), false, ajar.StatusExposed, t0.Add(3 * time.Hour), 2},
	}
	for _, st := range steps {
		ev := event(k.Addr.String(), k.Port, k.Plugin, st.status, st.at, "scan-1")
		stored, err := s.RecordOnce(ctx, []byte(st.id), &ev)
		if err != nil {
			t.Fatalf("%s: RecordOnce: %v", st.name, err)
		}
		if stored != st.wantStored {
			t.Errorf("%s: stored = %v, want %v", st.name, stored, st.wantStored)
		}
		if !stored && ev.Time.Equal(st.at) {
			t.Errorf("%s: a duplicate was not replaced by the event stored first", st.name)
		}
		r, err := s.Get(ctx, k)
		if err != nil {
			t.Fatalf("%s: Get: %v", st.name, err)
		}
		if r.Status() != st.wantStatus || !r.Last.LastSeen.Equal(st.wantLast) || !r.Last.FirstSeen.Equal(t0) {
			t.Errorf("%s: record %s first %s last %s, want %s first %s last %s", st.name,
				r.Status(), r.Last.FirstSeen, r.Last.LastSeen, st.wantStatus, t0, st.wantLast)
		}
		evs, err := s.Events(ctx, k)
		if err != nil {
			t.Fatalf("%s: Events: %v", st.name, err)
		}
		if len(evs) != st.wantEvents {
			t.Errorf("%s: %d events, want %d", st.name, len(evs), st.wantEvents)
		}
	}
	if _, err := s.RecordOnce(ctx, nil, new(ajar.Event)); err == nil {
		t.Error("RecordOnce with no id succeeded")
	}
}

func TestRecordOnceConcurrent(t *testing.T) {
	const (
		writers = 8
		ids     = 50
	)
	ctx := context.Background()
	s := newStores(t)(t)
	var (
		wg     sync.WaitGroup
		stored atomic.Int64
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				ev := event("127.0.10.20", 3306, "mysql", ajar.StatusExposed, t0.Add(time.Duration(w*ids+i)*time.Millisecond), "scan-1")
				ok, err := s.RecordOnce(ctx, []byte(fmt.Sprint(i)), &ev)
				if err != nil {
					t.Errorf("writer %d: RecordOnce %d: %v", w, i, err)
					return
				}
				if ok {
					stored.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := stored.Load(); got != ids {
		t.Errorf("%d events reported stored, want %d (one per id)", got, ids)
	}
	evs, err := s.Events(ctx, ajar.Key{Addr: netip.MustParseAddr("127.0.10.20"), Port: 3306, Plugin: "mysql"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != ids {
		t.Errorf("%d events stored, want %d", len(evs), ids)
	}
}

func TestUnseen(t *testing.T) {
	ctx := context.Background()
	s := newStores(t)(t)
	record := func(ev ajar.Event) {
		t.Helper()
		if err := s.Record(ctx, &ev); err != nil {
			t.Fatalf("Record %s: %v", ev.Key(), err)
		}
	}
	// Seen by an earlier scan only.
	record(event("127.0.10.10", 6379, "redis", ajar.StatusExposed, t0, "old"))
	record(event("127.0.10.10", 6379, "", ajar.StatusOpen, t0, "old"))
	record(event("127.0.10.20", 3306, "mysql", ajar.StatusWiped, t0, "old"))
	record(event("127.0.10.21", 3306, "mysql", ajar.StatusProtected, t0, "old"))
	record(event("127.0.10.22", 3306, "mysql", ajar.StatusClosed, t0, "old"))
	// Seen again by scan "new": on its port, another plugin's event counts too.
	record(event("127.0.10.30", 5432, "postgresql", ajar.StatusExposed, t0, "old"))
	record(event("127.0.10.30", 5432, "http", ajar.StatusOpen, t0.Add(time.Minute), "new"))
	record(event("::1", 80, "http", ajar.StatusOpen, t0, "old"))

	rs, err := s.Unseen(ctx, "new")
	if err != nil {
		t.Fatalf("Unseen: %v", err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.Last.Key().String())
	}
	want := []string{"127.0.10.10:6379/-", "127.0.10.10:6379/redis", "127.0.10.20:3306/mysql", "[::1]:80/http"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unseen(new)\n got %q\nwant %q", got, want)
	}
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("record: %w", syscall.ECONNREFUSED), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"connection failure", fmt.Errorf("x: %w", &pgconn.PgError{Code: "08006"}), true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"invalid event", fmt.Errorf("record: %w", invalid("event has no time")), false},
		{"cancelled", fmt.Errorf("record: %w", context.Canceled), false},
		{"not found", ajar.ErrNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestOpenFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name string
		dsn  string
	}{
		{"no server", pgtest.DSN("127.0.0.1", 1, "postgres", "ajar")},
		{"no database", pgtest.DSN(pgtest.Host, pgtest.Port, pgtest.User, "ajar_no_such_database")},
		{"not a URL", "postgres://%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", tt.dsn)
			}
			if !strings.Contains(err.Error(), "open store") {
				t.Errorf("error %q does not say what was being done", err)
			}
		})
	}
}

func TestOpenTwice(t *testing.T) {
	// Workers starting together migrate one database once.
	dsn := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), dsn)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
}
