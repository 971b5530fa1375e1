package clickhouse

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

// The native protocol's handshake: the client's Hello carries the user and
// password, and the server answers with its own Hello or an Exception.
// https://clickhouse.com/docs/en/native-protocol/client and
// https://clickhouse.com/docs/en/native-protocol/server

// Packet types.
const (
	clientHello     = 0
	serverHello     = 0
	serverException = 2
)

// clientRevision is the protocol revision the probe speaks. At 54060 the
// server's Hello carries its time zone (from 54058) and nothing later, so
// the answer's length is known.
const clientRevision = 54060

// maxString bounds a string of the handshake.
const maxString = 64 << 10

// hello is the client's Hello as user default with an empty password.
func hello() []byte {
	b := binary.AppendUvarint(nil, clientHello)
	b = appendString(b, "ajar")
	b = binary.AppendUvarint(b, 1) // client version major
	b = binary.AppendUvarint(b, 0) // minor
	b = binary.AppendUvarint(b, clientRevision)
	b = appendString(b, "") // database: the user's default
	b = appendString(b, "default")
	b = appendString(b, "")
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// serverInfo is what a server's Hello says.
type serverInfo struct {
	Name         string
	Major, Minor uint64
	Revision     uint64
	TimeZone     string
}

// exception is a server's Exception packet (the outermost one).
type exception struct {
	Code    int32
	Name    string
	Message string
}

// readHandshake reads the answer to the probe's Hello.
func readHandshake(r *bufio.Reader) (*serverInfo, *exception, error) {
	kind, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, nil, noEOF(err)
	}
	switch kind {
	case serverHello:
		var si serverInfo
		if si.Name, err = readString(r); err != nil {
			return nil, nil, err
		}
		for _, p := range []*uint64{&si.Major, &si.Minor, &si.Revision} {
			if *p, err = binary.ReadUvarint(r); err != nil {
				return nil, nil, fmt.Errorf("read Hello: %w", noEOF(err))
			}
		}
		if si.Revision >= 54058 {
			if si.TimeZone, err = readString(r); err != nil {
				return nil, nil, err
			}
		}
		return &si, nil, nil
	case serverException:
		var e exception
		var code [4]byte
		if _, err := io.ReadFull(r, code[:]); err != nil {
			return nil, nil, noEOF(err)
		}
		e.Code = int32(binary.LittleEndian.Uint32(code[:]))
		if e.Name, err = readString(r); err != nil {
			return nil, nil, err
		}
		if e.Message, err = readString(r); err != nil {
			return nil, nil, err
		}
		// The stack trace and nested exceptions follow; they are not read.
		return nil, &e, nil
	}
	return nil, nil, fmt.Errorf("packet type %d where Hello was due: %w", kind, ErrProtocol)
}

// readString reads a length-prefixed string of at most maxString bytes.
func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", noEOF(err)
	}
	if n > maxString {
		return "", fmt.Errorf("string of %d bytes: %w", n, ErrProtocol)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", noEOF(err)
	}
	return string(b), nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// probeNative sends Hello as user default with an empty password. The
// server checks the password before it answers: its Hello proves the
// exposure; the tables are listed through the HTTP interface, which is a
// port of its own.
func probeNative(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	nc, err := t.Dialer.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	res := &probe.Result{Status: ajar.StatusOpen}
	if _, err := nc.Write(hello()); err != nil {
		return res, fmt.Errorf("write Hello: %w", ctxErr(ctx, err))
	}
	si, ex, err := readHandshake(bufio.NewReader(nc))
	if err != nil {
		return res, fmt.Errorf("read Hello: %w", ctxErr(ctx, err))
	}
	res.Product = "ClickHouse"
	if ex != nil {
		res.Detail = clip(fmt.Sprintf("%s (%d): %s", ex.Name, ex.Code, ex.Message), detailMax)
		if authCode(int(ex.Code)) {
			res.Status = ajar.StatusProtected
		}
		return res, nil
	}
	res.Version = strconv.FormatUint(si.Major, 10) + "." + strconv.FormatUint(si.Minor, 10)
	res.Status = ajar.StatusExposed
	res.Detail = "user default logged in without a password over the native protocol; its tables are listed on the HTTP interface"
	res.Exposure = &ajar.Exposure{
		Plugin: "clickhouse", Access: ajar.AccessRead,
		Evidence: &ajar.Evidence{
			Request:  "native Hello as user default with an empty password",
			Response: clip(fmt.Sprintf("Hello from %s %d.%d, revision %d, time zone %s", si.Name, si.Major, si.Minor, si.Revision, si.TimeZone), evidenceMax),
		},
	}
	return res, nil
}

// ctxErr adds the context's error to a network error it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	if dl, ok := ctx.Deadline(); ok && !dl.After(time.Now()) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
	}
	return err
}
