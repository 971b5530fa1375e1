// Package ldap is the probe for LDAP directories: an anonymous bind, the
// root DSE, and bounded counts and samples of each naming context's entries.
package ldap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the LDAP plugin. It sends an anonymous bind, searches and an
// unbind (RFC 4511): no compare, no modify, and it follows no referral.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "ldap".
func (*Prober) Name() string { return "ldap" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"ldap"} }

// DefaultPorts returns the LDAP ports (636 when identification saw TLS).
func (*Prober) DefaultPorts() []uint16 { return []uint16{389, 636} }

// Bounds on how much of a directory the probe reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// stepTimeout bounds each request and each message read.
	stepTimeout = 10 * time.Second
	// maxMessage is the largest LDAP message read.
	maxMessage = 1 << 20
	// maxContexts is the most naming contexts searched.
	maxContexts = 8
	// maxCount is the most entries counted per naming context; beyond, the
	// counts are floors, marked estimated.
	maxCount = 20000
	// pageSize is the page of a paged count (RFC 2696).
	pageSize = 500
	// maxGroups is the most datasets (organizational units) per context.
	maxGroups = 64
	// maxFields is the most attribute names kept per dataset.
	maxFields = 64
	// maxValue is the longest value kept in a sample.
	maxValue = 256
	// evidenceMax bounds the excerpt kept as evidence.
	evidenceMax = 512
	// detailMax bounds the server message kept as a verdict's detail.
	detailMax = 256
)

// rootDSEAttrs are the attributes asked of the root DSE (RFC 4512 §5.1;
// vendorName and vendorVersion, RFC 3045; Active Directory's own).
var rootDSEAttrs = []string{"namingContexts", "vendorName", "vendorVersion", "objectClass",
	"structuralObjectClass", "supportedControl", "supportedLDAPVersion", "defaultNamingContext", "supportedCapabilities"}

// Probe binds anonymously and reads the directory. A refused bind or
// search (inappropriateAuthentication, insufficientAccessRights and the
// like) is protected; entries readable below a naming context are exposed,
// with a dataset per organizational unit (and one for the context's other
// entries).
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	nc, err := t.Dialer.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c := &client{conn: nc, rd: bufio.NewReaderSize(nc, 4096)}
	defer c.close(ctx)

	res := &probe.Result{Status: ajar.StatusOpen}
	br, err := c.bind(ctx)
	if err != nil {
		return res, fmt.Errorf("bind: %w", err)
	}
	if br.Code != codeSuccess {
		res.Detail = clip([]byte(br.String()), detailMax)
		if br.refused() {
			res.Status = ajar.StatusProtected
		}
		return res, nil
	}

	dse, done, err := c.search(ctx, "", scopeBase, 0, nil, rootDSEAttrs...)
	if err != nil {
		return res, fmt.Errorf("read the root DSE: %w", err)
	}
	if done.refused() {
		res.Status, res.Detail = ajar.StatusProtected, clip([]byte(done.String()), detailMax)
		return res, nil
	}
	var root entry
	if len(dse) > 0 {
		root = dse[0]
	}
	res.Product, res.Version = vendor(root)
	contexts := values(root, "namingContexts")
	if len(contexts) == 0 {
		contexts = values(root, "defaultNamingContext")
	}
	paged := slices.Contains(values(root, "supportedControl"), pagedResultsOID)
	evidence := &ajar.Evidence{
		Request:  `search base="" scope=base (objectClass=*) namingContexts vendorName`,
		Response: clip([]byte(describeRoot(root)), evidenceMax),
	}
	if len(contexts) == 0 {
		res.Detail = "the root DSE names no naming context"
		return res, nil
	}

	exp := &ajar.Exposure{Plugin: "ldap", Access: ajar.AccessRead, Datasets: []ajar.Dataset{}, Evidence: evidence}
	maxSets := t.Options.MaxDatasets
	if maxSets <= 0 {
		maxSets = probe.DefaultOptions().MaxDatasets
	}
	var refusals, notes []string
	var firstErr error
	readable := false
	for i, base := range contexts {
		if i >= maxContexts || ctx.Err() != nil {
			break
		}
		groups, seen, done, err := c.count(ctx, base, paged)
		if err != nil {
			firstErr = fmt.Errorf("count %s: %w", clip([]byte(base), 128), err)
			break
		}
		switch {
		case done.refused():
			refusals = append(refusals, base+": "+done.String())
			continue
		case done.Code == codeReferral:
			// Referrals name other servers: noted, never followed.
			notes = append(notes, base+": referral to "+strings.Join(done.Referrals, " "))
			continue
		case seen == 0:
			// Not even the base entry: absent, or hidden (slapd answers
			// noSuchObject to what its ACLs hide).
			notes = append(notes, base+": "+done.String())
			continue
		}
		readable = true
		for _, g := range groups {
			if len(exp.Datasets) >= maxSets {
				break
			}
			d := ajar.Dataset{Name: g.dn, Records: g.entries, Estimated: g.cut}
			docs, fields, err := c.sample(ctx, g, t.Options.Samples)
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("sample %s: %w", clip([]byte(g.dn), 128), err)
			}
			d.Fields = fields
			exp.Datasets = append(exp.Datasets, d)
			for _, doc := range docs {
				exp.Samples = append(exp.Samples, ajar.Sample{Dataset: g.dn, Doc: doc})
			}
		}
	}
	res.Detail = clip([]byte(strings.Join(append(notes, refusals...), "; ")), detailMax)
	if !readable {
		if len(refusals) > 0 && firstErr == nil {
			res.Status = ajar.StatusProtected
		}
		return res, firstErr
	}
	exp.Total()
	res.Status, res.Exposure = ajar.StatusExposed, exp
	return res, firstErr
}

