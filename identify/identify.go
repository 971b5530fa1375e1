// Package identify tells which protocol answers on an open port, whatever
// its number: it reads a banner first, then sends protocol hellos.
package identify

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
)

// Options tune identification.
type Options struct {
	// BannerWait is how long to wait for a server that speaks first.
	BannerWait time.Duration
	// StepTimeout bounds each hello exchange.
	StepTimeout time.Duration
	// MaxBanner caps the bytes read per exchange.
	MaxBanner int
}

// DefaultOptions are the defaults of `ajar scan`.
func DefaultOptions() Options {
	return Options{BannerWait: 700 * time.Millisecond, StepTimeout: 2 * time.Second, MaxBanner: 4096}
}

// Dialer opens a fresh connection to the target being identified.
type Dialer func(ctx context.Context) (net.Conn, error)

// hello is one protocol's greeting and the test of its answer.
type hello struct {
	protocol string
	ports    []uint16
	payload  []byte
	match    func(answer []byte) (ajar.Service, bool)
}

// hellos in the order they are tried when no port hint says otherwise. A
// hello that would confuse the next server runs on its own connection.
var hellos = []hello{
	{
		// RESP inline PING; any RESP reply proves Redis (an auth-enabled
		// server answers -NOAUTH). https://redis.io/docs/latest/develop/reference/protocol-spec/
		protocol: "redis",
		ports:    []uint16{6379, 6380},
		payload:  []byte("*1\r\n$4\r\nPING\r\n"),
		match:    matchRedis,
	},
	{
		// PostgreSQL SSLRequest: the server answers one byte, S or N.
		// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
		protocol: "postgresql",
		ports:    []uint16{5432, 5433},
		payload:  []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f},
		match:    matchPostgresSSL,
	},
}

// Identify returns what answers at the target. An unknown protocol is not an
// error: the Service then has an empty Protocol. The error reports a failure
// to connect at all.
func Identify(ctx context.Context, t ajar.Target, dial Dialer, opt Options) (ajar.Service, error) {
	svc := ajar.Service{Transport: "tcp"}
	banner, err := exchange(ctx, dial, nil, opt.BannerWait, opt.MaxBanner)
	if err != nil && !isTimeout(err) && !errors.Is(err, io.EOF) {
		if len(banner) == 0 {
			return svc, err
		}
	}
	if len(banner) > 0 {
		svc.Banner = printable(banner, 160)
		if s, ok := matchBanner(banner); ok {
			s.Banner = svc.Banner
			return s, nil
		}
		// A server that speaks first and matched nothing: hellos would only
		// land in its protocol.
		return svc, nil
	}
	for _, h := range ordered(t.Port) {
		if ctx.Err() != nil {
			return svc, ctx.Err()
		}
		answer, _ := exchange(ctx, dial, h.payload, opt.StepTimeout, opt.MaxBanner)
		if len(answer) == 0 {
			continue
		}
		if s, ok := h.match(answer); ok {
			if s.Banner == "" {
				s.Banner = printable(answer, 160)
			}
			return s, nil
		}
	}
	return svc, nil
}

// ordered puts the hellos whose usual port is p first.
func ordered(p uint16) []hello {
	out := make([]hello, 0, len(hellos))
	for _, h := range hellos {
		if slices.Contains(h.ports, p) {
			out = append(out, h)
		}
	}
	for _, h := range hellos {
		if !slices.Contains(h.ports, p) {
			out = append(out, h)
		}
	}
	return out
}

// exchange dials, sends payload (if any) and reads what comes back within
// wait, at most max bytes. It returns what was read even with an error.
func exchange(ctx context.Context, dial Dialer, payload []byte, wait time.Duration, max int) ([]byte, error) {
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	dl := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.SetDeadline(dl)
	if len(payload) > 0 {
		if _, err := c.Write(payload); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, max)
	n := 0
	for n < max {
		k, err := c.Read(buf[n:])
		n += k
		if err != nil {
			return buf[:n], err
		}
		if n > 0 && complete(buf[:n]) {
			break
		}
	}
	return buf[:n], nil
}

