// Package couchdb emulates the HTTP API of Apache CouchDB 2.x and 3.x for
// the lab, from its documented answers, in three states of security.
package couchdb

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ajar-scan/ajar/lab/emulator"
)

// Variants of an emulated server.
const (
	// AdminParty: no server admin, so every client is one (2.x and earlier
	// by default; a 3.x server whose admins were deleted while it runs).
	AdminParty = "adminparty"
	// Open: an admin is set, but _all_dbs is not admin-only
	// ([chttpd] admin_only_all_dbs = false) and the data databases have
	// empty security objects: anyone reads them.
	Open = "open"
	// Secured: an admin is set and databases admit members only (the 3.x
	// defaults): anonymous clients get 401.
	Secured = "secured"
)

// Server is one emulated CouchDB. It is an http.Handler.
type Server struct {
	version, variant string
	dbs              []emulator.Dataset
	guard            emulator.Guard
}

// New returns a CouchDB at version (2.x or 3.x) in variant.
func New(version, variant string, log *slog.Logger) (*Server, error) {
	if !strings.HasPrefix(version, "2.") && !strings.HasPrefix(version, "3.") {
		return nil, fmt.Errorf("couchdb version %q is not emulated (2.x, 3.x)", version)
	}
	switch variant {
	case AdminParty, Open, Secured:
	default:
		return nil, fmt.Errorf("variant %q: want adminparty, open or secured", variant)
	}
	s := &Server{version: version, variant: variant, dbs: emulator.CouchDatasets()}
	slices.SortFunc(s.dbs, func(a, b emulator.Dataset) int { return strings.Compare(a.Name, b.Name) })
	s.guard.Log = log
	return s, nil
}

// Writes returns how many writing requests the server refused.
func (s *Server) Writes() int64 { return s.guard.Writes() }

// Refused lists the first refused writing requests.
func (s *Server) Refused() []string { return s.guard.Refused() }

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Server", "CouchDB/"+s.version+" (Erlang OTP/24)")
	h.Set("Cache-Control", "must-revalidate")
	h.Set("X-Couch-Request-ID", requestID(r))
	h.Set("X-CouchDB-Body-Time", "0")

	parts := splitPath(r.URL.EscapedPath())
	if isWrite(r, parts) {
		s.guard.Refuse(r)
		if s.variant == AdminParty {
			s.error(w, http.StatusForbidden, "forbidden", "This server is read-only.")
			return
		}
		s.error(w, http.StatusUnauthorized, "unauthorized", "You are not a server admin.")
		return
	}
	admin := s.variant == AdminParty
	switch {
	case len(parts) == 0:
		s.json(w, http.StatusOK, emulator.Object{
			{"couchdb", "Welcome"}, {"version", s.version}, {"git_sha", "40afbcfc7"},
			{"uuid", "9a3c57f2f0cd4bd1a0e0b7c6f1d2e3a4"},
			{"features", []string{"access-ready", "partitioned", "pluggable-storage-engines", "reshard", "scheduler"}},
			{"vendor", emulator.Object{{"name", "The Apache Software Foundation"}}},
		})
	case parts[0] == "_up":
		s.json(w, http.StatusOK, emulator.Object{{"status", "ok"}, {"seeds", emulator.Object{}}})
	case parts[0] == "_session":
		roles := []string{}
		if admin {
			roles = []string{"_admin"}
		}
		s.json(w, http.StatusOK, emulator.Object{
			{"ok", true},
			{"userCtx", emulator.Object{{"name", nil}, {"roles", roles}}},
			{"info", emulator.Object{{"authentication_handlers", []string{"cookie", "default"}}}},
		})
	case parts[0] == "_all_dbs":
		if s.variant == Secured {
			s.error(w, http.StatusUnauthorized, "unauthorized", "You are not a server admin.")
			return
		}
		names := make([]string, 0, len(s.dbs))
		for _, d := range s.dbs {
			names = append(names, d.Name)
		}
		s.json(w, http.StatusOK, names)
	case parts[0] == "_membership":
		if !admin {
			s.error(w, http.StatusUnauthorized, "unauthorized", "You are not a server admin.")
			return
		}
		nodes := []string{"couchdb@127.0.0.1"}
		s.json(w, http.StatusOK, emulator.Object{{"all_nodes", nodes}, {"cluster_nodes", nodes}})
	case strings.HasPrefix(parts[0], "_") && !s.exists(parts[0]):
		s.error(w, http.StatusBadRequest, "illegal_database_name",
			"Name: '"+parts[0]+"'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter.")
	default:
		s.database(w, r, parts, admin)
	}
}

func (s *Server) exists(name string) bool {
	_, ok := s.lookup(name)
	return ok
}

func (s *Server) lookup(name string) (emulator.Dataset, bool) {
	for _, d := range s.dbs {
		if d.Name == name {
			return d, true
		}
	}
	return emulator.Dataset{}, false
}

