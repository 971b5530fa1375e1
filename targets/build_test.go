package targets

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// fakeResolve answers from a fixed table; it never touches DNS.
func fakeResolve(_ context.Context, host string) ([]netip.Addr, error) {
	table := map[string][]string{
		"db.example":     {"127.0.10.5", "::1"},
		"db2.example":    {"127.0.10.5", "127.0.10.6"},
		"mapped.example": {"::ffff:127.0.10.7"},
		"lo.example":     {"127.0.0.1"},
		"pub.example":    {"1.2.3.4", "2a00:1450::1"},
		"empty.example":  {},
	}
	addrs, ok := table[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func ranges(s *Space) []string {
	var out []string
	for r := range s.Ranges() {
		out = append(out, r.String())
	}
	return out
}

func TestBuild(t *testing.T) {
	p80 := []uint16{80}
	tests := []struct {
		name      string
		spec      Spec
		want      []string // Ranges
		size      uint64
		wantError string // substring; "EMPTY" for ErrEmpty
	}{
		{name: "one address", spec: Spec{Include: Entries("127.0.10.5"), Ports: p80}, want: []string{"127.0.10.5"}, size: 1},
		{name: "loopback prefix", spec: Spec{Include: Entries("127.0.10.0/24"), Ports: []uint16{80, 443}}, want: []string{"127.0.10.0/24"}, size: 512},
		{
			name: "overlaps and duplicates",
			spec: Spec{Include: Entries("127.0.10.0/25", "127.0.10.64-127.0.10.200", "127.0.10.5", "127.0.10.5"), Ports: p80},
			want: []string{"127.0.10.0-127.0.10.200"}, size: 201,
		},
		{
			name: "adjacent ranges join",
			spec: Spec{Include: Entries("127.0.10.0/25", "127.0.10.128/25", "127.0.12.1"), Ports: p80},
			want: []string{"127.0.10.0/24", "127.0.12.1"}, size: 257,
		},
		{
			name: "user exclusion applies to loopback",
			spec: Spec{Include: Entries("127.0.10.0/24"), Exclude: Entries("127.0.10.128/25", "127.0.10.5"), Ports: p80},
			want: []string{"127.0.10.0-127.0.10.4", "127.0.10.6-127.0.10.127"}, size: 127,
		},
		{name: "everything excluded", spec: Spec{Include: Entries("127.0.10.0/24"), Exclude: Entries("127.0.0.0/8"), Ports: p80}, wantError: "EMPTY"},
		{name: "loopback only when named", spec: Spec{Include: Entries("126.0.0.0/7"), AllowLarge: true, Ports: p80}, want: []string{"126.0.0.0/8"}, size: 1 << 24},
		{name: "private range excluded", spec: Spec{Include: Entries("10.0.0.0/24"), Ports: p80}, wantError: "EMPTY"},
		{name: "documentation excluded", spec: Spec{Include: Entries("192.0.2.0/24", "203.0.113.7"), Ports: p80}, wantError: "EMPTY"},
		{
			name: "no default excludes",
			spec: Spec{Include: Entries("10.0.0.0/8"), Exclude: Entries("10.1.0.0/16"), NoDefaultExcludes: true, Ports: p80},
			want: []string{"10.0.0.0/16", "10.2.0.0-10.255.255.255"}, size: 1<<24 - 1<<16,
		},
		{name: "a /8 is fine", spec: Spec{Include: Entries("1.0.0.0/8"), Ports: p80}, want: []string{"1.0.0.0/8"}, size: 1 << 24},
		{name: "larger than a /8", spec: Spec{Include: Entries("2.0.0.0/7"), Ports: p80}, wantError: `bad target "2.0.0.0/7": 33554432 addresses is more than a /8`},
		{name: "large range", spec: Spec{Include: Entries("1.0.0.0-2.0.0.0"), Ports: p80}, wantError: "more than a /8"},
		{name: "allow large", spec: Spec{Include: Entries("2.0.0.0/7"), AllowLarge: true, Ports: p80}, want: []string{"2.0.0.0/7"}, size: 1 << 25},
		{name: "everything needs the flag", spec: Spec{Include: Entries("0.0.0.0/0"), Ports: p80}, wantError: "more than a /8"},
		{name: "IPv6 loopback", spec: Spec{Include: Entries("::1"), Ports: p80}, want: []string{"::1"}, size: 1},
		{name: "IPv6 documentation", spec: Spec{Include: Entries("2001:db8::/120"), Ports: p80}, wantError: "EMPTY"},
		{name: "IPv6 no default excludes", spec: Spec{Include: Entries("2001:db8::/120"), NoDefaultExcludes: true, Ports: p80}, want: []string{"2001:db8::/120"}, size: 256},
		{name: "IPv6 list limit", spec: Spec{Include: Entries("2a00::/112"), Ports: p80}, want: []string{"2a00::/112"}, size: 1 << 16},
		{name: "IPv6 sweep", spec: Spec{Include: Entries("2a00::/111"), Ports: p80}, wantError: `bad target "2a00::/111": more than 65536 IPv6 addresses`},
		{name: "IPv6 sweep allowed", spec: Spec{Include: Entries("2a00::/111"), AllowLarge: true, Ports: p80}, want: []string{"2a00::/111"}, size: 1 << 17},
		{name: "IPv6 /65", spec: Spec{Include: Entries("2a00::/65"), AllowLarge: true, Ports: p80}, want: []string{"2a00::/65"}, size: 1 << 63},
		{name: "IPv6 /65 two ports", spec: Spec{Include: Entries("2a00::/65"), AllowLarge: true, Ports: []uint16{80, 443}}, wantError: "too many targets"},
		{name: "IPv6 /64", spec: Spec{Include: Entries("2a00::/64"), AllowLarge: true, Ports: p80}, wantError: "too many addresses"},
		{name: "IPv6 everything", spec: Spec{Include: Entries("::/0"), AllowLarge: true, Ports: p80}, wantError: "too many addresses"},
		{name: "mixed families", spec: Spec{Include: Entries("::1", "127.0.10.1"), Ports: p80}, want: []string{"127.0.10.1", "::1"}, size: 2},
		{name: "mapped is IPv4", spec: Spec{Include: Entries("::ffff:127.0.10.1", "127.0.10.1"), Ports: p80}, want: []string{"127.0.10.1"}, size: 1},
		{
			name: "mapped part of an IPv6 range",
			spec: Spec{Include: Entries("::ffff:1.2.3.0-::ffff:1.2.3.255"), Exclude: Entries("::ffff:1.2.3.128/121"), Ports: p80},
			want: []string{"1.2.3.0/25"}, size: 128,
		},
		{
			name: "host names",
			spec: Spec{Include: Entries("pub.example", "1.2.3.5", "pub.example", "mapped.example"), Resolve: fakeResolve, Ports: p80},
			want: []string{"1.2.3.4/31", "2a00:1450::1"}, size: 3,
		},
		{
			name: "host names reach loopback only when it is named",
			spec: Spec{Include: Entries("db.example", "db2.example", "mapped.example", "127.0.10.6"), Resolve: fakeResolve, Ports: p80},
			want: []string{"127.0.10.6"}, size: 1,
		},
		{name: "host resolving to loopback is not explicit", spec: Spec{Include: Entries("lo.example"), Resolve: fakeResolve, Ports: p80}, wantError: "EMPTY"},
		{name: "host without resolver", spec: Spec{Include: Entries("db.example"), Ports: p80}, wantError: `bad target "db.example": host names need a resolver`},
		{name: "host not found", spec: Spec{Include: Entries("nx.example"), Resolve: fakeResolve, Ports: p80}, wantError: `bad target "nx.example": resolve nx.example: no such host`},
		{name: "host without addresses", spec: Spec{Include: Entries("empty.example"), Resolve: fakeResolve, Ports: p80}, wantError: "no addresses"},
		{name: "no targets", spec: Spec{Ports: p80}, wantError: "no targets given"},
		{name: "no ports", spec: Spec{Include: Entries("127.0.10.5")}, wantError: "no ports given"},
		{name: "port 0", spec: Spec{Include: Entries("127.0.10.5"), Ports: []uint16{0}}, wantError: "bad port 0"},
		{name: "bad include", spec: Spec{Include: Entries("127.0.10.300"), Ports: p80}, wantError: `bad target "127.0.10.300"`},
		{
			name:      "bad include in a file",
			spec:      Spec{Include: []Entry{{Value: "127.0.10.0/4", File: "t.txt", Line: 7}}, Ports: p80},
			wantError: `t.txt:7: bad target "127.0.10.0/4": 268435456 addresses is more than a /8`,
		},
		{
			name:      "host exclusion",
			spec:      Spec{Include: Entries("127.0.10.5"), Exclude: []Entry{{Value: "db.example", File: "ex.txt", Line: 3}}, Ports: p80},
			wantError: `ex.txt:3: bad exclusion "db.example": host names cannot be excluded`,
		},
		{name: "bad exclusion", spec: Spec{Include: Entries("127.0.10.5"), Exclude: Entries("127.0.10.0/40"), Ports: p80}, wantError: `bad exclusion: bad target "127.0.10.0/40"`},
		{
			name: "port exclusions",
			spec: Spec{Include: Entries("127.0.10.0/30"), Ports: []uint16{80, 443, 6379, 8000, 8080}, ExcludePorts: []string{"443", "8000-8100"}},
			want: []string{"127.0.10.0/30"}, size: 8,
		},
		{
			name: "service exclusions",
			spec: Spec{
				Include: Entries("127.0.10.0/30", "::1"), Ports: []uint16{80, 6379},
				ExcludePorts: []string{"127.0.10.1:6379", "[::1]:80", "[::ffff:127.0.10.2]:80", "127.0.10.1:6379", "127.0.99.1:80", "127.0.10.1:443"},
			},
			want: []string{"127.0.10.0/30", "::1"}, size: 10 - 3,
		},
		{name: "every port excluded", spec: Spec{Include: Entries("127.0.10.5"), Ports: []uint16{80, 443}, ExcludePorts: []string{"1-1000"}}, wantError: "every port is excluded"},
		{name: "every service excluded", spec: Spec{Include: Entries("127.0.10.5"), Ports: p80, ExcludePorts: []string{"127.0.10.5:80"}}, wantError: "EMPTY"},
		{name: "bad port exclusion", spec: Spec{Include: Entries("127.0.10.5"), Ports: p80, ExcludePorts: []string{"::1"}}, wantError: `bad port exclusion "::1"`},
		{name: "port 0 exclusion", spec: Spec{Include: Entries("127.0.10.5"), Ports: p80, ExcludePorts: []string{"127.0.10.5:0"}}, wantError: `bad port exclusion "127.0.10.5:0"`},
		{name: "port range exclusion", spec: Spec{Include: Entries("127.0.10.5"), Ports: p80, ExcludePorts: []string{"90-80"}}, wantError: "range ends before it starts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Build(t.Context(), tt.spec)
			switch {
			case tt.wantError == "EMPTY":
				if !errors.Is(err, ErrEmpty) {
					t.Fatalf("Build error = %v, want ErrEmpty", err)
				}
				return
			case tt.wantError != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("Build error = %v, want one containing %q", err, tt.wantError)
				}
				if errors.Is(err, ErrEmpty) && !strings.Contains(tt.wantError, "excluded") {
					t.Errorf("usage error %v wraps ErrEmpty", err)
				}
				return
			case err != nil:
				t.Fatalf("Build: %v", err)
			}
			if got := ranges(s); !slices.Equal(got, tt.want) {
				t.Errorf("ranges = %v, want %v", got, tt.want)
			}
			if s.Size() != tt.size {
				t.Errorf("Size = %d, want %d", s.Size(), tt.size)
			}
			if s.Addresses()*uint64(len(s.Ports())) < s.Size() {
				t.Errorf("Addresses %d × ports %d < Size %d", s.Addresses(), len(s.Ports()), s.Size())
			}
		})
	}
}

