package rsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Once a module is opened and the arguments sent, the daemon speaks the
// binary protocol of rsync's io.c and flist.c
// (https://github.com/RsyncProject/rsync): from protocol 23 on, what
// it sends is multiplexed in frames, and the data frames carry the file
// list. This reader asks for protocol 29, the last before variable-length
// integers, which every daemon from rsync 2.6.4 on speaks.

// Message tags of the multiplexed stream (rsync.h, MSG_*), after
// subtracting MPLEX_BASE.
const (
	mplexBase = 7
	msgData   = 0
	// Tags 1 to 8 carry text: transfer errors, information, errors,
	// warnings, socket errors, log lines, client messages, UTF-8 errors.
	msgTextFirst = 1
	msgTextLast  = 8
)

// Limits of the binary phase.
const (
	// maxPath is MAXPATHLEN of the daemon: no name is longer.
	maxPath = 4096
	// maxMessage is the most text kept from a message frame.
	maxMessage = 256
)

// muxReader reads the data of the multiplexed stream and keeps the last
// error message the daemon sent beside it.
type muxReader struct {
	r       io.Reader
	left    int    // data bytes left in the current frame
	message string // last text message, bounded
	budget  int64  // bytes the reader may still consume, frames included
}

// Read returns data bytes, skipping other frames.
func (m *muxReader) Read(p []byte) (int, error) {
	for m.left == 0 {
		var h [4]byte
		if err := m.full(h[:]); err != nil {
			return 0, err
		}
		v := binary.LittleEndian.Uint32(h[:])
		tag, n := int(v>>24)-mplexBase, int(v&0xffffff)
		if tag < 0 {
			return 0, fmt.Errorf("frame header %x: %w", h, ErrProtocol)
		}
		if tag == msgData {
			m.left = n
			continue
		}
		if err := m.skip(tag, n); err != nil {
			return 0, err
		}
	}
	if len(p) > m.left {
		p = p[:m.left]
	}
	if int64(len(p)) > m.budget {
		if m.budget <= 0 {
			return 0, fmt.Errorf("file list: %w", ErrLimit)
		}
		p = p[:m.budget]
	}
	n, err := m.r.Read(p)
	m.left -= n
	m.budget -= int64(n)
	if err == io.EOF && m.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// full reads exactly len(p) bytes within the budget.
func (m *muxReader) full(p []byte) error {
	if int64(len(p)) > m.budget {
		return fmt.Errorf("file list: %w", ErrLimit)
	}
	n, err := io.ReadFull(m.r, p)
	m.budget -= int64(n)
	return err
}

// skip consumes a frame that carries no file list data, keeping the text
// of messages.
func (m *muxReader) skip(tag, n int) error {
	if int64(n) > m.budget {
		return fmt.Errorf("frame of %d bytes: %w", n, ErrLimit)
	}
	keep := 0
	if tag >= msgTextFirst && tag <= msgTextLast {
		keep = min(n, maxMessage)
	}
	buf := make([]byte, keep)
	if err := m.full(buf); err != nil {
		return err
	}
	if keep > 0 {
		m.message = strings.TrimSpace(clip(string(buf), maxMessage))
	}
	if rest := int64(n - keep); rest > 0 {
		c, err := io.CopyN(io.Discard, m.r, rest)
		m.budget -= c
		return err
	}
	return nil
}

// Flags of a file list entry (rsync.h, XMIT_*), protocols 28 and 29.
const (
	xmitTopDir        = 1 << 0
	xmitSameMode      = 1 << 1
	xmitExtendedFlags = 1 << 2
	xmitSameUID       = 1 << 3
	xmitSameGID       = 1 << 4
	xmitSameName      = 1 << 5
	xmitLongName      = 1 << 6
	xmitSameTime      = 1 << 7
	xmitHasIdevData   = 1 << 9
	xmitSameDev       = 1 << 10
)

// File types of the mode word (the daemon sends Unix modes).
const (
	modeType = 0o170000
	modeDir  = 0o040000
	modeReg  = 0o100000
)

// fileEntry is one entry of the file list.
type fileEntry struct {
	Name string
	Size int64
	Mode uint32
}

// IsRegular reports whether the entry is a regular file.
func (e fileEntry) IsRegular() bool { return e.Mode&modeType == modeReg }

// flistReader decodes the file list of protocol 27 to 29 as the receiver
// does (flist.c, receive_file_entry). The probe asks for no owner, group,
// device, link or checksum data, so an entry is: flags, the length of the
// name prefix shared with the previous name, the rest of the name, the
// size, the time and the mode, the last two left out when unchanged.
type flistReader struct {
	r        io.Reader
	protocol int
	last     []byte // previous name
	mode     uint32 // previous mode
	buf      [8]byte
}

var errEnd = errors.New("end of the file list")

// next returns the next entry, or errEnd after the last.
func (f *flistReader) next() (fileEntry, error) {
	flags, err := f.byte()
	if err != nil {
		return fileEntry{}, err
	}
	if flags == 0 {
		return fileEntry{}, errEnd
	}
	fl := uint32(flags)
	if f.protocol >= 28 && fl&xmitExtendedFlags != 0 {
		hi, err := f.byte()
		if err != nil {
			return fileEntry{}, err
		}
		fl |= uint32(hi) << 8
	}
	var l1, l2 int
	if fl&xmitSameName != 0 {
		b, err := f.byte()
		if err != nil {
			return fileEntry{}, err
		}
		l1 = int(b)
	}
	if fl&xmitLongName != 0 {
		n, err := f.int32()
		if err != nil {
			return fileEntry{}, err
		}
		l2 = int(n)
	} else {
		b, err := f.byte()
		if err != nil {
			return fileEntry{}, err
		}
		l2 = int(b)
	}
	if l1 > len(f.last) || l2 < 0 || l1+l2 > maxPath || l1+l2 == 0 {
		return fileEntry{}, fmt.Errorf("name lengths %d+%d: %w", l1, l2, ErrProtocol)
	}
	name := make([]byte, l1+l2)
	copy(name, f.last[:l1])
	if _, err := io.ReadFull(f.r, name[l1:]); err != nil {
		return fileEntry{}, err
	}
	f.last = name
	size, err := f.longint()
	if err != nil {
		return fileEntry{}, err
	}
	if size < 0 {
		return fileEntry{}, fmt.Errorf("size %d: %w", size, ErrProtocol)
	}
	if fl&xmitSameTime == 0 {
		if _, err := f.int32(); err != nil {
			return fileEntry{}, err
		}
	}
	if fl&xmitSameMode == 0 {
		m, err := f.int32()
		if err != nil {
			return fileEntry{}, err
		}
		f.mode = uint32(m)
	}
	// Hard-link data comes only with -H, which the probe does not send;
	// read it all the same, should a daemon send it.
	if f.protocol >= 28 && fl&xmitHasIdevData != 0 {
		if fl&xmitSameDev == 0 {
			if _, err := f.longint(); err != nil {
				return fileEntry{}, err
			}
		}
		if _, err := f.longint(); err != nil {
			return fileEntry{}, err
		}
	}
	return fileEntry{Name: string(name), Size: size, Mode: f.mode}, nil
}

func (f *flistReader) byte() (byte, error) {
	if _, err := io.ReadFull(f.r, f.buf[:1]); err != nil {
		return 0, err
	}
	return f.buf[0], nil
}

func (f *flistReader) int32() (int32, error) {
	if _, err := io.ReadFull(f.r, f.buf[:4]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(f.buf[:4])), nil
}

// longint reads a 32-bit value, or 0xffffffff followed by a 64-bit one
// (io.c, read_longint before protocol 30).
func (f *flistReader) longint() (int64, error) {
	n, err := f.int32()
	if err != nil || n != -1 {
		return int64(n), err
	}
	if _, err := io.ReadFull(f.r, f.buf[:8]); err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(f.buf[:8])), nil
}
