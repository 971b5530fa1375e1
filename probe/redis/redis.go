// Package redis is the probe for Redis and servers that speak its protocol:
// it reads INFO, the keyspace, a capped sample of key names and the values of
// a few sampled keys, never writing anything.
package redis

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/redis/resp"
)

func init() { probe.Register(&Prober{}) }

// Prober is the Redis plugin. It sends only read-only commands: INFO,
// ACL WHOAMI, ACL LIST, SELECT, SCAN, TYPE, HSCAN, HLEN, HGETALL and
// GETRANGE.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "redis".
func (*Prober) Name() string { return "redis" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"redis"} }

// DefaultPorts returns the Redis port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{6379} }

// Bounds on how much of a server the probe reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// scanCount is the COUNT hint of each SCAN and HSCAN call.
	scanCount = "100"
	// maxScanCalls is the most SCAN calls per database.
	maxScanCalls = 5
	// maxSampleKeys stops the SCAN of a database once this many keys were seen.
	maxSampleKeys = 500
	// maxPatterns is the most key patterns reported per database.
	maxPatterns = 16
	// maxHScanCalls is the most HSCAN calls per hash.
	maxHScanCalls = 2
	// maxFields is the most hash field names reported per database.
	maxFields = 64
	// maxSampleFields is the most fields of one sampled hash that are read;
	// a larger hash gives one HSCAN page instead of HGETALL.
	maxSampleFields = 64
	// maxSampleValue bounds each sampled value (GETRANGE reads no more).
	maxSampleValue = 4096
	// maxSampleDoc bounds the bytes of one sampled record.
	maxSampleDoc = 16 << 10
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
	// detailMax bounds the server message kept as a verdict's detail.
	detailMax = 256
)

// Probe reads what the server gives away without credentials. A server that
// refuses is protected; one that does not speak RESP is open, with an error.
// Once INFO has proved the exposure, a later failure returns the exposure
// found so far together with the error.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	nc, err := t.Dialer.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	c := &client{conn: nc, rd: resp.NewReader(nc, resp.DefaultLimits())}
	opts := t.Options
	if opts.MaxDatasets <= 0 {
		opts.MaxDatasets = probe.DefaultOptions().MaxDatasets
	}

	// One round trip: a server in protected mode answers the first command
	// with -DENIED and closes, one with a password answers each with -NOAUTH.
	infos, err := c.do(ctx, cmd("INFO", "server"), cmd("INFO", "keyspace"), cmd("INFO", "memory"))
	open := &probe.Result{Status: ajar.StatusOpen}
	for _, r := range infos {
		if r.Kind == resp.Error {
			if refused(r.Text()) {
				return &probe.Result{Status: ajar.StatusProtected, Product: "Redis", Detail: detail(r.Str)}, nil
			}
			open.Product, open.Detail = "Redis", detail(r.Str)
			return open, nil
		}
		if r.Kind != resp.BulkString || r.Null {
			return open, fmt.Errorf("read INFO: the answer is a %s: %w", r.Kind, resp.ErrProtocol)
		}
	}
	if err != nil {
		if len(infos) == 0 && errors.Is(err, resp.ErrProtocol) {
			return open, fmt.Errorf("read INFO: does not speak RESP: %w", err)
		}
		return open, fmt.Errorf("read INFO: %w", err)
	}
	server, keyspace, memory := infos[0].Str, infos[1].Str, infos[2].Str

	res := &probe.Result{Status: ajar.StatusExposed}
	res.Product, res.Version = product(server)
	exp := &ajar.Exposure{
		Plugin: "redis",
		Access: ajar.AccessRead,
		// Known to be empty rather than unknown when no database has keys.
		Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{Request: "INFO keyspace", Response: excerpt(keyspace, evidenceMax)},
	}
	res.Exposure = exp
	dbs := parseKeyspace(keyspace, opts.MaxDatasets)
	used, _ := infoInt(memory, "used_memory")
	var total int64
	for _, db := range dbs {
		total += db.Keys
	}
	for _, db := range dbs {
		exp.Datasets = append(exp.Datasets, ajar.Dataset{
			Name:    "db" + strconv.Itoa(db.DB),
			Records: db.Keys,
			Bytes:   share(used, db.Keys, total),
		})
	}
	exp.Total()

	admin, err := c.admin(ctx, res.Version)
	if err != nil {
		return res, fmt.Errorf("read ACL: %w", err)
	}
	if admin {
		exp.Access = ajar.AccessAdmin
	}

	for i, db := range dbs {
		if db.Keys == 0 {
			continue
		}
		fields, docs, err := c.sample(ctx, db.DB, opts.Samples)
		exp.Datasets[i].Fields = fields
		for _, d := range docs {
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: exp.Datasets[i].Name, Doc: d})
		}
		if err != nil {
			return res, fmt.Errorf("sample db%d: %w", db.DB, err)
		}
	}
	return res, nil
}

