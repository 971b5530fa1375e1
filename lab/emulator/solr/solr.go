// Package solr emulates the HTTP API of Apache Solr 9.x in standalone mode
// for the lab, from its documented answers: open, or with the
// BasicAuthPlugin refusing anonymous requests.
package solr

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/ajar-scan/ajar/lab/emulator"
)

// Variants of an emulated Solr.
const (
	// Open: no security.json; anyone reads and administers.
	Open = "open"
	// Secured: BasicAuthPlugin with blockUnknown: anonymous requests get 401.
	Secured = "secured"
)

// Server is one emulated Solr node. It is an http.Handler.
type Server struct {
	version, variant string
	cores            []emulator.Dataset
	guard            emulator.Guard
}

// New returns a Solr at version (9.x) in variant.
func New(version, variant string, log *slog.Logger) (*Server, error) {
	if !strings.HasPrefix(version, "9.") {
		return nil, fmt.Errorf("solr version %q is not emulated (9.x)", version)
	}
	if variant != Open && variant != Secured {
		return nil, fmt.Errorf("variant %q: want open or secured", variant)
	}
	s := &Server{version: version, variant: variant, cores: emulator.SolrDatasets()}
	s.guard.Log = log
	return s, nil
}

// Writes returns how many writing requests the node refused.
func (s *Server) Writes() int64 { return s.guard.Writes() }

// Refused lists the first refused writing requests.
func (s *Server) Refused() []string { return s.guard.Refused() }

type obj = emulator.Object

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.FieldsFunc(r.URL.Path, func(c rune) bool { return c == '/' })
	write := isWrite(r, parts)
	if write {
		s.guard.Refuse(r)
	}
	if s.variant == Secured {
		// BasicAuthPlugin answers through the servlet container's error page.
		w.Header().Set("WWW-Authenticate", `Basic realm="solr"`)
		s.jettyError(w, r, http.StatusUnauthorized, "require authentication")
		return
	}
	if write {
		s.error(w, http.StatusForbidden, "Collection is read-only")
		return
	}
	switch {
	case len(parts) == 0:
		http.Redirect(w, r, "/solr/", http.StatusFound)
	case parts[0] != "solr":
		s.jettyError(w, r, http.StatusNotFound, "Not Found")
	case len(parts) == 1:
		emulator.WriteBody(w, http.StatusOK, "text/html;charset=utf-8", []byte("<!DOCTYPE html><html><head><title>Solr Admin</title></head><body ng-app=\"solrAdminApp\"></body></html>"))
	case len(parts) == 4 && parts[1] == "admin" && parts[2] == "info" && parts[3] == "system":
		s.system(w)
	case len(parts) == 3 && parts[1] == "admin" && parts[2] == "cores":
		s.coreStatus(w, r)
	default:
		core, ok := s.lookup(parts[1])
		if !ok {
			s.jettyError(w, r, http.StatusNotFound, "Not Found")
			return
		}
		switch {
		case len(parts) == 3 && parts[2] == "select":
			s.selectDocs(w, r, core)
		case len(parts) == 4 && parts[2] == "schema" && parts[3] == "fields":
			s.fields(w, core)
		default:
			s.jettyError(w, r, http.StatusNotFound, "Not Found")
		}
	}
}

