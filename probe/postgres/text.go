package postgres

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// clip makes s, which a server sent, fit for a report: control characters
// become spaces, invalid UTF-8 becomes U+FFFD, and the result is at most n
// bytes, ending in "…" when it was cut.
func clip(s string, n int) string {
	const ellipsis = "…"
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(min(len(s), n))
	// Ranging over a string yields U+FFFD for each invalid byte.
	for _, r := range s {
		if unicode.IsControl(r) {
			r = ' '
		}
		size := utf8.RuneLen(r)
		if b.Len()+size > n {
			if n < len(ellipsis) {
				return cut(b.String(), n)
			}
			return cut(b.String(), n-len(ellipsis)) + ellipsis
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cut shortens s, valid UTF-8, to at most n bytes without splitting a rune.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// parseVersion reads the number of a server_version string ("15.4 (Debian
// 15.4-1)", "9.6.24", "17beta1") in the form of server_version_num: major
// times 10000 plus minor from version 10 on, major times 10000 plus minor
// times 100 plus patch before. ok is false when s does not start with a
// version number.
func parseVersion(s string) (num int, ok bool) {
	major, rest, ok := leadingNumber(s, 4)
	if !ok || major == 0 {
		return 0, false
	}
	var parts [2]int
	for i := range parts {
		if !strings.HasPrefix(rest, ".") {
			break
		}
		n, r, ok := leadingNumber(rest[1:], 4)
		if !ok {
			break
		}
		parts[i], rest = n, r
	}
	if major >= 10 {
		return major*10000 + parts[0], true
	}
	return major*10000 + min(parts[0], 99)*100 + min(parts[1], 99), true
}

// leadingNumber reads at most maxDigits decimal digits at the start of s.
func leadingNumber(s string, maxDigits int) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && i < maxDigits && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	return n, s[i:], i > 0
}
