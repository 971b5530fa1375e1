package identify

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/ajar-scan/ajar"
)

// hello is one protocol's greeting and the test of its answer. A hello with
// run does its own exchange (several requests, or a handshake to finish).
type hello struct {
	protocol string
	ports    []uint16
	payload  []byte
	// done reports whether the answer so far is enough to judge: a whole
	// frame, or a first byte no answer of this protocol starts with. Reading
	// stops there instead of at the step timeout; nil means complete.
	done  func(answer []byte) bool
	match func(answer []byte) (ajar.Service, bool)
	// startTLS, when set, upgrades the connection after a match in clear
	// (STARTTLS) to read the server's certificate.
	startTLS func(ctx context.Context, c net.Conn, answer []byte, opt Options) *ajar.TLS
	run      func(ctx context.Context, t ajar.Target, dial Dialer, opt Options) (ajar.Service, bool)
	// tls marks the TLS hello: a ClientHello, proved by a completed
	// handshake; identification then goes on inside TLS.
	tls bool
}

// hellos in the order they are tried when no port hint says otherwise:
// HTTP first (most services on odd ports are web servers), then TLS, then
// the data stores. Each runs on its own connection, so a hello that would
// confuse a server never reaches the next.
var hellos = []hello{
	{protocol: "http", ports: httpPorts, run: runHTTP},
	{protocol: "tls", ports: tlsPorts, tls: true},
	{
		// RESP PING; any RESP reply proves Redis (an auth-enabled server
		// answers -NOAUTH). https://redis.io/docs/latest/develop/reference/protocol-spec/
		protocol: "redis", ports: []uint16{6379, 6380, 16379},
		payload: []byte("*1\r\n$4\r\nPING\r\n"), done: redisDone, match: matchRedis,
	},
	{
		// SSLRequest: the server answers one byte, S or N; on S the
		// handshake that follows shows the certificate.
		// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
		protocol: "postgresql", ports: []uint16{5432, 5433},
		payload: []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, done: postgresDone, match: matchPostgresSSL,
		startTLS: postgresStartTLS,
	},
	{protocol: "mongodb", ports: []uint16{27017, 27018, 27019}, payload: mongoIsMaster(), done: mongoDone, match: matchMongo},
	{
		// memcached text protocol: "version" → "VERSION 1.6.18"; with SASL
		// on, text commands are refused with a CLIENT_ERROR.
		// https://github.com/memcached/memcached/blob/master/doc/protocol.txt
		protocol: "memcached", ports: []uint16{11211},
		payload: []byte("version\r\n"), done: lineDone, match: matchMemcached,
	},
	{
		// AMQP 0-9-1 protocol header; the server answers Connection.Start.
		// https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf §4.2.2
		protocol: "amqp", ports: []uint16{5672, 5671},
		payload: []byte("AMQP\x00\x00\x09\x01"), done: amqpDone, match: matchAMQP,
	},
	{protocol: "mqtt", ports: []uint16{1883, 8883}, payload: mqttConnect(), done: mqttDone, match: matchMQTT},
	{
		// ZooKeeper four-letter word; a server that disabled it still says so.
		// https://zookeeper.apache.org/doc/current/zookeeperAdmin.html#sc_4lw
		protocol: "zookeeper", ports: []uint16{2181, 2182},
		payload: []byte("srvr"), done: lineDone, match: matchZooKeeper,
	},
	{protocol: "ldap", ports: []uint16{389, 636}, payload: ldapAnonymousBind, done: berDone, match: matchLDAP},
	{protocol: "clickhouse", ports: []uint16{9000, 9440}, payload: clickhouseHello(), done: clickhouseDone, match: matchClickHouse},
}

// tlsPorts are the usual ports of TLS services (HTTPS, LDAPS, AMQPS, MQTT
// over TLS, Kubernetes and Docker APIs, …), where the TLS hello goes first.
var tlsPorts = []uint16{443, 8443, 636, 993, 995, 465, 990, 5671, 8883, 9443, 6443, 2376, 4443, 9243, 5986}

var httpPorts = []uint16{80, 443, 8080, 8443, 8000, 8008, 8081, 8888, 9200, 9201, 5601, 5984, 8983,
	2379, 2380, 8086, 8123, 5000, 9090, 9093, 15672, 3000, 4000}

