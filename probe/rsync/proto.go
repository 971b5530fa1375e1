package rsync

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrProtocol is returned when the server does not speak the rsync daemon
// protocol.
var ErrProtocol = errors.New("not the rsync daemon protocol")

// ErrLimit is returned when an answer is larger than the probe reads.
var ErrLimit = errors.New("answer exceeds the read limit")

// maxLine is the longest line of the daemon's text phase read.
const maxLine = 1024

// The daemon's text phase (rsync's clientserver.c; rsyncd.conf(5)): the
// server greets with "@RSYNCD: <protocol>.<sub> [digests]", the client
// answers with its own version line, then names a module, or asks for the
// list with "#list" (an empty line in older clients).

// greeting is the parsed "@RSYNCD:" line.
type greeting struct {
	Protocol int    // major protocol version
	Version  string // "31.0" as sent
}

// parseGreeting reads "@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4".
func parseGreeting(line string) (greeting, error) {
	rest, ok := strings.CutPrefix(line, "@RSYNCD: ")
	if !ok {
		return greeting{}, fmt.Errorf("greeting %q: %w", clip(line, 40), ErrProtocol)
	}
	v, _, _ := strings.Cut(rest, " ")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 1 || n > 1000 {
		return greeting{}, fmt.Errorf("protocol version %q: %w", clip(v, 16), ErrProtocol)
	}
	return greeting{Protocol: n, Version: clip(v, 16)}, nil
}

// module is one line of the module list.
type module struct {
	Name, Comment string
}

// parseModuleLine reads "name<spaces>\tcomment" (the daemon pads names to
// fifteen characters). Lines without a tab are the message of the day.
func parseModuleLine(line string) (module, bool) {
	name, comment, ok := strings.Cut(line, "\t")
	name = strings.TrimRight(name, " ")
	if !ok || !safeModule(name) {
		return module{}, false
	}
	return module{Name: name, Comment: strings.TrimSpace(comment)}, true
}

// safeModule reports whether a module name may be sent back to the daemon:
// one line, no path separator, not a daemon keyword.
func safeModule(name string) bool {
	return name != "" && len(name) <= 256 && !strings.ContainsAny(name, "\r\n\x00/") &&
		!strings.HasPrefix(name, "#") && !strings.HasPrefix(name, "@")
}

// readLine reads one text line without its newline. A line longer than
// maxLine is an error, not an allocation.
func readLine(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
		return "", fmt.Errorf("line longer than %d bytes: %w", maxLine, ErrLimit)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return string(bytes.TrimRight(line, "\r\n")), nil
}

// clip bounds a server-controlled string kept in an error or a detail.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
