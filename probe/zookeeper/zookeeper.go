// Package zookeeper is the probe for ZooKeeper: it reads the four-letter
// words the server allows and walks the znode tree, bounded, through the client.
package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the ZooKeeper plugin. It sends the four-letter words srvr and
// mntr, then, as a client, only getChildren, exists, getData and getACL.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "zookeeper".
func (*Prober) Name() string { return "zookeeper" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"zookeeper"} }

// DefaultPorts returns ZooKeeper's client port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{2181} }

// Bounds on how much of a server the probe reads.
const (
	defaultTimeout = 30 * time.Second
	// maxNodes is the most znodes whose children are listed.
	maxNodes = 2000
	// maxDepth is the deepest level listed below the root.
	maxDepth = 8
	// max4lw bounds the answer to a four-letter word.
	max4lw = 64 << 10
	// maxSampleData is the largest znode whose data is read.
	maxSampleData = 16 << 10
	// sessionTimeout is asked of the server; the probe ends sooner.
	sessionTimeout = 10 * time.Second
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
)

// ErrNotZooKeeper is returned when the server does not answer like ZooKeeper.
var ErrNotZooKeeper = errors.New("not a ZooKeeper answer")

// systemNode is ZooKeeper's own subtree (quotas, dynamic configuration).
const systemNode = "/zookeeper"

// Probe reads what the server gives away without credentials. A server that
// requires SASL authentication, or whose root is guarded by an ACL, is
// protected; one that does not answer like ZooKeeper is open, with an error.
// Once the root's children are listed, a later failure returns the exposure
// found so far together with the error.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	open := &probe.Result{Status: ajar.StatusOpen}
	var evidence *ajar.Evidence

	// srvr names the version; every server allows it unless its operator
	// emptied the whitelist, and an unknown word closes the connection.
	b, err := fourLetter(ctx, t.Dialer, "srvr")
	if err != nil {
		return open, fmt.Errorf("srvr: %w", err)
	}
	info, isZK := parseSrvr(b)
	switch {
	case isZK:
		open.Product, open.Version = "ZooKeeper", info.Version
		evidence = &ajar.Evidence{Request: "srvr", Response: clip(string(b), evidenceMax)}
	case notAllowed(b):
		open.Product = "ZooKeeper"
	case len(b) > 0:
		return open, fmt.Errorf("srvr: %q: %w", clip(string(b), 64), ErrNotZooKeeper)
	}
	var mntr map[string]string
	if isZK {
		if b, err := fourLetter(ctx, t.Dialer, "mntr"); err == nil && !notAllowed(b) {
			mntr = parseMntr(b)
		}
	}

	w, err := connect(ctx, t)
	if err != nil {
		return open, err
	}
	defer w.close(ctx)

	root, _, err := w.children(ctx, "/")
	if reason := refusal(err); reason != "" {
		return &probe.Result{Status: ajar.StatusProtected, Product: "ZooKeeper", Version: open.Version, Detail: reason}, nil
	}
	if err != nil {
		return open, fmt.Errorf("list /: %w", err)
	}
	res := &probe.Result{Status: ajar.StatusExposed, Product: "ZooKeeper", Version: open.Version}
	if evidence == nil {
		evidence = &ajar.Evidence{Request: "getChildren /", Response: clip(strings.Join(root, "\n"), evidenceMax)}
	}
	exp := &ajar.Exposure{Plugin: "zookeeper", Access: ajar.AccessRead, Datasets: []ajar.Dataset{}, Evidence: evidence}
	res.Exposure = exp
	if mntr != nil && exp.Evidence.Request == "srvr" {
		// mntr's figures are the server's own count of everything.
		exp.Evidence.Response = clip(exp.Evidence.Response+"\n"+"zk_znode_count\t"+mntr["zk_znode_count"]+
			"\nzk_approximate_data_size\t"+mntr["zk_approximate_data_size"], evidenceMax)
	}

	// The root's ACL: world:anyone with every permission lets anyone
	// create, change and delete, and change the ACL itself.
	// https://zookeeper.apache.org/doc/r3.8.0/zookeeperProgrammers.html#sc_ZooKeeperAccessControl
	if acl, err := w.acl(ctx, "/"); err == nil && worldAll(acl) {
		exp.Access = ajar.AccessAdmin
	}

	maxDatasets := t.Options.MaxDatasets
	if maxDatasets <= 0 {
		maxDatasets = probe.DefaultOptions().MaxDatasets
	}
	slices.Sort(root)
	if len(root) > maxDatasets {
		root = root[:maxDatasets]
	}
	err = w.walk(ctx, exp, root)
	exp.Total()
	if err != nil {
		return res, fmt.Errorf("walk the tree: %w", err)
	}
	if err := w.sample(ctx, exp, t.Options.Samples); err != nil {
		return res, fmt.Errorf("sample: %w", err)
	}
	return res, nil
}