// matchBanner recognises servers that speak first.
func matchBanner(b []byte) (ajar.Service, bool) {
	for _, m := range []func([]byte) (ajar.Service, bool){matchMySQL, matchNATS, matchRsync, matchSSH, match220} {
		if s, ok := m(b); ok {
			return s, true
		}
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
	svc := ajar.Service{Protocol: "mysql"}
	switch body[0] {
	case 0x0a:
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			return ajar.Service{}, false
		}
		svc.Version, svc.Product = mysqlVersion(string(body[1 : 1+end]))
		return svc, true
	case 0xff:
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

// matchNATS recognises the INFO line a NATS server sends on connect.
// https://docs.nats.io/reference/reference-protocols/nats-protocol#info
func matchNATS(b []byte) (ajar.Service, bool) {
	if !bytes.HasPrefix(b, []byte("INFO {")) {
		return ajar.Service{}, false
	}
	svc := ajar.Service{Protocol: "nats", Product: "NATS"}
	if m := natsVersion.FindSubmatch(b); m != nil {
		svc.Version = string(m[1])
	}
	return svc, true
}

var natsVersion = regexp.MustCompile(`"version":"([0-9][0-9A-Za-z.\-]{0,30})"`)

// matchRsync recognises the rsync daemon greeting "@RSYNCD: 31.0".
func matchRsync(b []byte) (ajar.Service, bool) {
	if !bytes.HasPrefix(b, []byte("@RSYNCD: ")) {
		return ajar.Service{}, false
	}
	v := strings.Fields(string(b[len("@RSYNCD: "):]))
	svc := ajar.Service{Protocol: "rsync", Product: "rsync"}
	if len(v) > 0 {
		svc.Version = "protocol " + v[0]
	}
	return svc, true
}

func matchSSH(b []byte) (ajar.Service, bool) {
	if !bytes.HasPrefix(b, []byte("SSH-")) {
		return ajar.Service{}, false
	}
	svc := ajar.Service{Protocol: "ssh"}
	if f := strings.Fields(strings.TrimSpace(string(firstLine(b)))); len(f) > 0 {
		if parts := strings.SplitN(f[0], "-", 3); len(parts) == 3 {
			svc.Product = parts[2]
		}
	}
	return svc, true
}

// match220 tells FTP from SMTP: both greet with 220.
func match220(b []byte) (ajar.Service, bool) {
	if !bytes.HasPrefix(b, []byte("220")) || len(b) < 4 || (b[3] != ' ' && b[3] != '-') {
		return ajar.Service{}, false
	}
	line := string(firstLine(b))
	upper := strings.ToUpper(line)
	switch {
	case strings.Contains(upper, "SMTP"):
		return ajar.Service{Protocol: "smtp"}, true
	default:
		svc := ajar.Service{Protocol: "ftp"}
		// The product may be on any line of a multi-line greeting, and in
		// either form of the pattern.
		for _, l := range strings.Split(string(b), "\n") {
			if m := ftpProduct.FindStringSubmatch(strings.TrimRight(l, "\r")); m != nil {
				svc.Product, svc.Version = m[1]+m[3], m[2]+m[4]
				break
			}
		}
		return svc, true
	}
}

var ftpProduct = regexp.MustCompile(`\((vsFTPd|ProFTPD|Pure-FTPd) ?([0-9.]*)\)|(?:^220 )(ProFTPD|FileZilla Server) ?([0-9.]*)`)

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return bytes.TrimRight(b, "\r")
}

func matchRedis(b []byte) (ajar.Service, bool) {
	svc := ajar.Service{Protocol: "redis", Product: "Redis"}
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
		return ajar.Service{Protocol: "postgresql", Product: "PostgreSQL", Banner: string(b)}, true
	}
	// Very old servers answer SSLRequest with an ErrorResponse ('E').
	if len(b) > 5 && b[0] == 'E' && bytes.Contains(b, []byte("SFATAL")) {
		return ajar.Service{Protocol: "postgresql", Product: "PostgreSQL"}, true
	}
	return ajar.Service{}, false
}

// mongoIsMaster is an OP_QUERY of {isMaster: 1} on admin.$cmd: the handshake
// every MongoDB since 2.x answers (5.1+ keep OP_QUERY for it alone).
// https://www.mongodb.com/docs/manual/legacy-opcodes/#op_query
func mongoIsMaster() []byte {
	doc := []byte{0x13, 0, 0, 0, 0x10, 'i', 's', 'M', 'a', 's', 't', 'e', 'r', 0, 1, 0, 0, 0, 0}
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0) // length, set below
	b = binary.LittleEndian.AppendUint32(b, 0x616a6172)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 2004) // OP_QUERY
	b = binary.LittleEndian.AppendUint32(b, 0)    // flags
	b = append(b, "admin.$cmd\x00"...)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1) // numberToReturn (-1 is also common)
	b = append(b, doc...)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

// matchMongo accepts an OP_REPLY (1) or OP_MSG (2013) answering our request
// whose document mentions the handshake fields.
func matchMongo(b []byte) (ajar.Service, bool) {
	if len(b) < 16 {
		return ajar.Service{}, false
	}
	n := binary.LittleEndian.Uint32(b)
	op := binary.LittleEndian.Uint32(b[12:])
	if n < 16 || n > 48<<20 || binary.LittleEndian.Uint32(b[8:]) != 0x616a6172 || (op != 1 && op != 2013) {
		return ajar.Service{}, false
	}
	if !bytes.Contains(b, []byte("maxWireVersion")) && !bytes.Contains(b, []byte("ismaster")) && !bytes.Contains(b, []byte("errmsg")) {
		return ajar.Service{}, false
	}
	return ajar.Service{Protocol: "mongodb", Product: "MongoDB"}, true
}

