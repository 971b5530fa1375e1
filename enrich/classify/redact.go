package classify

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Redaction keeps enough of a value to show what it is and never enough to
// identify anyone: 138****5678, 3101**********123X, z***@example.com, 张*,
// 上海市*, ************1111. Secrets are masked whole.

const secretMask = "********"

// maxJSON bounds the values parsed as JSON documents.
const maxJSON = 1 << 20

// Redact returns value with everything the classifiers find masked, plus
// what the field name alone vouches for (a "password" field is masked
// whatever it holds) and long digit runs nobody recognised. JSON objects
// are redacted member by member, with each member's key as its field name.
func Redact(field, value string) string {
	if v, ok := parseJSON(value); ok {
		out, err := marshal(redactTree(field, v, time.Now()))
		if err == nil {
			return out
		}
	}
	return redactText(fieldHints(field), value, time.Now())
}

// RedactText redacts free text that belongs to no field: an evidence
// excerpt, a ransom note, a server message.
func RedactText(s string) string {
	return redactText(hints{}, s, time.Now())
}

// redactTree redacts a decoded JSON value under key.
func redactTree(key string, v any, now time.Time) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = redactTree(k, e, now)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactTree(key, e, now)
		}
		return x
	case string:
		return redactText(fieldHints(key), x, now)
	case json.Number:
		r := redactText(fieldHints(key), x.String(), now)
		if r == x.String() {
			return x
		}
		return r
	}
	return v
}

// pairRe finds "key": "value" and "key": number members in text that is
// not valid JSON, such as a document cut at the probe's byte cap; the last
// string may be unterminated.
var pairRe = regexp.MustCompile(`"((?:[^"\\]|\\.){1,64})"\s*:\s*(?:"((?:[^"\\]|\\.)*)"?|(-?\d[\d.eE+\-]*))`)

// redactText redacts one scalar value of a field whose name says h.
func redactText(h hints, s string, now time.Time) string {
	if s == "" {
		return s
	}
	var tail string
	if len(s) > maxScan {
		// Beyond what is scanned nothing is shown.
		s, tail = strings.ToValidUTF8(s[:maxScan], ""), "…"
	}
	if strings.Contains(s, "\":") {
		s = redactPairs(s, now)
	}
	fs := scalar(h, s, now)
	fs = append(fs, fieldMasks(h, s, fs)...)
	fs = append(fs, longDigits(s, fs)...)
	return applyMasks(s, fs) + tail
}

// redactPairs redacts the values of "key": value members of JSON-like text
// by their keys.
func redactPairs(s string, now time.Time) string {
	var b strings.Builder
	last := 0
	for _, m := range pairRe.FindAllStringSubmatchIndex(s, -1) {
		key := s[m[2]:m[3]]
		vs, ve := m[4], m[5]
		if vs < 0 {
			vs, ve = m[6], m[7]
		}
		if vs < 0 || vs < last {
			continue
		}
		b.WriteString(s[last:vs])
		b.WriteString(redactText(fieldHints(key), s[vs:ve], now))
		last = ve
	}
	b.WriteString(s[last:])
	return b.String()
}

// fieldMasks are the masks a field name asks for when no finding covers the
// value: an identifier field is masked even when its value fails the
// validator, a name field masked as a name, a password field whole.
func fieldMasks(h hints, s string, fs []finding) []finding {
	lo := len(s) - len(strings.TrimLeft(s, " \t\r\n"))
	hi := len(strings.TrimRight(s, " \t\r\n"))
	if lo >= hi || !h.any() && !h.birth {
		return nil
	}
	if slices.ContainsFunc(fs, func(f finding) bool { return f.mask != nil && f.Start <= lo && f.End >= hi }) {
		return nil
	}
	whole := s[lo:hi]
	var out []finding
	at := func(mask func(string) string) {
		out = append(out, finding{Class: "", Start: lo, End: hi, mask: mask})
	}
	if h.birth {
		// A date of birth keeps its year: 1990-**-**.
		at(func(v string) string { return maskDigits(v, 4, 0) })
		return out
	}
	n := h.strength
	switch {
	case n(Credential) == Strong || n(SecretKey) == Strong:
		at(maskSecret)
	case n(Credential) > 0 || n(SecretKey) > 0:
		if hexDigest(whole) || tokenLike(whole) {
			at(maskSecret)
		}
	case n(Phone) > 0 || n(CNResidentID) > 0 || n(NationalID) > 0 || n(Passport) > 0 ||
		n(PaymentCard) > 0 || n(IBAN) > 0:
		if strings.ContainsAny(whole, "0123456789") {
			at(maskAlnum)
		}
	case n(Email) > 0 && strings.Contains(whole, "@"):
		at(maskEmail)
	case n(PersonName) == Strong || n(PersonName) > 0 && nameLike(whole):
		at(maskName)
	case n(Address) == Strong:
		at(maskAddress)
	}
	return out
}

