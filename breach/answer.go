package breach

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// A range answer is text, one entry per line:
//
//	SUFFIX:ID,ID
//
// SUFFIX is SuffixLen upper-case hex digits and the IDs are the numeric ids of
// the breaches that hold the identifier (GET /api/v1/breaches names them).
// Real entries are mixed with decoys that match no identifier, sorted by
// suffix, and the answer ends with one line starting with '#' that pads it to
// the same length for every prefix. Clients skip lines starting with '#'.

// Entry is one line of a range answer.
type Entry struct {
	Suffix   string
	Breaches []int
}

// AppendEntry appends the line of an entry, newline included.
func AppendEntry(b []byte, suffix string, ids []int) []byte {
	b = append(b, suffix...)
	b = append(b, ':')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return append(b, '\n')
}

// MaxAnswerBytes bounds the range answer a client accepts.
const MaxAnswerBytes = 16 << 20

// ParseRange parses a range answer.
func ParseRange(text string) ([]Entry, error) {
	var es []Entry
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), MaxAnswerBytes)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if s == "" || s[0] == '#' {
			continue
		}
		suffix, ids, ok := strings.Cut(s, ":")
		if !ok || len(suffix) != SuffixLen || !isHex(suffix) {
			return nil, fmt.Errorf("parse range answer line %d: want SUFFIX:IDS with a %d-hex-digit suffix", line, SuffixLen)
		}
		e := Entry{Suffix: strings.ToUpper(suffix)}
		for f := range strings.SplitSeq(ids, ",") {
			id, err := strconv.Atoi(f)
			if err != nil || id < 0 {
				return nil, fmt.Errorf("parse range answer line %d: breach id %q is not a number", line, f)
			}
			e.Breaches = append(e.Breaches, id)
		}
		es = append(es, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse range answer: %w", err)
	}
	return es, nil
}

func isHex(s string) bool {
	for i := range len(s) {
		if strings.IndexByte(hexDigits, upper(s[i])) < 0 {
			return false
		}
	}
	return true
}

// Match returns the breach ids of the entries whose suffix is suffix.
func Match(es []Entry, suffix string) []int {
	var ids []int
	for _, e := range es {
		if e.Suffix == suffix {
			ids = append(ids, e.Breaches...)
		}
	}
	return ids
}

// OPRFSuite names the RFC 9497 ciphersuite of private mode.
const OPRFSuite = "ristretto255-SHA512"

// PrivateRequest is the body of POST /api/v1/breach/private/{prefix}.
type PrivateRequest struct {
	// Blinded is the client's blinded element, hex-encoded (RFC 9497,
	// section 3.3.1, Blind).
	Blinded string `json:"blinded"`
}

// PrivateAnswer is the reply to a PrivateRequest.
type PrivateAnswer struct {
	Suite string `json:"suite"`
	// Evaluated is the server's evaluated element, hex-encoded (BlindEvaluate).
	Evaluated string `json:"evaluated"`
	// Range is the bucket of OPRF-output suffixes, in the range answer format.
	Range string `json:"range"`
}

// Error is the JSON body of an API error.
type Error struct {
	Error string `json:"error"`
}
