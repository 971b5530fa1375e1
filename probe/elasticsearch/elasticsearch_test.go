package elasticsearch

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab/emulator"
	emu "github.com/ajar-scan/ajar/lab/emulator/elasticsearch"
	"github.com/ajar-scan/ajar/probe"
)

// recorder wraps an emulator and keeps the method and URI of every request,
// so that a test can check that the probe only read.
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

func (rc *recorder) requests() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.rq)
}

// serve runs h on a test address on loopback until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.21.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

func target(t *testing.T, addr string, opts probe.Options) *probe.Target {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second, ReadCap: 32 << 20}
	return &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "http"}, Dialer: d, Options: opts}
}

func run(t *testing.T, addr string, opts probe.Options, timeout time.Duration) (*probe.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("elasticsearch")
	if !ok {
		t.Fatal(`no prober registered as "elasticsearch"`)
	}
	return p.Probe(ctx, target(t, addr, opts))
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("elasticsearch")
	if !ok {
		t.Fatal(`no prober registered as "elasticsearch"`)
	}
	for _, proto := range []string{"elasticsearch", "opensearch", "http"} {
		if !slices.Contains(p.Protocols(), proto) {
			t.Errorf("protocols %v lack %q", p.Protocols(), proto)
		}
	}
	if !slices.Equal(p.DefaultPorts(), []uint16{9200}) {
		t.Errorf("ports %v", p.DefaultPorts())
	}
}

// want is the listing every open emulated cluster gives.
type wantDataset struct {
	name    string
	records int64
	bytes   int64
	system  bool
	fields  []string
}

func openDatasets(kibana string) []wantDataset {
	return []wantDataset{
		{kibana, emulator.ESKibanaDocs, emulator.ESKibanaBytes, true, []string{"config.buildNum", "type", "updated_at"}},
		{"case_record", emulator.ESCases, emulator.ESCasesBytes, false, []string{"offence", "sfzh", "姓名", "案件编号", "立案时间", "罪名"}},
		{"person_info", emulator.ESPersons, emulator.ESPersonsBytes, false, []string{"address", "csrq", "region.code", "region.name", "sfzh", "sjhm", "xb", "xm"}},
		{"population", emulator.ESPopulation, emulator.ESPopBytes, false, []string{"住址", "出生日期", "姓名", "性别", "手机号码", "身份证号"}},
	}
}

