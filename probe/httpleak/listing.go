package httpleak

import (
	"html"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// listed is one entry of a directory listing.
type listed struct {
	Name string // as the link names it, unescaped, without a trailing slash
	Dir  bool
	// Size in bytes; Exact is false when the listing rounds it ("47K") or
	// shows none (Size is then -1).
	Size  int64
	Exact bool
}

// Listing pages of the common servers: nginx's autoindex ("Index of /",
// https://nginx.org/en/docs/http/ngx_http_autoindex_module.html), Apache's
// mod_autoindex (the same title; a table or a <pre>,
// https://httpd.apache.org/docs/2.4/mod/mod_autoindex.html), lighttpd's
// dirlisting, Python's http.server ("Directory listing for /") and IIS
// ("[To Parent Directory]").
var listingMarks = regexp.MustCompile(`(?i)<title>\s*(index of /|directory listing for /)|\[to parent directory\]|<title>[^<]* - /[^<]*</title>`)

// isListing reports whether a page is a server-generated directory listing.
func isListing(body []byte) bool { return listingMarks.Match(body) }

var (
	// rowSplit cuts a listing into rows: lines, table rows and the <br>
	// that ends each IIS line.
	rowSplit = regexp.MustCompile(`(?i)\n|<tr[ >]|<br\s*/?>|<li>`)
	anchor   = regexp.MustCompile(`(?is)<a\s[^>]*?href\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a>`)
	tags     = regexp.MustCompile(`(?s)<[^>]*>`)
	// sizeToken is a size as listings print it: bytes, or rounded with a
	// unit (47K, 1.2M, 3.5 KiB; Apache, nginx without exact sizes,
	// lighttpd).
	sizeToken = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s?([KMGT])?(?:i?B)?$`)
)

// maxListed is the most entries read from one listing.
const maxListed = 2000

// parseListing reads the entries of a listing page of dir ("/", "/data/").
// Links out of the directory (parent, sort links, other hosts, deeper
// paths) are skipped.
func parseListing(body []byte, dir string) []listed {
	var out []listed
	seen := map[string]bool{}
	for _, row := range rowSplit.Split(string(body), -1) {
		if len(out) >= maxListed {
			break
		}
		m := anchor.FindStringSubmatchIndex(row)
		if m == nil {
			continue
		}
		name, isDir, ok := entryName(row[m[2]:m[3]], dir)
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		e := listed{Name: name, Dir: isDir, Size: -1}
		// The size is the last size-like field of the row outside the
		// link; IIS puts it before the link, the others after.
		text := html.UnescapeString(tags.ReplaceAllString(row[:m[0]]+" "+row[m[1]:], " "))
		if strings.Contains(strings.ToLower(text), "<dir>") {
			e.Dir = true
		}
		if !e.Dir {
			e.Size, e.Exact = sizeIn(text)
		}
		out = append(out, e)
	}
	return out
}

// entryName turns a link of a listing into an entry name of dir.
func entryName(href, dir string) (name string, isDir, ok bool) {
	href = html.UnescapeString(href)
	if href == "" || strings.HasPrefix(href, "?") || strings.HasPrefix(href, "#") {
		return "", false, false
	}
	u, err := url.Parse(href)
	if err != nil || u.Scheme != "" || u.Host != "" || u.RawQuery != "" {
		return "", false, false
	}
	p := u.Path
	if strings.HasPrefix(p, "/") {
		// IIS and lighttpd link with absolute paths.
		rest, found := strings.CutPrefix(p, dir)
		if !found {
			return "", false, false
		}
		p = rest
	}
	isDir = strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	p = strings.TrimPrefix(p, "./")
	if p == "" || p == "." || p == ".." || strings.Contains(p, "/") || path.Clean(p) != p {
		return "", false, false
	}
	return p, isDir, true
}

// sizeIn finds the size in the text of a row: the last field that reads
// as one. A plain number is exact; one with a unit is rounded.
func sizeIn(text string) (int64, bool) {
	fs := strings.Fields(text)
	for i := len(fs) - 1; i >= 0; i-- {
		f := fs[i]
		// "3.5 KiB": a number and a unit in two fields.
		if i+1 < len(fs) && len(fs[i+1]) <= 3 && strings.ContainsAny(fs[i+1][:1], "KMGT") {
			if n, exact, ok := parseSize(f + fs[i+1]); ok {
				return n, exact
			}
		}
		if n, exact, ok := parseSize(f); ok {
			// A date "2022-11-25" or a time "09:30" never matches; a
			// lone number does.
			return n, exact
		}
	}
	return -1, false
}

// parseSize reads "48376", "47K", "1.2M", "3.5KiB".
func parseSize(s string) (int64, bool, bool) {
	m := sizeToken.FindStringSubmatch(s)
	if m == nil {
		return 0, false, false
	}
	if m[2] == "" {
		if strings.Contains(m[1], ".") {
			return 0, false, false
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		return n, err == nil, err == nil
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false, false
	}
	mult := map[string]float64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m[2]]
	if f*mult > 1<<62 {
		return 0, false, false
	}
	return int64(f * mult), false, true
}

// backupExts are the endings of names that are archives or dumps.
var backupExts = []string{".sql", ".sql.gz", ".sql.bz2", ".sql.zip", ".dump", ".bak", ".backup", ".old",
	".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".gz", ".7z", ".rar"}

// isBackup reports whether a listed file looks like a backup or an archive.
func isBackup(name string) bool {
	l := strings.ToLower(name)
	for _, e := range backupExts {
		if strings.HasSuffix(l, e) && len(l) > len(e) {
			return true
		}
	}
	return false
}
