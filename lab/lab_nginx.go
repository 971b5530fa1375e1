package lab

import (
	"fmt"
	"strings"

	"github.com/ajar-scan/ajar/lab/fake"
)

// Web servers of the lab (nginx, lab/kinds/64-nginx.sh). The open one
// lists its document root (autoindex) and serves the leaks of WebTree and
// ServerStatusPage; the secured one serves the same tree behind HTTP basic
// authentication.
const (
	NginxOpen     = "127.0.13.50:80"
	NginxSecured  = "127.0.13.51:8080"
	NginxUser     = "webadmin"
	NginxPassword = "lab-secret-nginx"
)

// WebEnv is the .env file of the web tree: fictional secrets of a web
// application, one KEY=value a line.
const WebEnv = `APP_NAME=records-office
APP_ENV=production
APP_KEY=base64:ZmljdGlvbmFsLWxhYi1hcHAta2V5LTAwMDAwMDAwMDA=
APP_DEBUG=true
DB_CONNECTION=mysql
DB_HOST=db-prod-07.internal.corp
DB_PORT=3306
DB_DATABASE=police
DB_USERNAME=records
DB_PASSWORD=Lab-Fict1onal-Passw0rd
AWS_ACCESS_KEY_ID=AKIALABFICTIONAL0001
AWS_SECRET_ACCESS_KEY=fictional/lab/secret/access/key/00000000
`

// WebGitRemote is the remote URL in the web tree's .git/config, with a
// fictional deploy token in it.
const WebGitRemote = "https://deploy:glpat-FictionalLabToken0000@git.internal.corp/records/office-web.git"

// WebBackups returns the names of the backup files in the web root
// listing, in its order.
func WebBackups() []string { return []string{"db_backup.sql", "dump.tar.gz", "site.zip"} }

// WebTree returns the files under the nginx document root. nginx's listing
// leaves out the names that start with a dot (.env, .git), which are served
// all the same.
func WebTree() []File {
	g := fake.New(Seed)
	siteConfig := "<?php\n$db = new PDO('mysql:host=db-prod-07.internal.corp;dbname=police', 'records', 'Lab-Fict1onal-Passw0rd');\n"
	return []File{
		{".env", []byte(WebEnv)},
		{".git/HEAD", []byte("ref: refs/heads/main\n")},
		{".git/config", []byte("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n" +
			"[remote \"origin\"]\n\turl = " + WebGitRemote + "\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n" +
			"[branch \"main\"]\n\tremote = origin\n\tmerge = refs/heads/main\n")},
		{"data/orders.csv", ordersCSV(g, 1, 200)},
		{"data/persons.csv", personsCSV(g, 1, 800)},
		{"db_backup.sql", personsSQL(g, 1, 300)},
		{"dump.tar.gz", tarGzOf([]File{{"dump/person_info.sql", personsSQL(g, 301, 400)}})},
		{"phpinfo.php", phpinfoPage()},
		{"robots.txt", []byte("User-agent: *\nDisallow: /data/\n")},
		{"site.zip", zipOf([]File{
			{"index.php", []byte("<?php require 'config.php';\n")},
			{"config.php", []byte(siteConfig)},
		})},
	}
}

// WebListing returns the files the open server's listing of dir ("" for
// the root) shows: those of WebTree directly in dir, dot files left out.
func WebListing(dir string) []File {
	var out []File
	for _, f := range WebTree() {
		rest, ok := strings.CutPrefix(f.Path, dir)
		if !ok || strings.Contains(rest, "/") || strings.HasPrefix(rest, ".") {
			continue
		}
		out = append(out, f)
	}
	return out
}

// phpinfoPage is a static page in the layout of PHP's phpinfo(), which
// nginx serves as HTML.
func phpinfoPage() []byte {
	rows := func(kv ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(kv); i += 2 {
			fmt.Fprintf(&b, "<tr><td class=\"e\">%s </td><td class=\"v\">%s </td></tr>\n", kv[i], kv[i+1])
		}
		return b.String()
	}
	return []byte(`<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head>
<style type="text/css">body {background-color: #fff; color: #222; font-family: sans-serif;}</style>
<title>PHP 7.4.33 - phpinfo()</title><meta name="ROBOTS" content="NOINDEX,NOFOLLOW,NOARCHIVE" /></head>
<body><div class="center">
<table>
<tr class="h"><td>
<h1 class="p">PHP Version 7.4.33</h1>
</td></tr>
</table>
<table>
` + rows("System", "Linux web-prod-01.internal.corp 5.10.0-19-amd64 #1 SMP Debian 5.10.149-2 x86_64",
		"Build Date", "Nov  8 2022 10:12:44",
		"Server API", "FPM/FastCGI",
		"Loaded Configuration File", "/etc/php/7.4/fpm/php.ini") + `</table>
<h2>Environment</h2>
<table>
<tr class="h"><th>Variable</th><th>Value</th></tr>
` + rows("HOSTNAME", "web-prod-01.internal.corp",
		"DB_PASSWORD", "Lab-Fict1onal-Passw0rd") + `</table>
<h2>PHP Variables</h2>
<table>
<tr class="h"><th>Variable</th><th>Value</th></tr>
` + rows("$_SERVER['DOCUMENT_ROOT']", "/var/www/records",
		"$_SERVER['SERVER_ADDR']", "10.20.0.15",
		"$_SERVER['REMOTE_ADDR']", "10.20.3.17") + `</table>
</div></body></html>
`)
}

// ServerStatusPage is what the open server answers at /server-status: a
// page in the layout of Apache's mod_status, with three requests in its
// scoreboard.
func ServerStatusPage() []byte {
	g := fake.New(Seed)
	var rows strings.Builder
	for i := 1; i <= 3; i++ {
		p := g.Person(i)
		fmt.Fprintf(&rows, "<tr><td><b>%d-0</b></td><td>%d</td><td>0/12/340</td><td>W\n</td><td>0.05</td><td>1</td>"+
			"<td>0</td><td>0.0</td><td>0.01</td><td>0.40\n</td><td>10.20.3.%d</td><td>http/1.1</td>"+
			"<td nowrap>records.internal.corp:443</td><td nowrap>GET /api/person?id_number=%s HTTP/1.1</td></tr>\n",
			i-1, 4100+i, 16+i, p.IDNumber)
	}
	return []byte(`<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head>
<title>Apache Status</title>
</head><body>
<h1>Apache Server Status for web-prod-01.internal.corp (via 10.20.0.15)</h1>

<dl><dt>Server Version: Apache/2.4.54 (Debian) OpenSSL/1.1.1n</dt>
<dt>Server MPM: event</dt>
<dt>Server Built: 2022-06-09T04:26:43
</dt></dl><hr /><dl>
<dt>Current Time: Friday, 25-Nov-2022 09:30:00 CST</dt>
<dt>Server uptime:  3 days 2 hours 11 minutes 5 seconds</dt>
<dt>Total accesses: 184512 - Total Traffic: 2.1 GB</dt>
</dl>
<table border="0"><tr><th>Srv</th><th>PID</th><th>Acc</th><th>M</th><th>CPU
</th><th>SS</th><th>Req</th><th>Conn</th><th>Child</th><th>Slot</th><th>Client</th><th>Protocol</th><th>VHost</th><th>Request</th></tr>

` + rows.String() + `</table>
</body></html>
`)
}
