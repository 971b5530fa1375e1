// Package api serves the breach range API: k-anonymous range answers, OPRF
// evaluations for private mode, and the list of breaches.
package api

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/rangedb"
	"github.com/ajar-scan/ajar/breach/ratelimit"
)

// Options tune the handler.
type Options struct {
	// RateLimit is the number of range requests per second allowed to one
	// client address (IPv6: one /64); 0 lifts the limit.
	RateLimit float64
	// Burst is the number of requests a client may make at once.
	Burst int
	// CacheMaxAge is how long caches may keep a hashed range answer.
	CacheMaxAge time.Duration
	Logger      *slog.Logger
	// Now is the limiter's clock (time.Now when nil).
	Now func() time.Time
}

// Defaults for Options.
const (
	DefaultRateLimit   = 1.0
	DefaultBurst       = 30
	DefaultCacheMaxAge = time.Hour
)

// Handler serves
//
//	GET  /api/v1/breach/range/{prefix}    hashed-mode bucket, text
//	POST /api/v1/breach/private/{prefix}  OPRF evaluation and private bucket, JSON
//	GET  /api/v1/breaches                 the breaches, JSON
type Handler struct {
	db  *rangedb.DB
	o   Options
	lim *ratelimit.Limiter
	mux *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler of the breach API over db.
func New(db *rangedb.DB, o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	h := &Handler{db: db, o: o, lim: ratelimit.New(o.RateLimit, o.Burst, o.Now), mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /api/v1/breach/range/{prefix}", h.limited(h.hashedRange))
	h.mux.HandleFunc("POST /api/v1/breach/private/{prefix}", h.limited(h.privateRange))
	h.mux.HandleFunc("GET /api/v1/breaches", h.breaches)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Breaches is the body of GET /api/v1/breaches.
type Breaches struct {
	Breaches []breach.Breach `json:"breaches"`
	// Suite is the OPRF ciphersuite of private mode.
	Suite string `json:"oprf_suite"`
	// AnswerLines is the number of entry lines in every range answer, by
	// mode.
	AnswerLines map[breach.Mode]int `json:"answer_lines"`
}

func (h *Handler) breaches(w http.ResponseWriter, r *http.Request) {
	s, err := h.db.Snapshot()
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "the breach store cannot be read", err)
		return
	}
	defer s.Release()
	out := Breaches{Breaches: s.Breaches, Suite: breach.OPRFSuite, AnswerLines: map[breach.Mode]int{}}
	if out.Breaches == nil {
		out.Breaches = []breach.Breach{}
	}
	for _, m := range []breach.Mode{breach.ModeHashed, breach.ModePrivate} {
		out.AnswerLines[m], _ = s.AnswerSize(m)
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) hashedRange(w http.ResponseWriter, r *http.Request, bucket uint32) {
	s, err := h.db.Snapshot()
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "the breach store cannot be read", err)
		return
	}
	defer s.Release()
	a, err := h.db.Answer(s, breach.ModeHashed, bucket)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "the breach store cannot be read", err)
		return
	}
	// The answer depends on the bucket only: shared caches may keep it.
	maxAge := h.o.CacheMaxAge
	if maxAge == 0 {
		maxAge = DefaultCacheMaxAge
	}
	hd := w.Header()
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(a)))
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(a)
}

func (h *Handler) privateRange(w http.ResponseWriter, r *http.Request, bucket uint32) {
	var req breach.PrivateRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil || json.Unmarshal(body, &req) != nil {
		h.fail(w, http.StatusBadRequest, `the body must be {"blinded": HEX}`, nil)
		return
	}
	blinded, err := hex.DecodeString(req.Blinded)
	if err != nil {
		h.fail(w, http.StatusBadRequest, "blinded must be a hex-encoded ristretto255 element", nil)
		return
	}
	s, err := h.db.Snapshot()
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "the breach store cannot be read", err)
		return
	}
	defer s.Release()
	ev, err := h.db.Evaluate(blinded)
	switch {
	case errors.Is(err, rangedb.ErrBadElement):
		h.fail(w, http.StatusBadRequest, err.Error(), nil)
		return
	case err != nil:
		h.fail(w, http.StatusServiceUnavailable, "private mode is not available: nothing was imported in it", err)
		return
	}
	a, err := h.db.Answer(s, breach.ModePrivate, bucket)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "the breach store cannot be read", err)
		return
	}
	// The evaluation answers this request only.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, breach.PrivateAnswer{Suite: breach.OPRFSuite, Evaluated: hex.EncodeToString(ev), Range: string(a)})
}

// limited checks the prefix and the client's rate before calling next.
func (h *Handler) limited(next func(http.ResponseWriter, *http.Request, uint32)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		bucket, err := breach.ParsePrefix(r.PathValue("prefix"))
		if err != nil {
			h.fail(w, http.StatusBadRequest, "the prefix must be 5 hex digits (the first 5 of the upper-case hex SHA-256 of kind:identifier)", nil)
			return
		}
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			if ok, wait := h.lim.Allow(ap.Addr()); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				h.fail(w, http.StatusTooManyRequests, "too many requests from this address: retry later", nil)
				return
			}
		}
		next(w, r, bucket)
	}
}

func (h *Handler) fail(w http.ResponseWriter, code int, msg string, err error) {
	if err != nil {
		h.o.Logger.Error("breach api", "status", code, "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, code, breach.Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
