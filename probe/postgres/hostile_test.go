package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

// hostileAddr is where the tests' own misbehaving servers listen.
const hostileAddr = "127.0.20.9:0"

// serve runs handle on every connection to a new loopback listener and
// returns its address. Cleanup closes the listener and the connections and
// waits for the handlers.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", hostileAddr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
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
	return ln.Addr().String()
}

// startup is a StartupMessage as a server reads it.
type startup struct {
	Version uint32
	Params  map[string]string
}

// readStartup reads the first message of a client.
// See https://www.postgresql.org/docs/current/protocol-message-formats.html.
func readStartup(r io.Reader) (startup, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return startup{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 8 || n > 10000 {
		return startup{}, fmt.Errorf("startup length %d", n)
	}
	s := startup{Version: binary.BigEndian.Uint32(hdr[4:]), Params: map[string]string{}}
	body := make([]byte, n-8)
	if _, err := io.ReadFull(r, body); err != nil {
		return s, err
	}
	fields := strings.Split(strings.TrimSuffix(string(body), "\x00\x00"), "\x00")
	if len(fields)%2 != 0 {
		return s, fmt.Errorf("odd parameter list %q", body)
	}
	for i := 0; i < len(fields); i += 2 {
		s.Params[fields[i]] = fields[i+1]
	}
	return s, nil
}

// authRequest is an Authentication message of the given type and data.
func authRequest(typ uint32, data ...byte) []byte {
	msg := binary.BigEndian.AppendUint32([]byte{'R'}, uint32(8+len(data)))
	return append(binary.BigEndian.AppendUint32(msg, typ), data...)
}

// probeHostile probes addr with a deadline and reports how long it took.
func probeHostile(t *testing.T, addr string, deadline time.Duration) (*probe.Result, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	res, err := (&Prober{}).Probe(ctx, target(t, addr, probe.DefaultOptions()))
	return res, time.Since(start), err
}

func TestHostileServers(t *testing.T) {
	const deadline, margin = time.Second, time.Second
	for _, c := range []struct {
		name   string
		handle func(net.Conn)
		check  func(*testing.T, error)
	}{
		{
			name:   "never answers",
			handle: func(c net.Conn) { io.Copy(io.Discard, c) },
		},
		{
			name: "answers garbage",
			handle: func(c net.Conn) {
				readStartup(c)
				c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
				io.Copy(io.Discard, c)
			},
		},
		{
			name: "closes at once",
			handle: func(c net.Conn) {
				readStartup(c)
			},
		},
		{
			name: "authentication message of absurd length",
			handle: func(c net.Conn) {
				readStartup(c)
				msg := authRequest(0)
				binary.BigEndian.PutUint32(msg[1:5], 0x7ffffff0)
				c.Write(msg)
				// Keep sending, as if the body were coming.
				chunk := bytes.Repeat([]byte{'A'}, 1<<16)
				for {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			},
			check: func(t *testing.T, err error) {
				var tooLong *pgproto3.ExceededMaxBodyLenErr
				if !errors.As(err, &tooLong) {
					t.Errorf("error %v, want the message length refused", err)
				}
			},
		},
		{
			name: "lets in, then never answers a query",
			handle: func(c net.Conn) {
				readStartup(c)
				c.Write(authRequest(0))
				c.Write([]byte{'Z', 0, 0, 0, 5, 'I'})
				io.Copy(io.Discard, c)
			},
		},
		{
			name: "authenticates with ReadyForQuery before AuthenticationOk",
			handle: func(c net.Conn) {
				readStartup(c)
				c.Write([]byte{'Z', 0, 0, 0, 5, 'I'})
				io.Copy(io.Discard, c)
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := serve(t, c.handle)
			res, took, err := probeHostile(t, addr, deadline)
			if err == nil {
				t.Fatalf("no error; result %+v", res)
			}
			if took > deadline+margin {
				t.Errorf("took %v, deadline %v", took, deadline)
			}
			if res == nil || res.Status != ajar.StatusOpen || res.Exposure != nil {
				t.Errorf("result %+v, want open without exposure", res)
			}
			// The engine prefixes "probe postgresql IP:PORT"; the probe says
			// which step failed.
			if !strings.Contains(err.Error(), ": ") {
				t.Errorf("error %q does not say which step failed", err)
			}
			if c.check != nil {
				c.check(t, err)
			}
		})
	}
}

// TestServerRefusals checks the verdicts on refusals the lab's secured
// server does not give (it asks for SCRAM): an ErrorResponse at login, and
// the older password requests, which must never be answered.
func TestServerRefusals(t *testing.T) {
	errorResponse := func(code, msg string) []byte {
		body := []byte("SFATAL\x00VFATAL\x00C" + code + "\x00M" + msg + "\x00\x00")
		return append(binary.BigEndian.AppendUint32([]byte{'E'}, uint32(len(body)+4)), body...)
	}
	for _, c := range []struct {
		name   string
		answer []byte
		status ajar.Status
		detail string
	}{
		{"pg_hba rejects", errorResponse("28000", `no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "postgres", no encryption`),
			ajar.StatusProtected, "no pg_hba.conf entry"},
		{"password fails", errorResponse("28P01", `password authentication failed for user "postgres"`),
			ajar.StatusProtected, "password authentication failed"},
		{"too many clients", errorResponse("53300", "sorry, too many clients already"),
			ajar.StatusOpen, "too many clients"},
		{"cleartext password", authRequest(3), ajar.StatusProtected, "password authentication"},
		{"md5 password", authRequest(5, 1, 2, 3, 4), ajar.StatusProtected, "md5 authentication"},
		{"kerberos", authRequest(7), ajar.StatusProtected, "gss authentication"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sent := make(chan []byte, 1)
			addr := serve(t, func(conn net.Conn) {
				if _, err := readStartup(conn); err != nil {
					return
				}
				conn.Write(c.answer)
				conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				rest, _ := io.ReadAll(io.LimitReader(conn, 1<<16))
				sent <- rest
			})
			res, _, err := probeHostile(t, addr, 5*time.Second)
			if res == nil || res.Status != c.status || !strings.Contains(res.Detail, c.detail) {
				t.Fatalf("result %+v (error %v), want %s with %q", res, err, c.status, c.detail)
			}
			if res.Product != "PostgreSQL" {
				t.Errorf("product %q", res.Product)
			}
			if (err != nil) != (c.status == ajar.StatusOpen) {
				t.Errorf("error %v with status %s", err, c.status)
			}
			if rest := <-sent; len(rest) > 0 && !bytes.Equal(rest, []byte{'X', 0, 0, 0, 4}) {
				t.Errorf("after the answer the client sent %q, want nothing but Terminate", rest)
			}
		})
	}
}
