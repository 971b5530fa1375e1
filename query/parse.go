// Package query parses ajar's search language — field:value terms, implicit
// AND, OR, NOT, parentheses, comparisons, CIDRs and wildcards — into a tree,
// and compiles the tree to parameterised SQL for a store's dialect.
package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a problem in a query, at a column (1-based, in runes).
type Error struct {
	Col int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("query column %d: %s", e.Col, e.Msg) }

func errorf(pos int, format string, a ...any) *Error {
	return &Error{Col: pos + 1, Msg: fmt.Sprintf(format, a...)}
}

// Node is a node of the query tree.
type Node interface {
	// String renders the node in a canonical form (used by golden tests).
	String() string
}

// And matches when both sides match.
type And struct{ L, R Node }

// Or matches when either side matches.
type Or struct{ L, R Node }

// Not matches when X does not.
type Not struct{ X Node }

// Term is one condition: Field Op Value. A term without a field is free
// text, matched against dataset and field names.
type Term struct {
	Field string
	// Op is ":" (equals or matches), "=", "!=", "<", "<=", ">" or ">=".
	Op    string
	Value string
	// Pos is the rune offset of the term, for error messages.
	Pos int
	// ValuePos is the rune offset of the value.
	ValuePos int
}

func (n *And) String() string { return "(and " + n.L.String() + " " + n.R.String() + ")" }
func (n *Or) String() string  { return "(or " + n.L.String() + " " + n.R.String() + ")" }
func (n *Not) String() string { return "(not " + n.X.String() + ")" }
func (n *Term) String() string {
	if n.Field == "" {
		return fmt.Sprintf("(text %q)", n.Value)
	}
	return fmt.Sprintf("(%s %s %q)", n.Field, n.Op, n.Value)
}

// MaxLength bounds a query: a query is typed by a person.
const MaxLength = 4096

// Parse parses a query. An empty query parses to nil, which matches
// everything.
func Parse(s string) (Node, error) {
	if len(s) > MaxLength {
		return nil, &Error{Col: 1, Msg: fmt.Sprintf("query is longer than %d bytes", MaxLength)}
	}
	if !utf8.ValidString(s) {
		return nil, &Error{Col: 1, Msg: "query is not valid UTF-8"}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tokEOF {
		return nil, nil
	}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, errorf(t.pos, "unexpected %s", t.describe())
	}
	return n, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokAnd
	tokOr
	tokNot
	tokTerm
)

