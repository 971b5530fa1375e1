package identify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/ajar-scan/ajar"
)

// httpAnswer is one parsed HTTP response, its body capped.
type httpAnswer struct {
	status int
	header http.Header
	body   []byte
}

// get sends one GET on a fresh connection and parses the answer.
func get(ctx context.Context, t ajar.Target, dial Dialer, opt Options, path string) (*httpAnswer, error) {
	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	host := t.AddrPort().String()
	if opt.ServerName != "" {
		host = opt.ServerName
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ajar/1\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, host)
	raw, _ := talk(ctx, c, []byte(req), opt.StepTimeout, opt.MaxBanner, httpDone)
	return parseHTTP(raw)
}

// httpDone stops reading an answer that is not HTTP at all, or an HTTP
// answer whose body arrived whole, by its length or its last chunk (for
// servers that keep the connection open despite Connection: close).
func httpDone(b []byte) bool {
	if len(b) >= 5 && !bytes.HasPrefix(b, []byte("HTTP/")) {
		return true
	}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b[:end+4])), nil)
	if err != nil {
		return true
	}
	resp.Body.Close()
	if resp.ContentLength >= 0 {
		return len(b)-(end+4) >= int(resp.ContentLength)
	}
	if slices.Contains(resp.TransferEncoding, "chunked") {
		// The last chunk has size 0 (RFC 9112 §7.1); trailers are rare.
		body := b[end+4:]
		return bytes.HasPrefix(body, []byte("0\r\n\r\n")) || bytes.HasSuffix(body, []byte("\r\n0\r\n\r\n"))
	}
	return false
}