// vendor names the server from its root DSE: vendorName and vendorVersion
// when it says them, else what its object classes and capabilities give
// away.
func vendor(root entry) (string, string) {
	if v := values(root, "vendorName"); len(v) > 0 {
		ver := values(root, "vendorVersion")
		if len(ver) > 0 {
			return clip([]byte(v[0]), 64), clip([]byte(ver[0]), 64)
		}
		return clip([]byte(v[0]), 64), ""
	}
	if slices.Contains(values(root, "objectClass"), "OpenLDAProotDSE") || slices.Contains(values(root, "structuralObjectClass"), "OpenLDAProotDSE") {
		return "OpenLDAP", ""
	}
	// LDAP_CAP_ACTIVE_DIRECTORY_OID.
	if slices.Contains(values(root, "supportedCapabilities"), "1.2.840.113556.1.4.800") {
		return "Active Directory", ""
	}
	return "", ""
}

// describeRoot renders the evidence: the naming contexts and the vendor.
func describeRoot(root entry) string {
	var b strings.Builder
	for _, a := range root.Attrs {
		if a.Type != "namingContexts" && a.Type != "vendorName" && a.Type != "vendorVersion" && a.Type != "structuralObjectClass" {
			continue
		}
		for _, v := range a.Values {
			b.WriteString(a.Type + ": " + clip(v, 128) + "\n")
		}
	}
	return b.String()
}

// values returns the values of an attribute, matched without regard to
// case (attribute descriptions are case-insensitive, RFC 4512 §2.5).
func values(e entry, typ string) []string {
	var out []string
	for _, a := range e.Attrs {
		if strings.EqualFold(a.Type, typ) {
			for _, v := range a.Values {
				out = append(out, string(v))
			}
		}
	}
	return out
}

// group is a dataset of a naming context: an organizational unit directly
// below it, or the context itself for its other entries.
type group struct {
	dn      string
	ou      bool // an organizational unit: its own entry is not counted
	entries int64
	cut     bool
}

