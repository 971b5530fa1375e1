package rangedb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/cloudflare/circl/oprf"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/extsort"
	"github.com/ajar-scan/ajar/breach/ident"
	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/breach/ranges"
)

// ImportOptions describe one import.
type ImportOptions struct {
	Name        string // unique in the store
	Date        string // YYYY-MM-DD, when the data leaked
	Description string
	// Exposure is the IP:PORT of the exposed store the leak came from.
	Exposure string
	// Classes are data classes to record besides those found in the header.
	Classes []string
	// Columns names the column of each kind; kinds not named are looked for
	// under the usual header names.
	Columns map[breach.Kind]string
	// Modes chooses how each kind is indexed; by default phone numbers and
	// ID numbers are private and e-mail addresses hashed.
	Modes map[breach.Kind]breach.Mode
	// Region is the default phone region (ISO 3166-1 alpha-2).
	Region string
	Format leakfile.Format
	// Replace allows a breach of the same name to be replaced.
	Replace bool
	// AcceptTruncated imports the rows read from an input that ends early;
	// without it such an input changes nothing.
	AcceptTruncated bool
	// Size is the input's size in bytes, for progress (0 if unknown).
	Size int64
	// Progress, when set, is called every ProgressEvery and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// MemoryRecords bounds the keys held in memory per mode before a sorted
	// run spills to disk (24 bytes each; default 3 000 000).
	MemoryRecords int
	// Workers normalise, hash and evaluate in parallel (default GOMAXPROCS).
	Workers int
	Now     func() time.Time
}

// DefaultMode returns the mode a kind is indexed in unless told otherwise.
func DefaultMode(k breach.Kind) breach.Mode {
	if k == breach.KindEmail {
		return breach.ModeHashed
	}
	return breach.ModePrivate
}

// Progress is a snapshot of a running import.
type Progress struct {
	Phase       string // "reading", "merging", "done"
	BytesRead   int64
	BytesTotal  int64 // 0 when unknown
	Rows        int64
	Identifiers int64
	Elapsed     time.Duration
	Final       bool
}

// Problem counts rows or values of one kind of trouble, with the first few
// line numbers.
type Problem struct {
	Count int64 `json:"count"`
	Lines []int `json:"lines,omitempty"`
}

// maxLines is how many line numbers a Problem keeps.
const maxLines = 5

func (p *Problem) add(line int) {
	p.Count++
	if len(p.Lines) < maxLines {
		p.Lines = append(p.Lines, line)
	}
}

func (p *Problem) merge(q Problem) {
	p.Count += q.Count
	p.Lines = append(p.Lines, q.Lines...)
	slices.Sort(p.Lines)
	if len(p.Lines) > maxLines {
		p.Lines = p.Lines[:maxLines]
	}
}

