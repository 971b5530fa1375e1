package ftp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrProtocol is returned when the server does not speak FTP.
var ErrProtocol = errors.New("not an FTP reply")

// ErrLimit is returned when a reply is longer than the probe reads.
var ErrLimit = errors.New("reply exceeds the read limit")

// Limits on one reply.
const (
	// maxLine is the longest reply line read.
	maxLine = 2048
	// maxReplyLines is the most lines of one multi-line reply.
	maxReplyLines = 64
	// maxText is the most reply text kept (the rest is read and dropped).
	maxText = 1024
)

// reply is one FTP reply: a three-digit code and its text, the lines of a
// multi-line reply joined with newlines.
type reply struct {
	Code int
	Text string
}

// Class returns the first digit of the code: 1 preliminary, 2 completion,
// 3 intermediate, 4 transient failure, 5 permanent failure.
func (r reply) Class() int { return r.Code / 100 }

func (r reply) String() string { return strconv.Itoa(r.Code) + " " + r.Text }

// readReply reads one reply (RFC 959 §4.2): "ddd text", or a first line
// "ddd-text", any lines, and a last line "ddd text" with the same code.
func readReply(rd *bufio.Reader) (reply, error) {
	line, err := readLine(rd)
	if err != nil {
		return reply{}, err
	}
	code, sep, ok := replyCode(line)
	if !ok {
		return reply{}, fmt.Errorf("%q: %w", clip(line, 40), ErrProtocol)
	}
	var text bytes.Buffer
	text.Write(line[min(4, len(line)):])
	if sep == ' ' {
		return reply{Code: code, Text: text.String()}, nil
	}
	for n := 1; ; n++ {
		if n >= maxReplyLines {
			return reply{}, fmt.Errorf("multi-line reply %d longer than %d lines: %w", code, maxReplyLines, ErrLimit)
		}
		line, err := readLine(rd)
		if err != nil {
			return reply{}, err
		}
		if c, s, ok := replyCode(line); ok && c == code && s == ' ' {
			appendText(&text, line[min(4, len(line)):])
			return reply{Code: code, Text: text.String()}, nil
		}
		appendText(&text, bytes.TrimPrefix(line, []byte(strconv.Itoa(code)+"-")))
	}
}

// appendText adds one line to a reply's text, within maxText.
func appendText(b *bytes.Buffer, line []byte) {
	if b.Len() >= maxText {
		return
	}
	b.WriteByte('\n')
	if room := maxText - b.Len(); len(line) > room {
		line = line[:room]
	}
	b.Write(line)
}

// replyCode parses "ddd " or "ddd-" at the start of a line.
func replyCode(line []byte) (code int, sep byte, ok bool) {
	if len(line) < 4 || line[3] != ' ' && line[3] != '-' {
		// A bare "ddd" line is a complete reply with no text.
		if len(line) == 3 {
			line = append(line[:3:3], ' ')
		} else {
			return 0, 0, false
		}
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
	}
	if line[0] < '1' || line[0] > '5' {
		return 0, 0, false
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	return code, line[3], true
}

// readLine reads one line without its CRLF (a bare LF is accepted too). A
// line longer than maxLine is an error, not an allocation.
func readLine(rd *bufio.Reader) ([]byte, error) {
	line, err := rd.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
		return nil, fmt.Errorf("reply line longer than %d bytes: %w", maxLine, ErrLimit)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = bytes.TrimRight(line, "\r\n")
	return append([]byte(nil), line...), nil
}

// clip bounds a server-controlled string kept in an error or a detail.
func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(bytes.ToValidUTF8(b, nil))
}
