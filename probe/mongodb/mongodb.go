// Package mongodb is the probe for servers that speak MongoDB's wire
// protocol: it lists databases and collections, counts, sizes and samples them.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/probe"
)

func init() { probe.Register(&Prober{}) }

// Prober is the MongoDB plugin. Through the official driver, connected to
// the target alone, it runs buildInfo, listDatabases, listCollections,
// count, collStats and find with a small limit: nothing that writes.
type Prober struct{}

var _ probe.Prober = (*Prober)(nil)

// Name returns "mongodb".
func (*Prober) Name() string { return "mongodb" }

// Protocols returns the protocols the plugin understands.
func (*Prober) Protocols() []string { return []string{"mongodb"} }

// DefaultPorts returns MongoDB's ports (mongod, shard and config servers).
func (*Prober) DefaultPorts() []uint16 { return []uint16{27017, 27018, 27019} }

// Bounds on how much of a server the probe reads.
const (
	defaultTimeout = 30 * time.Second
	// maxCollections is the most collections listed per database.
	maxCollections = 1000
	// maxSampled is the most collections sampled.
	maxSampled = 32
	// closeTimeout bounds the driver's goodbye once the probe is done.
	closeTimeout = 500 * time.Millisecond
	// evidenceMax bounds the excerpt of the answer kept as evidence.
	evidenceMax = 512
)

// systemDBs hold the server's own catalogs: listed, never counted.
var systemDBs = []string{"admin", "local", "config"}

// Probe reads what the server gives away without credentials. A server that
// refuses listDatabases for want of authentication is protected; one that
// the driver cannot talk to is open, with an error. Once listDatabases has
// proved the exposure, a later failure returns the exposure found so far
// together with the error.
func (*Prober) Probe(ctx context.Context, t *probe.Target) (*probe.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	client, err := connect(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("set up the driver: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = client.Disconnect(dctx)
	}()
	open := &probe.Result{Status: ajar.StatusOpen}
	admin := client.Database("admin")

	// buildInfo answers without authentication on every server.
	var bi struct {
		Version  string `bson:"version"`
		FerretDB string `bson:"ferretdbVersion"`
	}
	if err := admin.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&bi); err != nil && !refused(err) {
		return open, fmt.Errorf("buildInfo: %w", err)
	}
	open.Product, open.Version = "MongoDB", clip(bi.Version, 32)
	if bi.FerretDB != "" {
		open.Product, open.Version = "FerretDB", clip(bi.FerretDB, 32)
	}

	var list struct {
		Databases []struct {
			Name string `bson:"name"`
		} `bson:"databases"`
	}
	raw, err := admin.RunCommand(ctx, bson.D{{Key: "listDatabases", Value: 1}, {Key: "nameOnly", Value: false}}).Raw()
	if err == nil {
		err = bson.Unmarshal(raw, &list)
	}
	if refused(err) {
		return protected(open, err), nil
	}
	if err != nil {
		return open, fmt.Errorf("listDatabases: %w", err)
	}
	if len(list.Databases) == 0 {
		// An empty list may be all an unauthenticated client is allowed to
		// see; a command only an authorised client may run tells which.
		if err := admin.RunCommand(ctx, bson.D{{Key: "listCollections", Value: 1}, {Key: "nameOnly", Value: true}}).Err(); refused(err) {
			return protected(open, err), nil
		}
	}

	res := &probe.Result{Status: ajar.StatusExposed, Product: open.Product, Version: open.Version}
	exp := &ajar.Exposure{
		Plugin: "mongodb",
		// Without authentication every client holds every privilege.
		Access:   ajar.AccessAdmin,
		Datasets: []ajar.Dataset{},
		Evidence: &ajar.Evidence{Request: "listDatabases", Response: clip(raw.String(), evidenceMax)},
	}
	res.Exposure = exp
	maxDatasets := t.Options.MaxDatasets
	if maxDatasets <= 0 {
		maxDatasets = probe.DefaultOptions().MaxDatasets
	}
	var where []collection // database and collection of each dataset
	for _, d := range list.Databases {
		if len(exp.Datasets) >= maxDatasets {
			break
		}
		names, err := collections(ctx, client.Database(d.Name), min(maxCollections, maxDatasets-len(exp.Datasets)))
		if err != nil {
			exp.Total()
			return res, fmt.Errorf("listCollections on %q: %w", clip(d.Name, 64), err)
		}
		for _, c := range names {
			ds, err := stats(ctx, client.Database(d.Name), c)
			if err != nil {
				exp.Total()
				return res, fmt.Errorf("count %q.%q: %w", clip(d.Name, 64), clip(c, 64), err)
			}
			ds.Name = clip(d.Name, 64) + "." + clip(c, 128)
			ds.System = slices.Contains(systemDBs, d.Name) || strings.HasPrefix(c, "system.")
			exp.Datasets = append(exp.Datasets, ds)
			where = append(where, collection{d.Name, c})
		}
	}
	exp.Total()

	sampled := 0
	for i := range exp.Datasets {
		d := &exp.Datasets[i]
		if d.System || d.Records == 0 || sampled >= maxSampled || t.Options.Samples <= 0 {
			continue
		}
		sampled++
		docs, err := sample(ctx, client.Database(where[i].db).Collection(where[i].coll), t.Options.Samples)
		for _, doc := range docs {
			d.Fields = fieldNames(doc, d.Fields)
			exp.Samples = append(exp.Samples, ajar.Sample{Dataset: d.Name, Doc: flatten(doc)})
		}
		if err != nil {
			return res, fmt.Errorf("find in %q: %w", d.Name, err)
		}
	}
	return res, nil
}