// worldAll reports whether an ACL grants anyone every permission.
func worldAll(acl []zk.ACL) bool {
	for _, a := range acl {
		if a.Scheme == "world" && a.ID == "anyone" && a.Perms&zk.PermAll == zk.PermAll {
			return true
		}
	}
	return false
}

// refusal returns why a request was refused for want of credentials, or "".
// With enforce.auth.enabled a server closes the session of an
// unauthenticated client at its first request with error -124
// (SESSIONCLOSEDREQUIRESASLAUTH); an ACL answers NoAuth (-102).
func refusal(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, zk.ErrNoAuth):
		return "not authorized to list / (NoAuth)"
	case errors.Is(err, zk.ErrAuthFailed):
		return "authentication failed"
	case strings.Contains(err.Error(), "-124"):
		return "the server requires SASL authentication (error -124, session closed)"
	}
	return ""
}

// fourLetter sends a four-letter word on its own connection and reads the
// answer until the server closes, at most max4lw bytes.
// https://zookeeper.apache.org/doc/r3.8.0/zookeeperAdmin.html#sc_4lw
func fourLetter(ctx context.Context, d probe.Dialer, word string) ([]byte, error) {
	c, err := d.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, word); err != nil {
		return nil, ctxErr(ctx, err)
	}
	b, err := io.ReadAll(io.LimitReader(c, max4lw+1))
	if len(b) > max4lw {
		return nil, fmt.Errorf("answer over %d bytes: %w", max4lw, ErrNotZooKeeper)
	}
	if err != nil && len(b) == 0 {
		return nil, ctxErr(ctx, err)
	}
	return b, nil
}

// walker is a client session.
type walker struct {
	c *zk.Conn
}

// quiet drops the client library's log lines.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// only is a host provider that knows the target alone: the library never
// resolves a name or tries another server.
type only struct {
	addr  string
	tried bool
}

func (h *only) Init([]string) error { return nil }
func (h *only) Len() int            { return 1 }

// Next returns the target; every try after the first waits a second, as
// the library does once it has tried all its servers.
func (h *only) Next() (string, bool) {
	retry := h.tried
	h.tried = true
	return h.addr, retry
}
func (h *only) Connected() {}

