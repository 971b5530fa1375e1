// Package kibana is the probe for Kibana and OpenSearch Dashboards: it reads
// the status API and, when no login is asked, lists through the console
// proxy (GET requests only) what the cluster behind it holds.
package kibana

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
	"github.com/ajar-scan/ajar/probe/elasticsearch"
	"github.com/ajar-scan/ajar/probe/httpc"
)

func init() { probe.Register(&Prober{}) }

// Prober is the Kibana plugin. It sends GET /api/status, and POST
// /api/console/proxy with method=GET, which the console forwards to the
// cluster as a GET.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "kibana".
func (*Prober) Name() string { return "kibana" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"kibana", "http"} }

// DefaultPorts returns Kibana's port.
func (*Prober) DefaultPorts() []uint16 { return []uint16{5601} }

const (
	defaultTimeout = 30 * time.Second
	maxStatus      = 1 << 20
	statusPath     = "/api/status"
	proxyPath      = "/api/console/proxy"
)

// Status is what GET /api/status says: the version, and the overall state
// in the format of 7.x (state: green) or of 8.x (level: available).
// https://www.elastic.co/guide/en/kibana/current/access.html#status
type Status struct {
	Name    string `json:"name"`
	Version struct {
		Number string `json:"number"`
	} `json:"version"`
	Status struct {
		Overall struct {
			State string `json:"state"`
			Level string `json:"level"`
		} `json:"overall"`
	} `json:"status"`
}

// Overall returns the overall state in either format.
func (s *Status) Overall() string {
	if s.Status.Overall.Level != "" {
		return s.Status.Overall.Level
	}
	return s.Status.Overall.State
}

// ParseStatus parses the answer of GET /api/status. It fails unless the
// answer has a version number and an overall state.
func ParseStatus(b []byte) (*Status, error) {
	var s Status
	if err := httpc.DecodeLimited(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", statusPath, elasticsearch.ErrMalformed, err)
	}
	if s.Version.Number == "" || s.Overall() == "" {
		return nil, fmt.Errorf("%s: no version or overall status: %w", statusPath, elasticsearch.ErrMalformed)
	}
	s.Version.Number = httpc.Trim(s.Version.Number, 64)
	s.Status.Overall.State = httpc.Trim(s.Status.Overall.State, 32)
	s.Status.Overall.Level = httpc.Trim(s.Status.Overall.Level, 32)
	return &s, nil
}

// product tells Kibana from OpenSearch Dashboards by the name header each
// puts on every answer (kbn-name, osd-name); "" when neither is there.
func product(h http.Header) string {
	switch {
	case h.Get("osd-name") != "":
		return "OpenSearch Dashboards"
	case h.Get("kbn-name") != "":
		return "Kibana"
	}
	return ""
}

