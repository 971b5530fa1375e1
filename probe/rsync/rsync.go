// Package rsync is the probe for rsync daemons: it lists the modules and
// the files of those open to anyone, bounded; it never transfers a file.
package rsync

import (
	"bufio"
	"context"

	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the rsync plugin. It sends the module-list request, module
// names and the arguments of a recursive listing by the sender (what
// `rsync --list-only rsync://host/module/` sends): no password, no file
// request.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "rsync".
func (*Prober) Name() string { return "rsync" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"rsync"} }

// DefaultPorts returns the rsync daemon port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{873} }

// Bounds on how much of a server the probe reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// stepTimeout bounds each exchange.
	stepTimeout = 10 * time.Second
	// clientProtocol is the protocol the probe speaks (see flist.go).
	clientProtocol = 29
	// maxModules is the most modules read from the list.
	maxModules = 256
	// maxOpened is the most modules the probe opens.
	maxOpened = 16
	// maxTextLines bounds the lines of a text phase (message of the day
	// and module list).
	maxTextLines = 512
	// maxEntries is the most file list entries read per module.
	maxEntries = 10000
	// maxListBytes is the most bytes read of one module's file list.
	maxListBytes = 4 << 20
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
	// detailMax bounds the server message kept as a verdict's detail.
	detailMax = 256
)

// Probe lists the modules and each module's files. A daemon whose modules
// all want a password (or refuse the client) is protected; one that lists
// any module's files is exposed, with a dataset per such module.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	res := &probe.Result{Status: ajar.StatusOpen, Product: "rsync"}
	mods, listing, err := listModules(ctx, t, res)
	if err != nil {
		return res, err
	}
	if res.Detail != "" {
		// The daemon refused the list: "@ERROR: access denied".
		return res, nil
	}
	if len(mods) == 0 {
		res.Detail = "the daemon lists no module"
		return res, nil
	}
	exp := &ajar.Exposure{
		Plugin:   "rsync",
		Access:   ajar.AccessRead,
		Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{Request: "#list", Response: clip(listing, evidenceMax)},
	}
	opts := t.Options
	if opts.MaxDatasets <= 0 {
		opts.MaxDatasets = probe.DefaultOptions().MaxDatasets
	}
	var locked, refused []string
	var firstErr error
	for i, m := range mods {
		if i >= maxOpened || len(exp.Datasets) >= opts.MaxDatasets || ctx.Err() != nil {
			break
		}
		ml, err := listModule(ctx, t, m.Name, opts.Samples)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("module %s: %w", clip(m.Name, 64), err)
		}
		switch {
		case ml == nil:
			continue
		case ml.auth:
			locked = append(locked, m.Name)
			continue
		case ml.refused != "":
			refused = append(refused, m.Name+" ("+ml.refused+")")
			continue
		case !ml.listed:
			continue
		}
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: m.Name, Records: ml.files, Bytes: ml.bytes, Estimated: ml.cut})
		for _, s := range ml.samples {
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: m.Name, Doc: s})
		}
	}
	var notes []string
	if len(mods) > maxOpened {
		notes = append(notes, fmt.Sprintf("%d modules listed, the first %d opened", len(mods), maxOpened))
	}
	if len(locked) > 0 {
		notes = append(notes, "password required for "+strings.Join(locked, ", "))
	}
	if len(refused) > 0 {
		notes = append(notes, "refused: "+strings.Join(refused, ", "))
	}
	res.Detail = clip(strings.Join(notes, "; "), detailMax)
	if len(exp.Datasets) > 0 {
		exp.Total()
		res.Status, res.Exposure = ajar.StatusExposed, exp
		return res, firstErr
	}
	if firstErr == nil && len(locked)+len(refused) > 0 {
		res.Status = ajar.StatusProtected
	}
	return res, firstErr
}

// daemonConn is one connection to the daemon, after the version exchange.
type daemonConn struct {
	conn     net.Conn
	rd       *bufio.Reader
	protocol int
}

// dial connects and exchanges versions: the daemon's greeting first, then
// the probe's.
func dial(ctx context.Context, t *probe.Target, res *probe.Result) (*daemonConn, error) {
	nc, err := t.Dialer.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &daemonConn{conn: nc, rd: bufio.NewReaderSize(nc, maxLine)}
	line, err := s.line(ctx)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read greeting: %w", err)
	}
	g, err := parseGreeting(line)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if res != nil {
		res.Version = "protocol " + g.Version
	}
	s.protocol = min(g.Protocol, clientProtocol)
	if s.protocol < 27 {
		nc.Close()
		return nil, fmt.Errorf("protocol %d is older than the probe reads: %w", g.Protocol, ErrProtocol)
	}
	if err := s.write(ctx, "@RSYNCD: "+strconv.Itoa(clientProtocol)+".0\n"); err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

