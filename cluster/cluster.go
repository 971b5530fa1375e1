// Package cluster runs one scan on many workers: a coordinator cuts the target
// space into shards on a NATS JetStream work queue, workers pull and scan them.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ajar-scan/ajar"
)

// Names of the JetStream stream, consumer and buckets the cluster uses.
const (
	StreamName    = "SHARDS"
	ConsumerName  = "ajar-workers"
	SubjectPrefix = "ajar.shards."
	ScansBucket   = "ajar_scans"
	ShardsBucket  = "ajar_shards"
	WorkersBucket = "ajar_workers"
)

// DefaultAckWait is how long a shard may go without a heartbeat from its
// worker before JetStream delivers it to another.
const DefaultAckWait = 30 * time.Second

// Store is what the cluster needs of the shared store: an ajar.Store that
// records an observation once per id, and finds the exposures a scan did not
// see (store/postgres has both).
type Store interface {
	ajar.Store
	// RecordOnce records ev unless an event with the same id was recorded
	// already; then it fills ev with that event and reports false.
	RecordOnce(ctx context.Context, id []byte, ev *ajar.Event) (stored bool, err error)
	// Unseen returns the records whose latest status is exposed, open or
	// wiped and whose port had no event in the scan.
	Unseen(ctx context.Context, scan string) ([]ajar.Record, error)
}

// EventID is the deterministic id of an observation: the seq-th observation
// (from 0) of key k in shard shard of scan. Shard 0 is the coordinator's
// closing pass. A shard scanned again yields the same ids in the same order.
func EventID(scan string, shard int, k ajar.Key, seq int) []byte {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte(scan))
	h.Write([]byte{0})
	binary.BigEndian.PutUint64(b[:], uint64(shard))
	h.Write(b[:])
	a := k.Addr.Unmap().As16()
	h.Write(a[:])
	binary.BigEndian.PutUint16(b[:2], k.Port)
	h.Write(b[:2])
	h.Write([]byte(k.Plugin))
	h.Write([]byte{0})
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	h.Write(b[:])
	return h.Sum(nil)
}

// State is where a cluster scan is in its life.
type State string

// The states of a scan. running → closing → finished; running → cancelled →
// running again on resume.
const (
	// StateRunning: shards are queued or being scanned.
	StateRunning State = "running"
	// StateClosing: every shard is stored; the coordinator is marking the
	// exposures the scan did not see closed.
	StateClosing State = "closing"
	// StateFinished: done.
	StateFinished State = "finished"
	// StateCancelled: stopped by a user; workers drop its shards.
	StateCancelled State = "cancelled"
)

// Scan is the document of one cluster scan in the ajar_scans bucket.
type Scan struct {
	ID    string `json:"id"`
	Args  string `json:"args,omitempty"`
	State State  `json:"state"`
	Spec  Spec   `json:"spec"`
	// Targets is the number of targets of the whole space.
	Targets uint64 `json:"targets"`
	// Round counts the times the shards were published (1, then one more
	// per resume); it is part of each message's id.
	Round    int        `json:"round"`
	Created  time.Time  `json:"created"`
	Updated  time.Time  `json:"updated"`
	Finished *time.Time `json:"finished,omitempty"`
	// Progress is written by the coordinator while it follows the scan.
	Progress Progress `json:"progress"`
}

// Progress counts what the finished shards of a scan did.
type Progress struct {
	Shards    int   `json:"shards"` // shards finished
	Targets   int64 `json:"targets"`
	Open      int64 `json:"open"`
	Exposed   int64 `json:"exposed"`
	Protected int64 `json:"protected"`
	// Closed counts the closed events of the shards and of the closing pass.
	Closed int64 `json:"closed"`
}

// Add adds the counts of one shard.
func (p *Progress) Add(r ShardResult) {
	p.Shards++
	p.Targets += r.Targets
	p.Open += r.Open
	p.Exposed += r.Exposed
	p.Protected += r.Protected
	p.Closed += r.Closed
}

// ShardResult is the record of one finished shard in the ajar_shards bucket.
type ShardResult struct {
	Worker    string        `json:"worker"`
	Done      time.Time     `json:"done"`
	Elapsed   time.Duration `json:"elapsed"`
	Targets   int64         `json:"targets"`
	Attempts  int64         `json:"attempts"`
	Open      int64         `json:"open"`
	Exposed   int64         `json:"exposed"`
	Protected int64         `json:"protected"`
	Closed    int64         `json:"closed"`
}

// shardMsg is the body of a shard message.
type shardMsg struct {
	Scan   string `json:"scan"`
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
}

// shardKey is the key of a finished shard in ShardsBucket.
func shardKey(scan string, shard int) string { return fmt.Sprintf("%s.%d", scan, shard) }

var scanIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// checkScanID refuses a scan id that cannot be a subject token and a key.
func checkScanID(id string) error {
	if !scanIDPattern.MatchString(id) {
		return fmt.Errorf("scan id %q: use letters, digits, '-' and '_' only", id)
	}
	return nil
}

// ErrNoScan is returned for a scan id the cluster does not know.
var ErrNoScan = errors.New("no such cluster scan")

// Setup creates or updates the stream, the workers' consumer and the
// buckets. The coordinator calls it with its ack wait; a worker calls it
// with 0, which creates what is missing and leaves an existing consumer's
// settings alone.
func Setup(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) error {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "ajar: shards of cluster scans, waiting for a worker",
		Subjects:    []string{SubjectPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  2 * time.Minute,
	}); err != nil {
		return fmt.Errorf("set up stream %s: %w", StreamName, err)
	}
	if err := setupConsumer(ctx, js, ackWait); err != nil {
		return err
	}
	for _, kc := range []jetstream.KeyValueConfig{
		{Bucket: ScansBucket, Description: "ajar: cluster scans", Storage: jetstream.FileStorage},
		{Bucket: ShardsBucket, Description: "ajar: finished shards", Storage: jetstream.FileStorage},
		{Bucket: WorkersBucket, Description: "ajar: live workers", Storage: jetstream.MemoryStorage, TTL: memberTTL},
	} {
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("set up bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}

func setupConsumer(ctx context.Context, js jetstream.JetStream, ackWait time.Duration) error {
	if ackWait <= 0 {
		_, err := js.Consumer(ctx, StreamName, ConsumerName)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("look up consumer %s: %w", ConsumerName, err)
		}
		ackWait = DefaultAckWait
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "ajar workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: -1,
		FilterSubject: SubjectPrefix + ">",
	}); err != nil {
		return fmt.Errorf("set up consumer %s: %w", ConsumerName, err)
	}
	return nil
}
