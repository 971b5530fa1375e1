// Package rabbitmq is the probe for RabbitMQ: AMQP 0-9-1 and the management
// HTTP API. It tries the vendor's default login, guest/guest, only when asked.
package rabbitmq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the RabbitMQ plugin. On AMQP it reads Connection.Start and, with
// default credentials allowed, logs in and closes: it opens no channel. On
// the management API it sends GET requests only.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "rabbitmq".
func (*Prober) Name() string { return "rabbitmq" }

// Protocols returns AMQP and the management UI, as identification names them.
func (*Prober) Protocols() []string { return []string{"amqp", "rabbitmq-management"} }

// DefaultPorts returns the AMQP and management ports.
func (*Prober) DefaultPorts() []uint16 { return []uint16{5672, 15672} }

// The vendor's documented default user, created on first start unless the
// configuration names another: https://www.rabbitmq.com/docs/access-control#default-state
const (
	defaultUser     = "guest"
	defaultPassword = "guest"
)

// notTried is the detail of a verdict reached without trying the default
// login.
const notTried = "default-credential check not run (enable it with --default-creds)"

// Bounds.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// evidenceMax bounds the evidence excerpt.
	evidenceMax = 512
	// detailMax bounds a server message kept as a detail.
	detailMax = 256
)

// Probe dispatches on what identification saw on the port.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	if t.Service.Protocol == "rabbitmq-management" || t.Service.HTTP != nil {
		res, err := probeManagement(ctx, t)
		if err != nil {
			return res, fmt.Errorf("management API: %w", err)
		}
		return res, nil
	}
	return probeAMQP(ctx, t)
}

// probeAMQP reads the server's Connection.Start, which names the product
// and version before any login; with default credentials allowed it logs in
// as guest/guest and closes the connection at once.
func probeAMQP(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	nc, err := t.Dialer.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	rd := bufio.NewReader(nc)
	res := &probe.Result{Status: ajar.StatusOpen}
	if _, err := nc.Write(protocolHeader); err != nil {
		return res, fmt.Errorf("write protocol header: %w", ctxErr(ctx, err))
	}
	f, err := readFrame(rd)
	var other *errHeader
	if errors.As(err, &other) {
		res.Detail = other.Error()
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("read Connection.Start: %w", ctxErr(ctx, err))
	}
	class, method, args, err := f.method()
	if err != nil {
		return res, fmt.Errorf("read Connection.Start: %w", err)
	}
	if class != classConnection || method != methodStart {
		return res, fmt.Errorf("method %d.%d where Connection.Start was due: %w", class, method, ErrProtocol)
	}
	st, err := parseStart(args)
	if err != nil {
		return res, fmt.Errorf("read Connection.Start: %w", err)
	}
	res.Product, res.Version = clip(st.Properties["product"], 64), clip(st.Properties["version"], 40)
	if !t.Options.DefaultCreds {
		res.Detail = notTried
		return res, nil
	}
	if !slices.Contains(st.Mechanisms, "PLAIN") {
		res.Detail = clip("the server offers no PLAIN login (mechanisms: "+strings.Join(st.Mechanisms, " ")+")", detailMax)
		return res, nil
	}

	if _, err := nc.Write(startOk(defaultUser, defaultPassword)); err != nil {
		return res, fmt.Errorf("write Connection.Start-Ok: %w", ctxErr(ctx, err))
	}
	f, err = readFrame(rd)
	if err != nil {
		if !closed(err) || ctx.Err() != nil {
			return res, fmt.Errorf("read the answer to the login: %w", ctxErr(ctx, err))
		}
		// A server that predates authentication_failure_close ends the
		// connection without a word when the login fails (§4.10.2 of the
		// spec leaves it no other way).
		res.Status, res.Detail = ajar.StatusProtected, "the default login guest/guest was refused (connection closed)"
		return res, nil
	}
	class, method, args, err = f.method()
	if err != nil {
		return res, fmt.Errorf("read the answer to the login: %w", err)
	}
	switch {
	case class == classConnection && method == methodTune:
		_, _ = nc.Write(connectionClose())
		res.Status = ajar.StatusExposed
		res.Detail = "the default login guest/guest is accepted; the management API lists the queues"
		res.Exposure = &ajar.Exposure{
			Plugin: "rabbitmq", Access: ajar.AccessDefaultCreds,
			Evidence: &ajar.Evidence{
				Request:  "AMQP 0-9-1 Connection.Start-Ok, PLAIN " + defaultUser + "/" + defaultPassword,
				Response: "Connection.Tune (login accepted)",
			},
		}
		return res, nil
	case class == classConnection && method == methodClose:
		cr, err := parseClose(args)
		if err != nil {
			return res, err
		}
		res.Detail = clip(fmt.Sprintf("Connection.Close %d: %s", cr.Code, cr.Text), detailMax)
		// 403 ACCESS_REFUSED; anything else is no verdict.
		if cr.Code == 403 {
			res.Status = ajar.StatusProtected
		}
		return res, nil
	}
	return res, fmt.Errorf("method %d.%d after the login: %w", class, method, ErrProtocol)
}

// closed reports whether the server ended the connection (EOF or reset),
// as opposed to a timeout or garbage.
func closed(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// ctxErr adds the context's error to a network error it caused, so that
// callers can tell a deadline from a broken server.
func ctxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}

// clip bounds a server-controlled string.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
