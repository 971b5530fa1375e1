package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/resume"
	"github.com/ajar-scan/ajar/store/sqlite"
)

// listenOn opens listeners on chosen ports of addr (ports taken elsewhere
// are skipped) and returns the ports.
func listenOn(t *testing.T, addr string, lo, hi, n int) map[uint16]bool {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	ports := map[uint16]bool{}
	for len(ports) < n {
		p := lo + r.IntN(hi-lo)
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", addr, p))
		if err != nil {
			continue
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		ports[uint16(p)] = true
	}
	return ports
}

func openPorts(t *testing.T, out string) []uint16 {
	t.Helper()
	var ports []uint16
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev ajar.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		if ev.Status != ajar.StatusOpen {
			t.Errorf("discover printed status %q", ev.Status)
		}
		ports = append(ports, ev.Port)
	}
	return ports
}

func TestDiscoverResumeMissesNothing(t *testing.T) {
	const host = "127.0.20.110"
	want := listenOn(t, host, 30000, 50000, 40)
	state := filepath.Join(t.TempDir(), "state.json")
	args := []string{"discover", host, "-p", "30000-50000", "--rate", "4000", "--resume", state, "--json", "-q"}

	// First run, interrupted after a second.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out1, err1 bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &out1, &err1)
	if code != exitInterrupted {
		t.Fatalf("first run: exit %d, want %d (%s)", code, exitInterrupted, err1.String())
	}
	st, err := resume.Load(state)
	if err != nil || st == nil || st.Next == 0 || st.Finished {
		t.Fatalf("state after interruption: %+v %v", st, err)
	}

	// Second run with the same file completes the walk.
	code, out2, errOut := ajarRun(t, "", args...)
	if code != 0 {
		t.Fatalf("resumed run: exit %d: %s", code, errOut)
	}
	got := map[uint16]int{}
	for _, p := range append(openPorts(t, out1.String()), openPorts(t, out2)...) {
		got[p]++
	}
	for p := range want {
		if got[p] == 0 {
			t.Errorf("port %d missed across the two runs", p)
		}
	}
	for p := range got {
		if !want[p] {
			t.Errorf("port %d reported open but nothing listens", p)
		}
	}
	st, err = resume.Load(state)
	if err != nil || !st.Finished {
		t.Fatalf("state after the resumed run: %+v %v", st, err)
	}
	// A finished scan is not resumed again, and another scan's file is refused.
	if code, _, _ := ajarRun(t, "", args...); code != exitUsage {
		t.Errorf("resuming a finished scan: exit %d, want %d", code, exitUsage)
	}
	other := []string{"discover", host, "-p", "1-10", "--resume", state, "-q"}
	if code, _, errOut := ajarRun(t, "", other...); code != exitUsage || !strings.Contains(errOut, "another scan") {
		t.Errorf("another scan's resume file: exit %d %q", code, errOut)
	}
}

func TestInterruptedScanKeepsStoreConsistent(t *testing.T) {
	const host = "127.0.20.111"
	listenOn(t, host, 30000, 40000, 20)
	db := filepath.Join(t.TempDir(), "a.db")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"scan", host, "-p", "30000-40000", "--rate", "3000", "--db", db, "--json", "-q",
		"--timeout", "300ms"}, strings.NewReader(""), &out, &errb)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, exitInterrupted, errb.String())
	}
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.List(context.Background(), ajar.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if printed := strings.Count(out.String(), "\n"); printed != len(recs) {
		t.Errorf("%d events printed, %d records stored", printed, len(recs))
	}
	for _, r := range recs {
		evs, err := st.Events(context.Background(), r.Last.Key())
		if err != nil || len(evs) == 0 || !evs[len(evs)-1].Time.Equal(r.Last.Time) {
			t.Errorf("%s: record and event log disagree (%d events, %v)", r.Last.Key(), len(evs), err)
		}
	}
}
