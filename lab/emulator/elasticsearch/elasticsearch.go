// Package elasticsearch emulates the REST API of Elasticsearch 6.8, 7.17 and
// 8.x and of OpenSearch 1.x–2.x for the lab, from their documented answers.
package elasticsearch

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ajar-scan/ajar/lab/emulator"
)

// Variants of an emulated cluster.
const (
	// Open: no security; anyone reads everything.
	Open = "open"
	// Secured: security on; every anonymous request gets 401.
	Secured = "secured"
	// Ransomed: an open cluster after a wipe: only the read_me index is left.
	Ransomed = "ransomed"
)

// Products.
const (
	Elasticsearch = "elasticsearch"
	OpenSearch    = "opensearch"
)

// build is what GET / says about a release.
type build struct {
	flavor, typ, hash, date, lucene, minWire, minIndex string
}

// builds by product and major version; the figures are those of the named
// releases (6.8.23, 7.17.9, 8.11.1, OpenSearch 1.3.14 and 2.11.0).
var builds = map[string]build{
	"elasticsearch/6": {"default", "docker", "4f67856", "2022-01-06T21:30:50.087716Z", "7.7.3", "5.6.0", "5.0.0"},
	"elasticsearch/7": {"default", "docker", "ef48222227ee6b9e70e502f0f0daa52435ee634d", "2023-01-31T05:34:43.305517834Z", "8.11.1", "6.8.0", "6.0.0-beta1"},
	"elasticsearch/8": {"default", "docker", "6f9ff581fbcde658e6f69d6ce03050f060d1fd0c", "2023-11-11T10:05:59.421038163Z", "9.8.0", "7.17.0", "7.0.0"},
	"opensearch/1":    {"", "tar", "44ae1c2c9f6b5c5f32e8de3a3f2b7c1d2e3f4a5b", "2023-11-21T19:58:34.405536Z", "8.10.1", "6.8.0", "6.0.0-beta1"},
	"opensearch/2":    {"", "tar", "4dcad6f0c7f4b3a1e2d5c6b7a8f9e0d1c2b3a4f5", "2023-10-13T02:55:55.511945994Z", "9.7.0", "7.10.0", "7.0.0"},
}

// Server is one emulated cluster. It is an http.Handler.
type Server struct {
	product, version, variant string
	major                     int
	build                     build
	indices                   []emulator.Dataset
	guard                     emulator.Guard
}

// New returns a cluster of product (elasticsearch or opensearch) at version
// in variant. Refused writes are logged to log (nil discards).
func New(product, version, variant string, log *slog.Logger) (*Server, error) {
	major, err := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	if err != nil {
		return nil, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH", version)
	}
	b, ok := builds[product+"/"+strconv.Itoa(major)]
	if !ok {
		return nil, fmt.Errorf("%s %s is not emulated (6.x, 7.x, 8.x; OpenSearch 1.x, 2.x)", product, version)
	}
	s := &Server{product: product, version: version, variant: variant, major: major, build: b}
	s.guard.Log = log
	switch variant {
	case Open, Secured:
		s.indices = emulator.ESDatasets(KibanaIndex(product, version))
	case Ransomed:
		s.indices = []emulator.Dataset{emulator.ReadMe()}
	default:
		return nil, fmt.Errorf("variant %q: want open, secured or ransomed", variant)
	}
	return s, nil
}

// KibanaIndex names the saved-objects index a Kibana (or OpenSearch
// Dashboards) of the same version keeps in the cluster.
func KibanaIndex(product, version string) string {
	if product == Elasticsearch && !strings.HasPrefix(version, "6.") {
		return ".kibana_" + version + "_001"
	}
	return ".kibana_1"
}

// Writes returns how many writing requests the cluster refused.
func (s *Server) Writes() int64 { return s.guard.Writes() }

// Refused lists the first refused writing requests.
func (s *Server) Refused() []string { return s.guard.Refused() }

