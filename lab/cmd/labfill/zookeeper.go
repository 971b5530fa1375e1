package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

// The ZooKeeper seed is JSON lines of znodes, parents first. lab/up loads
// the secured variant while it runs without enforced authentication: the
// client library speaks no SASL.

type znodeLine struct {
	Path string `json:"path"`
	Data string `json:"data"`
}

// zkTop are the seeded top-level znodes, removed before a load.
var zkTop = []string{"/persons", "/config"}

// zkConfig are the children of /config.
var zkConfig = [lab.ZooKeeperConfig][2]string{
	{"cluster_name", "hukou-prod"},
	{"kafka_brokers", "10.20.30.50:9092,10.20.30.51:9092"},
	{"db_url", "jdbc:mysql://10.20.30.40:3306/hukou"},
	{"db_user", "hukou_app"},
	{"db_password", "Hk2022!prod"},
	{"export_dir", "/data/export"},
	{"leader", "node-1"},
	{"version", "3.2.7"},
}

func printZooKeeper(w *bufio.Writer, g fake.Generator) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	lines := []znodeLine{{"/persons", ""}}
	for i := 1; i <= lab.ZooKeeperPersons; i++ {
		b, err := json.Marshal(personOf(g.Person(i)))
		if err != nil {
			return err
		}
		lines = append(lines, znodeLine{fmt.Sprintf("/persons/%05d", i), string(b)})
	}
	lines = append(lines, znodeLine{"/config", ""})
	for _, kv := range zkConfig {
		lines = append(lines, znodeLine{"/config/" + kv[0], kv[1]})
	}
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// quiet drops the client library's log lines.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// zkOnly is a host provider that knows one server.
type zkOnly string

func (h zkOnly) Init([]string) error  { return nil }
func (h zkOnly) Len() int             { return 1 }
func (h zkOnly) Next() (string, bool) { return string(h), false }
func (h zkOnly) Connected()           {}

func zkConnect(ctx context.Context, s server) (*zk.Conn, error) {
	c, events, err := zk.Connect([]string{s.addr}, 10*time.Second,
		zk.WithHostProvider(zkOnly(s.addr)), zk.WithLogger(quiet{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, nil
			}
			if ev.State == zk.StateAuthFailed || ev.State == zk.StateExpired {
				c.Close()
				return nil, fmt.Errorf("connect: %s", ev.State)
			}
		case <-ctx.Done():
			c.Close()
			return nil, fmt.Errorf("connect: %w", ctx.Err())
		}
	}
}

// zkDelete removes path and everything under it.
func zkDelete(c *zk.Conn, path string) error {
	children, _, err := c.Children(path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	} else if err != nil {
		return err
	}
	for _, ch := range children {
		if err := zkDelete(c, path+"/"+ch); err != nil {
			return err
		}
	}
	if err := c.Delete(path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

func loadZooKeeper(ctx context.Context, s server, seed io.Reader) error {
	c, err := zkConnect(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, p := range zkTop {
		if err := zkDelete(c, p); err != nil {
			return fmt.Errorf("delete %s: %w", p, err)
		}
	}
	var ops []any
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := c.Multi(ops...)
		ops = ops[:0]
		return err
	}
	dec := json.NewDecoder(seed)
	for {
		var l znodeLine
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("read seed: %w", err)
		}
		ops = append(ops, &zk.CreateRequest{Path: l.Path, Data: []byte(l.Data), Acl: zk.WorldACL(zk.PermAll)})
		if len(ops) == 100 {
			if err := flush(); err != nil {
				return fmt.Errorf("create: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	return nil
}

// zkNodes is the number of znodes of a seeded server as srvr counts them:
// the seed's, ZooKeeper's own /zookeeper, /zookeeper/config and
// /zookeeper/quota, and the root, which the server's table holds twice
// (as "" and as "/").
const zkNodes = 2 + lab.ZooKeeperPersons + lab.ZooKeeperConfig + 3 + 2

// checkZooKeeper reads the node count srvr prints, which either variant
// answers without authentication.
// https://zookeeper.apache.org/doc/r3.8.0/zookeeperAdmin.html#sc_4lw
func checkZooKeeper(ctx context.Context, s server) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if _, err := io.WriteString(nc, "srvr"); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(nc, 64<<10))
	if err != nil {
		return fmt.Errorf("srvr: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Node count: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("srvr: %q: %w", line, err)
			}
			return want("znodes", n, zkNodes)
		}
	}
	return fmt.Errorf("srvr: no node count in %q", b)
}
