package discover

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fullListener returns the port of a listener on addr whose accept queue
// is full, so that the kernel drops further SYNs (the handshake never
// settles) until the test ends.
func fullListener(t *testing.T, addr string) uint16 {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	a := netip.MustParseAddr(addr)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: a.As4()}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	port := uint16(sa.(*unix.SockaddrInet4).Port)
	// A backlog of 0 holds one connection; the next SYN finds it full.
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(a, port).String(), 200*time.Millisecond)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return port
}

func TestConnectWaitsForAnUnsettledHandshake(t *testing.T) {
	const host = "127.0.20.54"
	port := fullListener(t, host)
	ap := netip.AddrPortFrom(netip.MustParseAddr(host), port)
	start := time.Now()
	open, err := connect(context.Background(), ap, 150*time.Millisecond)
	if open || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connect to a full listener = %v, %v; want a timeout", open, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("timed out after %s, before the 150ms timeout", d)
	}
	if Classify(err) != Filtered {
		t.Errorf("a timeout classifies as %d, want Filtered", Classify(err))
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	if _, err := connect(ctx, ap, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled connect returned %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled connect took %s", d)
	}
}

func TestConnectSettlesAtOnce(t *testing.T) {
	const host = "127.0.20.55"
	open := listen(t, host, 1)[0]
	closed := freePorts(t, host, 1)[0]
	a := netip.MustParseAddr(host)
	for _, tc := range []struct {
		port uint16
		open bool
		err  error
	}{
		{open, true, nil},
		{closed, false, unix.ECONNREFUSED},
	} {
		got, err := connect(context.Background(), netip.AddrPortFrom(a, tc.port), time.Second)
		if got != tc.open || !errors.Is(err, tc.err) && (err != nil || tc.err != nil) {
			t.Errorf("port %d: %v, %v; want %v, %v", tc.port, got, err, tc.open, tc.err)
		}
	}
}

func TestSpareSocketIsReusedAfterARefusal(t *testing.T) {
	const host = "127.0.20.56"
	a := netip.MustParseAddr(host)
	open := listen(t, host, 2)
	closed := freePorts(t, host, 3)
	spare := newSpareSockets()
	defer spare.close()
	var kept int
	for i, tc := range []struct {
		port uint16
		open bool
	}{
		{closed[0], false}, {closed[1], false}, {open[0], true}, {closed[2], false}, {open[1], true},
	} {
		fd, got, err := begin(netip.AddrPortFrom(a, tc.port), spare)
		if fd >= 0 {
			t.Fatalf("attempt %d: a loopback handshake did not settle at once", i)
		}
		if got != tc.open || (!tc.open && !errors.Is(err, unix.ECONNREFUSED)) {
			t.Errorf("attempt %d on port %d: %v, %v; want open %v", i, tc.port, got, err, tc.open)
		}
		if tc.open {
			continue
		}
		if spare.v4 < 0 {
			t.Fatalf("attempt %d: no socket kept after a refusal", i)
		}
		if i == 1 && spare.v4 != kept {
			t.Errorf("a second refusal kept socket %d, not the reused %d", spare.v4, kept)
		}
		kept = spare.v4
	}
}