// refused reports whether an error reply means the server wants credentials
// or refuses unauthenticated clients.
func refused(msg string) bool {
	code, _, _ := strings.Cut(msg, " ")
	switch code {
	case "NOAUTH", "WRONGPASS", "DENIED", "NOPERM":
		return true
	case "ERR":
		// Before 2.8 a missing password was "-ERR operation not permitted".
		return strings.Contains(msg, "AUTH") || strings.Contains(msg, "operation not permitted")
	}
	return false
}

// admin reports whether the unauthenticated user may run every command: its
// ACL rules say so, or the server predates ACLs (Redis 6), where any client
// that got in can run everything.
func (c *client) admin(ctx context.Context, version string) (bool, error) {
	r, err := c.do(ctx, cmd("ACL", "WHOAMI"), cmd("ACL", "LIST"))
	if err != nil {
		return false, err
	}
	whoami, list := r[0], r[1]
	if whoami.Kind == resp.Error {
		// An unknown ACL on a server that says it is 6 or later was renamed
		// away by its operator, which tells nothing about the default user.
		preACL := majorVersion(version) < 6
		return preACL && strings.HasPrefix(whoami.Text(), "ERR unknown command"), nil
	}
	if whoami.Kind != resp.BulkString && whoami.Kind != resp.SimpleString {
		return false, nil
	}
	if list.Kind != resp.Array {
		// NOPERM: the user may not list the rules, so it is not an admin.
		return false, nil
	}
	rules := make([]string, 0, len(list.Elems))
	for _, e := range list.Elems {
		rules = append(rules, e.Text())
	}
	return userIsAdmin(rules, whoami.Text()), nil
}

// sample lists what kind of records a database holds: the patterns of a
// capped SCAN of its keys and the field names of at most `n` hashes; then it
// reads at most n records, the first key of each pattern first, for the
// classifier (which redacts them before they are stored). The raw records
// are returned as docs: the key under "_key", a hash's fields under their
// names, a string under "value".
func (c *client) sample(ctx context.Context, db, n int) (fields []string, docs []map[string]string, err error) {
	fields, keys, err := c.keys(ctx, db, n)
	if err != nil || n <= 0 || len(keys) == 0 {
		return fields, nil, err
	}
	docs, err = c.values(ctx, keys)
	return fields, docs, err
}

