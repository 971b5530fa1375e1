// Package httpleak is the probe for what any web server leaves readable:
// directory listings, .git, .env, status and phpinfo pages, backup files.
package httpleak

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the HTTP leak plugin. It sends at most maxRequests GETs and
// HEADs per target and downloads no file: a backup's size comes from the
// listing, or from a HEAD.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "http-leak".
func (*Prober) Name() string { return "http-leak" }

// Protocols returns "http": the engine runs the plugin on every HTTP
// service, beside the product's own probe.
func (*Prober) Protocols() []string { return []string{"http"} }

// DefaultPorts returns the web ports.
func (*Prober) DefaultPorts() []uint16 { return []uint16{80, 8080} }

// Bounds on what the probe asks and reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// maxRequests is the most requests per target.
	maxRequests = 10
	// maxSubdirs is the most directories of the root listing listed in
	// turn.
	maxSubdirs = 2
	// maxBody bounds each answer: leak pages are small.
	maxBody = 1 << 20
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
)

// The fixed paths asked, in order (the root listing comes first).
const (
	pathGitHead   = "/.git/HEAD"
	pathGitConfig = "/.git/config"
	pathEnv       = "/.env"
	pathStatus    = "/server-status"
	pathPHPInfo   = "/phpinfo.php"
)

// visit is one probe's requests and findings.
type visit struct {
	c        *httpc.Client
	samples  int
	requests int
	// refused counts the answers that were 401 or 403; answered all
	// answers.
	refused, answered int
	datasets          []ajar.Dataset
	docs              []ajar.Sample
	evidence          *ajar.Evidence
	// pending are backup files whose size the listing did not give.
	pending []pendingBackup
}

type pendingBackup struct {
	path string
	i    int // index of its dataset
}

// get sends one request within the budget; nil when the budget is spent or
// the request failed in a way that says nothing (a redirect elsewhere, a
// body too large).
func (s *visit) get(ctx context.Context, method, target string) (*httpc.Response, error) {
	if s.requests >= maxRequests {
		return nil, nil
	}
	s.requests++
	r, err := s.c.Do(ctx, method, target, nil, http.Header{"Accept": {"*/*"}})
	if err != nil {
		if errors.Is(err, httpc.ErrRedirect) || errors.Is(err, httpc.ErrTooLarge) {
			if r != nil {
				s.answered++
			}
			return nil, nil
		}
		return nil, err
	}
	s.answered++
	if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden {
		s.refused++
	}
	if r.Status != http.StatusOK {
		return nil, nil
	}
	return r, nil
}

// found adds a dataset and its samples; the first finding is the
// evidence. Its excerpt is the answer itself only for listings: for the
// other leaks it names what was found without the values (secrets,
// personal data), which only the samples carry, redacted by enrichment.
func (s *visit) found(d ajar.Dataset, req, excerpt string, docs ...map[string]string) int {
	s.datasets = append(s.datasets, d)
	for _, doc := range docs {
		if len(doc) > 0 {
			s.docs = append(s.docs, ajar.Sample{Dataset: d.Name, Doc: doc})
		}
	}
	if s.evidence == nil {
		s.evidence = &ajar.Evidence{Request: req, Response: httpc.Excerpt([]byte(excerpt), evidenceMax)}
	}
	return len(s.datasets) - 1
}

// keysOnly renders keys as "KEY=…" lines: evidence without the values.
func keysOnly(keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > evidenceMax {
			break
		}
		b.WriteString(k + "=…\n")
	}
	return b.String()
}

