// Package ajar holds the domain of the ajar scanner: what was scanned (Target),
// what answered (Service), what it gives away (Exposure) and every observation
// of it over time (Event). It imports nothing else of ajar.
package ajar

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Schema is the version of the JSON Lines output contract.
const Schema = "ajar/1"

// Target is one address and port to look at.
type Target struct {
	Addr netip.Addr `json:"ip"`
	Port uint16     `json:"port"`
	// Host is the name the user gave, when the target came from a host name.
	Host string `json:"host,omitempty"`
}

// String renders the target as host:port ([v6]:port for IPv6).
func (t Target) String() string {
	return netip.AddrPortFrom(t.Addr, t.Port).String()
}

// AddrPort returns the target as a netip.AddrPort.
func (t Target) AddrPort() netip.AddrPort { return netip.AddrPortFrom(t.Addr, t.Port) }

// ParseAddrPort parses "IP:PORT" or "[IPv6]:PORT" into a Target.
func ParseAddrPort(s string) (Target, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return Target{}, fmt.Errorf("%q is not an IP:PORT: %w", s, err)
	}
	return Target{Addr: ap.Addr().Unmap(), Port: ap.Port()}, nil
}

// Status is the verdict of one observation. See DESIGN.md, "Statuses and events".
type Status string

// The statuses of the output contract.
const (
	// StatusExposed: data readable without credentials; the exposure is filled.
	StatusExposed Status = "exposed"
	// StatusProtected: identified, and it refused us (password required).
	StatusProtected Status = "protected"
	// StatusOpen: port open, no verdict (no plugin, or the plugin could not decide).
	StatusOpen Status = "open"
	// StatusClosed: was exposed or open before; now gone or protected.
	StatusClosed Status = "closed"
	// StatusWiped: was exposed with data; its datasets vanished.
	StatusWiped Status = "wiped"
)

// Valid reports whether s is one of the statuses of the contract.
func (s Status) Valid() bool {
	switch s {
	case StatusExposed, StatusProtected, StatusOpen, StatusClosed, StatusWiped:
		return true
	}
	return false
}

// Access is how much an exposure lets an anonymous client do.
type Access string

// The kinds of access of the output contract.
const (
	AccessRead         Access = "read"
	AccessAdmin        Access = "admin"
	AccessDefaultCreds Access = "default-credentials"
)

// Severity grades an exposure; see DESIGN.md "Severity".
type Severity string

// The severities, most severe first.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
)

// Rank orders severities: critical is 5, info 1, unknown 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 5
	case SeverityHigh:
		return 4
	case SeverityMedium:
		return 3
	case SeverityLow:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// TLS summarises a TLS session and the server's leaf certificate.
type TLS struct {
	Version    string    `json:"version,omitempty"`
	Cipher     string    `json:"cipher,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Names      []string  `json:"names,omitempty"`
	Issuer     string    `json:"issuer,omitempty"`
	SelfSigned bool      `json:"self_signed"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	SHA256     string    `json:"sha256,omitempty"`
}

// HTTP summarises an HTTP answer: what a browser would show in the tab and
// what the server calls itself.
type HTTP struct {
	Status int    `json:"status,omitempty"`
	Server string `json:"server,omitempty"`
	Title  string `json:"title,omitempty"`
}

// Service is what answered on a port.
type Service struct {
	Transport string `json:"transport"` // tcp or tls
	Protocol  string `json:"protocol,omitempty"`
	Product   string `json:"product,omitempty"`
	Version   string `json:"version,omitempty"`
	Banner    string `json:"banner,omitempty"`
	TLS       *TLS   `json:"tls,omitempty"`
	HTTP      *HTTP  `json:"http,omitempty"`
}

// Dataset is one container of records: a Redis logical database, a SQL table,
// an index, a collection.
type Dataset struct {
	Name    string   `json:"name"`
	Records int64    `json:"records"`
	Bytes   int64    `json:"bytes"`
	Fields  []string `json:"fields,omitempty"`
	// Estimated is true when Records is not an exact count.
	Estimated bool `json:"estimated,omitempty"`
	// System datasets (catalogs, internal indices) are listed but not counted.
	System bool `json:"system,omitempty"`
	// Classes are the data classes found in the dataset's field names and
	// sampled values, by class name.
	Classes map[string]ClassCount `json:"classes,omitempty"`
}