// keys runs the SCAN of sample and picks the keys whose values are sampled.
func (c *client) keys(ctx context.Context, db, hashes int) ([]string, [][]byte, error) {
	r, err := c.do(ctx, cmd("SELECT", strconv.Itoa(db)), cmd("SCAN", "0", "COUNT", scanCount))
	if err != nil {
		return nil, nil, fmt.Errorf("SELECT and SCAN: %w", err)
	}
	if r[0].Kind != resp.SimpleString {
		// Cluster mode, or a database out of range: nothing to sample.
		return nil, nil, nil
	}
	first := map[string][]byte{} // pattern → first key seen with it
	var more [][]byte            // other keys, in SCAN order, for the sample
	seen := 0
	for calls := 1; ; calls++ {
		cursor, keys, err := scanReply(r[len(r)-1])
		if err != nil {
			return nil, nil, err
		}
		if cursor == "" {
			break
		}
		for _, k := range keys {
			seen++
			if p := keyPattern(k); first[p] == nil && len(first) < maxPatterns {
				first[p] = k
			} else if len(more) < hashes {
				more = append(more, k)
			}
		}
		if cursor == "0" || calls >= maxScanCalls || seen >= maxSampleKeys {
			break
		}
		if r, err = c.do(ctx, cmd("SCAN", cursor, "COUNT", scanCount)); err != nil {
			return nil, nil, fmt.Errorf("SCAN: %w", err)
		}
	}
	patterns := make([]string, 0, len(first))
	for p := range first {
		patterns = append(patterns, p)
	}
	slices.Sort(patterns)
	if hashes <= 0 || len(patterns) == 0 {
		return patterns, nil, nil
	}
	// One key of each pattern, then the others, up to the sample size.
	var picked [][]byte
	for _, p := range patterns {
		if len(picked) < hashes {
			picked = append(picked, first[p])
		}
	}
	for _, k := range more {
		if len(picked) < hashes {
			picked = append(picked, k)
		}
	}

	types := make([][]string, len(patterns))
	for i, p := range patterns {
		types[i] = cmd("TYPE", string(first[p]))
	}
	tr, err := c.do(ctx, types...)
	if err != nil {
		return patterns, picked, fmt.Errorf("TYPE: %w", err)
	}
	fields := patterns
	for i, t := range tr {
		if hashes == 0 || len(fields)-len(patterns) >= maxFields {
			break
		}
		if t.Kind != resp.SimpleString || t.Text() != "hash" {
			continue
		}
		hashes--
		fields, err = c.hashFields(ctx, first[patterns[i]], fields, len(patterns)+maxFields)
		if err != nil {
			return fields, picked, fmt.Errorf("HSCAN: %w", err)
		}
	}
	return fields, picked, nil
}