// Probe asks for the root listing, .git, .env, the status and phpinfo
// pages, up to two directories of the listing, and the size of backup
// files the listing does not give. Any leak is exposed; 401 or 403 on every
// request is protected; otherwise open.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	c := httpc.New(t)
	defer c.Close()
	c.MaxBody = maxBody
	s := &visit{c: c, samples: t.Options.Samples}

	var subdirs []string
	steps := []func(context.Context) error{
		func(ctx context.Context) error {
			var err error
			subdirs, err = s.listing(ctx, "/")
			return err
		},
		s.git, s.env, s.status, s.phpinfo,
	}
	var firstErr error
	for _, step := range steps {
		if err := step(ctx); err != nil {
			if ctx.Err() != nil {
				firstErr = err
				break
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	for _, d := range subdirs {
		if ctx.Err() != nil {
			break
		}
		if _, err := s.listing(ctx, d); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, p := range s.pending {
		if ctx.Err() != nil {
			break
		}
		r, err := s.get(ctx, http.MethodHead, p.path)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if r != nil && r.Header.Get("Content-Length") != "" {
			if n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
				s.datasets[p.i].Bytes, s.datasets[p.i].Estimated = n, false
			}
		}
	}

	res := &probe.Result{Status: ajar.StatusOpen}
	switch {
	case len(s.datasets) > 0:
		exp := &ajar.Exposure{Plugin: "http-leak", Access: ajar.AccessRead, Datasets: s.datasets, Samples: s.docs, Evidence: s.evidence}
		exp.Total()
		res.Status, res.Exposure = ajar.StatusExposed, exp
		return res, firstErr
	case s.answered > 0 && s.refused == s.answered:
		res.Status, res.Detail = ajar.StatusProtected, "HTTP 401 or 403 on every path asked"
	case firstErr == nil:
		res.Detail = "no listing, .git, .env, status page, phpinfo or backup found"
	}
	return res, firstErr
}

// listing asks for a directory and, when the answer is a listing, adds it
// as a dataset (records: files; bytes: their sizes) and each backup file
// in it as a dataset of its own. It returns the directories of a root
// listing to list next.
func (s *visit) listing(ctx context.Context, dir string) ([]string, error) {
	r, err := s.get(ctx, http.MethodGet, dir)
	if r == nil || err != nil || !isListing(r.Body) {
		return nil, err
	}
	entries := parseListing(r.Body, dir)
	d := ajar.Dataset{Name: dir}
	var docs []map[string]string
	var subdirs []string
	var backups []listed
	for _, e := range entries {
		if e.Dir {
			if dir == "/" && len(subdirs) < maxSubdirs && safeName(e.Name) {
				subdirs = append(subdirs, "/"+e.Name+"/")
			}
			continue
		}
		if isBackup(e.Name) {
			backups = append(backups, e)
			continue
		}
		d.Records++
		if e.Size > 0 {
			d.Bytes += e.Size
		}
		if !e.Exact {
			d.Estimated = true
		}
		if len(docs) < s.samples {
			docs = append(docs, fileDoc(dir, e))
		}
	}
	page := string(r.Body[:min(len(r.Body), evidenceMax)])
	s.found(d, "GET "+dir, page, docs...)
	for _, e := range backups {
		b := ajar.Dataset{Name: dir + e.Name, Records: 1, Bytes: max(e.Size, 0), Estimated: !e.Exact}
		i := s.found(b, "GET "+dir, page, fileDoc(dir, e))
		if !e.Exact && safeName(e.Name) {
			s.pending = append(s.pending, pendingBackup{path: dir + escapeName(e.Name), i: i})
		}
	}
	return subdirs, nil
}

// fileDoc is the sample of a listed file: its path and size.
func fileDoc(dir string, e listed) map[string]string {
	doc := map[string]string{"path": clipValue(dir + e.Name)}
	if e.Size >= 0 {
		doc["size"] = strconv.FormatInt(e.Size, 10)
	}
	return doc
}

// safeName reports whether a listed name may be asked for: printable, no
// path tricks.
func safeName(name string) bool {
	return name != "" && len(name) <= 255 && !strings.ContainsAny(name, "\r\n\x00\\?#") && name != "." && name != ".."
}

// escapeName escapes a name for a request path.
func escapeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
	}
	return b.String()
}

