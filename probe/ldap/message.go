package ldap

import (
	"fmt"
	"strconv"
)

// Protocol operations (RFC 4511 §4.2–§4.7, Appendix B): the APPLICATION
// tags of the messages the probe sends and reads.
const (
	opBindRequest     = 0x60 // [APPLICATION 0], constructed
	opBindResponse    = 0x61 // [APPLICATION 1]
	opUnbindRequest   = 0x42 // [APPLICATION 2], primitive NULL
	opSearchRequest   = 0x63 // [APPLICATION 3]
	opSearchEntry     = 0x64 // [APPLICATION 4] SearchResultEntry
	opSearchDone      = 0x65 // [APPLICATION 5] SearchResultDone
	opSearchReference = 0x73 // [APPLICATION 19] SearchResultReference
	opExtendedResp    = 0x78 // [APPLICATION 24] ExtendedResponse
	tagControls       = 0xa0 // [0] Controls of an LDAPMessage
	tagReferral       = 0xa3 // [3] Referral of an LDAPResult
	tagSimpleAuth     = 0x80 // [0] simple authentication
	tagFilterPresent  = 0x87 // [7] present filter
)

// Search scopes (RFC 4511 §4.5.1.2).
const (
	scopeBase = 0
	scopeOne  = 1
	scopeSub  = 2
)

// pagedResultsOID is the paged results control (RFC 2696).
const pagedResultsOID = "1.2.840.113556.1.4.319"

// Result codes (RFC 4511 §4.1.9, Appendix A) the probe tells apart.
const (
	codeSuccess                 = 0
	codeSizeLimitExceeded       = 4
	codeStrongerAuthRequired    = 8
	codeReferral                = 10
	codeAdminLimitExceeded      = 11
	codeConfidentialityRequired = 13
	codeNoSuchObject            = 32
	codeInappropriateAuth       = 48
	codeInvalidCredentials      = 49
	codeInsufficientAccess      = 50
	codeUnwillingToPerform      = 53
)

var codeNames = map[int64]string{
	0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded", 4: "sizeLimitExceeded",
	7: "authMethodNotSupported", 8: "strongerAuthRequired", 10: "referral", 11: "adminLimitExceeded",
	12: "unavailableCriticalExtension", 13: "confidentialityRequired", 32: "noSuchObject",
	34: "invalidDNSyntax", 48: "inappropriateAuthentication", 49: "invalidCredentials",
	50: "insufficientAccessRights", 51: "busy", 52: "unavailable", 53: "unwillingToPerform", 80: "other",
}

// result is an LDAPResult (RFC 4511 §4.1.9).
type result struct {
	Code       int64
	MatchedDN  string
	Diagnostic string
	Referrals  []string
}

func (r result) String() string {
	name := codeNames[r.Code]
	if name == "" {
		name = "code " + strconv.FormatInt(r.Code, 10)
	}
	s := "LDAP " + strconv.FormatInt(r.Code, 10) + " " + name
	if r.Diagnostic != "" {
		s += ": " + r.Diagnostic
	}
	return s
}

// refused reports a result that means "not without credentials".
func (r result) refused() bool {
	switch r.Code {
	case codeStrongerAuthRequired, codeConfidentialityRequired, codeInappropriateAuth,
		codeInvalidCredentials, codeInsufficientAccess, codeUnwillingToPerform:
		return true
	}
	return false
}

// message is a decoded LDAPMessage.
type message struct {
	ID       int64
	Op       byte
	Body     []byte // the protocol operation's content
	Controls []tlv  // the Control sequences, if any
}

// parseMessage decodes the content of an LDAPMessage SEQUENCE.
func parseMessage(b []byte) (message, error) {
	id, rest, err := parseTLV(b)
	if err != nil {
		return message{}, err
	}
	if id.Tag != tagInteger {
		return message{}, fmt.Errorf("message ID tag %#x: %w", id.Tag, ErrProtocol)
	}
	n, err := parseInt(id.Body)
	if err != nil {
		return message{}, err
	}
	op, rest, err := parseTLV(rest)
	if err != nil {
		return message{}, err
	}
	m := message{ID: n, Op: op.Tag, Body: op.Body}
	if len(rest) > 0 {
		ctl, _, err := parseTLV(rest)
		if err != nil {
			return message{}, err
		}
		if ctl.Tag == tagControls {
			if m.Controls, err = elements(ctl.Body); err != nil {
				return message{}, err
			}
		}
	}
	return m, nil
}

// parseResult decodes an LDAPResult: the content of a BindResponse,
// SearchResultDone or ExtendedResponse.
func parseResult(b []byte) (result, error) {
	es, err := elements(b)
	if err != nil {
		return result{}, err
	}
	if len(es) < 3 || es[0].Tag != tagEnumerated || es[1].Tag != tagOctetString || es[2].Tag != tagOctetString {
		return result{}, fmt.Errorf("malformed LDAPResult: %w", ErrProtocol)
	}
	code, err := parseInt(es[0].Body)
	if err != nil {
		return result{}, err
	}
	r := result{Code: code, MatchedDN: clip(es[1].Body, 256), Diagnostic: clip(es[2].Body, 256)}
	for _, e := range es[3:] {
		if e.Tag != tagReferral {
			continue
		}
		urls, err := elements(e.Body)
		if err != nil {
			return result{}, err
		}
		for _, u := range urls {
			if len(r.Referrals) < 8 {
				r.Referrals = append(r.Referrals, clip(u.Body, 256))
			}
		}
	}
	return r, nil
}