func matchMemcached(b []byte) (ajar.Service, bool) {
	switch {
	case bytes.HasPrefix(b, []byte("VERSION ")):
		v := strings.TrimSpace(string(firstLine(b[len("VERSION "):])))
		return ajar.Service{Protocol: "memcached", Product: "memcached", Version: v}, true
	case bytes.HasPrefix(b, []byte("CLIENT_ERROR unauthenticated")), bytes.HasPrefix(b, []byte("CLIENT_ERROR authentication failure")):
		return ajar.Service{Protocol: "memcached", Product: "memcached"}, true
	}
	return ajar.Service{}, false
}

// matchAMQP accepts a Connection.Start method frame (type 1, channel 0,
// class 10, method 10) or a protocol header the server prefers.
func matchAMQP(b []byte) (ajar.Service, bool) {
	if bytes.HasPrefix(b, []byte("AMQP")) && len(b) == 8 {
		return ajar.Service{Protocol: "amqp"}, true
	}
	if len(b) < 11 || b[0] != 1 || b[1] != 0 || b[2] != 0 || !bytes.Equal(b[7:11], []byte{0, 10, 0, 10}) {
		return ajar.Service{}, false
	}
	svc := ajar.Service{Protocol: "amqp"}
	svc.Product = amqpProperty(b, "product")
	svc.Version = amqpProperty(b, "version")
	return svc, true
}

// amqpProperty finds a long-string server property ("product" → "RabbitMQ")
// in a Connection.Start frame without a full field-table parser.
func amqpProperty(b []byte, name string) string {
	key := append([]byte{byte(len(name))}, name...)
	i := bytes.Index(b, append(key, 'S'))
	if i < 0 || i+len(key)+5 > len(b) {
		return ""
	}
	j := i + len(key) + 1
	n := int(binary.BigEndian.Uint32(b[j:]))
	if n > 64 || j+4+n > len(b) {
		return ""
	}
	return printable(b[j+4:j+4+n], 64)
}

// mqttConnect is an MQTT 3.1.1 CONNECT with a clean session, no credentials,
// client id "ajar". http://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html §3.1
func mqttConnect() []byte {
	v := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 10, 0, 4, 'a', 'j', 'a', 'r'}
	return append([]byte{0x10, byte(len(v))}, v...)
}

// matchMQTT accepts a CONNACK: 0x20, remaining length 2, flags, return code.
func matchMQTT(b []byte) (ajar.Service, bool) {
	if len(b) >= 4 && b[0] == 0x20 && b[1] == 2 && b[2] <= 1 && b[3] <= 5 {
		return ajar.Service{Protocol: "mqtt"}, true
	}
	return ajar.Service{}, false
}

func matchZooKeeper(b []byte) (ajar.Service, bool) {
	s := string(b)
	switch {
	case strings.HasPrefix(s, "Zookeeper version: "):
		v := strings.TrimPrefix(string(firstLine(b)), "Zookeeper version: ")
		if i := strings.IndexAny(v, "-,"); i > 0 {
			v = v[:i]
		}
		return ajar.Service{Protocol: "zookeeper", Product: "ZooKeeper", Version: v}, true
	case strings.Contains(s, "is not executed because it is not in the whitelist"):
		return ajar.Service{Protocol: "zookeeper", Product: "ZooKeeper"}, true
	}
	return ajar.Service{}, false
}

// ldapAnonymousBind is BindRequest(version 3, name "", simple "") with message
// id 1. RFC 4511 §4.2.
var ldapAnonymousBind = []byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00}

// matchLDAP accepts a BindResponse (application 1) to message 1.
func matchLDAP(b []byte) (ajar.Service, bool) {
	if len(b) < 7 || b[0] != 0x30 {
		return ajar.Service{}, false
	}
	i := 1
	if b[1]&0x80 != 0 {
		i += int(b[1] & 0x7f)
	}
	i++
	if i+3 > len(b) || b[i] != 0x02 || b[i+1] != 1 || b[i+2] != 1 {
		return ajar.Service{}, false
	}
	if i+3 < len(b) && b[i+3] == 0x61 {
		return ajar.Service{Protocol: "ldap"}, true
	}
	return ajar.Service{}, false
}

