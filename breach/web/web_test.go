package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/api"
	"github.com/ajar-scan/ajar/breach/ident"
	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/breach/leakgen"
	"github.com/ajar-scan/ajar/breach/rangedb"
	"github.com/ajar-scan/ajar/breach/service"
	"github.com/ajar-scan/ajar/breach/web"
	"github.com/ajar-scan/ajar/lab/fake"
)

// requestLog keeps the request line and body of everything the server got.
type requestLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		l.mu.Lock()
		l.buf.WriteString(r.Method + " " + r.URL.String() + " " + string(b) + "\n")
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestPageAndAssets(t *testing.T) {
	srv := httptest.NewServer(web.New())
	defer srv.Close()
	for _, tc := range []struct{ path, ctype string }{
		{"/breach", "text/html; charset=utf-8"},
		{"/breach/assets/app.js", "text/javascript; charset=utf-8"},
		{"/breach/assets/wasm_exec.js", "text/javascript; charset=utf-8"},
		{"/breach/assets/style.css", "text/css; charset=utf-8"},
		{"/breach/assets/breach.wasm", "application/wasm"},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
			t.Errorf("GET %s: %d %v", tc.path, resp.StatusCode, resp.Header)
		}
		if tc.path == "/breach/assets/breach.wasm" && !bytes.HasPrefix(b, []byte("\x00asm")) {
			t.Errorf("GET %s: not WebAssembly", tc.path)
		}
		if tc.path == "/breach" && (strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://")) {
			t.Errorf("the page refers to another origin")
		}
	}
	if resp, _ := http.Get(srv.URL + "/breach/assets/../../etc/passwd"); resp.StatusCode == 200 {
		t.Error("an asset outside the set was served")
	}
}

func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium installed (make test installs it: apt-get install -y chromium)")
	return ""
}

// TestBrowserCheck runs the page in headless Chromium against a real
// server: a leaked number is found, a clean one is not, and the server's
// request log never holds the identifier, its normal form or its hash.
func TestBrowserCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	exe := chromium(t)
	dir := t.TempDir()
	var buf bytes.Buffer
	leakgen.Write(&buf, leakgen.Options{Format: leakfile.CSV, Seed: 21, First: 1, Rows: 300})
	if _, err := rangedb.Import(context.Background(), dir, &buf, rangedb.ImportOptions{
		Name: "shop-2023", Date: "2023-03-01", Description: "A fictional shop's customers.", Exposure: "127.0.10.5:9200",
	}); err != nil {
		t.Fatal(err)
	}
	db, err := rangedb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var log requestLog
	srv := httptest.NewServer(log.wrap(service.New(db, api.Options{})))
	defer srv.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-proxy-server", true),
		// No name resolution at all: the page talks to 127.0.0.1 only.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/breach"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)),
	); err != nil {
		t.Fatalf("load the page: %v", err)
	}

	g := fake.New(21)
	_, phone, id, email, _ := leakgen.Person(g, 42)
	n, _ := ident.NewNormalizer("CN")
	for _, tc := range []struct {
		value, kind, want string
	}{
		{phone[:3] + " " + phone[3:7] + " " + phone[7:], "auto", "found"}, // private mode
		{id, "id", "found"},
		{strings.ToUpper(email), "auto", "found"}, // hashed mode
		{"13800000000", "phone", "notfound"},
		{"nobody@example.org", "auto", "notfound"},
		{"not a number", "auto", "error"},
	} {
		err := chromedp.Do(ctx,
			// Back to idle, so the wait below sees this check's answer.
			chromedp.Steps(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				_, err := chromedp.Evaluate[any](`document.getElementById("result").dataset.state = "idle"`)(ctx, tg)
				return chromedp.Void{}, err
			}),
			chromedp.SetValue(chromedp.ID("value"), tc.value),
			chromedp.SetValue(chromedp.ID("kind"), tc.kind),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitVisible(chromedp.CSS(`#result[data-state="found"], #result[data-state="notfound"], #result[data-state="error"]`)),
		)
		if err != nil {
			t.Fatalf("check %q: %v", tc.value, err)
		}
		attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("result"), "data-state"))
		if err != nil {
			t.Fatal(err)
		}
		state := attr.Value
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("result")))
		if err != nil {
			t.Fatal(err)
		}
		if state != tc.want {
			t.Errorf("check %q: %s (%q), want %s", tc.value, state, text, tc.want)
		}
		if tc.want == "found" && (!strings.Contains(text, "shop-2023") || !strings.Contains(text, "127.0.10.5:9200")) {
			t.Errorf("check %q: result %q does not name the breach and its exposure", tc.value, text)
		}
		if tc.want != "error" {
			k, _ := ident.Detect(tc.value)
			if tc.kind != "auto" {
				k = breach.Kind(tc.kind)
			}
			norm, _ := n.Normalize(k, tc.value)
			d := breach.Hash(k, norm)
			seen := strings.ToUpper(log.String())
			for _, secret := range []string{tc.value, norm, strings.TrimPrefix(norm, "+"), d.Hex(), d.Hex()[:10], breach.HashedSuffix(d)} {
				if strings.Contains(seen, strings.ToUpper(secret)) {
					t.Errorf("check %q: the server saw %q", tc.value, secret)
				}
			}
			if !strings.Contains(seen, "/API/V1/BREACH/") || !strings.Contains(seen, breach.FormatPrefix(d.Prefix())) {
				t.Errorf("check %q: no range request for prefix %s in %s", tc.value, breach.FormatPrefix(d.Prefix()), seen)
			}
		}
	}
}