// attribute is one attribute of an entry: its type and values.
type attribute struct {
	Type   string
	Values [][]byte
}

// entry is a SearchResultEntry (RFC 4511 §4.5.2).
type entry struct {
	DN    string
	Attrs []attribute
}

// parseEntry decodes a SearchResultEntry.
func parseEntry(b []byte) (entry, error) {
	name, rest, err := parseTLV(b)
	if err != nil {
		return entry{}, err
	}
	if name.Tag != tagOctetString {
		return entry{}, fmt.Errorf("entry name tag %#x: %w", name.Tag, ErrProtocol)
	}
	attrs, _, err := parseTLV(rest)
	if err != nil {
		return entry{}, err
	}
	if attrs.Tag != tagSequence {
		return entry{}, fmt.Errorf("attribute list tag %#x: %w", attrs.Tag, ErrProtocol)
	}
	e := entry{DN: string(name.Body)}
	list, err := elements(attrs.Body)
	if err != nil {
		return entry{}, err
	}
	for _, a := range list {
		parts, err := elements(a.Body)
		if err != nil {
			return entry{}, err
		}
		if a.Tag != tagSequence || len(parts) < 1 || parts[0].Tag != tagOctetString {
			return entry{}, fmt.Errorf("malformed attribute: %w", ErrProtocol)
		}
		at := attribute{Type: string(parts[0].Body)}
		if len(parts) > 1 {
			if parts[1].Tag != tagSet {
				return entry{}, fmt.Errorf("attribute values tag %#x: %w", parts[1].Tag, ErrProtocol)
			}
			vals, err := elements(parts[1].Body)
			if err != nil {
				return entry{}, err
			}
			for _, v := range vals {
				at.Values = append(at.Values, v.Body)
			}
		}
		e.Attrs = append(e.Attrs, at)
	}
	return e, nil
}

// pagedCookie reads the cookie of a paged results control among a
// message's controls (RFC 2696 §2): empty when the search is complete.
func pagedCookie(controls []tlv) ([]byte, bool) {
	for _, c := range controls {
		parts, err := elements(c.Body)
		if err != nil || len(parts) == 0 || string(parts[0].Body) != pagedResultsOID {
			continue
		}
		value := parts[len(parts)-1]
		if value.Tag != tagOctetString {
			return nil, false
		}
		seq, _, err := parseTLV(value.Body)
		if err != nil || seq.Tag != tagSequence {
			return nil, false
		}
		fields, err := elements(seq.Body)
		if err != nil || len(fields) != 2 || fields[1].Tag != tagOctetString {
			return nil, false
		}
		return fields[1].Body, true
	}
	return nil, false
}

// envelope wraps a protocol operation in an LDAPMessage with controls.
func envelope(id int64, op []byte, controls []byte) []byte {
	content := appendInt(nil, tagInteger, id)
	content = append(content, op...)
	if controls != nil {
		content = appendTLV(content, tagControls, controls)
	}
	return appendTLV(nil, tagSequence, content)
}

// bindRequest is an anonymous simple bind (RFC 4511 §4.2, §5.1.1 of RFC
// 4513): version 3, an empty name, an empty password.
func bindRequest() []byte {
	content := appendInt(nil, tagInteger, 3)
	content = appendTLV(content, tagOctetString, nil)
	content = appendTLV(content, tagSimpleAuth, nil)
	return appendTLV(nil, opBindRequest, content)
}

// searchRequest is a search with the filter (objectClass=*), which every
// entry matches, for the given attributes ("1.1" asks for none, RFC 4511
// §4.5.1.8). Aliases are not dereferenced; sizeLimit 0 leaves the limit to
// the server.
func searchRequest(base string, scope int64, sizeLimit int64, attrs ...string) []byte {
	content := appendTLV(nil, tagOctetString, []byte(base))
	content = appendInt(content, tagEnumerated, scope)
	content = appendInt(content, tagEnumerated, 0) // neverDerefAliases
	content = appendInt(content, tagInteger, sizeLimit)
	content = appendInt(content, tagInteger, 0) // no time limit beyond the server's
	content = appendTLV(content, tagBoolean, []byte{0})
	content = appendTLV(content, tagFilterPresent, []byte("objectClass"))
	var list []byte
	for _, a := range attrs {
		list = appendTLV(list, tagOctetString, []byte(a))
	}
	content = appendTLV(content, tagSequence, list)
	return appendTLV(nil, opSearchRequest, content)
}

// pagedControl is the paged results control asking for size entries
// after cookie; not critical, so a server without it answers in one go.
func pagedControl(size int64, cookie []byte) []byte {
	value := appendInt(nil, tagInteger, size)
	value = appendTLV(value, tagOctetString, cookie)
	ctl := appendTLV(nil, tagOctetString, []byte(pagedResultsOID))
	ctl = appendTLV(ctl, tagOctetString, appendTLV(nil, tagSequence, value))
	return appendTLV(nil, tagSequence, ctl)
}

// unbindRequest ends the session (RFC 4511 §4.3).
func unbindRequest() []byte { return []byte{opUnbindRequest, 0} }
