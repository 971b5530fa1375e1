package nats

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
)

// tapDialer dials the target, keeps every byte the probe sends and counts
// the connections.
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

func (d *tapDialer) DialAddr(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("the NATS probe must not dial by address")
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

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, *tapDialer, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &tapDialer{TargetDialer: probe.TargetDialer{Target: at, Timeout: 2 * time.Second}}
	tg := &probe.Target{Target: at, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("nats")
	if !ok {
		t.Fatal(`no prober registered as "nats"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("nats")
	if !ok {
		t.Fatal(`no prober registered as "nats"`)
	}
	if !slices.Equal(p.Protocols(), []string{"nats"}) || !slices.Equal(p.DefaultPorts(), []uint16{4222}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.NATSOpen)
	res, d, err := run(t, lab.NATSOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "NATS" || !regexp.MustCompile(`^2\.\d+\.\d+$`).MatchString(res.Version) {
		t.Errorf("product %q version %q", res.Product, res.Version)
	}
	exp := res.Exposure
	if exp.Plugin != "nats" || exp.Access != ajar.AccessRead {
		t.Errorf("plugin %q access %q", exp.Plugin, exp.Access)
	}
	got := map[string]ajar.Dataset{}
	for _, ds := range exp.Datasets {
		got[ds.Name] = ds
	}
	if len(got) != 2 {
		t.Errorf("datasets %+v, want the two streams", exp.Datasets)
	}
	var records int64
	for _, s := range lab.NATSStreams() {
		ds, ok := got[s.Name]
		n := int64(len(s.Messages))
		records += n
		// Stored bytes are the payloads and, per message, the subject and
		// a few bytes of the store's own.
		if payload := lab.StreamBytes(s); !ok || ds.Records != n || ds.Bytes < payload || ds.Bytes > payload+100*n {
			t.Errorf("stream %s: %+v, want %d records and about %d bytes", s.Name, ds, n, payload)
		}
	}
	if exp.Records != records {
		t.Errorf("%d records in all, want %d", exp.Records, records)
	}
	for _, f := range []string{"name", "mobile", "id_number", "address", "birth_date"} {
		if !slices.Contains(got["PERSONS"].Fields, f) {
			t.Errorf("PERSONS fields %v lack %q", got["PERSONS"].Fields, f)
		}
	}
	per := map[string]int{}
	for _, s := range exp.Samples {
		per[s.Dataset]++
	}
	if per["PERSONS"] != 5 || per["ORDERS"] != 5 {
		t.Errorf("samples per dataset %v, want 5 of each stream", per)
	}
	if ev := exp.Evidence; ev == nil || !strings.Contains(ev.Request, "STREAM.LIST") || !strings.Contains(ev.Response, "PERSONS") || len(ev.Response) > evidenceMax {
		t.Errorf("evidence %+v", ev)
	}
	checkReadOnly(t, d)
}

// checkReadOnly decodes what the probe sent: only the operations and
// JetStream API calls that read.
func checkReadOnly(t *testing.T, d *tapDialer) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dials != 1 {
		t.Errorf("%d connections, want 1", d.dials)
	}
	sc := bufio.NewScanner(bytes.NewReader(d.sent.Bytes()))
	apis := map[string]int{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "CONNECT", "PING", "PONG", "UNSUB":
		case "SUB":
			if f[1] != ">" && !strings.HasPrefix(f[1], "_INBOX.ajar") {
				t.Errorf("subscribed to %q", f[1])
			}
		case "PUB":
			api := f[1]
			if i := strings.LastIndex(api, "."); strings.HasPrefix(api, "$JS.API.STREAM.MSG.GET.") && i > 0 {
				api = api[:i]
			}
			switch api {
			case "$JS.API.INFO", "$JS.API.STREAM.LIST", "$JS.API.STREAM.MSG.GET":
				apis[api]++
			default:
				t.Errorf("published to %q, which is not a read-only JetStream call", f[1])
			}
			sc.Scan() // the request's payload
		default:
			t.Errorf("sent %q", sc.Text())
		}
	}
	if apis["$JS.API.INFO"] != 1 || apis["$JS.API.STREAM.LIST"] != 1 || apis["$JS.API.STREAM.MSG.GET"] != 10 {
		t.Errorf("JetStream calls %v", apis)
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.NATSSecured)
	res, d, err := run(t, lab.NATSSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil || res.Version == "" {
		t.Fatalf("result %+v, want protected with the version", res)
	}
	if d.sent.Len() != 0 {
		t.Errorf("sent %q to a server that requires authorization", d.sent.String())
	}
}

// scripted is a server for one connection: it greets with greeting, then
// hands the connection to talk (nil: stays silent until the test ends).
type scripted struct {
	name     string
	greeting string
	talk     func(c net.Conn)
}

func (s scripted) serve(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		go func() { <-stop; c.Close() }()
		if _, err := io.WriteString(c, s.greeting); err != nil {
			return
		}
		if s.talk == nil {
			_, _ = io.Copy(io.Discard, c)
			return
		}
		s.talk(c)
	}()
	return ln.Addr().String()
}

// ponger answers every PING with PONG after sending extra once, and
// discards everything else the probe sends.
func ponger(extra string) func(c net.Conn) {
	return func(c net.Conn) {
		sc := bufio.NewScanner(c)
		sent := false
		for sc.Scan() {
			if sc.Text() == "PING" {
				out := "PONG\r\n"
				if !sent {
					out, sent = out+extra, true
				}
				if _, err := io.WriteString(c, out); err != nil {
					return
				}
			}
		}
	}
}

// TestOnlyTarget: a server that announces other servers in connect_urls,
// at once and in a later INFO, makes the probe dial nothing else.
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
	urls := fmt.Sprintf(`"connect_urls":["%s","nats://%s"]`, elsewhere.Addr(), elsewhere.Addr())
	srv := scripted{
		greeting: `INFO {"server_id":"x","version":"2.9.10","max_payload":1048576,` + urls + "}\r\n",
		talk:     ponger(`INFO {` + urls + `}` + "\r\nMSG orders.created 1 5\r\nhello\r\n"),
	}
	addr := srv.serve(t, "127.0.20.30:0")
	res, d, err := run(t, addr, 3*time.Second)
	if err != nil || res.Status != ajar.StatusExposed {
		t.Fatalf("Probe = %+v, %v; want exposed", res, err)
	}
	if ds := res.Exposure.Datasets; len(ds) != 1 || ds[0].Name != "orders.>" || ds[0].Bytes != 5 {
		t.Errorf("datasets %+v, want orders.> with 5 bytes", ds)
	}
	time.Sleep(50 * time.Millisecond)
	if n := dialled.Load(); n != 0 || d.dials != 1 {
		t.Fatalf("%d connections to the announced server and %d to the target; want 0 and 1", n, d.dials)
	}
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	info := `INFO {"server_id":"x","version":"2.9.10","max_payload":1048576}` + "\r\n"
	endless := func(b []byte) func(c net.Conn) {
		return func(c net.Conn) {
			go func() { _, _ = io.Copy(io.Discard, c) }()
			for {
				if _, err := c.Write(b); err != nil {
					return
				}
			}
		}
	}
	tests := []struct {
		srv    scripted
		status ajar.Status
		want   error
	}{
		{scripted{name: "silent"}, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "HTTP", greeting: "HTTP/1.1 400 Bad Request\r\n\r\n"}, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "endless INFO line", greeting: "INFO {", talk: endless(bytes.Repeat([]byte("a"), 4096))}, ajar.StatusOpen, ErrTooLarge},
		{scripted{name: "INFO then silence", greeting: info}, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "INFO not JSON", greeting: "INFO {{{\r\n"}, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "auth required", greeting: `INFO {"version":"2.10.1","auth_required":true}` + "\r\n"}, ajar.StatusProtected, nil},
		{scripted{name: "authorization violation", greeting: info, talk: func(c net.Conn) {
			_, _ = io.WriteString(c, "-ERR 'Authorization Violation'\r\n")
			_, _ = io.Copy(io.Discard, c)
		}}, ajar.StatusProtected, nil},
		{scripted{name: "absurd MSG", greeting: info, talk: ponger("MSG a 1 99999999999\r\n")}, ajar.StatusExposed, ErrProtocol},
		{scripted{name: "large MSG cut short", greeting: info, talk: ponger("MSG a 1 67108864\r\n")}, ajar.StatusExposed, os.ErrDeadlineExceeded},
		{scripted{name: "MSG flood", greeting: info, talk: func(c net.Conn) {
			ponger("")(&flooder{Conn: c})
		}}, ajar.StatusExposed, probe.ErrReadCap},
		{scripted{name: "unknown operation", greeting: info, talk: ponger("HELLO\r\n")}, ajar.StatusExposed, ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.srv.name, func(t *testing.T) {
			addr := tt.srv.serve(t, "127.0.20.30:0")
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, _, err := run(t, addr, deadline)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if took > deadline+500*time.Millisecond {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != tt.status {
				t.Fatalf("result %+v, want status %q", res, tt.status)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// flooder answers the PONG and then floods messages on ">".
type flooder struct {
	net.Conn
	once sync.Once
}

func (f *flooder) Write(p []byte) (int, error) {
	n, err := f.Conn.Write(p)
	f.once.Do(func() {
		msg := []byte("MSG flood.x 1 1000\r\n" + strings.Repeat("x", 1000) + "\r\n")
		go func() {
			for {
				if _, err := f.Conn.Write(msg); err != nil {
					return
				}
			}
		}()
	})
	return n, err
}

func TestProbeCancelled(t *testing.T) {
	lab.Require(t, lab.NATSOpen)
	at, _ := ajar.ParseAddrPort(lab.NATSOpen)
	tg := &probe.Target{Target: at, Dialer: &probe.TargetDialer{Target: at}, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("nats")
	if res, err := p.Probe(ctx, tg); !errors.Is(err, context.Canceled) || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v; want context.Canceled", res, err)
	}
}
