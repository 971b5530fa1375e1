package web

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg" // FullScreenshot with a quality is a JPEG
	_ "image/png"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/server"
	"github.com/ajar-scan/ajar/store/sqlite"
)

// site serves the UI over a store with a few exposures.
func site(t *testing.T) (*httptest.Server, map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ajar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys := map[string]string{ajar.RoleReader: "ajar_reader_secret", ajar.RoleAdmin: "ajar_admin_secret"}
	for role, secret := range keys {
		if err := st.CreateKey(ctx, ajar.APIKey{ID: "k-" + role, Role: role, Created: time.Now()}, server.HashKey(secret)); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().UTC().Add(-72 * time.Hour)
	rec := func(ev ajar.Event) {
		if err := st.Record(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	es := ajar.Event{Schema: ajar.Schema, Time: t0, Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.40"), Port: 9200},
		Service: ajar.Service{Transport: "tls", Protocol: "elasticsearch", Product: "Elasticsearch", Version: "7.17.9",
			TLS: &ajar.TLS{Version: "TLS 1.3", Names: []string{"es-cn-1.elasticsearch.aliyuncs.com"}, Subject: "CN=es-cn-1"}},
		Plugin: "elasticsearch", Status: ajar.StatusExposed,
		Exposure: &ajar.Exposure{Plugin: "elasticsearch", Access: ajar.AccessRead, Records: 3_000_000, Bytes: 1_288_490_188,
			Classes: []string{"cn_resident_id", "phone"}, Severity: ajar.SeverityCritical, SeverityRule: "personal data in at least 100000 records",
			Datasets: []ajar.Dataset{{Name: "person_info", Records: 3_000_000, Bytes: 1_288_490_188, Fields: []string{"xm", "sjhm", "sfzh"},
				Classes: map[string]ajar.ClassCount{"phone": {Count: 5, Confidence: 0.99}}}},
			Samples:  []ajar.Sample{{Dataset: "person_info", Doc: map[string]string{"sjhm": "138****5678"}}},
			Evidence: &ajar.Evidence{Request: "GET /_cat/indices?format=json&bytes=b", Response: `[{"index":"person_info"}]`}},
		Attribution: &ajar.Attribution{Provider: "alibaba", Hosting: ajar.HostingManaged, Country: "CN",
			Reasons: []ajar.Reason{{Field: "provider", Value: "alibaba", Source: "certificate-name", Detail: "*.elasticsearch.aliyuncs.com"}}}}
	rec(es)
	es.Time = t0.Add(24 * time.Hour)
	rec(es)
	rd := ajar.Event{Schema: ajar.Schema, Time: t0, Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.10"), Port: 6379},
		Service: ajar.Service{Transport: "tcp", Protocol: "redis", Product: "Redis"}, Plugin: "redis", Status: ajar.StatusExposed,
		Exposure: &ajar.Exposure{Plugin: "redis", Access: ajar.AccessAdmin, Records: 2500, Severity: ajar.SeverityCritical,
			Datasets: []ajar.Dataset{{Name: "db0", Records: 2500}}},
		Attribution: &ajar.Attribution{Provider: "aws", Country: "US"}}
	rec(rd)
	rd.Time, rd.Status, rd.Exposure = t0.Add(48*time.Hour), ajar.StatusClosed, nil
	rec(rd)
	api := server.New(server.Config{Store: st})
	api.Mount(New(api, st, Options{}))
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv, keys
}

func TestLoginRequired(t *testing.T) {
	srv, keys := site(t)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(srv.URL + "/search?q=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("anonymous page: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = c.PostForm(srv.URL+"/login", map[string][]string{"key": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", resp.StatusCode)
	}
	resp, err = c.PostForm(srv.URL+"/login", map[string][]string{"key": {keys[ajar.RoleAdmin]}, "next": {"//evil.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ck := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %d %q %+v", resp.StatusCode, resp.Header.Get("Location"), ck)
	}
	// A form post without the CSRF token is refused.
	req, _ := http.NewRequest("POST", srv.URL+"/exposures/1/disclosure", strings.NewReader("state=triaged"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(ck[0])
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("post without CSRF: %d", resp.StatusCode)
	}
}

// browser starts headless Chromium (Debian's chromium; make test installs it).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (make test installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

func TestBrowser(t *testing.T) {
	srv, keys := site(t)
	ctx := browser(t)
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	step("log in", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`#key`),
		chromedp.SendKeys(`#key`, keys[ajar.RoleAdmin]), chromedp.Submit(`#key`), chromedp.WaitVisible(`svg.chart`))
	dash := text(`main`)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	step("search and click a facet", chromedp.Navigate(srv.URL+"/search"),
		chromedp.SetValue(`input[name=q]`, `status:exposed OR status:closed`), chromedp.Submit(`input[name=q]`),
		chromedp.WaitVisible(`.facet`), chromedp.Click(`.facet a[href*="provider%3Aalibaba"]`),
		chromedp.WaitVisible(`main section table tbody a`))
	results := text(`main section`)
	step("open the exposure", chromedp.Click(`main section table tbody a`), chromedp.WaitVisible(`svg.timeline`))
	exposure := text(`main`)
	if dir := os.Getenv("AJAR_SCREENSHOTS"); dir != "" {
		if b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "exposure.png"), b, 0o644)
		}
	}
	step("change its disclosure", chromedp.SetValue(`#state`, "notified"), chromedp.SetValue(`#contact`, "security@example.com"),
		chromedp.Submit(`#contact`), chromedp.WaitVisible(`#disclosure`))
	audit := text(`main`)
	if !strings.Contains(dash, "Dashboard") || !strings.Contains(dash, "2 exposures stored") {
		t.Errorf("dashboard: %q", dash)
	}
	if !strings.Contains(results, "1 exposures match") || !strings.Contains(results, "127.0.10.40:9200") || strings.Contains(results, "127.0.10.10:6379") {
		t.Errorf("facet did not narrow the results: %q", results)
	}
	for _, want := range []string{"es-cn-1.elasticsearch.aliyuncs.com", "person_info", "138****5678", "certificate-name", "critical", "GET /_cat/indices"} {
		if !strings.Contains(exposure, want) {
			t.Errorf("exposure page lacks %q", want)
		}
	}
	if !strings.Contains(audit, "State: notified") || !strings.Contains(audit, "security@example.com") {
		t.Errorf("disclosure not changed: %q", audit)
	}
	notBlank(t, shot)
}

// notBlank fails on a screenshot that is (nearly) one colour.
func notBlank(t *testing.T, shot []byte) {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colours := map[uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[(r>>12)<<8|(g>>12)<<4|bl>>12]++
		}
	}
	if len(colours) < 4 {
		t.Errorf("the screenshot is blank: %d colours", len(colours))
	}
	if dir := os.Getenv("AJAR_SCREENSHOTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "dashboard.png"), shot, 0o644)
	}
}
