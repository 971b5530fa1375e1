package httpleak

import (
	"slices"
	"strings"
	"testing"
)

func TestParseListing(t *testing.T) {
	tests := []struct {
		name, dir, body string
		want            []listed
	}{
		{"nginx", "/", `<html>
<head><title>Index of /</title></head>
<body>
<h1>Index of /</h1><hr><pre><a href="../">../</a>
<a href="data/">data/</a>                                              25-Nov-2022 09:30                   -
<a href="db_backup.sql">db_backup.sql</a>                                      25-Nov-2022 09:30               48376
<a href="%E6%8A%A5%E8%A1%A8%202022.xlsx">报表 2022.xlsx</a>                                      25-Nov-2022 09:30               10
</pre><hr></body>
</html>`, []listed{{"data", true, -1, false}, {"db_backup.sql", false, 48376, true}, {"报表 2022.xlsx", false, 10, true}}},
		{"nginx without exact sizes", "/data/", `<title>Index of /data/</title><pre><a href="../">../</a>
<a href="persons.csv">persons.csv</a>   25-Nov-2022 09:30     89K
</pre>`, []listed{{"persons.csv", false, 89 << 10, false}}},
		{"Apache table", "/", apacheListing, []listed{{"backup.tar.gz", false, 47 << 10, false}, {"notes v2.txt", false, 1228, false}, {"old", true, -1, false}}},
		{"Apache pre", "/", `<title>Index of /</title><pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>
<img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="/">Parent Directory</a>                             -
<img src="/icons/unknown.gif" alt="[   ]"> <a href="site.bak">site.bak</a>               2022-11-25 09:30  512
</pre>`, []listed{{"site.bak", false, 512, true}}},
		{"lighttpd", "/", `<title>Index of /</title><table><tr><td class="n"><a href="../">Parent Directory</a>/</td><td class="m">&nbsp;</td><td class="s">- &nbsp;</td><td class="t">Directory</td></tr>
<tr><td class="n"><a href="dump.sql.gz">dump.sql.gz</a></td><td class="m">2022-Nov-25 09:30:00</td><td class="s">47.2K</td><td class="t">application/gzip</td></tr>
</table>`, []listed{{"dump.sql.gz", false, 48332, false}}},
		{"Python http.server", "/", `<title>Directory listing for /</title><ul>
<li><a href=".env">.env</a></li>
<li><a href="src/">src/</a></li>
</ul>`, []listed{{".env", false, -1, false}, {"src", true, -1, false}}},
		{"IIS", "/files/", `<html><head><title>127.0.20.50 - /files/</title></head><body><H1>127.0.20.50 - /files/</H1><hr><pre><A HREF="/">[To Parent Directory]</A><br><br>11/25/2022  9:30 AM        48376 <A HREF="/files/db_backup.sql">db_backup.sql</A><br>11/25/2022  9:30 AM        &lt;dir&gt; <A HREF="/files/old/">old</A><br></pre><hr></body></html>`,
			[]listed{{"db_backup.sql", false, 48376, true}, {"old", true, -1, false}}},
		{"links out of the directory", "/", `<title>Index of /</title><pre>
<a href="http://127.0.20.99/x.sql">x.sql</a> 1
<a href="//127.0.20.99/y.sql">y.sql</a> 1
<a href="../../etc/passwd">passwd</a> 1
<a href="a/b.sql">b.sql</a> 1
<a href="x.sql?download=1">x.sql</a> 1
<a href="ok.txt">ok.txt</a> 1
<a href="ok.txt">ok.txt</a> 1
</pre>`, []listed{{"ok.txt", false, 1, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !isListing([]byte(tt.body)) {
				t.Fatal("not recognised as a listing")
			}
			got := parseListing([]byte(tt.body), tt.dir)
			if !slices.Equal(got, tt.want) {
				t.Errorf("parseListing =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
	if isListing([]byte(`<html><head><title>Records office</title></head><body><a href="a.sql">a</a></body></html>`)) {
		t.Error("a page with links read as a listing")
	}
}

func TestIsBackup(t *testing.T) {
	for name, want := range map[string]bool{
		"db_backup.sql": true, "site.zip": true, "dump.tar.gz": true, "x.bak": true, "DB.SQL.GZ": true,
		"index.html": false, ".sql": false, "persons.csv": false,
	} {
		if isBackup(name) != want {
			t.Errorf("isBackup(%q) = %v", name, !want)
		}
	}
}

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name, in string
		want     []kv
	}{
		{"dotenv", "# comment\nAPP_KEY=abc\nexport DB_PASSWORD=\"p w\"\n\nEMPTY=\r\nQ='x'\n",
			[]kv{{"APP_KEY", "abc"}, {"DB_PASSWORD", "p w"}, {"EMPTY", ""}, {"Q", "x"}}},
		{"web page", "<!doctype html><html><body>APP_KEY=1</body></html>", nil},
		{"prose", "Not found.\nTry again later.\nA=1\n", nil},
		{"nothing", "", nil},
	}
	for _, tt := range tests {
		if got := parseEnv([]byte(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: parseEnv = %q, want %q", tt.name, got, tt.want)
		}
	}
	long := strings.Repeat("K=v\n", 2*maxKeys)
	if got := parseEnv([]byte(long)); len(got) != maxKeys {
		t.Errorf("%d keys kept, want %d", len(got), maxKeys)
	}
}

func TestParseGit(t *testing.T) {
	for in, want := range map[string]string{
		"ref: refs/heads/main\n":                   "ref: refs/heads/main",
		"4b825dc642cb6eb9a060e54bf8d69288fbee4904": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
		"<html>ref: refs/heads/main</html>":        "",
		"ref: refs/heads/main\nmore":               "",
		"":                                         "",
	} {
		if got := parseGitHead([]byte(in)); got != want {
			t.Errorf("parseGitHead(%q) = %q, want %q", in, got, want)
		}
	}
	conf := "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://u:p@git.example/r.git\n; comment\n[branch \"a b\"]\n\tremote = origin\n"
	want := []kv{{"core.bare", "false"}, {"remote.origin.url", "https://u:p@git.example/r.git"}, {"branch.a b.remote", "origin"}}
	if got := parseGitConfig([]byte(conf)); !slices.Equal(got, want) {
		t.Errorf("parseGitConfig = %q, want %q", got, want)
	}
	for _, bad := range []string{"[user]\n\tname = x\n", "url = x\n[core]\n", "<html>[core]</html>", "[core]\nnot a key line [x]\n"} {
		if got := parseGitConfig([]byte(bad)); got != nil {
			t.Errorf("parseGitConfig(%q) = %q, want nothing", bad, got)
		}
	}
}

func TestParseServerStatus(t *testing.T) {
	page := `<html><head><title>Apache Status</title></head><body><h1>Apache Server Status for h (via 10.0.0.1)</h1>
<dl><dt>Server Version: Apache/2.4.54 (Debian)</dt></dl>
<table border="0"><tr><th>Srv</th><th>Client</th><th>VHost</th><th>Request</th></tr>
<tr><td><b>0-0</b></td><td>10.0.0.9</td><td nowrap>shop:443</td><td nowrap>GET /login?user=a&amp;b HTTP/1.1</td></tr>
<tr><td><b>1-0</b></td><td>?</td><td nowrap></td><td nowrap>NULL</td></tr>
</table></body></html>`
	v, rows, ok := parseServerStatus([]byte(page))
	want := []statusRow{{"10.0.0.9", "shop:443", "GET /login?user=a&b HTTP/1.1"}}
	if !ok || v != "Apache/2.4.54 (Debian)" || !slices.Equal(rows, want) {
		t.Errorf("parseServerStatus = %q %+v %v", v, rows, ok)
	}
	if _, _, ok := parseServerStatus([]byte("<html>Server status: fine</html>")); ok {
		t.Error("a page that is not mod_status read as one")
	}
}

func TestParsePHPInfo(t *testing.T) {
	page := `<title>PHP 8.2.7 - phpinfo()</title><h1 class="p">PHP Version 8.2.7</h1>
<tr><td class="e">System </td><td class="v">Linux web 6.1 </td></tr>
<tr><td class="e">memory_limit</td><td class="v">128M</td><td class="v">128M</td></tr>
<tr><td class="e">$_SERVER['DB_PASS']</td><td class="v">s&amp;cret</td></tr>`
	v, vars, ok := parsePHPInfo([]byte(page))
	want := []kv{{"System", "Linux web 6.1"}, {"memory_limit", "128M"}, {"$_SERVER['DB_PASS']", "s&cret"}}
	if !ok || v != "8.2.7" || !slices.Equal(vars, want) {
		t.Errorf("parsePHPInfo = %q %q %v", v, vars, ok)
	}
	if _, _, ok := parsePHPInfo([]byte("<html>PHP is great</html>")); ok {
		t.Error("a page that is not phpinfo read as one")
	}
}

func TestEscapeName(t *testing.T) {
	for in, want := range map[string]string{"db backup.sql": "db%20backup.sql", "报表.zip": "%E6%8A%A5%E8%A1%A8.zip", "a-b_c.~": "a-b_c.~"} {
		if got := escapeName(in); got != want {
			t.Errorf("escapeName(%q) = %q, want %q", in, got, want)
		}
	}
}
