// Package memcached is the probe for memcached's text protocol: it reads the
// statistics, the slab classes, a capped dump of key names and one or two values.
package memcached

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the memcached plugin. It sends only stats, stats items, stats
// slabs, lru_crawler metadump all (read up to a cap, the connection dropped
// if there is more) and get of at most maxGets keys in each of at most
// maxSampledClasses slab classes.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "memcached".
func (*Prober) Name() string { return "memcached" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"memcached"} }

// DefaultPorts returns memcached's port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{11211} }

// Bounds on how much of a server the probe reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// maxLine is the longest answer line read; memcached's are far shorter.
	maxLine = 4096
	// maxStatLines bounds one stats answer (stats items: 63 classes of
	// about 30 lines).
	maxStatLines = 4096
	// maxDumpLines and maxDumpBytes bound the metadump read.
	maxDumpLines = 2000
	maxDumpBytes = 512 << 10
	// maxPatterns is the most key patterns reported per slab class.
	maxPatterns = 16
	// maxGets is the most values read per slab class, whatever the options
	// say, and maxSampledClasses the most slab classes sampled.
	maxGets           = 2
	maxSampledClasses = 8
	// maxGetSize is the largest item whose value is read.
	maxGetSize = 16 << 10
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
)

// ErrNotMemcached is returned when the server does not answer like memcached.
var ErrNotMemcached = errors.New("not a memcached text-protocol answer")

// ErrTooLong is returned for an answer line or block over the probe's caps.
var ErrTooLong = errors.New("answer over the read limit")

// refusal is an error line (ERROR, CLIENT_ERROR …, SERVER_ERROR …).
type refusal string

func (r refusal) Error() string { return "server answered " + strconv.Quote(string(r)) }

// Probe reads what the server gives away without credentials. A server that
// wants SASL authentication is protected; one that does not answer like
// memcached is open, with an error. Once stats has proved the exposure, a
// later failure returns the exposure found so far together with the error.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	c, err := dial(ctx, t.Dialer)
	if err != nil {
		return nil, err
	}
	defer func() { c.Close() }()

	open := &probe.Result{Status: ajar.StatusOpen}
	stats, err := c.stats(ctx, "")
	var ref refusal
	switch {
	case errors.As(err, &ref) && protectedBy(string(ref)):
		return &probe.Result{Status: ajar.StatusProtected, Product: "memcached", Detail: string(ref)}, nil
	case errors.As(err, &ref):
		return open, fmt.Errorf("read stats: %w", ErrNotMemcached)
	case err != nil:
		return open, fmt.Errorf("read stats: %w", err)
	case stats["version"] == "" || stats["curr_items"] == "":
		return open, fmt.Errorf("read stats: no version or item count: %w", ErrNotMemcached)
	}

	res := &probe.Result{Status: ajar.StatusExposed, Product: "memcached", Version: clip(stats["version"], 64)}
	exp := &ajar.Exposure{
		Plugin: "memcached",
		// memcached has no users: whoever connects may run every command,
		// flush_all and the settings commands included.
		Access:   ajar.AccessAdmin,
		Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{Request: "stats", Response: evidence(stats)},
	}
	res.Exposure = exp

	items, err := c.stats(ctx, "items")
	if err != nil {
		return res, fmt.Errorf("read stats items: %w", err)
	}
	slabs, err := c.stats(ctx, "slabs")
	if err != nil {
		return res, fmt.Errorf("read stats slabs: %w", err)
	}
	cls := classes(items, slabs)
	maxDatasets := t.Options.MaxDatasets
	if maxDatasets <= 0 {
		maxDatasets = probe.DefaultOptions().MaxDatasets
	}
	if len(cls) > maxDatasets {
		cls = cls[:maxDatasets]
	}
	index := map[int]int{} // class id → dataset
	for _, k := range cls {
		index[k.ID] = len(exp.Datasets)
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: "slab " + strconv.Itoa(k.ID), Records: k.Items, Bytes: k.Bytes})
	}
	if len(cls) == 0 {
		// A server that lists no classes still says how much it holds.
		if n := statInt(stats, "curr_items"); n > 0 {
			exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: "items", Records: n, Bytes: statInt(stats, "bytes")})
		}
	}
	exp.Total()
	if len(cls) == 0 {
		return res, nil
	}

	// Key names: the metadump is read up to a cap; a server with more keys
	// is left talking and the connection dropped.
	entries, complete, err := c.metadump(ctx)
	if err != nil && !errors.As(err, &ref) {
		return res, fmt.Errorf("read lru_crawler metadump: %w", err)
	}
	samples := map[int][]string{}
	patterns := map[int][]string{}
	per := min(t.Options.Samples, maxGets)
	for _, e := range entries {
		i, ok := index[e.Class]
		if !ok {
			continue
		}
		if p := keyPattern(e.Key); !slices.Contains(patterns[i], p) && len(patterns[i]) < maxPatterns {
			patterns[i] = append(patterns[i], p)
		}
		if len(samples[i]) < per && (samples[i] != nil || len(samples) < maxSampledClasses) &&
			e.Size <= maxGetSize && !strings.ContainsAny(e.Key, " \r\n\x00") {
			samples[i] = append(samples[i], e.Key)
		}
	}
	for i, p := range patterns {
		slices.Sort(p)
		exp.Datasets[i].Fields = p
	}
	if len(samples) == 0 {
		return res, nil
	}
	if !complete {
		c.Close()
		if c, err = dial(ctx, t.Dialer); err != nil {
			return res, err
		}
	}
	for i := range exp.Datasets {
		keys := samples[i]
		if len(keys) == 0 {
			continue
		}
		values, err := c.get(ctx, keys)
		if err != nil {
			return res, fmt.Errorf("get %d keys of %s: %w", len(keys), exp.Datasets[i].Name, err)
		}
		for _, v := range values {
			doc, fields := sampleDoc(v.key, v.data)
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: exp.Datasets[i].Name, Doc: doc})
			for _, f := range fields {
				if !slices.Contains(exp.Datasets[i].Fields, f) {
					exp.Datasets[i].Fields = append(exp.Datasets[i].Fields, f)
				}
			}
		}
	}
	return res, nil
}

