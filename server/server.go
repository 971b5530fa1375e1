// Package server serves what ajar found: a JSON API with keys and roles, the
// web UI and the breach range API, over one http.Handler.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ajar-scan/ajar"
)

// Store is what the server needs of a store.
type Store interface {
	ajar.Store
	ajar.Searcher
	ajar.KeyStore
	ajar.DisclosureStore
	ajar.EventLog
	ajar.AlertStore
}

// Config configures a server.
type Config struct {
	Store Store
	// RatePerMinute is each key's request budget (0: 600).
	RatePerMinute int
	// TrustedProxies may set X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// AllowPrivateWebhooks lets alert rules post to loopback and private
	// addresses (tests, closed networks). Off by default so that alert
	// rules cannot be turned into requests to internal services.
	AllowPrivateWebhooks bool
	// UI, when set, serves everything outside /api/.
	UI http.Handler
	// Breach, when set, serves /api/v1/breach/ and /api/v1/breaches.
	Breach http.Handler
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the HTTP side of ajar.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	limiter *keyLimiter
}

// New builds a server.
func New(cfg Config) *Server {
	if cfg.RatePerMinute <= 0 {
		cfg.RatePerMinute = 600
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), limiter: newKeyLimiter(cfg.RatePerMinute, cfg.Now)}
	s.routes()
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// route is one API endpoint, as the OpenAPI document lists it.
type route struct {
	method, path, role string
	h                  func(w http.ResponseWriter, r *http.Request, k *ajar.APIKey)
}

func (s *Server) apiRoutes() []route {
	return []route{
		{"GET", "/api/v1/exposures", ajar.RoleReader, s.listExposures},
		{"GET", "/api/v1/exposures/{id}", ajar.RoleReader, s.getExposure},
		{"GET", "/api/v1/exposures/{id}/report", ajar.RoleReader, s.report},
		{"GET", "/api/v1/exposures/{id}/disclosure", ajar.RoleReader, s.getDisclosure},
		{"PUT", "/api/v1/exposures/{id}/disclosure", ajar.RoleAdmin, s.putDisclosure},
		{"GET", "/api/v1/events", ajar.RoleReader, s.events},
		{"GET", "/api/v1/stats", ajar.RoleReader, s.stats},
		{"GET", "/api/v1/alerts", ajar.RoleAdmin, s.listAlerts},
		{"POST", "/api/v1/alerts", ajar.RoleAdmin, s.addAlert},
		{"DELETE", "/api/v1/alerts/{id}", ajar.RoleAdmin, s.deleteAlert},
		{"GET", "/api/v1/openapi.json", ajar.RoleReader, s.openapi},
	}
}

func (s *Server) routes() {
	for _, rt := range s.apiRoutes() {
		s.mux.Handle(rt.method+" "+rt.path, s.auth(rt.role, rt.h))
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	if s.cfg.Breach != nil {
		s.mux.Handle("/api/v1/breach/", s.cfg.Breach)
		s.mux.Handle("/api/v1/breaches", s.cfg.Breach)
		s.mux.Handle("/breach", s.cfg.Breach)
		s.mux.Handle("/breach/", s.cfg.Breach)
	}
	if s.cfg.UI != nil {
		s.mux.Handle("/", s.cfg.UI)
	}
}

// MountBreach serves the breach range API and page (see package breach).
// Call it before serving.
func (s *Server) MountBreach(h http.Handler) {
	s.cfg.Breach = h
	s.mux.Handle("/api/v1/breach/", h)
	s.mux.Handle("/api/v1/breaches", h)
	s.mux.Handle("/breach", h)
	s.mux.Handle("/breach/", h)
}

// Mount serves ui for everything outside the API, for a UI built on this
// server (Config.UI is the same, for one that exists first). Call it before
// serving.
func (s *Server) Mount(ui http.Handler) {
	s.cfg.UI = ui
	s.mux.Handle("/", ui)
}

// HashKey is how a key's secret is stored.
func HashKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// KeyFromRequest authenticates a request by its bearer key.
func (s *Server) KeyFromRequest(r *http.Request) (*ajar.APIKey, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return nil, ajar.ErrNotFound
	}
	return s.cfg.Store.KeyByHash(r.Context(), HashKey(strings.TrimSpace(secret)))
}

// auth checks the key and its role, and applies the key's rate limit.
func (s *Server) auth(role string, h func(http.ResponseWriter, *http.Request, *ajar.APIKey)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := s.KeyFromRequest(r)
		switch {
		case errors.Is(err, ajar.ErrNotFound):
			w.Header().Set("WWW-Authenticate", `Bearer realm="ajar"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid API key is required: Authorization: Bearer <key> (create one with `ajar keys create`)")
			return
		case err != nil:
			s.fail(w, r, err)
			return
		}
		if role == ajar.RoleAdmin && k.Role != ajar.RoleAdmin {
			writeError(w, http.StatusForbidden, "forbidden", "this endpoint needs an admin key")
			return
		}
		if wait := s.limiter.take(k.ID); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests for this key; retry later")
			return
		}
		h(w, r, k)
	})
}

// ClientAddr is the client's address, from X-Forwarded-For only when the
// peer is a trusted proxy.
func (s *Server) ClientAddr(r *http.Request) netip.Addr {
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	addr := peer.Addr().Unmap()
	trusted := func(a netip.Addr) bool {
		for _, p := range s.cfg.TrustedProxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !trusted(addr) {
		return addr
	}
	// The right-most address that is not a trusted proxy is the client.
	parts := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			break
		}
		if !trusted(a.Unmap()) {
			return a.Unmap()
		}
	}
	return addr
}

// apiError is the body of every error answer.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// fail answers an unexpected error without leaking its text.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "the server failed; see its log")
}

// keyLimiter is a token bucket per key.
type keyLimiter struct {
	mu      sync.Mutex
	perMin  float64
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newKeyLimiter(perMinute int, now func() time.Time) *keyLimiter {
	return &keyLimiter{perMin: float64(perMinute), now: now, buckets: map[string]*bucket{}}
}

// take spends one token; it returns how long to wait when there is none.
func (l *keyLimiter) take(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.perMin, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.perMin, b.tokens+now.Sub(b.at).Minutes()*l.perMin)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / l.perMin * float64(time.Minute))
}

// isPrivate reports whether a webhook host is loopback, private or otherwise
// internal.
func isPrivate(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsUnspecified() || a.IsMulticast() || netip.MustParsePrefix("100.64.0.0/10").Contains(a)
}

// splitHostPort is net.SplitHostPort tolerating a missing port.
func splitHostPort(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