func (s *daemonConn) step(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dl := time.Now().Add(stepTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	return s.conn.SetDeadline(dl)
}

func (s *daemonConn) line(ctx context.Context) (string, error) {
	if err := s.step(ctx); err != nil {
		return "", err
	}
	l, err := readLine(s.rd)
	return l, ctxErr(ctx, err)
}

func (s *daemonConn) write(ctx context.Context, msg string) error {
	if err := s.step(ctx); err != nil {
		return err
	}
	if _, err := io.WriteString(s.conn, msg); err != nil {
		return fmt.Errorf("write: %w", ctxErr(ctx, err))
	}
	return nil
}

// listModules asks for the module list. A refusal ("@ERROR: …") is set as
// the result's status and detail.
func listModules(ctx context.Context, t *probe.Target, res *probe.Result) ([]module, string, error) {
	s, err := dial(ctx, t, res)
	if err != nil {
		return nil, "", err
	}
	defer s.conn.Close()
	if err := s.write(ctx, "#list\n"); err != nil {
		return nil, "", err
	}
	var mods []module
	var listing strings.Builder
	for range maxTextLines {
		line, err := s.line(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Old daemons close without "@RSYNCD: EXIT".
				return mods, listing.String(), nil
			}
			return mods, listing.String(), fmt.Errorf("read module list: %w", err)
		}
		switch {
		case line == "@RSYNCD: EXIT":
			return mods, listing.String(), nil
		case strings.HasPrefix(line, "@ERROR"):
			res.Detail = clip(line, detailMax)
			if refusal(line) {
				res.Status = ajar.StatusProtected
			}
			return nil, "", nil
		}
		if listing.Len() < evidenceMax {
			listing.WriteString(line + "\n")
		}
		if m, ok := parseModuleLine(line); ok && len(mods) < maxModules {
			mods = append(mods, m)
		}
	}
	return mods, listing.String(), fmt.Errorf("module list longer than %d lines: %w", maxTextLines, ErrLimit)
}

// refusal reports whether an @ERROR line refuses this client: a password
// is needed, or its address is not allowed.
func refusal(line string) bool {
	l := strings.ToLower(line)
	return strings.Contains(l, "auth failed") || strings.Contains(l, "access denied")
}

// moduleListing is what opening one module gave.
type moduleListing struct {
	auth    bool   // the daemon asked for a password
	refused string // the daemon refused the client
	listed  bool   // the file list was read, in full or up to a cap
	files   int64
	bytes   int64
	cut     bool
	samples []map[string]string
}

// listModule opens a module and reads its file list: the arguments are
// those of a recursive listing ("--server --sender -r . MODULE/"), then an
// empty filter list.
func listModule(ctx context.Context, t *probe.Target, name string, samples int) (*moduleListing, error) {
	s, err := dial(ctx, t, nil)
	if err != nil {
		return nil, err
	}
	defer s.conn.Close()
	if err := s.write(ctx, name+"\n"); err != nil {
		return nil, err
	}
	ml := &moduleListing{}
	for n := 0; ; n++ {
		if n >= maxTextLines {
			return nil, fmt.Errorf("no answer to the module request in %d lines: %w", maxTextLines, ErrLimit)
		}
		line, err := s.line(ctx)
		if err != nil {
			return nil, fmt.Errorf("open module: %w", err)
		}
		switch {
		case line == "@RSYNCD: OK":
		case strings.HasPrefix(line, "@RSYNCD: AUTHREQD"):
			// The challenge is not answered: no password is tried.
			ml.auth = true
			return ml, nil
		case strings.HasPrefix(line, "@ERROR"):
			if refusal(line) {
				ml.refused = strings.TrimSpace(clip(strings.TrimPrefix(line, "@ERROR:"), 96))
				return ml, nil
			}
			return nil, fmt.Errorf("open module: %s", clip(line, detailMax))
		case strings.HasPrefix(line, "@RSYNCD: EXIT"):
			return nil, fmt.Errorf("open module: the daemon ended the connection")
		default:
			continue // the message of the day
		}
		break
	}
	// Protocols before 30 separate arguments with newlines; an empty one
	// ends them (clientserver.c, read_args).
	if err := s.write(ctx, "--server\n--sender\n-r\n.\n"+name+"/\n\n"); err != nil {
		return nil, err
	}
	// The checksum seed comes before multiplexing starts; an early error
	// comes as a text line instead.
	if err := s.step(ctx); err != nil {
		return nil, err
	}
	var seed [4]byte
	if _, err := io.ReadFull(s.rd, seed[:]); err != nil {
		return nil, fmt.Errorf("read checksum seed: %w", ctxErr(ctx, err))
	}
	if string(seed[:]) == "@ERR" {
		line, _ := readLine(s.rd)
		return nil, fmt.Errorf("list module: @ERR%s", clip(line, detailMax))
	}
	// The filter list the receiver sends: empty (a zero length).
	if err := s.write(ctx, "\x00\x00\x00\x00"); err != nil {
		return nil, err
	}
	if err := s.step(ctx); err != nil {
		return nil, err
	}
	mux := &muxReader{r: s.rd, budget: maxListBytes}
	fl := &flistReader{r: mux, protocol: s.protocol}
	for seen := 0; ; seen++ {
		e, err := fl.next()
		if errors.Is(err, errEnd) {
			ml.listed = true
			return ml, nil
		}
		if err != nil {
			// What was read before a failure was readable all the same.
			ml.listed, ml.cut = seen > 0, true
			if errors.Is(err, ErrLimit) {
				ml.listed = true
				return ml, nil
			}
			if errors.Is(err, io.EOF) {
				// The stream ended without the end of the list.
				err = io.ErrUnexpectedEOF
			}
			if mux.message != "" {
				err = fmt.Errorf("%w: %s", err, clip(mux.message, detailMax))
			}
			return ml, fmt.Errorf("read file list: %w", ctxErr(ctx, err))
		}
		if !e.IsRegular() {
			continue
		}
		ml.files++
		ml.bytes += e.Size
		if len(ml.samples) < samples {
			ml.samples = append(ml.samples, map[string]string{"path": clip(e.Name, 256), "size": strconv.FormatInt(e.Size, 10)})
		}
		if ml.files >= maxEntries {
			ml.listed, ml.cut = true, true
			return ml, nil
		}
	}
}

// ctxErr adds the context's error to a network error it caused, so that
// callers can tell a deadline from a broken server.
func ctxErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}