// protectedBy reports whether an error line means the server wants
// credentials: with SASL on, every text command but the authentication
// "set" is refused.
func protectedBy(line string) bool {
	return strings.HasPrefix(line, "CLIENT_ERROR unauthenticated") ||
		strings.HasPrefix(line, "CLIENT_ERROR authentication failure")
}

// evidence keeps the lines of stats that prove the exposure.
func evidence(stats map[string]string) string {
	var b strings.Builder
	for _, k := range []string{"version", "curr_items", "total_items", "bytes", "limit_maxbytes"} {
		if v, ok := stats[k]; ok {
			fmt.Fprintf(&b, "STAT %s %s\r\n", k, v)
		}
	}
	return clip(b.String(), evidenceMax)
}

// conn is one text-protocol connection.
type conn struct {
	nc net.Conn
	rd *bufio.Reader
}

func dial(ctx context.Context, d probe.Dialer) (*conn, error) {
	nc, err := d.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &conn{nc: nc, rd: bufio.NewReaderSize(nc, maxLine)}, nil
}

// Close closes the connection; it may be called twice.
func (c *conn) Close() error { return c.nc.Close() }

// send writes one command line. The dialer gave the connection the
// context's deadline; send checks the context first.
func (c *conn) send(ctx context.Context, cmd string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := io.WriteString(c.nc, cmd+"\r\n"); err != nil {
		return ctxErr(ctx, fmt.Errorf("send %s: %w", cmd, err))
	}
	return nil
}

// line reads one answer line without its end, at most maxLine bytes.
func (c *conn) line(ctx context.Context) ([]byte, error) {
	b, err := c.rd.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("line of more than %d bytes: %w", maxLine, ErrTooLong)
	}
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