// Version returns the emulated version.
func (s *Server) Version() string { return s.version }

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.headers(w)
	if isWrite(r) {
		s.guard.Refuse(r)
		if s.variant == Secured {
			s.unauthorized(w, r)
			return
		}
		s.error(w, r, http.StatusForbidden, "cluster_block_exception", "blocked by: [FORBIDDEN/6/cluster read-only (api)];", nil)
		return
	}
	if s.variant == Secured {
		s.unauthorized(w, r)
		return
	}
	parts := splitPath(r.URL.EscapedPath())
	switch {
	case len(parts) == 0:
		s.root(w, r)
	case len(parts) == 2 && parts[0] == "_cat" && parts[1] == "indices":
		s.catIndices(w, r)
	case len(parts) == 2 && parts[0] == "_cat" && parts[1] == "plugins":
		// No plugins: security and the rest are modules of the distribution.
		if r.URL.Query().Get("format") == "json" {
			s.write(w, r, http.StatusOK, []any{})
			return
		}
		emulator.WriteBody(w, http.StatusOK, "text/plain; charset=UTF-8", nil)
	case len(parts) == 2 && parts[0] == "_cluster" && parts[1] == "health":
		s.health(w, r)
	case len(parts) == 1 && parts[0] == "_mapping":
		s.mapping(w, r, s.indices)
	case len(parts) == 1 && parts[0] == "_xpack" && s.product == Elasticsearch:
		s.xpack(w, r)
	case len(parts) == 1 && parts[0] == "_search":
		s.search(w, r, s.indices)
	case len(parts) >= 1 && strings.HasPrefix(parts[0], "_"):
		if len(parts) == 1 {
			s.error(w, r, http.StatusBadRequest, "invalid_index_name_exception",
				fmt.Sprintf("Invalid index name [%s], must not start with '_'.", parts[0]), map[string]any{"index_uuid": "_na_", "index": parts[0]})
			return
		}
		s.noHandler(w, r)
	default:
		ix, ok := s.lookup(parts[0])
		if !ok {
			s.error(w, r, http.StatusNotFound, "index_not_found_exception", "no such index ["+parts[0]+"]",
				map[string]any{"resource.type": "index_or_alias", "resource.id": parts[0], "index_uuid": "_na_", "index": parts[0]})
			return
		}
		switch {
		case len(parts) == 1:
			s.indexInfo(w, r, ix)
		case len(parts) == 2 && parts[1] == "_mapping":
			s.mapping(w, r, []emulator.Dataset{ix})
		case len(parts) == 2 && parts[1] == "_search":
			s.search(w, r, []emulator.Dataset{ix})
		case len(parts) == 2 && parts[1] == "_count":
			s.write(w, r, http.StatusOK, map[string]any{"count": ix.Records, "_shards": shards()})
		default:
			s.noHandler(w, r)
		}
	}
}

// isWrite reports whether a request would change the cluster: any method
// but GET and HEAD, except POST to the search endpoints; and the GET forms
// of the maintenance APIs.
func isWrite(r *http.Request) bool {
	parts := splitPath(r.URL.EscapedPath())
	for _, p := range parts {
		switch p {
		case "_flush", "_refresh", "_forcemerge", "_cache", "_close", "_open", "_shrink", "_rollover":
			return true
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return false
	case http.MethodPost:
		if n := len(parts); n > 0 {
			switch parts[n-1] {
			case "_search", "_count", "_msearch":
				return false
			}
		}
	}
	return true
}

func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		out = append(out, s)
	}
	return out
}

func (s *Server) lookup(name string) (emulator.Dataset, bool) {
	for _, ix := range s.indices {
		if ix.Name == name {
			return ix, true
		}
	}
	return emulator.Dataset{}, false
}

func (s *Server) contentType() string {
	if s.product == Elasticsearch && s.major >= 8 {
		return "application/json"
	}
	return "application/json; charset=UTF-8"
}

func (s *Server) headers(w http.ResponseWriter) {
	// From 7.14 every answer names the product, so that clients can tell
	// Elasticsearch from look-alikes.
	if s.product == Elasticsearch && (s.major >= 8 || s.major == 7 && minor(s.version) >= 14) {
		w.Header().Set("X-elastic-product", "Elasticsearch")
	}
}

func minor(v string) int {
	p := strings.Split(v, ".")
	if len(p) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(p[1])
	return n
}

// write answers v as JSON, pretty when the request asks for it.
func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if _, ok := r.URL.Query()["pretty"]; ok {
		b = pretty(b)
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", s.contentType())
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(status)
		return
	}
	emulator.WriteBody(w, status, s.contentType(), b)
}

