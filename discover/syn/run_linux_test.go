package syn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/discover"
)

// availableChild makes the test binary, run as a child with that variable
// set, print what Available says and exit.
const availableChild = "AJAR_SYN_AVAILABLE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(availableChild) == "1" {
		if err := Available(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("available")
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// needRaw fails the test when raw sockets cannot be opened: these tests are
// part of CI, which runs as root, and a skip would hide them.
func needRaw(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Fatalf("this test sends raw packets on loopback and must run as root or with CAP_NET_RAW: %v", err)
	}
}

// listen opens n listeners on addr that accept and close; they close with the test.
func listen(t *testing.T, addr string, n int) []uint16 {
	t.Helper()
	var ports []uint16
	for range n {
		l, err := net.Listen("tcp", addr+":0")
		if err != nil {
			t.Fatalf("listen on %s: %v", addr, err)
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
		ports = append(ports, uint16(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// freePorts returns n distinct ports on addr that nothing listens on
// (listened on, then closed).
func freePorts(t *testing.T, addr string, n int) []uint16 {
	t.Helper()
	seen := map[uint16]bool{}
	var out []uint16
	for len(out) < n {
		l, err := net.Listen("tcp", addr+":0")
		if err != nil {
			t.Fatal(err)
		}
		if p := uint16(l.Addr().(*net.TCPAddr).Port); !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
		l.Close()
	}
	return out
}

func seq(addr netip.Addr, ports []uint16) iter.Seq2[uint64, ajar.Target] {
	return func(yield func(uint64, ajar.Target) bool) {
		for i, p := range ports {
			if !yield(uint64(i), ajar.Target{Addr: addr, Port: p}) {
				return
			}
		}
	}
}

func TestAvailable(t *testing.T) {
	needRaw(t)
	// Without privileges the answer must say what is missing: run this
	// binary again as nobody, from a copy that nobody may execute.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cp := filepath.Join(dir, "syn.test")
	if err := copyFile(exe, cp); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cp)
	cmd.Env = append(os.Environ(), availableChild+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("as nobody, Available() = nil (%s)", out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("run the test binary as nobody: %v", err)
	}
	if !strings.Contains(string(out), "CAP_NET_RAW") {
		t.Errorf("as nobody, Available() does not say what is missing: %s", out)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestFindsExactlyTheOpenPorts(t *testing.T) {
	needRaw(t)
	const host = "127.0.78.250"
	open := listen(t, host, 40)
	closed := freePorts(t, host, 2000)
	all := append(slices.Clone(open), closed...)
	var got []uint16
	var done atomic.Int64
	st, err := Run(context.Background(), seq(netip.MustParseAddr(host), all), Options{Retries: 1, Wait: time.Second},
		func(f discover.Found) {
			if f.Target.Addr != netip.MustParseAddr(host) {
				t.Errorf("found %s, which was not scanned", f.Target)
			}
			if p := f.Pos; p >= uint64(len(all)) || all[p] != f.Target.Port {
				t.Errorf("found %s at position %d, which holds another target", f.Target, f.Pos)
			}
			got = append(got, f.Target.Port)
		}, func(uint64) { done.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(open)); !slices.Equal(got, want) {
		t.Errorf("open ports: got %v, want %v", got, want)
	}
	if n := done.Load(); n != int64(len(all)) {
		t.Errorf("done called %d times, want %d", n, len(all))
	}
	if st.Open != int64(len(open)) || st.Closed != int64(len(closed)) || st.Dropped != 0 {
		t.Errorf("stats %+v: want %d open, %d closed, 0 dropped", st, len(open), len(closed))
	}
	if st.Sent != int64(len(all))+st.Retried {
		t.Errorf("stats %+v: sent is not targets + retries", st)
	}
}

// fullListener returns the port of a listener on addr whose accept queue
// is full, so that the kernel drops further SYNs without an answer.
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
	for range 2 {
		if c, err := net.DialTimeout("tcp", netip.AddrPortFrom(a, port).String(), 200*time.Millisecond); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return port
}

func TestUnansweredProbeIsRetriedThenGivenUp(t *testing.T) {
	needRaw(t)
	const host = "127.0.78.253"
	silent := fullListener(t, host)
	open := listen(t, host, 3)
	ports := append([]uint16{silent}, open...)
	ports = append(ports, freePorts(t, host, 50)...)
	var done atomic.Int64
	var found []uint16
	const wait = 100 * time.Millisecond
	start := time.Now()
	st, err := Run(context.Background(), seq(netip.MustParseAddr(host), ports), Options{Retries: 2, Wait: wait},
		func(f discover.Found) { found = append(found, f.Target.Port) }, func(uint64) { done.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	// Three tries, each waited for: the scan cannot end sooner.
	if d := time.Since(start); d < 3*wait {
		t.Errorf("the scan gave up after %s, before three waits of %s", d, wait)
	}
	if st.Dropped != 1 || st.Retried != 2 || st.Open != 3 || st.Closed != 50 {
		t.Errorf("stats %+v: want 1 dropped after 2 retries, 3 open, 50 closed", st)
	}
	if slices.Contains(found, silent) || len(found) != 3 {
		t.Errorf("found %v; want the 3 open ports %v", found, open)
	}
	if n := done.Load(); n != int64(len(ports)) {
		t.Errorf("done called %d times, want %d", n, len(ports))
	}
}

func TestRefusesIPv6(t *testing.T) {
	_, err := Run(context.Background(), seq(netip.IPv6Loopback(), []uint16{80}), Options{}, func(discover.Found) {}, nil)
	if !errors.Is(err, ErrNotIPv4) {
		t.Errorf("IPv6 target: error %v, want ErrNotIPv4", err)
	}
}

func TestRateAndCancel(t *testing.T) {
	needRaw(t)
	// 500 probes at 2 000/s cannot settle in less than ~0.24 s: a bound
	// that proves the pacer is in the path. Then a long paced scan must
	// stop promptly when cancelled.
	ports := make([]uint16, 500)
	for i := range ports {
		ports[i] = uint16(20000 + i)
	}
	addr := netip.MustParseAddr("127.0.78.251")
	start := time.Now()
	st, err := Run(context.Background(), seq(addr, ports), Options{Rate: 2000, Wait: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 240*time.Millisecond {
		t.Errorf("500 probes at 2000/s took %s", d)
	}
	if st.Sent != 500 {
		t.Errorf("sent %d, want 500", st.Sent)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	all := make([]uint16, 65535)
	for i := range all {
		all[i] = uint16(i + 1)
	}
	start = time.Now()
	_, err = Run(ctx, seq(addr, all), Options{Rate: 2000}, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled scan returned %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled scan took %s to stop", d)
	}
}

// captureTCPPort counts the IPv4 TCP packets from or to port that pass
// interface ifindex, in or out, with an AF_PACKET socket behind a classic
// BPF filter. The count comes from PACKET_STATISTICS, which is exact.
func captureTCPPort(t *testing.T, ifindex int, port uint16) func() uint32 {
	t.Helper()
	// Protocol 0 receives nothing until bound, so that nothing slips in
	// before the filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open a packet socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	const (
		ldW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ldB   = unix.BPF_LD | unix.BPF_B | unix.BPF_ABS
		ldH   = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
		ldxIH = unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH
		ldHI  = unix.BPF_LD | unix.BPF_H | unix.BPF_IND
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	prog := []unix.SockFilter{
		{Code: ldW, K: skfAdProtocol},               // 0: EtherType
		{Code: jeq, K: unix.ETH_P_IP, Jt: 0, Jf: 9}, // 1
		{Code: ldB, K: 9},                           // 2: IP protocol
		{Code: jeq, K: protoTCP, Jt: 0, Jf: 7},      // 3
		{Code: ldH, K: 6},                           // 4
		{Code: jset, K: 0x1fff, Jt: 5, Jf: 0},       // 5: later fragment
		{Code: ldxIH, K: 0},                         // 6
		{Code: ldHI, K: 0},                          // 7: source port
		{Code: jeq, K: uint32(port), Jt: 2, Jf: 0},  // 8
		{Code: ldHI, K: 2},                          // 9: destination port
		{Code: jeq, K: uint32(port), Jt: 0, Jf: 1},  // 10
		{Code: ret, K: 64},                          // 11
		{Code: ret, K: 0},                           // 12
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		t.Fatalf("attach the capture filter: %v", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		t.Fatalf("bind the packet socket to interface %d: %v", ifindex, err)
	}
	// Reading the statistics resets them.
	if _, err := unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err != nil {
		t.Fatal(err)
	}
	return func() uint32 {
		st, err := unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			t.Fatal(err)
		}
		return st.Packets
	}
}

// skfAdProtocol is SKF_AD_OFF + SKF_AD_PROTOCOL of linux/filter.h: the
// load offset that reads the packet's EtherType, which a SOCK_DGRAM packet
// socket does not show in the data.
const skfAdProtocol = 0xfffff000

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func TestNoPacketLeavesLoopback(t *testing.T) {
	needRaw(t)
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	// The source port, chosen here so that the capture can filter on it.
	port := freePorts(t, "127.0.0.1", 1)[0]
	var outside []string
	counts := map[string]func() uint32{}
	for _, ifc := range ifs {
		counts[ifc.Name] = captureTCPPort(t, ifc.Index, port)
		if ifc.Flags&net.FlagLoopback == 0 {
			outside = append(outside, ifc.Name)
		}
	}
	if len(outside) == 0 {
		t.Log("no interface but loopback: nothing could leave anyway")
	}
	open := listen(t, "127.0.78.252", 5)
	ports := append(freePorts(t, "127.0.78.252", 3000), open...)
	st, err := Run(context.Background(), seq(netip.MustParseAddr("127.0.78.252"), ports),
		Options{Wait: time.Second, SourcePort: port}, func(discover.Found) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Open != int64(len(open)) {
		t.Errorf("found %d open ports, want %d", st.Open, len(open))
	}
	for _, name := range outside {
		if n := counts[name](); n != 0 {
			t.Errorf("%d packets from or to the scan's port %d passed %s", n, port, name)
		}
	}
	// The capture itself works: loopback saw the probes and the answers.
	for name, count := range counts {
		if slices.Contains(outside, name) {
			continue
		}
		if n := count(); n < uint32(len(ports)) {
			t.Errorf("the capture on %s saw %d packets of the scan, want at least %d: it cannot prove anything", name, n, len(ports))
		}
	}
}
