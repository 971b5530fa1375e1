// Package mqtt is the probe for MQTT brokers: it connects anonymously,
// listens to every topic for a short while and publishes nothing.
package mqtt

import (
	"bufio"
	"context"
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

// Prober is the MQTT plugin. It sends CONNECT (clean session, no
// credentials), one SUBSCRIBE to "#" and "$SYS/#" at QoS 0 and DISCONNECT:
// never a PUBLISH, and no acknowledgement is ever due.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "mqtt".
func (*Prober) Name() string { return "mqtt" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"mqtt"} }

// DefaultPorts returns the MQTT ports, plain and over TLS.
func (*Prober) DefaultPorts() []uint16 { return []uint16{1883, 8883} }

// Bounds on how long the probe listens and how much it keeps.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// listenFor is the longest the probe listens once subscribed.
	listenFor = 2 * time.Second
	// quietFor ends listening early when no message came for that long:
	// retained messages arrive at once after the SUBACK.
	quietFor = 500 * time.Millisecond
	// maxMessages ends listening after that many messages.
	maxMessages = 20_000
	// maxTopics is the most distinct topics remembered.
	maxTopics = 20_000
	// keepPayload is the most bytes kept of one payload, for samples.
	keepPayload = 4 << 10
	// maxControl bounds every packet but PUBLISH.
	maxControl = 4 << 10
	// maxFields is the most field names reported per dataset.
	maxFields = 64
	// maxValue bounds a sampled value.
	maxValue = 1 << 10
	// keepAlive is the keep-alive of the CONNECT, in seconds: well above
	// the time the probe stays.
	keepAlive = 30
	// subscribeID is the packet identifier of the one SUBSCRIBE.
	subscribeID = 1
	// evidenceMax bounds the evidence excerpt.
	evidenceMax = 512
)

// sysTopic is the prefix of broker statistics topics, which "#" does not
// match (§4.7.2); Mosquitto keeps its version under $SYS/broker/version.
const sysTopic = "$SYS"

// Probe connects without credentials. A CONNACK with return code 4 or 5 is
// protected. Once the broker accepted the subscription, the exposure is
// proven; what it delivers while the probe listens becomes the datasets.
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
	rd := bufio.NewReaderSize(nc, 16<<10)
	open := &probe.Result{Status: ajar.StatusOpen}

	if _, err := nc.Write(connectPacket(newClientID(), keepAlive)); err != nil {
		return open, fmt.Errorf("write CONNECT: %w", ctxErr(ctx, err))
	}
	h, err := readHeader(rd)
	if err != nil {
		return open, fmt.Errorf("read CONNACK: %w", ctxErr(ctx, err))
	}
	if h.Type != typeConnack {
		return open, fmt.Errorf("read CONNACK: packet type %d: %w", h.Type, ErrProtocol)
	}
	body, err := readBody(rd, h, maxControl)
	if err != nil {
		return open, fmt.Errorf("read CONNACK: %w", ctxErr(ctx, err))
	}
	code, err := parseConnack(h, body)
	if err != nil {
		return open, fmt.Errorf("read CONNACK: %w", err)
	}
	switch code {
	case 0:
	case 4, 5:
		return &probe.Result{Status: ajar.StatusProtected, Detail: connackText(code)}, nil
	default:
		open.Detail = connackText(code)
		return open, nil
	}
	// Accepted: say goodbye politely however the rest goes.
	defer func() { _, _ = nc.Write(disconnectPacket()) }()

	if _, err := nc.Write(subscribePacket(subscribeID, "#", sysTopic+"/#")); err != nil {
		return open, fmt.Errorf("write SUBSCRIBE: %w", ctxErr(ctx, err))
	}
	l := newListener(t.Options)
	scratch := make([]byte, keepPayload)
	granted := false
	deadline := time.Now().Add(listenFor)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-100*time.Millisecond).Before(deadline) {
		// Leave time to disconnect and report before the caller's deadline.
		deadline = dl.Add(-100 * time.Millisecond)
	}
	var res *probe.Result // set once the subscription is granted
	for {
		if err := ctx.Err(); err != nil {
			return l.finish(res), fmt.Errorf("listen: %w", err)
		}
		wait := time.Until(deadline)
		if granted && quietFor < wait {
			wait = quietFor
		}
		if wait <= 0 {
			break
		}
		_ = nc.SetReadDeadline(time.Now().Add(wait))
		h, err := readHeader(rd)
		if err != nil {
			if isTimeout(err) && ctx.Err() == nil {
				if !granted {
					return open, fmt.Errorf("no SUBACK within the time allowed: %w", context.DeadlineExceeded)
				}
				break // quiet, or the listening time is over
			}
			return l.finish(res), fmt.Errorf("read after SUBSCRIBE: %w", ctxErr(ctx, err))
		}
		switch h.Type {
		case typePublish:
			p, err := readPublish(rd, h, scratch)
			if err != nil {
				return l.finish(res), fmt.Errorf("read PUBLISH: %w", ctxErr(ctx, err))
			}
			l.add(p)
		case typeSuback:
			body, err := readBody(rd, h, maxControl)
			if err != nil {
				return l.finish(res), fmt.Errorf("read SUBACK: %w", ctxErr(ctx, err))
			}
			codes, err := parseSuback(body, subscribeID)
			if err != nil {
				return l.finish(res), err
			}
			if codes[0] == 0x80 {
				return &probe.Result{Status: ajar.StatusProtected, Detail: "anonymous clients may connect but not subscribe to #"}, nil
			}
			granted, res = true, l.result()
		default:
			// PINGRESP or anything else a broker may send: read past it.
			if _, err := readBody(rd, h, maxControl); err != nil {
				return l.finish(res), fmt.Errorf("read packet type %d: %w", h.Type, ctxErr(ctx, err))
			}
		}
		if l.messages >= maxMessages {
			break
		}
	}
	if !granted {
		return open, fmt.Errorf("no SUBACK within the time allowed: %w", context.DeadlineExceeded)
	}
	return l.finish(res), nil
}

