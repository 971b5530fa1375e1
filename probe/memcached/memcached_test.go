package memcached

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/probe"
)

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("memcached")
	if !ok {
		t.Fatal(`no prober registered as "memcached"`)
	}
	if !slices.Equal(p.Protocols(), []string{"memcached"}) || !slices.Equal(p.DefaultPorts(), []uint16{11211}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.MemcachedOpen)
	res, _, err := run(t, lab.MemcachedOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "memcached" || !strings.HasPrefix(res.Version, "1.6.") {
		t.Errorf("product %q version %q, want memcached 1.6", res.Product, res.Version)
	}
	exp := res.Exposure
	if exp.Plugin != "memcached" || exp.Access != ajar.AccessAdmin {
		t.Errorf("plugin %q access %q", exp.Plugin, exp.Access)
	}
	sessions := fmt.Sprintf("slab %d", lab.MemcachedSessionClass)
	persons := fmt.Sprintf("slab %d", lab.MemcachedPersonClass)
	if len(exp.Datasets) != 2 || exp.Datasets[0].Name != sessions || exp.Datasets[0].Records != lab.MemcachedSessions ||
		exp.Datasets[1].Name != persons || exp.Datasets[1].Records != lab.MemcachedPersons {
		t.Fatalf("datasets %+v, want %s=%d and %s=%d", exp.Datasets, sessions, lab.MemcachedSessions, persons, lab.MemcachedPersons)
	}
	if exp.Records != lab.MemcachedPersons+lab.MemcachedSessions || exp.Bytes != exp.Datasets[0].Bytes+exp.Datasets[1].Bytes {
		t.Errorf("totals %d records, %d bytes", exp.Records, exp.Bytes)
	}
	// mem_requested: every item asks for more than its value and less than its chunk.
	if b := exp.Datasets[1].Bytes; b < 177*lab.MemcachedPersons || b > 304*lab.MemcachedPersons {
		t.Errorf("%s bytes %d", persons, b)
	}
	if !slices.Equal(exp.Datasets[0].Fields, []string{"session:*"}) {
		t.Errorf("%s fields %v", sessions, exp.Datasets[0].Fields)
	}
	for _, f := range []string{"person:*", "name", "mobile", "id_number", "address"} {
		if !slices.Contains(exp.Datasets[1].Fields, f) {
			t.Errorf("%s fields %v lack %q", persons, exp.Datasets[1].Fields, f)
		}
	}
	count := map[string]int{}
	for _, s := range exp.Samples {
		count[s.Dataset]++
		if !regexp.MustCompile(`^(person|session):\d{5}$`).MatchString(s.Doc["_key"]) {
			t.Errorf("sample key %q", s.Doc["_key"])
		}
	}
	if count[persons] != maxGets || count[sessions] != maxGets || len(exp.Samples) != 2*maxGets {
		t.Errorf("samples per dataset %v, want %d each", count, maxGets)
	}
	for _, s := range exp.Samples {
		if s.Dataset == persons && (s.Doc["mobile"] == "" || s.Doc["id_number"] == "") {
			t.Errorf("person sample lacks fields: %d fields", len(s.Doc))
		}
	}
	if ev := exp.Evidence; ev == nil || ev.Request != "stats" || !strings.Contains(ev.Response, "STAT curr_items 1300") {
		t.Errorf("evidence %+v", ev)
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.MemcachedSecured)
	res, d, err := run(t, lab.MemcachedSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil || res.Detail != "CLIENT_ERROR unauthenticated" {
		t.Fatalf("result %+v, want protected by CLIENT_ERROR unauthenticated", res)
	}
	if cmds := d.commands(); !slices.Equal(cmds, []string{"stats"}) {
		t.Errorf("sent %q, want stats alone", cmds)
	}
}

// TestProbeReadOnly checks every command the probe sends to a real server.
func TestProbeReadOnly(t *testing.T) {
	lab.Require(t, lab.MemcachedOpen)
	_, d, err := run(t, lab.MemcachedOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	gets := 0
	for _, c := range d.commands() {
		switch {
		case c == "stats", c == "stats items", c == "stats slabs", c == "lru_crawler metadump all":
		case strings.HasPrefix(c, "get "):
			gets++
			if n := len(strings.Fields(c)) - 1; n > maxGets {
				t.Errorf("%q asks for %d keys", c, n)
			}
		default:
			t.Errorf("sent %q, which is not on the read-only list", c)
		}
	}
	if gets != 2 {
		t.Errorf("%d get commands for two slab classes", gets)
	}
}

// stat renders STAT lines and END.
func stat(kv ...string) []byte {
	var b bytes.Buffer
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "STAT %s %s\r\n", kv[i], kv[i+1])
	}
	b.WriteString("END\r\n")
	return b.Bytes()
}