// connect opens a session through the target dialer and waits for it.
func connect(ctx context.Context, t *probe.Target) (*walker, error) {
	addr := t.AddrPort().String()
	dial := func(network, address string, _ time.Duration) (net.Conn, error) {
		c, err := t.Dialer.DialAddr(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return &guardedConn{Conn: c}, nil
	}
	c, events, err := zk.Connect([]string{addr}, sessionTimeout,
		zk.WithDialer(dial), zk.WithHostProvider(&only{addr: addr}),
		zk.WithLogger(quiet{}), zk.WithLogInfo(false), zk.WithMaxBufferSize(maxFrame))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	w := &walker{c: c}
	for {
		select {
		case ev := <-events:
			switch ev.State {
			case zk.StateHasSession:
				go drain(events)
				return w, nil
			case zk.StateAuthFailed:
				w.close(ctx)
				return nil, fmt.Errorf("open a session: %w", zk.ErrAuthFailed)
			}
		case <-ctx.Done():
			w.close(ctx)
			return nil, fmt.Errorf("open a session: %w", ctx.Err())
		}
	}
}

// drain reads the session's events until the library closes the channel.
func drain(events <-chan zk.Event) {
	for range events {
	}
}

// close ends the session. The library waits up to a second for the server
// to confirm; past the deadline, the probe does not wait with it.
func (w *walker) close(ctx context.Context) {
	if ctx.Err() != nil {
		go w.c.Close()
		return
	}
	w.c.Close()
}

// call runs a request of the library, which takes no context, and stops
// waiting for it when ctx ends (closing the session ends the request).
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// children lists a znode's children and returns its stat.
func (w *walker) children(ctx context.Context, p string) ([]string, *zk.Stat, error) {
	type ls struct {
		names []string
		stat  *zk.Stat
	}
	r, err := call(ctx, func() (ls, error) {
		names, stat, err := w.c.Children(p)
		return ls{names, stat}, err
	})
	return r.names, r.stat, err
}

func (w *walker) acl(ctx context.Context, p string) ([]zk.ACL, error) {
	return call(ctx, func() ([]zk.ACL, error) {
		acl, _, err := w.c.GetACL(p)
		return acl, err
	})
}

func (w *walker) get(ctx context.Context, p string) ([]byte, error) {
	return call(ctx, func() ([]byte, error) {
		b, _, err := w.c.Get(p)
		return b, err
	})
}

// node is a znode met on the walk.
type node struct {
	path  string
	top   int // the dataset it belongs to
	depth int
}

// walk lists the tree breadth first from the top-level znodes, at most
// maxNodes znodes down to maxDepth. Each top-level znode is a dataset: its
// records are the znodes below it, its bytes their data and its own. A
// dataset whose subtree was not listed to the end is estimated.
func (w *walker) walk(ctx context.Context, exp *ajar.Exposure, top []string) error {
	var queue []node
	for _, name := range top {
		p := "/" + name
		queue = append(queue, node{path: p, top: len(exp.Datasets), depth: 1})
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: clip(p, 256), System: p == systemNode})
	}
	listed := 0
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		d := &exp.Datasets[n.top]
		if listed >= maxNodes || n.depth > maxDepth {
			d.Estimated = true
			continue
		}
		listed++
		names, stat, err := w.children(ctx, n.path)
		if errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrNoAuth) {
			continue // gone since listed, or guarded by its own ACL
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", clip(n.path, 128), err)
		}
		d.Bytes += int64(max(stat.DataLength, 0))
		if n.depth > 1 {
			d.Records++
		}
		for _, name := range names {
			queue = append(queue, node{path: path.Join(n.path, name), top: n.top, depth: n.depth + 1})
		}
		if len(names) < int(stat.NumChildren) {
			d.Estimated = true
		}
	}
	return nil
}

// sample reads the data of up to n znodes of each dataset (not the
// system's), depth first from the top, skipping znodes with large data.
func (w *walker) sample(ctx context.Context, exp *ajar.Exposure, n int) error {
	if n <= 0 {
		return nil
	}
	for i := range exp.Datasets {
		d := &exp.Datasets[i]
		if d.System || d.Records == 0 {
			continue
		}
		names, _, err := w.children(ctx, d.Name)
		if err != nil {
			continue
		}
		slices.Sort(names)
		got := 0
		for _, name := range names {
			if got >= n {
				break
			}
			p := path.Join(d.Name, name)
			ok, stat, err := w.exists(ctx, p)
			if err != nil || !ok || stat.DataLength <= 0 || stat.DataLength > maxSampleData {
				continue
			}
			data, err := w.get(ctx, p)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				continue
			}
			got++
			doc, fields := sampleDoc(p, data)
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: d.Name, Doc: doc})
			for _, f := range fields {
				if !slices.Contains(d.Fields, f) {
					d.Fields = append(d.Fields, f)
				}
			}
		}
	}
	return nil
}

// exists reads a znode's stat.
func (w *walker) exists(ctx context.Context, p string) (bool, *zk.Stat, error) {
	type st struct {
		ok   bool
		stat *zk.Stat
	}
	r, err := call(ctx, func() (st, error) {
		ok, stat, err := w.c.Exists(p)
		return st{ok, stat}, err
	})
	return r.ok, r.stat, err
}

// ctxErr adds the context's error to a network error it caused.
func ctxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}
