// Package web serves the breach check page: the browser normalises, hashes
// and blinds the identifier itself and asks the range API for a prefix only.
package web

//go:generate sh -c "GOOS=js GOARCH=wasm go build -trimpath -buildvcs=false -ldflags='-s -w' -o assets/breach.wasm ./wasm && gzip -9nf assets/breach.wasm && cp \"$(go env GOROOT)/lib/wasm/wasm_exec.js\" assets/wasm_exec.js"

import (
	"bytes"
	"compress/gzip"
	"embed"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

//go:embed assets/app.js assets/style.css assets/wasm_exec.js assets/breach.wasm.gz
var assets embed.FS

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("breach").Parse(pageHTML))

// Regions offered for phone numbers written without a country code.
var regions = []struct{ Code, Name string }{
	{"CN", "中国大陆 China"}, {"HK", "香港 Hong Kong"}, {"MO", "澳門 Macao"}, {"TW", "台灣 Taiwan"},
	{"SG", "Singapore"}, {"MY", "Malaysia"}, {"JP", "日本 Japan"}, {"KR", "한국 Korea"},
	{"US", "United States"}, {"CA", "Canada"}, {"GB", "United Kingdom"}, {"DE", "Deutschland"},
	{"FR", "France"}, {"AU", "Australia"}, {"IN", "India"}, {"BR", "Brasil"},
}

// Handler serves GET /breach and its assets under /breach/assets/.
type Handler struct {
	mux       *http.ServeMux
	wasmOnce  sync.Once
	wasmPlain []byte
}

var _ http.Handler = (*Handler)(nil)

// New returns the page handler.
func New() *Handler {
	h := &Handler{mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /breach", h.page)
	h.mux.HandleFunc("GET /breach/assets/{name}", h.asset)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func security(w http.ResponseWriter) {
	hd := w.Header()
	// Scripts from this server only; WebAssembly needs wasm-unsafe-eval.
	// Requests go to this server only: nothing leaves for a third party.
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, map[string]any{"Regions": regions}); err != nil {
		http.Error(w, "render page", http.StatusInternalServerError)
		return
	}
	security(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
}

var types = map[string]string{
	"app.js":       "text/javascript; charset=utf-8",
	"wasm_exec.js": "text/javascript; charset=utf-8",
	"style.css":    "text/css; charset=utf-8",
	"breach.wasm":  "application/wasm",
}

func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ct, ok := types[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	security(w)
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	if name != "breach.wasm" {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
		return
	}
	gz, _ := assets.ReadFile("assets/breach.wasm.gz")
	w.Header().Set("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(gz)))
		w.Write(gz)
		return
	}
	h.wasmOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err == nil {
			h.wasmPlain, _ = io.ReadAll(zr)
		}
	})
	w.Header().Set("Content-Length", strconv.Itoa(len(h.wasmPlain)))
	w.Write(h.wasmPlain)
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		if enc, q, _ := strings.Cut(strings.TrimSpace(part), ";"); strings.EqualFold(enc, "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
