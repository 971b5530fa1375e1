package mysql

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
)

// ErrNotMySQL is returned when the server's first packet is not a MySQL
// protocol greeting.
var ErrNotMySQL = errors.New("not a MySQL server")

// errSetup is returned when a packet of the connection phase would make
// the client library misbehave: the server is MySQL-looking but hostile or
// broken.
var errSetup = errors.New("malformed packet during connection set-up")

// maxSetupPacket bounds a packet of the connection phase. A greeting is
// about 100 bytes; an error message or an auth switch a few hundred.
const maxSetupPacket = 16 << 10

// phase is where a connection is in the client/server protocol.
type phase int

const (
	phaseGreeting phase = iota // waiting for the server's first packet
	phaseAuth                  // login exchange
	phaseCommand               // the client has sent a command: not inspected
)

// greeting is what the server's first packet said.
type greeting struct {
	// Version is the server version string (protocol 10 greeting).
	Version string
	// ErrCode and ErrMsg are set when the server answered with an error
	// packet instead of a greeting (host blocked, host not allowed).
	ErrCode uint16
	ErrMsg  string
}

// packetGuard follows the packets a server sends during the connection
// phase and rejects those the client library cannot parse safely: a hostile
// server then costs an error instead of a panic or a 16 MiB allocation.
// Once the client sends its first command (a packet with sequence number 0)
// the guard steps aside.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
type packetGuard struct {
	phase    phase
	pkt      []byte // current packet, header included
	greeting greeting
	seen     bool // a greeting or error packet was read
}

// feed inspects bytes read from the server, in order.
func (g *packetGuard) feed(b []byte) error {
	for len(b) > 0 && g.phase != phaseCommand {
		if len(g.pkt) < 4 {
			n := min(4-len(g.pkt), len(b))
			g.pkt = append(g.pkt, b[:n]...)
			b = b[n:]
			if len(g.pkt) < 4 {
				return nil
			}
			size := int(g.pkt[0]) | int(g.pkt[1])<<8 | int(g.pkt[2])<<16
			if g.phase == phaseGreeting && g.pkt[3] != 0 {
				return fmt.Errorf("%w: first packet has sequence number %d", ErrNotMySQL, g.pkt[3])
			}
			if size == 0 || size > maxSetupPacket {
				if g.phase == phaseGreeting {
					return fmt.Errorf("%w: first packet claims %d bytes", ErrNotMySQL, size)
				}
				return fmt.Errorf("%w: packet of %d bytes", errSetup, size)
			}
		}
		size := int(g.pkt[0]) | int(g.pkt[1])<<8 | int(g.pkt[2])<<16
		n := min(4+size-len(g.pkt), len(b))
		g.pkt = append(g.pkt, b[:n]...)
		b = b[n:]
		if len(g.pkt) < 4+size {
			return nil
		}
		payload := g.pkt[4:]
		var err error
		if g.phase == phaseGreeting {
			g.greeting, err = parseGreeting(payload)
			g.seen = err == nil
			g.phase = phaseAuth
		} else {
			err = checkAuthPacket(payload)
		}
		g.pkt = g.pkt[:0]
		if err != nil {
			return err
		}
	}
	return nil
}

// sent notes a packet written by the client: a command starts with
// sequence number 0, which ends the connection phase.
func (g *packetGuard) sent(p []byte) {
	if g.phase == phaseAuth && len(p) >= 4 && p[3] == 0 {
		g.phase = phaseCommand
	}
}

