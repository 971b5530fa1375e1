package server

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
)

// item is an output-contract object with the id the API addresses it by.
type item struct {
	ID int64 `json:"id"`
	ajar.Event
}

func items(recs []ajar.Record) []item {
	out := make([]item, len(recs))
	for i, r := range recs {
		out[i] = item{ID: r.ID, Event: r.Last}
	}
	return out
}

// listExposures answers GET /api/v1/exposures?q=&limit=&cursor=&facets=.
func (s *Server) listExposures(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "bad_request", "limit must be a number from 1 to 1000")
			return
		}
		limit = n
	}
	var facets []string
	if v := q.Get("facets"); v != "" {
		facets = strings.Split(v, ",")
	}
	res, err := s.cfg.Store.Search(r.Context(), ajar.SearchRequest{Query: q.Get("q"), Limit: limit, Cursor: q.Get("cursor"), Facets: facets, Now: s.cfg.Now()})
	var qe *query.Error
	if errors.As(err, &qe) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "bad_query", "message": qe.Error(), "column": qe.Col}})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"total": res.Total, "items": items(res.Items), "facets": res.Facets, "next_cursor": res.NextCursor,
	})
}

// record finds the exposure named by the {id} path value.
func (s *Server) record(w http.ResponseWriter, r *http.Request) (*ajar.Record, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "the exposure id must be a positive number")
		return nil, false
	}
	rec, err := s.cfg.Store.RecordByID(r.Context(), id)
	if errors.Is(err, ajar.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no exposure %d", id))
		return nil, false
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return rec, true
}

// Detail is an exposure with its events and disclosure.
type Detail struct {
	Exposure   item              `json:"exposure"`
	Events     []ajar.Event      `json:"events"`
	Disclosure ajar.Disclosure   `json:"disclosure"`
	Audit      []ajar.Disclosure `json:"audit"`
}

// Detail reads everything the API and the UI show of one exposure.
func (s *Server) Detail(r *http.Request, rec *ajar.Record) (*Detail, error) {
	evs, err := s.cfg.Store.Events(r.Context(), rec.Last.Key())
	if err != nil {
		return nil, err
	}
	cur, audit, err := s.cfg.Store.Disclosure(r.Context(), rec.ID)
	if err != nil {
		return nil, err
	}
	if audit == nil {
		audit = []ajar.Disclosure{}
	}
	return &Detail{Exposure: item{ID: rec.ID, Event: rec.Last}, Events: evs, Disclosure: cur, Audit: audit}, nil
}

func (s *Server) getExposure(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	d, err := s.Detail(r, rec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) getDisclosure(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	cur, audit, err := s.cfg.Store.Disclosure(r.Context(), rec.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"disclosure": cur, "audit": audit})
}

// DisclosureStates are the states a disclosure may be set to.
var DisclosureStates = []string{ajar.DisclosureNew, ajar.DisclosureTriaged, ajar.DisclosureNotified,
	ajar.DisclosureAcknowledged, ajar.DisclosureFixed, ajar.DisclosureIgnored}

// ValidateDisclosure checks a requested change.
func ValidateDisclosure(d *ajar.Disclosure) error {
	d.State = strings.ToLower(strings.TrimSpace(d.State))
	if !slices.Contains(DisclosureStates, d.State) {
		return fmt.Errorf("state %q: use one of %s", d.State, strings.Join(DisclosureStates, ", "))
	}
	if d.State == ajar.DisclosureNotified && d.Contact == "" {
		return errors.New("state notified needs the contact that was notified")
	}
	for _, f := range []string{d.Contact, d.Channel, d.Note} {
		if len(f) > 2000 {
			return errors.New("contact, channel and note are limited to 2000 bytes")
		}
	}
	return nil
}

func (s *Server) putDisclosure(w http.ResponseWriter, r *http.Request, k *ajar.APIKey) {
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	var d ajar.Disclosure
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body must be JSON: {\"state\": …, \"contact\": …, \"channel\": …, \"note\": …}: "+err.Error())
		return
	}
	if err := ValidateDisclosure(&d); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	d.By, d.At = k.ID, s.cfg.Now().UTC()
	if err := s.cfg.Store.SetDisclosure(r.Context(), rec.ID, d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.getDisclosure(w, r, k)
}

