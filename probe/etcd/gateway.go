package etcd

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The answers of etcd's v3 JSON gateway: protobuf messages in JSON, bytes in
// base64, 64-bit integers as strings, zero values left out.
// https://etcd.io/docs/v3.4/dev-guide/api_grpc_gateway/
// https://github.com/etcd-io/etcd/blob/v3.4.23/etcdserver/etcdserverpb/rpc.proto

// ErrNotEtcd is returned when an answer is not the gateway's.
var ErrNotEtcd = errors.New("not an etcd v3 gateway answer")

// rangeAnswer is a RangeResponse.
type rangeAnswer struct {
	KVs   []keyValue `json:"kvs"`
	More  bool       `json:"more"`
	Count int64      `json:"count,string"`
}

type keyValue struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

// gatewayError is the body of a failed call: {"error": …, "code": N}.
type gatewayError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// parseRange decodes a RangeResponse.
func parseRange(body []byte) (*rangeAnswer, error) {
	var r rangeAnswer
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotEtcd, err)
	}
	if r.Count < 0 || r.Count < int64(len(r.KVs)) {
		return nil, fmt.Errorf("count %d for %d keys: %w", r.Count, len(r.KVs), ErrNotEtcd)
	}
	return &r, nil
}

// parseError decodes an error body; ok is false when it is none.
func parseError(body []byte) (msg string, code int, ok bool) {
	var e gatewayError
	if json.Unmarshal(body, &e) != nil || e.Error == "" && e.Message == "" {
		return "", 0, false
	}
	msg = e.Error
	if msg == "" {
		msg = e.Message
	}
	return clip(msg, 200), e.Code, true
}

// refused reports whether an error means that the server wants
// credentials. With authentication on, a request without a token fails
// with "user name is empty" (gRPC InvalidArgument), and one whose user lacks
// the permission with "permission denied".
// https://etcd.io/docs/v3.4/op-guide/authentication/
func refused(msg string) bool {
	for _, s := range []string{"user name is empty", "permission denied", "invalid auth token", "authentication failed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// prefixEnd is the first key after every key that starts with p: p with its
// last byte that is not 0xff incremented (etcd's clientv3.GetPrefixRangeEnd).
// A prefix of 0xff bytes only ends at the end of the key space, "\x00".
func prefixEnd(p []byte) []byte {
	end := slices.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

// maxSegment is the longest first segment kept as a dataset name.
const maxSegment = 64

// prefixOf returns the prefix that names the group a key belongs to, with
// its separator: "/persons/00001" → "/persons/", "config:db" → "config:".
// named is false when the prefix is not a name a programmer chose (a phone
// number, an id, binary), or when the key has no separator: such keys are
// counted together, under no name of theirs.
func prefixOf(key []byte) (prefix []byte, named bool) {
	start := 0
	if len(key) > 0 && key[0] == '/' {
		start = 1
	}
	i := -1
	for j := start; j < len(key) && j <= start+maxSegment; j++ {
		if key[j] == '/' || key[j] == ':' {
			i = j
			break
		}
	}
	if i <= start || !isName(key[start:i]) {
		return key, false
	}
	return key[:i+1], true
}

// isName reports whether s looks like a name chosen by a programmer: a
// letter, then letters, digits, '_', '-' or '.'.
func isName(s []byte) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return len(s) > 0
}

// Bounds on a sample.
const (
	maxSampleFields = 32
	maxSampleValue  = 1024
)

// sampleDoc turns a key and its value into a sample record: the scalar
// fields of a JSON object, or the value itself. It also returns the JSON
// field names, sorted.
func sampleDoc(key, value []byte) (doc map[string]string, fields []string) {
	doc = map[string]string{"_key": clip(string(key), 256)}
	var obj map[string]any
	if json.Unmarshal(value, &obj) != nil || obj == nil {
		doc["value"] = clip(string(value), maxSampleValue)
		return doc, nil
	}
	names := make([]string, 0, len(obj))
	for n := range obj {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if len(fields) >= maxSampleFields {
			break
		}
		var s string
		switch v := obj[n].(type) {
		case string:
			s = v
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			s = strconv.FormatBool(v)
		default:
			continue
		}
		if n == "_key" || !utf8.ValidString(n) || len(n) > 128 {
			continue
		}
		doc[n] = clip(s, maxSampleValue)
		fields = append(fields, n)
	}
	return doc, fields
}

// clip returns at most n bytes of s as valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