// isWrite reports whether a request would change the node: any method but
// GET and HEAD, except POST to select; and the GET forms of the update
// handler and of core and collection administration.
func isWrite(r *http.Request, parts []string) bool {
	for _, p := range parts {
		if p == "update" || p == "config" || p == "replication" {
			return true
		}
	}
	if len(parts) >= 3 && parts[1] == "admin" && (parts[2] == "cores" || parts[2] == "collections") {
		if a := strings.ToUpper(r.URL.Query().Get("action")); a != "" && a != "STATUS" && a != "LIST" && a != "CLUSTERSTATUS" {
			return true
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return false
	case http.MethodPost:
		return !(len(parts) > 0 && parts[len(parts)-1] == "select")
	}
	return true
}

func (s *Server) lookup(name string) (emulator.Dataset, bool) {
	for _, c := range s.cores {
		if c.Name == name {
			return c, true
		}
	}
	return emulator.Dataset{}, false
}

func header(status int) obj { return obj{{"status", status}, {"QTime", 1}} }

func (s *Server) json(w http.ResponseWriter, v any) {
	emulator.WriteJSON(w, http.StatusOK, "application/json;charset=utf-8", v)
}

// error is Solr's JSON error answer.
func (s *Server) error(w http.ResponseWriter, status int, msg string) {
	emulator.WriteJSON(w, status, "application/json;charset=utf-8", obj{
		{"responseHeader", header(status)},
		{"error", obj{
			{"metadata", []string{"error-class", "org.apache.solr.common.SolrException", "root-error-class", "org.apache.solr.common.SolrException"}},
			{"msg", msg}, {"code", status},
		}},
	})
}

// jettyError is the HTML error page of the servlet container.
func (s *Server) jettyError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	m := html.EscapeString(msg)
	body := "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n" +
		"<title>Error " + strconv.Itoa(status) + " " + m + "</title>\n</head>\n<body>\n" +
		"<h2>HTTP ERROR " + strconv.Itoa(status) + " " + m + "</h2>\n<table>\n" +
		"<tr><th>URI:</th><td>" + html.EscapeString(r.URL.Path) + "</td></tr>\n" +
		"<tr><th>STATUS:</th><td>" + strconv.Itoa(status) + "</td></tr>\n" +
		"<tr><th>MESSAGE:</th><td>" + m + "</td></tr>\n" +
		"<tr><th>SERVLET:</th><td>default</td></tr>\n</table>\n\n</body>\n</html>\n"
	w.Header().Set("Cache-Control", "must-revalidate,no-cache,no-store")
	emulator.WriteBody(w, status, "text/html;charset=iso-8859-1", []byte(body))
}

// system is GET /solr/admin/info/system.
func (s *Server) system(w http.ResponseWriter) {
	s.json(w, obj{
		{"responseHeader", header(0)},
		{"mode", "std"},
		{"solr_home", "/var/solr/data"},
		{"core_root", "/var/solr/data"},
		{"lucene", obj{
			{"solr-spec-version", s.version},
			{"solr-impl-version", s.version + " 7b7e1b2e4a9c3d5f6e8a0b1c2d3e4f5a6b7c8d9e - solr - 2024-01-08 17:22:03"},
			{"lucene-spec-version", "9.9.1"},
			{"lucene-impl-version", "9.9.1 eee32cbf5e072a8c9d459c349549094230038308 - 2023-12-14 10:05:38"},
		}},
		{"jvm", obj{{"version", "17.0.9 17.0.9+9"}, {"name", "Eclipse Adoptium OpenJDK 64-Bit Server VM"}}},
		{"security", obj{{"tls", false}}},
		{"system", obj{{"name", "Linux"}, {"arch", "amd64"}, {"availableProcessors", 2}}},
	})
}

