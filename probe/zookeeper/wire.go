package zookeeper

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrFrame is returned when the server announces a packet longer than the
// probe reads: the client library would allocate whatever length it is told.
var ErrFrame = errors.New("packet length over the read limit")

// maxFrame is the longest packet the client library may read: ZooKeeper's
// own limit, jute.maxbuffer, is 1 MiB by default (0xfffff bytes).
// https://zookeeper.apache.org/doc/r3.8.0/zookeeperAdmin.html#Unsafe+Options
const maxFrame = 1 << 20

// frameGuard tracks the length-prefixed packets of ZooKeeper's client
// protocol (a 4-byte big-endian length, then the packet) in the bytes read
// from a connection, and fails a read that would deliver an absurd length.
type frameGuard struct {
	// left is what remains of the packet being read; when zero, the next
	// bytes are a length.
	left int64
	// head collects a length split across reads.
	head [4]byte
	n    int
}

// check scans b, read from the server, and returns ErrFrame at the first
// length over maxFrame or a negative one.
func (g *frameGuard) check(b []byte) error {
	for len(b) > 0 {
		if g.left > 0 {
			k := min(int64(len(b)), g.left)
			g.left -= k
			b = b[k:]
			continue
		}
		k := copy(g.head[g.n:], b)
		g.n += k
		b = b[k:]
		if g.n < 4 {
			return nil
		}
		g.n = 0
		size := int32(binary.BigEndian.Uint32(g.head[:]))
		if size < 0 || size > maxFrame {
			return fmt.Errorf("%d bytes announced: %w", size, ErrFrame)
		}
		g.left = int64(size)
	}
	return nil
}

// guardedConn is a connection whose reads pass through a frameGuard.
type guardedConn struct {
	net.Conn
	g   frameGuard
	err error
}

func (c *guardedConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	if gerr := c.g.check(p[:n]); gerr != nil {
		c.err = gerr
		return 0, gerr
	}
	return n, err
}

// srvr is what the srvr four-letter word says.
type srvr struct {
	Version string
	Nodes   int64 // -1 when absent
}

// parseSrvr reads "Zookeeper version: 3.8.0-…, built on …" and "Node count: N".
// https://zookeeper.apache.org/doc/r3.8.0/zookeeperAdmin.html#sc_4lw
func parseSrvr(b []byte) (srvr, bool) {
	s := srvr{Nodes: -1}
	ok := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if v, found := strings.CutPrefix(line, "Zookeeper version: "); found {
			if i := strings.IndexAny(v, "-, "); i >= 0 {
				v = v[:i]
			}
			s.Version, ok = clip(v, 32), true
		}
		if v, found := strings.CutPrefix(line, "Node count: "); found {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
				s.Nodes = n
			}
		}
	}
	return s, ok
}

// parseMntr reads mntr's tab-separated "zk_name\tvalue" lines.
func parseMntr(b []byte) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "\t")
		if ok && strings.HasPrefix(k, "zk_") && len(m) < 256 {
			m[clip(k, 64)] = clip(v, 128)
		}
	}
	return m
}

// notAllowed reports whether a four-letter word was refused by the
// server's whitelist (4lw.commands.whitelist).
func notAllowed(b []byte) bool {
	return bytes.Contains(b, []byte("is not executed because it is not in the whitelist"))
}

// Bounds on a sample.
const (
	maxSampleFields = 32
	maxSampleValue  = 1024
)

// sampleDoc turns a znode's path and data into a sample record: the scalar
// fields of a JSON object, or the data itself. It also returns the JSON
// field names, sorted.
func sampleDoc(path string, data []byte) (doc map[string]string, fields []string) {
	doc = map[string]string{"_path": clip(path, 256)}
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil || obj == nil {
		doc["value"] = clip(string(data), maxSampleValue)
		return doc, nil
	}
	names := make([]string, 0, len(obj))
	for n := range obj {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if len(fields) >= maxSampleFields {
			break
		}
		var s string
		switch v := obj[n].(type) {
		case string:
			s = v
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			s = strconv.FormatBool(v)
		default:
			continue
		}
		if n == "_path" || !utf8.ValidString(n) || len(n) > 128 {
			continue
		}
		doc[n] = clip(s, maxSampleValue)
		fields = append(fields, n)
	}
	return doc, fields
}

// clip returns at most n bytes of s as valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
