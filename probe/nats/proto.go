package nats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The client side of the NATS protocol, as far as the probe speaks it:
// https://docs.nats.io/reference/reference-protocols/nats-protocol

// ErrProtocol marks bytes that are not the NATS the probe expects.
var ErrProtocol = errors.New("not NATS")

// ErrTooLarge marks a line or message longer than the reader keeps.
var ErrTooLarge = errors.New("message too large")

// Bounds of the reader.
const (
	// maxLine bounds a protocol line; INFO is the longest (a cluster lists
	// its members' URLs).
	maxLine = 64 << 10
	// maxMessage is the largest message size accepted at all: the largest
	// max_payload a server may configure.
	maxMessage = 64 << 20
)

// Info is the part of a server's INFO the probe reads.
type Info struct {
	ServerID     string   `json:"server_id"`
	ServerName   string   `json:"server_name"`
	Version      string   `json:"version"`
	Go           string   `json:"go"`
	Headers      bool     `json:"headers"`
	AuthRequired bool     `json:"auth_required"`
	TLSRequired  bool     `json:"tls_required"`
	MaxPayload   int64    `json:"max_payload"`
	JetStream    bool     `json:"jetstream"`
	ConnectURLs  []string `json:"connect_urls"`
	Cluster      string   `json:"cluster"`
}

// op is one thing the server sent.
type op struct {
	Kind string // INFO, MSG, HMSG, PING, PONG, +OK, -ERR
	// Arg is the rest of the line: the JSON of INFO, the text of -ERR.
	Arg     string
	Subject string
	SID     string
	Reply   string
	// Header is the header block of an HMSG ("NATS/1.0 503\r\n…").
	Header []byte
	// Payload is the start of the payload, at most what the reader keeps.
	// It is the reader's buffer: valid until the next read.
	Payload []byte
	// Size is the payload's full size.
	Size int
}

// reader reads server operations with bounded lines and payloads.
type reader struct {
	r   *bufio.Reader
	buf []byte // payloads, reused
	// started is set once a byte of the current operation was read: a
	// timeout then leaves the stream in the middle of it.
	started bool
}

func newReader(r io.Reader) *reader { return &reader{r: bufio.NewReaderSize(r, 32<<10)} }

// line reads one CRLF-terminated line of at most maxLine bytes.
func (rd *reader) line() (string, error) {
	var buf []byte
	for {
		chunk, err := rd.r.ReadSlice('\n')
		if len(chunk) > 0 {
			rd.started = true
		}
		if len(buf)+len(chunk) > maxLine {
			return "", fmt.Errorf("protocol line longer than %d bytes: %w", maxLine, ErrTooLarge)
		}
		buf = append(buf, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	return strings.TrimRight(string(buf), "\r\n"), nil
}

// next reads the next operation, keeping at most keep bytes of a payload.
func (rd *reader) next(keep int) (op, error) {
	rd.started = false
	l, err := rd.line()
	if err != nil {
		return op{}, err
	}
	kind, arg, _ := strings.Cut(l, " ")
	o := op{Kind: strings.ToUpper(kind), Arg: strings.TrimSpace(arg)}
	switch o.Kind {
	case "PING", "PONG", "+OK", "INFO", "-ERR":
		return o, nil
	case "MSG", "HMSG":
		return o, rd.message(&o, keep)
	}
	return o, fmt.Errorf("unknown operation %q: %w", clip(kind, 16), ErrProtocol)
}

// message parses the arguments of MSG (subject sid [reply] size) or HMSG
// (subject sid [reply] header-size total-size) and reads the payload.
func (rd *reader) message(o *op, keep int) error {
	f := strings.Fields(o.Arg)
	sizes := 1
	if o.Kind == "HMSG" {
		sizes = 2
	}
	if len(f) != 2+sizes && len(f) != 3+sizes {
		return fmt.Errorf("%s with %d arguments: %w", o.Kind, len(f), ErrProtocol)
	}
	o.Subject, o.SID = f[0], f[1]
	if len(f) == 3+sizes {
		o.Reply = f[2]
	}
	total, err := size(f[len(f)-1])
	if err != nil {
		return err
	}
	hdr := 0
	if o.Kind == "HMSG" {
		if hdr, err = size(f[len(f)-2]); err != nil {
			return err
		}
		if hdr > total || hdr > maxLine {
			return fmt.Errorf("HMSG header of %d bytes in %d: %w", hdr, total, ErrProtocol)
		}
		o.Header = make([]byte, hdr)
		if _, err := io.ReadFull(rd.r, o.Header); err != nil {
			return noEOF(err)
		}
	}
	o.Size = total - hdr
	n := min(o.Size, keep)
	if cap(rd.buf) < n {
		rd.buf = make([]byte, n)
	}
	o.Payload = rd.buf[:n]
	if _, err := io.ReadFull(rd.r, o.Payload); err != nil {
		return noEOF(err)
	}
	if _, err := rd.r.Discard(o.Size - n); err != nil {
		return noEOF(err)
	}
	var crlf [2]byte
	if _, err := io.ReadFull(rd.r, crlf[:]); err != nil {
		return noEOF(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return fmt.Errorf("%s payload not followed by CRLF: %w", o.Kind, ErrProtocol)
	}
	return nil
}

// size parses a byte count of a MSG or HMSG line.
func size(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", clip(s, 16), ErrProtocol)
	}
	if n > maxMessage {
		return 0, fmt.Errorf("message of %d bytes: %w", n, ErrTooLarge)
	}
	return int(n), nil
}

// parseInfo parses the first line a server sends.
func parseInfo(line string) (Info, error) {
	var info Info
	rest, ok := strings.CutPrefix(line, "INFO ")
	if !ok {
		return info, fmt.Errorf("first line %q is no INFO: %w", clip(line, 32), ErrProtocol)
	}
	if err := json.Unmarshal([]byte(rest), &info); err != nil {
		return info, fmt.Errorf("INFO: %v: %w", err, ErrProtocol)
	}
	return info, nil
}

// status returns the status code of an HMSG header block ("NATS/1.0 503"),
// or 0.
func status(hdr []byte) int {
	first, _, _ := bytes.Cut(hdr, []byte("\r\n"))
	rest, ok := bytes.CutPrefix(first, []byte("NATS/1.0 "))
	if !ok || len(rest) < 3 {
		return 0
	}
	n, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return 0
	}
	return n
}

// connectLine is the CONNECT the probe sends: no credentials, no echo of
// its own messages, and headers so that a missing JetStream answers with a
// 503 status at once (no_responders).
func connectLine() string {
	return `CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"ajar","lang":"go",` +
		`"version":"1.0.0","protocol":1,"echo":false,"headers":true,"no_responders":true}` + "\r\n"
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// clip bounds a server-controlled string kept in an error.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
