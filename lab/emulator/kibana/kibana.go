// Package kibana emulates Kibana 7.17 and 8.x for the lab: the status API,
// the login redirect of a secured instance and the console proxy, which
// forwards to an emulated cluster in the same process.
package kibana

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"

	"github.com/ajar-scan/ajar/lab/emulator"
)

// Variants of an emulated Kibana.
const (
	// Open: no security; anyone uses every application and the console.
	Open = "open"
	// Secured: security on; the UI redirects to /login, the API answers 401.
	Secured = "secured"
)

// Name is the server.name the emulator reports in kbn-name.
const Name = "kibana"

// builds are the build numbers and hashes of the emulated releases.
var builds = map[int]struct {
	number int
	hash   string
}{
	7: {46534, "4f4b6aac5bde4b3d8e0c1c7b2f95e0a6e2f5d3c1"},
	8: {68136, "9d0a4b6c1e2f3a5b7c8d9e0f1a2b3c4d5e6f7a8b"},
}

// Server is one emulated Kibana. It is an http.Handler.
type Server struct {
	version, variant string
	major            int
	es               http.Handler
	guard            emulator.Guard
}

// New returns a Kibana at version in variant, in front of the cluster es
// (an http.Handler, reached in process, never over the network).
func New(version, variant string, es http.Handler, log *slog.Logger) (*Server, error) {
	major, err := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	if err != nil || builds[major].number == 0 {
		return nil, fmt.Errorf("kibana version %q is not emulated (7.x, 8.x)", version)
	}
	if variant != Open && variant != Secured {
		return nil, fmt.Errorf("variant %q: want open or secured", variant)
	}
	s := &Server{version: version, variant: variant, major: major, es: es}
	s.guard.Log = log
	return s, nil
}

// Writes returns how many writing requests Kibana refused, console proxy
// requests with a method other than GET and HEAD included.
func (s *Server) Writes() int64 { return s.guard.Writes() }

