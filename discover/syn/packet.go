package syn

import "encoding/binary"

// A probe is an IPv4 header (RFC 791 §3.1) and a TCP header (RFC 9293
// §3.1) carrying one option, the MSS: some middleboxes drop SYNs without
// options.
const (
	ipHeaderLen  = 20
	tcpHeaderLen = 24
	probeLen     = ipHeaderLen + tcpHeaderLen

	protoTCP = 6
	ttl      = 64
	mss      = 1460
	window   = 65535
)

// TCP flags (RFC 9293 §3.1).
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// probe names one packet to send.
type probe struct {
	dst  uint32 // IPv4 address, host order
	port uint16
}

func (p probe) key() uint64 { return uint64(p.dst)<<16 | uint64(p.port) }

// onesSum adds b as big-endian 16-bit words to sum, without folding
// (RFC 1071 §4.1).
func onesSum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// fold turns a sum of 16-bit words into the one's complement checksum.
func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// putSYN writes the SYN from src:sport to dst:dport with sequence number
// seq into b, which holds at least probeLen bytes, checksums included.
func putSYN(b []byte, src, dst uint32, sport, dport uint16, seq uint32) {
	b = b[:probeLen]
	ip, tcp := b[:ipHeaderLen], b[ipHeaderLen:]
	// RFC 791 §3.1: version 4, five-word header, no options.
	ip[0] = 0x45
	ip[1] = 0
	binary.BigEndian.PutUint16(ip[2:], probeLen)
	// The identification field only matters for fragments, and the probe
	// is sent with Don't Fragment; varying it still defeats naive filters.
	binary.BigEndian.PutUint16(ip[4:], uint16(seq>>16)^uint16(seq))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8] = ttl
	ip[9] = protoTCP
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint32(ip[12:], src)
	binary.BigEndian.PutUint32(ip[16:], dst)
	binary.BigEndian.PutUint16(ip[10:], fold(onesSum(0, ip)))

	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], 0)
	tcp[12] = (tcpHeaderLen / 4) << 4
	tcp[13] = flagSYN
	binary.BigEndian.PutUint16(tcp[14:], window)
	tcp[16], tcp[17] = 0, 0
	binary.BigEndian.PutUint16(tcp[18:], 0)
	// RFC 9293 §3.2: kind 2, length 4, maximum segment size.
	tcp[20], tcp[21] = 2, 4
	binary.BigEndian.PutUint16(tcp[22:], mss)
	binary.BigEndian.PutUint16(tcp[16:], fold(onesSum(pseudoSum(src, dst, tcpHeaderLen), tcp)))
}

// pseudoSum is the sum of the TCP pseudo-header (RFC 9293 §3.1).
func pseudoSum(src, dst uint32, tcpLen int) uint32 {
	return src>>16 + src&0xffff + dst>>16 + dst&0xffff + protoTCP + uint32(tcpLen)
}

// reply is the part of a received IPv4/TCP packet that the scan reads.
type reply struct {
	src, dst     uint32 // addresses, host order
	sport, dport uint16 // sport is the port that was probed
	seq, ack     uint32
	flags        uint8
}

// parseReply reads an IPv4 packet holding a TCP header. It checks the
// framing (version, header lengths, total length, protocol, first
// fragment) but not the checksums: the kernel verified them before handing
// the packet up.
func parseReply(b []byte) (reply, bool) {
	if len(b) < ipHeaderLen || b[0]>>4 != 4 {
		return reply{}, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	switch {
	case ihl < ipHeaderLen, total < ihl+20, total > len(b):
		return reply{}, false
	case b[9] != protoTCP:
		return reply{}, false
	case binary.BigEndian.Uint16(b[6:])&0x1fff != 0: // a later fragment
		return reply{}, false
	}
	tcp := b[ihl:total]
	if off := int(tcp[12]>>4) * 4; off < 20 || off > len(tcp) {
		return reply{}, false
	}
	return reply{
		src:   binary.BigEndian.Uint32(b[12:]),
		dst:   binary.BigEndian.Uint32(b[16:]),
		sport: binary.BigEndian.Uint16(tcp[0:]),
		dport: binary.BigEndian.Uint16(tcp[2:]),
		seq:   binary.BigEndian.Uint32(tcp[4:]),
		ack:   binary.BigEndian.Uint32(tcp[8:]),
		flags: tcp[13],
	}, true
}

// verdict is what a reply says about the probed port.
type verdict uint8

const (
	notOurs verdict = iota // not an answer to this scan (or forged)
	open                   // SYN-ACK
	closed                 // RST
)

// session is what identifies this scan's probes: the source address and
// port, and the cookie key.
type session struct {
	src   uint32
	sport uint16
	key   sipKey
}

// judge validates r against the cookie and classifies it. Only a segment
// that acknowledges our sequence number proves it answers our probe: a
// listener's SYN-ACK and a closed port's RST both carry ACK = SEG.SEQ+1
// (RFC 9293 §3.10.7.1, §3.10.7.2).
func (s *session) judge(r reply) verdict {
	if r.dst != s.src || r.dport != s.sport || r.flags&flagACK == 0 {
		return notOurs
	}
	if r.ack != s.key.cookie(r.src, r.sport, s.sport)+1 {
		return notOurs
	}
	switch {
	case r.flags&flagRST != 0:
		return closed
	case r.flags&flagSYN != 0:
		return open
	}
	return notOurs
}