// events answers GET /api/v1/events?since=ID&limit=N: the event log in order.
func (s *Server) events(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	since, err := strconv.ParseInt(cmpOr(r.URL.Query().Get("since"), "0"), 10, 64)
	if err != nil || since < 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "since must be an event id (0 for the beginning)")
		return
	}
	limit, err := strconv.Atoi(cmpOr(r.URL.Query().Get("limit"), "100"))
	if err != nil || limit < 1 || limit > 1000 {
		writeError(w, http.StatusBadRequest, "bad_request", "limit must be a number from 1 to 1000")
		return
	}
	evs, err := s.cfg.Store.EventsSince(r.Context(), since, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := since
	if len(evs) > 0 {
		next = evs[len(evs)-1].ID
	}
	if evs == nil {
		evs = []ajar.StoredEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": evs, "next_since": next})
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// Stats is the dashboard's data.
type Stats struct {
	Total     int64                        `json:"total"`
	ByStatus  []ajar.FacetCount            `json:"by_status"`
	Open      map[string][]ajar.FacetCount `json:"open"`
	NewPerDay []ajar.FacetCount            `json:"new_per_day"`
}

// Stats counts exposures for the dashboard: by status, what is open by
// provider, country, class and protocol, and new exposures per day over the
// last days.
func (s *Server) Stats(r *http.Request, days int) (*Stats, error) {
	ctx := r.Context()
	now := s.cfg.Now().UTC()
	all, err := s.cfg.Store.Search(ctx, ajar.SearchRequest{Limit: 1, Facets: []string{"status"}, Now: now})
	if err != nil {
		return nil, err
	}
	open, err := s.cfg.Store.Search(ctx, ajar.SearchRequest{Query: "status:exposed", Limit: 1,
		Facets: []string{"provider", "country", "class", "protocol"}, Now: now})
	if err != nil {
		return nil, err
	}
	st := &Stats{Total: all.Total, ByStatus: all.Facets["status"], Open: open.Facets}
	day := now.Truncate(24 * time.Hour)
	for i := days - 1; i >= 0; i-- {
		d := day.AddDate(0, 0, -i)
		q := fmt.Sprintf("first_seen>=%s first_seen<%s", d.Format("2006-01-02"), d.AddDate(0, 0, 1).Format("2006-01-02"))
		res, err := s.cfg.Store.Search(ctx, ajar.SearchRequest{Query: q, Limit: 1, Now: now})
		if err != nil {
			return nil, err
		}
		st.NewPerDay = append(st.NewPerDay, ajar.FacetCount{Value: d.Format("2006-01-02"), Count: res.Total})
	}
	return st, nil
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	st, err := s.Stats(r, 30)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	rules, err := s.cfg.Store.Rules(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if rules == nil {
		rules = []ajar.AlertRule{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": rules})
}

// ValidateRule checks an alert rule: at least one match and one destination,
// well-formed CIDRs, and a webhook that does not point inside the network
// unless the operator allowed it.
func ValidateRule(rule *ajar.AlertRule, allowPrivate bool) error {
	if len(rule.CIDRs)+len(rule.Names)+len(rule.ASNs) == 0 {
		return errors.New("a rule needs --cidr, --name or --asn")
	}
	if rule.Webhook == "" && rule.Email == "" {
		return errors.New("a rule needs --webhook or --email")
	}
	for _, c := range rule.CIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			if _, err2 := netip.ParseAddr(c); err2 != nil {
				return fmt.Errorf("cidr %q: %v", c, err)
			}
		}
	}
	if rule.Email != "" && (!strings.Contains(rule.Email, "@") || strings.ContainsAny(rule.Email, " \r\n<>")) {
		return fmt.Errorf("email %q is not an address", rule.Email)
	}
	if rule.Webhook != "" {
		u, err := url.Parse(rule.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("webhook %q: must be an http or https URL", rule.Webhook)
		}
		host := splitHostPort(u.Host)
		if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && isPrivate(a) && !allowPrivate {
			return fmt.Errorf("webhook %q points at an internal address; refused (the operator may allow it)", rule.Webhook)
		}
		if (host == "localhost" || strings.HasSuffix(host, ".localhost")) && !allowPrivate {
			return fmt.Errorf("webhook %q points at this machine; refused", rule.Webhook)
		}
	}
	return nil
}

func (s *Server) addAlert(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	var rule ajar.AlertRule
	var body struct {
		ajar.AlertRule
		Secret string `json:"secret"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body must be JSON: "+err.Error())
		return
	}
	rule = body.AlertRule
	rule.Secret, rule.ID, rule.Created = body.Secret, 0, s.cfg.Now().UTC()
	if err := ValidateRule(&rule, s.cfg.AllowPrivateWebhooks); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if err := s.cfg.Store.AddRule(r.Context(), &rule); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, rule)
}

func (s *Server) deleteAlert(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the rule id must be a number")
		return
	}
	err = s.cfg.Store.DeleteRule(r.Context(), id)
	if errors.Is(err, ajar.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no alert rule %d", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI is the API's OpenAPI document.
func OpenAPI() []byte { return openapiDoc }

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ *ajar.APIKey) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiDoc)
}
