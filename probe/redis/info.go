package redis

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// Parsers for what a Redis server says: INFO text, ACL rules, key and field
// names. All of it comes from the target and is treated as hostile.

// INFO answers are "field:value" lines grouped under "# Section" headers.
// https://redis.io/docs/latest/commands/info/

// infoValue returns the value of field key in an INFO answer.
func infoValue(info []byte, key string) (string, bool) {
	for line := range bytes.Lines(info) {
		k, v, ok := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte{':'})
		if ok && string(k) == key {
			return string(v), true
		}
	}
	return "", false
}

// infoInt returns a non-negative integer field of an INFO answer, clamped to
// maxCount.
func infoInt(info []byte, key string) (int64, bool) {
	v, ok := infoValue(info, key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return min(n, maxCount), true
}

// maxCount bounds any count or size taken from the server, so that sums over
// up to a million datasets cannot overflow an int64.
const maxCount = 1 << 43

// keyspaceDB is one line of INFO keyspace.
type keyspaceDB struct {
	DB   int
	Keys int64
}

// parseKeyspace reads the "db3:keys=10,expires=0,avg_ttl=0" lines of INFO
// keyspace, at most limit of them, ordered by database number. Malformed and
// repeated lines are skipped.
func parseKeyspace(info []byte, limit int) []keyspaceDB {
	var dbs []keyspaceDB
	for line := range bytes.Lines(info) {
		if len(dbs) >= limit {
			break
		}
		name, attrs, ok := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte{':'})
		if !ok || !bytes.HasPrefix(name, []byte("db")) {
			continue
		}
		num := name[2:]
		// Redis numbers databases from 0 to databases-1; six digits is plenty.
		if len(num) == 0 || len(num) > 6 || (len(num) > 1 && num[0] == '0') {
			continue
		}
		db, err := strconv.Atoi(string(num))
		if err != nil || db < 0 {
			continue
		}
		keys, ok := attrInt(attrs, "keys")
		if !ok || slices.ContainsFunc(dbs, func(d keyspaceDB) bool { return d.DB == db }) {
			continue
		}
		dbs = append(dbs, keyspaceDB{DB: db, Keys: keys})
	}
	slices.SortFunc(dbs, func(a, b keyspaceDB) int { return a.DB - b.DB })
	return dbs
}

// attrInt reads name=N from a comma-separated attribute list.
func attrInt(attrs []byte, name string) (int64, bool) {
	for kv := range bytes.SplitSeq(attrs, []byte{','}) {
		k, v, ok := bytes.Cut(kv, []byte{'='})
		if !ok || string(k) != name {
			continue
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		return min(n, maxCount), true
	}
	return 0, false
}

// product names the server and its version from INFO server. Valkey, a fork,
// answers as Redis for compatibility and says its own name beside.
func product(info []byte) (name, version string) {
	if v, ok := infoValue(info, "server_name"); ok && strings.EqualFold(v, "valkey") {
		v, _ := infoValue(info, "valkey_version")
		return "Valkey", token(v, 32)
	}
	v, _ := infoValue(info, "redis_version")
	return "Redis", token(v, 32)
}

// token keeps a version-like string: letters, digits and ".-+_", at most n bytes.
func token(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune(".-+_", rune(c)) {
			return s[:i]
		}
	}
	return s
}

// majorVersion returns the leading number of a version, or -1.
func majorVersion(v string) int {
	i := 0
	for i < len(v) && i < 4 && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(v[:i])
	if err != nil {
		return -1
	}
	return n
}

// ACL LIST prints one line per user, e.g.
// "user default on nopass sanitize-payload ~* &* +@all".
// https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/

// userIsAdmin reports whether the rules of user in an ACL LIST answer let it
// in without a password and run every command.
func userIsAdmin(rules []string, user string) bool {
	for _, line := range rules {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "user" || f[1] != user {
			continue
		}
		var on, nopass, all bool
		for _, tok := range f[2:] {
			switch {
			case strings.HasPrefix(tok, "("):
				// Selectors (Redis 7) only add permissions to the root rules.
				return on && nopass && all
			case tok == "on":
				on = true
			case tok == "off":
				on = false
			case tok == "nopass":
				nopass = true
			case tok == "resetpass" || strings.HasPrefix(tok, ">") || strings.HasPrefix(tok, "#"):
				nopass = false
			case tok == "+@all" || tok == "allcommands":
				all = true
			case tok == "nocommands" || strings.HasPrefix(tok, "-"):
				// A rule after +@all that takes something away.
				all = false
			}
		}
		return on && nopass && all
	}
	return false
}

// maxName is the longest key prefix or field name reported.
const maxName = 64

// keyPattern reduces a key to a pattern that says what kind of record it
// holds without holding any of its value: "person:00001" gives "person:*".
// Only a name-like first segment before ':' is kept; anything else (a phone
// number, an e-mail address, a key without a separator) becomes "*".
func keyPattern(key []byte) string {
	prefix, _, ok := bytes.Cut(key, []byte{':'})
	if !ok || !isName(prefix) {
		return "*"
	}
	return string(prefix) + ":*"
}

// fieldName returns a hash field name if it looks like a column name rather
// than a value.
func fieldName(b []byte) (string, bool) {
	if !isName(b) {
		return "", false
	}
	return string(b), true
}

// isName accepts ASCII identifiers ([A-Za-z_][A-Za-z0-9_.-]*) of at most
// maxName bytes without a run of four digits, which would be an ID or a phone
// number rather than a name.
func isName(b []byte) bool {
	if len(b) == 0 || len(b) > maxName || !(isLetter(b[0]) || b[0] == '_') {
		return false
	}
	digits := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits >= 4 {
				return false
			}
			continue
		case isLetter(c) || c == '_' || c == '.' || c == '-':
		default:
			return false
		}
		digits = 0
	}
	return true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isAlnum(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' }
