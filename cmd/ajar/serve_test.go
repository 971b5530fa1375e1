package main

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/store/sqlite"
)

func seedStore(t *testing.T, db string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := ajar.Event{Schema: ajar.Schema, Time: time.Now().UTC(), Target: ajar.Target{Addr: netip.MustParseAddr("127.0.10.10"), Port: 6379},
		Service: ajar.Service{Transport: "tcp", Protocol: "redis"}, Plugin: "redis", Status: ajar.StatusExposed,
		Exposure: &ajar.Exposure{Plugin: "redis", Access: ajar.AccessAdmin, Records: 10, Datasets: []ajar.Dataset{{Name: "db0", Records: 10}}}}
	if err := st.Record(context.Background(), &ev); err != nil {
		t.Fatal(err)
	}
}

func TestKeysServeDisclose(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	seedStore(t, db)
	code, secret, errOut := ajarRun(t, "", "keys", "create", "--role", "admin", "--name", "test", "--db", db)
	secret = strings.TrimSpace(secret)
	if code != 0 || !strings.HasPrefix(secret, "ajar_") || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("keys create: %d %q %q", code, secret, errOut)
	}
	code, out, _ := ajarRun(t, "", "keys", "list", "--db", db)
	if code != 0 || strings.Contains(out, secret) || !strings.Contains(out, "admin") {
		t.Errorf("keys list: %d\n%s", code, out)
	}
	if code, _, _ := ajarRun(t, "", "keys", "create", "--role", "root", "--db", db); code != 2 {
		t.Errorf("bad role: exit %d", code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const addr = "127.0.20.91:18080"
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--listen", addr, "--db", db}, strings.NewReader(""), &bytes.Buffer{}, &errb)
	}()
	var resp *http.Response
	for i := 0; ; i++ {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/exposures?q=protocol:redis", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		var err error
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		if i > 200 {
			t.Fatalf("serve did not come up: %v (%s)", err, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("API with the new key: %d", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}

	if code, _, errOut := ajarRun(t, "", "disclose", "127.0.10.10:6379", "--state", "notified", "--db", db); code != 2 || !strings.Contains(errOut, "contact") {
		t.Errorf("notified without contact: %d %q", code, errOut)
	}
	if code, _, errOut := ajarRun(t, "", "disclose", "127.0.10.99:1", "--state", "triaged", "--db", db); code != 2 || !strings.Contains(errOut, "no exposure") {
		t.Errorf("unknown exposure: %d %q", code, errOut)
	}
	if code, out, errOut := ajarRun(t, "", "disclose", "127.0.10.10:6379", "--state", "notified", "--contact", "sec@example.com", "--db", db); code != 0 || !strings.Contains(out, "notified") {
		t.Fatalf("disclose: %d %q %q", code, out, errOut)
	}
	code, out, _ = ajarRun(t, "", "report", "127.0.10.10:6379", "--db", db)
	if code != 0 || !strings.Contains(out, "# Exposed redis on 127.0.10.10:6379") || !strings.Contains(out, "| disclosure | notified |") {
		t.Errorf("report: %d\n%s", code, out)
	}
	code, out, _ = ajarRun(t, "", "find", "disclosure:notified", "--db", db, "--json")
	if code != 0 || !strings.Contains(out, `"total":1`) {
		t.Errorf("find disclosure:notified: %d %s", code, out)
	}
}
