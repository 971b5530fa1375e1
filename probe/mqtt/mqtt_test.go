package mqtt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
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

// tapDialer dials the target, keeps every byte the probe sends and counts
// the connections; DialAddr is never needed by this probe.
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
	return nil, errors.New("the MQTT probe must not dial by address")
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

// packets decodes what the probe sent into packet types and bodies.
func (d *tapDialer) packets(t *testing.T) []header {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	rd := bufio.NewReader(bytes.NewReader(d.sent.Bytes()))
	var out []header
	for {
		h, err := readHeader(rd)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("the probe sent something that is not MQTT: %v", err)
		}
		if _, err := readBody(rd, h, 1<<20); err != nil {
			t.Fatalf("the probe sent a short packet: %v", err)
		}
		out = append(out, h)
	}
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
	p, ok := probe.Get("mqtt")
	if !ok {
		t.Fatal(`no prober registered as "mqtt"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("mqtt")
	if !ok {
		t.Fatal(`no prober registered as "mqtt"`)
	}
	if !slices.Equal(p.Protocols(), []string{"mqtt"}) || !slices.Equal(p.DefaultPorts(), []uint16{1883, 8883}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

// seeded sums the lab's retained messages by top-level topic.
func seeded() (records, bytes map[string]int64) {
	records, bytes = map[string]int64{}, map[string]int64{}
	for _, m := range lab.MosquittoRetained() {
		top, _, _ := strings.Cut(m.Subject, "/")
		records[top]++
		bytes[top] += int64(len(m.Payload))
	}
	return records, bytes
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.MosquittoOpen)
	start := time.Now()
	res, d, err := run(t, lab.MosquittoOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if took := time.Since(start); took > listenFor+time.Second {
		t.Errorf("took %v; the retained messages arrive at once", took)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "Mosquitto" || !regexp.MustCompile(`^2\.\d+\.\d+$`).MatchString(res.Version) {
		t.Errorf("product %q version %q, want Mosquitto 2.x", res.Product, res.Version)
	}
	exp := res.Exposure
	if exp.Plugin != "mqtt" || exp.Access != ajar.AccessRead {
		t.Errorf("plugin %q access %q", exp.Plugin, exp.Access)
	}
	records, size := seeded()
	names := []string{}
	for _, ds := range exp.Datasets {
		names = append(names, ds.Name)
		if ds.Name == sysTopic {
			if !ds.System || ds.Records == 0 {
				t.Errorf("$SYS dataset %+v, want a system dataset with the broker's retained statistics", ds)
			}
			continue
		}
		if ds.System || ds.Records != records[ds.Name] || ds.Bytes != size[ds.Name] {
			t.Errorf("dataset %s: %d records %d bytes, want %d and %d", ds.Name, ds.Records, ds.Bytes, records[ds.Name], size[ds.Name])
		}
	}
	if !slices.Equal(names, []string{"$SYS", "devices", "fleet"}) {
		t.Fatalf("datasets %v, want $SYS, devices, fleet", names)
	}
	if want := int64(2*lab.MosquittoDevices + lab.MosquittoVehicles); exp.Records != want || exp.Bytes != size["devices"]+size["fleet"] {
		t.Errorf("totals %d records %d bytes, want %d and %d", exp.Records, exp.Bytes, want, size["devices"]+size["fleet"])
	}
	for _, f := range []string{"name", "mobile", "id_number"} {
		if !slices.Contains(exp.Datasets[1].Fields, f) {
			t.Errorf("devices fields %v lack %q", exp.Datasets[1].Fields, f)
		}
	}
	per := map[string]int{}
	for _, s := range exp.Samples {
		per[s.Dataset]++
		if s.Doc["topic"] == "" {
			t.Errorf("sample %v has no topic", s)
		}
	}
	if per["devices"] != 5 || per["fleet"] != 5 || per[sysTopic] != 0 {
		t.Errorf("samples per dataset %v, want 5 of devices and fleet, none of $SYS", per)
	}
	if ev := exp.Evidence; ev == nil || !strings.Contains(ev.Response, "100 retained") || len(ev.Response) > evidenceMax {
		t.Errorf("evidence %+v", ev)
	}
	// Read-only: CONNECT, one SUBSCRIBE, DISCONNECT; one connection.
	var types []byte
	for _, h := range d.packets(t) {
		types = append(types, h.Type)
	}
	if !slices.Equal(types, []byte{typeConnect, typeSubscribe, typeDisconnect}) || d.dials != 1 {
		t.Errorf("sent packet types %v on %d connections, want CONNECT, SUBSCRIBE, DISCONNECT on one", types, d.dials)
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.MosquittoSecured)
	res, _, err := run(t, lab.MosquittoSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil || !strings.Contains(res.Detail, "not authorized") {
		t.Fatalf("result %+v, want protected with CONNACK 5", res)
	}
}

// connack and suback are what an accepting broker answers.
var (
	connack = string([]byte{typeConnack << 4, 2, 0, 0})
	suback  = string([]byte{typeSuback << 4, 4, 0, subscribeID, 0, 0})
)

// scripted serves one connection: it writes prefix, then fill forever (one
// fill each time it ticks when every is set), or nothing more.
type scripted struct {
	name       string
	prefix     string
	fill       []byte
	every      time.Duration
	closeAfter bool
}

func (h scripted) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.21:0")
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
		go func() { _, _ = io.Copy(io.Discard, c) }()
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
	flood := appendPacket(nil, typePublish<<4, append(appendString(nil, "a/b"), bytes.Repeat([]byte("x"), 1000)...))
	tests := []struct {
		srv    scripted
		status ajar.Status
		want   error // nil: no error expected
	}{
		{scripted{name: "silent"}, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "garbage", prefix: "HTTP/1.1 400 Bad Request\r\n\r\n", closeAfter: true}, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "absurd CONNACK length", prefix: "\x20\xff\xff\xff\x7f", fill: []byte("A")}, ajar.StatusOpen, ErrTooLarge},
		{scripted{name: "five-byte length", prefix: "\x20\xff\xff\xff\xff\x01"}, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "half a CONNACK", prefix: "\x20\x02\x00"}, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "trickled garbage", prefix: "\x20\x7f", fill: []byte{0}, every: 100 * time.Millisecond}, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "no SUBACK", prefix: connack}, ajar.StatusOpen, context.DeadlineExceeded},
		// A flood of messages is read until the connection's read cap: the
		// exposure found so far comes back with the error.
		{scripted{name: "endless messages", prefix: connack + suback, fill: flood}, ajar.StatusExposed, probe.ErrReadCap},
		{scripted{name: "absurd PUBLISH", prefix: connack + suback + "\x30\xff\xff\xff\x7f\x00\x01a", fill: bytes.Repeat([]byte("A"), 32<<10)}, ajar.StatusExposed, probe.ErrReadCap},
		{scripted{name: "slow messages", prefix: connack + suback, fill: flood, every: 100 * time.Millisecond}, ajar.StatusExposed, nil},
		{scripted{name: "topic longer than packet", prefix: connack + suback + "\x30\x03\xff\xffa"}, ajar.StatusExposed, ErrProtocol},
		{scripted{name: "refused", prefix: string([]byte{typeConnack << 4, 2, 0, 5}), closeAfter: true}, ajar.StatusProtected, nil},
		{scripted{name: "subscription refused", prefix: connack + string([]byte{typeSuback << 4, 4, 0, subscribeID, 0x80, 0x80})}, ajar.StatusProtected, nil},
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
			if res == nil || res.Status != tt.status {
				t.Fatalf("result %+v, want status %q", res, tt.status)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	lab.Require(t, lab.MosquittoOpen)
	at, _ := ajar.ParseAddrPort(lab.MosquittoOpen)
	tg := &probe.Target{Target: at, Dialer: &probe.TargetDialer{Target: at}, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("mqtt")
	if res, err := p.Probe(ctx, tg); !errors.Is(err, context.Canceled) || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v; want context.Canceled", res, err)
	}
}
