// Package ranges reads and writes range files: identifier keys sorted and
// partitioned by their 20-bit prefix, each with the breaches that hold it.
package ranges

// A range file is laid out as follows (integers little-endian):
//
//	header   64 bytes: magic "AJARRNG1", entries u64, sets u32, largest
//	         bucket u32 (entries), sets offset u64, data offset u64, zeros
//	index    (Buckets+1) u64: where each bucket's entries start, relative
//	         to the data offset; bucket b spans index[b]..index[b+1]
//	data     per entry, in key order: key bytes 2..15 (the first 2 bytes and
//	         the high half of byte 2 are the bucket), uvarint set number
//	sets     per set: uvarint entries using it, uvarint count of ids,
//	         uvarint ids ascending
//
// A lookup reads the index entry from memory and the bucket with one pread.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ajar-scan/ajar/breach"
)

const (
	magic      = "AJARRNG1"
	headerSize = 64
	indexSize  = (breach.Buckets + 1) * 8
	storedKey  = 14 // key bytes 2..15
	// maxEntryLen bounds an encoded entry: the stored key and a uvarint.
	maxEntryLen = storedKey + binary.MaxVarintLen32
)

// Set is a distinct list of breach ids with the number of entries using it.
type Set struct {
	IDs   []int
	Count int64
}

// Entry is one key with the number of its set.
type Entry struct {
	Key breach.Key
	Set uint32
}

// Writer writes a range file from keys given in ascending order.
type Writer struct {
	f         *os.File
	w         *bufio.Writer
	index     []uint64
	bucket    uint32 // next bucket whose start is not yet recorded
	off       uint64
	entries   uint64
	inBucket  uint32
	maxBucket uint32
	last      breach.Key
	sets      []Set
	setIndex  map[string]uint32
	buf       []byte
}

// Create starts a range file at path.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create range file: %w", err)
	}
	w := &Writer{f: f, index: make([]uint64, breach.Buckets+1), setIndex: map[string]uint32{}}
	if _, err := f.Seek(headerSize+indexSize, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("create range file: %w", err)
	}
	w.w = bufio.NewWriterSize(f, 1<<20)
	return w, nil
}

// Add appends a key held by the breaches ids (ascending, not empty). Keys
// must come in strictly ascending order.
func (w *Writer) Add(k breach.Key, ids []int) error {
	if w.entries > 0 && compareKeys(k, w.last) <= 0 {
		return fmt.Errorf("write range file: key %X after %X", k, w.last)
	}
	if len(ids) == 0 {
		return fmt.Errorf("write range file: key %X without breaches", k)
	}
	b := k.Bucket()
	if b >= w.bucket {
		for ; w.bucket <= b; w.bucket++ {
			w.index[w.bucket] = w.off
		}
		w.inBucket = 0
	}
	w.inBucket++
	w.maxBucket = max(w.maxBucket, w.inBucket)
	sig := setSignature(ids)
	s, ok := w.setIndex[sig]
	if !ok {
		s = uint32(len(w.sets))
		w.setIndex[sig] = s
		w.sets = append(w.sets, Set{IDs: slices.Clone(ids)})
	}
	w.sets[s].Count++
	w.buf = append(w.buf[:0], k[2:]...)
	w.buf = binary.AppendUvarint(w.buf, uint64(s))
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("write range file: %w", err)
	}
	w.off += uint64(len(w.buf))
	w.entries++
	w.last = k
	return nil
}

func setSignature(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.Itoa(id))
		b.WriteByte(',')
	}
	return b.String()
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

// Close writes the index, sets and header, syncs the file to disk and closes
// it.
func (w *Writer) Close() error {
	defer w.f.Close()
	for ; w.bucket <= breach.Buckets; w.bucket++ {
		w.index[w.bucket] = w.off
	}
	setsOff := headerSize + indexSize + w.off
	for _, s := range w.sets {
		w.buf = binary.AppendUvarint(w.buf[:0], uint64(s.Count))
		w.buf = binary.AppendUvarint(w.buf, uint64(len(s.IDs)))
		for _, id := range s.IDs {
			w.buf = binary.AppendUvarint(w.buf, uint64(id))
		}
		w.w.Write(w.buf)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write range file: %w", err)
	}
	head := make([]byte, headerSize+indexSize)
	copy(head, magic)
	binary.LittleEndian.PutUint64(head[8:], w.entries)
	binary.LittleEndian.PutUint32(head[16:], uint32(len(w.sets)))
	binary.LittleEndian.PutUint32(head[20:], w.maxBucket)
	binary.LittleEndian.PutUint64(head[24:], setsOff)
	binary.LittleEndian.PutUint64(head[32:], headerSize+indexSize)
	for i, o := range w.index {
		binary.LittleEndian.PutUint64(head[headerSize+8*i:], o)
	}
	if _, err := w.f.WriteAt(head, 0); err != nil {
		return fmt.Errorf("write range file header: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync range file: %w", err)
	}
	return w.f.Close()
}

// Abort closes and removes an unfinished file.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// Reader looks up buckets of a range file. It is safe for concurrent use.
type Reader struct {
	f         *os.File
	entries   uint64
	maxBucket uint32
	dataOff   uint64
	index     []uint64
	sets      []Set
}

// ErrFormat reports a file that is not a range file or is damaged.
var ErrFormat = errors.New("not a range file or damaged")

