package redis

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/redis/resp"
)

// tapDialer dials the target and keeps a copy of every byte the probe sends,
// so that a test can check which commands reached the server.
type tapDialer struct {
	probe.TargetDialer
	mu   sync.Mutex
	sent bytes.Buffer
}

func (d *tapDialer) Dial(ctx context.Context) (net.Conn, error) {
	c, err := d.TargetDialer.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, d: d}, nil
}

func (d *tapDialer) DialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, errors.New("the Redis probe must not dial by address")
}

// commands decodes what the probe sent.
func (d *tapDialer) commands(t *testing.T) [][]string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	rd := resp.NewReader(bytes.NewReader(d.sent.Bytes()), resp.DefaultLimits())
	var cmds [][]string
	for {
		r, err := rd.ReadReply()
		if errors.Is(err, io.EOF) {
			return cmds
		}
		if err != nil || r.Kind != resp.Array {
			t.Fatalf("the probe sent something that is not a command: %+v, %v", r, err)
		}
		var args []string
		for _, e := range r.Elems {
			args = append(args, e.Text())
		}
		cmds = append(cmds, args)
	}
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

func target(t *testing.T, addr string) (*probe.Target, *tapDialer) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &tapDialer{TargetDialer: probe.TargetDialer{Target: at, Timeout: 2 * time.Second}}
	return &probe.Target{Target: at, Dialer: d, Options: probe.DefaultOptions()}, d
}

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, *tapDialer, error) {
	t.Helper()
	tg, d := target(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("redis")
	if !ok {
		t.Fatal(`no prober registered as "redis"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("redis")
	if !ok {
		t.Fatal(`no prober registered as "redis"`)
	}
	if !slices.Equal(p.Protocols(), []string{"redis"}) || !slices.Equal(p.DefaultPorts(), []uint16{6379}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
	if got := probe.ForProtocol("redis"); len(got) != 1 || got[0].Name() != "redis" {
		t.Fatalf("ForProtocol(redis) = %v", got)
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.RedisOpen)
	res, _, err := run(t, lab.RedisOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q, exposure %v, detail %q; want exposed", res.Status, res.Exposure, res.Detail)
	}
	if res.Product != "Redis" || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(res.Version) {
		t.Errorf("product %q version %q, want Redis and a version", res.Product, res.Version)
	}
	exp := res.Exposure
	if exp.Plugin != "redis" || exp.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q, want redis admin", exp.Plugin, exp.Access)
	}
	if len(exp.Datasets) != 2 {
		t.Fatalf("datasets %+v, want db0 and db1", exp.Datasets)
	}
	db0, db1 := exp.Datasets[0], exp.Datasets[1]
	if db0.Name != "db0" || db0.Records != lab.RedisPersons || db1.Name != "db1" || db1.Records != lab.RedisOrders {
		t.Errorf("datasets %s=%d %s=%d, want db0=%d db1=%d",
			db0.Name, db0.Records, db1.Name, db1.Records, lab.RedisPersons, lab.RedisOrders)
	}
	if exp.Records != lab.RedisPersons+lab.RedisOrders || exp.Bytes != db0.Bytes+db1.Bytes {
		t.Errorf("totals %d records %d bytes, datasets %+v", exp.Records, exp.Bytes, exp.Datasets)
	}
	// used_memory is shared by key count: db0 holds four times the keys of db1.
	if db1.Bytes <= 0 || db0.Bytes/db1.Bytes != lab.RedisPersons/lab.RedisOrders {
		t.Errorf("bytes db0=%d db1=%d, want a 4:1 share of used_memory", db0.Bytes, db1.Bytes)
	}
	for _, f := range []string{"person:*", "name", "mobile", "id_number", "address"} {
		if !slices.Contains(db0.Fields, f) {
			t.Errorf("db0 fields %v lack %q", db0.Fields, f)
		}
	}
	if !slices.Equal(db1.Fields, []string{"order:*"}) {
		t.Errorf("db1 fields %v, want [order:*]", db1.Fields)
	}
	// No value, and no key beyond its pattern, leaves the probe.
	for _, d := range exp.Datasets {
		for _, f := range d.Fields {
			if regexp.MustCompile(`\d{4}|@| `).MatchString(f) {
				t.Errorf("%s field %q looks like a value", d.Name, f)
			}
		}
	}
	// At most Samples records per database, one of each key pattern first,
	// raw: enrich redacts them before they are stored.
	per := map[string]int{}
	for _, s := range exp.Samples {
		per[s.Dataset]++
		key := s.Doc["_key"]
		switch s.Dataset {
		case "db0":
			if !strings.HasPrefix(key, "person:") || s.Doc["mobile"] == "" || s.Doc["id_number"] == "" || len(s.Doc) != 5 {
				t.Errorf("db0 sample %v, want a person hash", s.Doc)
			}
		case "db1":
			if !strings.HasPrefix(key, "order:") || !strings.HasPrefix(s.Doc["value"], `{"order_no":`) {
				t.Errorf("db1 sample %v, want an order string", s.Doc)
			}
		}
	}
	if want := probe.DefaultOptions().Samples; per["db0"] != want || per["db1"] != want {
		t.Errorf("samples per database %v, want %d each", per, want)
	}
	ev := exp.Evidence
	if ev == nil || ev.Request != "INFO keyspace" || len(ev.Response) > 512 ||
		!strings.Contains(ev.Response, "db0:keys=2000") {
		t.Errorf("evidence %+v", ev)
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.RedisSecured)
	res, _, err := run(t, lab.RedisSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil {
		t.Fatalf("status %q exposure %+v, want protected and no exposure", res.Status, res.Exposure)
	}
	if !strings.Contains(res.Detail, "AUTH") {
		t.Errorf("detail %q, want the server's NOAUTH message", res.Detail)
	}
}

// TestProbeReadOnly checks every command the probe sends to a real server
// against the read-only list.
func TestProbeReadOnly(t *testing.T) {
	lab.Require(t, lab.RedisOpen)
	_, d, err := run(t, lab.RedisOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	allowed := map[string]func(args []string) bool{
		"INFO": func(a []string) bool {
			return len(a) == 1 && slices.Contains([]string{"server", "keyspace", "memory"}, a[0])
		},
		"ACL":     func(a []string) bool { return len(a) == 1 && (a[0] == "WHOAMI" || a[0] == "LIST") },
		"SELECT":  func(a []string) bool { return len(a) == 1 },
		"SCAN":    func(a []string) bool { return len(a) == 3 && a[1] == "COUNT" },
		"TYPE":    func(a []string) bool { return len(a) == 1 },
		"HSCAN":   func(a []string) bool { return len(a) == 4 && a[2] == "COUNT" },
		"HLEN":    func(a []string) bool { return len(a) == 1 },
		"HGETALL": func(a []string) bool { return len(a) == 1 },
		"GETRANGE": func(a []string) bool {
			return len(a) == 3 && a[1] == "0" && a[2] == strconv.Itoa(maxSampleValue-1)
		},
	}
	cmds := d.commands(t)
	scans := 0
	for _, c := range cmds {
		ok := allowed[strings.ToUpper(c[0])]
		if ok == nil || !ok(c[1:]) {
			t.Errorf("sent %q, which is not on the read-only list", c)
		}
		if c[0] == "SCAN" {
			scans++
		}
	}
	if scans == 0 || scans > 2*maxScanCalls {
		t.Errorf("%d SCAN calls for two databases, want 1 to %d", scans, 2*maxScanCalls)
	}
}

// hostile serves one connection: it writes prefix, then fill forever (or,
// when every is set, one fill byte each time it ticks), or nothing at all.
type hostile struct {
	name   string
	prefix string
	fill   []byte
	every  time.Duration
	// closeAfter closes the connection once prefix is written.
	closeAfter bool
}

func (h hostile) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.9:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop); c.Close() })
		if _, err := io.WriteString(c, h.prefix); err != nil || h.closeAfter {
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
	return ln.Addr().String()
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	tests := []struct {
		srv    hostile
		status ajar.Status
		want   error // nil: no error expected
	}{
		{hostile{name: "huge bulk then endless stream", prefix: "$999999999\r\n", fill: bytes.Repeat([]byte("A"), 32<<10)}, ajar.StatusOpen, resp.ErrLimit},
		{hostile{name: "silent"}, ajar.StatusOpen, context.DeadlineExceeded},
		{hostile{name: "endless line", prefix: "+", fill: bytes.Repeat([]byte("A"), 32<<10)}, ajar.StatusOpen, resp.ErrLimit},
		{hostile{name: "trickle", prefix: "$100\r\n", fill: []byte("A"), every: 50 * time.Millisecond}, ajar.StatusOpen, context.DeadlineExceeded},
		{hostile{name: "endless nesting", fill: []byte("*1\r\n")}, ajar.StatusOpen, resp.ErrLimit},
		{hostile{name: "HTTP server", prefix: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", closeAfter: true}, ajar.StatusOpen, resp.ErrProtocol},
		{hostile{name: "INFO answered with an integer", prefix: ":1\r\n:1\r\n:1\r\n"}, ajar.StatusOpen, resp.ErrProtocol},
		// Protected mode refuses clients from other hosts, so it cannot be
		// seen on loopback; these are the bytes Redis sends before closing.
		{hostile{name: "protected mode", prefix: "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user.\r\n", closeAfter: true}, ajar.StatusProtected, nil},
	}
	for _, tt := range tests {
		t.Run(tt.srv.name, func(t *testing.T) {
			addr := tt.srv.serve(t)
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
			if res == nil || res.Status != tt.status || res.Exposure != nil {
				t.Fatalf("result %+v, want status %q and no exposure", res, tt.status)
			}
			// The reader's caps, not the announced lengths, bound memory.
			if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// bulk encodes s as a RESP bulk string.
func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// TestScripted covers answers no lab server gives: a server from before ACLs
// (Redis 5) and one that stops answering once INFO has proved the exposure.
func TestScripted(t *testing.T) {
	infos := bulk("# Server\r\nredis_version:5.0.14\r\n") +
		bulk("# Keyspace\r\ndb0:keys=30,expires=0,avg_ttl=0\r\ndb2:keys=10,expires=0,avg_ttl=0\r\n") +
		bulk("# Memory\r\nused_memory:4000\r\n")
	unknownACL := "-ERR unknown command `ACL`, with args beginning with: `WHOAMI`, \r\n" +
		"-ERR unknown command `ACL`, with args beginning with: `LIST`, \r\n"
	tests := []struct {
		name   string
		script string
		access ajar.Access
		want   error
	}{
		// SELECT 0 and one empty SCAN page, SELECT 2 refused.
		{"before ACLs", infos + unknownACL + "+OK\r\n*2\r\n$1\r\n0\r\n*0\r\n" +
			"-ERR DB index is out of range\r\n*2\r\n$1\r\n0\r\n*0\r\n", ajar.AccessAdmin, nil},
		{"silent after INFO", infos, ajar.AccessRead, context.DeadlineExceeded},
		{"malformed SCAN", infos + unknownACL + "+OK\r\n*1\r\n:0\r\n", ajar.AccessAdmin, resp.ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := hostile{prefix: tt.script}.serve(t)
			res, _, err := run(t, addr, time.Second)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != ajar.StatusExposed || res.Exposure == nil {
				t.Fatalf("result %+v, want exposed", res)
			}
			exp := res.Exposure
			if res.Version != "5.0.14" || exp.Access != tt.access || exp.Records != 40 || exp.Bytes != 4000 ||
				len(exp.Datasets) != 2 || exp.Datasets[1].Name != "db2" || exp.Datasets[1].Bytes != 1000 {
				t.Errorf("version %q exposure %+v", res.Version, exp)
			}
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	lab.Require(t, lab.RedisOpen)
	tg, _ := target(t, lab.RedisOpen)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("redis")
	if res, err := p.Probe(ctx, tg); !errors.Is(err, context.Canceled) || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v; want context.Canceled", res, err)
	}
}
