package elasticsearch

import (
	"bytes"
	"encoding/json"
	"io"
)

// pretty re-indents compact JSON the way Elasticsearch's ?pretty does:
// two spaces, `"key" : value`, a newline at the end. Key order is kept.
func pretty(compact []byte) []byte {
	var out bytes.Buffer
	dec := json.NewDecoder(bytes.NewReader(compact))
	dec.UseNumber()
	type frame struct {
		object bool
		n      int
	}
	var stack []frame
	indent := func() {
		out.WriteByte('\n')
		for range len(stack) {
			out.WriteString("  ")
		}
	}
	expectKey := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return compact
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.n > 0 {
				indent()
			} else {
				out.WriteByte(' ')
			}
			out.WriteByte(byte(d))
			expectKey = len(stack) > 0 && stack[len(stack)-1].object
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if !top.object || expectKey {
				if top.n > 0 {
					out.WriteByte(',')
				}
				top.n++
				indent()
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{'})
			expectKey = v == '{'
			continue
		case string:
			b, _ := json.Marshal(v)
			out.Write(b)
		case json.Number:
			out.WriteString(v.String())
		case bool:
			if v {
				out.WriteString("true")
			} else {
				out.WriteString("false")
			}
		case nil:
			out.WriteString("null")
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			if expectKey {
				out.WriteString(" : ")
				expectKey = false
			} else {
				expectKey = true
			}
		}
	}
	out.WriteByte('\n')
	return out.Bytes()
}