// database answers /{db}, /{db}/_all_docs and /{db}/{docid}.
func (s *Server) database(w http.ResponseWriter, r *http.Request, parts []string, admin bool) {
	d, ok := s.lookup(parts[0])
	if !ok {
		s.error(w, http.StatusNotFound, "not_found", "Database does not exist.")
		return
	}
	// System databases admit admins only; data databases admit anyone in
	// the admin-party and open variants.
	if !admin && (d.System || s.variant == Secured) {
		s.error(w, http.StatusUnauthorized, "unauthorized", "You are not authorized to access this db.")
		return
	}
	switch {
	case len(parts) == 1:
		s.json(w, http.StatusOK, emulator.Object{
			{"instance_start_time", "1698764220"}, {"db_name", d.Name},
			{"purge_seq", "0-g1AAAABPeJzLYWBgYMpgTmHgz8tPSTV0MDQy0TM0MjE1MLBQMjMzMzAwNjNRMjE1NTMyNTU1NTMyNTQBAE7VDt8"},
			{"update_seq", strconv.FormatInt(d.Records, 10) + "-g1AAAABPeJzLYWBgYMpgTmHgz8tPSTV0MDQy0TM0MjE1MLBQ"},
			{"sizes", emulator.Object{{"file", d.Bytes + d.Bytes/4}, {"external", d.Bytes - d.Bytes/8}, {"active", d.Bytes}}},
			{"props", emulator.Object{}}, {"doc_del_count", 0}, {"doc_count", d.Records},
			{"disk_format_version", 8}, {"compact_running", false},
			{"cluster", emulator.Object{{"q", 2}, {"n", 1}, {"w", 1}, {"r", 1}}},
		})
	case len(parts) == 2 && parts[1] == "_all_docs":
		s.allDocs(w, r, d)
	case len(parts) == 2 && parts[1] == "_security":
		s.json(w, http.StatusOK, emulator.Object{})
	case len(parts) == 2 && !strings.HasPrefix(parts[1], "_"):
		for i := 1; i <= d.Stored; i++ {
			if d.ID(i) == parts[1] {
				s.json(w, http.StatusOK, doc(d, i))
				return
			}
		}
		s.error(w, http.StatusNotFound, "not_found", "missing")
	default:
		s.error(w, http.StatusBadRequest, "bad_request", "unsupported request")
	}
}

// doc is stored document i with its _id and _rev.
func doc(d emulator.Dataset, i int) emulator.Doc {
	id := d.ID(i)
	return append(emulator.Doc{{Name: "_id", Value: id}, {Name: "_rev", Value: rev(id)}}, d.Doc(i)...)
}

func rev(id string) string {
	h := sha256.Sum256([]byte(id))
	return "1-" + hex.EncodeToString(h[:16])
}

// allDocs is GET /{db}/_all_docs with limit, skip and include_docs.
func (s *Server) allDocs(w http.ResponseWriter, r *http.Request, d emulator.Dataset) {
	q := r.URL.Query()
	limit, skip := d.Stored, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.error(w, http.StatusBadRequest, "query_parse_error", "Invalid value for integer: \""+v+"\"")
			return
		}
		limit = n
	}
	if v := q.Get("skip"); v != "" {
		skip, _ = strconv.Atoi(v)
	}
	include := q.Get("include_docs") == "true"
	rows := []any{}
	for i := skip + 1; i <= d.Stored && len(rows) < limit; i++ {
		id := d.ID(i)
		row := emulator.Object{{"id", id}, {"key", id}, {"value", emulator.Object{{"rev", rev(id)}}}}
		if include {
			row = append(row, [2]any{"doc", doc(d, i)})
		}
		rows = append(rows, row)
	}
	s.json(w, http.StatusOK, emulator.Object{{"total_rows", d.Records}, {"offset", skip}, {"rows", rows}})
}

// isWrite reports whether a request would change the server: any method
// but GET and HEAD, except POST to the read endpoints (_all_docs with keys,
// _find, _bulk_get, _explain).
func isWrite(r *http.Request, parts []string) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return false
	case http.MethodPost:
		if n := len(parts); n >= 2 {
			switch parts[n-1] {
			case "_all_docs", "_find", "_bulk_get", "_explain":
				return false
			}
		}
	}
	return true
}

// json writes a body the way CouchDB does: compact, with a final newline.
func (s *Server) json(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	emulator.WriteBody(w, status, "application/json", append(b, '\n'))
}

func (s *Server) error(w http.ResponseWriter, status int, errName, reason string) {
	s.json(w, status, emulator.Object{{"error", errName}, {"reason", reason}})
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

// requestID is a short stable identifier, as CouchDB puts on every answer.
func requestID(r *http.Request) string {
	h := sha256.Sum256([]byte(r.Method + r.URL.String()))
	return hex.EncodeToString(h[:5])
}
