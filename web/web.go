// Package web is ajar's user interface: server-rendered pages over the same
// store as the JSON API — search with facets, exposure pages with timelines,
// a dashboard and the disclosure view. It works without JavaScript.
package web

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/query"
	"github.com/ajar-scan/ajar/server"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// UI serves the pages.
type UI struct {
	api    *server.Server
	store  server.Store
	pages  map[string]*template.Template
	mux    *http.ServeMux
	logger *slog.Logger
	now    func() time.Time
	// Secure marks the session cookie Secure (serving over TLS).
	secure bool

	mu       sync.Mutex
	sessions map[string]*session
}

type session struct {
	keyID, role, CSRF string
	expires           time.Time
}

// sessionTTL is how long a login lasts.
const sessionTTL = 12 * time.Hour

// Options configure the UI.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	Secure bool
}

// New builds the UI over a server's store.
func New(api *server.Server, st server.Store, opt Options) *UI {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	u := &UI{api: api, store: st, mux: http.NewServeMux(), logger: opt.Logger, now: opt.Now, secure: opt.Secure,
		sessions: map[string]*session{}, pages: map[string]*template.Template{}}
	base := template.Must(template.New("base").Funcs(funcs).ParseFS(templateFiles, "templates/base.html"))
	for _, p := range []string{"login", "dashboard", "search", "exposure", "disclosures"} {
		u.pages[p] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, "templates/"+p+".html"))
	}
	static, _ := fs.Sub(staticFiles, "static")
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	u.mux.HandleFunc("GET /login", u.loginPage)
	u.mux.HandleFunc("POST /login", u.login)
	u.mux.HandleFunc("POST /logout", u.logout)
	u.mux.Handle("GET /{$}", u.auth(u.dashboard))
	u.mux.Handle("GET /search", u.auth(u.search))
	u.mux.Handle("GET /exposures/{id}", u.auth(u.exposure))
	u.mux.Handle("POST /exposures/{id}/disclosure", u.auth(u.setDisclosure))
	u.mux.Handle("GET /exposures/{id}/report", u.auth(u.report))
	u.mux.Handle("GET /disclosures", u.auth(u.disclosures))
	return u
}

// ServeHTTP serves a page.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	u.mux.ServeHTTP(w, r)
}

const cookieName = "ajar_session"

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// current returns the request's session, if it has a live one.
func (u *UI) current(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.sessions[c.Value]
	if s == nil || u.now().After(s.expires) {
		delete(u.sessions, c.Value)
		return nil
	}
	return s
}

// auth sends people without a session to the login page, and checks the
// CSRF token of every form post.
func (u *UI) auth(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := u.current(r)
		if s == nil || !u.keyAlive(r, s.keyID) {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
			http.Error(w, "bad or missing CSRF token: reload the page and try again", http.StatusForbidden)
			return
		}
		h(w, r, s)
	})
}

// keyAlive checks that the session's key was not revoked since login.
func (u *UI) keyAlive(r *http.Request, id string) bool {
	keys, err := u.store.Keys(r.Context())
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.ID == id {
			return k.Revoked == nil
		}
	}
	return false
}

type page struct {
	Title   string
	Session *session
	Query   string
	Error   string
	Data    any
}