// parseHTTP parses a (possibly truncated) HTTP/1.x response.
func parseHTTP(raw []byte) (*httpAnswer, error) {
	if !bytes.HasPrefix(raw, []byte("HTTP/1.")) && !bytes.HasPrefix(raw, []byte("HTTP/2")) {
		return nil, fmt.Errorf("not HTTP")
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return &httpAnswer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// runHTTP identifies an HTTP server and, where it can tell, the data store
// behind it (Elasticsearch, Kibana, CouchDB, …). The generic "http" probes
// run on every HTTP service besides the product's own.
func runHTTP(ctx context.Context, t ajar.Target, dial Dialer, opt Options) (ajar.Service, bool) {
	a, err := get(ctx, t, dial, opt, "/")
	if err != nil || plainToTLS(a) {
		return ajar.Service{}, false
	}
	svc := ajar.Service{Protocol: "http", HTTP: &ajar.HTTP{Status: a.status, Server: clip(a.header.Get("Server"), 80), Title: title(a.body)}}
	if fingerprint(&svc, "/", a) {
		return svc, true
	}
	// The root page did not say; a few well-known paths do.
	for _, path := range []string{"/version", "/v2/", "/api/v1/status/buildinfo", "/solr/admin/info/system?wt=json", "/ping"} {
		if ctx.Err() != nil {
			break
		}
		b, err := get(ctx, t, dial, opt, path)
		if err != nil {
			continue
		}
		if fingerprint(&svc, path, b) {
			break
		}
	}
	return svc, true
}

// plainToTLS recognises the 400 a TLS server sends back to a request in
// clear (Go's crypto/tls, nginx, Apache httpd): the service is HTTPS, and
// the TLS hello will say so.
func plainToTLS(a *httpAnswer) bool {
	if a.status != 400 {
		return false
	}
	for _, m := range []string{"Client sent an HTTP request to an HTTPS server", "The plain HTTP request was sent to HTTPS port",
		"speaking plain HTTP to an SSL-enabled server port"} {
		if bytes.Contains(a.body, []byte(m)) {
			return true
		}
	}
	return false
}

// fingerprint sets the product of svc from one answer; it reports whether
// the answer was conclusive.
func fingerprint(svc *ajar.Service, path string, a *httpAnswer) bool {
	h := a.header
	set := func(protocol, product, version string) bool {
		svc.Protocol, svc.Product, svc.Version = protocol, product, clip(version, 40)
		return true
	}
	var doc map[string]any
	_ = json.Unmarshal(a.body, &doc)
	str := func(path ...string) string {
		var v any = doc
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return ""
			}
			v = m[p]
		}
		s, _ := v.(string)
		return s
	}
	switch {
	case h.Get("Kbn-Name") != "" || h.Get("Kbn-Version") != "":
		// https://www.elastic.co/guide/en/kibana/current/api.html (every answer carries them)
		return set("kibana", "Kibana", h.Get("Kbn-Version"))
	case h.Get("Osd-Name") != "" || h.Get("Osd-Version") != "":
		return set("kibana", "OpenSearch Dashboards", h.Get("Osd-Version"))
	case str("tagline") == "You Know, for Search" || str("tagline") == "The OpenSearch Project: https://opensearch.org/":
		if str("version", "distribution") == "opensearch" {
			return set("opensearch", "OpenSearch", str("version", "number"))
		}
		return set("elasticsearch", "Elasticsearch", str("version", "number"))
	case a.status == 401 && strings.Contains(h.Get("Www-Authenticate"), `realm="OpenSearch Security"`):
		return set("opensearch", "OpenSearch", "")
	case a.status == 401 && strings.Contains(h.Get("Www-Authenticate"), `realm="solr"`):
		return set("solr", "Solr", "")
	case a.status == 401 && (strings.Contains(h.Get("Www-Authenticate"), `realm="security"`) || bytes.Contains(a.body, []byte("security_exception"))):
		return set("elasticsearch", "Elasticsearch", "")
	case h.Get("X-Elastic-Product") == "Elasticsearch":
		return set("elasticsearch", "Elasticsearch", "")
	case str("couchdb") == "Welcome":
		return set("couchdb", "CouchDB", str("version"))
	case str("express-pouchdb") != "":
		return set("couchdb", "express-pouchdb", str("version"))
	case h.Get("X-Influxdb-Version") != "":
		return set("influxdb", "InfluxDB", h.Get("X-Influxdb-Version"))
	case strings.HasPrefix(h.Get("Docker-Distribution-Api-Version"), "registry/"):
		return set("docker-registry", "Docker Registry", "")
	case str("etcdserver") != "":
		return set("etcd", "etcd", str("etcdserver"))
	case path == "/api/v1/status/buildinfo" && str("status") == "success" && str("data", "version") != "":
		return set("prometheus", "Prometheus", str("data", "version"))
	case strings.Contains(str("lucene", "solr-spec-version"), "."):
		return set("solr", "Solr", str("lucene", "solr-spec-version"))
	case path == "/" && strings.HasPrefix(h.Get("Location"), "/solr"):
		return set("solr", "Solr", "")
	case path == "/" && a.status == 200 && string(a.body) == "Ok.\n":
		// ClickHouse's HTTP interface answers / with "Ok." and a newline.
		return set("clickhouse", "ClickHouse", "")
	case a.status == 400 && bytes.Contains(a.body, []byte(" is for clickhouse-client program")):
		// ClickHouse's native port answers HTTP with a pointer to the HTTP port.
		return set("clickhouse", "ClickHouse", "")
	case strings.Contains(h.Get("Www-Authenticate"), "RabbitMQ Management") || svc.HTTP.Title == "RabbitMQ Management":
		return set("rabbitmq-management", "RabbitMQ", "")
	case strings.Contains(h.Get("X-Clickhouse-Summary")+h.Get("X-Clickhouse-Server-Display-Name"), "") && h.Get("X-Clickhouse-Server-Display-Name") != "":
		return set("clickhouse", "ClickHouse", "")
	}
	if svc.Product == "" {
		svc.Product, svc.Version = productFromServer(h.Get("Server"))
	}
	return false
}

var serverProduct = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]{0,30})(?:/([0-9][0-9A-Za-z.\-]{0,20}))?`)

// productFromServer splits a Server header such as "nginx/1.22.1" into
// product and version.
func productFromServer(s string) (product, version string) {
	if m := serverProduct.FindStringSubmatch(s); m != nil {
		return m[1], m[2]
	}
	return "", ""
}

var titleRe = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

func title(body []byte) string {
	m := titleRe.FindSubmatch(body)
	if m == nil {
		return ""
	}
	return clip(strings.Join(strings.Fields(html.UnescapeString(string(m[1]))), " "), 120)
}

func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
