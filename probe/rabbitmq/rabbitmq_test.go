package rabbitmq

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

// tapDialer counts connections and keeps what the probe sends; by address
// it dials the target only.
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
	if network != "tcp" || addr != d.Target.String() {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, probe.ErrNotTarget)
	}
	return d.Dial(ctx)
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

// run probes addr as identification would hand it over: protocol "amqp",
// or "rabbitmq-management" over HTTP.
func run(t *testing.T, addr, protocol string, creds bool, timeout time.Duration) (*probe.Result, *tapDialer, error) {
	t.Helper()
	at, err := ajar.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &tapDialer{TargetDialer: probe.TargetDialer{Target: at, Timeout: 2 * time.Second}}
	opts := probe.DefaultOptions()
	opts.DefaultCreds = creds
	tg := &probe.Target{Target: at, Dialer: d, Options: opts, Service: ajar.Service{Transport: "tcp", Protocol: protocol}}
	if protocol == "rabbitmq-management" {
		tg.Service.HTTP = &ajar.HTTP{Status: 200, Title: "RabbitMQ Management"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, ok := probe.Get("rabbitmq")
	if !ok {
		t.Fatal(`no prober registered as "rabbitmq"`)
	}
	res, err := p.Probe(ctx, tg)
	return res, d, err
}

func TestRegistration(t *testing.T) {
	p, ok := probe.Get("rabbitmq")
	if !ok {
		t.Fatal(`no prober registered as "rabbitmq"`)
	}
	if !slices.Equal(p.Protocols(), []string{"amqp", "rabbitmq-management"}) || !slices.Equal(p.DefaultPorts(), []uint16{5672, 15672}) {
		t.Fatalf("protocols %v, ports %v", p.Protocols(), p.DefaultPorts())
	}
}

var version = regexp.MustCompile(`^3\.\d+\.\d+$`)

func TestAMQP(t *testing.T) {
	lab.Require(t, lab.RabbitMQOpen, lab.RabbitMQSecured)
	tests := []struct {
		name   string
		addr   string
		creds  bool
		status ajar.Status
		detail string
	}{
		{"open without default credentials", lab.RabbitMQOpen, false, ajar.StatusOpen, "--default-creds"},
		{"open with default credentials", lab.RabbitMQOpen, true, ajar.StatusExposed, "guest/guest is accepted"},
		{"secured without default credentials", lab.RabbitMQSecured, false, ajar.StatusOpen, "--default-creds"},
		{"secured with default credentials", lab.RabbitMQSecured, true, ajar.StatusProtected, "403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, d, err := run(t, tt.addr, "amqp", tt.creds, 10*time.Second)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.Status != tt.status || !strings.Contains(res.Detail, tt.detail) {
				t.Fatalf("status %q detail %q, want %q and %q", res.Status, res.Detail, tt.status, tt.detail)
			}
			if res.Product != "RabbitMQ" || !version.MatchString(res.Version) {
				t.Errorf("product %q version %q", res.Product, res.Version)
			}
			sent := d.sent.Bytes()
			if !tt.creds {
				// Not a byte beyond the protocol header: no password tried.
				if !bytes.Equal(sent, protocolHeader) {
					t.Errorf("sent % x, want the protocol header alone", sent)
				}
				return
			}
			login := append(slices.Clone(protocolHeader), startOk(defaultUser, defaultPassword)...)
			if !bytes.HasPrefix(sent, login) || (len(sent) != len(login) && !bytes.Equal(sent[len(login):], connectionClose())) {
				t.Errorf("sent % x, want the header, one guest/guest login and at most a Close", sent)
			}
			if tt.status == ajar.StatusExposed {
				exp := res.Exposure
				if exp == nil || exp.Access != ajar.AccessDefaultCreds || exp.Plugin != "rabbitmq" || exp.Datasets != nil {
					t.Errorf("exposure %+v, want default-credentials with datasets unknown", exp)
				}
			}
		})
	}
}