func (u *UI) render(w http.ResponseWriter, name string, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := u.pages[name].ExecuteTemplate(w, "base", p); err != nil {
		u.logger.Error("render", "page", name, "err", err)
	}
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	u.render(w, "login", http.StatusOK, page{Title: "Log in", Data: safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps redirects after login on this site.
func safeNext(n string) string {
	if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.Contains(n, "\\") {
		return "/"
	}
	return n
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	secret := strings.TrimSpace(r.PostFormValue("key"))
	next := safeNext(r.PostFormValue("next"))
	k, err := u.store.KeyByHash(r.Context(), server.HashKey(secret))
	if err != nil || secret == "" {
		if err != nil && !errors.Is(err, ajar.ErrNotFound) {
			u.logger.Error("login", "err", err)
		}
		u.render(w, "login", http.StatusUnauthorized, page{Title: "Log in", Error: "That key is not valid (or was revoked).", Data: next})
		return
	}
	token := randomToken()
	u.mu.Lock()
	u.sessions[token] = &session{keyID: k.ID, role: k.Role, CSRF: randomToken(), expires: u.now().Add(sessionTTL)}
	u.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true, Secure: u.secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		u.mu.Lock()
		delete(u.sessions, c.Value)
		u.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request, s *session) {
	st, err := u.api.Stats(r, 30)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, "dashboard", http.StatusOK, page{Title: "Dashboard", Session: s, Data: st})
}

// searchData is what the search page shows.
type searchData struct {
	Result   *ajar.SearchResult
	Facets   []string
	Examples []string
	Fields   []query.Field
	Next     string
}

var examples = []string{
	`protocol:elasticsearch class:cn_resident_id status:exposed`,
	`records>100000 -status:closed`,
	`provider:alibaba OR name:*.aliyuncs.com`,
	`open_for>30d severity:critical`,
	`ip:127.0.10.0/24`,
}

func (u *UI) search(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query().Get("q")
	facets := []string{"status", "protocol", "severity", "class", "provider", "country"}
	res, err := u.store.Search(r.Context(), ajar.SearchRequest{Query: q, Limit: 50, Cursor: r.URL.Query().Get("cursor"), Facets: facets, Now: u.now()})
	var qe *query.Error
	if errors.As(err, &qe) {
		u.render(w, "search", http.StatusBadRequest, page{Title: "Search", Session: s, Query: q, Error: qe.Error(),
			Data: searchData{Examples: examples, Fields: query.Fields}})
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	next := ""
	if res.NextCursor != "" {
		next = "/search?" + url.Values{"q": {q}, "cursor": {res.NextCursor}}.Encode()
	}
	u.render(w, "search", http.StatusOK, page{Title: "Search", Session: s, Query: q,
		Data: searchData{Result: res, Facets: facets, Examples: examples, Fields: query.Fields, Next: next}})
}

func (u *UI) record(w http.ResponseWriter, r *http.Request) (*ajar.Record, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return nil, false
	}
	rec, err := u.store.RecordByID(r.Context(), id)
	if errors.Is(err, ajar.ErrNotFound) {
		http.NotFound(w, r)
		return nil, false
	}
	if err != nil {
		u.fail(w, err)
		return nil, false
	}
	return rec, true
}

type exposureData struct {
	*server.Detail
	States   []string
	CanWrite bool
	Timeline template.HTML
}

func (u *UI) exposure(w http.ResponseWriter, r *http.Request, s *session) {
	rec, ok := u.record(w, r)
	if !ok {
		return
	}
	d, err := u.api.Detail(r, rec)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, "exposure", http.StatusOK, page{Title: rec.Last.Target.String(), Session: s,
		Data: exposureData{Detail: d, States: server.DisclosureStates, CanWrite: s.role == ajar.RoleAdmin,
			Timeline: timelineSVG(d.Events, u.now())}})
}

// report sends the disclosure report as a Markdown download.
func (u *UI) report(w http.ResponseWriter, r *http.Request, _ *session) {
	rec, ok := u.record(w, r)
	if !ok {
		return
	}
	d, err := u.api.Detail(r, rec)
	if err != nil {
		u.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", "attachment; filename=\"ajar-report-"+strconv.FormatInt(rec.ID, 10)+".md\"")
	_ = server.WriteReport(w, d)
}

func (u *UI) setDisclosure(w http.ResponseWriter, r *http.Request, s *session) {
	if s.role != ajar.RoleAdmin {
		http.Error(w, "changing a disclosure needs an admin key", http.StatusForbidden)
		return
	}
	rec, ok := u.record(w, r)
	if !ok {
		return
	}
	d := ajar.Disclosure{State: r.PostFormValue("state"), Contact: r.PostFormValue("contact"),
		Channel: r.PostFormValue("channel"), Note: r.PostFormValue("note"), By: s.keyID, At: u.now().UTC()}
	if err := server.ValidateDisclosure(&d); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := u.store.SetDisclosure(r.Context(), rec.ID, d); err != nil {
		u.fail(w, err)
		return
	}
	http.Redirect(w, r, "/exposures/"+strconv.FormatInt(rec.ID, 10)+"#disclosure", http.StatusSeeOther)
}

func (u *UI) disclosures(w http.ResponseWriter, r *http.Request, s *session) {
	type group struct {
		State string
		Items []ajar.Record
		Total int64
	}
	var groups []group
	for _, st := range server.DisclosureStates {
		q := "disclosure:" + st
		if st == ajar.DisclosureNew {
			q += " status:exposed"
		}
		res, err := u.store.Search(r.Context(), ajar.SearchRequest{Query: q, Limit: 100, Now: u.now()})
		if err != nil {
			u.fail(w, err)
			return
		}
		groups = append(groups, group{State: st, Items: res.Items, Total: res.Total})
	}
	u.render(w, "disclosures", http.StatusOK, page{Title: "Disclosures", Session: s, Data: groups})
}

func (u *UI) fail(w http.ResponseWriter, err error) {
	u.logger.Error("ui", "err", err)
	http.Error(w, "the server failed; see its log", http.StatusInternalServerError)
}
