// Package rangedb keeps the breach range store on disk — generations of range
// files and metadata swapped in atomically, and the server's secret keys —
// and imports leaks into it.
package rangedb

// A breach directory holds:
//
//	LOCK            locked by the import that writes (flock)
//	CURRENT         the name of the live generation; replaced by rename
//	oprf.key        the OPRF private key, mode 0600
//	decoy.key       the seed of the decoy lines, mode 0600
//	gen-NNNNNN/     one generation: meta.json, hashed.rng, private.rng
//
// An import writes a new generation beside the live one and then renames a
// new CURRENT over the old: a reader sees the old store or the new one,
// never a mixture, and an import that dies leaves the old store in place.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/oprf"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/ranges"
)

// Suite is the OPRF ciphersuite of private mode (RFC 9497, section 4.1):
// ristretto255 with SHA-512. A prime-order group needs no cofactor care, and
// evaluating it costs half as much as P-256 in the Go libraries, which sets
// the pace of a private import.
var Suite = oprf.SuiteRistretto255

// File names inside a breach directory.
const (
	currentFile = "CURRENT"
	lockFile    = "LOCK"
	keyFile     = "oprf.key"
	decoyFile   = "decoy.key"
	metaFile    = "meta.json"
	genPrefix   = "gen-"
)

// RangeFile returns the name of the range file of a mode in a generation.
func RangeFile(m breach.Mode) string { return string(m) + ".rng" }

// meta is the content of meta.json.
type meta struct {
	Version  int             `json:"version"`
	Breaches []breach.Breach `json:"breaches"`
}

// Snapshot is one generation of the store, open for reading.
type Snapshot struct {
	// Gen names the generation ("" for an empty store).
	Gen      string
	Breaches []breach.Breach
	ranges   map[breach.Mode]*ranges.Reader
	shapes   map[breach.Mode]*shape
	refs     atomic.Int64
}

// Ranges returns the range file of a mode, nil when the store holds none.
func (s *Snapshot) Ranges(m breach.Mode) *ranges.Reader { return s.ranges[m] }

// Release gives back a snapshot obtained from DB.Snapshot.
func (s *Snapshot) Release() {
	if s.refs.Add(-1) == 0 {
		for _, r := range s.ranges {
			r.Close()
		}
	}
}

