package alert

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	smtpd "github.com/emersion/go-smtp"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/store/sqlite"
)

func ev(addr string, st ajar.Status, records int64, at time.Time) ajar.Event {
	e := ajar.Event{Schema: ajar.Schema, Time: at, Target: ajar.Target{Addr: netip.MustParseAddr(addr), Port: 9200},
		Service: ajar.Service{Transport: "tls", Protocol: "elasticsearch", TLS: &ajar.TLS{Names: []string{"es-1.search.example.com"}}},
		Plugin:  "elasticsearch", Status: st, Attribution: &ajar.Attribution{ASN: 64500}}
	if st == ajar.StatusExposed {
		e.Exposure = &ajar.Exposure{Plugin: "elasticsearch", Access: ajar.AccessRead, Records: records,
			Datasets: []ajar.Dataset{{Name: "person_info", Records: records}}}
	}
	return e
}

func TestChangeOf(t *testing.T) {
	t0 := time.Now()
	exp := ev("127.0.10.5", ajar.StatusExposed, 1000, t0)
	more := ev("127.0.10.5", ajar.StatusExposed, 5000, t0)
	same := ev("127.0.10.5", ajar.StatusExposed, 1010, t0)
	closed := ev("127.0.10.5", ajar.StatusClosed, 0, t0)
	wiped := ev("127.0.10.5", ajar.StatusWiped, 0, t0)
	prot := ev("127.0.10.5", ajar.StatusProtected, 0, t0)
	for _, tc := range []struct {
		name      string
		prev, cur *ajar.Event
		want      string
	}{
		{"first exposed", nil, &exp, ChangeNew},
		{"again the same", &exp, &same, ""},
		{"more records", &exp, &more, ChangeChanged},
		{"closed", &exp, &closed, ChangeClosed},
		{"reopened", &closed, &exp, ChangeNew},
		{"wiped", &exp, &wiped, ChangeWiped},
		{"wiped again", &wiped, &wiped, ""},
		{"refilled after a wipe", &wiped, &exp, ChangeChanged},
		{"protected first", nil, &prot, ""},
		{"closed twice", &closed, &closed, ""},
	} {
		if got := ChangeOf(tc.prev, tc.cur); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMatches(t *testing.T) {
	e := ev("127.0.10.5", ajar.StatusExposed, 1, time.Now())
	for _, tc := range []struct {
		r    ajar.AlertRule
		want bool
	}{
		{ajar.AlertRule{CIDRs: []string{"127.0.10.0/24"}}, true},
		{ajar.AlertRule{CIDRs: []string{"127.0.11.0/24"}}, false},
		{ajar.AlertRule{CIDRs: []string{"127.0.10.5"}}, true},
		{ajar.AlertRule{Names: []string{"*.search.example.com"}}, true},
		{ajar.AlertRule{Names: []string{"*.example.org"}}, false},
		{ajar.AlertRule{ASNs: []uint32{64500}}, true},
		{ajar.AlertRule{ASNs: []uint32{64501}}, false},
	} {
		if got := Matches(&tc.r, &e); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.r, got, tc.want)
		}
	}
}

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"change":"new"}`)
	h := Sign("s3cret", now, body)
	if err := Verify("s3cret", h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, check := range map[string]error{
		"other secret": Verify("other", h, body, now, time.Minute),
		"other body":   Verify("s3cret", h, []byte(`{"change":"closed"}`), now, time.Minute),
		"stale":        Verify("s3cret", h, body, now.Add(time.Hour), 5*time.Minute),
		"garbage":      Verify("s3cret", "v1=abc", body, now, time.Minute),
	} {
		if check == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestBackoff(t *testing.T) {
	if Backoff(0) != 30*time.Second || Backoff(1) != time.Minute || Backoff(20) != time.Hour {
		t.Errorf("backoff %s %s %s", Backoff(0), Backoff(1), Backoff(20))
	}
}

// hook is a webhook receiver that checks signatures.
type hook struct {
	mu       sync.Mutex
	got      []Payload
	bad      int
	srv      *httptest.Server
	deliverd map[string]int
}

func newHook(t *testing.T, secret string) *hook {
	h := &hook{deliverd: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := Verify(secret, r.Header.Get("X-Ajar-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			h.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p Payload
		_ = json.Unmarshal(body, &p)
		h.got = append(h.got, p)
		h.deliverd[r.Header.Get("X-Ajar-Delivery")]++
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// mailbox is a real SMTP receiver on loopback.
type mailbox struct {
	mu   sync.Mutex
	msgs []string
	rcpt []string
}

func (m *mailbox) NewSession(*smtpd.Conn) (smtpd.Session, error) { return &session{m: m}, nil }

type session struct{ m *mailbox }

func (s *session) Reset()                                {}
func (s *session) Logout() error                         { return nil }
func (s *session) Mail(string, *smtpd.MailOptions) error { return nil }
func (s *session) Rcpt(to string, _ *smtpd.RcptOptions) error {
	s.m.mu.Lock()
	s.m.rcpt = append(s.m.rcpt, to)
	s.m.mu.Unlock()
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, string(b))
	s.m.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T) (*mailbox, string) {
	mb := &mailbox{}
	srv := smtpd.NewServer(mb)
	srv.Domain = "ajar.test"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.20.95:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return mb, l.Addr().String()
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestWebhookAndEmail(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer st.Close()
	h := newHook(t, "s3cret")
	mb, smtpAddr := startSMTP(t)
	web := &ajar.AlertRule{Name: "web", CIDRs: []string{"127.0.10.0/24"}, Webhook: h.srv.URL + "/hook", Secret: "s3cret"}
	mail := &ajar.AlertRule{Name: "mail", Names: []string{"*.example.com"}, Email: "owner@example.com"}
	other := &ajar.AlertRule{Name: "elsewhere", CIDRs: []string{"127.0.99.0/24"}, Webhook: h.srv.URL + "/other"}
	for _, r := range []*ajar.AlertRule{web, mail, other} {
		if err := st.AddRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().UTC()
	for _, e := range []ajar.Event{
		ev("127.0.10.5", ajar.StatusExposed, 1000, t0),
		ev("127.0.10.5", ajar.StatusExposed, 1001, t0.Add(time.Minute)), // no change
		ev("127.0.10.5", ajar.StatusClosed, 0, t0.Add(2*time.Minute)),
	} {
		if err := st.Record(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	m := &Matcher{Store: st}
	d := &Deliverer{Store: st, AllowPrivate: true, SMTP: SMTP{Addr: smtpAddr, From: "ajar@example.com"}}
	if n, err := m.Step(ctx); err != nil || n != 3 {
		t.Fatalf("match: %d %v", n, err)
	}
	if n, err := d.Step(ctx); err != nil || n != 4 {
		t.Fatalf("deliver: %d %v", n, err)
	}
	h.mu.Lock()
	changes := []string{}
	for _, p := range h.got {
		changes = append(changes, p.Change)
	}
	h.mu.Unlock()
	if strings.Join(changes, ",") != "new,closed" || h.bad != 0 {
		t.Errorf("webhook got %v (%d bad signatures)", changes, h.bad)
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if len(mb.msgs) != 2 || mb.rcpt[0] != "owner@example.com" || !strings.Contains(mb.msgs[0], "Subject: [ajar] new exposure") ||
		!strings.Contains(mb.msgs[1], "Subject: [ajar] closed exposure") {
		t.Errorf("mail: %d messages %v", len(mb.msgs), mb.rcpt)
	}
	// Nothing left, and another round delivers nothing again.
	if n, _ := m.Step(ctx); n != 0 {
		t.Errorf("matcher read %d events again", n)
	}
	if n, _ := d.Step(ctx); n != 0 {
		t.Errorf("delivered %d again", n)
	}
}

func TestInternalWebhookRefused(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer st.Close()
	h := newHook(t, "")
	r := &ajar.AlertRule{CIDRs: []string{"127.0.10.0/24"}, Webhook: h.srv.URL}
	if err := st.AddRule(ctx, r); err != nil {
		t.Fatal(err)
	}
	e := ev("127.0.10.7", ajar.StatusExposed, 10, time.Now().UTC())
	if err := st.Record(ctx, &e); err != nil {
		t.Fatal(err)
	}
	m := &Matcher{Store: st}
	if _, err := m.Step(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Add(time.Second)
	d := &Deliverer{Store: st, Now: func() time.Time { return now }}
	if n, err := d.Step(ctx); err != nil || n != 0 {
		t.Fatalf("delivered %d to an internal address (%v)", n, err)
	}
	due, _ := st.Due(ctx, now.Add(time.Hour), 10)
	if len(due) != 1 || due[0].Attempts != 1 || !strings.Contains(due[0].LastErr, "internal") {
		t.Fatalf("outbox after refusal: %+v", due)
	}
	if h.got != nil {
		t.Errorf("the internal webhook was called")
	}
}

// TestCrashBetweenMatchAndDelivery kills a process that queued an alert
// before it could deliver it; a restarted deliverer sends it exactly once.
func TestCrashBetweenMatchAndDelivery(t *testing.T) {
	if os.Getenv("AJAR_ALERT_CHILD") != "" {
		child()
		return
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "a.db")
	st := openStore(t, db)
	h := newHook(t, "k")
	if err := st.AddRule(ctx, &ajar.AlertRule{CIDRs: []string{"127.0.10.0/24"}, Webhook: h.srv.URL, Secret: "k"}); err != nil {
		t.Fatal(err)
	}
	e := ev("127.0.10.8", ajar.StatusExposed, 10, time.Now().UTC())
	if err := st.Record(ctx, &e); err != nil {
		t.Fatal(err)
	}
	st.Close()

	cmd := exec.Command(os.Args[0], "-test.run=TestCrashBetweenMatchAndDelivery")
	cmd.Env = append(os.Environ(), "AJAR_ALERT_CHILD="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf) // the child says "queued" once the alert is in the outbox
	if !strings.Contains(string(buf[:n]), "queued") {
		t.Fatalf("child said %q", buf[:n])
	}
	_ = cmd.Process.Kill() // SIGKILL: no chance to deliver or clean up
	_ = cmd.Wait()

	st = openStore(t, db)
	defer st.Close()
	m := &Matcher{Store: st}
	d := &Deliverer{Store: st, AllowPrivate: true}
	for range 3 {
		if _, err := m.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) != 1 || h.got[0].Change != ChangeNew {
		t.Fatalf("after the crash: %d deliveries %+v, want exactly one", len(h.got), h.got)
	}
}

// child matches (queues) and then waits to be killed.
func child() {
	st, err := sqlite.Open(context.Background(), os.Getenv("AJAR_ALERT_CHILD"))
	if err != nil {
		os.Exit(3)
	}
	m := &Matcher{Store: st}
	if _, err := m.Step(context.Background()); err != nil {
		os.Exit(4)
	}
	os.Stdout.WriteString("queued\n")
	time.Sleep(time.Minute)
	os.Exit(5)
}
