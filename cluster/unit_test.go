package cluster

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/targets"
)

func TestShare(t *testing.T) {
	tests := []struct {
		name          string
		scanRate, cap float64
		n             int
		want          float64
	}{
		{"no limits", 0, 0, 3, 0},
		{"worker cap only", 0, 500, 3, 500},
		{"scan rate split", 900, 0, 3, 300},
		{"cap below the split", 900, 100, 3, 100},
		{"cap above the split", 900, 1000, 3, 300},
		{"one worker", 900, 0, 1, 900},
		{"no count yet", 900, 0, 0, 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := share(tt.scanRate, tt.cap, tt.n); got != tt.want {
				t.Errorf("share(%g, %g, %d) = %g, want %g", tt.scanRate, tt.cap, tt.n, got, tt.want)
			}
		})
	}
}

func TestPacerSpeed(t *testing.T) {
	p := newPacer(0.5)
	realStart, virtStart := time.Now(), p.Now()
	time.Sleep(20 * time.Millisecond)
	realGone, virtGone := time.Since(realStart), p.Now().Sub(virtStart)
	// At half speed the pacer's time runs at most half as fast as real time.
	if virtGone > realGone/2+time.Millisecond {
		t.Errorf("at speed 0.5, %s of pacer time passed in %s", virtGone, realGone)
	}
	p.setSpeed(1)
	before := p.Now()
	if before.Before(virtStart.Add(virtGone)) {
		t.Errorf("the pacer's time went back on a speed change")
	}
	// Sleep returns at once when the context has ended.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Sleep(ctx, time.Hour); err == nil {
		t.Error("Sleep with an ended context returned no error")
	}
	if err := p.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v", err)
	}
	if !p.Now().After(before) {
		t.Error("the pacer's time did not advance over a Sleep")
	}
}

func TestEventID(t *testing.T) {
	k := ajar.Key{Addr: netip.MustParseAddr("127.0.10.10"), Port: 6379, Plugin: "redis"}
	base := EventID("s1", 3, k, 0)
	if !bytes.Equal(base, EventID("s1", 3, k, 0)) {
		t.Fatal("EventID is not deterministic")
	}
	mapped := k
	mapped.Addr = netip.MustParseAddr("::ffff:127.0.10.10")
	if !bytes.Equal(base, EventID("s1", 3, mapped, 0)) {
		t.Error("an IPv4-mapped address gives another id than its IPv4 form")
	}
	others := []struct {
		name  string
		scan  string
		shard int
		k     ajar.Key
		seq   int
	}{
		{"scan", "s2", 3, k, 0},
		{"shard", "s1", 4, k, 0},
		{"closing pass", "s1", 0, k, 0},
		{"address", "s1", 3, ajar.Key{Addr: netip.MustParseAddr("127.0.10.11"), Port: 6379, Plugin: "redis"}, 0},
		{"port", "s1", 3, ajar.Key{Addr: k.Addr, Port: 6380, Plugin: "redis"}, 0},
		{"plugin", "s1", 3, ajar.Key{Addr: k.Addr, Port: 6379}, 0},
		{"sequence", "s1", 3, k, 1},
		// The separator keeps "s1"+"x" apart from "s1x"+"".
		{"plugin and scan boundary", "s1\x00", 3, ajar.Key{Addr: k.Addr, Port: 6379, Plugin: "edis"}, 0},
	}
	for _, o := range others {
		if bytes.Equal(base, EventID(o.scan, o.shard, o.k, o.seq)) {
			t.Errorf("another %s gives the same id", o.name)
		}
	}
}

func TestSpecRebuildsTheSameWalk(t *testing.T) {
	ctx := context.Background()
	orig, err := targets.Build(ctx, targets.Spec{
		Include:      targets.Entries("127.0.10.0/26", "127.0.10.100-127.0.10.140", "::1"),
		Exclude:      targets.Entries("127.0.10.8/30", "127.0.10.120"),
		ExcludePorts: []string{"127.0.10.10:6379", "9999"},
		Ports:        []uint16{3306, 5432, 6379, 9999},
	})
	if err != nil {
		t.Fatal(err)
	}
	spec := NewSpec(orig, []string{"127.0.10.10:6379", "9999"})
	spec.Seed, spec.Shards = 42, 3
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	again, err := spec.Space(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Size() != orig.Size() {
		t.Fatalf("rebuilt space has %d targets, want %d", again.Size(), orig.Size())
	}
	for i := 1; i <= spec.Shards; i++ {
		var a, b []string
		for _, tg := range orig.Walk(spec.Walk(i)) {
			a = append(a, tg.String())
		}
		for _, tg := range again.Walk(spec.Walk(i)) {
			b = append(b, tg.String())
		}
		if !slices.Equal(a, b) {
			t.Errorf("shard %d walks differently after the rebuild:\n got %v\nwant %v", i, b, a)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{Ranges: []string{"127.0.10.0/24"}, Ports: []uint16{6379}, Shards: 1}
	tests := []struct {
		name string
		edit func(*Spec)
	}{
		{"no ranges", func(s *Spec) { s.Ranges = nil }},
		{"no ports", func(s *Spec) { s.Ports = nil }},
		{"no shards", func(s *Spec) { s.Shards = 0 }},
		{"too many shards", func(s *Spec) { s.Shards = MaxShards + 1 }},
		{"negative rate", func(s *Spec) { s.Rate = -1 }},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a valid spec: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			if s.Validate() == nil {
				t.Errorf("a spec with %s is valid", tt.name)
			}
		})
	}
}

func TestDefaultShards(t *testing.T) {
	tests := []struct {
		total uint64
		want  int
	}{
		{0, 1}, {1, 1}, {TargetsPerShard, 1}, {TargetsPerShard + 1, 2},
		{(1 << 32) * 20, MaxShards},
	}
	for _, tt := range tests {
		if got := DefaultShards(tt.total); got != tt.want {
			t.Errorf("DefaultShards(%d) = %d, want %d", tt.total, got, tt.want)
		}
	}
}

func TestCheckScanID(t *testing.T) {
	for id, ok := range map[string]bool{
		"20261125T100000Z-a1b2c3": true, "lab_1": true,
		"": false, "a.b": false, "a b": false, "a*": false, "a>": false,
	} {
		if err := checkScanID(id); (err == nil) != ok {
			t.Errorf("checkScanID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestMetricsText(t *testing.T) {
	m := NewMetrics()
	m.event(&ajar.Event{Plugin: "redis", Status: ajar.StatusOpen, Detail: "probe redis 127.0.10.10:6379: read INFO: i/o timeout"})
	m.event(&ajar.Event{Plugin: "redis", Status: ajar.StatusExposed})
	m.event(&ajar.Event{Plugin: "mysql", Status: ajar.StatusProtected, Detail: "access denied for root"})
	m.addPorts(100, 120)
	m.observeStore("record", 3*time.Millisecond, nil)
	m.inFlight.Inc()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`ajar_worker_probe_errors_total{plugin="redis"} 1`,
		`ajar_worker_events_total{status="exposed"} 1`,
		`ajar_worker_ports_total 100`,
		`ajar_worker_connect_attempts_total 120`,
		`ajar_worker_shards_in_flight 1`,
		`ajar_worker_store_seconds_count{op="record"} 1`,
		`ajar_worker_shards_total{result="done"} 0`,
		"# TYPE ajar_worker_ports_per_second gauge",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `plugin="mysql"`) {
		t.Error("a probe's own detail counted as a probe error")
	}
}