// count lists the DNs below base (no attributes, "1.1"), paged when the
// server supports it, and counts them per group: the first RDN below base
// when it is an ou=, else base itself. base and the ou entries themselves
// are not counted.
func (c *client) count(ctx context.Context, base string, paged bool) ([]*group, int, result, error) {
	var groups []*group
	index := map[string]*group{}
	get := func(dn string, ou bool) *group {
		key := strings.ToLower(dn)
		if g := index[key]; g != nil {
			return g
		}
		if len(groups) >= maxGroups {
			return nil
		}
		g := &group{dn: dn, ou: ou}
		index[key] = g
		groups = append(groups, g)
		return g
	}
	var cookie []byte
	var done result
	seen := 0
	// Without paging, the size limit stops the server at the cap.
	limit := int64(maxCount)
	if paged {
		limit = 0
	}
	for {
		var ctl []byte
		if paged {
			ctl = pagedControl(pageSize, cookie)
		}
		var err error
		var next []byte
		done, next, err = c.searchEach(ctx, base, scopeSub, limit, ctl, func(e entry) bool {
			seen++
			top, below := splitBelow(e.DN, base)
			switch {
			case top == "":
				// base itself
			case isOU(top) && !below:
				get(top+","+base, true)
			case isOU(top):
				if g := get(top+","+base, true); g != nil {
					g.entries++
				}
			default:
				if g := get(base, false); g != nil {
					g.entries++
				}
			}
			return seen < maxCount
		}, "1.1")
		if err != nil {
			return groups, seen, done, err
		}
		if seen >= maxCount || done.Code == codeSizeLimitExceeded || done.Code == codeAdminLimitExceeded {
			for _, g := range groups {
				g.cut = true
			}
			done.Code = codeSuccess
			break
		}
		if !paged || len(next) == 0 || done.Code != codeSuccess {
			break
		}
		cookie = next
	}
	// Groups with nothing to count (an empty ou) are kept: they are listed.
	slices.SortStableFunc(groups, func(a, b *group) int {
		// The context's own group last.
		if a.ou != b.ou {
			if a.ou {
				return -1
			}
			return 1
		}
		return 0
	})
	return groups, seen, done, nil
}

// splitBelow returns the RDN of dn directly below base, and whether dn lies
// deeper than that RDN; "" when dn is base or not below it.
func splitBelow(dn, base string) (top string, below bool) {
	if len(dn) <= len(base) || !strings.EqualFold(dn[len(dn)-len(base):], base) || dn[len(dn)-len(base)-1] != ',' {
		return "", false
	}
	rdns := splitDN(dn[:len(dn)-len(base)-1])
	if len(rdns) == 0 {
		return "", false
	}
	return rdns[len(rdns)-1], len(rdns) > 1
}

