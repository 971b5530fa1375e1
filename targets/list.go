package targets

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Entry is one target or exclusion as the user wrote it, with where it came
// from so that errors found later can point at it.
type Entry struct {
	Value string
	// File and Line locate the entry in a list file; File is empty for
	// command-line values.
	File string
	Line int
}

// Entries wraps command-line values, which have no file or line.
func Entries(values ...string) []Entry {
	out := make([]Entry, len(values))
	for i, v := range values {
		out[i] = Entry{Value: v}
	}
	return out
}

// String renders the entry as "FILE:LINE: VALUE", or VALUE alone.
func (e Entry) String() string {
	if e.File == "" {
		return e.Value
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Value)
}

// wrap prefixes err with the entry's position, when it has one.
func (e Entry) wrap(err error) error {
	if e.File == "" {
		return err
	}
	return fmt.Errorf("%s:%d: %w", e.File, e.Line, err)
}

// maxLine bounds one line of a list file.
const maxLine = 4096

// ReadList reads a target list or an exclusion file: one entry per line,
// '#' starts a comment, blank lines are skipped. Each entry is checked with
// ParseTarget; a bad line is reported as "NAME:LINE: bad target …". Host
// names are accepted here; Build refuses them where they make no sense.
func ReadList(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF") // byte order mark
		}
		text, _, _ = strings.Cut(text, "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		e := Entry{Value: text, File: name, Line: line}
		if _, _, err := ParseTarget(text); err != nil {
			return nil, e.wrap(err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxLine)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}