type token struct {
	kind tokKind
	pos  int
	term *Term
	text string
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of query"
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits a query into tokens. Runes are counted so that error columns
// match what a person sees.
func lex(s string) ([]token, error) {
	rs := []rune(s)
	var toks []token
	i := 0
	for i < len(rs) {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(':
			toks = append(toks, token{kind: tokLParen, pos: i, text: "("})
			i++
		case r == ')':
			toks = append(toks, token{kind: tokRParen, pos: i, text: ")"})
			i++
		case r == '-' && i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) && rs[i+1] != ')' && (i == 0 || unicode.IsSpace(rs[i-1]) || rs[i-1] == '('):
			toks = append(toks, token{kind: tokNot, pos: i, text: "-"})
			i++
		default:
			t, next, err := lexTerm(rs, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = next
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(rs)}), nil
}

// lexTerm reads a word, a quoted string, or field OP value.
func lexTerm(rs []rune, i int) (token, int, error) {
	start := i
	if rs[i] == '"' {
		v, next, err := quoted(rs, i)
		if err != nil {
			return token{}, 0, err
		}
		return token{kind: tokTerm, pos: start, text: v, term: &Term{Value: v, Pos: start, ValuePos: start}}, next, nil
	}
	// A bare word runs to white space or a parenthesis; a field name ends at
	// the first ':' or comparison operator.
	j := i
	for j < len(rs) && isFieldRune(rs[j]) {
		j++
	}
	if j > i && j < len(rs) {
		if op, n := operator(rs, j); op != "" {
			field := strings.ToLower(string(rs[i:j]))
			vstart := j + n
			if vstart < len(rs) && rs[vstart] == '"' {
				v, next, err := quoted(rs, vstart)
				if err != nil {
					return token{}, 0, err
				}
				return token{kind: tokTerm, pos: start, text: string(rs[start:next]),
					term: &Term{Field: field, Op: op, Value: v, Pos: start, ValuePos: vstart}}, next, nil
			}
			k := vstart
			for k < len(rs) && !unicode.IsSpace(rs[k]) && rs[k] != '(' && rs[k] != ')' {
				k++
			}
			if k == vstart {
				return token{}, 0, errorf(vstart, "%s%s needs a value", field, op)
			}
			// field:>value and field:>=value are comparisons too.
			if op == ":" {
				if op2, n2 := operator(rs, vstart); op2 != "" && op2 != ":" && vstart+n2 < k {
					op, vstart = op2, vstart+n2
				}
			}
			return token{kind: tokTerm, pos: start, text: string(rs[start:k]),
				term: &Term{Field: field, Op: op, Value: string(rs[vstart:k]), Pos: start, ValuePos: vstart}}, k, nil
		}
	}
	k := i
	for k < len(rs) && !unicode.IsSpace(rs[k]) && rs[k] != '(' && rs[k] != ')' {
		k++
	}
	w := string(rs[i:k])
	switch w {
	case "AND", "&&":
		return token{kind: tokAnd, pos: start, text: w}, k, nil
	case "OR", "||":
		return token{kind: tokOr, pos: start, text: w}, k, nil
	case "NOT":
		return token{kind: tokNot, pos: start, text: w}, k, nil
	}
	return token{kind: tokTerm, pos: start, text: w, term: &Term{Value: w, Pos: start, ValuePos: start}}, k, nil
}

func isFieldRune(r rune) bool { return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// operator reads a comparison at rs[j:].
func operator(rs []rune, j int) (string, int) {
	two := ""
	if j+1 < len(rs) {
		two = string(rs[j : j+2])
	}
	switch two {
	case ">=", "<=", "!=":
		return two, 2
	}
	switch rs[j] {
	case ':', '>', '<', '=':
		return string(rs[j]), 1
	}
	return "", 0
}

// quoted reads a double-quoted string with \" and \\ escapes.
func quoted(rs []rune, i int) (string, int, error) {
	var sb strings.Builder
	for j := i + 1; j < len(rs); j++ {
		switch rs[j] {
		case '\\':
			if j+1 < len(rs) {
				j++
				sb.WriteRune(rs[j])
			}
		case '"':
			return sb.String(), j + 1, nil
		default:
			sb.WriteRune(rs[j])
		}
	}
	return "", 0, errorf(i, "unterminated quote")
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

// maxDepth bounds nesting so that a hostile query cannot exhaust the stack.
const maxDepth = 64

func (p *parser) or(depth int) (Node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokOr {
		p.next()
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &Or{L: l, R: r}
	}
	return l, nil
}

func (p *parser) and(depth int) (Node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek().kind {
		case tokAnd:
			p.next()
		case tokTerm, tokNot, tokLParen:
		default:
			return l, nil
		}
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = &And{L: l, R: r}
	}
}

func (p *parser) unary(depth int) (Node, error) {
	if depth > maxDepth {
		return nil, errorf(p.peek().pos, "query nests deeper than %d", maxDepth)
	}
	t := p.next()
	switch t.kind {
	case tokNot:
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case tokLParen:
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, errorf(c.pos, "expected \")\" to close the \"(\" at column %d, found %s", t.pos+1, c.describe())
		}
		return n, nil
	case tokTerm:
		return t.term, nil
	}
	return nil, errorf(t.pos, "expected a term, found %s", t.describe())
}
