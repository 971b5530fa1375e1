package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

func script(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("labseed %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "-target is required"},
		{[]string{"-target", "mongodb"}, `unknown target "mongodb"`},
		{[]string{"-target", "redis", "extra"}, `unexpected argument "extra"`},
		{[]string{"-seed", "x"}, "invalid value"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run(tt.args, &out, &errOut); code != 2 {
			t.Errorf("labseed %v: exit %d, want 2", tt.args, code)
		}
		if !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("labseed %v: stderr %q, want it to say %q", tt.args, errOut.String(), tt.want)
		}
		if out.Len() != 0 {
			t.Errorf("labseed %v: wrote %d bytes on stdout", tt.args, out.Len())
		}
	}
}

var insertRE = regexp.MustCompile(`(?m)^INSERT INTO (\w+) \(`)

// sqlRows counts the rows inserted per table; rows are the lines that start
// with "(" after an INSERT.
func sqlRows(s string) map[string]int {
	rows := make(map[string]int)
	table := ""
	for _, line := range strings.Split(s, "\n") {
		if m := insertRE.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if table != "" && strings.HasPrefix(line, "(") {
			rows[table]++
			if strings.HasSuffix(line, ";") {
				table = ""
			}
		}
	}
	return rows
}

func TestSQL(t *testing.T) {
	p1 := fake.New(lab.Seed).Person(1)
	for _, target := range []string{"mysql", "postgres"} {
		t.Run(target, func(t *testing.T) {
			s := script(t, "-target", target)
			want := map[string]int{"person_info": lab.SQLPersons, "case_record": lab.SQLCases, "orders": lab.SQLOrders}
			got := sqlRows(s)
			for table, n := range want {
				if got[table] != n {
					t.Errorf("%s rows: %d, want %d", table, got[table], n)
				}
			}
			for _, needle := range []string{
				"DROP DATABASE IF EXISTS police", "DROP DATABASE IF EXISTS shop",
				"CREATE TABLE person_info", "CREATE TABLE case_record", "CREATE TABLE orders",
				"fictional",
				fmt.Sprintf("(1, '%s', '%s', '%s', '%s', '%s')", p1.Name, p1.Mobile, p1.IDNumber, p1.Address, p1.BirthDate.Format("2006-01-02")),
			} {
				if !strings.Contains(s, needle) {
					t.Errorf("script lacks %q", needle)
				}
			}
			if target == "postgres" && strings.Count(s, "ANALYZE;") != 2 {
				t.Errorf("script analyses %d databases, want 2", strings.Count(s, "ANALYZE;"))
			}
			if again := script(t, "-target", target); again != s {
				t.Error("two runs give different scripts")
			}
			if other := script(t, "-target", target, "-seed", "1"); other == s {
				t.Error("seed 1 gives the lab's script")
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in, mysql, postgres string
	}{
		{"张伟", "'张伟'", "'张伟'"},
		{"O'Brien", "'O''Brien'", "'O''Brien'"},
		{`a\b`, `'a\\b'`, `'a\b'`},
		{"", "''", "''"},
	}
	for _, tt := range tests {
		if got := quoteMySQL(tt.in); got != tt.mysql {
			t.Errorf("quoteMySQL(%q) = %s, want %s", tt.in, got, tt.mysql)
		}
		if got := quotePostgres(tt.in); got != tt.postgres {
			t.Errorf("quotePostgres(%q) = %s, want %s", tt.in, got, tt.postgres)
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("want an array, got %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(line, "$") {
			return nil, fmt.Errorf("want a bulk string, got %q", line)
		}
		size, err := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		if string(buf[size:]) != "\r\n" {
			return nil, fmt.Errorf("bulk string of %d bytes not followed by CRLF", size)
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func TestRedis(t *testing.T) {
	r := bufio.NewReader(strings.NewReader(script(t, "-target", "redis")))
	g := fake.New(lab.Seed)
	db := -1
	keys := map[int]map[string]bool{0: {}, 1: {}}
	var cmds []string
	for {
		args, err := readCommand(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("command %d: %v", len(cmds)+1, err)
		}
		cmds = append(cmds, args[0])
		switch args[0] {
		case "SELECT":
			db, _ = strconv.Atoi(args[1])
		case "HSET":
			if db != 0 || len(args) != 10 {
				t.Fatalf("HSET %s in db%d with %d arguments", args[1], db, len(args))
			}
			i, _ := strconv.Atoi(strings.TrimPrefix(args[1], "person:"))
			p := g.Person(i)
			want := []string{"name", p.Name, "mobile", p.Mobile, "id_number", p.IDNumber, "address", p.Address}
			if strings.Join(args[2:], "|") != strings.Join(want, "|") {
				t.Errorf("HSET %s = %q, want %q", args[1], args[2:], want)
			}
			keys[db][args[1]] = true
		case "SET":
			var o order
			if err := json.Unmarshal([]byte(args[2]), &o); err != nil || o.OrderNo == "" {
				t.Errorf("SET %s: value %q is not an order (%v)", args[1], args[2], err)
			}
			keys[db][args[1]] = true
		}
	}
	if len(cmds) == 0 || cmds[0] != "FLUSHALL" {
		t.Errorf("script does not start with FLUSHALL: %.3q", cmds)
	}
	if len(keys[0]) != lab.RedisPersons || !keys[0]["person:00001"] || !keys[0][fmt.Sprintf("person:%05d", lab.RedisPersons)] {
		t.Errorf("db0: %d person keys, want person:00001 … %d", len(keys[0]), lab.RedisPersons)
	}
	if len(keys[1]) != lab.RedisOrders || !keys[1]["order:00001"] || !keys[1][fmt.Sprintf("order:%05d", lab.RedisOrders)] {
		t.Errorf("db1: %d order keys, want order:00001 … %d", len(keys[1]), lab.RedisOrders)
	}
}
