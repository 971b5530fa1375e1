// Package couchdb is the probe for CouchDB and servers of its API
// (express-pouchdb, PouchDB Server): it lists databases, their sizes and a
// few documents of each, read-only.
package couchdb

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the CouchDB plugin. It sends GET requests only: /, /_session,
// /_all_dbs, /{db} and /{db}/_all_docs?limit=N&include_docs=true. It never
// sends a PUT: with an admin configured, express-pouchdb 4.2 crashes on an
// anonymous one.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "couchdb".
func (*Prober) Name() string { return "couchdb" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"couchdb", "http"} }

// DefaultPorts returns CouchDB's port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{5984} }

const (
	defaultTimeout = 30 * time.Second
	maxSmall       = 64 << 10
	maxAllDbs      = 4 << 20
	maxDocs        = 1 << 20
	// maxDatabases is the most databases whose information is read.
	maxDatabases = 500
	// maxSampled is the most databases sampled.
	maxSampled  = 32
	evidenceMax = 512
	allDbs      = "/_all_dbs"
)

// Welcome is the answer of GET /: CouchDB says {"couchdb":"Welcome"},
// express-pouchdb {"express-pouchdb":"Welcome!"} (as text/plain).
// https://docs.couchdb.org/en/stable/api/server/common.html#get--
type Welcome struct {
	CouchDB string `json:"couchdb"`
	Pouch   string `json:"express-pouchdb"`
	Version string `json:"version"`
	Vendor  struct {
		Name string `json:"name"`
	} `json:"vendor"`
}

// Product names the server.
func (w *Welcome) Product() string {
	if w.Pouch != "" {
		return "express-pouchdb"
	}
	return "CouchDB"
}

// ParseWelcome parses the answer of GET /. It fails unless it is CouchDB's
// or express-pouchdb's welcome.
func ParseWelcome(b []byte) (*Welcome, error) {
	var w Welcome
	if err := httpc.DecodeLimited(b, &w); err != nil {
		return nil, fmt.Errorf("GET /: %w: %v", ErrMalformed, err)
	}
	if w.CouchDB == "" && w.Pouch == "" {
		return nil, fmt.Errorf("GET /: not a CouchDB welcome: %w", ErrMalformed)
	}
	w.Version = httpc.Trim(w.Version, 64)
	return &w, nil
}

