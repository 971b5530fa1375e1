package memcached

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The text protocol's answers, as doc/protocol.txt of memcached describes
// them: https://github.com/memcached/memcached/blob/master/doc/protocol.txt

// statLine splits "STAT name value" into name and value.
func statLine(line []byte) (name, value string, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte("STAT "))
	if !ok {
		return "", "", false
	}
	n, v, ok := bytes.Cut(rest, []byte(" "))
	if !ok || len(n) == 0 {
		return "", "", false
	}
	return string(n), string(v), true
}

// statInt reads a non-negative counter; anything else is 0.
func statInt(stats map[string]string, name string) int64 {
	v, err := strconv.ParseInt(stats[name], 10, 64)
	if err != nil || v < 0 {
		return 0
	}
	return v
}

// class is what the server says about one slab class.
type class struct {
	ID    int
	Items int64
	Bytes int64
}

// maxClass is the highest slab class id memcached uses (MAX_NUMBER_OF_SLAB_CLASSES - 1).
const maxClass = 63

// classes reads the item count and bytes of each slab class from "stats
// items" (items:ID:number, items:ID:mem_requested) and "stats slabs"
// (ID:used_chunks, ID:chunk_size, for servers whose items lack
// mem_requested). Classes without items are left out; ids are ascending.
func classes(items, slabs map[string]string) []class {
	byID := map[int]*class{}
	for name := range items {
		rest, ok := strings.CutPrefix(name, "items:")
		if !ok {
			continue
		}
		id, field, ok := strings.Cut(rest, ":")
		if !ok || field != "number" {
			continue
		}
		n, err := strconv.Atoi(id)
		if err != nil || n < 0 || n > maxClass {
			continue
		}
		c := &class{ID: n, Items: statInt(items, name)}
		if c.Items == 0 {
			continue
		}
		c.Bytes = statInt(items, "items:"+id+":mem_requested")
		if c.Bytes == 0 {
			used, size := statInt(slabs, id+":used_chunks"), statInt(slabs, id+":chunk_size")
			if size > 0 && used <= 1<<62/size {
				c.Bytes = used * size
			}
		}
		byID[n] = c
	}
	out := make([]class, 0, len(byID))
	for _, c := range byID {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// dumpEntry is one line of "lru_crawler metadump": the key, its slab class
// and the item's size.
type dumpEntry struct {
	Key   string
	Class int
	Size  int64
}

// maxKeyLen is memcached's KEY_MAX_LENGTH.
const maxKeyLen = 250

// metadumpLine parses "key=ENCODED exp=… la=… cas=… fetch=… cls=N size=N".
// The key is URI-encoded by the server.
func metadumpLine(line []byte) (dumpEntry, bool) {
	var e dumpEntry
	e.Class, e.Size = -1, -1
	for _, f := range strings.Fields(string(line)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "key":
			key, err := url.PathUnescape(v)
			if err != nil || key == "" || len(key) > maxKeyLen || !utf8.ValidString(key) {
				return dumpEntry{}, false
			}
			e.Key = key
		case "cls":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxClass {
				return dumpEntry{}, false
			}
			e.Class = n
		case "size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return dumpEntry{}, false
			}
			e.Size = n
		}
	}
	if e.Key == "" || e.Class < 0 || e.Size < 0 {
		return dumpEntry{}, false
	}
	return e, true
}

// keyPattern turns a key into the pattern of its kind: "person:00042" →
// "person:*". A key without a name-like prefix before a separator is "*".
// Only the prefix is kept: the rest of a key may be personal (a phone
// number, an e-mail address).
func keyPattern(key string) string {
	i := strings.IndexAny(key, ":/|.")
	if i <= 0 || i > 64 || !isName(key[:i]) {
		return "*"
	}
	return key[:i+1] + "*"
}

// isName reports whether s looks like a name chosen by a programmer: a
// letter, then letters, digits, '_' or '-'.
func isName(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '_' || r == '-'):
		default:
			return false
		}
	}
	return s != ""
}

// valueHeader parses "VALUE key flags bytes [cas]" and returns the key and
// the length of the data block that follows.
func valueHeader(line []byte) (key string, n int64, ok bool) {
	f := strings.Fields(string(line))
	if len(f) < 4 || len(f) > 5 || f[0] != "VALUE" || len(f[1]) > maxKeyLen {
		return "", 0, false
	}
	if _, err := strconv.ParseUint(f[2], 10, 32); err != nil {
		return "", 0, false
	}
	n, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return f[1], n, true
}

// Bounds on a sample.
const (
	maxSampleFields = 32
	maxSampleValue  = 1024
)

// sampleDoc turns a value into a sample record: the scalar fields of a JSON
// object, or the value itself. It also returns the JSON field names, sorted.
func sampleDoc(key string, value []byte) (doc map[string]string, fields []string) {
	doc = map[string]string{"_key": key}
	var obj map[string]any
	if json.Unmarshal(value, &obj) == nil && obj != nil {
		names := make([]string, 0, len(obj))
		for name := range obj {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if len(fields) >= maxSampleFields {
				break
			}
			var s string
			switch v := obj[name].(type) {
			case string:
				s = v
			case float64:
				s = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				s = strconv.FormatBool(v)
			default:
				continue
			}
			if !utf8.ValidString(name) || name == "_key" {
				continue
			}
			doc[name] = clip(s, maxSampleValue)
			fields = append(fields, name)
		}
		return doc, fields
	}
	doc["value"] = clip(string(value), maxSampleValue)
	return doc, nil
}

// clip returns at most n bytes of s as valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
