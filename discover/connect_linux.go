package discover

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inlineConnect says that begin can settle an attempt inside the connect
// call, so that the scanner's drivers make attempts themselves.
const inlineConnect = true

// connect tries one TCP handshake with ap and reports whether it completed.
// It uses the socket calls directly: on loopback, and often on a LAN, the
// kernel settles the handshake inside connect(2), so the answer is read at
// once without the poller, a goroutine switch, a timer or an allocation.
// Only a handshake still in flight waits, on the runtime's poller, until
// timeout or ctx ends. An open port is closed with a reset (SO_LINGER 0):
// nothing more reaches the service and no TIME_WAIT is left behind.
func connect(ctx context.Context, ap netip.AddrPort, timeout time.Duration) (bool, error) {
	start := time.Now()
	fd, open, err := begin(ap, nil)
	if fd >= 0 {
		return wait(ctx, fd, start.Add(timeout))
	}
	if err == errZone {
		return dialConnect(ctx, ap, timeout)
	}
	return open, err
}

// spareSockets keeps one idle socket per address family for a goroutine
// that makes many attempts: a TCP socket whose connect failed can connect
// again once disconnected, which costs less than a new socket and a close.
type spareSockets struct{ v4, v6 int }

func newSpareSockets() *spareSockets { return &spareSockets{v4: -1, v6: -1} }

func (s *spareSockets) slot(family int) *int {
	if family == unix.AF_INET {
		return &s.v4
	}
	return &s.v6
}

// take returns the idle socket of family, or a new one.
func (s *spareSockets) take(family int) (int, error) {
	if s != nil {
		if p := s.slot(family); *p >= 0 {
			fd := *p
			*p = -1
			return fd, nil
		}
	}
	return unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// keep disconnects fd, whose connect failed, and keeps it for the next
// attempt; it closes fd when it cannot.
func (s *spareSockets) keep(fd, family int) {
	if s == nil || disconnect(fd) != nil || *s.slot(family) >= 0 {
		unix.Close(fd)
		return
	}
	*s.slot(family) = fd
}

// close closes the idle sockets.
func (s *spareSockets) close() {
	for _, fd := range []int{s.v4, s.v6} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	s.v4, s.v6 = -1, -1
}

// disconnect dissolves fd's association so that it may connect again: a
// connect to an address of family AF_UNSPEC (connect(2)).
func disconnect(fd int) error {
	sa := unix.RawSockaddr{Family: unix.AF_UNSPEC}
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if errno != 0 {
		return errno
	}
	return nil
}

// begin starts a handshake with ap on a non-blocking socket, taken from
// spare when it is not nil. When the handshake settles at once it returns
// fd −1 and the outcome; otherwise it returns the socket, for wait.
func begin(ap netip.AddrPort, spare *spareSockets) (fd int, open bool, err error) {
	var sa unix.Sockaddr
	family := unix.AF_INET
	if a := ap.Addr(); a.Is4() || a.Is4In6() {
		sa = &unix.SockaddrInet4{Addr: a.Unmap().As4(), Port: int(ap.Port())}
	} else {
		if a.Zone() != "" {
			return -1, false, errZone
		}
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Addr: a.As16(), Port: int(ap.Port())}
	}
	if fd, err = spare.take(family); err != nil {
		return -1, false, err
	}
	err = unix.Connect(fd, sa)
	if err == unix.EINPROGRESS {
		var done bool
		if done, err = settled(fd); !done {
			return fd, false, nil
		}
	}
	if err != nil {
		spare.keep(fd, family)
		return -1, false, err
	}
	reset(fd)
	unix.Close(fd)
	return -1, true, nil
}

// settled reports whether the handshake on fd is over, and its error. A
// pending error (SO_ERROR) means refused or unreachable; a peer name means
// connected; neither means the SYN is still unanswered.
func settled(fd int) (bool, error) {
	if e, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil {
		return true, err
	} else if e != 0 {
		return true, unix.Errno(e)
	}
	if _, err := unix.Getpeername(fd); err != nil {
		if err == unix.ENOTCONN {
			return false, nil
		}
		return true, err
	}
	return true, nil
}

// wait hands fd, from begin, to the poller and waits until the handshake
// settles, deadline passes or ctx ends. It closes fd.
func wait(ctx context.Context, fd int, deadline time.Time) (bool, error) {
	f := os.NewFile(uintptr(fd), "connect")
	defer f.Close()
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := f.SetWriteDeadline(deadline); err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var cerr error
	werr := rc.Write(func(fd uintptr) bool {
		var done bool
		done, cerr = settled(int(fd))
		return done
	})
	if errors.Is(werr, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		// Look once more: a handshake that settled while this goroutine
		// waited for the CPU is not a timeout.
		_ = rc.Control(func(fd uintptr) {
			var done bool
			if done, cerr = settled(int(fd)); done {
				werr = nil
			}
		})
	}
	if werr != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if errors.Is(werr, os.ErrDeadlineExceeded) {
			return false, context.DeadlineExceeded
		}
		return false, werr
	}
	if cerr != nil {
		return false, cerr
	}
	_ = rc.Control(func(fd uintptr) { reset(int(fd)) })
	return true, nil
}

// reset sets SO_LINGER to zero so that closing fd sends a reset.
func reset(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}
