package influxdb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
	"github.com/ajar-scan/ajar/probe/probetest"
)

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("influxdb")
	if !ok {
		t.Fatal(`no prober registered as "influxdb"`)
	}
	if !slices.Equal(p.Protocols(), []string{"influxdb"}) || !slices.Equal(p.DefaultPorts(), []uint16{8086}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.InfluxOpen)
	res, _, err := run(t, lab.InfluxOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "InfluxDB" || !strings.HasPrefix(res.Version, "1.6.") {
		t.Errorf("product %q version %q, want InfluxDB 1.6", res.Product, res.Version)
	}
	exp := res.Exposure
	if exp.Plugin != "influxdb" || exp.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q", exp.Plugin, exp.Access)
	}
	if len(exp.Datasets) != 2 {
		t.Fatalf("datasets %+v, want tracking.cpu and tracking.person_location", exp.Datasets)
	}
	cpu, loc := exp.Datasets[0], exp.Datasets[1]
	if cpu.Name != "tracking.cpu" || cpu.Records != lab.InfluxHosts || loc.Name != "tracking.person_location" || loc.Records != lab.InfluxPersons {
		t.Errorf("datasets %s=%d %s=%d, want tracking.cpu=%d tracking.person_location=%d",
			cpu.Name, cpu.Records, loc.Name, loc.Records, lab.InfluxHosts, lab.InfluxPersons)
	}
	if exp.Records != lab.InfluxHosts+lab.InfluxPersons || loc.Bytes <= cpu.Bytes || cpu.Bytes <= 0 || exp.Bytes != cpu.Bytes+loc.Bytes {
		t.Errorf("totals %d records %d bytes; datasets %+v", exp.Records, exp.Bytes, exp.Datasets)
	}
	if want := []string{"id_number", "name", "address", "lat", "lon", "mobile"}; !slices.Equal(loc.Fields, want) {
		t.Errorf("person_location fields %v, want %v", loc.Fields, want)
	}
	if want := []string{"host", "usage"}; !slices.Equal(cpu.Fields, want) {
		t.Errorf("cpu fields %v, want %v", cpu.Fields, want)
	}
	n := map[string]int{}
	for _, s := range exp.Samples {
		n[s.Dataset]++
		if s.Dataset == loc.Name && (len(s.Doc["id_number"]) != 18 || len(s.Doc["mobile"]) != 11 || s.Doc["time"] == "") {
			t.Errorf("person_location sample has %d fields", len(s.Doc))
		}
	}
	if n[cpu.Name] != 5 || n[loc.Name] != 5 {
		t.Errorf("samples per dataset %v, want 5 each", n)
	}
	if ev := exp.Evidence; ev == nil || ev.Request != "GET /query?q=SHOW DATABASES" || !strings.Contains(ev.Response, `"tracking"`) {
		t.Errorf("evidence %+v", ev)
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.InfluxSecured)
	res, _, err := run(t, lab.InfluxSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil || res.Product != "InfluxDB" ||
		res.Detail != "unable to parse authentication credentials" {
		t.Fatalf("result %+v, want protected", res)
	}
}

// TestProbeNoAdmin probes the half-open server: authentication on, no admin
// yet. It is exposed with admin access, and the probe creates no user.
func TestProbeNoAdmin(t *testing.T) {
	lab.Require(t, lab.InfluxNoAdmin)
	res, d, err := run(t, lab.InfluxNoAdmin, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil || res.Exposure.Access != ajar.AccessAdmin ||
		!strings.Contains(res.Detail, "anyone can create the first admin") || len(res.Exposure.Datasets) != 0 {
		t.Fatalf("result %+v, exposure %+v; want exposed, admin", res, res.Exposure)
	}
	if ev := res.Exposure.Evidence; ev == nil || !strings.Contains(ev.Response, "create admin user first") {
		t.Errorf("evidence %+v", ev)
	}
	checkReadOnly(t, d)
	// Still half-open: nobody created an admin.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	r, err := hc.Get("http://" + lab.InfluxNoAdmin + "/query?q=SHOW+USERS")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(b), halfOpen) {
		t.Errorf("after the probe, SHOW USERS answers %s", b)
	}
}

// checkReadOnly checks that every request was a GET of /ping or of /query
// with SHOW or SELECT statements.
func checkReadOnly(t *testing.T, d *probetest.TapDialer) {
	t.Helper()
	reqs := d.Requests(t)
	if len(reqs) < 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		q := r.URL.Query().Get("q")
		ok := r.Method == http.MethodGet && (r.URL.Path == "/ping" && q == "" ||
			r.URL.Path == "/query" && (strings.HasPrefix(q, "SHOW ") || strings.HasPrefix(q, "SELECT ")) &&
				!strings.Contains(unquoted(q), ";"))
		if !ok {
			t.Errorf("sent %s %s (q=%q), not on the read-only list", r.Method, r.URL.Path, q)
		}
	}
}

// unquoted drops the double-quoted identifiers of an InfluxQL statement.
func unquoted(q string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(q); i++ {
		switch {
		case in && q[i] == '\\':
			i++
		case q[i] == '"':
			in = !in
		case !in:
			b.WriteByte(q[i])
		}
	}
	return b.String()
}