func openSnapshot(dir, gen string) (*Snapshot, error) {
	s := &Snapshot{Gen: gen, ranges: map[breach.Mode]*ranges.Reader{}, shapes: map[breach.Mode]*shape{}}
	s.refs.Store(1)
	if gen == "" {
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, gen, metaFile))
	if err != nil {
		return nil, fmt.Errorf("read breach metadata: %w", err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read breach metadata %s: %w", filepath.Join(dir, gen, metaFile), err)
	}
	s.Breaches = m.Breaches
	for _, mode := range []breach.Mode{breach.ModeHashed, breach.ModePrivate} {
		r, err := ranges.Open(filepath.Join(dir, gen, RangeFile(mode)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			s.Release()
			return nil, err
		}
		s.ranges[mode] = r
		s.shapes[mode] = newShape(r)
	}
	return s, nil
}

// readCurrent returns the live generation, "" when there is none.
func readCurrent(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Join(dir, currentFile), err)
	}
	gen := strings.TrimSpace(string(b))
	if !strings.HasPrefix(gen, genPrefix) || strings.ContainsAny(gen, `/\`) {
		return "", fmt.Errorf("read %s: %q names no generation", filepath.Join(dir, currentFile), gen)
	}
	return gen, nil
}

// DB serves lookups from a breach directory and follows the imports made
// into it, by this process or another.
type DB struct {
	dir        string
	checkEvery time.Duration
	mu         sync.Mutex // serialises reloads
	cur        atomic.Pointer[Snapshot]
	key        atomic.Pointer[oprf.PrivateKey]
	decoy      atomic.Pointer[[32]byte]
	checked    atomic.Int64 // unix nanoseconds of the last look at CURRENT
	ephemeral  [32]byte     // decoy key until an import writes one
}

// Open opens the breach directory dir for reading. A directory that does not
// exist yet is an empty store; imports made later are picked up.
func Open(dir string) (*DB, error) {
	db := &DB{dir: dir, checkEvery: time.Second}
	rand.Read(db.ephemeral[:])
	db.cur.Store(&Snapshot{ranges: map[breach.Mode]*ranges.Reader{}, shapes: map[breach.Mode]*shape{}})
	db.cur.Load().refs.Store(1)
	if err := db.Reload(); err != nil {
		return nil, err
	}
	return db, nil
}

// Dir returns the breach directory.
func (db *DB) Dir() string { return db.dir }

// Reload opens the live generation if it changed, and loads keys that
// appeared.
func (db *DB) Reload() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.checked.Store(time.Now().UnixNano())
	if db.key.Load() == nil {
		k, err := loadKey(db.dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if k != nil {
			db.key.Store(k)
		}
	}
	if db.decoy.Load() == nil {
		d, err := loadDecoy(db.dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if d != nil {
			db.decoy.Store(d)
		}
	}
	gen, err := readCurrent(db.dir)
	if err != nil {
		return err
	}
	old := db.cur.Load()
	if gen == old.Gen {
		return nil
	}
	s, err := openSnapshot(db.dir, gen)
	if err != nil {
		return err
	}
	db.cur.Store(s)
	old.Release()
	return nil
}

// Snapshot returns the live generation, looking for a newer one at most once
// a second. Release it when done.
func (db *DB) Snapshot() (*Snapshot, error) {
	if time.Since(time.Unix(0, db.checked.Load())) >= db.checkEvery {
		if err := db.Reload(); err != nil {
			return nil, err
		}
	}
	for {
		s := db.cur.Load()
		if s.refs.Add(1) > 1 {
			return s, nil
		}
		// Released and closed while we looked: the next load sees its
		// successor.
		s.refs.Add(-1)
	}
}

// Key returns the OPRF private key, nil before the first private import.
func (db *DB) Key() *oprf.PrivateKey { return db.key.Load() }

// Evaluate answers a client's blinded element (RFC 9497, section 3.3.1,
// BlindEvaluate): it returns the evaluated element, serialised.
func (db *DB) Evaluate(blinded []byte) ([]byte, error) {
	k := db.Key()
	if k == nil {
		return nil, errors.New("no OPRF key: nothing was imported in private mode")
	}
	e := Suite.Group().NewElement()
	if err := e.UnmarshalBinary(blinded); err != nil || e.IsIdentity() {
		return nil, ErrBadElement
	}
	ev, err := oprf.NewServer(Suite, k).Evaluate(&oprf.EvaluationRequest{Elements: []oprf.Blinded{e}})
	if err != nil {
		return nil, fmt.Errorf("evaluate blinded element: %w", err)
	}
	return ev.Elements[0].MarshalBinaryCompress()
}

// ErrBadElement reports a blinded element that is not a valid, non-identity
// group element.
var ErrBadElement = errors.New("blinded element is not a valid ristretto255 element")

// Close releases the live generation.
func (db *DB) Close() error {
	db.cur.Load().Release()
	return nil
}

func loadKey(dir string) (*oprf.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	suite, h, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	raw, err := hex.DecodeString(strings.TrimSpace(h))
	if suite != Suite.Identifier() || err != nil {
		return nil, fmt.Errorf("read %s: not a %s key", filepath.Join(dir, keyFile), Suite.Identifier())
	}
	k := new(oprf.PrivateKey)
	if err := k.UnmarshalBinary(Suite, raw); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, keyFile), err)
	}
	return k, nil
}

func loadDecoy(dir string) (*[32]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, decoyFile))
	if err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("read %s: want 32 bytes in hex", filepath.Join(dir, decoyFile))
	}
	var d [32]byte
	copy(d[:], raw)
	return &d, nil
}

// ensureKeys creates the OPRF key and the decoy seed when missing. The
// caller holds the lock.
func ensureKeys(dir string) (*oprf.PrivateKey, error) {
	if _, err := loadDecoy(dir); errors.Is(err, fs.ErrNotExist) {
		var d [32]byte
		rand.Read(d[:])
		if err := writeAtomic(dir, decoyFile, hex.EncodeToString(d[:])+"\n", 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	k, err := loadKey(dir)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = oprf.GenerateKey(Suite, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate OPRF key: %w", err)
		}
		raw, err := k.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode OPRF key: %w", err)
		}
		if err := writeAtomic(dir, keyFile, Suite.Identifier()+"\n"+hex.EncodeToString(raw)+"\n", 0o600); err != nil {
			return nil, err
		}
	}
	return k, err
}

// writeAtomic writes a file through a temporary file renamed over it, so
// that a reader sees the old content or the new, whole.
func writeAtomic(dir, name, content string, perm os.FileMode) error {
	f, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
