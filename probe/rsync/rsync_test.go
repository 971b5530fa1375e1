package rsync

import (
	"bufio"
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

// recorder is the engine's dialer with a network function that notes every
// address dialled and everything the probe writes.
type recorder struct {
	mu     sync.Mutex
	dialed []string
	sent   strings.Builder
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
	c.r.mu.Lock()
	c.r.sent.Write(p)
	c.r.mu.Unlock()
	return c.Conn.Write(p)
}

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, *recorder, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second, Net: rec.dial}
	tg := &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "rsync"}, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("rsync")
	if !ok {
		t.Fatal(`no prober registered as "rsync"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, rec, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("rsync")
	if !ok {
		t.Fatal(`no prober registered as "rsync"`)
	}
	if !slices.Equal(p.Protocols(), []string{"rsync"}) || !slices.Equal(p.DefaultPorts(), []uint16{873}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.RsyncOpen)
	res, rec, err := run(t, lab.RsyncOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "rsync" || !strings.HasPrefix(res.Version, "protocol ") {
		t.Errorf("product %q version %q", res.Product, res.Version)
	}
	exp := res.Exposure
	var want []ajar.Dataset
	var locked []string
	for _, m := range lab.RsyncModules() {
		if m.Auth {
			locked = append(locked, m.Name)
			continue
		}
		d := ajar.Dataset{Name: m.Name}
		for _, f := range m.Files {
			d.Records++
			d.Bytes += int64(len(f.Data))
		}
		want = append(want, d)
	}
	if len(exp.Datasets) != len(want) {
		t.Fatalf("datasets %+v, want %+v", exp.Datasets, want)
	}
	var records, bytes int64
	for i, d := range exp.Datasets {
		if d.Name != want[i].Name || d.Records != want[i].Records || d.Bytes != want[i].Bytes || d.Estimated {
			t.Errorf("dataset %+v, want %+v", d, want[i])
		}
		records += want[i].Records
		bytes += want[i].Bytes
	}
	if exp.Records != records || exp.Bytes != bytes {
		t.Errorf("totals %d records %d bytes, want %d and %d", exp.Records, exp.Bytes, records, bytes)
	}
	if res.Detail != "password required for "+strings.Join(locked, ", ") {
		t.Errorf("detail %q, want the modules that want a password (%v)", res.Detail, locked)
	}
	samples := map[string][]string{}
	for _, s := range exp.Samples {
		samples[s.Dataset] = append(samples[s.Dataset], s.Doc["path"])
	}
	if !slices.Contains(samples["backup"], "db/police_person_info.sql") || len(samples["www"]) != 2 {
		t.Errorf("samples %v", samples)
	}
	ev := exp.Evidence
	if ev == nil || ev.Request != "#list" || !strings.Contains(ev.Response, "backup") || len(ev.Response) > evidenceMax {
		t.Errorf("evidence %+v", ev)
	}
	for _, a := range rec.dialed {
		if a != lab.RsyncOpen {
			t.Errorf("dialled %s", a)
		}
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.RsyncSecured)
	res, _, err := run(t, lab.RsyncSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil {
		t.Fatalf("result %+v, want protected", res)
	}
	var names []string
	for _, m := range lab.RsyncModules() {
		names = append(names, m.Name)
	}
	if res.Detail != "password required for "+strings.Join(names, ", ") {
		t.Errorf("detail %q", res.Detail)
	}
}

// TestProbeReadOnly checks what the probe sends to a real daemon: version
// lines, the list request, module names, the listing arguments and an
// empty filter list; never a password.
func TestProbeReadOnly(t *testing.T) {
	lab.Require(t, lab.RsyncOpen)
	_, rec, err := run(t, lab.RsyncOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	var want strings.Builder
	want.WriteString("@RSYNCD: 29.0\n#list\n")
	for _, m := range lab.RsyncModules() {
		want.WriteString("@RSYNCD: 29.0\n" + m.Name + "\n")
		if !m.Auth {
			want.WriteString("--server\n--sender\n-r\n.\n" + m.Name + "/\n\n\x00\x00\x00\x00")
		}
	}
	if got := rec.sent.String(); got != want.String() {
		t.Errorf("sent %q\nwant %q", got, want.String())
	}
}

func TestProbeCancelled(t *testing.T) {
	lab.Require(t, lab.RsyncOpen)
	at, _ := ajar.ParseAddrPort(lab.RsyncOpen)
	tg := &probe.Target{Target: at, Dialer: &probe.TargetDialer{Target: at}, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("rsync")
	if res, err := p.Probe(ctx, tg); !errors.Is(err, context.Canceled) || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v; want context.Canceled", res, err)
	}
}

// daemon is a scripted rsync daemon: each connection gets the greeting,
// then the answer the function gives to the first line it reads.
type daemon struct {
	greeting string
	answer   func(request string) string
}

func (d daemon) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.20:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
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
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(c, d.greeting); err != nil {
					return
				}
				rd := bufio.NewReader(c)
				if _, err := rd.ReadString('\n'); err != nil { // the client's version
					return
				}
				req, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				out := d.answer(strings.TrimRight(req, "\n"))
				if _, err := io.WriteString(c, out); err != nil {
					return
				}
				if !strings.Contains(out, "@RSYNCD: OK") {
					return
				}
				// Take the arguments and the filter list before closing,
				// so that the client's writes succeed.
				for {
					arg, err := rd.ReadString('\n')
					if err != nil || arg == "\n" {
						break
					}
				}
				var filter [4]byte
				io.ReadFull(rd, filter[:])
			}()
		}
	}()
	return ln.Addr().String()
}

// frame wraps data in one multiplexed frame of tag.
func frame(tag int, data string) string {
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(tag+mplexBase)<<24|uint32(len(data)))
	return string(h[:]) + data
}

// entry encodes one protocol-29 file list entry with a full name.
func entry(name string, size uint32, mode uint32) string {
	// Flags: none but XMIT_TOP_DIR, which only keeps the byte non-zero.
	b := []byte{xmitTopDir, byte(len(name))}
	b = append(b, name...)
	b = binary.LittleEndian.AppendUint32(b, size)
	b = binary.LittleEndian.AppendUint32(b, 1669368600) // time
	b = binary.LittleEndian.AppendUint32(b, mode)
	return string(b)
}

// TestNothingElseDialled: a daemon whose message of the day and module
// comments name another host gets only connections to itself.
func TestNothingElseDialled(t *testing.T) {
	third, err := net.Listen("tcp", "127.0.20.99:0")
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	var hits sync.WaitGroup
	hit := make(chan struct{}, 10)
	hits.Add(1)
	go func() {
		defer hits.Done()
		for {
			c, err := third.Accept()
			if err != nil {
				return
			}
			hit <- struct{}{}
			c.Close()
		}
	}()
	elsewhere := "rsync://" + third.Addr().String() + "/data/"
	d := daemon{greeting: "@RSYNCD: 31.0 sha512 md5\n", answer: func(req string) string {
		switch req {
		case "#list":
			return "Moved: see " + elsewhere + "\n" + "data           \tmirror of " + elsewhere + "\n@RSYNCD: EXIT\n"
		case "data":
			list := entry("persons.csv", 1234, modeReg|0o644) + "\x00"
			return "@RSYNCD: OK\n" + "SEED" + frame(msgData, list) + frame(msgData, "\x00\x00\x00\x00")
		}
		return "@ERROR: Unknown module\n"
	}}
	addr := d.serve(t)
	res, rec, err := run(t, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure.Records != 1 || res.Exposure.Bytes != 1234 {
		t.Fatalf("result %+v, want one file of 1234 bytes", res)
	}
	third.Close()
	hits.Wait()
	if len(hit) != 0 {
		t.Errorf("the other host was dialled %d times", len(hit))
	}
	for _, a := range rec.dialed {
		if a != addr {
			t.Errorf("dialled %s", a)
		}
	}
}

func TestScripted(t *testing.T) {
	list := "data           \t\nsecret         \tkeys\n@RSYNCD: EXIT\n"
	tests := []struct {
		name   string
		answer func(req string) string
		status ajar.Status
		detail string
		want   error
	}{
		{"auth failed and access denied", func(req string) string {
			switch req {
			case "#list":
				return list
			case "data":
				return "@ERROR: access denied to data from unknown (127.0.0.1)\n"
			}
			return "@ERROR: auth failed on module secret\n"
		}, ajar.StatusProtected, "refused: data (access denied to data from unknown (127.0.0.1)), secret (auth failed on module secret)", nil},
		{"list refused", func(string) string {
			return "@ERROR: access denied to the list from unknown (127.0.0.1)\n"
		}, ajar.StatusProtected, "@ERROR: access denied to the list from unknown (127.0.0.1)", nil},
		{"no modules", func(string) string { return "@RSYNCD: EXIT\n" }, ajar.StatusOpen, "the daemon lists no module", nil},
		{"motd before OK, error message in the stream", func(req string) string {
			if req == "#list" {
				return "Welcome\n" + list
			}
			if req == "secret" {
				return "@RSYNCD: AUTHREQD challenge\n"
			}
			return "Welcome\n@RSYNCD: OK\nSEED" + frame(3, "rsync: [sender] change_dir \"/\" (in data) failed: Permission denied (13)\n")
		}, ajar.StatusOpen, "password required for secret", io.ErrUnexpectedEOF},
		{"absurd name length", func(req string) string {
			if req == "#list" {
				return list
			}
			return "@RSYNCD: OK\nSEED" + frame(msgData, "\x40\xff\xff\xff\x7f")
		}, ajar.StatusOpen, "", ErrProtocol},
		{"absurd frame", func(req string) string {
			if req == "#list" {
				return list
			}
			return "@RSYNCD: OK\nSEED\xff\xff\xff\x07" + strings.Repeat("A", 64)
		}, ajar.StatusOpen, "", ErrProtocol},
		{"not multiplexed", func(req string) string {
			if req == "#list" {
				return list
			}
			return "@RSYNCD: OK\nSEED\x01\x02\x03\x04"
		}, ajar.StatusOpen, "", ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := daemon{greeting: "@RSYNCD: 30.0\n", answer: tt.answer}.serve(t)
			res, _, err := run(t, addr, 3*time.Second)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != tt.status {
				t.Fatalf("result %+v, want %s", res, tt.status)
			}
			if tt.detail != "" && res.Detail != tt.detail {
				t.Errorf("detail %q, want %q", res.Detail, tt.detail)
			}
		})
	}
}

// TestEndlessFileList: a file list that never ends is read up to the
// byte cap; the module is kept, marked estimated.
func TestEndlessFileList(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.20.20:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() { ln.Close(); wg.Wait() }()
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
				io.WriteString(c, "@RSYNCD: 29.0\n")
				rd := bufio.NewReader(c)
				rd.ReadString('\n')
				req, _ := rd.ReadString('\n')
				if req == "#list\n" {
					io.WriteString(c, "big\t\n@RSYNCD: EXIT\n")
					return
				}
				io.WriteString(c, "@RSYNCD: OK\nSEED")
				// Directories only: the file cap never ends the list.
				chunk := strings.Repeat(entry("dir", 4096, modeDir|0o755), 200)
				f := frame(msgData, chunk)
				for {
					if _, err := io.WriteString(c, f); err != nil {
						return
					}
				}
			}()
		}
	}()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, _, err := run(t, ln.Addr().String(), 5*time.Second)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || !res.Exposure.Datasets[0].Estimated {
		t.Fatalf("result %+v %+v, want exposed and estimated", res, res.Exposure)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*maxListBytes {
		t.Errorf("allocated %d bytes", got)
	}
}

// hostile serves one connection: it writes prefix, then fill forever (or,
// when every is set, one fill byte each time it ticks), or nothing at all.
type hostile struct {
	name   string
	prefix string
	fill   []byte
	every  time.Duration
}

func (h hostile) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.20:0")
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
		go io.Copy(io.Discard, c)
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop); c.Close() })
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
	return ln.Addr().String()
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	tests := []struct {
		srv  hostile
		want error
	}{
		{hostile{name: "silent"}, context.DeadlineExceeded},
		{hostile{name: "endless line", prefix: "@RSYNCD: ", fill: bytes.Repeat([]byte("9"), 4096)}, ErrLimit},
		{hostile{name: "endless module list", prefix: "@RSYNCD: 31.0\n", fill: []byte("mod\tcomment\n")}, ErrLimit},
		{hostile{name: "trickle", prefix: "@RSYNCD: 31.0\nmod", fill: []byte("d"), every: 50 * time.Millisecond}, context.DeadlineExceeded},
		{hostile{name: "garbage", prefix: "\x00\x01\x02 hello\n"}, ErrProtocol},
		{hostile{name: "absurd version", prefix: "@RSYNCD: 99999999999999999999.0\n"}, ErrProtocol},
		{hostile{name: "HTTP server", prefix: "HTTP/1.1 400 Bad Request\r\n\r\n"}, ErrProtocol},
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
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != ajar.StatusOpen || res.Exposure != nil {
				t.Errorf("result %+v, want open", res)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}

func TestParseGreeting(t *testing.T) {
	tests := []struct {
		line  string
		proto int
		ok    bool
	}{
		{"@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4", 31, true},
		{"@RSYNCD: 29", 29, true},
		{"@RSYNCD: x.0", 0, false},
		{"RSYNCD: 31.0", 0, false},
		{"@RSYNCD: 0.0", 0, false},
	}
	for _, tt := range tests {
		g, err := parseGreeting(tt.line)
		if (err == nil) != tt.ok || g.Protocol != tt.proto {
			t.Errorf("parseGreeting(%q) = %+v, %v", tt.line, g, err)
		}
	}
}

func TestParseModuleLine(t *testing.T) {
	tests := []struct {
		line string
		want module
		ok   bool
	}{
		{"backup         \tnightly database dumps", module{"backup", "nightly database dumps"}, true},
		{"secret         \t", module{"secret", ""}, true},
		{"a very long module name\tx", module{"a very long module name", "x"}, true},
		{"Welcome to the mirror", module{}, false},
		{"@RSYNCD: EXIT", module{}, false},
		{"../etc\t", module{}, false},
		{"\tno name", module{}, false},
	}
	for _, tt := range tests {
		m, ok := parseModuleLine(tt.line)
		if ok != tt.ok || m != tt.want {
			t.Errorf("parseModuleLine(%q) = %+v, %v", tt.line, m, ok)
		}
	}
}

func TestFileList(t *testing.T) {
	// What the lab daemon sent for a module holding ".", "sub" and
	// "a.txt" (protocol 29), then an entry that shares "a" with the name
	// before it and keeps its time and mode, with a 64-bit size.
	data := "\x19\x01.\x00\x10\x00\x00\x98\xe9\x06k\xedA\x00\x00" +
		"\x9a\x03sub\x00\x10\x00\x00" +
		"\x10\x05a.txt\x06\x00\x00\x00\x00\x00\x00\x00\xa4\x81\x00\x00" +
		"\xba\x01\x04b.gz\xff\xff\xff\xff\x00\x00\x00\x00\x01\x00\x00\x00" +
		"\x00"
	fl := &flistReader{r: strings.NewReader(data), protocol: 29}
	var got []fileEntry
	for {
		e, err := fl.next()
		if errors.Is(err, errEnd) {
			break
		}
		if err != nil {
			t.Fatalf("next after %+v: %v", got, err)
		}
		got = append(got, e)
	}
	want := []fileEntry{
		{".", 4096, modeDir | 0o755},
		{"sub", 4096, modeDir | 0o755},
		{"a.txt", 6, modeReg | 0o644},
		{"ab.gz", 1 << 32, modeReg | 0o644},
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries %+v\nwant %+v", got, want)
	}
}

func TestMuxReader(t *testing.T) {
	stream := frame(msgData, "ab") + frame(2, "info message") + frame(msgData, "cd") + frame(42, "")
	m := &muxReader{r: strings.NewReader(stream), budget: 1 << 20}
	b, err := io.ReadAll(m)
	if err != nil || string(b) != "abcd" || m.message != "info message" {
		t.Errorf("read %q, %v, message %q", b, err, m.message)
	}
	m = &muxReader{r: strings.NewReader(frame(msgData, strings.Repeat("x", 100))), budget: 10}
	if _, err := io.ReadAll(m); !errors.Is(err, ErrLimit) {
		t.Errorf("over budget: %v, want ErrLimit", err)
	}
}
