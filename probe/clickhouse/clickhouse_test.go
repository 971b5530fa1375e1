package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

// tapDialer counts connections and keeps what the probe sends.
type tapDialer struct {
	probe.TargetDialer
	mu    sync.Mutex
	sent  bytes.Buffer
	dials int
}

func (d *tapDialer) Dial(ctx context.Context) (net.Conn, error) {
	d.mu.Lock()
	d.dials++
	d.mu.Unlock()
	c, err := d.TargetDialer.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, d: d}, nil
}

func (d *tapDialer) DialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := d.check(network, addr); err != nil {
		return nil, err
	}
	return d.Dial(ctx)
}

func (d *tapDialer) check(network, addr string) error {
	if network != "tcp" || addr != d.Target.String() {
		return fmt.Errorf("dial %s %s: %w", network, addr, probe.ErrNotTarget)
	}
	return nil
}

type tapConn struct {
	net.Conn
	d *tapDialer
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.d.mu.Lock()
	c.d.sent.Write(p)
	c.d.mu.Unlock()
	return c.Conn.Write(p)
}

func run(t *testing.T, addr string, http bool, timeout time.Duration) (*probe.Result, *tapDialer, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &tapDialer{TargetDialer: probe.TargetDialer{Target: at, Timeout: 2 * time.Second}}
	tg := &probe.Target{Target: at, Dialer: d, Options: probe.DefaultOptions(), Service: ajar.Service{Transport: "tcp", Protocol: "clickhouse"}}
	if http {
		tg.Service.HTTP = &ajar.HTTP{Status: 200}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("clickhouse")
	if !ok {
		t.Fatal(`no prober registered as "clickhouse"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("clickhouse")
	if !ok {
		t.Fatal(`no prober registered as "clickhouse"`)
	}
	if !slices.Equal(p.Protocols(), []string{"clickhouse"}) || !slices.Contains(p.DefaultPorts(), 8123) || !slices.Contains(p.DefaultPorts(), 9000) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpenHTTP(t *testing.T) {
	lab.Require(t, lab.ClickHouseOpenHTTP)
	res, d, err := run(t, lab.ClickHouseOpenHTTP, true, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "ClickHouse" || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(res.Version) {
		t.Errorf("product %q version %q", res.Product, res.Version)
	}
	exp := res.Exposure
	// The lab's default user has the vendor's profile: readonly 0.
	if exp.Plugin != "clickhouse" || exp.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q, want clickhouse admin", exp.Plugin, exp.Access)
	}
	want := map[string]int64{"police.case_record": lab.SQLCases, "police.person_info": lab.SQLPersons, "shop.orders": lab.SQLOrders}
	var names []string
	for _, ds := range exp.Datasets {
		names = append(names, ds.Name)
		if ds.Name == "system" {
			if !ds.System {
				t.Errorf("system dataset %+v is not marked", ds)
			}
			continue
		}
		if ds.Records != want[ds.Name] || ds.Bytes <= 0 || ds.Estimated || ds.System {
			t.Errorf("dataset %+v, want %d rows and some bytes", ds, want[ds.Name])
		}
	}
	if !slices.Equal(names, []string{"police.case_record", "police.person_info", "shop.orders", "system"}) {
		t.Fatalf("datasets %v", names)
	}
	if exp.Records != lab.SQLPersons+lab.SQLCases+lab.SQLOrders {
		t.Errorf("%d records in all", exp.Records)
	}
	if f := exp.Datasets[1].Fields; !slices.Equal(f, []string{"id", "name", "phone", "id_number", "address", "birth_date"}) {
		t.Errorf("person_info columns %v", f)
	}
	per := map[string]int{}
	for _, s := range exp.Samples {
		per[s.Dataset]++
		if s.Dataset == "police.person_info" && len(s.Doc["id_number"]) != 18 {
			t.Errorf("sample %v lacks an ID number", s.Doc)
		}
	}
	if per["police.person_info"] != 5 || per["police.case_record"] != 5 || per["shop.orders"] != 5 {
		t.Errorf("samples per table %v, want 5 each", per)
	}
	if ev := exp.Evidence; ev == nil || !strings.Contains(ev.Response, "police.person_info (MergeTree, 3000 rows") {
		t.Errorf("evidence %+v", ev)
	}
	checkReadOnly(t, d)
}

// checkReadOnly reads every request the probe sent: POSTs of SELECT
// statements, with readonly=1 on all but the one that reads the setting.
func checkReadOnly(t *testing.T, d *tapDialer) {
	t.Helper()
	d.mu.Lock()
	sent := d.sent.String()
	d.mu.Unlock()
	reqs := strings.Split(sent, "POST ")[1:]
	if len(reqs) < 5 {
		t.Fatalf("%d requests: %q", len(reqs), sent)
	}
	for _, r := range reqs {
		line, _, _ := strings.Cut(r, " ")
		_, body, _ := strings.Cut(r, "\r\n\r\n")
		if !strings.HasPrefix(body, "SELECT ") || !strings.HasSuffix(body, " FORMAT JSON") {
			t.Errorf("sent %q", body)
		}
		if line != queryPath && !strings.HasPrefix(body, "SELECT value FROM system.settings WHERE name = 'readonly'") {
			t.Errorf("%q sent to %s, without readonly=1", body, line)
		}
	}
}

func TestProbeSecuredHTTP(t *testing.T) {
	lab.Require(t, lab.ClickHouseSecuredHTTP)
	res, _, err := run(t, lab.ClickHouseSecuredHTTP, true, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil || !strings.Contains(res.Detail, "Password required for user default") {
		t.Fatalf("result %+v, want protected", res)
	}
}

func TestProbeNative(t *testing.T) {
	lab.Require(t, lab.ClickHouseOpenNative, lab.ClickHouseSecuredNative)
	res, d, err := run(t, lab.ClickHouseOpenNative, false, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil || res.Version != "18.16" || res.Exposure.Datasets != nil {
		t.Fatalf("open: %+v, want exposed 18.16 with the datasets left to the HTTP interface", res)
	}
	if !bytes.Equal(d.sent.Bytes(), hello()) {
		t.Errorf("sent % x, want the Hello alone", d.sent.Bytes())
	}
	// Identification may hand the native port over as HTTP: it answers
	// HTTP with a pointer to the HTTP port, and the probe speaks native.
	res, _, err = run(t, lab.ClickHouseOpenNative, true, 10*time.Second)
	if err != nil || res.Status != ajar.StatusExposed || res.Version != "18.16" {
		t.Fatalf("open, as HTTP: %+v, %v; want exposed over the native protocol", res, err)
	}
	res, _, err = run(t, lab.ClickHouseSecuredNative, false, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || !strings.Contains(res.Detail, "Password required") {
		t.Fatalf("secured: %+v, want protected", res)
	}
}

// TestOnlyTarget: a redirect to another address is not followed.
func TestOnlyTarget(t *testing.T) {
	elsewhere, err := net.Listen("tcp", "127.0.20.99:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer elsewhere.Close()
	var dialled atomic.Int32
	go func() {
		for {
			c, err := elsewhere.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			c.Close()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.20.40:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+elsewhere.Addr().String()+"/?query=SELECT+1", http.StatusFound)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	res, d, err := run(t, ln.Addr().String(), true, 3*time.Second)
	if !errors.Is(err, httpc.ErrRedirect) || res == nil || res.Status != ajar.StatusOpen {
		t.Errorf("Probe = %+v, %v; want open and a refused redirect", res, err)
	}
	if n := dialled.Load(); n != 0 || d.dials != 1 {
		t.Fatalf("%d connections elsewhere, %d to the target; want 0 and 1", n, d.dials)
	}
}

// scripted serves each connection with a fixed answer to the client's first
// bytes, then fill forever (or stays silent).
type scripted struct {
	name   string
	answer string
	fill   []byte
}

func (s scripted) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.40:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done, stop := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-stop; c.Close() }()
				// The client speaks first: answer its first bytes.
				if _, err := c.Read(make([]byte, 4096)); err != nil {
					return
				}
				go func() { _, _ = io.Copy(io.Discard, c) }()
				if _, err := io.WriteString(c, s.answer); err != nil {
					return
				}
				for s.fill != nil {
					if _, err := c.Write(s.fill); err != nil {
						return
					}
				}
				<-stop
			}()
		}
	}()
	return ln.Addr().String()
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	ok := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	tests := []struct {
		srv    scripted
		http   bool
		status ajar.Status
		want   error
	}{
		{scripted{name: "silent HTTP"}, true, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "silent native"}, false, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "endless body", answer: ok + "Transfer-Encoding: chunked\r\n\r\n", fill: []byte("1000\r\n" + strings.Repeat("a", 4096) + "\r\n")}, true, ajar.StatusOpen, httpc.ErrTooLarge},
		{scripted{name: "absurd length", answer: ok + "Content-Length: 99999999999\r\n\r\n"}, true, ajar.StatusOpen, httpc.ErrTooLarge},
		{scripted{name: "not JSON", answer: ok + "Content-Length: 4\r\n\r\nOk.\n"}, true, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "error page", answer: "HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nOops"}, true, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "native garbage", answer: "HTTP/1.1 400 Bad Request\r\n\r\n"}, false, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "native absurd string", answer: "\x00\xff\xff\xff\xff\x0f"}, false, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "native endless varint", answer: "\x00", fill: []byte{0xff}}, false, ajar.StatusOpen, nil},
		{scripted{name: "native auth failed", answer: "\x02\x04\x02\x00\x00\x0dDB::Exception\x15Authentication failed"}, false, ajar.StatusProtected, nil},
	}
	for _, tt := range tests {
		t.Run(tt.srv.name, func(t *testing.T) {
			addr := tt.srv.serve(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, _, err := run(t, addr, tt.http, deadline)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if took > deadline+500*time.Millisecond {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if tt.want == nil && err != nil && tt.status != ajar.StatusOpen || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != tt.status {
				t.Fatalf("result %+v, want status %q", res, tt.status)
			}
			// An answer is read up to maxBody (4 MiB) in a growing buffer.
			if got := after.TotalAlloc - before.TotalAlloc; got > 8*maxBody {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}
