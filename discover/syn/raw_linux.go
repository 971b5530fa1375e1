package syn

import (
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of sendmmsg(2) and recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

// sendmmsg sends the messages of h and returns how many went out. As with
// the system call, an error is returned only when the first one fails.
func sendmmsg(fd int, h []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&h[0])), uintptr(len(h)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// recvmmsg receives up to len(h) messages without waiting.
func recvmmsg(fd int, h []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&h[0])), uintptr(len(h)), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawNeeded explains a refused raw socket.
func rawNeeded(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("open a raw socket: SYN scanning needs root or the CAP_NET_RAW capability (e.g. setcap cap_net_raw+ep on the binary): %w", err)
	}
	return fmt.Errorf("open a raw socket: %w", err)
}

// Available reports whether this process may open the raw sockets a SYN
// scan needs: nil when it may (root or CAP_NET_RAW), otherwise an error
// that says what is missing.
func Available() error {
	for _, proto := range []int{unix.IPPROTO_RAW, unix.IPPROTO_TCP} {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return rawNeeded(err)
		}
		unix.Close(fd)
	}
	return nil
}

func inet4(a netip.Addr, port uint16) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Addr: a.As4(), Port: int(port)}
}

// sourceFor returns the address the kernel would send from to reach dst. A
// connected UDP socket learns it from the routing table without sending
// anything.
func sourceFor(dst netip.Addr) (netip.Addr, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find the source address for %s: %w", dst, err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, inet4(dst, 9)); err != nil {
		return netip.Addr{}, fmt.Errorf("find the source address for %s: %w", dst, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("find the source address for %s: %w", dst, err)
	}
	return netip.AddrFrom4(sa.(*unix.SockaddrInet4).Addr), nil
}

// holdPort binds a TCP socket to src:port (port 0 picks a free one) and
// returns it with the port. The socket never listens: answers to our probes
// find no socket and the kernel resets them, while no local connection can
// take the port meanwhile.
func holdPort(src netip.Addr, port uint16) (int, uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("reserve a source port: %w", err)
	}
	if err := unix.Bind(fd, inet4(src, port)); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("reserve source port %d on %s: %w", port, src, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("reserve a source port: %w", err)
	}
	return fd, uint16(sa.(*unix.SockaddrInet4).Port), nil
}

// openSender returns an IP-level raw socket: we write the IP header, the
// kernel routes the packet (IP_HDRINCL, raw(7)). Bound to lo for a loopback
// scan, so that nothing it sends can leave the machine.
func openSender(loopback bool) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return -1, rawNeeded(err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("set IP_HDRINCL on the send socket: %w", err)
	}
	if loopback {
		if err := unix.BindToDevice(fd, "lo"); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("bind the send socket to lo: %w", err)
		}
	}
	return fd, nil
}

// recvBuffer is the receive queue asked for. The kernel answers loopback
// probes inside the sender's own system call, so answers pile up faster
// than on a wire; the kernel doubles the figure for its bookkeeping.
const recvBuffer = 32 << 20

// snapLen is how much of each answer the filter keeps: the largest IPv4
// header and a TCP header without options.
const snapLen = 60 + 20

// replyFilter is a classic BPF program (bpf(4), filter.txt in the kernel
// documentation) that keeps the TCP segments to sport that carry RST, or
// SYN and ACK, from unfragmented or first-fragment IPv4 packets. It runs on
// the packet from its IP header on.
func replyFilter(sport uint16) []unix.SockFilter {
	const (
		ldB   = unix.BPF_LD | unix.BPF_B | unix.BPF_ABS
		ldH   = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
		ldxIH = unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH
		ldHI  = unix.BPF_LD | unix.BPF_H | unix.BPF_IND
		ldBI  = unix.BPF_LD | unix.BPF_B | unix.BPF_IND
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jset  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		and   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	return []unix.SockFilter{
		{Code: ldB, K: 9},                               // 0: protocol
		{Code: jeq, K: protoTCP, Jt: 0, Jf: 10},         // 1
		{Code: ldH, K: 6},                               // 2: flags, fragment offset
		{Code: jset, K: 0x1fff, Jt: 8, Jf: 0},           // 3: a later fragment
		{Code: ldxIH, K: 0},                             // 4: X = IP header length
		{Code: ldHI, K: 2},                              // 5: TCP destination port
		{Code: jeq, K: uint32(sport), Jt: 0, Jf: 5},     // 6
		{Code: ldBI, K: 13},                             // 7: TCP flags
		{Code: jset, K: flagRST, Jt: 2, Jf: 0},          // 8
		{Code: and, K: flagSYN | flagACK},               // 9
		{Code: jeq, K: flagSYN | flagACK, Jt: 0, Jf: 1}, // 10
		{Code: ret, K: snapLen},                         // 11: keep
		{Code: ret, K: 0},                               // 12: drop
	}
}

// openReceiver returns a non-blocking raw TCP socket that sees, behind
// replyFilter, every answer to src:sport whatever interface it came in on.
// Bound to src, it is not even handed the probes themselves, which a
// loopback scan delivers locally too.
func openReceiver(src netip.Addr, sport uint16) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_TCP)
	if err != nil {
		return -1, rawNeeded(err)
	}
	if err := unix.Bind(fd, inet4(src, 0)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind the receive socket to %s: %w", src, err)
	}
	// SO_RCVBUFFORCE passes rmem_max; it needs CAP_NET_ADMIN, which a
	// CAP_NET_RAW-only process lacks: fall back to what rmem_max allows.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, recvBuffer) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, recvBuffer)
	}
	prog := replyFilter(sport)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("attach the reply filter: %w", err)
	}
	// Whatever arrived before the filter was attached is not ours.
	var b [snapLen]byte
	for {
		if _, _, err := unix.Recvfrom(fd, b[:], unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	return fd, nil
}

// recvDrops returns how many packets the kernel dropped from the socket's
// receive queue (SO_MEMINFO, socket(7)). Some kernels count a drop of a
// raw socket twice.
func recvDrops(fd int) int64 {
	var mem [unix.SK_MEMINFO_VARS]uint32
	l := uint32(unsafe.Sizeof(mem))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&l)), 0)
	if errno != 0 {
		return 0
	}
	return int64(mem[unix.SK_MEMINFO_DROPS])
}
