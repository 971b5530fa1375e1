package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// The memcached seed is text protocol: one storage command per item.
// https://github.com/memcached/memcached/blob/master/doc/protocol.txt

func printMemcached(w *bufio.Writer, g fake.Generator) error {
	set := func(key string, value []byte) {
		fmt.Fprintf(w, "set %s 0 0 %d\r\n", key, len(value))
		w.Write(value)
		w.WriteString("\r\n")
	}
	for i := 1; i <= lab.MemcachedPersons; i++ {
		p := g.Person(i)
		v := personOf(p)
		v.BirthDate, v.Gender = p.BirthDate.Format("2006-01-02"), p.Gender.String()
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		set(fmt.Sprintf("person:%05d", i), b)
	}
	for i := 1; i <= lab.MemcachedSessions; i++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "session %d %d", lab.Seed, i))
		set(fmt.Sprintf("session:%05d", i), []byte(hex.EncodeToString(sum[:16])))
	}
	return nil
}

// mcConn is a text-protocol connection, authenticated when the server wants it.
type mcConn struct {
	nc net.Conn
	rd *bufio.Reader
}

func mcDial(ctx context.Context, s server) (*mcConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	c := &mcConn{nc: nc, rd: bufio.NewReader(nc)}
	if s.user != "" {
		// With -Y, the first "set" carries "user password" as its data; the
		// key is ignored. doc/protocol.txt, "Authentication".
		cred := s.user + " " + s.password
		if r, err := c.do(fmt.Sprintf("set auth 0 0 %d\r\n%s\r\n", len(cred), cred)); err != nil || r != "STORED" {
			nc.Close()
			return nil, fmt.Errorf("authenticate: %q %v", r, err)
		}
	}
	return c, nil
}

// do sends one command and reads a one-line answer.
func (c *mcConn) do(cmd string) (string, error) {
	if _, err := io.WriteString(c.nc, cmd); err != nil {
		return "", err
	}
	line, err := c.rd.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// stats sends a stats command and returns its STAT lines as a map.
func (c *mcConn) stats(args string) (map[string]string, error) {
	if _, err := io.WriteString(c.nc, strings.TrimSpace("stats "+args)+"\r\n"); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "END" {
			return m, nil
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "STAT" {
			return nil, fmt.Errorf("stats %s: unexpected line %q", args, line)
		}
		m[f[1]] = f[2]
	}
}

func loadMemcached(ctx context.Context, s server, seed io.Reader) error {
	c, err := mcDial(ctx, s)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	rd := bufio.NewReader(seed)
	for {
		head, err := rd.ReadString('\n')
		if err == io.EOF && head == "" {
			return nil
		} else if err != nil {
			return fmt.Errorf("read seed: %w", err)
		}
		f := strings.Fields(head)
		if len(f) != 5 || f[0] != "set" {
			return fmt.Errorf("read seed: not a set command: %q", head)
		}
		n, err := strconv.Atoi(f[4])
		if err != nil || n < 0 || n > 1<<20 {
			return fmt.Errorf("read seed: bad length in %q", head)
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(rd, data); err != nil {
			return fmt.Errorf("read seed: %w", err)
		}
		if r, err := c.do(head + string(data)); err != nil || r != "STORED" {
			return fmt.Errorf("store %s: %q %v", f[1], r, err)
		}
	}
}

func checkMemcached(ctx context.Context, s server) error {
	c, err := mcDial(ctx, s)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	st, err := c.stats("")
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	items, err := c.stats("items")
	if err != nil {
		return fmt.Errorf("stats items: %w", err)
	}
	n := func(m map[string]string, k string) int64 {
		v, _ := strconv.ParseInt(m[k], 10, 64)
		return v
	}
	if err := want("curr_items", n(st, "curr_items"), lab.MemcachedPersons+lab.MemcachedSessions); err != nil {
		return err
	}
	if err := want("persons in their slab class", n(items, fmt.Sprintf("items:%d:number", lab.MemcachedPersonClass)), lab.MemcachedPersons); err != nil {
		return err
	}
	return want("sessions in their slab class", n(items, fmt.Sprintf("items:%d:number", lab.MemcachedSessionClass)), lab.MemcachedSessions)
}