// Probe reads what the server gives away without credentials.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	c := httpc.New(t)
	defer c.Close()
	open := &probe.Result{Status: ajar.StatusOpen}
	get := func(target string, max int64) (*httpc.Response, error) {
		c.MaxBody = max
		return c.Get(ctx, target, nil)
	}

	resp, err := get("/", maxSmall)
	if err != nil {
		return open, fmt.Errorf("read GET /: %w", err)
	}
	couchHeader := strings.HasPrefix(resp.Header.Get("Server"), "CouchDB/")
	switch resp.Status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		// require_valid_user: even the welcome needs credentials.
		if reason, ok := ParseError(resp.Body); ok && (couchHeader || t.Service.Protocol == "couchdb") {
			return &probe.Result{Status: ajar.StatusProtected, Product: "CouchDB", Detail: reason}, nil
		}
		open.Detail = "not CouchDB: GET / answered HTTP " + strconv.Itoa(resp.Status)
		return open, nil
	default:
		open.Detail = "not CouchDB: GET / answered HTTP " + strconv.Itoa(resp.Status)
		return open, nil
	}
	wel, err := ParseWelcome(resp.Body)
	if err != nil {
		open.Detail = "not CouchDB: GET / is not a CouchDB welcome"
		return open, nil
	}
	res := &probe.Result{Status: ajar.StatusOpen, Product: wel.Product(), Version: wel.Version}

	// Admin party: the anonymous session has the _admin role.
	access := ajar.AccessRead
	if resp, err := get("/_session", maxSmall); err != nil {
		return res, fmt.Errorf("read /_session: %w", err)
	} else if resp.Status == http.StatusOK {
		if roles, err := ParseSessionRoles(resp.Body); err == nil && slices.Contains(roles, "_admin") {
			access = ajar.AccessAdmin
		}
	}

	resp, err = get(allDbs, maxAllDbs)
	if err != nil {
		return res, fmt.Errorf("list databases: %w", err)
	}
	switch resp.Status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		reason, _ := ParseError(resp.Body)
		res.Status, res.Detail = ajar.StatusProtected, "listing databases refused: "+reason
		return res, nil
	default:
		return res, fmt.Errorf("list databases: %w", httpc.Unexpected(http.MethodGet, allDbs, resp))
	}
	names, err := ParseAllDbs(resp.Body)
	if err != nil {
		return res, fmt.Errorf("list databases: %w", err)
	}
	limit := t.Options.MaxDatasets
	if limit <= 0 {
		limit = probe.DefaultOptions().MaxDatasets
	}
	limit = min(limit, maxDatabases)
	if len(names) > limit {
		// Data databases first: system ones (_users, _replicator) are few.
		slices.SortStableFunc(names, func(a, b string) int {
			return boolCmp(system(a), system(b))
		})
		names = names[:limit]
		slices.Sort(names)
	}

	exp := &ajar.Exposure{
		Plugin:   "couchdb",
		Access:   access,
		Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{Request: httpc.RequestLine(http.MethodGet, allDbs), Response: httpc.Excerpt(resp.Body, evidenceMax)},
	}
	var refused []string
	for _, name := range names {
		target := "/" + url.PathEscape(name)
		resp, err := get(target, maxSmall)
		if err != nil {
			return partial(res, exp), fmt.Errorf("read database %s: %w", name, err)
		}
		if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
			refused = append(refused, name)
			continue
		}
		if resp.Status != http.StatusOK {
			continue // deleted since the listing
		}
		info, err := ParseDBInfo(resp.Body)
		if err != nil {
			return partial(res, exp), fmt.Errorf("read database %s: %w", name, err)
		}
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: name, Records: info.Docs, Bytes: info.Bytes, System: system(name)})
	}
	exp.Total()
	data := 0
	for _, d := range exp.Datasets {
		if !d.System {
			data++
		}
	}
	if data == 0 && len(refused) > 0 {
		// Only CouchDB's own databases answer: the data needs credentials.
		res.Status = ajar.StatusProtected
		res.Detail = fmt.Sprintf("%d databases listed, none of the data readable without credentials", len(refused))
		return res, nil
	}
	res.Status, res.Exposure = ajar.StatusExposed, exp
	if len(refused) > 0 {
		res.Detail = fmt.Sprintf("%d of %d databases need credentials", len(refused), len(refused)+len(exp.Datasets))
	}

	if n := t.Options.Samples; n > 0 {
		sampled := 0
		for i := range exp.Datasets {
			d := &exp.Datasets[i]
			if d.System || d.Records == 0 || sampled >= maxSampled {
				continue
			}
			sampled++
			// Design documents are skipped, so ask for a few more.
			target := "/" + url.PathEscape(d.Name) + "/_all_docs?limit=" + strconv.Itoa(n+2) + "&include_docs=true"
			resp, err := get(target, maxDocs)
			if err != nil {
				return res, fmt.Errorf("sample %s: %w", d.Name, err)
			}
			if resp.Status != http.StatusOK {
				continue
			}
			docs, fields, err := ParseAllDocs(resp.Body, n)
			d.Fields = fields
			for _, doc := range docs {
				exp.Samples = append(exp.Samples, ajar.Sample{Dataset: d.Name, Doc: doc})
			}
			if err != nil {
				return res, fmt.Errorf("sample %s: %w", d.Name, err)
			}
		}
	}
	return res, nil
}

// partial marks res exposed with what was read so far.
func partial(res *probe.Result, exp *ajar.Exposure) *probe.Result {
	exp.Total()
	res.Status, res.Exposure = ajar.StatusExposed, exp
	return res
}

// system reports whether a database is CouchDB's own: its name starts with
// an underscore (_users, _replicator, _global_changes).
func system(name string) bool { return strings.HasPrefix(name, "_") }

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
