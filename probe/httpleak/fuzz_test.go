package httpleak

import (
	"strings"
	"testing"
)

// FuzzParseListing: any page gives at most maxListed entries, each a plain
// name of the directory.
func FuzzParseListing(f *testing.F) {
	f.Add([]byte(`<title>Index of /</title><pre><a href="db_backup.sql">db_backup.sql</a>   25-Nov-2022 09:30   48376`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := parseListing(body, "/")
		if len(got) > maxListed {
			t.Fatalf("%d entries", len(got))
		}
		for _, e := range got {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}

// FuzzParseLeaks runs the other parsers on the same bytes: bounded output,
// no panic.
func FuzzParseLeaks(f *testing.F) {
	f.Add([]byte("APP_KEY=abc\nDB_PASSWORD=x\n"))
	f.Add([]byte("[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://u:p@git.example/r.git\n"))
	f.Add([]byte(`<title>Apache Status</title><table><tr><th>Client</th><th>Request</th></tr><tr><td>1.2.3.4</td><td>GET / HTTP/1.1</td></tr></table>`))
	f.Add([]byte(`<h1 class="p">PHP Version 8.2.7</h1><tr><td class="e">System </td><td class="v">Linux </td></tr>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if kvs := parseEnv(body); len(kvs) > maxKeys {
			t.Fatalf("%d env keys", len(kvs))
		}
		if kvs := parseGitConfig(body); len(kvs) > maxKeys {
			t.Fatalf("%d git keys", len(kvs))
		}
		parseGitHead(body)
		if _, rows, _ := parseServerStatus(body); len(rows) > maxKeys {
			t.Fatalf("%d status rows", len(rows))
		}
		if _, vars, _ := parsePHPInfo(body); len(vars) > maxKeys {
			t.Fatalf("%d phpinfo vars", len(vars))
		}
		for _, kv := range parseEnv(body) {
			if len(kv.Value) > maxValue {
				t.Fatalf("value of %d bytes", len(kv.Value))
			}
		}
	})
}
