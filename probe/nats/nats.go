// Package nats is the probe for NATS servers: it reads INFO, listens to
// every subject for a short while and lists JetStream streams, read-only.
package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the NATS plugin. It speaks the protocol itself on the one
// connection the engine's dialer gives it, so that no URL a server
// announces (connect_urls) is ever dialled. It sends CONNECT without
// credentials, PING/PONG, SUB and UNSUB, and publishes only requests to the
// JetStream API's read-only calls: $JS.API.INFO, $JS.API.STREAM.LIST and
// $JS.API.STREAM.MSG.GET. It creates no consumer and acknowledges nothing.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "nats".
func (*Prober) Name() string { return "nats" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"nats"} }

// DefaultPorts returns the NATS client port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{4222} }

// Bounds on how long the probe listens and how much it reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// listenFor is the longest the probe listens to ">".
	listenFor = 2 * time.Second
	// quietFor ends listening early when no message came for that long.
	quietFor = 500 * time.Millisecond
	// maxMessages ends listening after that many messages.
	maxMessages = 20_000
	// keepPayload is the most bytes kept of a message heard on ">".
	keepPayload = 4 << 10
	// maxAPI bounds a JetStream API answer.
	maxAPI = 4 << 20
	// requestTimeout bounds one JetStream API request.
	requestTimeout = 3 * time.Second
	// maxSampled is the most streams messages are read from.
	maxSampled = 10
	// maxFields is the most field names reported per dataset.
	maxFields = 64
	// maxValue bounds a sampled value.
	maxValue = 1 << 10
	// evidenceMax bounds the evidence excerpt.
	evidenceMax = 512
	// detailMax bounds a server message kept as a detail.
	detailMax = 256
)

// Probe reads INFO. A server that requires authorization is protected; one
// that lets the probe in is exposed, with the streams JetStream lists and
// the subjects heard while listening.
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
	c := &client{ctx: ctx, nc: nc, rd: newReader(nc)}
	res := &probe.Result{Status: ajar.StatusOpen}

	line, err := c.rd.line()
	if err != nil {
		return res, fmt.Errorf("read INFO: %w", c.err(err))
	}
	info, err := parseInfo(line)
	if err != nil {
		return res, fmt.Errorf("read INFO: %w", err)
	}
	res.Product, res.Version = "NATS", clip(info.Version, 40)
	switch {
	case info.AuthRequired:
		res.Status, res.Detail = ajar.StatusProtected, "authorization required (INFO auth_required)"
		return res, nil
	case info.TLSRequired && t.Service.Transport != "tls":
		res.Detail = "the server requires TLS after INFO; not attempted"
		return res, nil
	}

	if err := c.write(connectLine() + "PING\r\n"); err != nil {
		return res, fmt.Errorf("write CONNECT: %w", err)
	}
	if err := c.pong(); err != nil {
		var refused errRefused
		if errors.As(err, &refused) {
			res.Status, res.Detail = ajar.StatusProtected, string(refused)
			return res, nil
		}
		return res, fmt.Errorf("CONNECT: %w", err)
	}

	opts := t.Options
	if opts.MaxDatasets <= 0 {
		opts.MaxDatasets = probe.DefaultOptions().MaxDatasets
	}
	res.Status = ajar.StatusExposed
	exp := &ajar.Exposure{
		Plugin: "nats", Access: ajar.AccessRead, Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{Request: "CONNECT without credentials; SUB >"},
	}
	res.Exposure = exp
	heard, err := c.listen(opts)
	if err != nil {
		exp.Datasets = heard.datasets()
		exp.Total()
		return res, fmt.Errorf("listen to >: %w", err)
	}
	exp.Evidence.Response = clip(fmt.Sprintf("PONG; %d messages heard on %d subjects", heard.messages, len(heard.subjects)), evidenceMax)
	if info.JetStream {
		err = c.jetStream(exp, opts)
	}
	exp.Datasets = append(exp.Datasets, heard.datasets()...)
	exp.Samples = append(exp.Samples, heard.samples...)
	exp.Total()
	if err != nil {
		return res, fmt.Errorf("JetStream: %w", err)
	}
	return res, nil
}

// errRefused is a -ERR the server sent instead of accepting the client.
type errRefused string

