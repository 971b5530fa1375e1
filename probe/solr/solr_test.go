package solr

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab/emulator"
	emusolr "github.com/ajar-scan/ajar/lab/emulator/solr"
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
	ln, err := net.Listen("tcp", "127.0.24.1:0")
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
	p, ok := probe.Get("solr")
	if !ok {
		t.Fatal(`no prober registered as "solr"`)
	}
	return p.Probe(ctx, tg)
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("solr")
	if !ok || !slices.Equal(p.Protocols(), []string{"solr", "http"}) || !slices.Equal(p.DefaultPorts(), []uint16{8983}) {
		t.Fatalf("solr prober: %v %v", p, ok)
	}
}

// TestEmulated runs the probe against the Solr 9 emulator (Solr cannot run
// here; the emulator answers as the documented API does).
func TestEmulated(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		srv, _ := emusolr.New("9.4.1", emusolr.Open, nil)
		rec := &recorder{h: srv}
		res, err := run(t, serve(t, rec), 10*time.Second)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		defer noWrites(t, srv, rec)
		if res.Status != ajar.StatusExposed || res.Product != "Solr" || res.Version != "9.4.1" {
			t.Fatalf("result %+v", res)
		}
		exp := res.Exposure
		if exp.Plugin != "solr" || exp.Access != ajar.AccessAdmin {
			t.Errorf("plugin %q access %q", exp.Plugin, exp.Access)
		}
		want := []struct {
			name           string
			records, bytes int64
			fields         []string
		}{
			{"case_record", emulator.SolrCases, emulator.SolrCasesBytes, []string{"id", "offence", "sfzh", "姓名", "案件编号", "立案时间", "罪名"}},
			{"person_info", emulator.SolrPersons, emulator.SolrPersonsBytes, []string{"address", "csrq", "id", "region.code", "region.name", "sfzh", "sjhm", "xb", "xm"}},
		}
		if len(exp.Datasets) != len(want) {
			t.Fatalf("datasets %+v", exp.Datasets)
		}
		for i, w := range want {
			d := exp.Datasets[i]
			if d.Name != w.name || d.Records != w.records || d.Bytes != w.bytes || d.System || !slices.Equal(d.Fields, w.fields) {
				t.Errorf("dataset %+v, want %+v", d, w)
			}
		}
		if exp.Records != emulator.SolrCases+emulator.SolrPersons || exp.Bytes != emulator.SolrCasesBytes+emulator.SolrPersonsBytes {
			t.Errorf("totals %d %d", exp.Records, exp.Bytes)
		}
		per := map[string]int{}
		for _, s := range exp.Samples {
			per[s.Dataset]++
			if s.Doc["id"] == "" || s.Doc["_version_"] != "" {
				t.Errorf("sample %v", s.Doc)
			}
		}
		if per["case_record"] != 5 || per["person_info"] != 5 {
			t.Errorf("samples per core %v", per)
		}
		ev := exp.Evidence
		if ev == nil || ev.Request != "GET /solr/admin/cores?action=STATUS&wt=json" || len(ev.Response) > 512 || !strings.Contains(ev.Response, `"numDocs":2000000`) {
			t.Errorf("evidence %+v", ev)
		}
	})
	t.Run("secured", func(t *testing.T) {
		srv, _ := emusolr.New("9.4.1", emusolr.Secured, nil)
		rec := &recorder{h: srv}
		res, err := run(t, serve(t, rec), 10*time.Second)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		defer noWrites(t, srv, rec)
		if res.Status != ajar.StatusProtected || res.Product != "Solr" || res.Detail != "require authentication" || res.Exposure != nil {
			t.Fatalf("result %+v", res)
		}
	})
}

func noWrites(t *testing.T, srv *emusolr.Server, rec *recorder) {
	t.Helper()
	if srv.Writes() != 0 {
		t.Errorf("writes refused: %v", srv.Refused())
	}
	for _, rq := range rec.rq {
		if !strings.HasPrefix(rq, "GET ") {
			t.Errorf("sent %q", rq)
		}
	}
}

