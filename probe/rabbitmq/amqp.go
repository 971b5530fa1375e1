package rabbitmq

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The part of AMQP 0-9-1 the probe speaks: the protocol header and the
// connection class's Start, Start-Ok, Tune and Close.
// https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf §2.3 and §4.2, and
// the field types RabbitMQ uses, https://www.rabbitmq.com/docs/amqp-0-9-1-errata#section_3

// ErrProtocol marks bytes that are not the AMQP the probe expects.
var ErrProtocol = errors.New("not AMQP 0-9-1")

// protocolHeader asks for AMQP 0-9-1 (§4.2.2).
var protocolHeader = []byte("AMQP\x00\x00\x09\x01")

// Frame types and the frame end octet (§4.2.3).
const (
	frameMethod = 1
	frameEnd    = 0xce
)

// Methods of the connection class (class 10).
const (
	classConnection = 10
	methodStart     = 10
	methodStartOk   = 11
	methodTune      = 30
	methodClose     = 50
)

// maxFrame bounds a frame before Tune; the spec's smallest frame_max is
// 4096 and a Connection.Start is far below it.
const maxFrame = 64 << 10

// maxDepth bounds nested tables and arrays.
const maxDepth = 8

// frame is one frame's type, channel and payload.
type frame struct {
	Type    byte
	Channel uint16
	Payload []byte
}

// errHeader is a protocol header the server sent instead of a frame: it
// speaks another version of AMQP.
type errHeader struct{ header [8]byte }

func (e *errHeader) Error() string {
	h := e.header
	if h[4] == 0 {
		return fmt.Sprintf("the server asks for AMQP %d-%d-%d", h[5], h[6], h[7])
	}
	return fmt.Sprintf("the server asks for AMQP %d.%d.%d (protocol id %d)", h[5], h[6], h[7], h[4])
}

// readFrame reads one frame, or the protocol header a server sends back when
// it does not speak 0-9-1.
func readFrame(r *bufio.Reader) (frame, error) {
	var h [7]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, noEOF(err)
	}
	if string(h[:4]) == "AMQP" {
		var e errHeader
		copy(e.header[:], h[:])
		last, err := r.ReadByte()
		if err != nil {
			return frame{}, noEOF(err)
		}
		e.header[7] = last
		return frame{}, &e
	}
	f := frame{Type: h[0], Channel: binary.BigEndian.Uint16(h[1:3])}
	size := binary.BigEndian.Uint32(h[3:7])
	if size > maxFrame {
		return f, fmt.Errorf("frame of %d bytes: %w", size, ErrProtocol)
	}
	f.Payload = make([]byte, size+1)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return f, noEOF(err)
	}
	if f.Payload[size] != frameEnd {
		return f, fmt.Errorf("frame does not end with 0xCE: %w", ErrProtocol)
	}
	f.Payload = f.Payload[:size]
	return f, nil
}

// method returns the class and method of a method frame on channel 0 and
// its arguments.
func (f frame) method() (class, method uint16, args []byte, err error) {
	if f.Type != frameMethod || f.Channel != 0 || len(f.Payload) < 4 {
		return 0, 0, nil, fmt.Errorf("frame type %d on channel %d where a connection method was due: %w", f.Type, f.Channel, ErrProtocol)
	}
	return binary.BigEndian.Uint16(f.Payload), binary.BigEndian.Uint16(f.Payload[2:]), f.Payload[4:], nil
}

// start is a Connection.Start (§1.4.2.1 of the class reference).
type start struct {
	Major, Minor byte
	// Properties are the server properties, nested tables flattened with
	// dotted keys ("capabilities.publisher_confirms"), every value as text.
	Properties map[string]string
	Mechanisms []string
	Locales    []string
}

// parseStart parses the arguments of Connection.Start.
func parseStart(args []byte) (start, error) {
	var s start
	d := decoder{b: args}
	s.Major, s.Minor = d.octet(), d.octet()
	s.Properties = map[string]string{}
	d.table("", s.Properties, 0)
	s.Mechanisms = strings.Fields(d.longString())
	s.Locales = strings.Fields(d.longString())
	if d.err != nil {
		return start{}, fmt.Errorf("Connection.Start: %w", d.err)
	}
	return s, nil
}

// closeReason is a Connection.Close's reply code and text.
type closeReason struct {
	Code uint16
	Text string
}

func parseClose(args []byte) (closeReason, error) {
	d := decoder{b: args}
	c := closeReason{Code: d.short(), Text: d.shortString()}
	if d.err != nil {
		return c, fmt.Errorf("Connection.Close: %w", d.err)
	}
	return c, nil
}

// decoder reads AMQP's data types from a byte slice; the first error
// sticks and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("%d bytes wanted, %d left: %w", n, len(d.b), ErrProtocol)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) octet() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) short() uint16 {
	if b := d.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) long() uint32 {
	if b := d.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) longLong() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) shortString() string { return string(d.take(int(d.octet()))) }

