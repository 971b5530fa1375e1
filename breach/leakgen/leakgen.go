// Package leakgen writes fictional leak files (persons from lab/fake) in the
// formats the importer reads, for tests, demonstrations and benchmarks.
package leakgen

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ajar-scan/ajar/breach/leakfile"
	"github.com/ajar-scan/ajar/lab/fake"
)

// Options describe a leak.
type Options struct {
	Format leakfile.Format
	Gzip   bool
	Seed   uint64
	// First is the index of the first person (from 1); Rows persons follow.
	First, Rows int
	// Chinese headers (姓名, 手机, 身份证, 邮箱, 地址) instead of English ones
	// (name, phone, id_number, email, address).
	Chinese bool
	// Messy adds what real dumps hold: formatted numbers, invalid values and
	// repeated persons (see Manifest).
	Messy bool
	// PhonesOnly writes only the name and phone columns.
	PhonesOnly bool
}

// Manifest says what a generated leak holds.
type Manifest struct {
	Rows int
	// Valid distinct identifiers by kind ("phone", "id", "email").
	Phones, IDs, Emails int
	// Lines of the invalid phone and ID values (the header is line 1).
	InvalidPhoneLines, InvalidIDLines []int
	// Duplicates is the number of identifiers repeated from earlier rows.
	Duplicates int
}

// Header returns the header of the columns written.
func Header(o Options) []string {
	h := []string{"name", "phone", "id_number", "email", "address"}
	if o.Chinese {
		h = []string{"姓名", "手机", "身份证", "邮箱", "地址"}
	}
	if o.PhonesOnly {
		return h[:2]
	}
	return h
}

// Person returns the values of the row for person i, as written when the
// leak is not messy.
func Person(g fake.Generator, i int) (name, phone, id, email, address string) {
	p := g.Person(i)
	return p.Name, p.Mobile, p.IDNumber, fmt.Sprintf("user%d@Example.com", i), p.Address
}

// Write writes the leak to w.
func Write(w io.Writer, o Options) (Manifest, error) {
	var m Manifest
	var zw *gzip.Writer
	if o.Gzip {
		zw = gzip.NewWriter(w)
		w = zw
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	head := Header(o)
	if o.Format != leakfile.JSONL {
		writeRecord(bw, o.Format, head)
	}
	g := fake.New(o.Seed)
	line := 1 // the header
	if o.Format == leakfile.JSONL {
		line = 0
	}
	seenPhone := map[string]bool{}
	seenID := map[string]bool{}
	for i := o.First; i < o.First+o.Rows; i++ {
		line++
		m.Rows++
		person := i
		// Every 50th row of a messy leak repeats an earlier person.
		if o.Messy && i%50 == 0 && i > o.First {
			person = i - 1
		}
		name, phone, id, email, addr := Person(g, person)
		if o.Messy {
			switch {
			case i%97 == 0:
				phone = "12345"
				m.InvalidPhoneLines = append(m.InvalidPhoneLines, line)
			case i%7 == 0:
				phone = "+86 " + phone[:3] + " " + phone[3:7] + " " + phone[7:]
			case i%11 == 0:
				phone = phone[:3] + "-" + phone[3:7] + "-" + phone[7:]
			}
			if i%89 == 0 && !o.PhonesOnly {
				id = id[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", id[17])+1)%11])
				m.InvalidIDLines = append(m.InvalidIDLines, line)
			}
			if i%13 == 0 {
				id = strings.ToLower(id)
			}
		}
		vals := []string{name, phone, id, email, addr}
		if o.PhonesOnly {
			vals = vals[:2]
		}
		if phone != "12345" {
			key := strings.NewReplacer(" ", "", "-", "", "+86", "").Replace(phone)
			if seenPhone[key] {
				m.Duplicates++
			} else {
				m.Phones++
				if o.Rows <= 1_000_000 {
					seenPhone[key] = true
				}
			}
		}
		if !o.PhonesOnly {
			if len(m.InvalidIDLines) == 0 || m.InvalidIDLines[len(m.InvalidIDLines)-1] != line {
				key := strings.ToUpper(id)
				if seenID[key] {
					m.Duplicates++
				} else {
					m.IDs++
					seenID[key] = true
				}
			}
			if person == i {
				m.Emails++
			} else {
				m.Duplicates++
			}
		}
		if o.Format == leakfile.JSONL {
			// Keys in header order, as dump tools write them.
			bw.WriteByte('{')
			for j, h := range head {
				if j > 0 {
					bw.WriteByte(',')
				}
				k, _ := json.Marshal(h)
				v, _ := json.Marshal(vals[j])
				bw.Write(k)
				bw.WriteByte(':')
				bw.Write(v)
			}
			bw.WriteString("}\n")
		} else {
			writeRecord(bw, o.Format, vals)
		}
	}
	if err := bw.Flush(); err != nil {
		return m, fmt.Errorf("write leak: %w", err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return m, fmt.Errorf("write leak: %w", err)
		}
	}
	return m, nil
}

func writeRecord(w *bufio.Writer, f leakfile.Format, vals []string) {
	for j, v := range vals {
		if j > 0 {
			if f == leakfile.TSV {
				w.WriteByte('\t')
			} else {
				w.WriteByte(',')
			}
		}
		if f != leakfile.TSV && strings.ContainsAny(v, ",\"\n") {
			v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		w.WriteString(v)
	}
	w.WriteByte('\n')
}