// clickhouseHello is a native-protocol Hello packet (client name "ajar",
// revision 54060, database "default", user "default", empty password). The
// server answers Hello (0) with its name, or Exception (2).
func clickhouseHello() []byte {
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	b := binary.AppendUvarint(nil, 0)
	b = str(b, "ajar")
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendUvarint(b, 54060)
	b = str(b, "default")
	b = str(b, "default")
	b = str(b, "")
	return b
}

// parseClickHouseHello reads the server name and version from a Hello
// packet (type 0): name, then major and minor version as varints. complete
// is false while bytes are missing; valid is false once they cannot be a
// Hello.
func parseClickHouseHello(b []byte) (name, version string, complete, valid bool) {
	switch {
	case len(b) == 0 || b[0] != 0:
		return "", "", true, false
	case len(b) < 2:
		return "", "", false, true
	}
	n, k := binary.Uvarint(b[1:])
	switch {
	case k == 0:
		return "", "", false, true
	case k < 0 || n == 0 || n > 64:
		return "", "", true, false
	case 1+k+int(n) > len(b):
		return "", "", false, true
	}
	i := 1 + k + int(n)
	name = string(b[1+k : i])
	major, k1 := binary.Uvarint(b[i:])
	if k1 <= 0 {
		return name, "", k1 < 0, k1 == 0
	}
	minor, k2 := binary.Uvarint(b[i+k1:])
	if k2 <= 0 {
		return name, "", k2 < 0, k2 == 0
	}
	if major > 1000 || minor > 1000 {
		return name, "", true, true
	}
	return name, fmt.Sprintf("%d.%d", major, minor), true, true
}

// matchClickHouse accepts the server's Hello (0) naming ClickHouse, or an
// Exception (2) from DB::, which is what a refused login gets.
func matchClickHouse(b []byte) (ajar.Service, bool) {
	if len(b) < 3 {
		return ajar.Service{}, false
	}
	switch b[0] {
	case 0:
		name, version, _, valid := parseClickHouseHello(b)
		if !valid || !strings.Contains(strings.ToLower(name), "clickhouse") {
			return ajar.Service{}, false
		}
		return ajar.Service{Protocol: "clickhouse", Product: "ClickHouse", Version: version}, true
	case 2:
		if bytes.Contains(b, []byte("DB::Exception")) {
			return ajar.Service{Protocol: "clickhouse", Product: "ClickHouse"}, true
		}
	}
	return ajar.Service{}, false
}

// clickhouseDone: a Hello whose version arrived, an Exception whose name
// arrived (code: 4 bytes, then the name), or anything else.
func clickhouseDone(b []byte) bool {
	switch b[0] {
	case 0:
		_, _, complete, valid := parseClickHouseHello(b)
		return complete || !valid
	case 2:
		return bytes.Contains(b, []byte("DB::Exception")) || len(b) >= 1+4+1+64
	}
	return true
}

// lineDone: text protocols answer a line.
func lineDone(b []byte) bool { return bytes.IndexByte(b, '\n') >= 0 }

// redisDone: a RESP simple string or error ends with its line; any other
// first byte is not an answer to PING.
func redisDone(b []byte) bool { return b[0] != '+' && b[0] != '-' || lineDone(b) }

// postgresDone: S or N is the whole answer; an ErrorResponse ('E') carries
// its length after the type byte.
func postgresDone(b []byte) bool {
	if b[0] != 'E' {
		return true
	}
	if len(b) < 5 {
		return false
	}
	n := binary.BigEndian.Uint32(b[1:])
	return n > 1<<16 || len(b) >= 1+int(n)
}

// mongoDone: a wire-protocol message starts with its total length.
func mongoDone(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	n := binary.LittleEndian.Uint32(b)
	return n < 16 || n > 48<<20 || len(b) >= int(n)
}

// amqpDone: a protocol header is 8 bytes; a frame is type, channel, size
// (4 bytes), payload and the frame-end octet.
func amqpDone(b []byte) bool {
	switch b[0] {
	case 'A':
		return len(b) >= 8
	case 1:
		if len(b) < 7 {
			return false
		}
		n := binary.BigEndian.Uint32(b[3:])
		return n > 1<<20 || len(b) >= 7+int(n)+1
	}
	return true
}

// mqttDone: CONNACK is four bytes.
func mqttDone(b []byte) bool { return b[0] != 0x20 || len(b) >= 4 }

// berDone: an LDAP message is a BER SEQUENCE with a definite length.
func berDone(b []byte) bool {
	if b[0] != 0x30 {
		return true
	}
	if len(b) < 2 {
		return false
	}
	hdr, n := 2, int(b[1])
	if b[1]&0x80 != 0 {
		k := int(b[1] & 0x7f)
		if k == 0 || k > 3 {
			return true
		}
		if len(b) < 2+k {
			return false
		}
		n = 0
		for _, x := range b[2 : 2+k] {
			n = n<<8 | int(x)
		}
		hdr += k
	}
	return len(b) >= hdr+n
}