func (d *decoder) longString() string {
	n := d.long()
	if n > maxFrame {
		d.fail(fmt.Errorf("long string of %d bytes: %w", n, ErrProtocol))
		return ""
	}
	return string(d.take(int(n)))
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// table reads a field table into out, its keys prefixed with prefix.
func (d *decoder) table(prefix string, out map[string]string, depth int) {
	n := d.long()
	if d.err != nil {
		return
	}
	if depth > maxDepth {
		d.fail(fmt.Errorf("tables nested deeper than %d: %w", maxDepth, ErrProtocol))
		return
	}
	sub := decoder{b: d.take(int(n))}
	if d.err != nil {
		return
	}
	for len(sub.b) > 0 && sub.err == nil && len(out) < maxProperties {
		key := prefix + sub.shortString()
		sub.value(key, out, depth)
	}
	d.fail(sub.err)
}

// maxProperties bounds the properties kept from one Start.
const maxProperties = 256

// value reads one field value; scalars are stored as text under key.
func (d *decoder) value(key string, out map[string]string, depth int) {
	t := d.octet()
	var v string
	switch t {
	case 't':
		v = strconv.FormatBool(d.octet() != 0)
	case 'b':
		v = strconv.Itoa(int(int8(d.octet())))
	case 'B':
		v = strconv.Itoa(int(d.octet()))
	case 's':
		v = strconv.Itoa(int(int16(d.short())))
	case 'u':
		v = strconv.Itoa(int(d.short()))
	case 'I':
		v = strconv.FormatInt(int64(int32(d.long())), 10)
	case 'i':
		v = strconv.FormatUint(uint64(d.long()), 10)
	case 'l':
		v = strconv.FormatInt(int64(d.longLong()), 10)
	case 'f':
		v = strconv.FormatFloat(float64(math.Float32frombits(d.long())), 'g', -1, 32)
	case 'd':
		v = strconv.FormatFloat(math.Float64frombits(d.longLong()), 'g', -1, 64)
	case 'D':
		scale := d.octet()
		v = strconv.FormatInt(int64(int32(d.long())), 10) + "e-" + strconv.Itoa(int(scale))
	case 'T':
		v = strconv.FormatUint(d.longLong(), 10)
	case 'S', 'x':
		v = d.longString()
	case 'V':
	case 'F':
		d.table(key+".", out, depth+1)
		return
	case 'A':
		n := d.long()
		if depth > maxDepth {
			d.fail(fmt.Errorf("arrays nested deeper than %d: %w", maxDepth, ErrProtocol))
			return
		}
		sub := decoder{b: d.take(int(n))}
		var items []string
		for i := 0; len(sub.b) > 0 && sub.err == nil && i < maxProperties; i++ {
			elem := map[string]string{}
			sub.value("", elem, depth+1)
			for _, k := range sortedKeys(elem) {
				items = append(items, elem[k])
			}
		}
		d.fail(sub.err)
		v = strings.Join(items, ",")
	default:
		d.fail(fmt.Errorf("field type %q: %w", t, ErrProtocol))
		return
	}
	if d.err == nil {
		out[key] = v
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// startOk is a Connection.Start-Ok logging in with PLAIN (RFC 4616:
// authorisation identity, user and password separated by NUL), and
// asking to be told of a failed login with a Connection.Close instead of a
// bare disconnection (capability authentication_failure_close).
func startOk(user, password string) []byte {
	var props []byte
	props = appendShortString(props, "product")
	props = append(props, 'S')
	props = appendLongString(props, "ajar")
	var caps []byte
	caps = appendShortString(caps, "authentication_failure_close")
	caps = append(caps, 't', 1)
	props = appendShortString(props, "capabilities")
	props = append(props, 'F')
	props = binary.BigEndian.AppendUint32(props, uint32(len(caps)))
	props = append(props, caps...)

	args := binary.BigEndian.AppendUint16(nil, classConnection)
	args = binary.BigEndian.AppendUint16(args, methodStartOk)
	args = binary.BigEndian.AppendUint32(args, uint32(len(props)))
	args = append(args, props...)
	args = appendShortString(args, "PLAIN")
	args = appendLongString(args, "\x00"+user+"\x00"+password)
	args = appendShortString(args, "en_US")
	return methodFrame(args)
}

// connectionClose is a Connection.Close with reply code 200 (normal).
func connectionClose() []byte {
	args := binary.BigEndian.AppendUint16(nil, classConnection)
	args = binary.BigEndian.AppendUint16(args, methodClose)
	args = binary.BigEndian.AppendUint16(args, 200)
	args = appendShortString(args, "bye")
	args = binary.BigEndian.AppendUint16(args, 0)
	args = binary.BigEndian.AppendUint16(args, 0)
	return methodFrame(args)
}

func methodFrame(payload []byte) []byte {
	b := []byte{frameMethod, 0, 0}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return append(b, frameEnd)
}

func appendShortString(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

func appendLongString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
