package mysql

import (
	"database/sql"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bounds on what is kept of the strings a server returns.
const (
	maxText  = 256 // messages, versions, grant lines
	maxIdent = 192 // schema, table and column names (MySQL allows 64 characters)
)

// systemSchemas hold the server's own catalogue: never datasets.
var systemSchemas = []string{"mysql", "sys", "information_schema", "performance_schema"}

// isSystemSchema reports whether name is a system schema. Schema names
// compare without case on servers with lower_case_table_names.
func isSystemSchema(name string) bool {
	for _, s := range systemSchemas {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// quoteIdent quotes an identifier for a query: backticks around it, every
// backtick inside doubled.
// https://dev.mysql.com/doc/refman/8.0/en/identifiers.html
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// productOf names the product from a version string: MariaDB says so in
// its version ("10.11.6-MariaDB-0+deb12u1"), everything else is taken for
// MySQL.
func productOf(version string) string {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return "MariaDB"
	}
	return "MySQL"
}

// versionNumber returns the leading dotted number of a version string
// ("10.11.6" of "10.11.6-MariaDB-log"). MariaDB before 11 prefixes its
// greeting with "5.5.5-" for old replication clients; it is dropped.
func versionNumber(version string) string {
	if rest, ok := strings.CutPrefix(version, "5.5.5-"); ok && productOf(rest) == "MariaDB" {
		version = rest
	}
	end := 0
	for end < len(version) && (version[end] == '.' || version[end] >= '0' && version[end] <= '9') {
		end++
	}
	return strings.TrimRight(version[:end], ".")
}

// countQuery is the exact count of one table under a server-side time limit:
// MariaDB's SET STATEMENT max_statement_time (seconds), MySQL's
// MAX_EXECUTION_TIME optimizer hint (milliseconds).
// https://mariadb.com/kb/en/set-statement/
// https://dev.mysql.com/doc/refman/8.0/en/optimizer-hints.html#optimizer-hints-execution-time
func countQuery(product, schema, table string, limit time.Duration) string {
	from := quoteIdent(schema) + "." + quoteIdent(table)
	if product == "MariaDB" {
		sec := max(limit.Seconds(), 0.001)
		return "SET STATEMENT max_statement_time=" + strconv.FormatFloat(sec, 'f', 3, 64) +
			" FOR SELECT COUNT(*) FROM " + from
	}
	ms := max(limit.Milliseconds(), 1)
	return "SELECT /*+ MAX_EXECUTION_TIME(" + strconv.FormatInt(ms, 10) + ") */ COUNT(*) FROM " + from
}

// sampleQuery reads the first n rows of a table, each column cut to
// maxSampleValue characters on the server (LEFT casts numbers, dates and
// binary strings alike), under the same server-side time limit as
// countQuery.
func sampleQuery(product, schema, table string, cols []string, n int, limit time.Duration) string {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "LEFT(" + quoteIdent(c) + ", " + strconv.Itoa(maxSampleValue) + ")"
	}
	q := strings.Join(sel, ", ") + " FROM " + quoteIdent(schema) + "." + quoteIdent(table) + " LIMIT " + strconv.Itoa(n)
	if product == "MariaDB" {
		sec := max(limit.Seconds(), 0.001)
		return "SET STATEMENT max_statement_time=" + strconv.FormatFloat(sec, 'f', 3, 64) + " FOR SELECT " + q
	}
	ms := max(limit.Milliseconds(), 1)
	return "SELECT /*+ MAX_EXECUTION_TIME(" + strconv.FormatInt(ms, 10) + ") */ " + q
}

// grantIsAdmin reports whether one line of SHOW GRANTS gives all
// privileges, or SUPER, on every database ("ON *.*"). MySQL 8 lists the
// privileges of root one by one, SUPER among them.
// https://dev.mysql.com/doc/refman/8.0/en/show-grants.html
func grantIsAdmin(line string) bool {
	rest, ok := cutPrefixFold(strings.TrimSpace(line), "GRANT ")
	if !ok {
		return false
	}
	privs, rest, ok := strings.Cut(rest, " ON ")
	if !ok {
		return false
	}
	object, _, ok := strings.Cut(rest, " TO ")
	if !ok || strings.TrimSpace(object) != "*.*" {
		return false
	}
	for p := range strings.SplitSeq(privs, ",") {
		switch strings.ToUpper(strings.TrimSpace(p)) {
		case "ALL", "ALL PRIVILEGES", "SUPER":
			return true
		}
	}
	return false
}

// cutPrefixFold is strings.CutPrefix ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// parseCount reads an unsigned count as the server printed it; it returns
// false for NULL or anything that is not a number, and saturates.
func parseCount(s sql.NullString) (int64, bool) {
	if !s.Valid {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s.String), 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return math.MaxInt64, true
	}
	if err != nil {
		return 0, false
	}
	return int64(min(n, math.MaxInt64)), true
}
