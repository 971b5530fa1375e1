package mysql

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestParseGreeting(t *testing.T) {
	long := handshake("5.5.5-10.11.19-MariaDB-0+deb12u1")
	tests := []struct {
		name    string
		payload []byte
		want    greeting
		err     error
	}{
		{"MySQL 8", handshake("8.0.36"), greeting{Version: "8.0.36"}, nil},
		{"MariaDB", long, greeting{Version: "5.5.5-10.11.19-MariaDB-0+deb12u1"}, nil},
		{"error with state", errPacket(1040, "08004", "Too many connections"),
			greeting{ErrCode: 1040, ErrMsg: "Too many connections"}, nil},
		{"error without state", append([]byte{0xff, 0x69, 0x04}, "Host is blocked"...),
			greeting{ErrCode: 1129, ErrMsg: "Host is blocked"}, nil},
		{"error without message", []byte{0xff, 0x69, 0x04}, greeting{}, ErrNotMySQL},
		{"error with cut state", []byte{0xff, 0x69, 0x04, '#', 'H', 'Y'}, greeting{}, ErrNotMySQL},
		{"empty", nil, greeting{}, ErrNotMySQL},
		{"protocol 9", append([]byte{9}, handshake("3.22")[1:]...), greeting{}, ErrNotMySQL},
		{"no version end", []byte("\x0a8.0.36"), greeting{}, ErrNotMySQL},
		{"empty version", append([]byte{10, 0}, make([]byte, 60)...), greeting{}, ErrNotMySQL},
		{"binary version", handshake("8.0\x01"), greeting{}, ErrNotMySQL},
		{"no capabilities", handshake("8.0.36")[:1+7+4+8+1], greeting{}, ErrNotMySQL},
		{"no second scramble", handshake("8.0.36")[:1+7+15+5], greeting{}, ErrNotMySQL},
		{"cut second scramble", handshake("8.0.36")[:1+7+15+28], greeting{}, ErrNotMySQL},
		{"shortest complete", handshake("8.0.36")[:1+7+15+29], greeting{Version: "8.0.36"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseGreeting(tc.payload)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPacketGuard(t *testing.T) {
	greet := packet(0, handshake("8.0.36"))
	scramble := strings.Repeat("s", 20)
	tests := []struct {
		name   string
		server []byte // what the server sends after the greeting
		err    error
	}{
		{"OK", packet(2, okPacket), nil},
		{"OK with long integers", packet(2, []byte{0x00, 0xfc, 1, 0, 0xfd, 1, 0, 0, 2, 0}), nil},
		{"OK cut in an integer", packet(2, []byte{0x00, 0xfc, 1}), errSetup},
		{"OK without status", packet(2, []byte{0x00, 0x00, 0x00, 0x02}), errSetup},
		{"OK alone", packet(2, []byte{0x00}), errSetup},
		{"error", packet(2, errPacket(1045, "28000", "Access denied")), nil},
		{"error without state", packet(2, []byte{0xff, 0x15, 0x04, 'n', 'o'}), nil},
		{"error cut in the code", packet(2, []byte{0xff, 0x15}), errSetup},
		{"error cut in the state", packet(2, []byte{0xff, 0x15, 0x04, '#', '2', '8'}), errSetup},
		{"fast auth success then OK", append(packet(2, []byte{0x01, 0x03}), packet(3, okPacket)...), nil},
		{"public key", packet(2, []byte("\x01-----BEGIN PUBLIC KEY-----")), errSetup},
		{"switch to native", packet(2, []byte("\xfemysql_native_password\x00"+scramble+"\x00")), nil},
		{"switch to native, short scramble", packet(2, []byte("\xfemysql_native_password\x00abc\x00")), errSetup},
		{"switch to ed25519", packet(2, []byte("\xfeclient_ed25519\x00"+strings.Repeat("n", 32))), nil},
		{"old password switch", packet(2, []byte{0xfe}), nil},
		{"huge packet", []byte{0xff, 0xff, 0x00, 0x02}, errSetup},
		{"empty packet", []byte{0x00, 0x00, 0x00, 0x02}, errSetup},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := append(bytes.Clone(greet), tc.server...)
			// Whole, and one byte at a time: the verdict must not depend
			// on how the socket splits the stream.
			for _, chunk := range []int{len(stream), 1, 3} {
				var g packetGuard
				err := feedChunks(&g, stream, chunk)
				if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
					t.Fatalf("chunks of %d: error %v, want %v", chunk, err, tc.err)
				}
				if !g.seen || g.greeting.Version != "8.0.36" {
					t.Errorf("chunks of %d: greeting %+v", chunk, g.greeting)
				}
			}
		})
	}
}

func TestPacketGuardStepsAside(t *testing.T) {
	var g packetGuard
	if err := g.feed(append(packet(0, handshake("8.0.36")), packet(2, okPacket)...)); err != nil {
		t.Fatal(err)
	}
	g.sent(packet(1, []byte("auth switch response"))) // still logging in
	if err := g.feed(packet(3, []byte{0xff, 0x15})); !errors.Is(err, errSetup) {
		t.Fatalf("during login: %v, want %v", err, errSetup)
	}
	g = packetGuard{phase: phaseAuth}
	g.sent(packet(0, []byte("\x03SELECT VERSION()"))) // a command
	if err := g.feed([]byte{0xff, 0xff, 0xff, 0x01, 0xff}); err != nil {
		t.Fatalf("after the first command: %v", err)
	}
}

// feedChunks feeds stream to g in pieces of n bytes, up to the first error.
func feedChunks(g *packetGuard, stream []byte, n int) error {
	for len(stream) > 0 {
		k := min(n, len(stream))
		if err := g.feed(stream[:k]); err != nil {
			return err
		}
		stream = stream[k:]
	}
	return nil
}

// driverReadsGreeting indexes an accepted greeting the way the client
// library does (go-sql-driver/mysql, readHandshakePacket): it panics where
// the library would.
func driverReadsGreeting(p []byte) {
	if p[0] == 0xff {
		driverReadsError(p)
		return
	}
	pos := 1 + bytes.IndexByte(p[1:], 0) + 1 + 4
	_ = p[pos : pos+8]
	pos += 8 + 1
	_ = binary.LittleEndian.Uint16(p[pos : pos+2])
	pos += 2
	if len(p) > pos {
		pos += 3
		_ = p[pos : pos+2]
		pos += 2 + 7
		_ = p[pos : pos+4]
		pos += 4
		_ = p[pos : pos+12]
		pos += 13
		_ = p[pos:]
	}
}

// driverReadsError indexes an error packet the way the library does.
func driverReadsError(p []byte) {
	_ = p[1:3]
	if p[3] == '#' {
		_ = p[4 : 4+5]
	}
}

// driverReadsOK indexes an OK packet the way the library does.
func driverReadsOK(p []byte) {
	lenenc := func(b []byte) int {
		if len(b) == 0 {
			return 1
		}
		switch b[0] {
		case 0xfc:
			_ = b[1:3]
			return 3
		case 0xfd:
			_ = b[1:4]
			return 4
		case 0xfe:
			_ = b[1:9]
			return 9
		}
		return 1
	}
	n := lenenc(p[1:])
	m := lenenc(p[1+n:])
	_ = p[1+n+m : 1+n+m+2]
}

func FuzzParseGreeting(f *testing.F) {
	f.Add(handshake("8.0.36"))
	f.Add(handshake("5.5.5-10.11.19-MariaDB-0+deb12u1"))
	f.Add(errPacket(1130, "HY000", "Host is not allowed"))
	f.Add([]byte("\x0a8.0.36\x00"))
	f.Fuzz(func(t *testing.T, p []byte) {
		g, err := parseGreeting(p)
		if err != nil {
			return
		}
		// What the guard accepts, the library must parse without a panic.
		driverReadsGreeting(p)
		if len(g.Version) > 255 || strings.ContainsFunc(g.Version, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			t.Errorf("accepted version %q", g.Version)
		}
	})
}

func FuzzPacketGuard(f *testing.F) {
	greet := packet(0, handshake("8.0.36"))
	f.Add(append(bytes.Clone(greet), packet(2, okPacket)...), uint8(1))
	f.Add(append(bytes.Clone(greet), packet(2, []byte{0xff, 0x15})...), uint8(3))
	f.Add(append(bytes.Clone(greet), packet(2, []byte("\xfemysql_native_password\x00abc\x00"))...), uint8(7))
	f.Add([]byte{0xff, 0xff, 0xff, 0x00, 0x0a, 0xde, 0xad}, uint8(2))
	f.Add([]byte("SSH-2.0-OpenSSH_9.2\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		var whole, split packetGuard
		errWhole := whole.feed(stream)
		errSplit := feedChunks(&split, stream, int(chunk%16)+1)
		if (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("whole: %v; in chunks of %d: %v", errWhole, chunk%16+1, errSplit)
		}
		if errWhole != nil {
			return
		}
		// Every complete packet the guard let through must be safe for
		// the client library.
		for i, p := range packets(stream) {
			if i == 0 {
				driverReadsGreeting(p)
				continue
			}
			switch p[0] {
			case 0x00:
				driverReadsOK(p)
			case 0xff:
				driverReadsError(p)
			}
		}
	})
}

// packets splits a stream into the payloads of its complete packets.
func packets(stream []byte) [][]byte {
	var out [][]byte
	for len(stream) >= 4 {
		n := int(stream[0]) | int(stream[1])<<8 | int(stream[2])<<16
		if len(stream) < 4+n {
			break
		}
		out = append(out, stream[4:4+n])
		stream = stream[4+n:]
	}
	return out
}
