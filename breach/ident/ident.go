// Package ident normalises personal identifiers before they are hashed: phone
// numbers to E.164, e-mail addresses, and PRC resident ID numbers.
package ident

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/ajar-scan/ajar/breach"
)

// ErrInvalid is wrapped by every error that rejects an identifier.
var ErrInvalid = errors.New("invalid identifier")

func invalid(k breach.Kind, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, k, fmt.Sprintf(format, a...))
}

// Normalizer normalises identifiers. It caches what it learns about Chinese
// mobile number blocks, so a Normalizer must not be shared between
// goroutines: give each worker its own.
type Normalizer struct {
	region string
	// cn caches the validity of 11-digit Chinese mobile numbers by their
	// first 5 digits: 0 unknown, 1 valid, 2 invalid. libphonenumber's CN
	// mobile pattern looks at no more than the first 5 digits
	// (1740[0-5]\d{6}|1(?:[38]\d|4[57]|…)\d{8}); ident_test.go checks every
	// 5-digit block against the library.
	cn []byte
	// now bounds birth dates in ID numbers.
	now func() time.Time
}

// NewNormalizer returns a normalizer whose phone numbers without a country
// code are read as numbers of region (ISO 3166-1 alpha-2, e.g. "CN").
func NewNormalizer(region string) (*Normalizer, error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	if !phonenumbers.GetSupportedRegions()[region] {
		return nil, fmt.Errorf("phone region %q is not a region libphonenumber knows (use a two-letter code such as CN, US, GB)", region)
	}
	return &Normalizer{region: region, now: time.Now}, nil
}

// Region returns the default phone region.
func (n *Normalizer) Region() string { return n.region }

// Normalize returns the normalised form of s as an identifier of kind k.
func (n *Normalizer) Normalize(k breach.Kind, s string) (string, error) {
	switch k {
	case breach.KindPhone:
		return n.Phone(s)
	case breach.KindID:
		return n.IDNumber(s)
	case breach.KindEmail:
		return Email(s)
	}
	return "", fmt.Errorf("normalise: unknown identifier kind %q", k)
}

// maxInput bounds what is handed to the parsers.
const maxInput = 256

// Phone returns the number in E.164 form (+8613812345678), or an error when
// libphonenumber does not consider it a valid number.
func (n *Normalizer) Phone(s string) (string, error) {
	if len(s) > maxInput {
		return "", invalid(breach.KindPhone, "longer than %d bytes", maxInput)
	}
	if e, ok := n.chineseMobile(s); ok {
		if e == "" {
			return "", invalid(breach.KindPhone, "%q is not a valid number", s)
		}
		return e, nil
	}
	return n.library(s)
}

func (n *Normalizer) library(s string) (string, error) {
	num, err := phonenumbers.Parse(s, n.region)
	if err != nil {
		return "", invalid(breach.KindPhone, "%q: %v", s, err)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", invalid(breach.KindPhone, "%q is not a valid number", s)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// chineseMobile is the fast path for the shape that fills most Chinese
// leaks: 11 digits starting with 1[3-9], bare (with region CN) or after +86,
// with optional spaces, dashes and dots. It returns ok=false for anything
// else, which then goes through libphonenumber; e is "" for an invalid
// number.
func (n *Normalizer) chineseMobile(s string) (e string, ok bool) {
	var d [16]byte
	nd, plus := 0, false
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if nd == len(d) {
				return "", false
			}
			d[nd] = c
			nd++
		case c == '+' && nd == 0 && !plus:
			plus = true
		case c == ' ' || c == '-' || c == '.':
		default:
			return "", false
		}
	}
	var digits []byte
	switch {
	case plus && nd == 13 && d[0] == '8' && d[1] == '6':
		digits = d[2:13]
	case !plus && nd == 11 && n.region == "CN":
		digits = d[:11]
	default:
		return "", false
	}
	if digits[0] != '1' || digits[1] < '3' {
		return "", false
	}
	if n.cn == nil {
		n.cn = make([]byte, 10_000)
	}
	block := 0
	for _, c := range digits[1:5] {
		block = block*10 + int(c-'0')
	}
	e = "+86" + string(digits)
	switch n.cn[block] {
	case 1:
		return e, true
	case 2:
		return "", true
	}
	got, err := n.library(e)
	if err != nil || got != e {
		n.cn[block] = 2
		return "", true
	}
	n.cn[block] = 1
	return e, true
}

// Email returns the address trimmed and lower-cased, or an error when it
// does not look like local@domain.
func Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxInput {
		return "", invalid(breach.KindEmail, "longer than %d bytes", maxInput)
	}
	if !utf8.ValidString(s) {
		return "", invalid(breach.KindEmail, "not UTF-8")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", invalid(breach.KindEmail, "%q is not local@domain", s)
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || strings.ContainsRune(local, '@') || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", invalid(breach.KindEmail, "%q is not local@domain", s)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", invalid(breach.KindEmail, "%q holds a space or control character", s)
		}
	}
	return strings.ToLower(s), nil
}

// Province codes: the first two digits of a GB/T 2260 region code.
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// Weights of the first 17 characters (2^(18-i) mod 11) and the check
// characters by weighted sum mod 11: ISO 7064 MOD 11-2, as GB 11643-1999
// prescribes.
var (
	idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	idChecks  = "10X98765432"
)

// IDNumber returns an 18-character PRC resident ID number upper-cased, or an
// error when its shape, region code, birth date or check character is wrong.
func (n *Normalizer) IDNumber(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 18 {
		return "", invalid(breach.KindID, "%d characters, want 18", utf8.RuneCountInString(s))
	}
	sum := 0
	for i := range 17 {
		c := s[i]
		if c < '0' || c > '9' {
			return "", invalid(breach.KindID, "character %d is not a digit", i+1)
		}
		sum += int(c-'0') * idWeights[i]
	}
	if !provinces[s[:2]] {
		return "", invalid(breach.KindID, "region code %s names no province", s[:6])
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil || birth.Year() < 1900 || birth.After(n.now()) {
		return "", invalid(breach.KindID, "birth date %s does not exist", s[6:14])
	}
	if want := idChecks[sum%11]; s[17] != want {
		return "", invalid(breach.KindID, "check character %c, want %c", s[17], want)
	}
	return s, nil
}

// Detect guesses the kind of a value typed by a person: an e-mail address
// when it holds '@', an ID number when it is 17 digits and a digit or X,
// a phone number when it is made of digits and the usual separators.
func Detect(s string) (breach.Kind, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "@") {
		return breach.KindEmail, true
	}
	compact := strings.ReplaceAll(s, " ", "")
	if len(compact) == 18 && strings.IndexFunc(compact[:17], notDigit) < 0 &&
		strings.ContainsAny(compact[17:], "0123456789Xx") {
		return breach.KindID, true
	}
	digits := 0
	for _, r := range s {
		switch {
		case unicode.IsDigit(r):
			digits++
		case strings.ContainsRune("+-(). \u3000", r):
		default:
			return "", false
		}
	}
	return breach.KindPhone, digits >= 5
}

func notDigit(r rune) bool { return r < '0' || r > '9' }
