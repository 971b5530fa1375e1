package kibana

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
	emues "github.com/ajar-scan/ajar/lab/emulator/elasticsearch"
	emukbn "github.com/ajar-scan/ajar/lab/emulator/kibana"
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
	ln, err := net.Listen("tcp", "127.0.22.1:0")
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
	p, ok := probe.Get("kibana")
	if !ok {
		t.Fatal(`no prober registered as "kibana"`)
	}
	return p.Probe(ctx, tg)
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("kibana")
	if !ok || !slices.Equal(p.Protocols(), []string{"kibana", "http"}) || !slices.Equal(p.DefaultPorts(), []uint16{5601}) {
		t.Fatalf("kibana prober: %v %v", p, ok)
	}
}

// TestEmulated runs the probe against emulated Kibana releases in front of
// emulated clusters (neither can run here; the emulators answer as the
// documented APIs do).
func TestEmulated(t *testing.T) {
	const catEvidence = "POST /api/console/proxy?path=_cat%2Findices%3Fformat%3Djson%26bytes%3Db&method=GET"
	tests := []struct {
		version, variant string
		esVersion        string
		esVariant        string
		status           ajar.Status
		detail           string
		datasets         []string
	}{
		{"7.17.9", emukbn.Open, "7.17.9", emues.Open, ajar.StatusExposed,
			"fronts Elasticsearch 7.17.9 (cluster docker-cluster)", []string{".kibana_7.17.9_001", "case_record", "person_info", "population"}},
		{"8.11.1", emukbn.Open, "8.11.1", emues.Open, ajar.StatusExposed,
			"fronts Elasticsearch 8.11.1 (cluster docker-cluster)", []string{".kibana_8.11.1_001", "case_record", "person_info", "population"}},
		{"7.17.9", emukbn.Open, "7.17.9", emues.Ransomed, ajar.StatusExposed,
			"fronts Elasticsearch 7.17.9 (cluster docker-cluster)", []string{"read_me"}},
		{"7.17.9", emukbn.Open, "7.17.9", emues.Secured, ajar.StatusProtected,
			"the cluster behind Kibana refuses: missing authentication credentials for REST request [/]", nil},
		{"7.17.9", emukbn.Secured, "7.17.9", emues.Secured, ajar.StatusProtected, "login required: /api/status answered HTTP 401", nil},
		{"8.11.1", emukbn.Secured, "8.11.1", emues.Secured, ajar.StatusProtected, "login required: /api/status answered HTTP 401", nil},
	}
	for _, tt := range tests {
		t.Run(tt.version+"-"+tt.variant+"-es-"+tt.esVariant, func(t *testing.T) {
			es, err := emues.New("elasticsearch", tt.esVersion, tt.esVariant, nil)
			if err != nil {
				t.Fatal(err)
			}
			kb, err := emukbn.New(tt.version, tt.variant, es, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{h: kb}
			res, err := run(t, serve(t, rec), 10*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			defer func() {
				if kb.Writes() != 0 || es.Writes() != 0 {
					t.Errorf("writes refused: Kibana %v, cluster %v", kb.Refused(), es.Refused())
				}
				for _, rq := range rec.rq {
					if rq != "GET /api/status" && !(strings.HasPrefix(rq, "POST /api/console/proxy?") && strings.HasSuffix(rq, "&method=GET")) {
						t.Errorf("sent %q", rq)
					}
				}
			}()
			if res.Status != tt.status || res.Product != "Kibana" || res.Detail != tt.detail {
				t.Fatalf("status %q product %q detail %q; want %q Kibana %q", res.Status, res.Product, res.Detail, tt.status, tt.detail)
			}
			if tt.status != ajar.StatusExposed {
				if res.Exposure != nil {
					t.Errorf("exposure %+v", res.Exposure)
				}
				return
			}
			exp := res.Exposure
			if res.Version != tt.version || exp.Plugin != "kibana" || exp.Access != ajar.AccessAdmin {
				t.Errorf("version %q plugin %q access %q", res.Version, exp.Plugin, exp.Access)
			}
			var names []string
			for _, d := range exp.Datasets {
				names = append(names, d.Name)
			}
			if !slices.Equal(names, tt.datasets) {
				t.Fatalf("datasets %v, want %v", names, tt.datasets)
			}
			var want int64 = 1
			if tt.esVariant == emues.Open {
				want = emulator.ESPersons + emulator.ESPopulation + emulator.ESCases
			}
			if exp.Records != want {
				t.Errorf("records %d, want %d", exp.Records, want)
			}
			if exp.Evidence == nil || exp.Evidence.Request != catEvidence || len(exp.Evidence.Response) > 512 ||
				!strings.Contains(exp.Evidence.Response, tt.datasets[len(tt.datasets)-1]) {
				t.Errorf("evidence %+v", exp.Evidence)
			}
			if len(exp.Samples) == 0 {
				t.Error("no samples")
			}
			for _, s := range exp.Samples {
				if strings.HasPrefix(s.Dataset, ".") {
					t.Errorf("sampled system index %s", s.Dataset)
				}
			}
			if tt.esVariant == emues.Ransomed && exp.Samples[0].Doc["message"] != emulator.RansomNote {
				t.Errorf("samples %+v, want the ransom note", exp.Samples)
			}
		})
	}
}

// TestNotKibana: a cluster, or any web server, is not Kibana.
func TestNotKibana(t *testing.T) {
	es, _ := emues.New("elasticsearch", "7.17.9", emues.Open, nil)
	for name, h := range map[string]http.Handler{
		"elasticsearch": es,
		"web page": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html>hello</html>"))
		}),
		"login elsewhere": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/login", http.StatusFound)
		}),
	} {
		t.Run(name, func(t *testing.T) {
			res, err := run(t, serve(t, h), 2*time.Second)
			if err != nil || res.Status != ajar.StatusOpen || res.Detail == "" {
				t.Errorf("result %+v, %v; want open, a detail, no error", res, err)
			}
		})
	}
	if es.Writes() != 0 {
		t.Errorf("writes %v", es.Refused())
	}
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	for _, b := range hostile.All {
		t.Run(b.Name, func(t *testing.T) {
			addr := hostile.Serve(t, "127.0.22.9:0", b)
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

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name, body, version, overall string
		ok                           bool
	}{
		{"7.x legacy", `{"name":"kibana","version":{"number":"7.17.9","build_number":46534},"status":{"overall":{"state":"green","title":"Green"},"statuses":[]}}`, "7.17.9", "green", true},
		{"8.x", `{"name":"kibana","version":{"number":"8.11.1"},"status":{"overall":{"level":"available","summary":"All services are available"}}}`, "8.11.1", "available", true},
		{"no overall", `{"version":{"number":"8.11.1"}}`, "", "", false},
		{"no version", `{"status":{"overall":{"level":"available"}}}`, "", "", false},
		{"array", `[]`, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseStatus([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("error %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (s.Version.Number != tt.version || s.Overall() != tt.overall) {
				t.Errorf("got %s %s", s.Version.Number, s.Overall())
			}
		})
	}
}

// FuzzParseStatus feeds the status parser arbitrary bytes; seeds are the
// emulator's answers in both formats.
func FuzzParseStatus(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := ParseStatus(b); err == nil && (s.Version.Number == "" || len(s.Version.Number) > 64 || len(s.Overall()) > 32) {
			t.Fatalf("status %+v", s)
		}
	})
}
