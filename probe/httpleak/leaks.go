package httpleak

import (
	"bytes"
	"html"
	"regexp"
	"strings"
)

// Bounds on what one leak gives.
const (
	// maxKeys is the most keys kept from one file or page.
	maxKeys = 64
	// maxValue is the longest value kept in a sample.
	maxValue = 256
)

// clipValue bounds a value kept in a sample.
func clipValue(s string) string {
	if len(s) > maxValue {
		s = s[:maxValue]
	}
	return strings.ToValidUTF8(s, "")
}

// looksLikeHTML reports a body that is a web page: what a server that
// answers every path with its front page sends for /.env or /.git/HEAD.
func looksLikeHTML(b []byte) bool {
	t := bytes.ToLower(bytes.TrimSpace(b[:min(len(b), 512)]))
	return bytes.HasPrefix(t, []byte("<")) || bytes.Contains(t, []byte("<html")) || bytes.Contains(t, []byte("<body"))
}

// envKey is the name of a variable in a dotenv file.
var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)

// kv is one key and its value, in the order of the source.
type kv struct{ Key, Value string }

// parseEnv reads a dotenv file: KEY=value lines, "export " allowed,
// comments and blank lines skipped, values unquoted. It fails (nil) unless
// most lines are assignments: a page that is not a dotenv file does not
// read as one.
func parseEnv(b []byte) []kv {
	if looksLikeHTML(b) {
		return nil
	}
	var out []kv
	lines, bad := 0, 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines++
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		k = strings.TrimSpace(k)
		if !ok || !envKey.MatchString(k) {
			bad++
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		if len(out) < maxKeys {
			out = append(out, kv{k, clipValue(v)})
		}
	}
	if len(out) == 0 || bad*2 > lines {
		return nil
	}
	return out
}

// gitHead matches .git/HEAD: a symbolic ref or a detached commit (SHA-1 or
// SHA-256).
var gitHead = regexp.MustCompile(`^(ref: refs/[!-~]{1,200}|[0-9a-f]{40}|[0-9a-f]{64})\s*$`)

// parseGitHead returns the content of a .git/HEAD, or "" when it is not one.
func parseGitHead(b []byte) string {
	s := string(bytes.TrimSpace(b))
	if !gitHead.MatchString(s) {
		return ""
	}
	return s
}

// gitSection matches a section header of git's configuration file
// (https://git-scm.com/docs/git-config#_configuration_file): [core],
// [remote "origin"], [branch "main"].
var gitSection = regexp.MustCompile(`^\[([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\]$`)

// parseGitConfig reads a .git/config into flattened keys
// ("remote.origin.url"). It fails (nil) unless the file has a [core]
// section, as every repository's has.
func parseGitConfig(b []byte) []kv {
	if looksLikeHTML(b) {
		return nil
	}
	var out []kv
	section, core := "", false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if m := gitSection.FindStringSubmatch(line); m != nil {
			section = strings.ToLower(m[1])
			if section == "core" {
				core = true
			}
			if m[2] != "" {
				section += "." + m[2]
			}
			continue
		}
		if section == "" {
			return nil
		}
		k, v, _ := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if k == "" || strings.ContainsAny(k, " \t[]") {
			return nil
		}
		if len(out) < maxKeys {
			out = append(out, kv{section + "." + strings.ToLower(k), clipValue(strings.TrimSpace(v))})
		}
	}
	if !core {
		return nil
	}
	return out
}

// statusRow is one request of a server-status scoreboard.
type statusRow struct{ Client, VHost, Request string }

var (
	trSplit  = regexp.MustCompile(`(?i)<tr[ >]`)
	cellOpen = regexp.MustCompile(`(?is)<t([dh])[^>]*>(.*?)(?:</t[dh]>|$)`)
)

// parseServerStatus reads an Apache mod_status page
// (https://httpd.apache.org/docs/2.4/mod/mod_status.html): its server
// version and the client, virtual host and request of each scoreboard row.
// ok is false when the page is not one. nginx's stub_status ("Active
// connections: 3", https://nginx.org/en/docs/http/ngx_http_stub_status_module.html)
// is recognised too, with no rows.
func parseServerStatus(b []byte) (version string, rows []statusRow, ok bool) {
	s := string(b)
	if strings.HasPrefix(s, "Active connections:") {
		return "nginx", nil, true
	}
	if !strings.Contains(s, "Apache Server Status for") && !strings.Contains(s, "<title>Apache Status</title>") {
		return "", nil, false
	}
	if i := strings.Index(s, "Server Version:"); i >= 0 {
		v := s[i+len("Server Version:"):]
		if j := strings.IndexAny(v, "<\n"); j >= 0 {
			v = v[:j]
		}
		version = clipValue(strings.TrimSpace(v))
	}
	col := map[string]int{}
	for _, tr := range trSplit.Split(s, -1)[1:] {
		cells := cellOpen.FindAllStringSubmatch(tr, -1)
		if len(cells) == 0 {
			continue
		}
		if cells[0][1] == "h" || cells[0][1] == "H" {
			for i, c := range cells {
				col[strings.TrimSpace(text(c[2]))] = i
			}
			continue
		}
		ci, cok := col["Client"]
		ri, rok := col["Request"]
		if !cok || !rok || ri >= len(cells) || ci >= len(cells) {
			continue
		}
		r := statusRow{Client: clipValue(text(cells[ci][2])), Request: clipValue(text(cells[ri][2]))}
		if vi, ok := col["VHost"]; ok && vi < len(cells) {
			r.VHost = clipValue(text(cells[vi][2]))
		}
		if r.Request == "" || r.Request == "NULL" {
			continue
		}
		if len(rows) < maxKeys {
			rows = append(rows, r)
		}
	}
	return version, rows, true
}

// text is the text of an HTML fragment, spaces collapsed.
func text(s string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(s, " "))), " ")
}

var phpRow = regexp.MustCompile(`(?is)<tr><td class="e">(.*?)</td><td class="v">(.*?)</td>`)

// parsePHPInfo reads the tables of a phpinfo() page
// (https://www.php.net/manual/en/function.phpinfo.php): its settings, the
// environment and the server variables, as name and value. ok is false
// when the page is not one.
func parsePHPInfo(b []byte) (version string, vars []kv, ok bool) {
	s := string(b)
	if !strings.Contains(s, "phpinfo()") && !strings.Contains(s, `<h1 class="p">PHP Version`) {
		return "", nil, false
	}
	if i := strings.Index(s, "PHP Version "); i >= 0 {
		v := s[i+len("PHP Version "):]
		if j := strings.IndexAny(v, "< \n"); j >= 0 {
			v = v[:j]
		}
		version = clipValue(v)
	}
	for _, m := range phpRow.FindAllStringSubmatch(s, -1) {
		if len(vars) >= maxKeys {
			break
		}
		k := text(m[1])
		if k == "" {
			continue
		}
		vars = append(vars, kv{clipValue(k), clipValue(text(m[2]))})
	}
	return version, vars, true
}
