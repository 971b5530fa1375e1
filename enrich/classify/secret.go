package classify

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
)

// secretPattern is a kind of secret recognised by its shape alone.
type secretPattern struct {
	class string
	re    *regexp.Regexp
	// keep is how many leading bytes of a match survive redaction: the
	// part that says what kind of secret it is, never the secret.
	keep func(match string) int
	// check, when set, must accept the match.
	check func(match string) bool
}

func keepNone(string) int { return 0 }

// keepUpTo keeps the match up to and including the n-th sep.
func keepUpTo(sep string, n int) func(string) int {
	return func(m string) int {
		at := 0
		for range n {
			i := strings.Index(m[at:], sep)
			if i < 0 {
				return 0
			}
			at += i + len(sep)
		}
		return at
	}
}

func keepFixed(n int) func(string) int { return func(string) int { return n } }

// secretPatterns: access keys, private keys, tokens and password hashes,
// each by its published format.
var secretPatterns = []secretPattern{
	// AWS access key IDs: AKIA (long-term) or ASIA (temporary), 16 more
	// characters of base32.
	{SecretKey, regexp.MustCompile(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z2-7]{16}\b`), keepFixed(4), nil},
	// PEM private keys, the header and whatever body follows.
	{SecretKey, regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s:,-]*(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?`), keepUpTo("-----", 2), nil},
	// JSON Web Tokens: three base64url parts, the first a JSON header with "alg".
	{SecretKey, regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`), keepNone, validJWT},
	// GitHub, Slack, Google and Stripe tokens.
	{SecretKey, regexp.MustCompile(`\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{60,}`), keepFixed(4), nil},
	{SecretKey, regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`), keepFixed(5), nil},
	{SecretKey, regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`), keepFixed(4), nil},
	{SecretKey, regexp.MustCompile(`\b(?:sk|rk)_live_[0-9A-Za-z]{20,}`), keepFixed(8), nil},
	// Password hashes: bcrypt, SHA-crypt, MD5-crypt, Argon2 (PHC string
	// format) and Django's PBKDF2.
	{Credential, regexp.MustCompile(`\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}`), keepUpTo("$", 3), nil},
	{Credential, regexp.MustCompile(`\$[56]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86}`), keepUpTo("$", 2), nil},
	{Credential, regexp.MustCompile(`\$1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}`), keepUpTo("$", 2), nil},
	{Credential, regexp.MustCompile(`\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+`), keepUpTo("$", 2), nil},
	{Credential, regexp.MustCompile(`\bpbkdf2_sha(?:1|256|512)\$\d+\$[A-Za-z0-9./+]+\$[A-Za-z0-9./+=]+`), keepUpTo("$", 1), nil},
}

// connPassword finds the password of a connection string: a URL with
// user:password@ (mysql://app:s3cret@db:3306/x) or a key=value list with
// Password= or pwd= (ADO.NET, JDBC, ODBC).
var (
	urlPassword = regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@"']{1,64}:([^\s@/"']{1,128})@[^\s/"']+`)
	kvPassword  = regexp.MustCompile(`(?i)(?:^|[;\s?&])(?:password|pwd|passwd)\s*=\s*([^;&\s"']{1,128})`)
)

// validJWT reports whether the first part of a token decodes to a JSON
// object with an "alg" member.
func validJWT(tok string) bool {
	head, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(head, "="))
	if err != nil {
		return false
	}
	var h map[string]any
	if json.Unmarshal(b, &h) != nil {
		return false
	}
	_, ok := h["alg"]
	return ok
}

// hexDigest reports whether s is a hex digest of a common length (MD5,
// SHA-1, SHA-256, SHA-512), as password columns often hold.
func hexDigest(s string) bool {
	switch len(s) {
	case 32, 40, 64, 128:
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// tokenLike reports whether s could be a key or token: at least 16
// characters of the base64 and hex alphabets, with letters and digits.
func tokenLike(s string) bool {
	if len(s) < 16 || len(s) > 4096 {
		return false
	}
	letters, digits := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters = true
		case c == '-' || c == '_' || c == '+' || c == '/' || c == '=' || c == '.':
		default:
			return false
		}
	}
	return letters && digits
}