// Refused lists the first refused writing requests.
func (s *Server) Refused() []string { return s.guard.Refused() }

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("kbn-name", Name)
	h.Set("kbn-license-sig", "da420c53321c02c93e8ab5b3ba4d4bd6e1b9e4a4f3b3c5e3a0f5d3e2b1c0a9f8")
	h.Set("x-content-type-options", "nosniff")
	h.Set("referrer-policy", "no-referrer-when-downgrade")
	h.Set("cache-control", "private, no-cache, no-store, must-revalidate")
	h.Set("content-security-policy", "script-src 'unsafe-eval' 'self'; worker-src blob: 'self'; style-src 'unsafe-inline' 'self'")

	proxy := r.URL.Path == "/api/console/proxy"
	if proxy && r.Method == http.MethodPost {
		s.consoleProxy(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.guard.Refuse(r)
		if s.variant == Secured {
			s.boom(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		}
		s.boom(w, http.StatusForbidden, "Forbidden", "this Kibana is read-only")
		return
	}
	switch {
	case r.URL.Path == "/api/status":
		if s.variant == Secured {
			s.boom(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		}
		s.status(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		if s.variant == Secured {
			s.boom(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		}
		s.boom(w, http.StatusNotFound, "Not Found", "Not Found")
	case r.URL.Path == "/login":
		if s.variant == Open {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		page(w, "Elastic")
	case r.URL.Path == "/":
		if s.variant == Secured {
			http.Redirect(w, r, "/login?next=%2F", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/spaces/enter", http.StatusFound)
	default:
		if s.variant == Secured {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		page(w, "Elastic")
	}
}

// boom writes an error in the shape of Kibana's HTTP layer (hapi's Boom).
func (s *Server) boom(w http.ResponseWriter, status int, title, message string) {
	emulator.WriteJSON(w, status, "application/json; charset=utf-8",
		emulator.Object{{"statusCode", status}, {"error", title}, {"message", message}})
}

// page writes the shell of the single-page application.
func page(w http.ResponseWriter, title string) {
	body := "<!DOCTYPE html><html lang=\"en\"><head><meta charSet=\"utf-8\"/><title>" + title +
		"</title></head><body><div class=\"kbnWelcomeView\" id=\"kbn_loading_message\"></div></body></html>"
	emulator.WriteBody(w, http.StatusOK, "text/html; charset=utf-8", []byte(body))
}

const since = "2023-02-08T03:12:40.119Z"

// status is GET /api/status: the legacy format by default in 7.x
// (status.overall.state), the v8 format by default in 8.x
// (status.overall.level); v7format and v8format choose.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v8 := s.major >= 8
	if q.Get("v8format") == "true" {
		v8 = true
	}
	if q.Get("v7format") == "true" {
		v8 = false
	}
	var st emulator.Object
	if v8 {
		avail := func(summary string) emulator.Object {
			return emulator.Object{{"level", "available"}, {"summary", summary}}
		}
		st = emulator.Object{
			{"overall", avail("All services are available")},
			{"core", emulator.Object{
				{"elasticsearch", avail("Elasticsearch is available")},
				{"savedObjects", avail("SavedObjects service has completed migrations and is available")},
			}},
			{"plugins", emulator.Object{{"console", avail("All dependencies are available")}}},
		}
	} else {
		component := func(id, msg string) emulator.Object {
			return emulator.Object{{"id", id + "@" + s.version}, {"message", msg}, {"since", since},
				{"state", "green"}, {"icon", "success"}, {"uiColor", "secondary"}}
		}
		st = emulator.Object{
			{"overall", emulator.Object{{"since", since}, {"state", "green"}, {"title", "Green"},
				{"nickname", "Looking good"}, {"icon", "success"}, {"uiColor", "secondary"}}},
			{"statuses", []any{
				component("core:elasticsearch", "Elasticsearch is available"),
				component("core:savedObjects", "SavedObjects service has completed migrations and is available"),
				component("plugin:console", "All dependencies are available"),
			}},
		}
	}
	b := builds[s.major]
	emulator.WriteJSON(w, http.StatusOK, "application/json; charset=utf-8", emulator.Object{
		{"name", Name},
		{"uuid", "5b2de169-2785-441b-ae8c-186a1936b17d"},
		{"version", emulator.Object{{"number", s.version}, {"build_hash", b.hash}, {"build_number", b.number}, {"build_snapshot", false}}},
		{"status", st},
		{"metrics", emulator.Object{
			{"last_updated", since}, {"collection_interval_in_millis", 5000},
			{"concurrent_connections", 1}, {"requests", emulator.Object{{"disconnects", 0}, {"total", 12}, {"status_codes", emulator.Object{{"200", 12}}}}},
		}},
	})
}

// consoleProxy is POST /api/console/proxy?path=…&method=…: Dev Tools'
// passage to the cluster. Only GET and HEAD are forwarded; any other method
// is refused and counted as a write.
func (s *Server) consoleProxy(w http.ResponseWriter, r *http.Request) {
	if s.variant == Secured {
		s.boom(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	h := r.Header
	if h.Get("kbn-xsrf") == "" && h.Get("kbn-version") == "" && h.Get("osd-xsrf") == "" {
		s.boom(w, http.StatusBadRequest, "Bad Request", "Request must contain a kbn-xsrf header.")
		return
	}
	q := r.URL.Query()
	method, path := strings.ToUpper(q.Get("method")), q.Get("path")
	switch {
	case path == "":
		s.boom(w, http.StatusBadRequest, "Bad Request", "[request query.path]: Expected non-empty string")
		return
	case method != http.MethodGet && method != http.MethodHead:
		s.guard.Refuse(r)
		s.boom(w, http.StatusForbidden, "Forbidden", "Error connecting to '"+path+"':\n\nUnable to send requests to that path.")
		return
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		s.boom(w, http.StatusBadRequest, "Bad Request", err.Error())
		return
	}
	req := httptest.NewRequest(method, u.String(), nil).WithContext(r.Context())
	rec := httptest.NewRecorder()
	s.es.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("warning", rec.Header().Get("warning"))
	status := rec.Code
	if s.major >= 8 {
		// From 8.5 the proxy answers 200 and carries the cluster's status in
		// headers, so that a 401 or 403 does not log the user out.
		w.Header().Set("x-console-proxy-status-code", strconv.Itoa(rec.Code))
		w.Header().Set("x-console-proxy-status-text", http.StatusText(rec.Code))
		status = http.StatusOK
	}
	w.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(rec.Body.Bytes())
}