func TestManagement(t *testing.T) {
	lab.Require(t, lab.RabbitMQOpenMgmt, lab.RabbitMQSecuredMgmt)
	t.Run("open with default credentials", func(t *testing.T) {
		res, d, err := run(t, lab.RabbitMQOpenMgmt, "rabbitmq-management", true, 10*time.Second)
		if err != nil {
			t.Fatalf("Probe: %v", err)
		}
		if res.Status != ajar.StatusExposed || res.Exposure == nil || res.Product != "RabbitMQ" || !version.MatchString(res.Version) {
			t.Fatalf("result %+v, want exposed RabbitMQ 3.x", res)
		}
		exp := res.Exposure
		if exp.Access != ajar.AccessDefaultCreds || exp.Plugin != "rabbitmq" {
			t.Errorf("access %q plugin %q", exp.Access, exp.Plugin)
		}
		want := map[string]ajar.Dataset{}
		var records, size int64
		for _, q := range lab.RabbitMQQueues() {
			name := q.VHost + "/" + q.Name
			if q.VHost == "/" {
				name = "/" + q.Name
			}
			want[name] = ajar.Dataset{Name: name, Records: int64(len(q.Messages)), Bytes: lab.QueueBytes(q)}
			records += int64(len(q.Messages))
			size += lab.QueueBytes(q)
		}
		if len(exp.Datasets) != len(want) {
			t.Errorf("datasets %+v, want %d", exp.Datasets, len(want))
		}
		for _, ds := range exp.Datasets {
			if w := want[ds.Name]; ds.Records != w.Records || ds.Bytes != w.Bytes || ds.Name != w.Name {
				t.Errorf("dataset %+v, want %+v", ds, w)
			}
		}
		if exp.Records != records || exp.Bytes != size || exp.Records != lab.RabbitMQSMS+lab.RabbitMQCustomers {
			t.Errorf("totals %d records %d bytes, want %d and %d", exp.Records, exp.Bytes, records, size)
		}
		if ev := exp.Evidence; ev == nil || !strings.Contains(ev.Response, "2 vhosts, 3 queues") || len(ev.Response) > evidenceMax {
			t.Errorf("evidence %+v", ev)
		}
		// GET requests only.
		for _, line := range strings.Split(d.sent.String(), "\r\n") {
			if m := regexp.MustCompile(`^([A-Z]+) (\S+) HTTP/1\.1$`).FindStringSubmatch(line); m != nil && m[1] != "GET" {
				t.Errorf("sent %q", line)
			}
		}
	})
	t.Run("open without default credentials", func(t *testing.T) {
		res, d, err := run(t, lab.RabbitMQOpenMgmt, "rabbitmq-management", false, 10*time.Second)
		if err != nil || res.Status != ajar.StatusOpen || !strings.Contains(res.Detail, "--default-creds") || d.dials != 0 {
			t.Fatalf("Probe = %+v, %v with %d connections; want open, no connection", res, err, d.dials)
		}
	})
	t.Run("secured with default credentials", func(t *testing.T) {
		res, _, err := run(t, lab.RabbitMQSecuredMgmt, "rabbitmq-management", true, 10*time.Second)
		if err != nil || res.Status != ajar.StatusProtected || res.Exposure != nil || !strings.Contains(res.Detail, "401") {
			t.Fatalf("Probe = %+v, %v; want protected (401)", res, err)
		}
	})
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
	ln, err := net.Listen("tcp", "127.0.20.10:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+elsewhere.Addr().String()+r.URL.Path, http.StatusFound)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	res, d, err := run(t, ln.Addr().String(), "rabbitmq-management", true, 3*time.Second)
	if !errors.Is(err, httpc.ErrRedirect) || res == nil || res.Status != ajar.StatusOpen {
		t.Errorf("Probe = %+v, %v; want open and a refused redirect", res, err)
	}
	if n := dialled.Load(); n != 0 || d.dials != 1 {
		t.Fatalf("%d connections elsewhere, %d to the target; want 0 and 1", n, d.dials)
	}
}

// scripted serves one connection: it writes answer after the protocol
// header, then fill forever (or stays silent).
type scripted struct {
	name   string
	answer []byte
	fill   []byte
	// closeAfter closes the connection once the probe wrote twice.
	closeAfter bool
}

func (s scripted) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.20.10:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done, stop := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		go func() { <-stop; c.Close() }()
		if s.closeAfter {
			// The header, then the login: answer the first, hang up on the second.
			buf := make([]byte, 4096)
			if _, err := io.ReadFull(c, buf[:len(protocolHeader)]); err != nil {
				return
			}
			_, _ = c.Write(s.answer)
			_, _ = c.Read(buf)
			return
		}
		go func() { _, _ = io.Copy(io.Discard, c) }()
		if _, err := c.Write(s.answer); err != nil {
			return
		}
		for s.fill != nil {
			if _, err := c.Write(s.fill); err != nil {
				return
			}
		}
		<-stop
	}()
	return ln.Addr().String()
}

// startFrame is a Connection.Start with the given server properties table.
func startFrame(props []byte) []byte {
	args := []byte{0, classConnection, 0, methodStart, 0, 9}
	args = append(args, byte(len(props)>>24), byte(len(props)>>16), byte(len(props)>>8), byte(len(props)))
	args = append(args, props...)
	args = appendLongString(args, "PLAIN AMQPLAIN")
	args = appendLongString(args, "en_US")
	return methodFrame(args)
}

func TestHostileServers(t *testing.T) {
	const deadline = time.Second
	product := append(appendShortString(nil, "product"), 'S')
	product = appendLongString(product, "RabbitMQ")
	tests := []struct {
		srv    scripted
		creds  bool
		status ajar.Status
		want   error
	}{
		{scripted{name: "silent"}, false, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "HTTP", answer: []byte("HTTP/1.1 400 Bad Request\r\n\r\n")}, false, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "absurd frame", answer: []byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff}}, false, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "endless frame", answer: []byte{1, 0, 0, 0, 0, 0xff, 0}, fill: bytes.Repeat([]byte{0}, 4096)}, false, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "table longer than frame", answer: startFrame(nil)[:11]}, false, ajar.StatusOpen, context.DeadlineExceeded},
		{scripted{name: "bad field type", answer: startFrame(append(appendShortString(nil, "x"), '?'))}, false, ajar.StatusOpen, ErrProtocol},
		{scripted{name: "AMQP 1.0", answer: []byte("AMQP\x00\x01\x00\x00")}, false, ajar.StatusOpen, nil},
		{scripted{name: "silent after login", answer: startFrame(product)}, true, ajar.StatusOpen, context.DeadlineExceeded},
		// A server without authentication_failure_close hangs up on a failed login.
		{scripted{name: "closed after login", answer: startFrame(product), closeAfter: true}, true, ajar.StatusProtected, nil},
	}
	for _, tt := range tests {
		t.Run(tt.srv.name, func(t *testing.T) {
			addr := tt.srv.serve(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			res, _, err := run(t, addr, "amqp", tt.creds, deadline)
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
			if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
				t.Errorf("allocated %d bytes", got)
			}
		})
	}
}
