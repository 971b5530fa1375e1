package zookeeper

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

// tapDialer dials like the engine and keeps every address dialled and the
// bytes sent.
type tapDialer struct {
	probe.TargetDialer
	// any lets DialAddr reach any address, so that a test can see where a
	// probe would go if nothing stopped it.
	any   bool
	mu    sync.Mutex
	dials []string
	sent  [][]byte // per connection
}

func (d *tapDialer) Dial(ctx context.Context) (net.Conn, error) {
	return d.DialAddr(ctx, "tcp", d.Target.String())
}

func (d *tapDialer) DialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, addr)
	i := len(d.sent)
	d.sent = append(d.sent, nil)
	d.mu.Unlock()
	var c net.Conn
	var err error
	if d.any {
		var nd net.Dialer
		c, err = nd.DialContext(ctx, network, addr)
	} else {
		c, err = d.TargetDialer.DialAddr(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, d: d, i: i}, nil
}

type tapConn struct {
	net.Conn
	d *tapDialer
	i int
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.d.mu.Lock()
	c.d.sent[c.i] = append(c.d.sent[c.i], p...)
	c.d.mu.Unlock()
	return c.Conn.Write(p)
}

// opcodes are the request types the probe sent as a client: each packet is
// a length, then xid and type (the connect request has neither).
// https://github.com/apache/zookeeper/blob/release-3.8.0/zookeeper-server/src/main/java/org/apache/zookeeper/ZooDefs.java
func (d *tapDialer) opcodes(t *testing.T) (words []string, ops []int32) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.sent {
		if len(b) == 4 && bytes.Equal(bytes.ToLower(b), b) && !bytes.ContainsRune(b, 0) {
			words = append(words, string(b))
			continue
		}
		for first := true; len(b) >= 4; first = false {
			n := int(binary.BigEndian.Uint32(b))
			if n+4 > len(b) {
				t.Fatalf("truncated packet")
			}
			if !first && n >= 8 {
				ops = append(ops, int32(binary.BigEndian.Uint32(b[8:])))
			}
			b = b[4+n:]
		}
	}
	return words, ops
}