// values reads the sampled keys: all fields of a small hash (HGETALL after
// HLEN), one HSCAN page of a large one, the first maxSampleValue bytes of a
// string (GETRANGE). Other types are left out. Values are cut to
// maxSampleValue bytes and a record to maxSampleDoc.
func (c *client) values(ctx context.Context, keys [][]byte) ([]map[string]string, error) {
	types := make([][]string, len(keys))
	for i, k := range keys {
		types[i] = cmd("TYPE", string(k))
	}
	tr, err := c.do(ctx, types...)
	if err != nil {
		return nil, fmt.Errorf("TYPE: %w", err)
	}
	var docs []map[string]string
	for i, t := range tr {
		key := string(keys[i])
		doc := map[string]string{"_key": excerpt(keys[i], maxSampleValue)}
		size := len(doc["_key"])
		put := func(field, value []byte) {
			f, v := excerpt(field, maxSampleValue), excerpt(value, maxSampleValue)
			if _, dup := doc[f]; dup || size+len(f)+len(v) > maxSampleDoc {
				return
			}
			doc[f] = v
			size += len(f) + len(v)
		}
		switch t.Text() {
		case "hash":
			pairs, err := c.hashValues(ctx, key)
			if err != nil {
				return docs, fmt.Errorf("read hash: %w", err)
			}
			for j := 0; j+1 < len(pairs) && j < 2*maxSampleFields; j += 2 {
				put(pairs[j], pairs[j+1])
			}
		case "string":
			r, err := c.do(ctx, cmd("GETRANGE", key, "0", strconv.Itoa(maxSampleValue-1)))
			if err != nil {
				return docs, fmt.Errorf("GETRANGE: %w", err)
			}
			if r[0].Kind != resp.BulkString || r[0].Null {
				continue
			}
			put([]byte("value"), r[0].Str)
		default:
			continue
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

// hashValues returns the field, value pairs of a hash: HGETALL when HLEN
// says it is small, else one HSCAN page.
func (c *client) hashValues(ctx context.Context, key string) ([][]byte, error) {
	r, err := c.do(ctx, cmd("HLEN", key))
	if err != nil {
		return nil, err
	}
	if r[0].Kind == resp.Integer && r[0].Int >= 0 && r[0].Int <= maxSampleFields {
		if r, err = c.do(ctx, cmd("HGETALL", key)); err != nil {
			return nil, err
		}
		if r[0].Kind != resp.Array {
			return nil, nil
		}
		var pairs [][]byte
		for _, e := range r[0].Elems {
			if e.Kind != resp.BulkString || e.Null {
				return nil, fmt.Errorf("HGETALL element is a %s: %w", e.Kind, resp.ErrProtocol)
			}
			pairs = append(pairs, e.Str)
		}
		return pairs, nil
	}
	r, err = c.do(ctx, cmd("HSCAN", key, "0", "COUNT", strconv.Itoa(maxSampleFields)))
	if err != nil {
		return nil, err
	}
	_, pairs, err := scanReply(r[0])
	return pairs, err
}

// hashFields appends the name-like field names of one hash to fields, up to
// limit entries in all.
func (c *client) hashFields(ctx context.Context, key []byte, fields []string, limit int) ([]string, error) {
	cursor := "0"
	for range maxHScanCalls {
		r, err := c.do(ctx, cmd("HSCAN", string(key), cursor, "COUNT", scanCount))
		if err != nil {
			return fields, err
		}
		var pairs [][]byte
		cursor, pairs, err = scanReply(r[0])
		if err != nil || cursor == "" {
			return fields, err
		}
		// Field, value, field, value: only the fields are looked at.
		for i := 0; i < len(pairs); i += 2 {
			if f, ok := fieldName(pairs[i]); ok && !slices.Contains(fields, f) && len(fields) < limit {
				fields = append(fields, f)
			}
		}
		if cursor == "0" {
			break
		}
	}
	return fields, nil
}

// scanReply splits a SCAN or HSCAN answer into the next cursor and the
// elements. An error reply gives an empty cursor and no error: the server
// declined, which ends sampling but is not a failure.
func scanReply(r resp.Reply) (cursor string, elems [][]byte, err error) {
	if r.Kind == resp.Error {
		return "", nil, nil
	}
	if r.Kind != resp.Array || len(r.Elems) != 2 || r.Elems[0].Kind != resp.BulkString || r.Elems[1].Kind != resp.Array {
		return "", nil, fmt.Errorf("malformed SCAN answer: %w", resp.ErrProtocol)
	}
	cursor = r.Elems[0].Text()
	if _, err := strconv.ParseUint(cursor, 10, 64); err != nil {
		return "", nil, fmt.Errorf("SCAN cursor %q: %w", excerpt([]byte(cursor), 32), resp.ErrProtocol)
	}
	for _, e := range r.Elems[1].Elems {
		if e.Kind != resp.BulkString || e.Null {
			return "", nil, fmt.Errorf("SCAN element is a %s: %w", e.Kind, resp.ErrProtocol)
		}
		elems = append(elems, e.Str)
	}
	return cursor, elems, nil
}

// share apportions used bytes to keys out of total keys, without overflow.
func share(used, keys, total int64) int64 {
	if total <= 0 || keys <= 0 || used <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(used), uint64(keys))
	// keys ≤ total, so the quotient is at most used and hi < total.
	q, _ := bits.Div64(hi, lo, uint64(total))
	return int64(q)
}

// client is one connection speaking RESP.
type client struct {
	conn net.Conn
	rd   *resp.Reader
	out  []byte
}

func cmd(args ...string) []string { return args }

// do sends cmds in one write and reads one reply per command. It returns the
// replies read before any failure; error replies are replies, not failures.
// The dialer gave the connection the context's deadline and ends blocked
// reads when the context is cancelled; do checks the context before each step.
func (c *client) do(ctx context.Context, cmds ...[]string) ([]resp.Reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.out = c.out[:0]
	for _, args := range cmds {
		c.out = resp.AppendCommand(c.out, args...)
	}
	// A server that refuses at once (protected mode) may have answered and
	// closed before the write: read its answer even when the write fails.
	_, werr := c.conn.Write(c.out)
	replies := make([]resp.Reply, 0, len(cmds))
	for range cmds {
		r, err := c.rd.ReadReply()
		if err != nil {
			if werr != nil {
				return replies, fmt.Errorf("write %s: %w", cmds[0][0], ctxErr(ctx, werr))
			}
			return replies, ctxErr(ctx, err)
		}
		replies = append(replies, r)
	}
	return replies, nil
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

// excerpt returns at most n bytes of b as valid UTF-8.
func excerpt(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "")
}

// detail is a server message fit for a verdict: one bounded line.
func detail(msg []byte) string {
	return strings.TrimSpace(excerpt(msg, detailMax))
}