// listener collects what the broker delivers.
type listener struct {
	opts     probe.Options
	groups   map[string]*group
	topics   map[string]bool
	messages int
	version  string
	product  string
	first    []string // the first topics seen, for the evidence
}

// group is one top-level topic segment: a dataset.
type group struct {
	retained int64
	bytes    int64
	fields   []string
	samples  []ajar.Sample
}

func newListener(opts probe.Options) *listener {
	if opts.MaxDatasets <= 0 {
		opts.MaxDatasets = probe.DefaultOptions().MaxDatasets
	}
	return &listener{opts: opts, groups: map[string]*group{}, topics: map[string]bool{}}
}

// add counts one message.
func (l *listener) add(p publish) {
	l.messages++
	if len(l.topics) < maxTopics {
		if !l.topics[p.Topic] && len(l.first) < 8 {
			l.first = append(l.first, p.Topic)
		}
		l.topics[p.Topic] = true
	}
	name := topLevel(p.Topic)
	g := l.groups[name]
	if g == nil {
		if len(l.groups) >= l.opts.MaxDatasets {
			return
		}
		g = &group{}
		l.groups[name] = g
	}
	if p.Retain {
		g.retained++
	}
	g.bytes += int64(p.Size)
	if name == sysTopic {
		l.sys(p)
		return
	}
	if len(g.samples) < l.opts.Samples {
		// The payload is the reader's scratch buffer: sampleDoc copies.
		doc, fields := sampleDoc(p.Topic, p.Payload)
		g.samples = append(g.samples, ajar.Sample{Dataset: name, Doc: doc})
		for _, f := range fields {
			if !slices.Contains(g.fields, f) && len(g.fields) < maxFields {
				g.fields = append(g.fields, f)
			}
		}
	}
}

// sys reads the broker's version from its statistics topics.
func (l *listener) sys(p publish) {
	v := strings.TrimSpace(excerpt(p.Payload, 80))
	switch {
	case p.Topic == "$SYS/broker/version" && strings.HasPrefix(v, "mosquitto version "):
		l.product, l.version = "Mosquitto", strings.TrimPrefix(v, "mosquitto version ")
	case p.Topic == "$SYS/broker/version":
		l.version = v
	case strings.HasPrefix(p.Topic, "$SYS/brokers/") && strings.HasSuffix(p.Topic, "/version"):
		// EMQX: $SYS/brokers/<node>/version.
		l.product, l.version = "EMQX", v
	}
}

// result starts the verdict once the subscription is granted.
func (l *listener) result() *probe.Result {
	return &probe.Result{Status: ajar.StatusExposed, Exposure: &ajar.Exposure{
		Plugin:   "mqtt",
		Access:   ajar.AccessRead,
		Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{Request: "SUBSCRIBE # and $SYS/# (QoS 0)"},
	}}
}

// finish fills res with what was collected; nil stays nil (nothing proven).
func (l *listener) finish(res *probe.Result) *probe.Result {
	if res == nil {
		return &probe.Result{Status: ajar.StatusOpen}
	}
	res.Product, res.Version = l.product, l.version
	exp := res.Exposure
	exp.Datasets, exp.Samples = exp.Datasets[:0], nil
	names := make([]string, 0, len(l.groups))
	for n := range l.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	var retained int64
	for _, n := range names {
		g := l.groups[n]
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: n, Records: g.retained, Bytes: g.bytes, Fields: g.fields, System: n == sysTopic})
		exp.Samples = append(exp.Samples, g.samples...)
		if n != sysTopic {
			retained += g.retained
		}
	}
	exp.Total()
	exp.Evidence.Response = excerpt([]byte(fmt.Sprintf("CONNACK 0 (accepted); %d messages on %d topics, %d retained outside $SYS; first topics: %s",
		l.messages, len(l.topics), retained, strings.Join(l.first, ", "))), evidenceMax)
	return res
}

// topLevel returns a topic's first level: the dataset it counts in. A
// topic that starts with "/" has an empty first level, shown as "/".
func topLevel(topic string) string {
	first, _, _ := strings.Cut(topic, "/")
	if first == "" {
		return "/"
	}
	return first
}

// sampleDoc turns a payload into a sample: the fields of a JSON object, or
// the payload itself. It returns the field names found.
func sampleDoc(topic string, payload []byte) (map[string]string, []string) {
	doc := map[string]string{"topic": excerpt([]byte(topic), maxValue)}
	var obj map[string]json.RawMessage
	if json.Unmarshal(payload, &obj) != nil || len(obj) == 0 {
		doc["payload"] = excerpt(payload, maxValue)
		return doc, nil
	}
	fields := make([]string, 0, len(obj))
	for k, raw := range obj {
		if len(fields) >= maxFields || k == "topic" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		doc[excerpt([]byte(k), 64)] = excerpt([]byte(s), maxValue)
		fields = append(fields, excerpt([]byte(k), 64))
	}
	sort.Strings(fields)
	return doc, fields
}

// connackText says what a CONNACK return code means (§3.2.2.3).
func connackText(code byte) string {
	switch code {
	case 1:
		return "CONNACK 1: unacceptable protocol version"
	case 2:
		return "CONNACK 2: identifier rejected"
	case 3:
		return "CONNACK 3: server unavailable"
	case 4:
		return "CONNACK 4: bad user name or password"
	case 5:
		return "CONNACK 5: not authorized"
	}
	return "CONNACK return code " + strconv.Itoa(int(code))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
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
