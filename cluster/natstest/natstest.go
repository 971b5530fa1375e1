// Package natstest runs a nats-server with JetStream for tests, on a lab
// address, so that a test can kill it and start it again on the same storage.
package natstest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a nats-server process with JetStream storage in a directory of
// the test's.
type Server struct {
	host string
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	log  syncBuffer
}

// Start runs nats-server (Debian package nats-server) on a free port of
// host, a loopback address, and kills it when the test ends. A missing
// nats-server fails the test.
func Start(t testing.TB, host string) *Server {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", host, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{host: host, port: port, dir: t.TempDir()}
	s.Restart(t)
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("nats-server log:\n%s", s.log.String())
		}
	})
	return s
}

// URL is the server's client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://%s:%d", s.host, s.port) }

// Restart starts the server (again, after Kill) on the same address and
// storage, and waits until JetStream answers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Fatalf("nats-server is not installed (Debian package nats-server): %v", err)
	}
	s.cmd = exec.Command(bin, "-a", s.host, "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	done := make(chan struct{})
	s.done = done
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(done) }(s.cmd)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ping(s.URL())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server on %s not ready: %v\n%s", s.URL(), err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ping(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// Kill ends the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.done
		s.cmd = nil
	}
}

// syncBuffer collects the server's output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
