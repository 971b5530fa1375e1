package couchdb

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab/emulator"
	emucouch "github.com/ajar-scan/ajar/lab/emulator/couchdb"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
	"github.com/ajar-scan/ajar/probe/httpc/hostile"
)

type recorder struct {
	h  http.Handler
	mu sync.Mutex
	rq []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.rq = append(rc.rq, r.Method+" "+r.URL.RequestURI())
	rc.mu.Unlock()
	rc.h.ServeHTTP(w, r)
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.23.2:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second}
	tg := &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "http"}, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("couchdb")
	if !ok {
		t.Fatal(`no prober registered as "couchdb"`)
	}
	return p.Probe(ctx, tg)
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("couchdb")
	if !ok || !slices.Equal(p.Protocols(), []string{"couchdb", "http"}) || !slices.Equal(p.DefaultPorts(), []uint16{5984}) {
		t.Fatalf("couchdb prober: %v %v", p, ok)
	}
}

type wantDB struct {
	name           string
	records, bytes int64
	system         bool
	samples        int
}

var personFields = []string{"address", "csrq", "region.code", "region.name", "sfzh", "sjhm", "xb", "xm"}
var caseFields = []string{"offence", "sfzh", "姓名", "案件编号", "立案时间", "罪名"}

// check compares an exposure with the seeded databases.
func check(t *testing.T, exp *ajar.Exposure, access ajar.Access, want []wantDB) {
	t.Helper()
	if exp == nil || exp.Plugin != "couchdb" || exp.Access != access {
		t.Fatalf("exposure %+v, want plugin couchdb access %q", exp, access)
	}
	if len(exp.Datasets) != len(want) {
		t.Fatalf("datasets %+v, want %d", exp.Datasets, len(want))
	}
	var records, bytes int64
	per := map[string]int{}
	for _, s := range exp.Samples {
		per[s.Dataset]++
		if s.Doc["_id"] == "" || s.Doc["_rev"] != "" {
			t.Errorf("sample of %s: _id %q _rev %q; want an _id and no _rev", s.Dataset, s.Doc["_id"], s.Doc["_rev"])
		}
	}
	for i, w := range want {
		d := exp.Datasets[i]
		if d.Name != w.name || d.Records != w.records || d.Bytes != w.bytes || d.System != w.system {
			t.Errorf("dataset %d: %s %d records %d bytes system=%v; want %+v", i, d.Name, d.Records, d.Bytes, d.System, w)
		}
		if !w.system {
			records += w.records
			bytes += w.bytes
		}
		if per[w.name] != w.samples {
			t.Errorf("%d samples of %s, want %d", per[w.name], w.name, w.samples)
		}
		wantFields := map[string][]string{"person_info": personFields, "case_record": caseFields}[w.name]
		if w.samples > 0 && !slices.Equal(d.Fields, wantFields) {
			t.Errorf("%s fields %q, want %q", d.Name, d.Fields, wantFields)
		}
	}
	if exp.Records != records || exp.Bytes != bytes {
		t.Errorf("totals %d records %d bytes, want %d %d", exp.Records, exp.Bytes, records, bytes)
	}
	ev := exp.Evidence
	if ev == nil || ev.Request != "GET /_all_dbs" || len(ev.Response) > 512 || !strings.Contains(ev.Response, "person_info") {
		t.Errorf("evidence %+v", ev)
	}
}

