package probe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ajar-scan/ajar"
)

type fake struct {
	name  string
	ports []uint16
}

func (f fake) Name() string           { return f.name }
func (f fake) Protocols() []string    { return []string{"fake-" + f.name} }
func (f fake) DefaultPorts() []uint16 { return f.ports }
func (f fake) Probe(context.Context, *Target) (*Result, error) {
	return &Result{Status: ajar.StatusOpen}, nil
}

func TestRegister(t *testing.T) {
	Register(fake{name: "zz-test-a", ports: []uint16{65001, 65000}})
	Register(fake{name: "zz-test-b", ports: []uint16{65000}})
	if _, ok := Get("zz-test-a"); !ok {
		t.Fatal("registered prober not found")
	}
	if got := ForProtocol("fake-zz-test-b"); len(got) != 1 || got[0].Name() != "zz-test-b" {
		t.Fatalf("ForProtocol = %v", got)
	}
	ports := DataPorts()
	if !slices.IsSorted(ports) || len(slices.Compact(slices.Clone(ports))) != len(ports) || !slices.Contains(ports, 65001) {
		t.Errorf("DataPorts not sorted, unique and complete: %v", ports)
	}
	for _, p := range []Prober{fake{name: ""}, fake{name: "zz-test-a"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", p.Name())
				}
			}()
			Register(p)
		}()
	}
}

func TestDialerRefusesOtherAddresses(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.20.80:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write(make([]byte, 1<<20))
			c.Close()
		}
	}()
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	d := &TargetDialer{Target: ajar.Target{Addr: ap.Addr(), Port: ap.Port()}, Timeout: time.Second, ReadCap: 1000}
	ctx := context.Background()
	for _, addr := range []string{"127.0.20.81:" + itoa(ap.Port()), "127.0.20.80:1", "localhost:" + itoa(ap.Port()), "db.example.com:5432"} {
		if _, err := d.DialAddr(ctx, "tcp", addr); !errors.Is(err, ErrNotTarget) {
			t.Errorf("DialAddr(%s) = %v, want ErrNotTarget", addr, err)
		}
	}
	if _, err := d.DialAddr(ctx, "unix", "/tmp/x"); !errors.Is(err, ErrNotTarget) {
		t.Errorf("DialAddr(unix) = %v", err)
	}
	c, err := d.DialAddr(ctx, "tcp", netip.AddrPortFrom(ap.Addr(), ap.Port()).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	total := 0
	for {
		n, err := c.Read(buf)
		total += n
		if err != nil {
			if !errors.Is(err, ErrReadCap) {
				t.Errorf("read ended with %v, want ErrReadCap", err)
			}
			break
		}
	}
	if total != 1000 {
		t.Errorf("read %d bytes through a cap of 1000", total)
	}
}

func itoa(p uint16) string { return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[8:] }