func run(t *testing.T, addr string, timeout time.Duration, anyAddr ...bool) (*probe.Result, *tapDialer, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &tapDialer{TargetDialer: probe.TargetDialer{Target: at, Timeout: 2 * time.Second}, any: len(anyAddr) > 0 && anyAddr[0]}
	tg := &probe.Target{Target: at, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("zookeeper")
	if !ok {
		t.Fatal(`no prober registered as "zookeeper"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("zookeeper")
	if !ok {
		t.Fatal(`no prober registered as "zookeeper"`)
	}
	if !slices.Equal(p.Protocols(), []string{"zookeeper"}) || !slices.Equal(p.DefaultPorts(), []uint16{2181}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.ZooKeeperOpen)
	res, d, err := run(t, lab.ZooKeeperOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "ZooKeeper" || res.Version != "3.8.0" {
		t.Errorf("product %q version %q, want ZooKeeper 3.8.0", res.Product, res.Version)
	}
	exp := res.Exposure
	if exp.Plugin != "zookeeper" || exp.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q", exp.Plugin, exp.Access)
	}
	if len(exp.Datasets) != 3 {
		t.Fatalf("datasets %+v, want /config, /persons and /zookeeper", exp.Datasets)
	}
	cfg, persons, sys := exp.Datasets[0], exp.Datasets[1], exp.Datasets[2]
	if cfg.Name != "/config" || cfg.Records != lab.ZooKeeperConfig || persons.Name != "/persons" || persons.Records != lab.ZooKeeperPersons ||
		sys.Name != "/zookeeper" || !sys.System || cfg.Estimated || persons.Estimated {
		t.Errorf("datasets %+v", exp.Datasets)
	}
	if exp.Records != lab.ZooKeeperConfig+lab.ZooKeeperPersons || persons.Bytes < 120*lab.ZooKeeperPersons || cfg.Bytes <= 0 {
		t.Errorf("totals %d records %d bytes; datasets %+v", exp.Records, exp.Bytes, exp.Datasets)
	}
	if want := []string{"address", "id_number", "mobile", "name"}; !slices.Equal(persons.Fields, want) {
		t.Errorf("/persons fields %v, want %v", persons.Fields, want)
	}
	n := map[string]int{}
	for _, s := range exp.Samples {
		n[s.Dataset]++
		if s.Dataset == persons.Name && (len(s.Doc["id_number"]) != 18 || !strings.HasPrefix(s.Doc["_path"], "/persons/")) {
			t.Errorf("/persons sample has %d fields", len(s.Doc))
		}
	}
	if n[cfg.Name] != 5 || n[persons.Name] != 5 || n[sys.Name] != 0 {
		t.Errorf("samples per dataset %v, want 5, 5 and 0", n)
	}
	if ev := exp.Evidence; ev == nil || ev.Request != "srvr" || !strings.Contains(ev.Response, "zk_znode_count\t515") {
		t.Errorf("evidence %+v", ev)
	}
	checkReadOnly(t, d)
}

// checkReadOnly checks the four-letter words and the client requests sent:
// getData 4, exists 3, getChildren2 12, getACL 6, ping 11, closeSession -11.
func checkReadOnly(t *testing.T, d *tapDialer) {
	t.Helper()
	words, ops := d.opcodes(t)
	for _, w := range words {
		if w != "srvr" && w != "mntr" {
			t.Errorf("sent the four-letter word %q", w)
		}
	}
	if len(ops) == 0 {
		t.Error("no client request seen")
	}
	for _, op := range ops {
		if !slices.Contains([]int32{4, 3, 12, 6, 11, -11}, op) {
			t.Errorf("sent request type %d, not on the read-only list", op)
		}
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.ZooKeeperSecured)
	res, d, err := run(t, lab.ZooKeeperSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil || res.Version != "3.8.0" || !strings.Contains(res.Detail, "SASL") {
		t.Fatalf("result %+v, want protected", res)
	}
	checkReadOnly(t, d)
}

// serve runs handle on every connection to a new listener on addr (port 0
// for any) and returns its address and how many connections it accepted.
func serve(t *testing.T, addr string, handle func(net.Conn)) (string, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		conns    []net.Conn
		accepted int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			accepted++
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return accepted
	}
}

// srvrAnswer is what srvr says on a 3.8 server.
const srvrAnswer = "Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC\n" +
	"Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"

// zkServer answers four-letter words with srvr, and a client session with
// handle, which gets the connection after the connect request was read.
func zkServer(handle func(c net.Conn)) func(net.Conn) {
	return func(c net.Conn) {
		head := make([]byte, 4)
		if _, err := io.ReadFull(c, head); err != nil {
			return
		}
		switch string(head) {
		case "srvr", "mntr":
			_, _ = io.WriteString(c, srvrAnswer)
			return
		}
		n := binary.BigEndian.Uint32(head)
		if n > 1024 {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
			return
		}
		handle(c)
	}
}

// packet frames b with its length.
func packet(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }

// connectResponse is a ConnectResponse: protocol version, timeout, session
// id, password (16 bytes), read-only flag.
func connectResponse() []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, 10000)
	b = binary.BigEndian.AppendUint64(b, 0x1234)
	b = binary.BigEndian.AppendUint32(b, 16)
	b = append(b, make([]byte, 16)...)
	return packet(append(b, 0))
}

// hold keeps a connection open until the client or the test closes it.
func hold(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// children answers every request with a getChildren2 reply listing names
// (and a zero stat); names may name another server.
func children(names ...string) func(c net.Conn) {
	return func(c net.Conn) {
		if _, err := c.Write(connectResponse()); err != nil {
			return
		}
		head := make([]byte, 4)
		for {
			if _, err := io.ReadFull(c, head); err != nil {
				return
			}
			req := make([]byte, min(binary.BigEndian.Uint32(head), 1<<16))
			if _, err := io.ReadFull(c, req); err != nil || len(req) < 8 {
				return
			}
			var b []byte
			b = append(b, req[:4]...)               // xid
			b = binary.BigEndian.AppendUint64(b, 1) // zxid
			b = binary.BigEndian.AppendUint32(b, 0) // err
			if op := int32(binary.BigEndian.Uint32(req[4:])); op == 12 && bytes.HasSuffix(req, []byte("\x00\x00\x00\x01/\x00")) {
				b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
				for _, n := range names {
					b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
					b = append(b, n...)
				}
			} else if op == 12 {
				b = binary.BigEndian.AppendUint32(b, 0)
			} else if op == 6 {
				b = binary.BigEndian.AppendUint32(b, 0) // no ACL entry
			}
			if op := int32(binary.BigEndian.Uint32(req[4:])); op == 12 || op == 6 || op == 3 {
				b = append(b, make([]byte, 68)...) // stat
			}
			if _, err := c.Write(packet(b)); err != nil {
				return
			}
		}
	}
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	endless := func(prefix []byte) func(net.Conn) {
		return func(c net.Conn) {
			if _, err := c.Write(prefix); err != nil {
				return
			}
			fill := bytes.Repeat([]byte{0x7f}, 32<<10)
			for {
				if _, err := c.Write(fill); err != nil {
					return
				}
			}
		}
	}
	tests := []struct {
		name   string
		handle func(net.Conn)
		status ajar.Status
		want   error
	}{
		{"silent", hold, ajar.StatusOpen, context.DeadlineExceeded},
		{"garbage", func(c net.Conn) { _, _ = c.Write([]byte("\x00\xff\x13\x37 garbage")) }, ajar.StatusOpen, ErrNotZooKeeper},
		{"endless four-letter answer", endless([]byte("Zookeeper version: ")), ajar.StatusOpen, ErrNotZooKeeper},
		{"absurd connect response", zkServer(endless([]byte{0x7f, 0xff, 0xff, 0xff})), ajar.StatusOpen, context.DeadlineExceeded},
		{"silent session", zkServer(hold), ajar.StatusOpen, context.DeadlineExceeded},
		{"absurd reply", zkServer(func(c net.Conn) {
			if _, err := c.Write(connectResponse()); err == nil {
				endless([]byte{0x7f, 0xff, 0xff, 0xff})(c)
			}
		}), ajar.StatusOpen, nil}, // the library reports a closed connection
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := serve(t, "127.0.20.9:0", tt.handle)
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
			if res == nil || res.Status != tt.status || res.Exposure != nil {
				t.Fatalf("result %+v, want %s", res, tt.status)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// TestOnlyTarget points the probe at a server whose znodes name another
// server (as a cluster's configuration would): the probe must dial the
// target alone.
func TestOnlyTarget(t *testing.T) {
	elsewhere, accepted := serve(t, "127.0.20.99:0", func(net.Conn) {})
	addr, _ := serve(t, "127.0.20.9:0", zkServer(children("server.1="+elsewhere, elsewhere)))
	res, d, err := run(t, addr, 2*time.Second, true)
	if err != nil || res.Status != ajar.StatusExposed || len(res.Exposure.Datasets) != 2 {
		t.Fatalf("Probe: %+v, %v", res, err)
	}
	if len(d.dials) < 3 {
		t.Errorf("dials %v: want srvr, mntr and the session", d.dials)
	}
	for _, a := range d.dials {
		if a != addr {
			t.Errorf("dialled %s; the target is %s", a, addr)
		}
	}
	if n := accepted(); n != 0 {
		t.Errorf("%s accepted %d connections", elsewhere, n)
	}
}