// errorLine returns a refusal for ERROR, CLIENT_ERROR and SERVER_ERROR lines.
func errorLine(line []byte) error {
	if bytes.Equal(line, []byte("ERROR")) || bytes.HasPrefix(line, []byte("CLIENT_ERROR ")) ||
		bytes.HasPrefix(line, []byte("SERVER_ERROR ")) {
		return refusal(clip(string(line), 256))
	}
	return nil
}

// stats sends "stats ARGS" and reads the STAT lines up to END.
func (c *conn) stats(ctx context.Context, args string) (map[string]string, error) {
	if err := c.send(ctx, strings.TrimSpace("stats "+args)); err != nil {
		return nil, err
	}
	return readStats(ctx, c)
}

// readStats reads STAT lines up to END, at most maxStatLines of them.
func readStats(ctx context.Context, c *conn) (map[string]string, error) {
	m := map[string]string{}
	for range maxStatLines {
		line, err := c.line(ctx)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(line, []byte("END")) {
			return m, nil
		}
		if err := errorLine(line); err != nil {
			return nil, err
		}
		k, v, ok := statLine(line)
		if !ok {
			return nil, fmt.Errorf("%q is not a STAT line: %w", clip(string(line), 64), ErrNotMemcached)
		}
		m[k] = v
	}
	return nil, fmt.Errorf("more than %d STAT lines: %w", maxStatLines, ErrTooLong)
}

// metadump reads "lru_crawler metadump all" up to maxDumpLines lines or
// maxDumpBytes bytes. complete is false when it stopped early: the rest of
// the dump is still coming, so the connection is good for nothing else.
// A server without the crawler, or whose crawler is busy, refuses: that is
// an error of type refusal and no key.
// https://github.com/memcached/memcached/blob/master/doc/protocol.txt ("lru_crawler metadump")
func (c *conn) metadump(ctx context.Context) (entries []dumpEntry, complete bool, err error) {
	if err := c.send(ctx, "lru_crawler metadump all"); err != nil {
		return nil, false, err
	}
	read := 0
	for range maxDumpLines {
		line, err := c.line(ctx)
		if err != nil {
			return entries, false, err
		}
		if bytes.Equal(line, []byte("END")) {
			return entries, true, nil
		}
		if bytes.HasPrefix(line, []byte("BUSY")) {
			return entries, true, refusal(clip(string(line), 256))
		}
		if err := errorLine(line); err != nil {
			return entries, true, err
		}
		if e, ok := metadumpLine(line); ok {
			entries = append(entries, e)
		}
		if read += len(line); read > maxDumpBytes {
			break
		}
	}
	return entries, false, nil
}

// value is one item read by get.
type value struct {
	key  string
	data []byte
}

// get reads the values of keys, each at most maxGetSize bytes.
func (c *conn) get(ctx context.Context, keys []string) ([]value, error) {
	if err := c.send(ctx, "get "+strings.Join(keys, " ")); err != nil {
		return nil, err
	}
	var out []value
	for range len(keys) + 1 {
		line, err := c.line(ctx)
		if err != nil {
			return out, err
		}
		if bytes.Equal(line, []byte("END")) {
			return out, nil
		}
		if err := errorLine(line); err != nil {
			return out, err
		}
		key, n, ok := valueHeader(line)
		if !ok || !slices.Contains(keys, key) {
			return out, fmt.Errorf("%q is not a VALUE line for the keys asked: %w", clip(string(line), 64), ErrNotMemcached)
		}
		if n > maxGetSize {
			return out, fmt.Errorf("value of %d bytes: %w", n, ErrTooLong)
		}
		data := make([]byte, n+2)
		if _, err := io.ReadFull(c.rd, data); err != nil {
			return out, ctxErr(ctx, err)
		}
		if !bytes.HasSuffix(data, []byte("\r\n")) {
			return out, fmt.Errorf("value block without its line end: %w", ErrNotMemcached)
		}
		out = append(out, value{key, data[:n]})
	}
	return out, fmt.Errorf("more values than keys asked: %w", ErrNotMemcached)
}

// ctxErr adds the context's error to a network error it caused, so that
// callers can tell a deadline from a broken server.
func ctxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		// The connection's deadline is the context's: it may fire first.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}