// longDigits masks, in the middle, the runs of nine or more digits that no
// finding covers: an account number, a QQ number, an ID of a kind nobody
// validated. UUIDs are left alone.
func longDigits(s string, fs []finding) []finding {
	uuids := uuidRe.FindAllStringIndex(s, -1)
	var out []finding
	for _, loc := range digitRun.FindAllStringIndex(s, -1) {
		if loc[1]-loc[0] < 9 {
			continue
		}
		inUUID := slices.ContainsFunc(uuids, func(u []int) bool { return u[0] <= loc[0] && u[1] >= loc[1] })
		covered := slices.ContainsFunc(fs, func(f finding) bool { return f.mask != nil && f.Start <= loc[0] && f.End >= loc[1] })
		if !inUUID && !covered {
			out = append(out, finding{Start: loc[0], End: loc[1], mask: maskDigitRun})
		}
	}
	return out
}

// applyMasks replaces the spans of the findings that have a mask, the
// earliest and then the longest first, skipping spans that overlap one
// already replaced.
func applyMasks(s string, fs []finding) string {
	fs = slices.DeleteFunc(fs, func(f finding) bool { return f.mask == nil || f.Start >= f.End })
	if len(fs) == 0 {
		return s
	}
	slices.SortStableFunc(fs, func(a, b finding) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return (b.End - b.Start) - (a.End - a.Start)
	})
	var b strings.Builder
	last := 0
	for _, f := range fs {
		if f.Start < last {
			if f.End <= last {
				continue
			}
			// Overlaps the previous span: mask what sticks out, whole.
			b.WriteString(strings.Repeat("*", utf8.RuneCountInString(s[last:f.End])))
			last = f.End
			continue
		}
		b.WriteString(s[last:f.Start])
		b.WriteString(f.mask(s[f.Start:f.End]))
		last = f.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskDigits replaces the digits of s by *, except the first front and the
// last back digits; other characters stay.
func maskDigits(s string, front, back int) string {
	total := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			total++
		}
	}
	b := []byte(s)
	seen := 0
	for i := range b {
		if b[i] >= '0' && b[i] <= '9' {
			if seen >= front && seen < total-back {
				b[i] = '*'
			}
			seen++
		}
	}
	return string(b)
}

// maskPhone keeps the country code, the first three digits of the national
// number and the last four: 138****5678, +86 138****5678. Shorter numbers
// keep two at each end.
func maskPhone(s string, num *phonenumbers.PhoneNumber) string {
	digits := len(keepDigits(s))
	cc := 0
	if num != nil {
		trimmed := strings.TrimLeft(s, " (")
		switch {
		case strings.HasPrefix(trimmed, "+"):
			cc = len(strconv.Itoa(int(num.GetCountryCode())))
		case strings.HasPrefix(trimmed, "00"):
			cc = 2 + len(strconv.Itoa(int(num.GetCountryCode())))
		}
	}
	national := digits - cc
	if national >= 9 {
		return maskDigits(s, cc+3, 4)
	}
	return maskDigits(s, cc+2, 2)
}

// maskResidentID keeps the first four and the last four characters:
// 3101**********123X.
func maskResidentID(s string) string {
	if strings.HasSuffix(s, "X") || strings.HasSuffix(s, "x") {
		return maskDigits(s, 4, 3)
	}
	return maskDigits(s, 4, 4)
}

// maskCard keeps the last four digits.
func maskCard(s string) string { return maskDigits(s, 0, 4) }

