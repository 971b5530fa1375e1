package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/smtp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ajar-scan/ajar"
)

// SMTP says how e-mail alerts leave.
type SMTP struct {
	// Addr is the relay, host:port. Empty: e-mail alerts fail (and retry).
	Addr string
	From string
}

// Deliverer sends the alerts the outbox holds.
type Deliverer struct {
	Store Store
	SMTP  SMTP
	// AllowPrivate lets webhooks reach loopback and private addresses;
	// off, the dialer refuses them whatever a name resolves to.
	AllowPrivate bool
	// Timeout bounds one delivery (default 10 s).
	Timeout time.Duration
	Now     func() time.Time
	// client is built on first use.
	client *http.Client
}

// Backoff is the wait before attempt n+1: 30 s doubling, at most an hour.
func Backoff(attempts int) time.Duration {
	return time.Duration(math.Min(float64(30*time.Second)*math.Pow(2, float64(attempts)), float64(time.Hour)))
}

// Step delivers the alerts that are due; it returns how many it delivered.
// A failed delivery stays in the outbox with its next attempt scheduled.
func (d *Deliverer) Step(ctx context.Context) (int, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	due, err := d.Store.Due(ctx, now().UTC(), 50)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	rules, err := d.Store.Rules(ctx)
	if err != nil {
		return 0, err
	}
	byID := map[int64]*ajar.AlertRule{}
	for i := range rules {
		byID[rules[i].ID] = &rules[i]
	}
	n := 0
	for _, it := range due {
		r := byID[it.RuleID]
		if r == nil {
			// The rule was deleted: nobody wants this any more.
			if err := d.Store.Delivered(ctx, it.ID); err != nil {
				return n, err
			}
			continue
		}
		if err := d.deliver(ctx, r, &it, now()); err != nil {
			if ferr := d.Store.Failed(ctx, it.ID, err.Error(), now().UTC().Add(Backoff(it.Attempts))); ferr != nil {
				return n, ferr
			}
			continue
		}
		if err := d.Store.Delivered(ctx, it.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (d *Deliverer) deliver(ctx context.Context, r *ajar.AlertRule, it *ajar.OutboxItem, now time.Time) error {
	to := d.Timeout
	if to <= 0 {
		to = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	var errs []error
	if r.Webhook != "" {
		if err := d.webhook(ctx, r, it, now); err != nil {
			errs = append(errs, fmt.Errorf("webhook: %w", err))
		}
	}
	if r.Email != "" {
		if err := d.email(ctx, r, it, now); err != nil {
			errs = append(errs, fmt.Errorf("e-mail: %w", err))
		}
	}
	return errors.Join(errs...)
}

// webhook POSTs the payload with its signature.
func (d *Deliverer) webhook(ctx context.Context, r *ajar.AlertRule, it *ajar.OutboxItem, now time.Time) error {
	if d.client == nil {
		d.client = d.httpClient()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Webhook, bytes.NewReader(it.Payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ajar-alerts/1")
	req.Header.Set("X-Ajar-Event", it.Change)
	req.Header.Set("X-Ajar-Delivery", strconv.FormatInt(it.ID, 10))
	if r.Secret != "" {
		req.Header.Set("X-Ajar-Signature", Sign(r.Secret, now, it.Payload))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", r.Webhook, resp.Status)
	}
	return nil
}

// ErrInternal is returned when a webhook would reach an internal address.
var ErrInternal = errors.New("refused: the address is internal (loopback, private, link-local)")

// httpClient is a client that follows no redirects and, unless allowed,
// refuses internal addresses after name resolution (so that a name that
// resolves to 127.0.0.1 is refused as well).
func (d *Deliverer) httpClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !d.AllowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || internal(ap.Addr()) {
				return fmt.Errorf("%s: %w", address, ErrInternal)
			}
			return nil
		}
	}
	return &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil, MaxIdleConns: 4,
			ResponseHeaderTimeout: 10 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func internal(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a)
}

// email sends the alert through the configured SMTP relay.
func (d *Deliverer) email(ctx context.Context, r *ajar.AlertRule, it *ajar.OutboxItem, now time.Time) error {
	if d.SMTP.Addr == "" {
		return errors.New("no SMTP relay configured (--smtp)")
	}
	var p Payload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		return err
	}
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "tcp", d.SMTP.Addr)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(d.SMTP.Addr)
	cl, err := smtp.NewClient(c, host)
	if err != nil {
		c.Close()
		return err
	}
	defer cl.Close()
	from := d.SMTP.From
	if from == "" {
		from = "ajar@localhost"
	}
	if err := cl.Mail(from); err != nil {
		return err
	}
	if err := cl.Rcpt(r.Email); err != nil {
		return err
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(message(from, r.Email, &p, it.ID, now)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return cl.Quit()
}

// message renders an alert as a plain-text mail.
func message(from, to string, p *Payload, id int64, now time.Time) []byte {
	ev := &p.Event
	what := ev.Protocol
	if ev.Product != "" {
		what = ev.Product
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", from, to)
	fmt.Fprintf(&b, "Subject: [ajar] %s exposure: %s on %s\r\n", p.Change, what, ev.Target)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <alert-%d-%d@ajar>\r\n", now.UTC().Format(time.RFC1123Z), id, now.Unix())
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	fmt.Fprintf(&b, "%s: %s on %s is %s.\r\n", strings.ToUpper(p.Change[:1])+p.Change[1:], what, ev.Target, ev.Status)
	if x := ev.Exposure; x != nil {
		fmt.Fprintf(&b, "Readable without credentials: %d records in %d datasets (%s), severity %s.\r\n",
			x.Records, len(x.Datasets), ajar.FormatBytes(x.Bytes), x.Severity)
	}
	if ev.Detail != "" {
		fmt.Fprintf(&b, "Detail: %s\r\n", ev.Detail)
	}
	body, _ := json.MarshalIndent(p, "", "  ")
	b.WriteString("\r\nThe alert as JSON:\r\n\r\n")
	b.WriteString(strings.ReplaceAll(string(body), "\n", "\r\n"))
	b.WriteString("\r\n")
	return []byte(b.String())
}

// Run matches and delivers every interval until ctx ends.
func Run(ctx context.Context, m *Matcher, d *Deliverer, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for {
			n, err := m.Step(ctx)
			if err != nil {
				onErr(err)
				break
			}
			if n == 0 {
				break
			}
		}
		if _, err := d.Step(ctx); err != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