// TestEmulatedClusters runs the probe against the emulated releases (no
// Elasticsearch, OpenSearch or Kibana can run here: the emulators answer
// as the documented REST API does) and checks the exact seeded figures.
func TestEmulatedClusters(t *testing.T) {
	tests := []struct {
		product, version, variant string
		wantProduct               string
		status                    ajar.Status
		access                    ajar.Access
		datasets                  []wantDataset
		detail                    string
	}{
		{"elasticsearch", "6.8.23", emu.Open, "Elasticsearch", ajar.StatusExposed, ajar.AccessAdmin, openDatasets(".kibana_1"), ""},
		{"elasticsearch", "7.17.9", emu.Open, "Elasticsearch", ajar.StatusExposed, ajar.AccessAdmin, openDatasets(".kibana_7.17.9_001"), ""},
		{"elasticsearch", "8.11.1", emu.Open, "Elasticsearch", ajar.StatusExposed, ajar.AccessAdmin, openDatasets(".kibana_8.11.1_001"), ""},
		{"opensearch", "1.3.14", emu.Open, "OpenSearch", ajar.StatusExposed, ajar.AccessAdmin, openDatasets(".kibana_1"), ""},
		{"opensearch", "2.11.0", emu.Open, "OpenSearch", ajar.StatusExposed, ajar.AccessAdmin, openDatasets(".kibana_1"), ""},
		{"elasticsearch", "7.17.9", emu.Ransomed, "Elasticsearch", ajar.StatusExposed, ajar.AccessAdmin,
			[]wantDataset{{"read_me", 1, emulator.ESReadMeBytes, false, []string{"message"}}}, ""},
		{"elasticsearch", "6.8.23", emu.Secured, "Elasticsearch", ajar.StatusProtected, "", nil, "missing authentication credentials for REST request [/]"},
		{"elasticsearch", "7.17.9", emu.Secured, "Elasticsearch", ajar.StatusProtected, "", nil, "missing authentication credentials for REST request [/]"},
		{"elasticsearch", "8.11.1", emu.Secured, "Elasticsearch", ajar.StatusProtected, "", nil, "missing authentication credentials for REST request [/]"},
		{"opensearch", "2.11.0", emu.Secured, "OpenSearch", ajar.StatusProtected, "", nil, "authentication required"},
	}
	for _, tt := range tests {
		t.Run(tt.product+"-"+tt.version+"-"+tt.variant, func(t *testing.T) {
			srv, err := emu.New(tt.product, tt.version, tt.variant, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{h: srv}
			addr := serve(t, rec)
			res, err := run(t, addr, probe.DefaultOptions(), 10*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			defer func() {
				// No write may reach the cluster, whatever the verdict.
				if n := srv.Writes(); n != 0 {
					t.Errorf("the emulator refused %d writes: %v", n, srv.Refused())
				}
				for _, rq := range rec.requests() {
					if !strings.HasPrefix(rq, "GET ") {
						t.Errorf("sent %q: the probe only sends GET", rq)
					}
				}
			}()
			if res.Status != tt.status || res.Product != tt.wantProduct {
				t.Fatalf("status %q product %q detail %q, want %q %q", res.Status, res.Product, res.Detail, tt.status, tt.wantProduct)
			}
			if tt.status == ajar.StatusProtected {
				if res.Exposure != nil || res.Detail != tt.detail {
					t.Errorf("exposure %+v detail %q, want none and %q", res.Exposure, res.Detail, tt.detail)
				}
				return
			}
			if res.Version != tt.version {
				t.Errorf("version %q, want %q", res.Version, tt.version)
			}
			checkExposure(t, res.Exposure, "elasticsearch", tt.access, tt.datasets, "GET /_cat/indices?format=json&bytes=b")
		})
	}
}

// checkExposure compares an exposure with the seeded listing: datasets,
// totals, fields, samples and evidence.
func checkExposure(t *testing.T, exp *ajar.Exposure, plugin string, access ajar.Access, want []wantDataset, evidence string) {
	t.Helper()
	if exp == nil {
		t.Fatal("no exposure")
	}
	if exp.Plugin != plugin || exp.Access != access {
		t.Errorf("plugin %q access %q, want %q %q", exp.Plugin, exp.Access, plugin, access)
	}
	if len(exp.Datasets) != len(want) {
		t.Fatalf("datasets %+v, want %d", exp.Datasets, len(want))
	}
	var records, bytes int64
	for i, w := range want {
		d := exp.Datasets[i]
		if d.Name != w.name || d.Records != w.records || d.Bytes != w.bytes || d.System != w.system || d.Estimated {
			t.Errorf("dataset %d = %s %d records %d bytes system=%v estimated=%v, want %s %d %d %v",
				i, d.Name, d.Records, d.Bytes, d.System, d.Estimated, w.name, w.records, w.bytes, w.system)
		}
		if !slices.Equal(d.Fields, w.fields) {
			t.Errorf("%s fields %q, want %q", d.Name, d.Fields, w.fields)
		}
		if !w.system {
			records += w.records
			bytes += w.bytes
		}
	}
	if exp.Records != records || exp.Bytes != bytes {
		t.Errorf("totals %d records %d bytes, want %d %d (system datasets not counted)", exp.Records, exp.Bytes, records, bytes)
	}
	perDataset := map[string]int{}
	for _, s := range exp.Samples {
		perDataset[s.Dataset]++
		if len(s.Doc) == 0 {
			t.Errorf("empty sample of %s", s.Dataset)
		}
	}
	for _, w := range want {
		n := perDataset[w.name]
		switch {
		case w.system && n != 0:
			t.Errorf("%d samples of system dataset %s", n, w.name)
		case !w.system && n != int(min(w.records, 5)):
			t.Errorf("%d samples of %s, want %d", n, w.name, min(w.records, 5))
		}
	}
	ev := exp.Evidence
	if ev == nil || ev.Request != evidence || len(ev.Response) > 512 || !strings.Contains(ev.Response, want[len(want)-1].name) && !strings.Contains(ev.Response, want[0].name) {
		t.Fatalf("evidence %+v", ev)
	}
	// The evidence is printed as it is: it must hold no sampled value.
	for _, s := range exp.Samples {
		for k, v := range s.Doc {
			if len(v) >= 6 && strings.Contains(ev.Response, v) {
				t.Errorf("evidence holds the value of %s.%s", s.Dataset, k)
			}
		}
	}
}

// TestRansomNoteSampled checks that the note of a wiped cluster is read, for
// the enrich stage to flag.
func TestRansomNoteSampled(t *testing.T) {
	srv, err := emu.New("elasticsearch", "7.17.9", emu.Ransomed, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t, serve(t, srv), probe.DefaultOptions(), 10*time.Second)
	if err != nil || res.Exposure == nil {
		t.Fatalf("Probe: %+v, %v", res, err)
	}
	s := res.Exposure.Samples
	if len(s) != 1 || s[0].Dataset != "read_me" || s[0].Doc["message"] != emulator.RansomNote {
		t.Errorf("samples %+v, want the one note of read_me", s)
	}
	if srv.Writes() != 0 {
		t.Errorf("writes %v", srv.Refused())
	}
}

func TestOptions(t *testing.T) {
	srv, err := emu.New("elasticsearch", "7.17.9", emu.Open, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	opts := probe.DefaultOptions()
	opts.Samples, opts.MaxDatasets = 0, 2
	res, err := run(t, addr, opts, 10*time.Second)
	if err != nil || res.Exposure == nil {
		t.Fatalf("Probe: %+v, %v", res, err)
	}
	exp := res.Exposure
	// The two largest data indices are kept, in name order.
	if len(exp.Datasets) != 2 || exp.Datasets[0].Name != "person_info" || exp.Datasets[1].Name != "population" {
		t.Errorf("datasets %+v, want person_info and population", exp.Datasets)
	}
	if exp.Records != emulator.ESPersons+emulator.ESPopulation || len(exp.Samples) != 0 {
		t.Errorf("records %d samples %d", exp.Records, len(exp.Samples))
	}
	if srv.Writes() != 0 {
		t.Errorf("writes %v", srv.Refused())
	}
}

func TestCancelled(t *testing.T) {
	srv, _ := emu.New("elasticsearch", "7.17.9", emu.Open, nil)
	addr := serve(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("elasticsearch")
	res, err := p.Probe(ctx, target(t, addr, probe.DefaultOptions()))
	if err == nil || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v", res, err)
	}
}
