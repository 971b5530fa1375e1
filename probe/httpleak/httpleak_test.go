package httpleak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

// recorder is the engine's dialer with a network function that notes every
// address dialled and the request lines the probe sends.
type recorder struct {
	mu       sync.Mutex
	dialed   []string
	requests []string
}

func (r *recorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	r.dialed = append(r.dialed, addr)
	r.mu.Unlock()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, r: r}, nil
}

type tapConn struct {
	net.Conn
	r *recorder
}

func (c *tapConn) Write(p []byte) (int, error) {
	if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(p))); err == nil {
		c.r.mu.Lock()
		c.r.requests = append(c.r.requests, req.Method+" "+req.URL.RequestURI())
		c.r.mu.Unlock()
	}
	return c.Conn.Write(p)
}

// count is the number of requests seen so far.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, *recorder, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second, Net: rec.dial}
	tg := &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "http", HTTP: &ajar.HTTP{}}, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("http-leak")
	if !ok {
		t.Fatal(`no prober registered as "http-leak"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, rec, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("http-leak")
	if !ok {
		t.Fatal(`no prober registered as "http-leak"`)
	}
	if !slices.Equal(p.Protocols(), []string{"http"}) {
		t.Fatalf("protocols %v", p.Protocols())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.NginxOpen)
	res, rec, err := run(t, lab.NginxOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	exp := res.Exposure
	size := map[string]int64{}
	for _, f := range lab.WebTree() {
		size["/"+f.Path] = int64(len(f.Data))
	}
	type set struct {
		name           string
		records, bytes int64
	}
	want := []set{
		{"/", 2, size["/phpinfo.php"] + size["/robots.txt"]},
	}
	for _, b := range lab.WebBackups() {
		want = append(want, set{"/" + b, 1, size["/"+b]})
	}
	envKeys := strings.Count(lab.WebEnv, "\n")
	want = append(want, set{"/.git/", 1, 0}, set{"/.env", int64(envKeys), int64(len(lab.WebEnv))},
		set{"/server-status", 3, 0}, set{"/phpinfo.php", 1, 0},
		set{"/data/", 2, size["/data/orders.csv"] + size["/data/persons.csv"]})
	var got []set
	for _, d := range exp.Datasets {
		got = append(got, set{d.Name, d.Records, d.Bytes})
		if d.Estimated {
			t.Errorf("dataset %s estimated", d.Name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("datasets %v\nwant %v", got, want)
	}
	fields := map[string][]string{}
	samples := map[string][]map[string]string{}
	for _, d := range exp.Datasets {
		fields[d.Name] = d.Fields
	}
	for _, s := range exp.Samples {
		samples[s.Dataset] = append(samples[s.Dataset], s.Doc)
	}
	if f := fields["/.env"]; len(f) != envKeys || !slices.Contains(f, "DB_PASSWORD") || !slices.Contains(f, "AWS_SECRET_ACCESS_KEY") {
		t.Errorf(".env fields %v", f)
	}
	// The values go to the samples, raw: enrichment redacts them.
	if env := samples["/.env"]; len(env) != 1 || env[0]["DB_PASSWORD"] != "Lab-Fict1onal-Passw0rd" {
		t.Errorf(".env samples %v", env)
	}
	if git := samples["/.git/"]; len(git) != 1 || git[0]["remote.origin.url"] != lab.WebGitRemote || git[0]["HEAD"] != "ref: refs/heads/main" {
		t.Errorf(".git samples %v", git)
	}
	if st := samples["/server-status"]; len(st) != 4 || !strings.HasPrefix(st[0]["request"], "GET /api/person?id_number=") ||
		st[3]["server_version"] != "Apache/2.4.54 (Debian) OpenSSL/1.1.1n" {
		t.Errorf("server-status samples %v", st)
	}
	if php := samples["/phpinfo.php"]; len(php) != 1 || php[0]["PHP Version"] != "7.4.33" || php[0]["DB_PASSWORD"] == "" {
		t.Errorf("phpinfo samples %v", php)
	}
	if b := samples["/db_backup.sql"]; len(b) != 1 || b[0]["size"] != strconv.FormatInt(size["/db_backup.sql"], 10) {
		t.Errorf("backup samples %v", b)
	}
	// The evidence is the listing; no secret is in it.
	ev := exp.Evidence
	if ev == nil || ev.Request != "GET /" || !strings.Contains(ev.Response, "Index of /") || len(ev.Response) > evidenceMax {
		t.Errorf("evidence %+v", ev)
	}
	wantReqs := []string{"GET /", "GET /.git/HEAD", "GET /.git/config", "GET /.env", "GET /server-status", "GET /phpinfo.php", "GET /data/"}
	if !slices.Equal(rec.requests, wantReqs) {
		t.Errorf("requests %q, want %q", rec.requests, wantReqs)
	}
	for _, a := range rec.dialed {
		if a != lab.NginxOpen {
			t.Errorf("dialled %s", a)
		}
	}
}

// TestProbeQuiet runs the probe on the lab's other web servers: the
// secured nginx and Prometheus refuse every path (protected); the
// registries and the open Prometheus leak nothing (open). A leak found on
// any of them would be a false positive.
func TestProbeQuiet(t *testing.T) {
	tests := []struct {
		addr   string
		status ajar.Status
	}{
		{lab.NginxSecured, ajar.StatusProtected},
		{lab.PrometheusSecured, ajar.StatusProtected},
		{lab.PrometheusOpen, ajar.StatusOpen},
		{lab.RegistryOpen, ajar.StatusOpen},
		{lab.RegistrySecured, ajar.StatusOpen},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			lab.Require(t, tt.addr)
			res, rec, err := run(t, tt.addr, 10*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.Status != tt.status || res.Exposure != nil {
				t.Errorf("result %+v, want %s", res, tt.status)
			}
			if n := rec.count(); n > maxRequests {
				t.Errorf("%d requests", n)
			}
		})
	}
}

// server is a scripted HTTP server on the test's own address.
func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.50:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestNothingElseDialled: a listing whose links point at another host, and
// redirects there, lead to no connection but the target's.
func TestNothingElseDialled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.20.99:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var hits atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	other := "http://" + ln.Addr().String()
	addr := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.Redirect(w, r, other+r.URL.Path, http.StatusFound)
			return
		}
		w.Write([]byte(`<html><head><title>Index of /</title></head><body><h1>Index of /</h1><pre>
<a href="` + other + `/dump.sql">dump.sql</a>   25-Nov-2022 09:30   10
<a href="//` + ln.Addr().String() + `/x/">x/</a>   25-Nov-2022 09:30   -
<a href="db.sql.gz">db.sql.gz</a>   25-Nov-2022 09:30   1.2M
<a href="sub/">sub/</a>   25-Nov-2022 09:30   -
</pre></body></html>`))
	})
	res, rec, err := run(t, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || len(res.Exposure.Datasets) != 2 {
		t.Fatalf("result %+v %+v, want the listing and db.sql.gz", res, res.Exposure)
	}
	// The rounded size stays an estimate: the HEAD was redirected.
	if d := res.Exposure.Datasets[1]; d.Name != "/db.sql.gz" || d.Bytes != 1258291 || !d.Estimated {
		t.Errorf("backup %+v", d)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other host was dialled %d times", n)
	}
	for _, a := range rec.dialed {
		if a != addr {
			t.Errorf("dialled %s", a)
		}
	}
	want := []string{"GET /", "GET /.git/HEAD", "GET /.git/config", "GET /.env", "GET /server-status", "GET /phpinfo.php", "GET /sub/", "HEAD /db.sql.gz"}
	if !slices.Equal(rec.requests, want) {
		t.Errorf("requests %q, want %q", rec.requests, want)
	}
}

func TestScripted(t *testing.T) {
	front := `<!doctype html><html><head><title>Shop</title></head><body>Welcome</body></html>`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  ajar.Status
		sets    []string
	}{
		{"front page for every path", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(front))
		}, ajar.StatusOpen, nil},
		{"text for every path", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("OK\n"))
		}, ajar.StatusOpen, nil},
		{"forbidden but one path", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/.git/HEAD" {
				w.Write([]byte("4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"))
				return
			}
			w.WriteHeader(http.StatusForbidden)
		}, ajar.StatusExposed, []string{"/.git/"}},
		{"nginx stub_status", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/server-status" {
				w.Write([]byte("Active connections: 2 \nserver accepts handled requests\n 10 10 20 \nReading: 0 Writing: 1 Waiting: 1 \n"))
				return
			}
			http.NotFound(w, r)
		}, ajar.StatusExposed, []string{"/server-status"}},
		{"Apache listing with rounded sizes", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/":
				w.Write([]byte(apacheListing))
			case "/backup.tar.gz":
				if r.Method != http.MethodHead {
					t.Errorf("%s %s", r.Method, r.URL.Path)
				}
				w.Header().Set("Content-Length", "48213")
			default:
				http.NotFound(w, r)
			}
		}, ajar.StatusExposed, []string{"/", "/backup.tar.gz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec, err := run(t, server(t, tt.handler), 5*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.Status != tt.status {
				t.Fatalf("result %+v, want %s", res, tt.status)
			}
			var sets []string
			if res.Exposure != nil {
				for _, d := range res.Exposure.Datasets {
					sets = append(sets, d.Name)
				}
			}
			if !slices.Equal(sets, tt.sets) {
				t.Errorf("datasets %v, want %v", sets, tt.sets)
			}
			if n := rec.count(); n > maxRequests {
				t.Errorf("%d requests", n)
			}
			if tt.name == "Apache listing with rounded sizes" {
				d := res.Exposure.Datasets
				if d[0].Records != 1 || !d[0].Estimated || d[1].Bytes != 48213 || d[1].Estimated {
					t.Errorf("datasets %+v", d)
				}
			}
		})
	}
}

// apacheListing is mod_autoindex's table layout (FancyIndexing, HTMLTable).
const apacheListing = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /</title>
 </head>
 <body>
<h1>Index of /</h1>
  <table>
   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>
   <tr><th colspan="5"><hr></th></tr>
<tr><td valign="top"><img src="/icons/compressed.gif" alt="[   ]"></td><td><a href="backup.tar.gz">backup.tar.gz</a></td><td align="right">2022-11-25 09:30  </td><td align="right"> 47K</td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="notes%20v2.txt">notes v2.txt</a></td><td align="right">2022-11-25 09:30  </td><td align="right">1.2K</td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="old/">old/</a></td><td align="right">2022-11-25 09:30  </td><td align="right">  - </td><td>&nbsp;</td></tr>
   <tr><th colspan="5"><hr></th></tr>
</table>
<address>Apache/2.4.54 (Debian) Server at 127.0.20.50 Port 80</address>
</body></html>
`

// hostile serves every connection the same bytes: prefix, then fill
// forever (every: one write per tick), or silence.
type hostile struct {
	name   string
	prefix string
	fill   []byte
	every  time.Duration
}

func (h hostile) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.50:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { <-stop; c.Close() }()
				// Answer once the request is in, as an HTTP server does.
				rd := bufio.NewReader(c)
				for {
					line, err := rd.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				go io.Copy(io.Discard, rd)
				if _, err := io.WriteString(c, h.prefix); err != nil {
					return
				}
				if h.fill == nil {
					<-stop
					return
				}
				for {
					if h.every > 0 {
						select {
						case <-stop:
							return
						case <-time.After(h.every):
						}
					}
					if _, err := c.Write(h.fill); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestHostileServers(t *testing.T) {
	const deadline = 2 * time.Second
	ok := "HTTP/1.1 200 OK\r\n"
	tests := []struct {
		srv  hostile
		want error
	}{
		{hostile{name: "silent"}, context.DeadlineExceeded},
		{hostile{name: "garbage", prefix: "\x00\x01\x02 hello\r\n\r\n"}, nil},
		{hostile{name: "endless listing", prefix: ok + "\r\n<title>Index of /</title>", fill: bytes.Repeat([]byte("<a href=\"x.sql\">x</a> 1\n"), 200)}, nil},
		{hostile{name: "absurd length", prefix: ok + "Content-Length: 99999999999\r\n\r\n<"}, nil},
		{hostile{name: "trickle", prefix: ok + "Content-Length: 100\r\n\r\n", fill: []byte("<"), every: 50 * time.Millisecond}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.srv.name, func(t *testing.T) {
			addr := tt.srv.serve(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, rec, err := run(t, addr, deadline)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if took > deadline+500*time.Millisecond {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != ajar.StatusOpen || res.Exposure != nil {
				t.Errorf("result %+v, want open", res)
			}
			if n := rec.count(); n > maxRequests {
				t.Errorf("%d requests", n)
			}
			// Each request reads at most maxBody and a bit more.
			if got := after.TotalAlloc - before.TotalAlloc; got > 4*maxRequests*maxBody {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}