// TestEmulatorRefusesWrites checks the guard the other tests rely on: the
// GET forms of core administration count as writes too.
func TestEmulatorRefusesWrites(t *testing.T) {
	srv, _ := emusolr.New("9.4.1", emusolr.Open, nil)
	for _, rq := range [][2]string{
		{"POST", "/solr/person_info/update?commit=true"},
		{"GET", "/solr/admin/cores?action=UNLOAD&core=person_info"},
		{"DELETE", "/solr/person_info"},
	} {
		rr := httptest.NewRecorder()
		srv.ServeHTTP(rr, httptest.NewRequest(rq[0], rq[1], nil))
		if rr.Code != http.StatusForbidden {
			t.Errorf("%s %s: HTTP %d", rq[0], rq[1], rr.Code)
		}
	}
	if srv.Writes() != 3 {
		t.Errorf("writes %d, want 3", srv.Writes())
	}
}

func TestNotSolr(t *testing.T) {
	res, err := run(t, serve(t, http.NotFoundHandler()), 2*time.Second)
	if err != nil || res.Status != ajar.StatusOpen || res.Detail == "" {
		t.Errorf("result %+v, %v", res, err)
	}
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	for _, b := range hostile.All {
		t.Run(b.Name, func(t *testing.T) {
			addr := hostile.Serve(t, "127.0.24.9:0", b)
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

func TestParsers(t *testing.T) {
	sys, err := ParseSystem([]byte(`{"lucene":{"solr-spec-version":"8.11.2"},"security":{"authenticationPlugin":"BasicAuthPlugin","username":"solr"}}`))
	if err != nil || sys.Version != "8.11.2" || !sys.Authentication {
		t.Errorf("system %+v, %v", sys, err)
	}
	if _, err := ParseSystem([]byte(`{"responseHeader":{}}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v", err)
	}
	cores, err := ParseCores([]byte(`{"status":{"b":{"name":"b","index":{"numDocs":3,"sizeInBytes":9}},"a":{"index":{"numDocs":1,"sizeInBytes":2}}}}`))
	if err != nil || len(cores) != 2 || cores[0] != (Core{"a", 1, 2}) || cores[1] != (Core{"b", 3, 9}) {
		t.Errorf("cores %+v, %v", cores, err)
	}
	if _, err := ParseCores([]byte(`{"status":{"a":{"index":{"numDocs":-1}}}}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v", err)
	}
	fields, err := ParseFields([]byte(`{"fields":[{"name":"_version_"},{"name":"xm"},{"name":"_root_"},{"name":"id"}]}`))
	if err != nil || !slices.Equal(fields, []string{"id", "xm"}) {
		t.Errorf("fields %q, %v", fields, err)
	}
	docs, err := ParseSelect([]byte(`{"response":{"numFound":9,"docs":[{"id":"1","xm":["张伟"],"_version_":17},{"id":"2"}]}}`), 1)
	if err != nil || len(docs) != 1 || docs[0]["xm"] != "张伟" || docs[0]["_version_"] != "" {
		t.Errorf("docs %v, %v", docs, err)
	}
}

// The fuzz targets feed the parsers arbitrary bytes; seeds are the
// emulator's answers.

func FuzzParseSystem(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := ParseSystem(b); err == nil && (s.Version == "" || len(s.Version) > 64) {
			t.Fatalf("system %+v", s)
		}
	})
}

func FuzzParseCores(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		cores, err := ParseCores(b)
		if err != nil {
			return
		}
		for _, c := range cores {
			if c.Name == "" || c.Docs < 0 || c.Bytes < 0 {
				t.Fatalf("core %+v", c)
			}
		}
	})
}

func FuzzParseSelect(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, _ := ParseSelect(b, 5)
		fields, _ := ParseFields(b)
		if len(docs) > 5 || len(fields) > maxFields {
			t.Fatalf("%d docs %d fields", len(docs), len(fields))
		}
	})
}

// TestSeedsPresent keeps the fuzz seeds honest: each target has some.
func TestSeedsPresent(t *testing.T) {
	for _, fz := range []string{"FuzzParseSystem", "FuzzParseCores", "FuzzParseSelect"} {
		ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", fz))
		if err != nil || len(ents) == 0 {
			t.Errorf("%s: %d seeds, %v", fz, len(ents), err)
		}
	}
}