func TestBuildPortExclusions(t *testing.T) {
	s, err := Build(t.Context(), Spec{
		Include: Entries("127.0.10.0/30"), Ports: []uint16{80, 443, 6379, 8000, 8080},
		ExcludePorts: []string{"443", "8000-8100,9000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Ports(); !slices.Equal(got, []uint16{80, 6379}) {
		t.Errorf("Ports = %v", got)
	}
}

func TestBuildCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Build(ctx, Spec{Include: Entries("db.example"), Resolve: fakeResolve, Ports: []uint16{80}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Build with a cancelled context: %v", err)
	}
}

// TestBuildEverything checks that 0.0.0.0/0 keeps loopback and the reserved
// ranges out, and that naming a loopback address brings it back.
func TestBuildEverything(t *testing.T) {
	s, err := Build(t.Context(), Spec{Include: Entries("0.0.0.0/0", "127.0.0.1", "::1"), AllowLarge: true, Ports: []uint16{80}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		in   bool
	}{
		{"1.1.1.1", true}, {"8.8.8.8", true}, {"126.255.255.255", true}, {"128.0.0.0", true},
		{"223.255.255.255", true}, {"192.0.3.1", true}, {"100.63.255.255", true}, {"100.128.0.0", true},
		{"127.0.0.1", true}, {"::1", true},
		{"127.0.0.2", false}, {"127.255.255.255", false}, {"0.1.2.3", false}, {"10.9.9.9", false},
		{"100.64.0.1", false}, {"169.254.1.1", false}, {"172.16.0.1", false}, {"172.31.255.255", false},
		{"192.0.0.9", false}, {"192.0.2.1", false}, {"192.88.99.1", false}, {"192.168.1.1", false},
		{"198.18.0.1", false}, {"198.19.255.255", false}, {"198.51.100.1", false}, {"203.0.113.1", false},
		{"224.0.0.1", false}, {"239.255.255.255", false}, {"240.0.0.1", false}, {"255.255.255.255", false},
	}
	for _, tt := range tests {
		if got := s.containsAddr(netip.MustParseAddr(tt.addr)); got != tt.in {
			t.Errorf("%s in space = %v, want %v", tt.addr, got, tt.in)
		}
	}
	var reserved4 []span
	for _, p := range DefaultExcludes() {
		if p.Addr().Is4() {
			reserved4 = append(reserved4, spanOf(p))
		}
	}
	var reserved uint64
	for _, sp := range merge(reserved4) { // 255.255.255.255 lies in 240/4
		n, _ := sp.count()
		reserved += n
	}
	if want := 1<<32 - reserved + 1 + 1; s.Size() != want {
		t.Errorf("Size = %d, want %d", s.Size(), want)
	}
}

func TestDefaultExcludes(t *testing.T) {
	for _, p := range DefaultExcludes() {
		if p != p.Masked() {
			t.Errorf("%v is not masked", p)
		}
		if p == netip.MustParsePrefix("::ffff:0:0/96") {
			continue // that is the IPv4 space, tested above
		}
		t.Run(p.String(), func(t *testing.T) {
			s, err := Build(t.Context(), Spec{Include: Entries(p.String()), AllowLarge: true, Ports: []uint16{80}})
			loop := p.String() == "127.0.0.0/8" || p.String() == "::1/128"
			if loop {
				if err != nil || s.Addresses() != 1<<(p.Addr().BitLen()-p.Bits()) {
					t.Fatalf("named loopback %v: %v", p, err)
				}
				return
			}
			if !errors.Is(err, ErrEmpty) {
				t.Errorf("Build(%v) error = %v, want ErrEmpty", p, err)
			}
			// A single address inside is excluded too.
			a := p.Addr().Next()
			if !p.Contains(a) {
				a = p.Addr()
			}
			if _, err := Build(t.Context(), Spec{Include: Entries(a.String()), Ports: []uint16{80}}); !errors.Is(err, ErrEmpty) {
				t.Errorf("Build(%v) error = %v, want ErrEmpty", a, err)
			}
		})
	}
}

func TestHostNames(t *testing.T) {
	s, err := Build(t.Context(), Spec{
		Include: Entries("127.0.10.5", "db.example", "db2.example", "lo.example", "127.0.10.9", "::1", "pub.example"),
		Resolve: fakeResolve, Ports: []uint16{80},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range s.Walk(WalkOptions{}) {
		got[tg.String()] = tg.Host
	}
	// 127.0.10.6 and 127.0.0.1 come only from names: loopback stays out.
	want := map[string]string{
		"127.0.10.5:80":     "db.example", // the first name that reaches it
		"127.0.10.9:80":     "",
		"[::1]:80":          "db.example",
		"1.2.3.4:80":        "pub.example",
		"[2a00:1450::1]:80": "pub.example",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("targets = %v, want %v", got, want)
	}
}
