// Package extsort sorts more 16-byte keys than fit in memory: sorted runs
// spill to temporary files and a k-way merge reads them back in order.
package extsort

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Record is a key with a one-byte tag that travels with it.
type Record struct {
	Key [16]byte
	Tag byte
}

// rec is a Record as two words, which sort faster than bytes.
type rec struct {
	hi, lo uint64
	tag    byte
}

func toRec(r Record) rec {
	return rec{binary.BigEndian.Uint64(r.Key[:8]), binary.BigEndian.Uint64(r.Key[8:]), r.Tag}
}

func (r rec) record() Record {
	var out Record
	binary.BigEndian.PutUint64(out.Key[:8], r.hi)
	binary.BigEndian.PutUint64(out.Key[8:], r.lo)
	out.Tag = r.tag
	return out
}

func compare(a, b rec) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	if c := cmp.Compare(a.lo, b.lo); c != 0 {
		return c
	}
	return cmp.Compare(a.tag, b.tag)
}

const recordSize = 17

// Sorter collects records. Memory holds at most the limit given to New;
// beyond it, sorted runs go to unlinked temporary files in the directory.
type Sorter struct {
	dir   string
	limit int
	buf   []rec
	runs  []*os.File
	n     int64
}

// New returns a sorter that keeps up to limit records (24 bytes each) in
// memory and spills to dir.
func New(dir string, limit int) *Sorter {
	return &Sorter{dir: dir, limit: max(limit, 1024)}
}

// Len returns the number of records added.
func (s *Sorter) Len() int64 { return s.n }

// Add adds a record.
func (s *Sorter) Add(r Record) error {
	if s.buf == nil {
		// Full size at once: growing by copies would hold two buffers.
		// The pages are touched only as records arrive.
		s.buf = make([]rec, 0, s.limit)
	}
	s.buf = append(s.buf, toRec(r))
	s.n++
	if len(s.buf) >= s.limit {
		return s.spill()
	}
	return nil
}

func (s *Sorter) spill() error {
	slices.SortFunc(s.buf, compare)
	f, err := os.CreateTemp(s.dir, "run-*.tmp")
	if err != nil {
		return fmt.Errorf("create sorted run: %w", err)
	}
	// Unlinked at once: a crash leaves nothing behind.
	os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 1<<20)
	var b [recordSize]byte
	for _, r := range s.buf {
		binary.BigEndian.PutUint64(b[:8], r.hi)
		binary.BigEndian.PutUint64(b[8:16], r.lo)
		b[16] = r.tag
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write sorted run: %w", err)
	}
	s.runs = append(s.runs, f)
	s.buf = s.buf[:0]
	return nil
}

// Close releases the runs; the sorter cannot be used after.
func (s *Sorter) Close() error {
	var errs []error
	for _, f := range s.runs {
		errs = append(errs, f.Close())
	}
	s.runs, s.buf = nil, nil
	return errors.Join(errs...)
}

// Sorted returns an iterator over the records in ascending order of key and
// tag, duplicates included. The sorter must not be added to after.
func (s *Sorter) Sorted() (*Iterator, error) {
	slices.SortFunc(s.buf, compare)
	it := &Iterator{}
	if len(s.runs) == 0 {
		it.mem = s.buf
		return it, nil
	}
	if len(s.buf) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	for _, f := range s.runs {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("rewind sorted run: %w", err)
		}
		rr := &runReader{r: bufio.NewReaderSize(f, 256<<10)}
		if err := rr.next(); err != nil {
			return nil, err
		}
		if rr.ok {
			it.h = append(it.h, rr)
		}
	}
	heap.Init(&it.h)
	return it, nil
}

// Iterator walks sorted records.
type Iterator struct {
	mem []rec
	h   runHeap
	cur Record
	err error
}

// Next advances to the next record and reports whether there is one.
func (it *Iterator) Next() bool {
	if it.err != nil {
		return false
	}
	if it.h == nil {
		if len(it.mem) == 0 {
			return false
		}
		it.cur = it.mem[0].record()
		it.mem = it.mem[1:]
		return true
	}
	if len(it.h) == 0 {
		return false
	}
	top := it.h[0]
	it.cur = top.cur.record()
	if err := top.next(); err != nil {
		it.err = err
		return false
	}
	if top.ok {
		heap.Fix(&it.h, 0)
	} else {
		heap.Pop(&it.h)
	}
	return true
}

// Record returns the current record.
func (it *Iterator) Record() Record { return it.cur }

// Err returns the error that stopped the iteration, if any.
func (it *Iterator) Err() error { return it.err }

type runReader struct {
	r   *bufio.Reader
	cur rec
	ok  bool
	buf [recordSize]byte
}

func (rr *runReader) next() error {
	_, err := io.ReadFull(rr.r, rr.buf[:])
	switch {
	case err == io.EOF:
		rr.ok = false
		return nil
	case err != nil:
		return fmt.Errorf("read sorted run: %w", err)
	}
	rr.cur = rec{binary.BigEndian.Uint64(rr.buf[:8]), binary.BigEndian.Uint64(rr.buf[8:16]), rr.buf[16]}
	rr.ok = true
	return nil
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return compare(h[i].cur, h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
