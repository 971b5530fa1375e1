package identify

import (
	"slices"
	"testing"
)

// TestDone: each hello stops reading once its answer can be judged, and not
// before.
func TestDone(t *testing.T) {
	ldapOK := []byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00}
	amqpStart := append([]byte{1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 10}, 0xce)
	for _, tc := range []struct {
		name string
		done func([]byte) bool
		in   []byte
		want bool
	}{
		{"redis half line", redisDone, []byte("+PON"), false},
		{"redis line", redisDone, []byte("+PONG\r\n"), true},
		{"redis other", redisDone, []byte("HTTP/1.1"), true},
		{"postgres S", postgresDone, []byte("S"), true},
		{"postgres error head", postgresDone, []byte("E\x00\x00"), false},
		{"postgres error cut", postgresDone, []byte("E\x00\x00\x00\x20SFATAL"), false},
		{"postgres error whole", postgresDone, append([]byte("E\x00\x00\x00\x08"), "SF\x00\x00"...), true},
		{"mongo short", mongoDone, []byte{0x30, 0, 0}, false},
		{"mongo cut", mongoDone, []byte{0x30, 0, 0, 0, 1, 2}, false},
		{"mongo whole", mongoDone, append([]byte{0x10, 0, 0, 0}, make([]byte, 12)...), true},
		{"mongo absurd length", mongoDone, []byte("GET / HT"), true},
		{"memcached", lineDone, []byte("VERSION 1.6.18\r\n"), true},
		{"memcached cut", lineDone, []byte("VERSION 1.6"), false},
		{"amqp header", amqpDone, []byte("AMQP\x00\x00\x09\x01"), true},
		{"amqp header cut", amqpDone, []byte("AMQP"), false},
		{"amqp frame cut", amqpDone, amqpStart[:9], false},
		{"amqp frame", amqpDone, amqpStart, true},
		{"amqp other", amqpDone, []byte("-ERR"), true},
		{"mqtt cut", mqttDone, []byte{0x20, 2}, false},
		{"mqtt connack", mqttDone, []byte{0x20, 2, 0, 0}, true},
		{"mqtt other", mqttDone, []byte{0x30}, true},
		{"ldap cut", berDone, ldapOK[:6], false},
		{"ldap whole", berDone, ldapOK, true},
		{"ldap long form cut", berDone, []byte{0x30, 0x82, 0x01}, false},
		{"ldap long form", berDone, append([]byte{0x30, 0x81, 0x02}, 1, 2), true},
		{"ldap other", berDone, []byte("+PONG"), true},
		{"clickhouse name cut", clickhouseDone, []byte("\x00\x0aClick"), false},
		{"clickhouse no version yet", clickhouseDone, []byte("\x00\x0aClickHouse"), false},
		{"clickhouse hello", clickhouseDone, []byte("\x00\x0aClickHouse\x12\x10\xad\xa8\x03"), true},
		{"clickhouse exception", clickhouseDone, []byte("\x02\xc2\x00\x00\x00\x0dDB::Exception"), true},
		{"clickhouse other", clickhouseDone, []byte("HTTP/1.0 400"), true},
	} {
		if got := tc.done(tc.in); got != tc.want {
			t.Errorf("%s: done(%q) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestHTTPDone(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
		{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", false},
		{"HTTP/1.1 200 OK\r\nContent-Le", false},
		{"+PONG\r\n", true},
	} {
		if got := httpDone([]byte(tc.in)); got != tc.want {
			t.Errorf("httpDone(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestProductFromServer(t *testing.T) {
	for _, tc := range []struct{ in, product, version string }{
		{"nginx/1.22.1", "nginx", "1.22.1"},
		{"Apache/2.4.54 (Debian) OpenSSL/1.1.1n", "Apache", "2.4.54"},
		{"Cowboy", "Cowboy", ""},
		{"", "", ""},
		{"/1.0", "", ""},
	} {
		if p, v := productFromServer(tc.in); p != tc.product || v != tc.version {
			t.Errorf("productFromServer(%q) = %q, %q; want %q, %q", tc.in, p, v, tc.product, tc.version)
		}
	}
}

func TestClickHouseVersion(t *testing.T) {
	s, ok := matchClickHouse([]byte("\x00\x0aClickHouse\x12\x10\xad\xa8\x03\x0dAsia/Shanghai"))
	if !ok || s.Version != "18.16" {
		t.Errorf("matchClickHouse = %+v, %v; want version 18.16", s, ok)
	}
}

// TestOrdered: hints first in the order of hellos, then the rest; TLS
// only when asked for.
func TestOrdered(t *testing.T) {
	names := func(hs []hello) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.protocol)
		}
		return out
	}
	all := names(ordered(1, true))
	if len(all) != len(hellos) || all[0] != "http" || all[1] != "tls" {
		t.Fatalf("no hint: %v", all)
	}
	for _, tc := range []struct {
		port  uint16
		tls   bool
		first []string
	}{
		{27017, true, []string{"mongodb", "http", "tls", "redis"}},
		{443, true, []string{"http", "tls", "redis"}},
		{636, true, []string{"tls", "ldap", "http", "redis"}},
		{636, false, []string{"ldap", "http", "redis"}},
		{5432, false, []string{"postgresql", "http", "redis", "mongodb"}},
	} {
		got := names(ordered(tc.port, tc.tls))
		if !slices.Equal(got[:len(tc.first)], tc.first) {
			t.Errorf("port %d tls %v: %v, want %v first", tc.port, tc.tls, got, tc.first)
		}
		if slices.Contains(got, "tls") != tc.tls {
			t.Errorf("port %d: TLS hello present %v, want %v", tc.port, !tc.tls, tc.tls)
		}
		if n := len(got); n != len(hellos)-map[bool]int{true: 0, false: 1}[tc.tls] {
			t.Errorf("port %d: %d hellos", tc.port, n)
		}
	}
}

func TestPlainToTLS(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   bool
	}{
		{400, "Client sent an HTTP request to an HTTPS server.\n", true},
		{400, "<center>The plain HTTP request was sent to HTTPS port</center>", true},
		{400, "Reason: You're speaking plain HTTP to an SSL-enabled server port.", true},
		{400, "Bad Request", false},
		{200, "Client sent an HTTP request to an HTTPS server.", false},
	} {
		if got := plainToTLS(&httpAnswer{status: tc.status, body: []byte(tc.body)}); got != tc.want {
			t.Errorf("plainToTLS(%d %q) = %v", tc.status, tc.body, got)
		}
	}
}

// FuzzHello runs every answer parser (matchers, done functions, the HTTP
// reader) on arbitrary bytes; none may panic. Seeds: testdata/fuzz/FuzzHello.
func FuzzHello(f *testing.F) {
	f.Add([]byte("+PONG\r\n"))
	f.Add(mongoReply())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		for _, h := range hellos {
			if h.match != nil {
				h.match(b)
			}
			if h.done != nil {
				h.done(b)
			}
		}
		parseClickHouseHello(b)
		complete(b)
		httpDone(b)
		if a, err := parseHTTP(b); err == nil {
			plainToTLS(a)
		}
	})
}