// Open opens a range file.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open range file: %w", err)
	}
	r, err := load(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open range file %s: %w", path, err)
	}
	return r, nil
}

func load(f *os.File) (*Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	head := make([]byte, headerSize+indexSize)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if string(head[:8]) != magic {
		return nil, ErrFormat
	}
	r := &Reader{
		f:         f,
		entries:   binary.LittleEndian.Uint64(head[8:]),
		maxBucket: binary.LittleEndian.Uint32(head[20:]),
		dataOff:   binary.LittleEndian.Uint64(head[32:]),
		index:     make([]uint64, breach.Buckets+1),
	}
	nsets := binary.LittleEndian.Uint32(head[16:])
	setsOff := binary.LittleEndian.Uint64(head[24:])
	for i := range r.index {
		r.index[i] = binary.LittleEndian.Uint64(head[headerSize+8*i:])
		if i > 0 && r.index[i] < r.index[i-1] {
			return nil, ErrFormat
		}
	}
	if r.dataOff != headerSize+indexSize || r.dataOff+r.index[breach.Buckets] != setsOff || setsOff > uint64(st.Size()) {
		return nil, ErrFormat
	}
	br := bufio.NewReader(io.NewSectionReader(f, int64(setsOff), st.Size()-int64(setsOff)))
	for range nsets {
		count, err1 := binary.ReadUvarint(br)
		n, err2 := binary.ReadUvarint(br)
		if err := errors.Join(err1, err2); err != nil || n == 0 || n > 1<<20 {
			return nil, ErrFormat
		}
		s := Set{Count: int64(count), IDs: make([]int, n)}
		for i := range s.IDs {
			id, err := binary.ReadUvarint(br)
			if err != nil {
				return nil, ErrFormat
			}
			s.IDs[i] = int(id)
		}
		r.sets = append(r.sets, s)
	}
	return r, nil
}

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

// Entries returns the number of keys in the file.
func (r *Reader) Entries() uint64 { return r.entries }

// MaxBucket returns the number of entries in the largest bucket.
func (r *Reader) MaxBucket() int { return int(r.maxBucket) }

// Sets returns the distinct breach-id lists, indexed by Entry.Set.
func (r *Reader) Sets() []Set { return r.sets }

// Bucket appends the entries of bucket b to dst.
func (r *Reader) Bucket(b uint32, dst []Entry) ([]Entry, error) {
	if b >= breach.Buckets {
		return dst, fmt.Errorf("bucket %d out of range", b)
	}
	lo, hi := r.index[b], r.index[b+1]
	if lo == hi {
		return dst, nil
	}
	buf := make([]byte, hi-lo)
	if _, err := r.f.ReadAt(buf, int64(r.dataOff+lo)); err != nil {
		return dst, fmt.Errorf("read bucket %05X: %w", b, err)
	}
	return r.decode(b, buf, dst)
}

func (r *Reader) decode(b uint32, buf []byte, dst []Entry) ([]Entry, error) {
	for len(buf) > 0 {
		if len(buf) < storedKey+1 {
			return dst, fmt.Errorf("bucket %05X: %w", b, ErrFormat)
		}
		var e Entry
		e.Key[0], e.Key[1] = byte(b>>12), byte(b>>4)
		copy(e.Key[2:], buf[:storedKey])
		if e.Key.Bucket() != b {
			return dst, fmt.Errorf("bucket %05X: %w", b, ErrFormat)
		}
		s, n := binary.Uvarint(buf[storedKey:])
		if n <= 0 || s >= uint64(len(r.sets)) {
			return dst, fmt.Errorf("bucket %05X: %w", b, ErrFormat)
		}
		e.Set = uint32(s)
		dst = append(dst, e)
		buf = buf[storedKey+n:]
	}
	return dst, nil
}

// Scanner reads every entry of a file in key order.
type Scanner struct {
	r      *Reader
	br     *bufio.Reader
	bucket uint32
	pos    uint64
	cur    Entry
	err    error
}

// Scan returns a scanner over the whole file.
func (r *Reader) Scan() *Scanner {
	sr := io.NewSectionReader(r.f, int64(r.dataOff), int64(r.index[breach.Buckets]))
	return &Scanner{r: r, br: bufio.NewReaderSize(sr, 1<<20)}
}

// Next advances to the next entry.
func (s *Scanner) Next() bool {
	if s.err != nil {
		return false
	}
	for s.bucket < breach.Buckets && s.r.index[s.bucket+1] <= s.pos {
		s.bucket++
	}
	if s.bucket >= breach.Buckets {
		return false
	}
	var buf [maxEntryLen]byte
	if _, err := io.ReadFull(s.br, buf[:storedKey]); err != nil {
		s.err = fmt.Errorf("scan range file: %w", err)
		return false
	}
	set, err := binary.ReadUvarint(s.br)
	if err != nil || set >= uint64(len(s.r.sets)) {
		s.err = fmt.Errorf("scan range file: %w", ErrFormat)
		return false
	}
	s.cur.Key[0], s.cur.Key[1] = byte(s.bucket>>12), byte(s.bucket>>4)
	copy(s.cur.Key[2:], buf[:storedKey])
	s.cur.Set = uint32(set)
	s.pos += storedKey + uint64(uvarintLen(set))
	return true
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Entry returns the current entry.
func (s *Scanner) Entry() Entry { return s.cur }

// Err returns the error that stopped the scan, if any.
func (s *Scanner) Err() error { return s.err }