// coreStatus is GET /solr/admin/cores?action=STATUS.
func (s *Server) coreStatus(w http.ResponseWriter, r *http.Request) {
	status := obj{}
	for _, c := range s.cores {
		status = append(status, [2]any{c.Name, obj{
			{"name", c.Name},
			{"instanceDir", "/var/solr/data/" + c.Name},
			{"dataDir", "/var/solr/data/" + c.Name + "/data/"},
			{"config", "solrconfig.xml"},
			{"schema", "managed-schema.xml"},
			{"startTime", "2024-02-01T08:00:00.000Z"},
			{"uptime", 86400000},
			{"index", obj{
				{"numDocs", c.Records}, {"maxDoc", c.Records}, {"deletedDocs", 0},
				{"version", 1204}, {"segmentCount", 12}, {"current", true}, {"hasDeletions", false},
				{"directory", "org.apache.lucene.store.NRTCachingDirectory:NRTCachingDirectory(MMapDirectory@/var/solr/data/" + c.Name + "/data/index)"},
				{"segmentsFile", "segments_2a"}, {"segmentsFileSizeInBytes", 1934},
				{"userData", obj{{"commitTimeMSec", "1706774400000"}}},
				{"lastModified", "2024-02-01T08:00:00.000Z"},
				{"sizeInBytes", c.Bytes}, {"size", human(c.Bytes)},
			}},
		}})
	}
	s.json(w, obj{{"responseHeader", header(0)}, {"initFailures", obj{}}, {"status", status}})
}

// fields is GET /solr/{core}/schema/fields: the managed schema's fields,
// Solr's own first.
func (s *Server) fields(w http.ResponseWriter, c emulator.Dataset) {
	fs := []any{
		obj{{"name", "_root_"}, {"type", "string"}, {"docValues", false}, {"indexed", true}, {"stored", false}},
		obj{{"name", "_version_"}, {"type", "plong"}, {"indexed", false}, {"stored", false}},
		obj{{"name", "id"}, {"type", "string"}, {"multiValued", false}, {"indexed", true}, {"required", true}, {"stored", true}},
	}
	var add func(prefix string, d emulator.Doc)
	add = func(prefix string, d emulator.Doc) {
		for _, f := range d {
			if sub, ok := f.Value.(emulator.Doc); ok {
				add(prefix+f.Name+".", sub)
				continue
			}
			typ := map[string]string{"text": "text_general", "date": "string", "long": "plong"}[f.Type]
			if typ == "" {
				typ = "string"
			}
			fs = append(fs, obj{{"name", prefix + f.Name}, {"type", typ}, {"stored", true}})
		}
	}
	if c.Stored > 0 {
		add("", c.Doc(1))
	}
	s.json(w, obj{{"responseHeader", header(0)}, {"fields", fs}})
}

// selectDocs is GET /solr/{core}/select?q=*:*&rows=N&start=M.
func (s *Server) selectDocs(w http.ResponseWriter, r *http.Request, c emulator.Dataset) {
	q := r.URL.Query()
	rows, start := 10, 0
	if v := q.Get("rows"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.error(w, http.StatusBadRequest, "Invalid Number: "+v)
			return
		}
		rows = n
	}
	if v := q.Get("start"); v != "" {
		start, _ = strconv.Atoi(v)
	}
	docs := []any{}
	for i := start + 1; i <= c.Stored && len(docs) < rows; i++ {
		d := obj{{"id", c.ID(i)}}
		var add func(prefix string, fs emulator.Doc)
		add = func(prefix string, fs emulator.Doc) {
			for _, f := range fs {
				if sub, ok := f.Value.(emulator.Doc); ok {
					add(prefix+f.Name+".", sub)
					continue
				}
				d = append(d, [2]any{prefix + f.Name, f.Value})
			}
		}
		add("", c.Doc(i))
		d = append(d, [2]any{"_version_", int64(1789000000000000000) + int64(i)})
		docs = append(docs, d)
	}
	params := obj{}
	for _, k := range []string{"q", "rows", "start", "wt"} {
		if v := q.Get(k); v != "" {
			params = append(params, [2]any{k, v})
		}
	}
	s.json(w, obj{
		{"responseHeader", obj{{"status", 0}, {"QTime", 1}, {"params", params}}},
		{"response", obj{{"numFound", c.Records}, {"start", start}, {"numFoundExact", true}, {"docs", docs}}},
	})
}

// human renders a size as the cores API does: "1.2 GB".
func human(n int64) string {
	units := []string{"bytes", "KB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	return strconv.FormatFloat(f, 'f', 2, 64) + " " + units[i]
}
