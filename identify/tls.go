package identify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"net"
	"slices"
	"time"

	"github.com/ajar-scan/ajar"
)

func tlsConfig(opt Options) *tls.Config {
	return &tls.Config{
		// A scanner records any certificate; it trusts none.
		InsecureSkipVerify: true, //nolint:gosec
		ServerName:         opt.ServerName,
		MinVersion:         tls.VersionTLS10,
	}
}

// handshake dials and runs a TLS handshake, returning its state.
func handshake(ctx context.Context, dial Dialer, opt Options) (tls.ConnectionState, error) {
	c, err := dial(ctx)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	tc := tls.Client(c, tlsConfig(opt))
	hctx, cancel := context.WithTimeout(ctx, opt.StepTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return tls.ConnectionState{}, err
	}
	return tc.ConnectionState(), nil
}

// summarize turns a TLS session into the output contract's tls object.
func summarize(st tls.ConnectionState) *ajar.TLS {
	out := &ajar.TLS{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite)}
	if len(st.PeerCertificates) == 0 {
		return out
	}
	c := st.PeerCertificates[0]
	sum := sha256.Sum256(c.Raw)
	out.SHA256 = hex.EncodeToString(sum[:])
	out.Subject = c.Subject.String()
	out.Issuer = c.Issuer.String()
	out.NotBefore, out.NotAfter = c.NotBefore.UTC(), c.NotAfter.UTC()
	out.Names = certNames(c)
	out.SelfSigned = bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
	return out
}

// certNames lists the names a certificate is for: SANs, then the subject's
// common name when it is not among them.
func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if cn := c.Subject.CommonName; cn != "" && !slices.Contains(names, cn) {
		names = append(names, cn)
	}
	if len(names) > 64 {
		names = names[:64]
	}
	return names
}

// postgresStartTLS runs the TLS handshake on the connection whose
// SSLRequest the server accepted ('S'), to read the certificate.
// https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
func postgresStartTLS(ctx context.Context, c net.Conn, answer []byte, opt Options) *ajar.TLS {
	if len(answer) != 1 || answer[0] != 'S' {
		return nil
	}
	return startTLS(ctx, c, opt)
}

// mysqlOffersTLS reports whether a handshake v10 greeting sets CLIENT_SSL.
func mysqlOffersTLS(greeting []byte) bool {
	caps, ok := mysqlCaps(greeting)
	return ok && caps&0x0800 != 0
}

// mysqlCaps reads the lower capability flags of a greeting: after the
// version string, 4 bytes thread id, 8 bytes of scramble and a filler.
func mysqlCaps(g []byte) (uint16, bool) {
	if !isMySQLPacket(g) || g[4] != 0x0a {
		return 0, false
	}
	end := bytes.IndexByte(g[5:], 0)
	if end < 0 {
		return 0, false
	}
	i := 5 + end + 1 + 4 + 8 + 1
	if i+2 > len(g) {
		return 0, false
	}
	return binary.LittleEndian.Uint16(g[i:]), true
}

// mysqlStartTLS answers the greeting just read on c with an SSLRequest
// packet (sequence 1) and runs the handshake to read the certificate.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_ssl_request.html
func mysqlStartTLS(ctx context.Context, c net.Conn, opt Options) *ajar.TLS {
	const caps = 0x0800 | 0x0200 | 0x8000 | 0x00080000 // SSL, PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH
	body := binary.LittleEndian.AppendUint32(nil, caps)
	body = binary.LittleEndian.AppendUint32(body, 1<<24) // max packet
	body = append(body, 33)                              // utf8_general_ci
	body = append(body, make([]byte, 23)...)
	pkt := append([]byte{byte(len(body)), 0, 0, 1}, body...)
	_ = c.SetDeadline(stepDeadline(ctx, opt.StepTimeout))
	if _, err := c.Write(pkt); err != nil {
		return nil
	}
	return startTLS(ctx, c, opt)
}

// startTLS runs a client handshake on an established connection.
func startTLS(ctx context.Context, c net.Conn, opt Options) *ajar.TLS {
	_ = c.SetDeadline(stepDeadline(ctx, opt.StepTimeout))
	tc := tls.Client(c, tlsConfig(opt))
	hctx, cancel := context.WithTimeout(ctx, opt.StepTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return nil
	}
	return summarize(tc.ConnectionState())
}

// stepDeadline is now plus wait, or the context's deadline when sooner.
func stepDeadline(ctx context.Context, wait time.Duration) time.Time {
	dl := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	return dl
}