// git asks for .git/HEAD and .git/config: a readable repository is one
// dataset, its configuration keys the fields.
func (s *visit) git(ctx context.Context) error {
	rh, err := s.get(ctx, http.MethodGet, pathGitHead)
	if err != nil {
		return err
	}
	head := ""
	if rh != nil {
		head = parseGitHead(rh.Body)
	}
	rc, err := s.get(ctx, http.MethodGet, pathGitConfig)
	if err != nil {
		return err
	}
	var conf []kv
	if rc != nil {
		conf = parseGitConfig(rc.Body)
	}
	if head == "" && conf == nil {
		return nil
	}
	d := ajar.Dataset{Name: "/.git/", Records: 1}
	doc := map[string]string{}
	if head != "" {
		d.Fields = append(d.Fields, "HEAD")
		doc["HEAD"] = clipValue(head)
	}
	for _, p := range conf {
		d.Fields = append(d.Fields, p.Key)
		doc[p.Key] = p.Value
	}
	req, excerpt := "GET "+pathGitHead, head
	if conf != nil {
		req, excerpt = "GET "+pathGitConfig, keysOnly(d.Fields[len(d.Fields)-len(conf):])
	}
	s.found(d, req, excerpt, doc)
	return nil
}

// env asks for /.env: its keys are the fields, records the number of
// variables, and its values one sample, which enrichment redacts.
func (s *visit) env(ctx context.Context) error {
	r, err := s.get(ctx, http.MethodGet, pathEnv)
	if r == nil || err != nil {
		return err
	}
	vars := parseEnv(r.Body)
	if vars == nil {
		return nil
	}
	d := ajar.Dataset{Name: pathEnv, Records: int64(len(vars)), Bytes: int64(len(r.Body))}
	doc := map[string]string{}
	for _, v := range vars {
		if !slices.Contains(d.Fields, v.Key) {
			d.Fields = append(d.Fields, v.Key)
		}
		doc[v.Key] = v.Value
	}
	s.found(d, "GET "+pathEnv, keysOnly(d.Fields), doc)
	return nil
}

// status asks for /server-status: the scoreboard's requests are the
// records (client, virtual host, request).
func (s *visit) status(ctx context.Context) error {
	r, err := s.get(ctx, http.MethodGet, pathStatus)
	if r == nil || err != nil {
		return err
	}
	version, rows, ok := parseServerStatus(r.Body)
	if !ok {
		return nil
	}
	d := ajar.Dataset{Name: pathStatus, Records: int64(len(rows)), Fields: []string{"client", "vhost", "request"}}
	var docs []map[string]string
	for _, row := range rows {
		if len(docs) >= s.samples {
			break
		}
		docs = append(docs, map[string]string{"client": row.Client, "vhost": row.VHost, "request": row.Request})
	}
	if version != "" && len(docs) < s.samples {
		docs = append(docs, map[string]string{"server_version": version})
	}
	s.found(d, "GET "+pathStatus, "server status page of "+version+": "+strconv.Itoa(len(rows))+" requests in the scoreboard", docs...)
	return nil
}

// phpinfo asks for /phpinfo.php: its variables (settings, environment,
// server variables) are the fields, their values one sample.
func (s *visit) phpinfo(ctx context.Context) error {
	r, err := s.get(ctx, http.MethodGet, pathPHPInfo)
	if r == nil || err != nil {
		return err
	}
	version, vars, ok := parsePHPInfo(r.Body)
	if !ok {
		return nil
	}
	d := ajar.Dataset{Name: pathPHPInfo, Records: 1}
	doc := map[string]string{}
	if version != "" {
		doc["PHP Version"] = version
	}
	for _, v := range vars {
		if !slices.Contains(d.Fields, v.Key) {
			d.Fields = append(d.Fields, v.Key)
			doc[v.Key] = v.Value
		}
	}
	s.found(d, "GET "+pathPHPInfo, "phpinfo() of PHP "+version+"\n"+keysOnly(d.Fields), doc)
	return nil
}
