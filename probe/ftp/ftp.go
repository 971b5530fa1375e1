// Package ftp is the probe for FTP servers: it logs in as "anonymous" and
// lists the tree, bounded in depth and entries; it never reads a file.
package ftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the FTP plugin. It sends USER, PASS, PWD, EPSV or PASV, LIST
// and QUIT: nothing that writes, and no RETR.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "ftp".
func (*Prober) Name() string { return "ftp" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"ftp"} }

// DefaultPorts returns the FTP control port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{21} }

// Bounds on how much of a server the probe reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// stepTimeout bounds each command and each listing.
	stepTimeout = 10 * time.Second
	// maxDepth is how deep below the root the probe lists: the root is
	// depth 0, the top-level directories 1.
	maxDepth = 3
	// maxListings is the most LIST commands per probe.
	maxListings = 24
	// maxEntries is the most entries read in all listings.
	maxEntries = 5000
	// maxListing is the most bytes read from one listing.
	maxListing = 1 << 20
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
	// detailMax bounds the server message kept as a verdict's detail.
	detailMax = 256
)

// anonymousPassword is the password sent with USER anonymous: RFC 1635
// asks for an e-mail address; this one says who is asking.
const anonymousPassword = "ajar-scan@example.org"

// ErrNoDataPort is returned when the dialer cannot reach another port of
// the target, which passive mode needs.
var ErrNoDataPort = errors.New("the dialer cannot open a data connection")

// PortDialer is a dialer that can also reach another port of the target's
// own address: the data connection of passive mode (RFC 959 §3.2; RFC 2428
// §3) goes there, and nowhere else.
type PortDialer interface {
	DialPort(ctx context.Context, port uint16) (net.Conn, error)
}

// Probe logs in anonymously and lists what the server gives. A 530 to the
// login is protected; a server that lets the probe in is exposed, with the
// datasets it could list. Once logged in, a later failure returns the
// exposure found so far together with the error.
func (p *Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	nc, err := t.Dialer.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c := &client{conn: nc, rd: bufio.NewReaderSize(nc, maxLine), t: t}
	defer c.close(ctx)

	open := &probe.Result{Status: ajar.StatusOpen}
	greeting, err := c.read(ctx)
	if err != nil {
		return open, fmt.Errorf("read greeting: %w", err)
	}
	open.Product, open.Version = product(greeting.Text)
	if greeting.Code != 220 {
		open.Detail = detail(greeting)
		return open, nil
	}
	// RFC 959 §5.4: USER answers 230 (in), 331 (password wanted) or 530.
	r, err := c.cmd(ctx, "USER anonymous")
	if err != nil {
		return open, fmt.Errorf("USER: %w", err)
	}
	if r.Code == 331 {
		if r, err = c.cmd(ctx, "PASS "+anonymousPassword); err != nil {
			return open, fmt.Errorf("PASS: %w", err)
		}
	}
	switch {
	case r.Code == 230 || r.Code == 202:
	case r.Code == 530 || r.Code == 332:
		return &probe.Result{Status: ajar.StatusProtected, Product: open.Product, Version: open.Version, Detail: detail(r)}, nil
	default:
		open.Detail = detail(r)
		return open, nil
	}

	res := &probe.Result{Status: ajar.StatusExposed, Product: open.Product, Version: open.Version}
	exp := &ajar.Exposure{Plugin: "ftp", Access: ajar.AccessRead, Datasets: []ajar.Dataset{}}
	res.Exposure = exp
	root := "/"
	r, err = c.cmd(ctx, "PWD")
	if err != nil {
		return res, fmt.Errorf("PWD: %w", err)
	}
	if d, ok := parsePWD(r.Text); r.Code == 257 && ok && strings.HasPrefix(d, "/") && safePath(d) {
		root = d
	}
	w := &walker{c: c, root: root, opts: t.Options, sets: map[string]*tally{}}
	err = w.walk(ctx)
	w.fill(exp)
	if err != nil {
		return res, err
	}
	return res, nil
}

// tally is what the walk found under one top-level directory.
type tally struct {
	files, bytes int64
	cut          bool // a listing was skipped or truncated
	samples      []map[string]string
}

// walker lists the tree breadth first from the root.
type walker struct {
	c        *client
	root     string
	opts     probe.Options
	sets     map[string]*tally
	order    []string
	listings int
	entries  int
	evidence *ajar.Evidence
}

// set returns the tally of the dataset a path below the root belongs to:
// its top-level directory, or "/" for the files of the root itself.
func (w *walker) set(name string) *tally {
	s := w.sets[name]
	if s == nil {
		s = &tally{}
		w.sets[name] = s
		w.order = append(w.order, name)
	}
	return s
}