// parseGreeting parses the payload of a server's first packet: a protocol
// 10 handshake or an error packet.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
func parseGreeting(p []byte) (greeting, error) {
	if len(p) == 0 {
		return greeting{}, fmt.Errorf("%w: empty first packet", ErrNotMySQL)
	}
	switch p[0] {
	case 0xff:
		if err := checkErrPacket(p); err != nil {
			return greeting{}, fmt.Errorf("%w: %w", ErrNotMySQL, err)
		}
		return greeting{ErrCode: binary.LittleEndian.Uint16(p[1:3]), ErrMsg: errMessage(p)}, nil
	case 10:
	default:
		return greeting{}, fmt.Errorf("%w: protocol version %d", ErrNotMySQL, p[0])
	}
	end := bytes.IndexByte(p[1:], 0)
	if end < 1 || end > 255 {
		return greeting{}, fmt.Errorf("%w: no server version", ErrNotMySQL)
	}
	v := p[1 : 1+end]
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return greeting{}, fmt.Errorf("%w: server version is not text", ErrNotMySQL)
		}
	}
	// After the version: connection id (4), scramble part 1 (8), filler
	// (1), capabilities (2), then charset (1), status (2), capabilities
	// (2), scramble length (1), reserved (10) and scramble part 2 (13).
	// Servers since 4.1 send all of it; the client library reads it
	// without checking the length.
	if rest := len(p) - (1 + end + 1); rest < 15+29 {
		return greeting{}, fmt.Errorf("%w: greeting too short (%d bytes after the version)", ErrNotMySQL, rest)
	}
	return greeting{Version: string(v)}, nil
}

// checkAuthPacket checks a server packet of the login exchange.
func checkAuthPacket(p []byte) error {
	switch p[0] {
	case 0x00:
		return checkOKPacket(p)
	case 0xff:
		return checkErrPacket(p)
	case 0x01:
		// More authentication data. With an empty password only the one-byte
		// status of caching_sha2_password is legitimate; a longer payload is
		// a public key for a password exchange we never need.
		if len(p) > 2 {
			return fmt.Errorf("%w: server offers a public key", errSetup)
		}
	case 0xfe:
		// Auth switch request: plugin name, NUL, scramble.
		if len(p) == 1 {
			return nil
		}
		end := bytes.IndexByte(p, 0)
		if end < 0 {
			return nil // the client library rejects it
		}
		scramble := bytes.TrimSuffix(p[end+1:], []byte{0})
		if string(p[1:end]) == "mysql_native_password" && len(scramble) < 20 {
			return fmt.Errorf("%w: short scramble in auth switch", errSetup)
		}
	}
	return nil
}

// checkOKPacket checks that an OK packet holds its two length-encoded
// integers and the status flags.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html
func checkOKPacket(p []byte) error {
	pos := 1
	for range 2 {
		n, ok := lenencSize(p[pos:])
		if !ok {
			return fmt.Errorf("%w: truncated OK packet", errSetup)
		}
		pos += n
	}
	if len(p) < pos+2 {
		return fmt.Errorf("%w: truncated OK packet", errSetup)
	}
	return nil
}

// lenencSize is the size of the length-encoded integer at the start of b.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_dt_integers.html
func lenencSize(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 1
	switch b[0] {
	case 0xfc:
		n = 3
	case 0xfd:
		n = 4
	case 0xfe:
		n = 9
	case 0xff:
		return 0, false
	}
	return n, len(b) >= n
}

// checkErrPacket checks that an error packet holds its code and, when it
// announces one, its SQL state.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_err_packet.html
func checkErrPacket(p []byte) error {
	if len(p) < 4 || (p[3] == '#' && len(p) < 9) {
		return fmt.Errorf("%w: truncated error packet", errSetup)
	}
	return nil
}

// errMessage is the message of a checked error packet.
func errMessage(p []byte) string {
	if p[3] == '#' {
		return clip(string(p[9:]), maxText)
	}
	return clip(string(p[3:]), maxText)
}

// guardConn runs a packetGuard over what a connection reads.
type guardConn struct {
	net.Conn
	mu      sync.Mutex
	guard   packetGuard
	err     error // why the guard stopped the connection
	readErr error // the first error of the socket (the client library hides it)
}

func (c *guardConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && c.readErr == nil {
		c.readErr = err
	}
	if c.err != nil {
		return 0, c.err
	}
	if n > 0 {
		if gerr := c.guard.feed(p[:n]); gerr != nil {
			c.err = gerr
			return 0, gerr
		}
	}
	return n, err
}

func (c *guardConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.guard.sent(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// connState is what a guardConn learnt about its connection.
type connState struct {
	greeting greeting
	seen     bool  // greeting holds the server's first packet
	err      error // why the guard stopped the connection
	readErr  error // the first error reading the socket
}

func (c *guardConn) state() connState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return connState{greeting: c.guard.greeting, seen: c.guard.seen, err: c.err, readErr: c.readErr}
}

// clip bounds a string from the server and makes it valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
