package mysql

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

func TestQuoteIdent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"orders", "`orders`"},
		{"we`ird", "`we``ird`"},
		{"``", "``````"},
		{"a b.c", "`a b.c`"},
		{"x`; DROP TABLE y; --", "`x``; DROP TABLE y; --`"},
		{"", "``"},
		{"人员信息", "`人员信息`"},
	}
	for _, tc := range tests {
		if got := quoteIdent(tc.in); got != tc.want {
			t.Errorf("quoteIdent(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestProductAndVersion(t *testing.T) {
	tests := []struct{ in, product, version string }{
		{"10.11.19-MariaDB-0+deb12u1", "MariaDB", "10.11.19"},
		{"5.5.5-10.6.16-MariaDB-log", "MariaDB", "10.6.16"},
		{"11.4.2-mariadb", "MariaDB", "11.4.2"},
		{"8.0.36", "MySQL", "8.0.36"},
		{"8.0.36-28", "MySQL", "8.0.36"},
		{"5.7.44-log", "MySQL", "5.7.44"},
		{"5.5.5-", "MySQL", "5.5.5"},
		{"", "MySQL", ""},
		{"garbage", "MySQL", ""},
	}
	for _, tc := range tests {
		if p, v := productOf(tc.in), versionNumber(tc.in); p != tc.product || v != tc.version {
			t.Errorf("%q: product %q version %q, want %q %q", tc.in, p, v, tc.product, tc.version)
		}
	}
}

func TestGrantIsAdmin(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION", true},
		{"GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' IDENTIFIED BY PASSWORD '*81F5'", true},
		{"GRANT SELECT, INSERT, SUPER, PROCESS ON *.* TO `root`@`localhost`", true},
		{"GRANT SELECT ON *.* TO ``@`%`", false},
		{"GRANT USAGE ON *.* TO ``@`%`", false},
		{"GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`", false},
		{"GRANT SELECT ON `supermarket`.* TO `app`@`%`", false},
		{"GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION", false},
		{"GRANT `admin_role` TO `app`@`%`", false},
		{"GRANT SYSTEM_VARIABLES_ADMIN ON *.* TO `x`@`%`", false},
		{"", false},
		{"REVOKE ALL PRIVILEGES ON *.* TO `root`@`%`", false},
	}
	for _, tc := range tests {
		if got := grantIsAdmin(tc.line); got != tc.want {
			t.Errorf("grantIsAdmin(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestCountQuery(t *testing.T) {
	tests := []struct {
		product, schema, table string
		limit                  time.Duration
		want                   string
	}{
		{"MariaDB", "police", "person_info", 5 * time.Second,
			"SET STATEMENT max_statement_time=5.000 FOR SELECT COUNT(*) FROM `police`.`person_info`"},
		{"MariaDB", "s", "t", 0, "SET STATEMENT max_statement_time=0.001 FOR SELECT COUNT(*) FROM `s`.`t`"},
		{"MySQL", "shop", "or`ders", 1500 * time.Millisecond,
			"SELECT /*+ MAX_EXECUTION_TIME(1500) */ COUNT(*) FROM `shop`.`or``ders`"},
		{"MySQL", "s", "t", time.Microsecond, "SELECT /*+ MAX_EXECUTION_TIME(1) */ COUNT(*) FROM `s`.`t`"},
	}
	for _, tc := range tests {
		if got := countQuery(tc.product, tc.schema, tc.table, tc.limit); got != tc.want {
			t.Errorf("countQuery(%s, %s, %s, %v) = %q, want %q", tc.product, tc.schema, tc.table, tc.limit, got, tc.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		in   sql.NullString
		want int64
		ok   bool
	}{
		{sql.NullString{String: "3000", Valid: true}, 3000, true},
		{sql.NullString{String: "0", Valid: true}, 0, true},
		{sql.NullString{String: "18446744073709551615", Valid: true}, math.MaxInt64, true},
		{sql.NullString{String: "99999999999999999999999", Valid: true}, math.MaxInt64, true},
		{sql.NullString{String: "-1", Valid: true}, 0, false},
		{sql.NullString{String: "12abc", Valid: true}, 0, false},
		{sql.NullString{}, 0, false},
	}
	for _, tc := range tests {
		if got, ok := parseCount(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("parseCount(%+v) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestIsSystemSchema(t *testing.T) {
	for _, s := range []string{"mysql", "sys", "information_schema", "PERFORMANCE_SCHEMA", "MySQL"} {
		if !isSystemSchema(s) {
			t.Errorf("%q is a system schema", s)
		}
	}
	for _, s := range []string{"police", "shop", "mysql2", "", "system"} {
		if isSystemSchema(s) {
			t.Errorf("%q is not a system schema", s)
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("人员信息", 4); got != "人" {
		t.Errorf("clip cut a character in half: %q", got)
	}
	if got := clip("ab\xffcd", 10); got != "abcd" {
		t.Errorf("clip kept invalid UTF-8: %q", got)
	}
	if got := clip(strings.Repeat("x", 600), maxEvidence); len(got) != maxEvidence {
		t.Errorf("clip to %d gave %d bytes", maxEvidence, len(got))
	}
}

func FuzzGrantIsAdmin(f *testing.F) {
	f.Add("GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION")
	f.Add("GRANT SELECT, SUPER ON *.* TO `a`@`%`")
	f.Add("GRANT USAGE ON *.* TO ``@`%`")
	f.Fuzz(func(t *testing.T, line string) {
		if !grantIsAdmin(line) {
			return
		}
		if !strings.Contains(line, "*.*") || !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(line)), "GRANT ") {
			t.Errorf("admin from %q", line)
		}
	})
}

func TestDenied(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&gomysql.MySQLError{Number: 1045, Message: "Access denied for user 'root'@'h' (using password: NO)"}, true},
		{fmt.Errorf("login: %w", &gomysql.MySQLError{Number: 1130, Message: "Host 'h' is not allowed"}), true},
		{&gomysql.MySQLError{Number: 1698, Message: "Access denied for user ''@'h'"}, true},
		{&gomysql.MySQLError{Number: 1129, Message: "Host 'h' is blocked"}, false},
		{&gomysql.MySQLError{Number: 1040, Message: "Too many connections"}, false},
		{gomysql.ErrInvalidConn, false},
		{errors.New("Access denied"), false},
	}
	for _, tc := range tests {
		msg, got := denied(tc.err)
		if got != tc.want || (got && msg == "") {
			t.Errorf("denied(%v) = %q, %v; want %v", tc.err, msg, got, tc.want)
		}
	}
}

func TestSampleQuery(t *testing.T) {
	for _, tc := range []struct {
		product string
		want    string
	}{
		{"MariaDB", "SET STATEMENT max_statement_time=2.000 FOR SELECT LEFT(`id`, 1024), LEFT(`na``me`, 1024) FROM `po``lice`.`t` LIMIT 5"},
		{"MySQL", "SELECT /*+ MAX_EXECUTION_TIME(2000) */ LEFT(`id`, 1024), LEFT(`na``me`, 1024) FROM `po``lice`.`t` LIMIT 5"},
	} {
		if got := sampleQuery(tc.product, "po`lice", "t", []string{"id", "na`me"}, 5, 2*time.Second); got != tc.want {
			t.Errorf("%s: %s\nwant %s", tc.product, got, tc.want)
		}
	}
}