func (e errRefused) Error() string { return string(e) }

// client is the probe's one connection.
type client struct {
	ctx   context.Context
	nc    net.Conn
	rd    *reader
	inbox string
	reqs  int
}

func (c *client) write(s string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	_, err := c.nc.Write([]byte(s))
	return c.err(err)
}

// pong reads until the PONG that answers the probe's PING, answering the
// server's own PINGs. A -ERR about authorization is a refusal.
func (c *client) pong() error {
	for {
		o, err := c.rd.next(0)
		if err != nil {
			return c.err(err)
		}
		switch o.Kind {
		case "PONG":
			return nil
		case "PING":
			if err := c.write("PONG\r\n"); err != nil {
				return err
			}
		case "-ERR":
			msg := strings.Trim(o.Arg, "' ")
			if l := strings.ToLower(msg); strings.Contains(l, "authorization") || strings.Contains(l, "authentication") || strings.Contains(l, "permissions") {
				return errRefused(clip(msg, detailMax))
			}
			return fmt.Errorf("-ERR %q: %w", clip(msg, detailMax), ErrProtocol)
		}
		// +OK, INFO (an update of the cluster's URLs, never dialled), and
		// messages of an earlier subscription are passed over.
	}
}

// heard is what arrived on ">" while the probe listened.
type heard struct {
	opts     probe.Options
	messages int
	subjects map[string]bool
	groups   map[string]*group
	samples  []ajar.Sample
}

type group struct {
	bytes   int64
	fields  []string
	sampled int
}

// listen subscribes to every subject for a short while, then unsubscribes.
// A core NATS server keeps no message: what is heard is what was published
// meanwhile.
func (c *client) listen(opts probe.Options) (*heard, error) {
	h := &heard{opts: opts, subjects: map[string]bool{}, groups: map[string]*group{}}
	if err := c.write("SUB > 1\r\n"); err != nil {
		return h, err
	}
	deadline := time.Now().Add(listenFor)
	if dl, ok := c.ctx.Deadline(); ok {
		// Leave half the time that is left for JetStream.
		deadline = time.Now().Add(min(listenFor, time.Until(dl)/2))
	}
	last := time.Now()
	for h.messages < maxMessages {
		wait := min(time.Until(deadline), quietFor-time.Since(last))
		if wait <= 0 {
			break
		}
		c.readWithin(wait)
		o, err := c.rd.next(keepPayload)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && c.ctx.Err() == nil && !c.rd.started {
				continue // the loop condition decides
			}
			return h, c.err(err)
		}
		switch o.Kind {
		case "PING":
			if err := c.write("PONG\r\n"); err != nil {
				return h, err
			}
		case "MSG", "HMSG":
			if o.SID == "1" {
				last = time.Now()
				h.add(o)
			}
		case "-ERR":
			return h, fmt.Errorf("-ERR %q", clip(o.Arg, detailMax))
		}
	}
	c.restoreDeadline()
	return h, c.write("UNSUB 1\r\n")
}

// readWithin sets the read deadline d from now, never past the context's.
func (c *client) readWithin(d time.Duration) {
	dl := time.Now().Add(d)
	if cdl, ok := c.ctx.Deadline(); ok && cdl.Before(dl) {
		dl = cdl
	}
	_ = c.nc.SetReadDeadline(dl)
}

// restoreDeadline gives the connection back the context's deadline.
func (c *client) restoreDeadline() {
	dl, _ := c.ctx.Deadline()
	_ = c.nc.SetReadDeadline(dl)
}

func (h *heard) add(o op) {
	h.messages++
	if len(h.subjects) < maxMessages {
		h.subjects[o.Subject] = true
	}
	name := subjectGroup(o.Subject)
	g := h.groups[name]
	if g == nil {
		if len(h.groups) >= h.opts.MaxDatasets {
			return
		}
		g = &group{}
		h.groups[name] = g
	}
	g.bytes += int64(o.Size)
	if g.sampled < h.opts.Samples && !system(name) {
		g.sampled++
		doc, fields := sampleDoc(o.Subject, o.Payload)
		h.samples = append(h.samples, ajar.Sample{Dataset: name, Doc: doc})
		g.fields = addFields(g.fields, fields)
	}
}