// Probe reads what the front end gives away without a login. A login
// redirect or a 401 is protected; an HTTP server that is not Kibana is open,
// without an error.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	c := httpc.New(t)
	defer c.Close()
	c.MaxBody = maxStatus
	open := &probe.Result{Status: ajar.StatusOpen}

	resp, err := c.Get(ctx, statusPath, nil)
	if err != nil {
		return open, fmt.Errorf("read %s: %w", statusPath, err)
	}
	prod := product(resp.Header)
	claimed := t.Service.Protocol == "kibana"
	switch {
	case resp.Status == http.StatusOK:
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden ||
		resp.Status >= 300 && resp.Status < 400 && strings.Contains(resp.Location(), "login"):
		if prod == "" && !claimed {
			open.Detail = "not Kibana: " + statusPath + " answered HTTP " + strconv.Itoa(resp.Status) + " without kbn-name"
			return open, nil
		}
		if prod == "" {
			prod = "Kibana"
		}
		return &probe.Result{Status: ajar.StatusProtected, Product: prod, Version: headerVersion(resp.Header),
			Detail: "login required: " + statusPath + " answered HTTP " + strconv.Itoa(resp.Status)}, nil
	default:
		open.Detail = "not Kibana: " + statusPath + " answered HTTP " + strconv.Itoa(resp.Status)
		return open, nil
	}
	st, err := ParseStatus(resp.Body)
	if err != nil {
		open.Detail = "not Kibana: " + statusPath + " is not Kibana's status"
		return open, nil
	}
	if prod == "" {
		prod = "Kibana"
	}
	res := &probe.Result{Status: ajar.StatusOpen, Product: prod, Version: st.Version.Number}
	px := &consoleProxy{c: c, osd: prod == "OpenSearch Dashboards"}

	// Which cluster the console reaches, when it tells.
	rr, err := px.Get(ctx, "/", 64<<10)
	if err != nil {
		res.Detail = "status " + st.Overall() + "; console proxy unreachable"
		return res, fmt.Errorf("console proxy GET /: %w", err)
	}
	var fronts, cluster string
	switch rr.Status {
	case http.StatusOK:
		if root, err := elasticsearch.ParseRoot(rr.Body); err == nil {
			cluster = root.Product()
			fronts = "fronts " + cluster + " " + root.Version.Number + " (cluster " + root.ClusterName + ")"
		}
	case http.StatusUnauthorized, http.StatusForbidden:
		if ref, ok := elasticsearch.ParseRefusal(rr.Header, rr.Body); ok {
			res.Status, res.Detail = ajar.StatusProtected, "the cluster behind Kibana refuses: "+ref.Reason
			return res, nil
		}
		res.Detail = "status " + st.Overall() + "; console proxy refused (HTTP " + strconv.Itoa(rr.Status) + ")"
		return res, nil
	default:
		// No console (disabled, or an old release without the proxy).
		res.Detail = "status " + st.Overall() + "; no console proxy (HTTP " + strconv.Itoa(rr.Status) + ")"
		return res, nil
	}

	exp, refused, err := elasticsearch.Survey(ctx, px, "kibana", t.Options)
	res.Detail = fronts
	if refused != "" {
		res.Status, res.Detail = ajar.StatusProtected, "the cluster behind Kibana refuses: "+refused
		return res, nil
	}
	if exp == nil {
		return res, err
	}
	res.Status, res.Exposure = ajar.StatusExposed, exp
	if err != nil {
		return res, err
	}
	if cluster != "" && elasticsearch.Unrestricted(ctx, px, cluster) {
		exp.Access = ajar.AccessAdmin
	}
	return res, nil
}

// headerVersion is the version an old Kibana (5.x, 6.x) puts in kbn-version.
func headerVersion(h http.Header) string {
	if v := h.Get("kbn-version"); v != "" {
		return httpc.Trim(v, 64)
	}
	return httpc.Trim(h.Get("osd-version"), 64)
}

// consoleProxy reaches the cluster through the console: POST
// /api/console/proxy?path=…&method=GET with the anti-CSRF header. The
// console forwards a GET; Kibana from 8.5 answers 200 and gives the
// cluster's status in x-console-proxy-status-code.
type consoleProxy struct {
	c   *httpc.Client
	osd bool
}

// target renders the proxy request for a cluster request.
func (p *consoleProxy) target(esTarget string) string {
	path := strings.TrimPrefix(esTarget, "/")
	if path == "" {
		// The console refuses an empty path.
		path = "/"
	}
	return proxyPath + "?path=" + url.QueryEscape(path) + "&method=GET"
}

func (p *consoleProxy) Evidence(esTarget string) string {
	return httpc.RequestLine(http.MethodPost, p.target(esTarget))
}

func (p *consoleProxy) Get(ctx context.Context, esTarget string, max int64) (*httpc.Response, error) {
	p.c.MaxBody = max
	h := http.Header{"Kbn-Xsrf": {"true"}}
	if p.osd {
		h.Set("Osd-Xsrf", "true")
	}
	resp, err := p.c.Do(ctx, http.MethodPost, p.target(esTarget), []byte{}, h)
	if err != nil {
		return resp, err
	}
	if v := resp.Header.Get("x-console-proxy-status-code"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 100 && n <= 599 {
			resp.Status = n
		}
	}
	return resp, nil
}
