package ldap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
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

// recorder is the engine's dialer with a network function that notes every
// address dialled and every message the probe writes.
type recorder struct {
	mu     sync.Mutex
	dialed []string
	sent   bytes.Buffer
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

// messages decodes what the probe sent.
func (r *recorder) messages(t *testing.T) []message {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	rd := bufio.NewReader(bytes.NewReader(r.sent.Bytes()))
	var out []message
	for {
		body, err := readMessage(rd, maxMessage)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("the probe sent something that is not LDAP: %v", err)
		}
		m, err := parseMessage(body)
		if err != nil {
			t.Fatalf("parse a sent message: %v", err)
		}
		out = append(out, m)
	}
}

func run(t *testing.T, addr string, timeout time.Duration) (*probe.Result, *recorder, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d := &probe.TargetDialer{Target: at, Timeout: 2 * time.Second, Net: rec.dial}
	tg := &probe.Target{Target: at, Service: ajar.Service{Transport: "tcp", Protocol: "ldap"}, Dialer: d, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("ldap")
	if !ok {
		t.Fatal(`no prober registered as "ldap"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, rec, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("ldap")
	if !ok {
		t.Fatal(`no prober registered as "ldap"`)
	}
	if !slices.Equal(p.Protocols(), []string{"ldap"}) || !slices.Equal(p.DefaultPorts(), []uint16{389, 636}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

func TestProbeOpen(t *testing.T) {
	lab.Require(t, lab.LDAPOpen)
	res, rec, err := run(t, lab.LDAPOpen, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || res.Exposure == nil {
		t.Fatalf("status %q detail %q, want exposed", res.Status, res.Detail)
	}
	if res.Product != "OpenLDAP" {
		t.Errorf("product %q", res.Product)
	}
	exp := res.Exposure
	people, groups := "ou=people,"+lab.LDAPBase, "ou=groups,"+lab.LDAPBase
	if len(exp.Datasets) != 2 {
		t.Fatalf("datasets %+v, want %s and %s", exp.Datasets, people, groups)
	}
	p, g := exp.Datasets[0], exp.Datasets[1]
	if p.Name != people || p.Records != lab.LDAPPeople || p.Estimated || g.Name != groups || g.Records != lab.LDAPGroups || g.Estimated {
		t.Errorf("datasets %+v", exp.Datasets)
	}
	for _, f := range []string{"uid", "cn", "mobile", "mail", "postalAddress", "description"} {
		if !slices.Contains(p.Fields, f) {
			t.Errorf("people fields %v lack %s", p.Fields, f)
		}
	}
	if !slices.Contains(g.Fields, "member") {
		t.Errorf("group fields %v", g.Fields)
	}
	if exp.Records != lab.LDAPPeople+lab.LDAPGroups {
		t.Errorf("records %d", exp.Records)
	}
	per := map[string]int{}
	for _, s := range exp.Samples {
		per[s.Dataset]++
		if s.Dataset == people && (s.Doc["mobile"] == "" || !strings.HasSuffix(s.Doc["mail"], "@corp.internal")) {
			t.Errorf("sample %+v", s)
		}
	}
	if per[people] != 5 || per[groups] != 3 {
		t.Errorf("samples per dataset %v", per)
	}
	if ev := exp.Evidence; ev == nil || !strings.Contains(ev.Response, "namingContexts: "+lab.LDAPBase) {
		t.Errorf("evidence %+v", ev)
	}

	// Read-only: a bind, searches and an unbind; the count was paged.
	ops := map[byte]int{}
	paged := 0
	for _, m := range rec.messages(t) {
		ops[m.Op]++
		if m.Op == opSearchRequest && len(m.Controls) > 0 {
			paged++
		}
	}
	if len(ops) != 3 || ops[opBindRequest] != 1 || ops[opUnbindRequest] != 1 || ops[opSearchRequest] < 3 {
		t.Errorf("operations sent %v", ops)
	}
	if want := lab.LDAPPeople/pageSize + 1; paged != want {
		t.Errorf("%d paged searches, want %d", paged, want)
	}
	for _, a := range rec.dialed {
		if a != lab.LDAPOpen {
			t.Errorf("dialled %s", a)
		}
	}
}

func TestProbeSecured(t *testing.T) {
	lab.Require(t, lab.LDAPSecured)
	res, rec, err := run(t, lab.LDAPSecured, 10*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusProtected || res.Exposure != nil {
		t.Fatalf("result %+v, want protected", res)
	}
	if res.Detail != "LDAP 48 inappropriateAuthentication: anonymous bind disallowed" {
		t.Errorf("detail %q", res.Detail)
	}
	if ms := rec.messages(t); len(ms) != 2 || ms[0].Op != opBindRequest || ms[1].Op != opUnbindRequest {
		t.Errorf("sent %+v", ms)
	}
}

func TestProbeCancelled(t *testing.T) {
	lab.Require(t, lab.LDAPOpen)
	at, _ := ajar.ParseAddrPort(lab.LDAPOpen)
	tg := &probe.Target{Target: at, Dialer: &probe.TargetDialer{Target: at}, Options: probe.DefaultOptions()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, _ := probe.Get("ldap")
	if res, err := p.Probe(ctx, tg); !errors.Is(err, context.Canceled) || res != nil && res.Status == ajar.StatusExposed {
		t.Fatalf("Probe with a cancelled context = %+v, %v; want context.Canceled", res, err)
	}
}

// Encoders of server answers for the scripted directory.

func attr(typ string, vals ...string) []byte {
	var set []byte
	for _, v := range vals {
		set = appendTLV(set, tagOctetString, []byte(v))
	}
	a := appendTLV(nil, tagOctetString, []byte(typ))
	a = appendTLV(a, tagSet, set)
	return appendTLV(nil, tagSequence, a)
}

func entryOp(dn string, attrs ...[]byte) []byte {
	content := appendTLV(nil, tagOctetString, []byte(dn))
	content = appendTLV(content, tagSequence, bytes.Join(attrs, nil))
	return appendTLV(nil, opSearchEntry, content)
}

func resultOp(op byte, code int64, diag string, referrals ...string) []byte {
	content := appendInt(nil, tagEnumerated, code)
	content = appendTLV(content, tagOctetString, nil)
	content = appendTLV(content, tagOctetString, []byte(diag))
	if len(referrals) > 0 {
		var urls []byte
		for _, r := range referrals {
			urls = appendTLV(urls, tagOctetString, []byte(r))
		}
		content = appendTLV(content, tagReferral, urls)
	}
	return appendTLV(nil, op, content)
}

// directory is a scripted LDAP server: it decodes each request and writes
// the operations the function returns, as messages with the request's ID.
type directory func(req message, base string) [][]byte

func (d directory) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.60:0")
	if err != nil {
		t.Fatal(err)
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
				rd := bufio.NewReader(c)
				for {
					body, err := readMessage(rd, maxMessage)
					if err != nil {
						return
					}
					m, err := parseMessage(body)
					if err != nil || m.Op == opUnbindRequest {
						return
					}
					base := ""
					if m.Op == opSearchRequest {
						if b, _, err := parseTLV(m.Body); err == nil {
							base = string(b.Body)
						}
					}
					for _, op := range d(m, base) {
						if _, err := c.Write(envelope(m.ID, op, nil)); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestReferralsNotFollowed: continuation references and referrals name
// another server; it gets no connection.
func TestReferralsNotFollowed(t *testing.T) {
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
	elsewhere := "ldap://" + ln.Addr().String() + "/"
	addr := directory(func(m message, base string) [][]byte {
		switch {
		case m.Op == opBindRequest:
			return [][]byte{resultOp(opBindResponse, 0, "")}
		case base == "":
			return [][]byte{entryOp("", attr("namingContexts", "dc=a", "dc=b")), resultOp(opSearchDone, 0, "")}
		case base == "dc=a":
			return [][]byte{resultOp(opSearchDone, codeReferral, "", elsewhere+"dc=a")}
		default:
			return [][]byte{
				entryOp(base, attr("dc", "b")),
				appendTLV(nil, opSearchReference, appendTLV(nil, tagOctetString, []byte(elsewhere+"ou=x,dc=b"))),
				entryOp("cn=one,"+base, attr("cn", "one")),
				resultOp(opSearchDone, 0, ""),
			}
		}
	}).serve(t)
	res, rec, err := run(t, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.Status != ajar.StatusExposed || len(res.Exposure.Datasets) != 1 || res.Exposure.Datasets[0].Name != "dc=b" || res.Exposure.Records != 1 {
		t.Fatalf("result %+v %+v", res, res.Exposure)
	}
	if !strings.Contains(res.Detail, "dc=a: referral to "+elsewhere) {
		t.Errorf("detail %q", res.Detail)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the referred server was dialled %d times", n)
	}
	for _, a := range rec.dialed {
		if a != addr {
			t.Errorf("dialled %s", a)
		}
	}
}

func TestScripted(t *testing.T) {
	bindOK := resultOp(opBindResponse, 0, "")
	root := entryOp("", attr("namingContexts", "dc=x"), attr("vendorName", "Example Directory"), attr("vendorVersion", "9.1"))
	tests := []struct {
		name    string
		dir     directory
		status  ajar.Status
		records int64
		cut     bool
		want    error
	}{
		{"search refused", func(m message, base string) [][]byte {
			if m.Op == opBindRequest {
				return [][]byte{bindOK}
			}
			if base == "" {
				return [][]byte{root, resultOp(opSearchDone, 0, "")}
			}
			return [][]byte{resultOp(opSearchDone, codeInsufficientAccess, "no anonymous access")}
		}, ajar.StatusProtected, 0, false, nil},
		{"root DSE refused", func(m message, base string) [][]byte {
			if m.Op == opBindRequest {
				return [][]byte{bindOK}
			}
			return [][]byte{resultOp(opSearchDone, codeConfidentialityRequired, "TLS required")}
		}, ajar.StatusProtected, 0, false, nil},
		{"no paging, size limit", func(m message, base string) [][]byte {
			if m.Op == opBindRequest {
				return [][]byte{bindOK}
			}
			if base == "" {
				return [][]byte{root, resultOp(opSearchDone, 0, "")}
			}
			return [][]byte{entryOp("dc=x"), entryOp("cn=a,dc=x", attr("cn", "a")), entryOp("cn=b,dc=x", attr("cn", "b")),
				resultOp(opSearchDone, codeSizeLimitExceeded, "")}
		}, ajar.StatusExposed, 2, true, nil},
		{"empty directory", func(m message, base string) [][]byte {
			if m.Op == opBindRequest {
				return [][]byte{bindOK}
			}
			if base == "" {
				return [][]byte{root, resultOp(opSearchDone, 0, "")}
			}
			return [][]byte{resultOp(opSearchDone, codeNoSuchObject, "")}
		}, ajar.StatusOpen, 0, false, nil},
		{"answer to another message", func(m message, base string) [][]byte {
			return [][]byte{resultOp(opSearchDone, 0, "")}
		}, ajar.StatusOpen, 0, false, ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := run(t, tt.dir.serve(t), 3*time.Second)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if res == nil || res.Status != tt.status {
				t.Fatalf("result %+v, want %s", res, tt.status)
			}
			if res.Exposure != nil {
				d := res.Exposure.Datasets
				if res.Exposure.Records != tt.records || len(d) != 1 || d[0].Estimated != tt.cut || res.Product != "Example Directory" || res.Version != "9.1" {
					t.Errorf("result %+v datasets %+v", res, d)
				}
			}
		})
	}
}

// TestNoticeOfDisconnection: an unsolicited notice (message ID 0) ends the
// probe with the server's reason.
func TestNoticeOfDisconnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.20.60:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(envelope(0, resultOp(opExtendedResp, 52, "server shutting down"), nil))
		io.Copy(io.Discard, c)
	}()
	res, _, err := run(t, ln.Addr().String(), 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "LDAP 52 unavailable: server shutting down") || res.Status != ajar.StatusOpen {
		t.Errorf("result %+v, error %v", res, err)
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
	ln, err := net.Listen("tcp", "127.0.20.60:0")
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
	bindOK := string(envelope(1, resultOp(opBindResponse, 0, ""), nil))
	tests := []struct {
		srv  hostile
		want error
	}{
		{hostile{name: "silent"}, context.DeadlineExceeded},
		{hostile{name: "garbage", prefix: "\x00\x01\x02 hello\r\n"}, ErrProtocol},
		{hostile{name: "HTTP server", prefix: "HTTP/1.1 400 Bad Request\r\n\r\n"}, ErrProtocol},
		{hostile{name: "absurd length", prefix: "\x30\x84\x7f\xff\xff\xff\x02\x01\x01"}, ErrLimit},
		{hostile{name: "indefinite length", prefix: "\x30\x80\x02\x01\x01"}, ErrProtocol},
		{hostile{name: "trickle", prefix: "\x30\x7f\x02\x01\x01", fill: []byte{0x04}, every: 50 * time.Millisecond}, context.DeadlineExceeded},
		{hostile{name: "endless entries", prefix: bindOK, fill: envelope(2, entryOp("", attr("namingContexts", strings.Repeat("x", 1000))), nil)}, ErrLimit},
		{hostile{name: "length beyond its message", prefix: "\x30\x05\x02\x01\x01\x61\x7f"}, ErrProtocol},
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
			if got := after.TotalAlloc - before.TotalAlloc; got > 2*maxMessage {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}