type dirToList struct {
	path  string
	depth int
	set   string
}

func (w *walker) walk(ctx context.Context) error {
	queue := []dirToList{{path: w.root}}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if w.listings >= maxListings || w.entries >= maxEntries {
			w.cut(d)
			continue
		}
		w.listings++
		data, truncated, err := w.c.list(ctx, d.path)
		if err != nil {
			var re *replyError
			if !errors.As(err, &re) {
				return fmt.Errorf("LIST %s: %w", clip([]byte(d.path), 128), err)
			}
			// The server refused this directory (550): not the end.
			if d.depth == 0 {
				w.evidence = &ajar.Evidence{Request: "LIST " + d.path, Response: excerpt(re.r.String(), evidenceMax)}
			}
			w.cut(d)
			continue
		}
		if d.depth == 0 {
			w.evidence = &ajar.Evidence{Request: "LIST " + d.path, Response: excerpt(string(data), evidenceMax)}
		}
		// One more than the room left tells a full listing from a cut one.
		for _, e := range parseList(data, maxEntries-w.entries+1) {
			if w.entries >= maxEntries {
				truncated = true
				break
			}
			w.entries++
			set := d.set
			if d.depth == 0 {
				set = "/"
				if e.Kind == kindDir {
					set = "/" + e.Name
				}
			}
			full := path.Join(d.path, e.Name)
			switch e.Kind {
			case kindFile:
				s := w.set(set)
				s.files++
				s.bytes += e.Size
				if len(s.samples) < w.opts.Samples {
					s.samples = append(s.samples, map[string]string{"path": relPath(w.root, full), "size": strconv.FormatInt(e.Size, 10)})
				}
			case kindDir:
				s := w.set(set)
				// A name that cannot go on a command line, or a level
				// below the depth limit, is not listed.
				if !safePath(e.Name) || strings.Contains(e.Name, "/") || d.depth+1 > maxDepth {
					s.cut = true
					continue
				}
				queue = append(queue, dirToList{path: full, depth: d.depth + 1, set: set})
			}
		}
		if truncated {
			w.cut(d)
		}
	}
	return nil
}

// cut marks the dataset of a directory that was not listed in full.
func (w *walker) cut(d dirToList) {
	if d.depth == 0 {
		w.set("/").cut = true
		return
	}
	w.set(d.set).cut = true
}

// fill writes the datasets, sorted by name, and their samples.
func (w *walker) fill(exp *ajar.Exposure) {
	exp.Evidence = w.evidence
	names := slices.Clone(w.order)
	slices.Sort(names)
	max := w.opts.MaxDatasets
	if max <= 0 {
		max = probe.DefaultOptions().MaxDatasets
	}
	for _, name := range names {
		if len(exp.Datasets) >= max {
			break
		}
		s := w.sets[name]
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: name, Records: s.files, Bytes: s.bytes, Estimated: s.cut})
		for _, doc := range s.samples {
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: name, Doc: doc})
		}
	}
	exp.Total()
}

// relPath renders a path below the root as the client sees it from "/".
func relPath(root, p string) string {
	rel := strings.TrimPrefix(p, root)
	if !strings.HasPrefix(rel, "/") {
		rel = "/" + rel
	}
	return rel
}

// safePath reports whether a name may go on a command line: no CR, LF or
// NUL (each would end the command and start another, RFC 959 §4.1.3), no
// Telnet IAC, and not empty.
func safePath(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n', 0, 0xff:
			return false
		}
	}
	return true
}

// product reads "220 (vsFTPd 3.0.3)" and the greetings of other servers.
func product(greeting string) (name, version string) {
	for _, p := range []string{"vsFTPd", "ProFTPD", "Pure-FTPd", "FileZilla Server", "Microsoft FTP Service", "Serv-U"} {
		i := strings.Index(greeting, p)
		if i < 0 {
			continue
		}
		rest := strings.TrimLeft(greeting[i+len(p):], " ")
		j := 0
		for j < len(rest) && j < 24 && (rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.' || rest[j] >= 'a' && rest[j] <= 'z') {
			j++
		}
		return p, strings.TrimRight(rest[:j], ".")
	}
	return "", ""
}

// client is one FTP control connection.
type client struct {
	conn net.Conn
	rd   *bufio.Reader
	t    *probe.Target
	// noEPSV is set once the server refused EPSV: PASV from then on.
	noEPSV bool
}

// replyError is a failure reply to a command: the server answered, and
// said no.
type replyError struct {
	cmd string
	r   reply
}

func (e *replyError) Error() string { return e.cmd + ": " + clip([]byte(e.r.String()), detailMax) }