// complete reports whether an answer looks finished, so that identification
// does not wait out the deadline for servers that have said enough.
func complete(b []byte) bool {
	if isMySQLPacket(b) {
		return len(b) >= 4+int(uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16)
	}
	return bytes.HasSuffix(b, []byte("\r\n")) || bytes.HasSuffix(b, []byte("\n")) || len(b) == 1
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// matchBanner recognises servers that speak first.
func matchBanner(b []byte) (ajar.Service, bool) {
	if s, ok := matchMySQL(b); ok {
		return s, true
	}
	return ajar.Service{}, false
}

func isMySQLPacket(b []byte) bool {
	// 3-byte little-endian length, sequence 0, then protocol version 10 or
	// an error packet (0xff).
	if len(b) < 5 {
		return false
	}
	n := int(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16)
	return b[3] == 0 && n > 0 && n < 1<<16 && (b[4] == 0x0a || b[4] == 0xff)
}

// matchMySQL recognises the initial handshake packet (protocol version 10)
// or the error packet a server sends instead of it ("Host … is not allowed").
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
func matchMySQL(b []byte) (ajar.Service, bool) {
	if !isMySQLPacket(b) {
		return ajar.Service{}, false
	}
	n := int(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16)
	body := b[4:]
	if len(body) > n {
		body = body[:n]
	}
	svc := ajar.Service{Transport: "tcp", Protocol: "mysql"}
	switch body[0] {
	case 0x0a:
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			return ajar.Service{}, false
		}
		v := string(body[1 : 1+end])
		svc.Version, svc.Product = mysqlVersion(v)
		return svc, true
	case 0xff:
		// error code (2 bytes) then a message; "#HY000" state marker is
		// absent before the handshake.
		if len(body) < 3 {
			return ajar.Service{}, false
		}
		code := binary.LittleEndian.Uint16(body[1:3])
		if code < 1000 || code > 5000 {
			return ajar.Service{}, false
		}
		return svc, true
	}
	return ajar.Service{}, false
}

// mysqlVersion splits "10.11.6-MariaDB-0+deb12u1" into version and product.
// MariaDB 10.x+ prefixes "5.5.5-" for old clients.
func mysqlVersion(v string) (version, product string) {
	v = strings.TrimPrefix(v, "5.5.5-")
	product = "MySQL"
	if strings.Contains(strings.ToLower(v), "mariadb") {
		product = "MariaDB"
	}
	if i := strings.IndexByte(v, '-'); i > 0 {
		v = v[:i]
	}
	return v, product
}

func matchRedis(b []byte) (ajar.Service, bool) {
	svc := ajar.Service{Transport: "tcp", Protocol: "redis", Product: "Redis"}
	switch {
	case bytes.HasPrefix(b, []byte("+PONG")):
		return svc, true
	case bytes.HasPrefix(b, []byte("-NOAUTH")), bytes.HasPrefix(b, []byte("-ERR")) && bytes.Contains(b, []byte("auth")),
		bytes.HasPrefix(b, []byte("-DENIED")), bytes.HasPrefix(b, []byte("-WRONGPASS")):
		return svc, true
	}
	return ajar.Service{}, false
}

func matchPostgresSSL(b []byte) (ajar.Service, bool) {
	if len(b) == 1 && (b[0] == 'S' || b[0] == 'N') {
		return ajar.Service{Transport: "tcp", Protocol: "postgresql", Product: "PostgreSQL"}, true
	}
	// Very old servers answer SSLRequest with an ErrorResponse ('E').
	if len(b) > 5 && b[0] == 'E' && bytes.Contains(b, []byte("SFATAL")) {
		return ajar.Service{Transport: "tcp", Protocol: "postgresql", Product: "PostgreSQL"}, true
	}
	return ajar.Service{}, false
}

// printable renders up to n bytes of b with non-printing bytes escaped.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteString(`\x`)
			const hex = "0123456789abcdef"
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&15])
		}
	}
	return sb.String()
}
