// Package classify finds data classes (phone numbers, resident ID numbers,
// names, addresses, records, secrets…) in field names and sampled values, and
// redacts every value it is shown before it is stored.
package classify

import (
	"cmp"
	"slices"
)

// The data classes of the output contract (DESIGN.md, "Output contract").
const (
	PersonName     = "person_name"
	Phone          = "phone"
	Email          = "email"
	CNResidentID   = "cn_resident_id"
	NationalID     = "national_id"
	Passport       = "passport"
	Address        = "address"
	CriminalRecord = "criminal_record"
	MedicalRecord  = "medical_record"
	PaymentCard    = "payment_card"
	IBAN           = "iban"
	Credential     = "credential"
	SecretKey      = "secret_key"
	IPAddress      = "ip_address"
	GeoLocation    = "geo_location"
)

// Classes lists every class, in the order of the output contract.
func Classes() []string {
	return []string{PersonName, Phone, Email, CNResidentID, NationalID, Passport, Address,
		CriminalRecord, MedicalRecord, PaymentCard, IBAN, Credential, SecretKey, IPAddress, GeoLocation}
}

// Threshold is the confidence from which a finding counts: below it, a
// finding only makes the redactor mask what it found.
const Threshold = 0.5

// Confidence levels. A value that passes a validator with a check digit is
// near certain; a bare eleven-digit number with nothing to say it is a
// phone is weak on its own, and counts only when a column of them agrees.
const (
	certain  = 0.99
	high     = 0.95
	good     = 0.85
	fair     = 0.7
	fieldOne = 0.7 // a strong field name, no value seen
	weak     = 0.4 // below Threshold
	// columnAgree is the confidence of weak findings that most sampled
	// values of one field agree on.
	columnAgree = 0.8
)

// finding is one class found in a value. Start and End delimit the bytes of
// the value it covers; a finding about the whole value covers all of it.
type finding struct {
	Class      string
	Confidence float64
	Start, End int
	// mask, when set, replaces value[Start:End] in redaction.
	mask func(string) string
}

// Classes of a value at or above Threshold, each once with its highest
// confidence, by class name.
func found(fs []finding) map[string]float64 {
	m := map[string]float64{}
	for _, f := range fs {
		if f.Confidence > m[f.Class] {
			m[f.Class] = f.Confidence
		}
	}
	return m
}

func sortHints(h []Hint) {
	slices.SortFunc(h, func(a, b Hint) int {
		return cmp.Or(cmp.Compare(b.Strength, a.Strength), cmp.Compare(a.Class, b.Class))
	})
}