func (h *heard) datasets() []ajar.Dataset {
	out := []ajar.Dataset{}
	for name, g := range h.groups {
		out = append(out, ajar.Dataset{Name: name, Bytes: g.bytes, Fields: g.fields, System: system(name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// subjectGroup names the dataset of a subject heard on ">": its first token
// and ">" ("orders.>"), which no stream name can be (stream names have no
// dots).
func subjectGroup(subject string) string {
	first, _, _ := strings.Cut(subject, ".")
	return first + ".>"
}

// system reports whether a subject group is the server's or a client
// library's own traffic: $JS, $SYS, $KV API calls and reply inboxes.
func system(group string) bool {
	return strings.HasPrefix(group, "$") || strings.HasPrefix(group, "_INBOX.") || strings.HasPrefix(group, "_R_.")
}

// request sends one JetStream API request and returns the answer's
// payload. A 503 status (no responders) means JetStream does not answer.
func (c *client) request(subject string, body any) ([]byte, error) {
	if c.inbox == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.inbox = "_INBOX.ajar" + hex.EncodeToString(b[:])
		if err := c.write("SUB " + c.inbox + ".* 2\r\n"); err != nil {
			return nil, err
		}
	}
	c.reqs++
	reply := c.inbox + "." + strconv.Itoa(c.reqs)
	payload, _ := json.Marshal(body)
	if body == nil {
		payload = nil
	}
	msg := "PUB " + subject + " " + reply + " " + strconv.Itoa(len(payload)) + "\r\n" + string(payload) + "\r\n"
	if err := c.write(msg); err != nil {
		return nil, err
	}
	c.readWithin(requestTimeout)
	defer c.restoreDeadline()
	for {
		o, err := c.rd.next(maxAPI)
		if err != nil {
			return nil, c.err(err)
		}
		switch o.Kind {
		case "PING":
			if err := c.write("PONG\r\n"); err != nil {
				return nil, err
			}
			continue
		case "-ERR":
			return nil, fmt.Errorf("%s: -ERR %q", subject, clip(o.Arg, detailMax))
		case "MSG", "HMSG":
		default:
			continue
		}
		if o.Subject != reply {
			continue // a late answer to an earlier request
		}
		if o.Size > len(o.Payload) {
			return nil, fmt.Errorf("%s: answer of %d bytes: %w", subject, o.Size, ErrTooLarge)
		}
		if st := status(o.Header); st == 503 {
			return nil, errNoJetStream
		}
		return o.Payload, nil
	}
}

// errNoJetStream is a JetStream API that nobody answers.
var errNoJetStream = errors.New("JetStream does not answer (503 no responders)")

// apiError is the error object of a JetStream API answer.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

// streamInfo is one stream of a $JS.API.STREAM.LIST answer.
// https://docs.nats.io/reference/reference-protocols/nats_api_reference
type streamInfo struct {
	Config struct {
		Name     string   `json:"name"`
		Subjects []string `json:"subjects"`
	} `json:"config"`
	State struct {
		Messages uint64 `json:"messages"`
		Bytes    uint64 `json:"bytes"`
		FirstSeq uint64 `json:"first_seq"`
		LastSeq  uint64 `json:"last_seq"`
	} `json:"state"`
}

// jetStream adds the streams to the exposure, with a few messages of each.
func (c *client) jetStream(exp *ajar.Exposure, opts probe.Options) error {
	b, err := c.request("$JS.API.INFO", nil)
	if errors.Is(err, errNoJetStream) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("account info: %w", err)
	}
	var acct struct {
		Streams int       `json:"streams"`
		Error   *apiError `json:"error"`
	}
	if err := json.Unmarshal(b, &acct); err != nil {
		return fmt.Errorf("account info: %v: %w", err, ErrProtocol)
	}
	if acct.Error != nil {
		// JetStream is not enabled for this account.
		return nil
	}
	var streams []streamInfo
	for offset := 0; len(streams) < opts.MaxDatasets; {
		b, err := c.request("$JS.API.STREAM.LIST", map[string]int{"offset": offset})
		if err != nil {
			return fmt.Errorf("stream list: %w", err)
		}
		var page struct {
			Total   int          `json:"total"`
			Streams []streamInfo `json:"streams"`
			Error   *apiError    `json:"error"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("stream list: %v: %w", err, ErrProtocol)
		}
		if page.Error != nil {
			return fmt.Errorf("stream list: %s", clip(page.Error.Description, detailMax))
		}
		streams = append(streams, page.Streams...)
		offset += len(page.Streams)
		if len(page.Streams) == 0 || offset >= page.Total {
			break
		}
	}
	if len(streams) > opts.MaxDatasets {
		streams = streams[:opts.MaxDatasets]
	}
	ev := fmt.Sprintf("%d streams:", acct.Streams)
	for _, s := range streams {
		ev += fmt.Sprintf(" %s (%d messages, %d bytes);", s.Config.Name, s.State.Messages, s.State.Bytes)
	}
	exp.Evidence.Request = "CONNECT without credentials; $JS.API.INFO; $JS.API.STREAM.LIST"
	exp.Evidence.Response = clip(ev, evidenceMax)
	sampled := 0
	for _, s := range streams {
		ds := ajar.Dataset{Name: clip(s.Config.Name, 256), Records: int64(min(s.State.Messages, 1<<62)), Bytes: int64(min(s.State.Bytes, 1<<62))}
		if s.State.Messages > 0 && opts.Samples > 0 && sampled < maxSampled {
			sampled++
			var err error
			ds.Fields, err = c.sample(exp, ds.Name, s, opts.Samples)
			if err != nil {
				exp.Datasets = append(exp.Datasets, ds)
				return fmt.Errorf("read messages of %s: %w", ds.Name, err)
			}
		}
		exp.Datasets = append(exp.Datasets, ds)
	}
	return nil
}

// sample reads up to n messages of a stream from its first sequence with
// $JS.API.STREAM.MSG.GET, which reads a message by sequence and changes
// nothing; deleted sequences are skipped.
func (c *client) sample(exp *ajar.Exposure, name string, s streamInfo, n int) ([]string, error) {
	var fields []string
	got := 0
	for seq := s.State.FirstSeq; seq <= s.State.LastSeq && seq < s.State.FirstSeq+uint64(2*n) && got < n; seq++ {
		b, err := c.request("$JS.API.STREAM.MSG.GET."+name, map[string]uint64{"seq": seq})
		if err != nil {
			return fields, err
		}
		var ans struct {
			Message *struct {
				Subject string `json:"subject"`
				Data    []byte `json:"data"` // base64 in the JSON, decoded by encoding/json
			} `json:"message"`
			Error *apiError `json:"error"`
		}
		if err := json.Unmarshal(b, &ans); err != nil {
			return fields, fmt.Errorf("message %d: %v: %w", seq, err, ErrProtocol)
		}
		if ans.Message == nil {
			continue // deleted, or not readable
		}
		got++
		doc, f := sampleDoc(ans.Message.Subject, ans.Message.Data)
		exp.Samples = append(exp.Samples, ajar.Sample{Dataset: name, Doc: doc})
		fields = addFields(fields, f)
	}
	return fields, nil
}

// sampleDoc turns a payload into a sample: the fields of a JSON object, or
// the payload itself. It returns the field names found.
func sampleDoc(subject string, payload []byte) (map[string]string, []string) {
	doc := map[string]string{"subject": excerpt([]byte(subject), maxValue)}
	var obj map[string]json.RawMessage
	if json.Unmarshal(payload, &obj) != nil || len(obj) == 0 {
		doc["payload"] = excerpt(payload, maxValue)
		return doc, nil
	}
	fields := make([]string, 0, len(obj))
	for k, raw := range obj {
		if len(fields) >= maxFields || k == "subject" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		k = excerpt([]byte(k), 64)
		doc[k] = excerpt([]byte(s), maxValue)
		fields = append(fields, k)
	}
	sort.Strings(fields)
	return doc, fields
}

func addFields(have, more []string) []string {
	for _, f := range more {
		if !slices.Contains(have, f) && len(have) < maxFields {
			have = append(have, f)
		}
	}
	return have
}

// err adds the context's error to a network error it caused, so that
// callers can tell a deadline from a broken server.
func (c *client) err(err error) error {
	if err == nil {
		return nil
	}
	cerr := c.ctx.Err()
	if dl, ok := c.ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
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