type collection struct{ db, coll string }

// connect sets up a driver that talks to the target alone: a direct
// connection (no discovery of the replica set's other members), every
// connection through the target dialer, no retries.
// https://www.mongodb.com/docs/drivers/go/current/fundamentals/connections/connection-guide/
func connect(ctx context.Context, t *probe.Target) (*mongo.Client, error) {
	wait := defaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	opts := options.Client().
		SetHosts([]string{t.AddrPort().String()}).
		SetDirect(true).
		SetDialer(dialer{ctx: ctx, d: t.Dialer}).
		SetServerSelectionTimeout(max(wait, time.Millisecond)).
		SetConnectTimeout(max(wait, time.Millisecond)).
		SetServerMonitoringMode(options.ServerMonitoringModePoll).
		SetMaxPoolSize(2).
		SetRetryReads(false).
		SetRetryWrites(false).
		SetAppName("ajar")
	return mongo.Connect(opts)
}

// dialer hands the driver connections to the target, read through a frame
// guard. They live as long as the probe's context, whatever context the
// driver dials with.
type dialer struct {
	ctx context.Context
	d   probe.Dialer
}

func (d dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := d.d.DialAddr(d.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &guardedConn{Conn: c}, nil
}

// refused reports whether a command failed for want of authentication:
// Unauthorized (13), AuthenticationFailed (18), or older servers' "requires
// authentication" / "not authorized" messages.
// https://www.mongodb.com/docs/manual/reference/error-codes/
func refused(err error) bool {
	var ce mongo.CommandError
	if !errors.As(err, &ce) {
		return false
	}
	return ce.Code == 13 || ce.Code == 18 || strings.Contains(ce.Message, "requires authentication") ||
		strings.Contains(ce.Message, "not authorized")
}

// protected is the verdict on a server that refused, with its message.
func protected(open *probe.Result, err error) *probe.Result {
	var ce mongo.CommandError
	detail := "authentication required"
	if errors.As(err, &ce) {
		detail = clip(fmt.Sprintf("%s (%d): %s", ce.Name, ce.Code, ce.Message), 200)
	}
	return &probe.Result{Status: ajar.StatusProtected, Product: open.Product, Version: open.Version, Detail: detail}
}

// collections lists up to max collections of a database; views are left
// out, since counting one runs its pipeline.
func collections(ctx context.Context, db *mongo.Database, max int) ([]string, error) {
	cur, err := db.ListCollections(ctx, bson.D{}, options.ListCollections().SetBatchSize(int32(min(max, 1000))))
	if err != nil {
		return nil, err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var names []string
	for len(names) < max && cur.Next(ctx) {
		var spec struct {
			Name string `bson:"name"`
			Type string `bson:"type"`
		}
		if err := cur.Decode(&spec); err != nil {
			return names, err
		}
		if spec.Type == "view" || spec.Name == "" {
			continue
		}
		names = append(names, spec.Name)
	}
	slices.Sort(names)
	return names, cur.Err()
}

// stats counts a collection's documents (count) and reads its size
// (collStats: size, the documents' BSON bytes, else storageSize).
func stats(ctx context.Context, db *mongo.Database, coll string) (ajar.Dataset, error) {
	var ds ajar.Dataset
	var count struct {
		N bson.RawValue `bson:"n"`
	}
	if err := db.RunCommand(ctx, bson.D{{Key: "count", Value: coll}}).Decode(&count); err != nil {
		return ds, fmt.Errorf("count: %w", err)
	}
	ds.Records = number(count.N)
	var st struct {
		Size        bson.RawValue `bson:"size"`
		StorageSize bson.RawValue `bson:"storageSize"`
	}
	if err := db.RunCommand(ctx, bson.D{{Key: "collStats", Value: coll}}).Decode(&st); err != nil {
		if ctx.Err() != nil {
			return ds, fmt.Errorf("collStats: %w", err)
		}
		return ds, nil // a server without collStats still counted
	}
	ds.Bytes = number(st.Size)
	if ds.Bytes == 0 {
		ds.Bytes = number(st.StorageSize)
	}
	return ds, nil
}

// sample reads up to n documents in one batch (a negative limit: no cursor
// left open on the server).
func sample(ctx context.Context, coll *mongo.Collection, n int) ([]bson.Raw, error) {
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetLimit(-int64(n)).SetBatchSize(int32(n)))
	if err != nil {
		return nil, err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	var docs []bson.Raw
	for len(docs) < n && cur.Next(ctx) {
		docs = append(docs, slices.Clone(cur.Current))
	}
	return docs, cur.Err()
}

// number reads a count or a size, whatever numeric type the server chose;
// anything else, or a negative value, is 0.
func number(v bson.RawValue) int64 {
	var n int64
	switch v.Type {
	case bson.TypeInt32:
		i, _ := v.Int32OK()
		n = int64(i)
	case bson.TypeInt64:
		n, _ = v.Int64OK()
	case bson.TypeDouble:
		f, _ := v.DoubleOK()
		if f < 1<<62 {
			n = int64(f)
		}
	}
	return max(n, 0)
}