// error answers with the error object of the REST API.
func (s *Server) error(w http.ResponseWriter, r *http.Request, status int, typ, reason string, extra map[string]any) {
	cause := obj{{"type", typ}, {"reason", reason}}
	for _, k := range []string{"resource.type", "resource.id", "index_uuid", "index"} {
		if v, ok := extra[k]; ok {
			cause = append(cause, kv(k, v))
		}
	}
	body := obj{
		{"error", append(obj{{"root_cause", []any{cause}}}, cause...)},
		{"status", status},
	}
	s.write(w, r, status, body)
}

// unauthorized is the answer of a cluster with security on to a request
// without credentials.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	if s.product == OpenSearch {
		// The security plugin answers in plain text.
		w.Header().Set("WWW-Authenticate", `Basic realm="OpenSearch Security"`)
		emulator.WriteBody(w, http.StatusUnauthorized, "text/plain; charset=UTF-8", []byte("Unauthorized"))
		return
	}
	challenges := []string{`Basic realm="security" charset="UTF-8"`}
	if s.major >= 8 {
		// 8.x enables TLS on HTTP, and with it the token and API-key services.
		challenges = append(challenges, `Bearer realm="security"`, "ApiKey")
	}
	for _, c := range challenges {
		w.Header().Add("WWW-Authenticate", c)
	}
	reason := "missing authentication credentials for REST request [" + r.URL.RequestURI() + "]"
	cause := obj{{"type", "security_exception"}, {"reason", reason}, {"header", obj{{"WWW-Authenticate", challenges}}}}
	body := obj{{"error", append(obj{{"root_cause", []any{cause}}}, cause...)}, {"status", 401}}
	s.write(w, r, http.StatusUnauthorized, body)
}

func (s *Server) noHandler(w http.ResponseWriter, r *http.Request) {
	msg := fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.RequestURI(), r.Method)
	if s.product == Elasticsearch && s.major >= 8 {
		s.error(w, r, http.StatusBadRequest, "illegal_argument_exception", msg, nil)
		return
	}
	s.write(w, r, http.StatusBadRequest, obj{{"error", msg}, {"status", 400}})
}

func (s *Server) clusterName() string {
	if s.product == OpenSearch {
		return emulator.OSClusterName
	}
	return emulator.ESClusterName
}

// root is GET /, pretty by default as on every release.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	v := obj{}
	if s.product == OpenSearch {
		v = append(v, kv("distribution", "opensearch"))
	}
	v = append(v, kv("number", s.version))
	if s.build.flavor != "" {
		v = append(v, kv("build_flavor", s.build.flavor))
	}
	v = append(v,
		kv("build_type", s.build.typ),
		kv("build_hash", s.build.hash),
		kv("build_date", s.build.date),
		kv("build_snapshot", false),
		kv("lucene_version", s.build.lucene),
		kv("minimum_wire_compatibility_version", s.build.minWire),
		kv("minimum_index_compatibility_version", s.build.minIndex),
	)
	tagline := "You Know, for Search"
	node := "es01"
	if s.product == OpenSearch {
		tagline = "The OpenSearch Project: https://opensearch.org/"
		node = "opensearch-node1"
	}
	body := obj{
		{"name", node},
		{"cluster_name", s.clusterName()},
		{"cluster_uuid", uuid("cluster/" + s.clusterName())},
		{"version", v},
		{"tagline", tagline},
	}
	b, _ := json.Marshal(body)
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", s.contentType())
		w.Header().Set("Content-Length", strconv.Itoa(len(pretty(b))))
		w.WriteHeader(http.StatusOK)
		return
	}
	emulator.WriteBody(w, http.StatusOK, s.contentType(), pretty(b))
}

// health describes the index as a single-node cluster sees it: primaries
// assigned, replicas of data indices not (yellow).
func health(ix emulator.Dataset) (status string, replicas int) {
	if ix.System || strings.HasPrefix(ix.Name, ".") {
		return "green", 0
	}
	return "yellow", 1
}