// Summary reports an import.
type Summary struct {
	Breach     breach.Breach `json:"breach"`
	Generation string        `json:"generation"`
	Format     string        `json:"format"`
	Compressed bool          `json:"compressed"`
	Rows       int64         `json:"rows"`
	// Columns maps each kind to the column it was read from.
	Columns map[breach.Kind]string `json:"columns"`
	// Identifiers counts distinct valid identifiers by kind.
	Identifiers map[breach.Kind]int64 `json:"identifiers"`
	// Invalid counts values that did not normalise, by kind.
	Invalid map[breach.Kind]*Problem `json:"invalid"`
	// Malformed rows were skipped; BadEncoding rows were not UTF-8 (their
	// ASCII identifiers were still read).
	Malformed   Problem `json:"malformed"`
	BadEncoding Problem `json:"bad_encoding"`
	// Duplicates counts identifiers seen again in the same leak.
	Duplicates int64 `json:"duplicates"`
	// Truncated is set when the input ended early and AcceptTruncated let
	// the rows before it in.
	Truncated string        `json:"truncated,omitempty"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// InputError is an import refused because of its input or options; the store
// is unchanged.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, a ...any) error { return &InputError{fmt.Errorf(format, a...)} }

func (o *ImportOptions) validate() error {
	name := strings.TrimSpace(o.Name)
	if name == "" || len(name) > 200 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return inputErrorf("breach name %q: give a name of 1 to 200 printable characters", o.Name)
	}
	o.Name = name
	if _, err := time.Parse("2006-01-02", o.Date); err != nil {
		return inputErrorf("breach date %q: want YYYY-MM-DD", o.Date)
	}
	if o.Exposure != "" {
		ap, err := netip.ParseAddrPort(o.Exposure)
		if err != nil {
			return inputErrorf("exposure %q: want IP:PORT", o.Exposure)
		}
		o.Exposure = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
	}
	for k, m := range o.Modes {
		if m != breach.ModeHashed && m != breach.ModePrivate {
			return inputErrorf("mode %q for %s: use hashed or private", m, k)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MemoryRecords <= 0 {
		o.MemoryRecords = 3_000_000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 500 * time.Millisecond
	}
	if o.Region == "" {
		o.Region = "CN"
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Import reads a leak from src, indexes its identifiers and swaps a new
// generation of the store in dir. On any error, or when ctx is cancelled,
// the store is left as it was.
func Import(ctx context.Context, dir string, src io.Reader, o ImportOptions) (*Summary, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if _, err := ident.NewNormalizer(o.Region); err != nil {
		return nil, &InputError{err}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create breach directory: %w", err)
	}
	unlock, err := lock(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	im := &importer{o: o, dir: dir, start: time.Now(), src: &countingReader{r: src}}
	return im.run(ctx)
}

type importer struct {
	o     ImportOptions
	dir   string
	start time.Time
	src   *countingReader

	kinds []breach.Kind // selected kinds, in the order of the selected columns
	// headerClasses are the other data classes the header reveals.
	headerClasses []string
	modes         [3]breach.Mode
	replacing     bool // an earlier breach of the same name is replaced
	key           *oprf.PrivateKey

	rows, idents atomic.Int64
	phase        atomic.Value // string
	sum          Summary
}

func kindIndex(k breach.Kind) int { return slices.Index(breach.Kinds, k) }

func (im *importer) run(ctx context.Context) (*Summary, error) {
	o := &im.o
	im.phase.Store("reading")
	lr, err := leakfile.NewReader(im.src, leakfile.Options{Format: o.Format})
	if err != nil {
		var ie *leakfile.InputError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("read leak: %w", err)
		}
		return nil, &InputError{fmt.Errorf("read leak: %w", err)}
	}
	header := lr.Header()
	im.headerClasses = headerClasses(header)
	im.sum.Columns = map[breach.Kind]string{}
	var cols []string
	for _, k := range breach.Kinds {
		col, named := o.Columns[k]
		if named && col != "" {
			if lr.Format() != leakfile.JSONL && !slices.Contains(header, col) {
				return nil, inputErrorf("--%s %q: no such column in the header (%s)", k, col, strings.Join(header, ", "))
			}
		} else {
			col = findColumn(header, defaultColumns[k])
		}
		if col == "" {
			continue
		}
		im.kinds = append(im.kinds, k)
		im.sum.Columns[k] = col
		cols = append(cols, col)
		m := o.Modes[k]
		if m == "" {
			m = DefaultMode(k)
		}
		im.modes[kindIndex(k)] = m
	}
	if len(cols) == 0 {
		return nil, inputErrorf("no phone, ID number or e-mail column in the header (%s): name one with --phone, --id or --email", strings.Join(header, ", "))
	}
	if err := lr.Select(cols...); err != nil {
		return nil, &InputError{err}
	}
	old, err := im.openCurrent()
	if err != nil {
		return nil, err
	}
	defer old.Release()
	id := 1
	for _, b := range old.Breaches {
		if b.Name == o.Name {
			if !o.Replace {
				return nil, inputErrorf("a breach named %q is already imported (id %d): choose another name, or pass --replace", o.Name, b.ID)
			}
			id, im.replacing = b.ID, true
			break
		}
		id = max(id, b.ID+1)
	}
	if im.key, err = ensureKeys(im.dir); err != nil {
		return nil, err
	}
	im.sum.Format = string(lr.Format())
	im.sum.Compressed = lr.Compressed()
	im.sum.Invalid = map[breach.Kind]*Problem{}
	for _, k := range im.kinds {
		im.sum.Invalid[k] = &Problem{}
	}

	stopProgress := im.progress()
	sorters := map[breach.Mode]*extsort.Sorter{}
	defer func() {
		for _, s := range sorters {
			s.Close()
		}
	}()
	for _, m := range []breach.Mode{breach.ModeHashed, breach.ModePrivate} {
		sorters[m] = extsort.New(im.dir, o.MemoryRecords)
	}
	truncated, err := im.read(ctx, lr, sorters)
	if err != nil {
		stopProgress(false)
		return nil, err
	}
	if truncated != nil {
		if !o.AcceptTruncated {
			stopProgress(false)
			return nil, inputErrorf("read leak: %v; nothing was imported (pass --accept-truncated to import the rows before it)", truncated)
		}
		im.sum.Truncated = truncated.Error()
	}
	im.phase.Store("merging")
	gen, err := im.write(ctx, old, id, sorters)
	stopProgress(err == nil)
	if err != nil {
		return nil, err
	}
	im.sum.Generation = gen
	im.sum.Rows = im.rows.Load()
	im.sum.Elapsed = time.Since(im.start)
	return &im.sum, nil
}

func (im *importer) openCurrent() (*Snapshot, error) {
	gen, err := readCurrent(im.dir)
	if err != nil {
		return nil, err
	}
	return openSnapshot(im.dir, gen)
}

// progress reports progress until the returned function is called.
func (im *importer) progress() func(done bool) {
	if im.o.Progress == nil {
		return func(bool) {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	report := func(final bool) {
		im.o.Progress(Progress{
			Phase: im.phase.Load().(string), BytesRead: im.src.n.Load(), BytesTotal: im.o.Size,
			Rows: im.rows.Load(), Identifiers: im.idents.Load(), Elapsed: time.Since(im.start), Final: final,
		})
	}
	wg.Go(func() {
		t := time.NewTicker(im.o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				report(false)
			}
		}
	})
	return func(done bool) {
		close(stop)
		wg.Wait()
		if done {
			im.phase.Store("done")
			report(true)
		}
	}
}

type batch struct {
	rows []leakfile.Row
}

type keyBatch struct {
	mode breach.Mode
	recs []extsort.Record
}

// read runs the reading pipeline: this goroutine parses rows, workers
// normalise, hash and evaluate, one goroutine feeds the sorters. It returns
// the input error that ended a truncated input.
func (im *importer) read(ctx context.Context, lr *leakfile.Reader, sorters map[breach.Mode]*extsort.Sorter) (*leakfile.InputError, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan batch, 2*im.o.Workers)
	keys := make(chan keyBatch, 4*im.o.Workers)
	var workers, sorter sync.WaitGroup
	invalid := make([]map[breach.Kind]*Problem, im.o.Workers)
	for w := range im.o.Workers {
		invalid[w] = map[breach.Kind]*Problem{}
		workers.Go(func() {
			if err := im.work(ctx, batches, keys, invalid[w]); err != nil {
				cancel(err)
			}
		})
	}
	sorter.Go(func() {
		for kb := range keys {
			if ctx.Err() != nil {
				continue
			}
			s := sorters[kb.mode]
			for _, r := range kb.recs {
				if err := s.Add(r); err != nil {
					cancel(fmt.Errorf("sort identifiers: %w", err))
					break
				}
			}
		}
	})

	var truncated *leakfile.InputError
	const batchSize = 1024
	b := batch{rows: make([]leakfile.Row, 0, batchSize)}
read:
	for ctx.Err() == nil {
		row, err := lr.Next()
		var re *leakfile.RowError
		var ie *leakfile.InputError
		switch {
		case err == io.EOF:
			break read
		case errors.As(err, &re):
			im.sum.Malformed.add(re.Line)
			im.rows.Add(1)
			continue
		case errors.As(err, &ie):
			truncated = ie
			break read
		case err != nil:
			cancel(fmt.Errorf("read leak: %w", err))
			break read
		}
		im.rows.Add(1)
		if row.BadEncoding {
			im.sum.BadEncoding.add(row.Line)
		}
		b.rows = append(b.rows, row)
		if len(b.rows) == batchSize {
			select {
			case batches <- b:
			case <-ctx.Done():
				break read
			}
			b = batch{rows: make([]leakfile.Row, 0, batchSize)}
		}
	}
	if len(b.rows) > 0 && ctx.Err() == nil {
		batches <- b
	}
	close(batches)
	workers.Wait()
	close(keys)
	sorter.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	for _, inv := range invalid {
		for k, p := range inv {
			im.sum.Invalid[k].merge(*p)
		}
	}
	return truncated, nil
}

// work normalises the identifiers of each batch and sends their keys.
func (im *importer) work(ctx context.Context, batches <-chan batch, keys chan<- keyBatch, invalid map[breach.Kind]*Problem) error {
	norm, err := ident.NewNormalizer(im.o.Region)
	if err != nil {
		return err
	}
	srv := oprf.NewServer(Suite, im.key)
	for _, k := range im.kinds {
		invalid[k] = &Problem{}
	}
	for b := range batches {
		if ctx.Err() != nil {
			continue
		}
		out := map[breach.Mode][]extsort.Record{}
		n := 0
		for _, row := range b.rows {
			for i, v := range row.Values {
				if v == "" {
					continue
				}
				k := im.kinds[i]
				nv, err := norm.Normalize(k, v)
				if err != nil {
					invalid[k].add(row.Line)
					continue
				}
				ki := kindIndex(k)
				d := breach.Hash(k, nv)
				m := im.modes[ki]
				var key breach.Key
				if m == breach.ModePrivate {
					// F(k, x) of RFC 9497, section 3.3.1: what a client
					// computes with Blind, BlindEvaluate and Finalize.
					y, err := srv.FullEvaluate(breach.Input(k, nv))
					if err != nil {
						return fmt.Errorf("evaluate OPRF: %w", err)
					}
					key = breach.PrivateKey(d, y)
				} else {
					key = breach.HashedKey(d)
				}
				out[m] = append(out[m], extsort.Record{Key: key, Tag: byte(ki)})
				n++
			}
		}
		im.idents.Add(int64(n))
		for m, recs := range out {
			select {
			case keys <- keyBatch{m, recs}:
			case <-ctx.Done():
			}
		}
	}
	return nil
}

// write merges the sorted keys with the live generation into a new one and
// makes it live.
func (im *importer) write(ctx context.Context, old *Snapshot, id int, sorters map[breach.Mode]*extsort.Sorter) (gen string, err error) {
	seq := 0
	if old.Gen != "" {
		seq, _ = strconv.Atoi(strings.TrimPrefix(old.Gen, genPrefix))
	}
	gen = fmt.Sprintf("%s%06d", genPrefix, seq+1)
	gdir := filepath.Join(im.dir, gen)
	// Left over by an import that died: never live, safe to remove.
	if err := os.RemoveAll(gdir); err != nil {
		return "", fmt.Errorf("remove stale generation: %w", err)
	}
	if err := os.Mkdir(gdir, 0o755); err != nil {
		return "", fmt.Errorf("create generation: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(gdir)
		}
	}()

	idents := map[breach.Kind]int64{}
	for _, m := range []breach.Mode{breach.ModeHashed, breach.ModePrivate} {
		it, err := sorters[m].Sorted()
		if err != nil {
			return "", err
		}
		r := old.Ranges(m)
		if r == nil && sorters[m].Len() == 0 {
			continue
		}
		if r != nil && sorters[m].Len() == 0 && !im.replacing {
			// Unchanged: the new generation shares the file.
			if os.Link(filepath.Join(im.dir, old.Gen, RangeFile(m)), filepath.Join(gdir, RangeFile(m))) == nil {
				continue
			}
		}
		w, err := ranges.Create(filepath.Join(gdir, RangeFile(m)))
		if err != nil {
			return "", err
		}
		if err := im.merge(ctx, w, r, it, id, idents); err != nil {
			w.Abort()
			return "", err
		}
		if err := w.Close(); err != nil {
			return "", err
		}
		sorters[m].Close()
	}
	var total int64
	for _, n := range idents {
		total += n
	}
	if total == 0 {
		return "", inputErrorf("no valid identifier in the leak: nothing was imported")
	}

	b := breach.Breach{
		ID: id, Name: im.o.Name, Date: im.o.Date, Description: im.o.Description,
		Records: im.rows.Load(), Identifiers: map[breach.Kind]breach.Indexed{},
		Exposure: im.o.Exposure, ImportedAt: im.o.Now().UTC().Truncate(time.Second),
	}
	classes := map[string]bool{}
	for _, k := range im.kinds {
		if idents[k] > 0 {
			b.Identifiers[k] = breach.Indexed{Count: idents[k], Mode: im.modes[kindIndex(k)]}
			classes[k.Class()] = true
		}
	}
	for _, c := range im.headerClasses {
		classes[c] = true
	}
	for _, c := range im.o.Classes {
		if c = strings.TrimSpace(c); c != "" {
			classes[c] = true
		}
	}
	for c := range classes {
		b.Classes = append(b.Classes, c)
	}
	slices.Sort(b.Classes)
	m := meta{Version: 1}
	for _, ob := range old.Breaches {
		if ob.ID != id {
			m.Breaches = append(m.Breaches, ob)
		}
	}
	m.Breaches = append(m.Breaches, b)
	slices.SortFunc(m.Breaches, func(a, b breach.Breach) int { return a.ID - b.ID })
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode breach metadata: %w", err)
	}
	if err := writeSynced(filepath.Join(gdir, metaFile), mb); err != nil {
		return "", err
	}
	if err := syncDir(gdir); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// The commit point: CURRENT names the new generation.
	if err := writeAtomic(im.dir, currentFile, gen+"\n", 0o644); err != nil {
		return "", err
	}
	committed = true
	im.sum.Breach = b
	im.sum.Identifiers = idents
	im.removeOld(gen)
	return gen, nil
}

// merge writes the union of the live range file and the new keys, adding
// breach id to the new keys.
func (im *importer) merge(ctx context.Context, w *ranges.Writer, old *ranges.Reader, it *extsort.Iterator, id int, idents map[breach.Kind]int64) error {
	var sc *ranges.Scanner
	var sets []ranges.Set
	if old != nil {
		sc = old.Scan()
		sets = old.Sets()
	}
	oldOK := sc != nil && sc.Next()
	newOK := it.Next()
	var ids []int
	n := 0
	for oldOK || newOK {
		if n++; n%(1<<16) == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var c int
		switch {
		case !oldOK:
			c = 1
		case !newOK:
			c = -1
		default:
			ok, nk := sc.Entry().Key, breach.Key(it.Record().Key)
			c = compareKeys(ok, nk)
		}
		ids = ids[:0]
		var key breach.Key
		if c <= 0 {
			e := sc.Entry()
			key = e.Key
			for _, x := range sets[e.Set].IDs {
				if x != id {
					ids = append(ids, x)
				}
			}
			oldOK = sc.Next()
		}
		if c >= 0 {
			r := it.Record()
			key = r.Key
			idents[breach.Kinds[r.Tag]]++
			// Skip repeats of this key: the same identifier again.
			for newOK = it.Next(); newOK && it.Record().Key == r.Key; newOK = it.Next() {
				im.sum.Duplicates++
			}
			i, _ := slices.BinarySearch(ids, id)
			ids = slices.Insert(ids, i, id)
		}
		if len(ids) == 0 {
			continue // held only by the breach being replaced
		}
		if err := w.Add(key, ids); err != nil {
			return err
		}
	}
	if sc != nil && sc.Err() != nil {
		return sc.Err()
	}
	return it.Err()
}

func compareKeys(a, b breach.Key) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// removeOld removes generations other than the live one: the one just
// replaced and any left by imports that died. Readers that still have the
// old files open keep reading them until they let go.
func (im *importer) removeOld(live string) {
	ents, _ := os.ReadDir(im.dir)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), genPrefix) && e.Name() != live {
			os.RemoveAll(filepath.Join(im.dir, e.Name()))
		}
	}
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}