// TestEmulated runs the probe against the CouchDB emulator (no CouchDB can
// run here; the emulator answers as the documented API does).
func TestEmulated(t *testing.T) {
	users := wantDB{"_users", emulator.CouchUsersDocs, emulator.CouchUsersBytes, true, 0}
	repl := wantDB{"_replicator", 0, 0, true, 0}
	cases := wantDB{"case_record", emulator.CouchCases, emulator.CouchCasesBytes, false, 5}
	persons := wantDB{"person_info", emulator.CouchPersons, emulator.CouchPersonsBytes, false, 5}
	tests := []struct {
		version, variant string
		status           ajar.Status
		access           ajar.Access
		want             []wantDB
		detail           string
	}{
		{"3.3.3", emucouch.AdminParty, ajar.StatusExposed, ajar.AccessAdmin, []wantDB{repl, users, cases, persons}, ""},
		{"2.3.1", emucouch.AdminParty, ajar.StatusExposed, ajar.AccessAdmin, []wantDB{repl, users, cases, persons}, ""},
		{"3.3.3", emucouch.Open, ajar.StatusExposed, ajar.AccessRead, []wantDB{cases, persons}, "2 of 4 databases need credentials"},
		{"3.3.3", emucouch.Secured, ajar.StatusProtected, "", nil, "listing databases refused: unauthorized: You are not a server admin."},
	}
	for _, tt := range tests {
		t.Run(tt.version+"-"+tt.variant, func(t *testing.T) {
			srv, err := emucouch.New(tt.version, tt.variant, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{h: srv}
			res, err := run(t, serve(t, rec), 10*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			defer func() {
				if srv.Writes() != 0 {
					t.Errorf("writes refused: %v", srv.Refused())
				}
				for _, rq := range rec.rq {
					if !strings.HasPrefix(rq, "GET ") {
						t.Errorf("sent %q", rq)
					}
				}
			}()
			if res.Status != tt.status || res.Product != "CouchDB" || res.Version != tt.version || res.Detail != tt.detail {
				t.Fatalf("status %q product %q version %q detail %q", res.Status, res.Product, res.Version, res.Detail)
			}
			if tt.status == ajar.StatusExposed {
				check(t, res.Exposure, tt.access, tt.want)
			} else if res.Exposure != nil {
				t.Errorf("exposure %+v", res.Exposure)
			}
		})
	}
}

// TestExpressPouchDB runs the probe against a real CouchDB-API server,
// express-pouchdb, open and secured.
func TestExpressPouchDB(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		addr := startPouch(t, "open")
		res, err := run(t, addr, 10*time.Second)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		if res.Status != ajar.StatusExposed || res.Product != "express-pouchdb" || res.Version != "4.2.0" {
			t.Fatalf("result %+v", res)
		}
		// The memory adapter reports no sizes; _replicator and _users hold
		// their design documents.
		check(t, res.Exposure, ajar.AccessAdmin, []wantDB{
			{"_replicator", 1, 0, true, 0},
			{"_users", 1, 0, true, 0},
			{"case_record", emulator.PouchCases, 0, false, 5},
			{"person_info", emulator.PouchPersons, 0, false, 5},
		})
	})
	t.Run("secured", func(t *testing.T) {
		addr := startPouch(t, "secured")
		res, err := run(t, addr, 10*time.Second)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		if res.Status != ajar.StatusProtected || res.Exposure != nil || !strings.Contains(res.Detail, "none of the data readable") {
			t.Fatalf("result %+v, want protected", res)
		}
		// The server is still up: no request of the probe crashed it.
		if res, err := run(t, addr, 5*time.Second); err != nil || res.Status != ajar.StatusProtected {
			t.Errorf("second probe: %+v, %v", res, err)
		}
	})
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	for _, b := range hostile.All {
		t.Run(b.Name, func(t *testing.T) {
			addr := hostile.Serve(t, "127.0.23.9:0", b)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, err := run(t, addr, deadline)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if took > deadline+500*time.Millisecond {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if err == nil {
				t.Errorf("no error; result %+v", res)
			}
			if b.Name == hostile.RedirectElsewhere.Name && !errors.Is(err, httpc.ErrRedirect) {
				t.Errorf("error %v, want a refused redirect", err)
			}
			if res == nil || res.Status != ajar.StatusOpen || res.Exposure != nil {
				t.Errorf("result %+v, want open and no exposure", res)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}