// catIndices is GET /_cat/indices, in JSON with format=json (values are
// strings, sizes in bytes with bytes=b) and as a text table otherwise.
func (s *Server) catIndices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rows := make([]obj, 0, len(s.indices))
	for _, ix := range s.indices {
		h, rep := health(ix)
		size := humanBytes(ix.Bytes)
		if q.Get("bytes") == "b" {
			size = strconv.FormatInt(ix.Bytes, 10)
		}
		row := obj{
			{"health", h}, {"status", "open"}, {"index", ix.Name}, {"uuid", uuid("index/" + ix.Name)},
			{"pri", "1"}, {"rep", strconv.Itoa(rep)},
			{"docs.count", strconv.FormatInt(ix.Records, 10)}, {"docs.deleted", "0"},
			{"store.size", size}, {"pri.store.size", size},
		}
		if s.product == Elasticsearch && (s.major > 8 || s.major == 8 && minor(s.version) >= 11) {
			row = append(row, kv("dataset.size", size))
		}
		rows = append(rows, row)
	}
	if q.Get("format") == "json" {
		s.write(w, r, http.StatusOK, rows)
		return
	}
	var b strings.Builder
	if _, v := q["v"]; v {
		for i, c := range rows[0] {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(c[0].(string))
		}
		b.WriteByte('\n')
	}
	for _, row := range rows {
		for i, c := range row {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprint(&b, c[1])
		}
		b.WriteByte('\n')
	}
	emulator.WriteBody(w, http.StatusOK, "text/plain; charset=UTF-8", []byte(b.String()))
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status := "green"
	for _, ix := range s.indices {
		if h, _ := health(ix); h == "yellow" {
			status = h
		}
	}
	n := len(s.indices)
	s.write(w, r, http.StatusOK, obj{
		{"cluster_name", s.clusterName()}, {"status", status}, {"timed_out", false},
		{"number_of_nodes", 1}, {"number_of_data_nodes", 1},
		{"active_primary_shards", n}, {"active_shards", n}, {"relocating_shards", 0},
		{"initializing_shards", 0}, {"unassigned_shards", n - 1}, {"delayed_unassigned_shards", 0},
		{"number_of_pending_tasks", 0}, {"number_of_in_flight_fetch", 0},
		{"task_max_waiting_in_queue_millis", 0}, {"active_shards_percent_as_number", 50.0},
	})
}

// properties maps a document's fields to mapping properties.
func properties(d emulator.Doc) obj {
	props := obj{}
	for _, f := range d {
		var p obj
		switch f.Type {
		case "object":
			sub, _ := f.Value.(emulator.Doc)
			p = obj{{"properties", properties(sub)}}
		case "text":
			p = obj{{"type", "text"}, {"fields", obj{{"keyword", obj{{"type", "keyword"}, {"ignore_above", 256}}}}}}
		case "date":
			p = obj{{"type", "date"}, {"format", "yyyy-MM-dd HH:mm:ss||yyyy-MM-dd||epoch_millis"}}
		default:
			p = obj{{"type", f.Type}}
		}
		props = append(props, kv(f.Name, p))
	}
	return props
}

// mappings is an index's mapping in the version's shape: one type (_doc)
// in 6.x, none from 7.0.
func (s *Server) mappings(ix emulator.Dataset) obj {
	var doc emulator.Doc
	if ix.Stored > 0 {
		doc = ix.Doc(1)
	}
	m := obj{{"properties", properties(doc)}}
	if s.product == Elasticsearch && s.major < 7 {
		return obj{{"_doc", m}}
	}
	return m
}

func (s *Server) mapping(w http.ResponseWriter, r *http.Request, indices []emulator.Dataset) {
	body := obj{}
	for _, ix := range indices {
		body = append(body, kv(ix.Name, obj{{"mappings", s.mappings(ix)}}))
	}
	s.write(w, r, http.StatusOK, body)
}

func (s *Server) indexInfo(w http.ResponseWriter, r *http.Request, ix emulator.Dataset) {
	_, rep := health(ix)
	settings := obj{{"index", obj{
		{"creation_date", "1675141200000"}, {"number_of_shards", "1"}, {"number_of_replicas", strconv.Itoa(rep)},
		{"uuid", uuid("index/" + ix.Name)}, {"version", obj{{"created", "7170999"}}}, {"provided_name", ix.Name},
	}}}
	s.write(w, r, http.StatusOK, obj{{ix.Name, obj{{"aliases", obj{}}, {"mappings", s.mappings(ix)}, {"settings", settings}}}})
}

// maxWindow is index.max_result_window: from+size beyond it is refused.
const maxWindow = 10_000

