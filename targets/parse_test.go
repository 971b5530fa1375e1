package targets

import (
	"slices"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in        string
		want      string // Range.String(), or the host name
		host      bool
		wantError string
	}{
		{in: "127.0.10.5", want: "127.0.10.5"},
		{in: " 127.0.10.5\t", want: "127.0.10.5"},
		{in: "127.0.10.0/24", want: "127.0.10.0/24"},
		{in: "127.0.10.77/24", want: "127.0.10.0/24"}, // host bits ignored
		{in: "127.0.10.1-127.0.10.9", want: "127.0.10.1-127.0.10.9"},
		{in: "127.0.10.0-127.0.10.255", want: "127.0.10.0/24"},
		{in: "127.0.10.5-127.0.10.5", want: "127.0.10.5"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "::1", want: "::1"},
		{in: "2001:db8::/120", want: "2001:db8::/120"},
		{in: "2001:db8::1-2001:db8::ff", want: "2001:db8::1-2001:db8::ff"},
		{in: "::/0", want: "::/0"},
		{in: "::ffff:127.0.10.5", want: "127.0.10.5"},
		{in: "::ffff:127.0.10.0/120", want: "127.0.10.0/24"},
		{in: "::ffff:127.0.10.1-::ffff:127.0.10.3", want: "127.0.10.1-127.0.10.3"},
		{in: "db.example.com", want: "db.example.com", host: true},
		{in: "DB.Example.COM.", want: "db.example.com", host: true},
		{in: "localhost", want: "localhost", host: true},
		{in: "my-host_1.example", want: "my-host_1.example", host: true},
		{in: "x1.example-1", want: "x1.example-1", host: true},

		{in: "127.0.10.300", wantError: `bad target "127.0.10.300": ParseAddr`},
		{in: "127.0.10", wantError: `bad target "127.0.10": ParseAddr`},
		{in: "127.0.10.0/33", wantError: `bad target "127.0.10.0/33":`},
		{in: "127.0.10.9-127.0.10.1", wantError: "range ends before it starts"},
		{in: "127.0.10.1-9", wantError: "end of range"},
		{in: "127.0.10.1-::1", wantError: "mixes IPv4 and IPv6"},
		{in: "fe80::1%eth0", wantError: "zones are not supported"},
		{in: "fe80::1%eth0-fe80::2", wantError: "zones are not supported"},
		{in: "::1::2", wantError: `bad target "::1::2": ParseAddr`},
		{in: "", wantError: `bad target "": empty`},
		{in: "   ", wantError: "empty"},
		{in: "db..example", wantError: "not an IP address, prefix, range or host name"},
		{in: "-db.example", wantError: "not an IP address"},
		{in: "db example", wantError: "not an IP address"},
		{in: "db.example/24", wantError: `bad target "db.example/24":`},
		{in: strings.Repeat("a", 64) + ".example", wantError: "not an IP address"},
		{in: "http://db.example", wantError: `bad target "http://db.example"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, host, err := ParseTarget(tt.in)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("ParseTarget(%q) error = %v, want one containing %q", tt.in, err, tt.wantError)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTarget(%q): %v", tt.in, err)
			}
			got := r.String()
			if tt.host {
				got = host
				if r.First.IsValid() {
					t.Errorf("host name also returned range %v", r)
				}
			} else if host != "" {
				t.Errorf("range also returned host %q", host)
			}
			if got != tt.want {
				t.Errorf("ParseTarget(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePorts(t *testing.T) {
	named := map[string][]uint16{"data": {6379, 9200, 27017, 3306}, "web": {80, 443}, "bad": {0}}
	tests := []struct {
		in        string
		want      []uint16
		wantError string
	}{
		{in: "80", want: []uint16{80}},
		{in: "443,80,80", want: []uint16{80, 443}},
		{in: " 80 , 443 ", want: []uint16{80, 443}},
		{in: "8000-8003,8002", want: []uint16{8000, 8001, 8002, 8003}},
		{in: "65535", want: []uint16{65535}},
		{in: "65534-65535", want: []uint16{65534, 65535}},
		{in: "7-7", want: []uint16{7}},
		{in: "data,web,9200", want: []uint16{80, 443, 3306, 6379, 9200, 27017}},
		{in: "WEB", want: []uint16{80, 443}},

		{in: "", wantError: "bad port list: empty"},
		{in: "0", wantError: `bad port "0" in "0": "0" is not a port number from 1 to 65535`},
		{in: "80,65536", wantError: `bad port "65536" in "80,65536"`},
		{in: "80,,443", wantError: `bad port "" in "80,,443": empty item`},
		{in: "80,", wantError: "empty item"},
		{in: "8100-8000", wantError: `bad port "8100-8000" in "8100-8000": range ends before it starts`},
		{in: "80-", wantError: `bad port "80-"`},
		{in: "1-2-3", wantError: `bad port "1-2-3"`},
		{in: "-5", wantError: `bad port "-5" in "-5": unknown port set`},
		{in: "dta", wantError: `bad port "dta" in "dta": unknown port set`},
		{in: "bad", wantError: "port set holds port 0"},
		{in: "+80", wantError: `bad port "+80"`},
		{in: "99999999999999999999", wantError: "not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePorts(tt.in, named)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("ParsePorts(%q) error = %v, want one containing %q", tt.in, err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePorts(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParsePorts(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	all, err := ParsePorts("1-65535", nil)
	if err != nil || len(all) != 65535 || all[0] != 1 || all[65534] != 65535 {
		t.Errorf("ParsePorts(1-65535) = %d ports, %v", len(all), err)
	}
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		in        string
		i, n      int
		wantError string
	}{
		{in: "1/1", i: 1, n: 1},
		{in: "1/4", i: 1, n: 4},
		{in: "4/4", i: 4, n: 4},
		{in: " 2/3 ", i: 2, n: 3},
		{in: "3/2", wantError: `bad shard "3/2": shard 3 of 2 does not exist`},
		{in: "0/4", wantError: `bad shard "0/4": shard 0 of 4`},
		{in: "1/0", wantError: "shard 1 of 0"},
		{in: "-1/4", wantError: "does not exist"},
		{in: "1", wantError: `bad shard "1": want i/n`},
		{in: "", wantError: "want i/n"},
		{in: "a/b", wantError: "want i/n"},
		{in: "1/4/2", wantError: "want i/n"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			i, n, err := ParseShard(tt.in)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("ParseShard(%q) error = %v, want one containing %q", tt.in, err, tt.wantError)
				}
				return
			}
			if err != nil || i != tt.i || n != tt.n {
				t.Errorf("ParseShard(%q) = %d, %d, %v; want %d, %d", tt.in, i, n, err, tt.i, tt.n)
			}
		})
	}
}
