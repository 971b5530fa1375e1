package syn

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestDestination(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		loopback bool
		want     uint32
		err      error // nil: accepted; errAny: some error
	}{
		{"127.0.78.1", true, 0x7f004e01, nil},
		{"::ffff:127.0.78.1", true, 0x7f004e01, nil},
		{"127.255.255.254", true, 0x7ffffffe, nil},
		{"192.0.2.1", false, 0xc0000201, nil},
		{"192.0.2.1", true, 0, ErrMixed},
		{"127.0.0.1", false, 0, ErrMixed},
		{"::1", true, 0, ErrNotIPv4},
		{"2001:db8::1", false, 0, ErrNotIPv4},
		{"0.0.0.0", false, 0, errAny},
		{"224.0.0.1", false, 0, errAny},
		{"255.255.255.255", false, 0, errAny},
	} {
		got, err := destination(netip.MustParseAddr(tc.addr), tc.loopback)
		switch {
		case tc.err == nil && err != nil:
			t.Errorf("%s: %v", tc.addr, err)
		case tc.err == nil && got != tc.want:
			t.Errorf("%s = %#x, want %#x", tc.addr, got, tc.want)
		case tc.err == errAny && err == nil, tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
			t.Errorf("%s (loopback scan %v): error %v, want %v", tc.addr, tc.loopback, err, tc.err)
		}
		if err == nil && addrOf(got) != netip.MustParseAddr(tc.addr).Unmap() {
			t.Errorf("addrOf(%#x) = %s", got, addrOf(got))
		}
	}
}

var errAny = errors.New("any error")

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		o  Options
		ok bool
	}{
		{Options{}, true},
		{DefaultOptions(), true},
		{Options{Rate: 300000, Retries: 2, Wait: time.Second, Senders: 4}, true},
		{Options{Rate: -1}, false},
		{Options{Retries: -1}, false},
		{Options{Retries: 101}, false},
		{Options{Wait: -time.Second}, false},
		{Options{Senders: -1}, false},
		{Options{Senders: 65}, false},
	} {
		if err := tc.o.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v", tc.o, err)
		}
	}
}
