package scan

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/store/sqlite"
)

// TestWiped: a Redis that held data and is emptied but for a ransom note is
// reported wiped, with the note, and stays wiped while nothing changes.
func TestWiped(t *testing.T) {
	ctx := context.Background()
	const addr = "127.0.20.116:6379"
	target := ajar.Target{Addr: netip.MustParseAddr("127.0.20.116"), Port: 6379}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ajar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := &stepClock{}
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	scanAt := func(at time.Time) *ajar.Event {
		t.Helper()
		clk.set(at)
		var evs []*ajar.Event
		if _, err := Run(ctx, config(st, target, clk, func(e *ajar.Event) { evs = append(evs, e) })); err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1", len(evs))
		}
		return evs[0]
	}

	srv := startRedis(t, addr, "")
	srv.do("", "HSET person:1 name 张伟 mobile 13812345678", "HSET person:2 name 李娜 mobile 13912345678", "SET order:1 z")
	ev := scanAt(t0)
	if ev.Status != ajar.StatusExposed || ev.Exposure.Records != 3 || ev.Exposure.Ransom != nil {
		t.Fatalf("first scan: %s %+v", ev.Status, ev.Exposure)
	}

	srv.do("", "FLUSHALL", `SET read_me "All your data is backed up. You must pay 0.05 BTC to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh to recover it. Contact us at restore@example.com"`)
	ev = scanAt(t0.Add(time.Hour))
	if ev.Status != ajar.StatusWiped {
		t.Fatalf("after the wipe: %s, want wiped", ev.Status)
	}
	r := ev.Exposure.Ransom
	if r == nil || strings.Join(r.Datasets, ",") != "db0" || !strings.Contains(r.Note, "backed up") ||
		strings.Contains(r.Note, "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh") || strings.Contains(r.Note, "restore@example.com") {
		t.Fatalf("ransom %+v, want the note with its address and e-mail masked", r)
	}
	if len(ev.Exposure.Classes) != 0 || !ev.FirstSeen.Equal(t0) {
		t.Errorf("wiped event: classes %v (the note's e-mail is no data), first seen %s", ev.Exposure.Classes, ev.FirstSeen)
	}

	ev = scanAt(t0.Add(2 * time.Hour))
	if ev.Status != ajar.StatusWiped {
		t.Fatalf("next scan: %s, want still wiped", ev.Status)
	}
	rec, err := st.Get(ctx, ajar.Key{Addr: target.Addr, Port: target.Port, Plugin: "redis"})
	if err != nil || rec.Status() != ajar.StatusWiped {
		t.Fatalf("stored record %+v %v", rec, err)
	}

	// The owner restores data: exposed again.
	srv.do("", "DEL read_me", "HSET person:1 name 张伟 mobile 13812345678")
	if ev = scanAt(t0.Add(3 * time.Hour)); ev.Status != ajar.StatusExposed {
		t.Fatalf("after a restore: %s, want exposed", ev.Status)
	}
}
