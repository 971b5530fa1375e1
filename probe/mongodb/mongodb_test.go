package mongodb

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

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

// tapDialer dials like the engine and keeps every address dialled and the
// command names sent.
type tapDialer struct {
	probe.TargetDialer
	// any lets DialAddr reach any address, so that a test can see where a
	// probe would go if nothing stopped it.
	any   bool
	mu    sync.Mutex
	dials []string
	sent  [][]byte
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

// commands decodes the command names of every message sent.
func (d *tapDialer) commands(t *testing.T) []string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, b := range d.sent {
		for len(b) >= 16 {
			n := int(binary.LittleEndian.Uint32(b))
			if n < 16 || n > len(b) {
				t.Fatalf("malformed message sent")
			}
			if doc, _, ok := command(b[:n]); ok {
				if e, err := doc.IndexErr(0); err == nil {
					out = append(out, e.Key())
				}
			}
			b = b[n:]
		}
	}
	return out
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
	p, ok := probe.Get("mongodb")
	if !ok {
		t.Fatal(`no prober registered as "mongodb"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("mongodb")
	if !ok {
		t.Fatal(`no prober registered as "mongodb"`)
	}
	if !slices.Equal(p.Protocols(), []string{"mongodb"}) || !slices.Equal(p.DefaultPorts(), []uint16{27017, 27018, 27019}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.MongoOpen)
	res, d, err := run(t, lab.MongoOpen, 15*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "FerretDB" || !strings.HasPrefix(res.Version, "v1.24.") {
		t.Errorf("product %q version %q, want FerretDB v1.24", res.Product, res.Version)
	}
	exp := res.Exposure
	if exp.Plugin != "mongodb" || exp.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q", exp.Plugin, exp.Access)
	}
	want := map[string]int64{"police.case_record": lab.MongoCases, "police.person_info": lab.MongoPersons, "shop.orders": lab.MongoOrders}
	got := map[string]int64{}
	for _, ds := range exp.Datasets {
		got[ds.Name] = ds.Records
		if ds.Bytes <= 0 || ds.System {
			t.Errorf("dataset %+v", ds)
		}
	}
	if len(got) != len(want) || exp.Records != lab.MongoPersons+lab.MongoCases+lab.MongoOrders {
		t.Fatalf("datasets %v (total %d), want %v", got, exp.Records, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d records, want %d", k, got[k], v)
		}
	}
	for _, ds := range exp.Datasets {
		if ds.Name == "police.person_info" && !slices.Equal(ds.Fields, []string{"name", "mobile", "id_number", "address", "birth_date"}) {
			t.Errorf("person_info fields %v", ds.Fields)
		}
	}
	n := map[string]int{}
	for _, s := range exp.Samples {
		n[s.Dataset]++
		if s.Dataset == "police.person_info" && (len(s.Doc["id_number"]) != 18 || s.Doc["_id"] == "") {
			t.Errorf("person_info sample %d fields", len(s.Doc))
		}
	}
	if len(n) != 3 || n["police.person_info"] != 5 {
		t.Errorf("samples per dataset %v, want 5 each", n)
	}
	if ev := exp.Evidence; ev == nil || ev.Request != "listDatabases" || !strings.Contains(ev.Response, "police") {
		t.Errorf("evidence %+v", ev)
	}
	checkReadOnly(t, d)
}

// checkReadOnly checks every command sent against the read-only list.
func checkReadOnly(t *testing.T, d *tapDialer) {
	t.Helper()
	cmds := d.commands(t)
	if len(cmds) == 0 {
		t.Fatal("no command seen")
	}
	allowed := []string{"isMaster", "ismaster", "hello", "buildInfo", "listDatabases", "listCollections", "count",
		"collStats", "find", "endSessions", "ping"}
	for _, c := range cmds {
		if !slices.Contains(allowed, c) {
			t.Errorf("sent %q, not on the read-only list", c)
		}
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.MongoSecured)
	res, d, err := run(t, lab.MongoSecured, 15*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil || res.Product != "FerretDB" ||
		!strings.Contains(res.Detail, "(13)") {
		t.Fatalf("result %+v, want protected by Unauthorized (13)", res)
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

// command extracts the command document of an OP_QUERY (2004) or OP_MSG
// (2013) message, and its request id.
// https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
func command(msg []byte) (bson.Raw, int32, bool) {
	id := int32(binary.LittleEndian.Uint32(msg[4:]))
	body := msg[16:]
	switch binary.LittleEndian.Uint32(msg[12:]) {
	case 2004:
		// flags, full collection name (C string), skip, return.
		i := bytes.IndexByte(body[4:], 0)
		if i < 0 || len(body) < 4+i+1+8 {
			return nil, id, false
		}
		doc := bson.Raw(body[4+i+1+8:])
		return doc, id, doc.Validate() == nil
	case 2013:
		// flags, then section kind 0 and its document.
		if len(body) < 5 || body[4] != 0 {
			return nil, id, false
		}
		n := int(binary.LittleEndian.Uint32(body[5:]))
		if n > len(body)-5 {
			return nil, id, false
		}
		doc := bson.Raw(body[5 : 5+n])
		return doc, id, doc.Validate() == nil
	}
	return nil, id, false
}

// reply frames doc as an answer to a message: OP_REPLY to OP_QUERY, OP_MSG
// to OP_MSG.
func reply(op uint32, to int32, doc bson.D) []byte {
	b, err := bson.Marshal(doc)
	if err != nil {
		panic(err)
	}
	var m []byte
	m = binary.LittleEndian.AppendUint32(m, 0)
	m = binary.LittleEndian.AppendUint32(m, 99)
	m = binary.LittleEndian.AppendUint32(m, uint32(to))
	if op == 2004 {
		m = binary.LittleEndian.AppendUint32(m, 1) // OP_REPLY
		m = binary.LittleEndian.AppendUint32(m, 0) // flags
		m = binary.LittleEndian.AppendUint64(m, 0) // cursor id
		m = binary.LittleEndian.AppendUint32(m, 0) // starting from
		m = binary.LittleEndian.AppendUint32(m, 1) // number returned
	} else {
		m = binary.LittleEndian.AppendUint32(m, 2013)
		m = binary.LittleEndian.AppendUint32(m, 0) // flags
		m = append(m, 0)                           // section kind 0
	}
	m = append(m, b...)
	binary.LittleEndian.PutUint32(m, uint32(len(m)))
	return m
}

// fakeMongo answers each command from answers (by command name); a missing
// name gets CommandNotFound. An answer of nil stays silent; raw answers are
// written as they are.
func fakeMongo(answers map[string]any) func(net.Conn) {
	return func(c net.Conn) {
		for {
			var head [4]byte
			if _, err := io.ReadFull(c, head[:]); err != nil {
				return
			}
			n := binary.LittleEndian.Uint32(head[:])
			if n < 16 || n > 1<<20 {
				return
			}
			msg := make([]byte, n)
			copy(msg, head[:])
			if _, err := io.ReadFull(c, msg[4:]); err != nil {
				return
			}
			doc, id, ok := command(msg)
			if !ok {
				return
			}
			name := doc.Index(0).Key()
			a, found := answers[name]
			var out []byte
			switch a := a.(type) {
			case bson.D:
				out = reply(binary.LittleEndian.Uint32(msg[12:]), id, a)
			case []byte:
				out = a
			case nil:
				if found {
					_, _ = io.Copy(io.Discard, c)
					return
				}
				out = reply(binary.LittleEndian.Uint32(msg[12:]), id, bson.D{{Key: "ok", Value: 0.0},
					{Key: "errmsg", Value: "no such command: '" + name + "'"}, {Key: "code", Value: int32(59)}})
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// hello is a replica-set member's handshake answer naming other members.
func hello(members ...string) bson.D {
	hosts := bson.A{}
	for _, m := range members {
		hosts = append(hosts, m)
	}
	d := bson.D{{Key: "ismaster", Value: true}, {Key: "isWritablePrimary", Value: true},
		{Key: "maxWireVersion", Value: int32(17)}, {Key: "minWireVersion", Value: int32(0)},
		{Key: "maxBsonObjectSize", Value: int32(16 << 20)}, {Key: "maxMessageSizeBytes", Value: int32(48000000)},
		{Key: "ok", Value: 1.0}}
	if len(members) > 0 {
		d = append(d, bson.E{Key: "setName", Value: "rs0"}, bson.E{Key: "hosts", Value: hosts},
			bson.E{Key: "primary", Value: members[0]}, bson.E{Key: "me", Value: members[0]})
	}
	return d
}

// fakeData answers the probe's reads of one database with one collection
// whose documents name other.
func fakeData(other string) map[string]any {
	h := hello(other, other)
	return map[string]any{
		"isMaster": h, "ismaster": h, "hello": h,
		"buildInfo":     bson.D{{Key: "version", Value: "6.0.5"}, {Key: "ok", Value: 1.0}},
		"listDatabases": bson.D{{Key: "databases", Value: bson.A{bson.D{{Key: "name", Value: "app"}}}}, {Key: "ok", Value: 1.0}},
		"listCollections": bson.D{{Key: "cursor", Value: bson.D{{Key: "id", Value: int64(0)}, {Key: "ns", Value: "app.$cmd.listCollections"},
			{Key: "firstBatch", Value: bson.A{bson.D{{Key: "name", Value: "nodes"}, {Key: "type", Value: "collection"}}}}}}, {Key: "ok", Value: 1.0}},
		"count":     bson.D{{Key: "n", Value: int32(2)}, {Key: "ok", Value: 1.0}},
		"collStats": bson.D{{Key: "size", Value: 120.0}, {Key: "ok", Value: 1.0}},
		"find": bson.D{{Key: "cursor", Value: bson.D{{Key: "id", Value: int64(0)}, {Key: "ns", Value: "app.nodes"},
			{Key: "firstBatch", Value: bson.A{bson.D{{Key: "_id", Value: 1}, {Key: "host", Value: other}}}}}}, {Key: "ok", Value: 1.0}},
		"endSessions": bson.D{{Key: "ok", Value: 1.0}},
	}
}

// TestOnlyTarget points the probe at a replica-set member whose handshake
// names another member as primary and whose documents name it too: the
// probe must dial the target alone.
func TestOnlyTarget(t *testing.T) {
	elsewhere, accepted := serve(t, "127.0.20.99:0", func(net.Conn) {})
	addr, _ := serve(t, "127.0.20.9:0", fakeMongo(fakeData(elsewhere)))
	res, d, err := run(t, addr, 3*time.Second, true)
	if err != nil || res.Status != ajar.StatusExposed || res.Exposure.Records != 2 || len(res.Exposure.Samples) != 1 {
		t.Fatalf("Probe: %+v, %v", res, err)
	}
	if len(d.dials) == 0 {
		t.Error("no dial recorded")
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

func TestHostileServers(t *testing.T) {
	const deadline = 2 * time.Second
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
	absurd := binary.LittleEndian.AppendUint32(nil, 0x7fffffff)
	withListing := func(v any) map[string]any {
		m := fakeData("127.0.20.9:1")
		m["listDatabases"] = v
		return m
	}
	// The driver retries the handshake until the deadline; the frame guard
	// ends each try at the first absurd length.
	tests := []struct {
		name   string
		handle func(net.Conn)
		status ajar.Status
		want   error // nil: any error
	}{
		{"silent", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, ajar.StatusOpen, context.DeadlineExceeded},
		{"garbage", endless([]byte("\x00\xff garbage")), ajar.StatusOpen, nil},
		{"absurd length", endless(absurd), ajar.StatusOpen, nil},
		{"HTTP server", func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		}, ajar.StatusOpen, nil},
		{"absurd length after the handshake", fakeMongo(withListing(append(absurd, bytes.Repeat([]byte{1}, 1<<16)...))), ajar.StatusOpen, ErrFrame},
		{"silent after the handshake", fakeMongo(withListing(nil)), ajar.StatusOpen, context.DeadlineExceeded},
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
			if took > deadline+time.Second {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if err == nil {
				t.Error("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != tt.status || res.Exposure != nil {
				t.Fatalf("result %+v, want %s", res, tt.status)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// TestEmptyListing covers a server that lists no database: open and empty,
// or protected when it refuses what only an authorised client may run.
func TestEmptyListing(t *testing.T) {
	none := bson.D{{Key: "databases", Value: bson.A{}}, {Key: "ok", Value: 1.0}}
	unauthorized := bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "command listCollections requires authentication"},
		{Key: "code", Value: int32(13)}, {Key: "codeName", Value: "Unauthorized"}}
	tests := []struct {
		name   string
		lc     any
		status ajar.Status
	}{
		{"open and empty", bson.D{{Key: "cursor", Value: bson.D{{Key: "id", Value: int64(0)}, {Key: "ns", Value: "admin.$cmd.listCollections"},
			{Key: "firstBatch", Value: bson.A{}}}}, {Key: "ok", Value: 1.0}}, ajar.StatusExposed},
		{"authentication on", unauthorized, ajar.StatusProtected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fakeData("127.0.20.9:1")
			m["listDatabases"] = none
			m["listCollections"] = tt.lc
			addr, _ := serve(t, "127.0.20.9:0", fakeMongo(m))
			res, _, err := run(t, addr, 3*time.Second)
			if err != nil || res.Status != tt.status {
				t.Fatalf("result %+v, %v; want %s", res, err, tt.status)
			}
			if tt.status == ajar.StatusExposed && (len(res.Exposure.Datasets) != 0 || res.Exposure.Records != 0) {
				t.Errorf("exposure %+v", res.Exposure)
			}
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	lab.Require(t, lab.MongoOpen)
	tg := &probe.Target{Options: probe.DefaultOptions()}
	at, _ := ajar.ParseAddrPort(lab.MongoOpen)
	tg.Target, tg.Dialer = at, &probe.TargetDialer{Target: at}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("mongodb")
	if res, err := p.Probe(ctx, tg); err == nil || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v; want an error", res, err)
	}
}