// deadline sets the step deadline: stepTimeout from now, within the
// context's.
func deadline(ctx context.Context, c net.Conn) {
	dl := time.Now().Add(stepTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.SetDeadline(dl)
}

func (c *client) read(ctx context.Context) (reply, error) {
	if err := ctx.Err(); err != nil {
		return reply{}, err
	}
	deadline(ctx, c.conn)
	r, err := readReply(c.rd)
	if err != nil {
		return r, ctxErr(ctx, err)
	}
	return r, nil
}

// cmd sends one command and reads its reply.
func (c *client) cmd(ctx context.Context, line string) (reply, error) {
	if err := ctx.Err(); err != nil {
		return reply{}, err
	}
	deadline(ctx, c.conn)
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		return reply{}, ctxErr(ctx, err)
	}
	return c.read(ctx)
}

// list opens a passive data connection and reads the LIST of dir from it,
// at most maxListing bytes (truncated is then true).
func (c *client) list(ctx context.Context, dir string) (data []byte, truncated bool, err error) {
	port, err := c.passive(ctx)
	if err != nil {
		return nil, false, err
	}
	dc, err := dialData(ctx, c.t, port)
	if err != nil {
		return nil, false, fmt.Errorf("data connection to port %d: %w", port, err)
	}
	defer dc.Close()
	r, err := c.cmd(ctx, "LIST "+dir)
	if err != nil {
		return nil, false, err
	}
	if r.Class() != 1 {
		if r.Class() == 2 {
			// Some servers answer an empty directory at once.
			return nil, false, nil
		}
		return nil, false, &replyError{cmd: "LIST", r: r}
	}
	deadline(ctx, dc)
	data, err = io.ReadAll(io.LimitReader(dc, maxListing+1))
	if err != nil {
		return nil, false, fmt.Errorf("read listing: %w", ctxErr(ctx, err))
	}
	if len(data) > maxListing {
		data, truncated = data[:maxListing], true
	}
	dc.Close()
	// 226 or 250 closes the transfer; 426 when a truncated read closed the
	// data connection early.
	r, err = c.read(ctx)
	if err != nil {
		return data, truncated, fmt.Errorf("end of listing: %w", err)
	}
	if r.Class() != 2 && !truncated {
		return data, truncated, &replyError{cmd: "LIST", r: r}
	}
	return data, truncated, nil
}

// passive asks for a data port: EPSV first (RFC 2428), PASV when the server
// does not know it.
func (c *client) passive(ctx context.Context) (uint16, error) {
	if !c.noEPSV {
		r, err := c.cmd(ctx, "EPSV")
		if err != nil {
			return 0, fmt.Errorf("EPSV: %w", err)
		}
		if r.Code == 229 {
			return parseEPSV(r.Text)
		}
		c.noEPSV = true
	}
	r, err := c.cmd(ctx, "PASV")
	if err != nil {
		return 0, fmt.Errorf("PASV: %w", err)
	}
	if r.Code != 227 {
		return 0, &replyError{cmd: "PASV", r: r}
	}
	// The address the server names is not dialled: the data connection
	// goes to the target's own address. A server behind NAT names its
	// inside address; a hostile one names a third party (the "FTP bounce"
	// of RFC 2577 in reverse).
	_, port, err := parsePASV(r.Text)
	return port, err
}

// dialData connects to a port of the target's own address through the
// target's dialer.
func dialData(ctx context.Context, t *probe.Target, port uint16) (net.Conn, error) {
	switch d := t.Dialer.(type) {
	case PortDialer:
		return d.DialPort(ctx, port)
	case *probe.TargetDialer:
		// The engine's dialer: the same one with another port.
		dd := *d
		dd.Target.Port = port
		return dd.Dial(ctx)
	}
	return nil, fmt.Errorf("%s: %w", netip.AddrPortFrom(t.Addr, port), ErrNoDataPort)
}

// close says QUIT, briefly, and closes the connection.
func (c *client) close(ctx context.Context) {
	if ctx.Err() == nil {
		_ = c.conn.SetDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c.conn, "QUIT\r\n"); err == nil {
			_, _ = readReply(c.rd)
		}
	}
	c.conn.Close()
}

// ctxErr adds the context's error to a network error it caused, so that
// callers can tell a deadline from a broken server.
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

// excerpt returns at most n bytes of s as valid UTF-8.
func excerpt(s string, n int) string { return clip([]byte(s), n) }

// detail is a server reply fit for a verdict: one bounded line.
func detail(r reply) string {
	return strings.TrimSpace(excerpt(strings.ReplaceAll(r.String(), "\n", " "), detailMax))
}
