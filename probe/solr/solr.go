// Package solr is the probe for Apache Solr: it lists cores with their
// document counts and sizes, their fields and a few documents, read-only.
package solr

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the Solr plugin. It sends GET requests only: system
// information, core status (action=STATUS), schema fields and select.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "solr".
func (*Prober) Name() string { return "solr" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"solr", "http"} }

// DefaultPorts returns Solr's port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{8983} }

const (
	defaultTimeout = 30 * time.Second
	maxSystem      = 256 << 10
	maxCores       = 8 << 20
	maxFieldsBody  = 2 << 20
	maxSelect      = 1 << 20
	maxSampled     = 32
	evidenceMax    = 512
	systemInfo     = "/solr/admin/info/system?wt=json"
	coreStatus     = "/solr/admin/cores?action=STATUS&wt=json"
)

// Probe reads what the node gives away without credentials.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	c := httpc.New(t)
	defer c.Close()
	get := func(target string, max int64) (*httpc.Response, error) {
		c.MaxBody = max
		return c.Get(ctx, target, nil)
	}
	open := &probe.Result{Status: ajar.StatusOpen}

	resp, err := get(systemInfo, maxSystem)
	if err != nil {
		return open, fmt.Errorf("read system information: %w", err)
	}
	switch resp.Status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		if detail, ok := Refused(resp.Header, resp.Body); ok || t.Service.Protocol == "solr" {
			if detail == "" {
				detail = "HTTP " + strconv.Itoa(resp.Status)
			}
			return &probe.Result{Status: ajar.StatusProtected, Product: "Solr", Detail: detail}, nil
		}
		open.Detail = "not Solr: system information answered HTTP " + strconv.Itoa(resp.Status)
		return open, nil
	default:
		open.Detail = "not Solr: system information answered HTTP " + strconv.Itoa(resp.Status)
		return open, nil
	}
	sys, err := ParseSystem(resp.Body)
	if err != nil {
		open.Detail = "not Solr: no Solr system information"
		return open, nil
	}
	res := &probe.Result{Status: ajar.StatusOpen, Product: "Solr", Version: sys.Version}

	resp, err = get(coreStatus, maxCores)
	if err != nil {
		return res, fmt.Errorf("list cores: %w", err)
	}
	switch resp.Status {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		detail, _ := Refused(resp.Header, resp.Body)
		res.Status, res.Detail = ajar.StatusProtected, "listing cores refused: "+detail
		return res, nil
	default:
		return res, fmt.Errorf("list cores: %w", httpc.Unexpected(http.MethodGet, coreStatus, resp))
	}
	cores, err := ParseCores(resp.Body)
	if err != nil {
		return res, fmt.Errorf("list cores: %w", err)
	}
	limit := t.Options.MaxDatasets
	if limit <= 0 {
		limit = probe.DefaultOptions().MaxDatasets
	}
	if len(cores) > limit {
		cores = cores[:limit]
	}
	access := ajar.AccessRead
	if !sys.Authentication {
		// No authentication plugin at all: anyone may also update and
		// administer cores.
		access = ajar.AccessAdmin
	}
	exp := &ajar.Exposure{
		Plugin:   "solr",
		Access:   access,
		Datasets: make([]ajar.Dataset, 0, len(cores)),
		Evidence: &ajar.Evidence{Request: httpc.RequestLine(http.MethodGet, coreStatus), Response: httpc.Excerpt(resp.Body, evidenceMax)},
	}
	for _, co := range cores {
		exp.Datasets = append(exp.Datasets, ajar.Dataset{Name: co.Name, Records: co.Docs, Bytes: co.Bytes})
	}
	exp.Total()
	res.Status, res.Exposure = ajar.StatusExposed, exp

	n := t.Options.Samples
	for i := range exp.Datasets {
		if i >= maxSampled {
			break
		}
		d := &exp.Datasets[i]
		base := "/solr/" + url.PathEscape(d.Name)
		resp, err := get(base+"/schema/fields?wt=json", maxFieldsBody)
		if err != nil {
			return res, fmt.Errorf("read fields of %s: %w", d.Name, err)
		}
		if resp.Status == http.StatusOK {
			if d.Fields, err = ParseFields(resp.Body); err != nil {
				return res, fmt.Errorf("read fields of %s: %w", d.Name, err)
			}
		}
		if n <= 0 || d.Records == 0 {
			continue
		}
		resp, err = get(base+"/select?q=*:*&rows="+strconv.Itoa(n)+"&wt=json", maxSelect)
		if err != nil {
			return res, fmt.Errorf("sample %s: %w", d.Name, err)
		}
		if resp.Status != http.StatusOK {
			continue
		}
		docs, err := ParseSelect(resp.Body, n)
		for _, doc := range docs {
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: d.Name, Doc: doc})
		}
		if err != nil {
			return res, fmt.Errorf("sample %s: %w", d.Name, err)
		}
	}
	return res, nil
}

// Refused reads a 401 or 403 answer: ok when it is Solr's (its realm, or
// the BasicAuthPlugin's message in the servlet container's error page).
func Refused(h http.Header, body []byte) (detail string, ok bool) {
	for _, c := range h.Values("Www-Authenticate") {
		if strings.Contains(c, `realm="solr"`) {
			ok = true
		}
	}
	b := string(body)
	for _, m := range []string{"require authentication", "Bad credentials", "Unauthorized request"} {
		if strings.Contains(b, m) {
			return m, true
		}
	}
	if ok {
		return "authentication required", true
	}
	return "", false
}

// internal reports whether a field is Solr's own (_version_,
// _root_, _nest_path_, _text_).
func internal(name string) bool {
	return len(name) > 1 && strings.HasPrefix(name, "_") && strings.HasSuffix(name, "_")
}