var (
	scriptedStats = stat("pid", "1", "version", "1.6.21", "curr_items", "3", "bytes", "300")
	scriptedItems = stat("items:5:number", "3", "items:5:mem_requested", "250")
	scriptedSlabs = stat("5:chunk_size", "240", "5:used_chunks", "3")
)

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	endless := func(prefix, fill string) func(net.Conn) {
		return func(c net.Conn) {
			if _, err := c.Write([]byte(prefix)); err != nil {
				return
			}
			b := bytes.Repeat([]byte(fill), 32<<10/len(fill))
			for {
				if _, err := c.Write(b); err != nil {
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
		{"silent", script(nil), ajar.StatusOpen, context.DeadlineExceeded},
		{"garbage", endless("", "\x00\xff\x13\x37"), ajar.StatusOpen, ErrTooLong},
		{"endless STAT lines", endless("", "STAT x 1\r\n"), ajar.StatusOpen, ErrTooLong},
		{"endless line", endless("STAT version ", "1"), ajar.StatusOpen, ErrTooLong},
		{"HTTP server", script([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")), ajar.StatusOpen, ErrNotMemcached},
		{"unknown command", script([]byte("ERROR\r\n")), ajar.StatusOpen, ErrNotMemcached},
		{"trickle", func(c net.Conn) {
			for {
				if _, err := c.Write([]byte("S")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}, ajar.StatusOpen, context.DeadlineExceeded},
		{"absurd value length", script(scriptedStats, scriptedItems, scriptedSlabs,
			[]byte("key=a%3A1 exp=-1 la=1 cas=1 fetch=no cls=5 size=80\r\nEND\r\n"),
			[]byte("VALUE a:1 0 99999999999\r\n")), ajar.StatusExposed, ErrTooLong},
		{"endless metadump, silent get", firstThen(script(scriptedStats, scriptedItems, scriptedSlabs,
			bytes.Repeat([]byte("key=a%3A1 exp=-1 la=1 cas=1 fetch=no cls=5 size=80\r\n"), maxDumpLines+10)), script(nil)),
			ajar.StatusExposed, context.DeadlineExceeded},
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
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != tt.status {
				t.Fatalf("result %+v, want status %q", res, tt.status)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 2<<20 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

// TestScripted covers answers the lab's memcached does not give.
func TestScripted(t *testing.T) {
	tests := []struct {
		name    string
		answers [][]byte
		fields  []string
		samples int
	}{
		{"crawler busy", [][]byte{scriptedStats, scriptedItems, scriptedSlabs, []byte("BUSY currently processing crawler request\r\n")}, nil, 0},
		{"crawler disabled", [][]byte{scriptedStats, scriptedItems, scriptedSlabs, []byte("CLIENT_ERROR lru crawler disabled\r\n")}, nil, 0},
		{"one plain value", [][]byte{scriptedStats, scriptedItems, scriptedSlabs,
			[]byte("key=tok%2Fab%20c exp=-1 la=1 cas=1 fetch=no cls=5 size=80\r\nkey=big exp=-1 la=1 cas=1 fetch=no cls=5 size=99999\r\nEND\r\n"),
			[]byte("VALUE tok/ab 0 5\r\nhello\r\nEND\r\n")}, []string{"*", "tok/*"}, 0},
		{"JSON value", [][]byte{scriptedStats, scriptedItems, scriptedSlabs,
			[]byte("key=u%3A1 exp=-1 la=1 cas=1 fetch=no cls=5 size=80\r\nEND\r\n"),
			[]byte("VALUE u:1 0 29\r\n{\"phone\":\"13800000000\",\"n\":1}\r\nEND\r\n")}, []string{"u:*", "n", "phone"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := serve(t, "127.0.20.9:0", script(tt.answers...))
			res, _, err := run(t, addr, time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			exp := res.Exposure
			if res.Status != ajar.StatusExposed || res.Version != "1.6.21" || exp.Records != 3 || exp.Bytes != 250 ||
				len(exp.Datasets) != 1 || exp.Datasets[0].Name != "slab 5" {
				t.Fatalf("result %+v, exposure %+v", res, exp)
			}
			if !slices.Equal(exp.Datasets[0].Fields, tt.fields) || len(exp.Samples) != tt.samples {
				t.Errorf("fields %q, %d samples; want %q, %d", exp.Datasets[0].Fields, len(exp.Samples), tt.fields, tt.samples)
			}
		})
	}
}

// TestOnlyTarget points the probe at a server whose keys and values name
// another address: the probe must dial the target alone.
func TestOnlyTarget(t *testing.T) {
	elsewhere, accepted := serve(t, "127.0.20.99:0", func(net.Conn) {})
	value := fmt.Sprintf(`{"server":%q}`, elsewhere)
	addr, _ := serve(t, "127.0.20.9:0", script(scriptedStats, scriptedItems, scriptedSlabs,
		[]byte("key=host%3A"+strings.ReplaceAll(elsewhere, ":", "%3A")+" exp=-1 la=1 cas=1 fetch=no cls=5 size=80\r\nEND\r\n"),
		fmt.Appendf(nil, "VALUE host:%s 0 %d\r\n%s\r\nEND\r\n", elsewhere, len(value), value)))
	res, d, err := run(t, addr, time.Second, true)
	if err != nil || res.Status != ajar.StatusExposed || len(res.Exposure.Samples) != 1 {
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

func TestProbeCancelled(t *testing.T) {
	lab.Require(t, lab.MemcachedOpen)
	at, _ := ajar.ParseAddrPort(lab.MemcachedOpen)
	tg := &probe.Target{Target: at, Dialer: &probe.TargetDialer{Target: at}, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("memcached")
	if res, err := p.Probe(ctx, tg); err == nil || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v; want an error", res, err)
	}
}
