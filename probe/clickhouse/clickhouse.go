// Package clickhouse is the probe for ClickHouse: as user default with no
// password it lists databases, tables, rows, bytes and columns, read-only.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the ClickHouse plugin. On the HTTP interface it sends SELECT
// queries only, each with readonly=1, so that the server refuses anything
// else; on the native protocol it sends Hello and nothing more.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "clickhouse".
func (*Prober) Name() string { return "clickhouse" }

// Protocols returns the protocols the plugin understands: identification
// names both the HTTP interface and the native protocol "clickhouse".
func (*Prober) Protocols() []string { return []string{"clickhouse"} }

// DefaultPorts returns the HTTP and native ports, plain and over TLS.
func (*Prober) DefaultPorts() []uint16 { return []uint16{8123, 8443, 9000, 9440} }

// Bounds on what the probe reads.
const (
	// defaultTimeout bounds a probe whose context has no deadline.
	defaultTimeout = 30 * time.Second
	// maxBody bounds one HTTP answer.
	maxBody = 4 << 20
	// maxColumns is the most column rows read from system.columns.
	maxColumns = 20_000
	// maxFields is the most columns reported per table.
	maxFields = 64
	// maxSampled is the most tables rows are sampled from.
	maxSampled = 10
	// maxValue bounds a sampled value.
	maxValue = 1 << 10
	// evidenceMax bounds the evidence excerpt.
	evidenceMax = 512
	// detailMax bounds a server message kept as a detail.
	detailMax = 256
)

// Probe decides by what identification saw on the port: the HTTP
// interface, or the native protocol.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	if t.Service.HTTP == nil && !httpPort(t.Port) {
		return probeNative(ctx, t)
	}
	res, err := probeHTTP(ctx, t)
	if errors.Is(err, errNativePort) {
		return probeNative(ctx, t)
	}
	if err != nil {
		return res, fmt.Errorf("HTTP interface: %w", err)
	}
	return res, nil
}

// httpPort reports whether a port is one of the HTTP interface's, for a
// target handed over without identification.
func httpPort(p uint16) bool { return p == 8123 || p == 8443 }
