package mqtt

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// The packets of MQTT 3.1.1 the probe sends and reads. The section numbers
// are those of the OASIS standard,
// http://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html

// Packet types (§2.2.1).
const (
	typeConnect    = 1
	typeConnack    = 2
	typePublish    = 3
	typePuback     = 4
	typeSubscribe  = 8
	typeSuback     = 9
	typePingresp   = 13
	typeDisconnect = 14
)

// ErrProtocol marks bytes that are not the MQTT the probe expects.
var ErrProtocol = errors.New("not MQTT")

// ErrTooLarge marks a packet longer than the reader keeps.
var ErrTooLarge = errors.New("packet too large")

// connectPacket is a CONNECT (§3.1) of MQTT 3.1.1 with a clean session, no
// will and no credentials.
func connectPacket(clientID string, keepAlive uint16) []byte {
	var v []byte
	v = appendString(v, "MQTT")
	v = append(v, 4, 0x02) // protocol level 4; flags: clean session only
	v = binary.BigEndian.AppendUint16(v, keepAlive)
	v = appendString(v, clientID)
	return appendPacket(nil, typeConnect<<4, v)
}

// subscribePacket is a SUBSCRIBE (§3.8) of the filters at QoS 0, so that
// nothing the broker sends needs an acknowledgement.
func subscribePacket(id uint16, filters ...string) []byte {
	v := binary.BigEndian.AppendUint16(nil, id)
	for _, f := range filters {
		v = appendString(v, f)
		v = append(v, 0)
	}
	// The reserved flags of SUBSCRIBE are 0010 (§3.8.1).
	return appendPacket(nil, typeSubscribe<<4|0x02, v)
}

// disconnectPacket is a DISCONNECT (§3.14).
func disconnectPacket() []byte { return []byte{typeDisconnect << 4, 0} }

// newClientID returns a client identifier unique to this probe, so that it
// never takes over the session of another client (§3.1.4).
func newClientID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ajar-" + hex.EncodeToString(b[:])
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// appendPacket appends a fixed header (§2.2) and the rest of a packet.
func appendPacket(b []byte, first byte, rest []byte) []byte {
	b = append(b, first)
	n := len(rest)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			break
		}
	}
	return append(b, rest...)
}

// header is a packet's fixed header.
type header struct {
	Type, Flags byte
	// Length is the remaining length: the bytes after the fixed header.
	Length int
}

// readHeader reads a fixed header. The remaining length takes one to four
// bytes of seven bits each (§2.2.3); a fifth is malformed.
func readHeader(r *bufio.Reader) (header, error) {
	first, err := r.ReadByte()
	if err != nil {
		return header{}, err
	}
	h := header{Type: first >> 4, Flags: first & 0x0f}
	mult := 1
	for i := 0; ; i++ {
		if i == 4 {
			return h, fmt.Errorf("remaining length longer than four bytes: %w", ErrProtocol)
		}
		d, err := r.ReadByte()
		if err != nil {
			return h, noEOF(err)
		}
		h.Length += int(d&0x7f) * mult
		if d&0x80 == 0 {
			break
		}
		mult *= 128
	}
	if h.Type == 0 || h.Type == 15 {
		return h, fmt.Errorf("reserved packet type %d: %w", h.Type, ErrProtocol)
	}
	return h, nil
}

// readBody reads a packet's remaining bytes, at most max of them.
func readBody(r *bufio.Reader, h header, max int) ([]byte, error) {
	if h.Length > max {
		return nil, fmt.Errorf("packet type %d of %d bytes, above %d: %w", h.Type, h.Length, max, ErrTooLarge)
	}
	b := make([]byte, h.Length)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}

// parseConnack returns the return code of a CONNACK (§3.2).
func parseConnack(h header, body []byte) (byte, error) {
	if h.Type != typeConnack {
		return 0, fmt.Errorf("packet type %d where CONNACK was due: %w", h.Type, ErrProtocol)
	}
	if len(body) != 2 {
		return 0, fmt.Errorf("CONNACK of %d bytes: %w", len(body), ErrProtocol)
	}
	return body[1], nil
}

// parseSuback returns the return codes of a SUBACK (§3.9) for packet id.
func parseSuback(body []byte, id uint16) ([]byte, error) {
	if len(body) < 3 {
		return nil, fmt.Errorf("SUBACK of %d bytes: %w", len(body), ErrProtocol)
	}
	if got := binary.BigEndian.Uint16(body); got != id {
		return nil, fmt.Errorf("SUBACK for packet %d, want %d: %w", got, id, ErrProtocol)
	}
	return body[2:], nil
}

// publish is a PUBLISH (§3.3) as far as the probe reads it.
type publish struct {
	Topic  string
	Retain bool
	QoS    byte
	// Payload is the start of the payload, at most what the reader keeps.
	Payload []byte
	// Size is the payload's full size.
	Size int
}

// readPublish reads the rest of a PUBLISH whose fixed header is h. It keeps
// the start of the payload in scratch (valid until the next call) and reads
// past the rest, so that a large retained message costs time, not memory.
func readPublish(r *bufio.Reader, h header, scratch []byte) (publish, error) {
	p := publish{Retain: h.Flags&0x01 != 0, QoS: (h.Flags >> 1) & 0x03}
	if p.QoS == 3 {
		return p, fmt.Errorf("PUBLISH with QoS 3: %w", ErrProtocol)
	}
	var lb [2]byte
	if h.Length < 2 {
		return p, fmt.Errorf("PUBLISH of %d bytes: %w", h.Length, ErrProtocol)
	}
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return p, noEOF(err)
	}
	tl := int(binary.BigEndian.Uint16(lb[:]))
	left := h.Length - 2 - tl
	if p.QoS > 0 {
		left -= 2 // packet identifier
	}
	if left < 0 {
		return p, fmt.Errorf("PUBLISH topic of %d bytes in a packet of %d: %w", tl, h.Length, ErrProtocol)
	}
	if tl > len(scratch) {
		return p, fmt.Errorf("PUBLISH topic of %d bytes: %w", tl, ErrTooLarge)
	}
	topic := scratch[:tl]
	if _, err := io.ReadFull(r, topic); err != nil {
		return p, noEOF(err)
	}
	if !utf8.Valid(topic) {
		return p, fmt.Errorf("PUBLISH topic is not UTF-8: %w", ErrProtocol)
	}
	p.Topic = string(topic)
	if p.QoS > 0 {
		if _, err := r.Discard(2); err != nil {
			return p, noEOF(err)
		}
	}
	p.Size = left
	n := min(left, len(scratch))
	p.Payload = scratch[:n]
	if _, err := io.ReadFull(r, p.Payload); err != nil {
		return p, noEOF(err)
	}
	if _, err := r.Discard(left - n); err != nil {
		return p, noEOF(err)
	}
	return p, nil
}

// noEOF turns an end of stream inside a packet into an unexpected one.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
