package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
)

// lineLog records the lines a command prints with the time each arrived.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
	pw    *io.PipeWriter
}

func newLineLog() *lineLog {
	pr, pw := io.Pipe()
	l := &lineLog{pw: pw}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.at = append(l.at, time.Now())
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *lineLog) Write(p []byte) (int, error) { return l.pw.Write(p) }

// waitFor returns when a line containing s arrived after since.
func (l *lineLog) waitFor(t *testing.T, s string, since time.Time, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for i, line := range l.lines {
			if l.at[i].After(since) && strings.Contains(line, s) {
				at := l.at[i]
				l.mu.Unlock()
				return at
			}
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no line with %q within %s", s, limit)
	return time.Time{}
}

func startRedisAt(t *testing.T, addr string) func() {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server (lab/up installs it): %v", err)
	}
	stop := func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return stop
		}
		if i > 500 {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchDetectsOpeningAndClosing measures time to detection with a short
// cadence, and checks that the alert rules fire from the watch's scans.
func TestWatchDetectsOpeningAndClosing(t *testing.T) {
	const addr = "127.0.20.120:6379"
	db := filepath.Join(t.TempDir(), "a.db")

	var mu sync.Mutex
	var alerts []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Change string     `json:"change"`
			Event  ajar.Event `json:"event"`
		}
		_ = json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		alerts = append(alerts, p.Change+" "+p.Event.Target.String())
		mu.Unlock()
	}))
	defer hook.Close()
	if code, _, errOut := ajarRun(t, "", "alerts", "add", "--cidr", "127.0.20.120/32", "--webhook", hook.URL, "--allow-private-webhooks", "--db", db); code != 0 {
		t.Fatalf("alerts add: %s", errOut)
	}

	out := newLineLog()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "127.0.20.120", "-p", "6379", "--every", "1s", "--recheck", "1h",
			"--timeout", "500ms", "--allow-private-webhooks", "--db", db, "-q"}, strings.NewReader(""), out, io.Discard)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("watch did not stop")
		}
	}()

	time.Sleep(1500 * time.Millisecond) // a round or two with nothing there
	opened := time.Now()
	stop := startRedisAt(t, addr)
	seen := out.waitFor(t, "new", opened, 15*time.Second)
	closing := time.Now()
	stop()
	gone := out.waitFor(t, "closed", closing, 15*time.Second)
	openDetect, closeDetect := seen.Sub(opened), gone.Sub(closing)
	t.Logf("time to detection with --every 1s: opened %s, closed %s", openDetect.Round(time.Millisecond), closeDetect.Round(time.Millisecond))
	// The mechanism bound: one cadence, one identification and probe (at
	// most a few timeouts of 500 ms), and a margin.
	if bound := 1*time.Second + 4*time.Second; openDetect > bound || closeDetect > bound {
		t.Errorf("detection took %s / %s, more than %s", openDetect, closeDetect, bound)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(alerts)
		mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(alerts, ";") != "new "+addr+";closed "+addr {
		t.Errorf("alerts %v, want new then closed", alerts)
	}
}
