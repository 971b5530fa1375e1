package ftp

import (
	"bytes"
	"strconv"
	"strings"
)

// entryKind is what a listed name is.
type entryKind int

const (
	kindFile entryKind = iota
	kindDir
	kindLink
	kindOther // devices, sockets, pipes
)

// entry is one line of a LIST answer.
type entry struct {
	Name string
	Kind entryKind
	Size int64
}

// LIST's format is not specified (RFC 959 §4.1.3: "the data ... is
// intended to be human readable"); servers use the output of "ls -l" or the
// MS-DOS format of IIS. parseList understands both, skips what it cannot
// read, and stops after max entries.
func parseList(data []byte, max int) []entry {
	var out []entry
	for len(data) > 0 && len(out) < max {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if e, ok := parseListLine(string(bytes.TrimRight(line, "\r"))); ok {
			out = append(out, e)
		}
	}
	return out
}

// parseListLine reads one line of either format.
func parseListLine(line string) (entry, bool) {
	if e, ok := parseUnixLine(line); ok {
		return e, true
	}
	return parseDOSLine(line)
}

// field is one whitespace-separated field and where it ends in its line.
type field struct {
	s   string
	end int
}

// fields splits a line like strings.Fields, keeping where each field ends
// so that a name with spaces can be cut from the line itself.
func fields(line string, max int) []field {
	out := make([]field, 0, max)
	i := 0
	for i < len(line) && len(out) < max {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		if i > start {
			out = append(out, field{line[start:i], i})
		}
	}
	return out
}

var months = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// isMonth accepts an English month abbreviation or a month ending in 月
// (Chinese locales of ls).
func isMonth(s string) bool {
	if strings.HasSuffix(s, "月") {
		return true
	}
	if len(s) < 3 {
		return false
	}
	for _, m := range months {
		if strings.EqualFold(s[:3], m) {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseUnixLine reads "drwxr-xr-x 2 0 0 4096 Nov 25 2022 pub": the type is
// the first character; the size is the number before the month; the name
// is the rest of the line after the time or year. Owner and group may be
// one field or two.
func parseUnixLine(line string) (entry, bool) {
	if len(line) < 10 || !strings.ContainsRune("-dlbcpsD", rune(line[0])) {
		return entry{}, false
	}
	for _, c := range line[1:10] {
		if !strings.ContainsRune("rwxsStTl-", c) {
			return entry{}, false
		}
	}
	fs := fields(line, 12)
	for i := 3; i+3 < len(fs); i++ {
		if !isMonth(fs[i].s) || !isDigits(strings.TrimSuffix(fs[i+1].s, "日")) {
			continue
		}
		y := fs[i+2].s
		if !isDigits(y) && !(len(y) >= 4 && strings.Count(y, ":") == 1) {
			continue
		}
		size, err := strconv.ParseInt(fs[i-1].s, 10, 64)
		if err != nil || size < 0 {
			return entry{}, false
		}
		rest := line[fs[i+2].end:]
		// One separator, then the name, leading spaces and all.
		if len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			rest = rest[1:]
		}
		name := strings.TrimLeft(rest, " ")
		e := entry{Name: name, Size: size}
		switch line[0] {
		case '-':
			e.Kind = kindFile
		case 'd':
			e.Kind = kindDir
		case 'l':
			e.Kind = kindLink
			if n, _, ok := strings.Cut(name, " -> "); ok {
				e.Name = n
			}
		default:
			e.Kind = kindOther
		}
		if e.Name == "" || e.Name == "." || e.Name == ".." {
			return entry{}, false
		}
		return e, true
	}
	return entry{}, false
}

// parseDOSLine reads "11-25-22  09:30AM       <DIR>          pub" and
// "11-25-22  09:30AM                 1234 file.txt" (IIS).
func parseDOSLine(line string) (entry, bool) {
	fs := fields(line, 4)
	if len(fs) < 4 {
		return entry{}, false
	}
	date, clock := fs[0].s, fs[1].s
	if len(date) < 8 || strings.Count(date, "-") != 2 && strings.Count(date, "/") != 2 || !strings.Contains(clock, ":") {
		return entry{}, false
	}
	name := strings.TrimLeft(line[fs[2].end:], " ")
	if name == "" || name == "." || name == ".." {
		return entry{}, false
	}
	if fs[2].s == "<DIR>" {
		return entry{Name: name, Kind: kindDir}, true
	}
	size, err := strconv.ParseInt(fs[2].s, 10, 64)
	if err != nil || size < 0 {
		return entry{}, false
	}
	return entry{Name: name, Kind: kindFile, Size: size}, true
}
