// Package httpc is the HTTP client the probes of HTTP APIs share: it reaches
// the probed target only, follows no redirect and bounds every answer.
package httpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar/probe"
)

// ErrTooLarge is returned when an answer is larger than the client reads.
var ErrTooLarge = errors.New("answer larger than the read limit")

// ErrRedirect is returned for a redirect to another host or port: the
// client never follows one, and a probe that cares about a redirect on the
// same host reads Response.Location instead.
var ErrRedirect = errors.New("redirected elsewhere (not followed)")

// Defaults of a Client.
const (
	// DefaultMaxBody is the most bytes read from one answer.
	DefaultMaxBody = 4 << 20
	// maxHeader bounds the response headers.
	maxHeader = 64 << 10
	// userAgent names the scanner, as a courtesy to the server's operator.
	userAgent = "ajar (+https://github.com/ajar-scan/ajar)"
)

// Client sends requests to one target through its dialer.
type Client struct {
	hc   *http.Client
	tr   *http.Transport
	base url.URL
	host string
	// MaxBody is the most bytes read from one answer (DefaultMaxBody when 0).
	MaxBody int64
}

// New returns a client for the probed target. It speaks HTTPS when
// identification saw TLS on the port. Certificates are not verified: the
// scanner wants to see what the server gives, not to trust it.
func New(t *probe.Target) *Client {
	tlsCfg := &tls.Config{InsecureSkipVerify: true, ServerName: t.Host} //nolint:gosec // a scanner reads, it does not trust
	tr := &http.Transport{
		// No proxy from the environment: the only way out is the target dialer.
		Proxy:       nil,
		DialContext: t.Dialer.DialAddr,
		// The engine's dialer already speaks TLS to a service identified
		// behind it; wrap only a connection that is not TLS yet.
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := t.Dialer.DialAddr(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if _, ok := c.(*tls.Conn); ok {
				return c, nil
			}
			tc := tls.Client(c, tlsCfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		},
		TLSClientConfig:        tlsCfg,
		TLSHandshakeTimeout:    5 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeader,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        10 * time.Second,
		ForceAttemptHTTP2:      false,
	}
	scheme := "http"
	if t.Service.Transport == "tls" {
		scheme = "https"
	}
	c := &Client{
		tr:   tr,
		base: url.URL{Scheme: scheme, Host: t.AddrPort().String()},
		host: t.Host,
	}
	c.hc = &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Response is a bounded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Location returns the target of a redirect, resolved against the request.
func (r *Response) Location() string { return r.Header.Get("Location") }

// Get sends a GET for target, a path with an optional query ("/_cat/indices?format=json").
func (c *Client) Get(ctx context.Context, target string, hdr http.Header) (*Response, error) {
	return c.Do(ctx, http.MethodGet, target, nil, hdr)
}

// Do sends one request and reads the answer up to MaxBody bytes. A larger
// answer is an error wrapping ErrTooLarge; an announced Content-Length above
// the limit fails before the body is read. A redirect is returned as it is
// when it points to the same target, and fails with ErrRedirect otherwise.
func (c *Client) Do(ctx context.Context, method, target string, body []byte, hdr http.Header) (*Response, error) {
	u, err := c.url(target)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", userAgent)
	if c.host != "" {
		req.Host = c.host
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, unwrapURL(ctx, err))
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode, Header: resp.Header}
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		if !c.sameTarget(req.URL, loc) {
			return out, fmt.Errorf("%s %s: %d to %q: %w", method, target, resp.StatusCode, clip(loc, 128), ErrRedirect)
		}
	}
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if resp.ContentLength > limit {
		return out, fmt.Errorf("%s %s: Content-Length %d above %d: %w", method, target, resp.ContentLength, limit, ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return out, fmt.Errorf("%s %s: read body: %w", method, target, unwrapURL(ctx, err))
	}
	if int64(len(b)) > limit {
		return out, fmt.Errorf("%s %s: body above %d bytes: %w", method, target, limit, ErrTooLarge)
	}
	out.Body = b
	return out, nil
}

// url joins target to the base URL. Only a path and a query are accepted:
// an absolute URL would let a caller reach past the target.
func (c *Client) url(target string) (string, error) {
	if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		return "", fmt.Errorf("request target %q: not a path", target)
	}
	return c.base.Scheme + "://" + c.base.Host + target, nil
}

// sameTarget reports whether a Location header points back to the target.
func (c *Client) sameTarget(base *url.URL, loc string) bool {
	u, err := base.Parse(loc)
	if err != nil {
		return false
	}
	return u.Host == base.Host && (u.Scheme == "http" || u.Scheme == "https")
}

// unwrapURL drops net/http's *url.Error wrapper, which repeats the URL, and
// adds the context's error when the context ended the request.
func unwrapURL(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}

// RequestLine renders a request as evidence: "GET /_cat/indices?format=json".
func RequestLine(method, target string) string { return method + " " + target }

// Excerpt returns at most n bytes of b as valid UTF-8, for evidence and
// details.
func Excerpt(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	// A character cut in two at the end is dropped with any invalid bytes.
	return strings.ToValidUTF8(string(b), "")
}

// clip bounds a server-controlled string kept in an error.
func clip(s string, n int) string {
	if len(s) > n {
		return Excerpt([]byte(s), n) + "…"
	}
	return s
}

// StatusError describes an unexpected HTTP status.
type StatusError struct {
	Method, Target string
	Status         int
	Body           string // a bounded excerpt
}

func (e *StatusError) Error() string {
	msg := e.Method + " " + e.Target + ": HTTP " + strconv.Itoa(e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Unexpected returns a StatusError for r, with a short excerpt of its body.
func Unexpected(method, target string, r *Response) error {
	return &StatusError{Method: method, Target: target, Status: r.Status, Body: strings.TrimSpace(Excerpt(r.Body, 160))}
}
