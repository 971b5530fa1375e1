package targets

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"127.0.10.5", "127.0.10.0/24", "127.0.10.1-127.0.10.9", "::1", "2001:db8::/120",
		"::ffff:127.0.10.0/120", "db.example.com.", "127.0.10.300", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, host, err := ParseTarget(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad target ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line naming the target", err)
			}
			return
		}
		if host != "" {
			if r != (Range{}) || !isHostName(host) || host != strings.ToLower(host) {
				t.Fatalf("ParseTarget(%q) = %v, %q", s, r, host)
			}
			if _, again, err := ParseTarget(host); err != nil || again != host {
				t.Fatalf("host %q parses again as %q, %v", host, again, err)
			}
			return
		}
		// A range wholly inside ::ffff:0:0/96 is returned as IPv4; Build
		// unmaps the mapped part of a wider IPv6 range.
		if !r.First.IsValid() || r.First.Is4() != r.Last.Is4() || r.Last.Less(r.First) ||
			r.First.Is4In6() && r.Last.Is4In6() || r.First.Zone() != "" || r.Last.Zone() != "" {
			t.Fatalf("ParseTarget(%q) = bad range %v-%v", s, r.First, r.Last)
		}
		again, _, err := ParseTarget(r.String())
		if err != nil || again != r {
			t.Fatalf("range %v renders as %q, which parses as %v, %v", r, r.String(), again, err)
		}
	})
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"80", "80,443,8000-8100,data", "1-65535", "0", "65536", "8100-8000", "80,,443", "web"} {
		f.Add(s)
	}
	named := map[string][]uint16{"data": {6379, 9200, 27017}, "web": {80, 443}}
	f.Fuzz(func(t *testing.T, s string) {
		ports, err := ParsePorts(s, named)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad port") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line naming the port", err)
			}
			return
		}
		if len(ports) == 0 || ports[0] == 0 {
			t.Fatalf("ParsePorts(%q) = %v", s, ports)
		}
		for i := 1; i < len(ports); i++ {
			if ports[i] <= ports[i-1] {
				t.Fatalf("ParsePorts(%q) = %v: not sorted and unique", s, ports)
			}
		}
		var parts []string
		for _, p := range ports {
			parts = append(parts, strconv.Itoa(int(p)))
		}
		again, err := ParsePorts(strings.Join(parts, ","), nil)
		if err != nil || !slices.Equal(again, ports) {
			t.Fatalf("%v does not parse back: %v, %v", ports, again, err)
		}
	})
}

func FuzzReadList(f *testing.F) {
	f.Add([]byte("# lab\n127.0.10.5\n\n127.0.10.0/24 # net\r\n"))
	f.Add([]byte("127.0.10.5\n127.0.10.300\n"))
	f.Add([]byte("\uFEFFdb.example\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ReadList(bytes.NewReader(b), "f.txt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.txt:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		last := 0
		for _, e := range entries {
			if e.Line <= last || e.File != "f.txt" || e.Value == "" || strings.ContainsAny(e.Value, "#\n") {
				t.Fatalf("bad entry %+v after line %d", e, last)
			}
			last = e.Line
			if _, _, err := ParseTarget(e.Value); err != nil {
				t.Fatalf("entry %+v does not parse: %v", e, err)
			}
		}
	})
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/4", "4/4", "3/2", "0/4", "1/0", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, n, err := ParseShard(s)
		if err == nil && (i < 1 || i > n) {
			t.Fatalf("ParseShard(%q) = %d, %d", s, i, n)
		}
	})
}
