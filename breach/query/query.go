// Package query is the client side of a breach lookup: it normalises and
// hashes an identifier, blinds it for private mode and matches the answers,
// so that only a 5-digit hash prefix and a blinded element leave the client.
package query

import (
	"encoding/hex"
	"fmt"

	"github.com/cloudflare/circl/oprf"

	"github.com/ajar-scan/ajar/breach"
	"github.com/ajar-scan/ajar/breach/ident"
)

// Suite is the OPRF ciphersuite (RFC 9497, section 4.1); it must be the
// server's.
var Suite = oprf.SuiteRistretto255

// Query is one identifier being looked up.
type Query struct {
	Kind   breach.Kind
	digest breach.Digest
	input  []byte
	fin    *oprf.FinalizeData
	req    *oprf.EvaluationRequest
}

// New normalises value as an identifier of kind k (detected when k is
// empty). Errors wrap ident.ErrInvalid when the value is not an identifier.
func New(n *ident.Normalizer, k breach.Kind, value string) (*Query, error) {
	if k == "" {
		var ok bool
		if k, ok = ident.Detect(value); !ok {
			return nil, fmt.Errorf("%w: %q is not a phone number, ID number or e-mail address (say which with --kind)", ident.ErrInvalid, value)
		}
	}
	nv, err := n.Normalize(k, value)
	if err != nil {
		return nil, err
	}
	return &Query{Kind: k, digest: breach.Hash(k, nv), input: breach.Input(k, nv)}, nil
}

// Prefix returns the bucket to ask for: the first 5 hex digits of the hash.
func (q *Query) Prefix() string { return breach.FormatPrefix(q.digest.Prefix()) }

// MatchHashed returns the breach ids that a hashed-mode answer holds for the
// identifier.
func (q *Query) MatchHashed(answer string) ([]int, error) {
	es, err := breach.ParseRange(answer)
	if err != nil {
		return nil, err
	}
	return breach.Match(es, breach.HashedSuffix(q.digest)), nil
}

// Blind blinds the identifier with a fresh random scalar (RFC 9497, section
// 3.3.1, Blind) and returns the request body for the private endpoint.
func (q *Query) Blind() (breach.PrivateRequest, error) {
	fin, req, err := oprf.NewClient(Suite).Blind([][]byte{q.input})
	if err != nil {
		return breach.PrivateRequest{}, fmt.Errorf("blind identifier: %w", err)
	}
	b, err := req.Elements[0].MarshalBinaryCompress()
	if err != nil {
		return breach.PrivateRequest{}, fmt.Errorf("encode blinded element: %w", err)
	}
	q.fin, q.req = fin, req
	return breach.PrivateRequest{Blinded: hex.EncodeToString(b)}, nil
}

// MatchPrivate unblinds the server's evaluation (Finalize), and returns the
// breach ids that the answer's bucket holds for the OPRF output.
func (q *Query) MatchPrivate(a breach.PrivateAnswer) ([]int, error) {
	if q.fin == nil {
		return nil, fmt.Errorf("match private answer: the query was not blinded")
	}
	if a.Suite != breach.OPRFSuite {
		return nil, fmt.Errorf("match private answer: server uses suite %q, want %s", a.Suite, breach.OPRFSuite)
	}
	raw, err := hex.DecodeString(a.Evaluated)
	if err != nil {
		return nil, fmt.Errorf("match private answer: evaluated element is not hex")
	}
	e := Suite.Group().NewElement()
	if err := e.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("match private answer: evaluated element: %w", err)
	}
	out, err := oprf.NewClient(Suite).Finalize(q.fin, &oprf.Evaluation{Elements: []oprf.Evaluated{e}})
	if err != nil {
		return nil, fmt.Errorf("finalize OPRF: %w", err)
	}
	es, err := breach.ParseRange(a.Range)
	if err != nil {
		return nil, err
	}
	return breach.Match(es, breach.PrivateSuffix(out[0])), nil
}
