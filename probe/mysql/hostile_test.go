package mysql

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

// hostileAddr is where the tests' own misbehaving servers listen.
const hostileAddr = "127.0.20.9:0"

// serve runs handle on every connection to a new loopback listener. stop
// closes the listener and the connections and waits for the handlers.
func serve(t *testing.T, handle func(net.Conn)) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", hostileAddr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
		once  sync.Once
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
	stop = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// packet frames a payload: 3-byte length, sequence number.
func packet(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// handshake is a protocol 10 greeting offering mysql_native_password.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
func handshake(version string) []byte {
	p := []byte{10}
	p = append(p, version...)
	p = append(p, 0)
	p = append(p, 7, 0, 0, 0)                 // connection id
	p = append(p, "abcdefgh"...)              // scramble, part 1
	p = append(p, 0)                          // filler
	p = append(p, 0x01, 0x82)                 // long password, protocol 4.1, secure connection
	p = append(p, 0x21, 0x02, 0x00)           // charset, status
	p = append(p, 0x08, 0x00)                 // plugin auth
	p = append(p, 21)                         // scramble length
	p = append(p, make([]byte, 10)...)        // reserved
	p = append(p, "ijklmnopqrst\x00"...)      // scramble, part 2
	p = append(p, "mysql_native_password"...) // auth plugin
	return append(p, 0)
}

// errPacket is an error packet with an SQL state.
func errPacket(code uint16, state, msg string) []byte {
	p := []byte{0xff, 0, 0}
	binary.LittleEndian.PutUint16(p[1:], code)
	return append(append(append(p, '#'), state...), msg...)
}

// okPacket is an OK packet: no rows, no insert id, autocommit.
var okPacket = []byte{0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}

// readPacket reads one client packet.
func readPacket(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	p := make([]byte, int(h[0])|int(h[1])<<8|int(h[2])<<16)
	_, err := io.ReadFull(r, p)
	return p, err
}

// hold keeps a connection open until the client or the test closes it.
func hold(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// login sends a greeting and reads the client's answer.
func login(c net.Conn) bool {
	if _, err := c.Write(packet(0, handshake("8.0.36"))); err != nil {
		return false
	}
	_, err := readPacket(c)
	return err == nil
}

func TestHostileServers(t *testing.T) {
	const deadline = 2 * time.Second
	tests := []struct {
		name   string
		handle func(net.Conn)
		status ajar.Status
		errIs  error  // nil: no error expected unless errHas is set
		errHas string // a part of the error message
		detail string // a part of the detail
		fast   bool   // must end well before the deadline
	}{{
		name: "absurd packet length then garbage",
		handle: func(c net.Conn) {
			_, _ = c.Write(append([]byte{0xff, 0xff, 0xff, 0x00, 10}, strings.Repeat("\xde\xad\xbe\xef", 4096)...))
			hold(c)
		},
		status: ajar.StatusOpen, errIs: ErrNotMySQL, fast: true,
	}, {
		name:   "accepts and never answers",
		handle: hold,
		status: ajar.StatusOpen, errHas: "login root",
	}, {
		name: "HTTP server",
		handle: func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			hold(c)
		},
		status: ajar.StatusOpen, errIs: ErrNotMySQL, fast: true,
	}, {
		name: "SSH server",
		handle: func(c net.Conn) {
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"))
			hold(c)
		},
		status: ajar.StatusOpen, errIs: ErrNotMySQL, fast: true,
	}, {
		name: "truncated greeting",
		handle: func(c net.Conn) {
			_, _ = c.Write(packet(0, []byte("\x0a8.0.36\x00\x07\x00\x00\x00abcdefgh")))
			hold(c)
		},
		status: ajar.StatusOpen, errIs: ErrNotMySQL, fast: true,
	}, {
		name: "truncated error packet after login",
		handle: func(c net.Conn) {
			if login(c) {
				_, _ = c.Write(packet(2, []byte{0xff, 0x15}))
				hold(c)
			}
		},
		status: ajar.StatusOpen, errIs: errSetup, fast: true,
	}, {
		name: "public key offered for an empty password",
		handle: func(c net.Conn) {
			if login(c) {
				_, _ = c.Write(packet(2, []byte("\x01-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n")))
				hold(c)
			}
		},
		status: ajar.StatusOpen, errIs: errSetup, fast: true,
	}, {
		name: "malformed answer to the first query",
		handle: func(c net.Conn) {
			if !login(c) {
				return
			}
			_, _ = c.Write(packet(2, okPacket))
			if _, err := readPacket(c); err == nil {
				// An OK packet cut inside its first length-encoded integer.
				_, _ = c.Write(packet(1, []byte{0x00, 0xfc}))
			}
			hold(c)
		},
		status: ajar.StatusOpen, errHas: "client library failed", fast: true,
	}, {
		name: "accepts the login then never answers",
		handle: func(c net.Conn) {
			if login(c) {
				_, _ = c.Write(packet(2, okPacket))
				hold(c)
			}
		},
		// An empty root password was accepted: that alone is the finding.
		status: ajar.StatusExposed, errHas: "read version",
	}, {
		name: "access denied",
		handle: func(c net.Conn) {
			if login(c) {
				_, _ = c.Write(packet(2, errPacket(1045, "28000", "Access denied for user (using password: NO)")))
			}
		},
		status: ajar.StatusProtected, detail: "anonymous user: Access denied", fast: true,
	}, {
		name: "host not allowed",
		handle: func(c net.Conn) {
			msg := "Host '127.0.0.1' is not allowed to connect to this MariaDB server"
			_, _ = c.Write(packet(0, append([]byte{0xff, 0x6a, 0x04}, msg...)))
		},
		status: ajar.StatusProtected, detail: "root: Host '127.0.0.1' is not allowed", fast: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			addr, stop := serve(t, tc.handle)
			defer stop()
			res, took, err := probeAddr(t, addr, probe.DefaultOptions(), deadline)
			if res == nil || res.Status != tc.status {
				t.Fatalf("result %+v (error %v), want status %q", res, err, tc.status)
			}
			switch {
			case tc.errIs != nil && !errors.Is(err, tc.errIs):
				t.Errorf("error %v, want %v", err, tc.errIs)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("error %v, want one saying %q", err, tc.errHas)
			case tc.errIs == nil && tc.errHas == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			}
			if !strings.Contains(res.Detail, tc.detail) {
				t.Errorf("detail %q, want %q in it", res.Detail, tc.detail)
			}
			limit := deadline + time.Second
			if tc.fast {
				limit = deadline / 2
			}
			if took > limit {
				t.Errorf("took %v, want at most %v", took, limit)
			}
			t.Logf("%s in %v: %v", res.Status, took.Round(time.Millisecond), err)
		})
	}
}