// maskKeepLast4 keeps the last four digits (social security numbers).
func maskKeepLast4(s string) string { return maskDigits(s, 0, 4) }

// maskDigitRun masks a long run of unknown digits in the middle, keeping a
// quarter at each end, at most four.
func maskDigitRun(s string) string {
	n := len(s)
	k := min(4, n/4)
	return maskDigits(s, k, k)
}

// maskAlnum masks letters and digits, keeping the first and the last two
// when there are at least eight, the last one when there are at least
// four: a passport, an identifier that failed its validator.
func maskAlnum(s string) string {
	total := 0
	for _, r := range s {
		if isAlnum(r) {
			total++
		}
	}
	front, back := 0, 0
	switch {
	case total >= 8:
		front, back = 1, 2
	case total >= 4:
		back = 1
	}
	var b strings.Builder
	seen := 0
	for _, r := range s {
		if isAlnum(r) {
			if seen >= front && seen < total-back {
				r = '*'
			}
			seen++
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// maskIBAN keeps the country code and the last four characters.
func maskIBAN(s string) string {
	var b strings.Builder
	total := 0
	for _, r := range s {
		if isAlnum(r) {
			total++
		}
	}
	seen := 0
	for _, r := range s {
		if isAlnum(r) {
			if seen >= 2 && seen < total-4 {
				r = '*'
			}
			seen++
		}
		b.WriteRune(r)
	}
	return b.String()
}

// maskEmail keeps the first character of the local part and the domain:
// z***@example.com.
func maskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return secretMask
	}
	_, n := utf8.DecodeRuneInString(s)
	return s[:n] + "***" + s[at:]
}

// maskName keeps the surname of a Chinese name (张*, 欧阳*) and the
// initials of a Latin one (J* S*).
func maskName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if hasHan(s) {
		if sur, ok := chineseSurname(s); ok {
			return sur + "*"
		}
		r, _ := utf8.DecodeRuneInString(s)
		return string(r) + "*"
	}
	var parts []string
	for _, w := range strings.Fields(s) {
		r, _ := utf8.DecodeRuneInString(w)
		parts = append(parts, string(r)+"*")
	}
	return strings.Join(parts, " ")
}

// maskAddress keeps the province of a Chinese address (上海市*) and the
// last part of a Latin one when it is a country or a state (*, Ohio);
// anything else is masked whole.
func maskAddress(s string) string {
	s = strings.TrimSpace(s)
	if p, ok := province(s); ok {
		return p + "*"
	}
	if i := strings.LastIndexByte(s, ','); i >= 0 {
		last := strings.TrimSpace(s[i+1:])
		if last != "" && len(last) <= 32 && !strings.ContainsAny(last, "0123456789") {
			return "*, " + last
		}
	}
	return "*"
}

// maskIP keeps the first half of an address: 203.0.*.*, 2001:db8:*.
func maskIP(s string) string {
	if strings.Contains(s, ":") {
		parts := strings.SplitN(s, ":", 3)
		if len(parts) == 3 {
			return parts[0] + ":" + parts[1] + ":*"
		}
		return "*"
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return "*"
	}
	return parts[0] + "." + parts[1] + ".*.*"
}

// maskCoordinate keeps one decimal of each coordinate, about 11 km.
func maskCoordinate(s string) string {
	var b strings.Builder
	decimals := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			decimals = 0
			b.WriteByte(c)
		case c >= '0' && c <= '9' && decimals >= 0:
			decimals++
			if decimals == 1 {
				b.WriteByte(c)
			} else if decimals == 2 {
				b.WriteByte('*')
			}
		default:
			decimals = -1
			b.WriteByte(c)
		}
	}
	return b.String()
}

// maskSecret masks the whole value.
func maskSecret(string) string { return secretMask }

// parseJSON decodes value when it holds a JSON object or array.
func parseJSON(value string) (any, bool) {
	t := strings.TrimSpace(value)
	if len(t) < 2 || len(t) > maxJSON || !(t[0] == '{' && t[len(t)-1] == '}' || t[0] == '[' && t[len(t)-1] == ']') {
		return nil, false
	}
	d := json.NewDecoder(strings.NewReader(t))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false
	}
	return v, true
}

// marshal encodes v compactly, without HTML escapes.
func marshal(v any) (string, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
