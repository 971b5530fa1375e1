package ftp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parsePASV reads the address of a 227 reply (RFC 959 §4.1.2, PASV):
// "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)". The parentheses are
// customary, not required, so the six numbers are looked for anywhere.
// The address is returned for the record only: the probe connects to the
// target's own address whatever the server names.
func parsePASV(text string) (netip.Addr, uint16, error) {
	start := strings.IndexAny(text, "0123456789")
	for start >= 0 && start < len(text) {
		end := start
		for end < len(text) && (text[end] >= '0' && text[end] <= '9' || text[end] == ',' || text[end] == ' ') {
			end++
		}
		if nums, ok := sixNumbers(text[start:end]); ok {
			ip := netip.AddrFrom4([4]byte{nums[0], nums[1], nums[2], nums[3]})
			port := uint16(nums[4])<<8 | uint16(nums[5])
			if port == 0 {
				return ip, 0, fmt.Errorf("PASV port 0 in %q: %w", clip([]byte(text), 80), ErrProtocol)
			}
			return ip, port, nil
		}
		next := strings.IndexAny(text[end:], "0123456789")
		if next < 0 {
			break
		}
		start = end + next
	}
	return netip.Addr{}, 0, fmt.Errorf("no address in PASV reply %q: %w", clip([]byte(text), 80), ErrProtocol)
}

// sixNumbers parses "a,b,c,d,e,f" of bytes.
func sixNumbers(s string) ([6]byte, bool) {
	var out [6]byte
	parts := strings.Split(strings.ReplaceAll(s, " ", ""), ",")
	if len(parts) != 6 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return out, false
		}
		out[i] = byte(n)
	}
	return out, true
}

// parseEPSV reads the port of a 229 reply (RFC 2428 §3):
// "229 Entering Extended Passive Mode (|||6446|)". The delimiter is the
// character after "(", and the network address fields are empty: EPSV never
// names another host.
func parseEPSV(text string) (uint16, error) {
	open := strings.IndexByte(text, '(')
	if open < 0 || open+1 >= len(text) {
		return 0, fmt.Errorf("no ( in EPSV reply %q: %w", clip([]byte(text), 80), ErrProtocol)
	}
	d := text[open+1]
	if d < 33 || d > 126 {
		return 0, fmt.Errorf("EPSV delimiter %q: %w", d, ErrProtocol)
	}
	rest := text[open+1:]
	parts := strings.SplitN(rest, string(d), 5)
	if len(parts) != 5 || parts[1] != "" || parts[2] != "" || !strings.HasPrefix(parts[4], ")") {
		return 0, fmt.Errorf("malformed EPSV reply %q: %w", clip([]byte(text), 80), ErrProtocol)
	}
	n, err := strconv.ParseUint(parts[3], 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("EPSV port %q: %w", clip([]byte(parts[3]), 16), ErrProtocol)
	}
	return uint16(n), nil
}

// parsePWD reads the directory of a 257 reply (RFC 959 §7, "257
// "/usr/dm" created."): the quoted name, where a doubled quote is a quote.
func parsePWD(text string) (string, bool) {
	i := strings.IndexByte(text, '"')
	if i < 0 {
		return "", false
	}
	var b strings.Builder
	for j := i + 1; j < len(text); j++ {
		if text[j] != '"' {
			b.WriteByte(text[j])
			continue
		}
		if j+1 < len(text) && text[j+1] == '"' {
			b.WriteByte('"')
			j++
			continue
		}
		return b.String(), true
	}
	return "", false
}
