package couchdb

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ajar-scan/ajar/lab/emulator"
	emucouch "github.com/ajar-scan/ajar/lab/emulator/couchdb"
)

// pouchDir is where lab/pouchdb lives, relative to this package.
var pouchDir = filepath.Join("..", "..", "lab", "pouchdb")

// startPouch runs the real express-pouchdb of lab/pouchdb on a test
// address, seeded as in the lab, until the test ends. The lab installs it
// (npm ci in lab/pouchdb); a missing install is a failure, never a skip.
func startPouch(t *testing.T, variant string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pouchDir, "node_modules", "express-pouchdb")); err != nil {
		t.Fatalf("express-pouchdb is not installed (run lab/pouchdb/install): %v", err)
	}
	seed := filepath.Join(t.TempDir(), "seed.json")
	f, err := os.Create(seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := emucouch.Dump(f, emulator.PouchDatasets()); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cmd := exec.Command("node", "server.js", "--listen", "127.0.23.1:0", "--seed", seed, "--variant", variant)
	cmd.Dir = pouchDir
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start express-pouchdb: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("express-pouchdb exited before listening")
		}
		return a
	case <-ctx.Done():
		t.Fatal("express-pouchdb did not listen within 30 s")
	}
	return ""
}
