// Package resume keeps the state that lets an interrupted scan continue
// where it stopped: a low watermark over the walk positions and the open
// ports already found, written periodically and atomically.
package resume

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Version is the version of the state file format.
const Version = 1

// State is what a resume file holds.
type State struct {
	Version int `json:"version"`
	// Fingerprint identifies the target space, ports, seed and shard: a
	// state is only valid for the same walk.
	Fingerprint string `json:"fingerprint"`
	ScanID      string `json:"scan"`
	Seed        uint64 `json:"seed"`
	// Next is the low watermark: every position below it is done.
	Next uint64 `json:"next"`
	// Open lists the open ports found so far (ip:port).
	Open []string `json:"open,omitempty"`
	// Finished is true once the walk completed.
	Finished bool `json:"finished"`
}

// Load reads a state file. A missing file gives (nil, nil).
func Load(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read resume file: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("resume file %s is not a state file: %w", path, err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("resume file %s has version %d, this build reads %d", path, s.Version, Version)
	}
	return &s, nil
}

// Save writes the state atomically: a crash leaves the old or the new
// state, never a torn one.
func Save(path string, s *State) error {
	s.Version = Version
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write resume file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write resume file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write resume file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write resume file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write resume file: %w", err)
	}
	return nil
}

// Watermark tracks positions handed out in increasing order and finished in
// any order; Next is the lowest position handed out and not finished (or
// one past the last handed out). Positions need not be contiguous.
type Watermark struct {
	mu     sync.Mutex
	issued []uint64 // handed out and not yet passed by the watermark, ascending
	done   map[uint64]struct{}
	next   uint64
}

// NewWatermark starts at position start.
func NewWatermark(start uint64) *Watermark {
	return &Watermark{next: start, done: map[uint64]struct{}{}}
}

// Issue records that pos was handed out; positions must increase.
func (w *Watermark) Issue(pos uint64) {
	w.mu.Lock()
	w.issued = append(w.issued, pos)
	w.mu.Unlock()
}

// Done records that pos is finished.
func (w *Watermark) Done(pos uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done[pos] = struct{}{}
	i := 0
	for ; i < len(w.issued); i++ {
		p := w.issued[i]
		if _, ok := w.done[p]; !ok {
			break
		}
		delete(w.done, p)
		w.next = p + 1
	}
	if i > 0 {
		w.issued = w.issued[i:]
		if cap(w.issued) > 4096 && len(w.issued) < cap(w.issued)/4 {
			w.issued = append([]uint64(nil), w.issued...)
		}
	}
}

// Next is the position a resumed walk starts from.
func (w *Watermark) Next() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.issued) > 0 {
		return w.issued[0]
	}
	return w.next
}