func TestProbeReadOnly(t *testing.T) {
	lab.Require(t, lab.InfluxOpen)
	_, d, err := run(t, lab.InfluxOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	checkReadOnly(t, d)
}

// fake is an InfluxDB 1.x answering queries from a table.
func fake(answers map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Influxdb-Version", "1.8.10")
		if r.URL.Path == "/ping" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		q := r.URL.Query().Get("q")
		a, ok := answers[q]
		if !ok {
			a = `{"results":[{"statement_id":0}]}`
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, a)
	})
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	const ping = "HTTP/1.1 204 No Content\r\nX-Influxdb-Version: 1.8.10\r\nContent-Length: 0\r\n\r\n"
	// raw answers each request with the next answer; after the last, it
	// writes forever when asked to.
	raw := func(forever bool, answers ...string) func(net.Conn) {
		return func(c net.Conn) {
			rd := bufio.NewReader(c)
			for _, a := range answers {
				if _, err := http.ReadRequest(rd); err != nil {
					return
				}
				if _, err := io.WriteString(c, a); err != nil {
					return
				}
			}
			if !forever {
				_, _ = io.Copy(io.Discard, rd)
				return
			}
			fill := []byte(strings.Repeat("A", 32<<10))
			for {
				if _, err := c.Write(fill); err != nil {
					return
				}
			}
		}
	}
	tests := []struct {
		name string
		h    func(net.Conn)
		want error
	}{
		{"silent", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, context.DeadlineExceeded},
		{"garbage", raw(false, "\x00\xff garbage \x13\x37\r\n\r\n"), nil},
		{"endless header", raw(true, "HTTP/1.1 204 No Content\r\nX-A: "), nil},
		{"endless body", raw(true, "HTTP/1.1 200 OK\r\n\r\n"), nil},
		{"absurd length", raw(true, ping, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n{"), httpc.ErrTooLarge},
		{"endless chunks", raw(true, ping, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n"), nil},
		{"endless JSON", raw(true, ping, "HTTP/1.1 200 OK\r\n\r\n{\"results\":[{\"series\":[{\"values\":[[\""), httpc.ErrTooLarge},
		{"trickle", func(c net.Conn) {
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			for _, b := range []byte("HTTP/1.1 204 No Content\r\nX-Influxdb-Version: 1.8.10\r\n\r\n") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := serve(t, "127.0.20.9:0", tt.h)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, _, err := run(t, addr, deadline)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if took > deadline+500*time.Millisecond {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != ajar.StatusOpen || res.Exposure != nil {
				t.Fatalf("result %+v, want open", res)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 8*maxBody {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// TestScripted covers answers the lab's servers do not give.
func TestScripted(t *testing.T) {
	t.Run("2.x compatibility API", func(t *testing.T) {
		addr := serveHTTP(t, "127.0.20.9:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Influxdb-Version", "v2.7.1")
			if r.URL.Path == "/ping" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":"unauthorized","message":"unauthorized access"}`)
		}))
		res, _, err := run(t, addr, time.Second)
		if err != nil || res.Status != ajar.StatusProtected || res.Version != "v2.7.1" || !strings.Contains(res.Detail, "unauthorized") {
			t.Fatalf("result %+v, %v; want protected", res, err)
		}
	})
	t.Run("hostile names", func(t *testing.T) {
		evil := `x\" ; DROP DATABASE \"tracking`
		addr := serveHTTP(t, "127.0.20.9:0", fake(map[string]string{
			"SHOW DATABASES": `{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["` + evil + `"],["a\nb"],[7]]}]}]}`,
			`SHOW MEASUREMENTS ON "x\" ; DROP DATABASE \"tracking" LIMIT 1000`:  `{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"]]}]}]}`,
			`SHOW SERIES EXACT CARDINALITY ON "x\" ; DROP DATABASE \"tracking"`: `{"results":[{"statement_id":0,"series":[{"name":"m","columns":["count"],"values":[[3]]}]}]}`,
		}))
		res, d, err := run(t, addr, time.Second)
		if err != nil || res.Status != ajar.StatusExposed {
			t.Fatalf("result %+v, %v", res, err)
		}
		if ds := res.Exposure.Datasets; len(ds) != 1 || ds[0].Records != 3 {
			t.Errorf("datasets %+v", ds)
		}
		checkReadOnly(t, d)
	})
}

// TestOnlyTarget points the probe at a server that redirects elsewhere and
// names another address in its answers: the probe must dial the target alone.
func TestOnlyTarget(t *testing.T) {
	elsewhere, accepted := serve(t, "127.0.20.99:0", func(net.Conn) {})
	tests := map[string]http.Handler{
		"redirect": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Influxdb-Version", "1.8.10")
			http.Redirect(w, r, "http://"+elsewhere+r.URL.Path, http.StatusTemporaryRedirect)
		}),
		"names": fake(map[string]string{
			"SHOW DATABASES": fmt.Sprintf(`{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["http://%s/"]]}]}]}`, elsewhere),
		}),
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			addr := serveHTTP(t, "127.0.20.9:0", h)
			_, d, _ := run(t, addr, time.Second, true)
			if len(d.Dials()) == 0 {
				t.Error("no dial recorded")
			}
			for _, a := range d.Dials() {
				if a != addr {
					t.Errorf("dialled %s; the target is %s", a, addr)
				}
			}
		})
	}
	if n := accepted(); n != 0 {
		t.Errorf("%s accepted %d connections", elsewhere, n)
	}
}