// search answers _search with the stored documents of the indices, in
// order, honouring size and from from the query string or the body.
func (s *Server) search(w http.ResponseWriter, r *http.Request, indices []emulator.Dataset) {
	size, from := 10, 0
	if r.Method == http.MethodPost && r.Body != nil {
		var body struct {
			Size *int `json:"size"`
			From *int `json:"from"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		if err := dec.Decode(&body); err != nil && err.Error() != "EOF" {
			s.error(w, r, http.StatusBadRequest, "parsing_exception", "request body is malformed: "+err.Error(), nil)
			return
		}
		if body.Size != nil {
			size = *body.Size
		}
		if body.From != nil {
			from = *body.From
		}
	}
	q := r.URL.Query()
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.error(w, r, http.StatusBadRequest, "illegal_argument_exception", "Failed to parse int parameter [size] with value ["+v+"]", nil)
			return
		}
		size = n
	}
	if v := q.Get("from"); v != "" {
		n, _ := strconv.Atoi(v)
		from = n
	}
	if size < 0 || from < 0 || from+size > maxWindow {
		s.error(w, r, http.StatusBadRequest, "illegal_argument_exception",
			fmt.Sprintf("Result window is too large, from + size must be less than or equal to: [%d] but was [%d].", maxWindow, from+size), nil)
		return
	}
	var total int64
	var hits []any
	skip := from
	for _, ix := range indices {
		total += ix.Records
		for i := 1; i <= ix.Stored && len(hits) < size; i++ {
			if skip > 0 {
				skip--
				continue
			}
			hit := obj{{"_index", ix.Name}}
			if s.product == Elasticsearch && s.major < 8 || s.product == OpenSearch && s.major < 2 {
				hit = append(hit, kv("_type", "_doc"))
			}
			hit = append(hit, kv("_id", ix.ID(i)), kv("_score", 1.0), kv("_source", ix.Doc(i)))
			hits = append(hits, hit)
		}
	}
	if hits == nil {
		hits = []any{}
	}
	var tot any = total
	if s.product == OpenSearch || s.major >= 7 {
		rel := "eq"
		if total > maxWindow {
			total, rel = maxWindow, "gte"
		}
		tot = obj{{"value", total}, {"relation", rel}}
	}
	var maxScore any = 1.0
	if len(hits) == 0 {
		maxScore = nil
	}
	s.write(w, r, http.StatusOK, obj{
		{"took", 2}, {"timed_out", false}, {"_shards", shards()},
		{"hits", obj{{"total", tot}, {"max_score", maxScore}, {"hits", hits}}},
	})
}

func shards() obj {
	return obj{{"total", 1}, {"successful", 1}, {"skipped", 0}, {"failed", 0}}
}

// xpack is GET /_xpack with security reported off, as on a cluster started
// with xpack.security.enabled: false.
func (s *Server) xpack(w http.ResponseWriter, r *http.Request) {
	feature := func(available, enabled bool) obj {
		return obj{{"available", available}, {"enabled", enabled}}
	}
	s.write(w, r, http.StatusOK, obj{
		{"build", obj{{"hash", s.build.hash}, {"date", s.build.date}}},
		{"license", obj{{"uid", uuid("license")}, {"type", "basic"}, {"mode", "basic"}, {"status", "active"}}},
		{"features", obj{
			{"graph", feature(false, true)},
			{"ml", feature(false, true)},
			{"monitoring", feature(true, true)},
			{"security", feature(true, false)},
			{"watcher", feature(false, true)},
		}},
		{"tagline", "You know, for X"},
	})
}

// uuid derives a stable identifier in the 22-character form of the REST API.
func uuid(seed string) string {
	h := sha256.Sum256([]byte(seed))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// humanBytes renders a size as _cat does without bytes=: 1.1gb, 384mb, 249b.
func humanBytes(n int64) string {
	units := []struct {
		suffix string
		size   int64
	}{{"pb", 1 << 50}, {"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}}
	for _, u := range units {
		if n >= u.size {
			v := float64(n) / float64(u.size)
			s := strconv.FormatFloat(v, 'f', 1, 64)
			return strings.TrimSuffix(s, ".0") + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "b"
}

// kv and obj are short names for ordered JSON objects.
type obj = emulator.Object

// kv is one member of an obj.
func kv(k string, v any) [2]any { return [2]any{k, v} }
