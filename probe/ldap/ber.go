package ldap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// LDAP messages are BER-encoded with the restrictions of RFC 4511 §5.1:
// definite lengths only, and the tags of LDAP are all below 31, so each
// fits in one byte. This file reads and writes that subset and nothing
// more.

// ErrProtocol is returned when the server's answer is not LDAP.
var ErrProtocol = errors.New("not an LDAP message")

// ErrLimit is returned when a message is larger than the probe reads.
var ErrLimit = errors.New("message exceeds the read limit")

// BER tags used by LDAP (X.690 §8; RFC 4511 Appendix B).
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagSequence    = 0x30
	tagSet         = 0x31
)

// tlv is one decoded element: its tag byte and its content.
type tlv struct {
	Tag  byte
	Body []byte
}

// Constructed reports whether the element holds other elements.
func (t tlv) Constructed() bool { return t.Tag&0x20 != 0 }

// parseTLV decodes the element at the start of b and returns the rest.
func parseTLV(b []byte) (tlv, []byte, error) {
	if len(b) < 2 {
		return tlv{}, nil, fmt.Errorf("element of %d bytes: %w", len(b), ErrProtocol)
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return tlv{}, nil, fmt.Errorf("multi-byte tag %#x: %w", tag, ErrProtocol)
	}
	n, hdr, err := parseLength(b[1:])
	if err != nil {
		return tlv{}, nil, err
	}
	rest := b[1+hdr:]
	if n > len(rest) {
		return tlv{}, nil, fmt.Errorf("length %d beyond the %d bytes left: %w", n, len(rest), ErrProtocol)
	}
	return tlv{Tag: tag, Body: rest[:n]}, rest[n:], nil
}

// parseLength reads a definite length (X.690 §8.1.3): one byte below 128,
// or 0x80|k followed by k bytes. It returns the length and the bytes its
// encoding took.
func parseLength(b []byte) (int, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("no length: %w", ErrProtocol)
	}
	if b[0] < 0x80 {
		return int(b[0]), 1, nil
	}
	k := int(b[0] & 0x7f)
	if k == 0 {
		return 0, 0, fmt.Errorf("indefinite length: %w", ErrProtocol)
	}
	if k > 4 || len(b) < 1+k {
		return 0, 0, fmt.Errorf("length of %d bytes: %w", k, ErrProtocol)
	}
	n := 0
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n < 0 || n > 1<<31-1 {
		return 0, 0, fmt.Errorf("length %d: %w", n, ErrProtocol)
	}
	return n, 1 + k, nil
}

// elements decodes every element of a constructed body.
func elements(b []byte) ([]tlv, error) {
	var out []tlv
	for len(b) > 0 {
		t, rest, err := parseTLV(b)
		if err != nil {
			return out, err
		}
		out = append(out, t)
		b = rest
	}
	return out, nil
}

// parseInt reads an INTEGER or ENUMERATED body of at most 8 bytes.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("integer of %d bytes: %w", len(b), ErrProtocol)
	}
	v := int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

// readMessage reads one LDAPMessage (a SEQUENCE) from the stream: at most
// max bytes of content, allocated only once the length is known to fit.
func readMessage(rd *bufio.Reader, max int) ([]byte, error) {
	tag, err := rd.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, fmt.Errorf("message starts with %#x: %w", tag, ErrProtocol)
	}
	first, err := rd.ReadByte()
	if err != nil {
		return nil, unexpected(err)
	}
	hdr := []byte{first}
	if first >= 0x80 {
		k := int(first & 0x7f)
		if k == 0 || k > 4 {
			return nil, fmt.Errorf("length of %d bytes: %w", k, ErrProtocol)
		}
		more := make([]byte, k)
		if _, err := io.ReadFull(rd, more); err != nil {
			return nil, unexpected(err)
		}
		hdr = append(hdr, more...)
	}
	n, _, err := parseLength(hdr)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("message of %d bytes, above %d: %w", n, max, ErrLimit)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return nil, unexpected(err)
	}
	return body, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendTLV appends an element with the given content.
func appendTLV(b []byte, tag byte, content []byte) []byte {
	b = append(b, tag)
	switch n := len(content); {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	case n < 0x10000:
		b = append(b, 0x82, byte(n>>8), byte(n))
	default:
		b = append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, content...)
}

// appendInt appends an INTEGER or ENUMERATED in its shortest form.
func appendInt(b []byte, tag byte, v int64) []byte {
	var c []byte
	for {
		c = append([]byte{byte(v)}, c...)
		if (v >= -128 && v < 128) || len(c) == 8 {
			break
		}
		v >>= 8
	}
	return appendTLV(b, tag, c)
}