// splitDN splits a DN into its RDNs at the commas that are not escaped
// (RFC 4514 §3).
func splitDN(dn string) []string {
	var out []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			out = append(out, strings.TrimSpace(dn[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(dn[start:]))
}

func isOU(rdn string) bool {
	return len(rdn) > 3 && strings.EqualFold(rdn[:3], "ou=")
}

// sample reads a few entries of a group with all their user attributes:
// the attribute names are the dataset's fields, the first value of each
// the sample.
func (c *client) sample(ctx context.Context, g *group, n int) ([]map[string]string, []string, error) {
	if n <= 0 || g.entries == 0 {
		return nil, nil, nil
	}
	scope := int64(scopeSub)
	if !g.ou {
		// The context's own entries: those directly below it.
		scope = scopeOne
	}
	var docs []map[string]string
	var fields []string
	_, _, err := c.searchEach(ctx, g.dn, scope, int64(n)+1, nil, func(e entry) bool {
		if strings.EqualFold(e.DN, g.dn) || (!g.ou && isOUEntry(e.DN, g.dn)) {
			return true
		}
		doc := map[string]string{}
		for _, a := range e.Attrs {
			if !slices.Contains(fields, a.Type) && len(fields) < maxFields {
				fields = append(fields, a.Type)
			}
			if len(a.Values) > 0 && len(doc) < maxFields {
				doc[clip([]byte(a.Type), 64)] = printable(a.Values[0])
			}
		}
		docs = append(docs, doc)
		return len(docs) < n
	}, "*")
	return docs, fields, err
}

// isOUEntry reports whether dn is an ou directly below base.
func isOUEntry(dn, base string) bool {
	top, below := splitBelow(dn, base)
	return isOU(top) && !below
}

// printable renders a value for a sample: text as it is, bounded; binary
// values (photos, certificates) only by their size.
func printable(v []byte) string {
	if !utf8.Valid(v) {
		return fmt.Sprintf("(%d bytes of binary data)", len(v))
	}
	return clip(v, maxValue)
}

// client is one LDAP connection.
type client struct {
	conn   net.Conn
	rd     *bufio.Reader
	nextID int64
}

func (c *client) step(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dl := time.Now().Add(stepTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	return c.conn.SetDeadline(dl)
}

// send writes one message and returns its ID.
func (c *client) send(ctx context.Context, op, controls []byte) (int64, error) {
	if err := c.step(ctx); err != nil {
		return 0, err
	}
	c.nextID++
	if _, err := c.conn.Write(envelope(c.nextID, op, controls)); err != nil {
		return 0, ctxErr(ctx, err)
	}
	return c.nextID, nil
}

// read reads the next message for id. A notice of disconnection (an
// unsolicited ExtendedResponse with ID 0, RFC 4511 §4.4.1) is an error
// carrying its result.
func (c *client) read(ctx context.Context, id int64) (message, error) {
	if err := c.step(ctx); err != nil {
		return message{}, err
	}
	body, err := readMessage(c.rd, maxMessage)
	if err != nil {
		return message{}, ctxErr(ctx, err)
	}
	m, err := parseMessage(body)
	if err != nil {
		return message{}, err
	}
	if m.ID == 0 && m.Op == opExtendedResp {
		r, err := parseResult(m.Body)
		if err != nil {
			return message{}, err
		}
		return message{}, fmt.Errorf("the server ended the session: %s", r)
	}
	if m.ID != id {
		return message{}, fmt.Errorf("answer to message %d, want %d: %w", m.ID, id, ErrProtocol)
	}
	return m, nil
}

// bind sends the anonymous bind and returns its result.
func (c *client) bind(ctx context.Context) (result, error) {
	id, err := c.send(ctx, bindRequest(), nil)
	if err != nil {
		return result{}, err
	}
	m, err := c.read(ctx, id)
	if err != nil {
		return result{}, err
	}
	if m.Op != opBindResponse {
		return result{}, fmt.Errorf("answer %#x to a bind: %w", m.Op, ErrProtocol)
	}
	return parseResult(m.Body)
}

// search runs a search and returns its entries.
func (c *client) search(ctx context.Context, base string, scope, sizeLimit int64, controls []byte, attrs ...string) ([]entry, result, error) {
	var out []entry
	done, _, err := c.searchEach(ctx, base, scope, sizeLimit, controls, func(e entry) bool {
		out = append(out, e)
		return len(out) < maxGroups
	}, attrs...)
	return out, done, err
}

// searchEach runs a search and hands each entry to fn. When fn returns
// false the rest of the answer is still read (and dropped) up to the
// result, which keeps the session usable. References are never followed.
// It returns the result and the paged results cookie, if any.
func (c *client) searchEach(ctx context.Context, base string, scope, sizeLimit int64, controls []byte, fn func(entry) bool, attrs ...string) (result, []byte, error) {
	id, err := c.send(ctx, searchRequest(base, scope, sizeLimit, attrs...), controls)
	if err != nil {
		return result{}, nil, err
	}
	want := true
	// Once fn has had enough, a server that keeps sending ignores the size
	// limit or the page size: after a page's worth, the probe stops.
	extra := 0
	for {
		m, err := c.read(ctx, id)
		if err != nil {
			return result{}, nil, err
		}
		if !want || m.Op == opSearchReference {
			if extra++; extra > pageSize {
				return result{}, nil, fmt.Errorf("more than %d entries or references past the limit: %w", pageSize, ErrLimit)
			}
		}
		switch m.Op {
		case opSearchEntry:
			if !want {
				continue
			}
			e, err := parseEntry(m.Body)
			if err != nil {
				return result{}, nil, err
			}
			want = fn(e)
		case opSearchReference:
			// A continuation reference to another server: not followed.
		case opSearchDone:
			r, err := parseResult(m.Body)
			if err != nil {
				return result{}, nil, err
			}
			cookie, _ := pagedCookie(m.Controls)
			if !want && r.Code == codeSuccess && len(cookie) > 0 {
				// Stopped early: the count is a floor.
				r.Code = codeSizeLimitExceeded
			}
			return r, cookie, nil
		default:
			return result{}, nil, fmt.Errorf("answer %#x to a search: %w", m.Op, ErrProtocol)
		}
	}
}

// close unbinds, briefly, and closes the connection.
func (c *client) close(ctx context.Context) {
	if ctx.Err() == nil {
		_ = c.conn.SetDeadline(time.Now().Add(time.Second))
		c.nextID++
		_, _ = c.conn.Write(envelope(c.nextID, unbindRequest(), nil))
	}
	c.conn.Close()
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

// clip bounds a server-controlled string kept in a result.
func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return strings.ToValidUTF8(string(b), "")
}