// ClassCount says how often a data class was seen in a dataset's sample and
// how sure the classifier is.
type ClassCount struct {
	Count      int     `json:"count"`
	Confidence float64 `json:"confidence"`
}

// Ransom is a ransom note found where data used to be.
type Ransom struct {
	// Note is a redacted excerpt of the note.
	Note string `json:"note"`
	// Datasets holding the note.
	Datasets []string `json:"datasets,omitempty"`
}

// Sample is one redacted record read from a dataset.
type Sample struct {
	Dataset string            `json:"dataset"`
	Doc     map[string]string `json:"doc"`
}

// Evidence is the request that proved an exposure and a bounded, redacted
// excerpt of the answer.
type Evidence struct {
	Request  string `json:"request"`
	Response string `json:"response"`
}

// Exposure is what a service gives away without credentials.
type Exposure struct {
	Plugin       string    `json:"plugin"`
	Access       Access    `json:"access"`
	Records      int64     `json:"records"`
	Bytes        int64     `json:"bytes"`
	Datasets     []Dataset `json:"datasets"`
	Classes      []string  `json:"classes,omitempty"`
	Samples      []Sample  `json:"samples,omitempty"`
	Ransom       *Ransom   `json:"ransom,omitempty"`
	Severity     Severity  `json:"severity,omitempty"`
	SeverityRule string    `json:"severity_rule,omitempty"`
	Evidence     *Evidence `json:"evidence,omitempty"`
}

// Hosting kinds: whether the provider's own managed service or a customer's
// machine on the provider's addresses left the door open.
const (
	HostingManaged  = "managed-service"
	HostingCustomer = "customer-instance"
	HostingUnknown  = "unknown"
)

// Attribution says who hosts a service and how each answer was inferred.
type Attribution struct {
	Provider string   `json:"provider,omitempty"`
	Hosting  string   `json:"hosting,omitempty"`
	ASN      uint32   `json:"asn,omitempty"`
	Org      string   `json:"org,omitempty"`
	Country  string   `json:"country,omitempty"`
	Reasons  []Reason `json:"reasons,omitempty"`
}

// Reason is why one attribution field has its value.
type Reason struct {
	Field string `json:"field"`
	Value string `json:"value"`
	// Source is ip-range, certificate-name, reverse-dns, http-header or mmdb.
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"`
}

// Total recomputes Records and Bytes from the datasets, leaving system
// datasets out.
func (e *Exposure) Total() {
	e.Records, e.Bytes = 0, 0
	for _, d := range e.Datasets {
		if d.System {
			continue
		}
		e.Records += d.Records
		e.Bytes += d.Bytes
	}
}

// Event is one observation of one (ip, port, plugin) at one time; the
// JSON form is the ajar/1 output contract.
type Event struct {
	Schema string    `json:"schema"`
	Time   time.Time `json:"time"`
	Scan   string    `json:"scan,omitempty"`
	Target
	Service
	// Plugin names the probe that produced the verdict; empty when no probe
	// ran (status open). Part of the exposure key.
	Plugin string `json:"plugin,omitempty"`
	Status Status `json:"status"`
	// Detail says why a verdict was reached when there is no exposure
	// ("NOAUTH Authentication required.", "access denied for root").
	Detail      string       `json:"detail,omitempty"`
	Exposure    *Exposure    `json:"exposure,omitempty"`
	Attribution *Attribution `json:"attribution,omitempty"`

	// Timeline of the exposure this event belongs to, filled by the store.
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	ClosedAt  *time.Time `json:"closed_at"`
	// OpenFor is the open duration in seconds when the event closes an exposure.
	OpenFor *int64 `json:"open_for,omitempty"`
}

// Key identifies an exposure: one plugin's view of one port.
type Key struct {
	Addr   netip.Addr
	Port   uint16
	Plugin string
}

// String renders the key as ip:port/plugin.
func (k Key) String() string {
	p := k.Plugin
	if p == "" {
		p = "-"
	}
	return netip.AddrPortFrom(k.Addr, k.Port).String() + "/" + p
}

// Key returns the exposure key of the event.
func (e *Event) Key() Key { return Key{Addr: e.Addr, Port: e.Port, Plugin: e.Plugin} }

// FormatBytes renders a byte count for people (1.2 GB).
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
