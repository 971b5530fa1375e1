// Package enrich adds what a probe cannot know on its own to an exposure:
// data classes, redaction, ransom notes and severity.
package enrich

import (
	"slices"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/enrich/classify"
	"github.com/ajar-scan/ajar/enrich/ransom"
)

// personal are the data classes that make an exposure personal data.
var personal = []string{
	"person_name", "phone", "email", "cn_resident_id", "national_id", "passport",
	"address", "criminal_record", "medical_record", "payment_card", "iban",
}

// secrets are the data classes that make an exposure a credentials leak.
var secrets = []string{"credential", "secret_key"}

// CriticalRecords is the record count from which personal data is critical.
const CriticalRecords = 100_000

// The rules of the severity model (DESIGN.md, "Severity"), as they are
// recorded in severity_rule.
const (
	RuleAdmin        = "admin access without credentials"
	RuleManyPersonal = "personal data in at least 100000 records"
	RuleFewPersonal  = "personal data in fewer than 100000 records"
	RuleSecrets      = "credentials or secrets readable"
	RuleRansomOnly   = "only a ransom note left where the data was"
	RuleNonPersonal  = "non-personal data readable"
	RuleEmpty        = "service open, no records"
)

// Severity grades an exposure per the model in DESIGN.md and names the rule
// that fired. Personal data counts the records of the datasets it was found
// in; when the probe gave classes but no dataset says where, all records.
func Severity(e *ajar.Exposure) (ajar.Severity, string) {
	hasAny := func(set []string) bool {
		return slices.ContainsFunc(e.Classes, func(c string) bool { return slices.Contains(set, c) })
	}
	switch {
	case hasAny(personal) && personalRecords(e) >= CriticalRecords:
		return ajar.SeverityCritical, RuleManyPersonal
	case e.Access == ajar.AccessAdmin:
		return ajar.SeverityCritical, RuleAdmin
	case hasAny(personal):
		return ajar.SeverityHigh, RuleFewPersonal
	case hasAny(secrets):
		return ajar.SeverityHigh, RuleSecrets
	case ransom.OnlyRansom(e):
		return ajar.SeverityLow, RuleRansomOnly
	case e.Records > 0:
		return ajar.SeverityMedium, RuleNonPersonal
	}
	return ajar.SeverityLow, RuleEmpty
}

// personalRecords is the number of records in the datasets where personal
// data was found.
func personalRecords(e *ajar.Exposure) int64 {
	var n int64
	located := false
	for _, d := range e.Datasets {
		if d.System || len(d.Classes) == 0 {
			continue
		}
		located = true
		for c, cc := range d.Classes {
			if cc.Confidence >= classify.Threshold && slices.Contains(personal, c) {
				n += d.Records
				break
			}
		}
	}
	if !located {
		return e.Records
	}
	return n
}

// Apply enriches an exposure as a probe returned it, in place: it sets
// ransom notes aside, classifies the datasets from the raw samples, then
// redacts every sampled value, the evidence and the note, and grades the
// exposure. Nothing raw is left on e afterwards.
func Apply(e *ajar.Exposure) {
	if e == nil {
		return
	}
	notes := ransom.Detect(e)
	data := make([]ajar.Sample, 0, len(e.Samples))
	for i, s := range e.Samples {
		if !slices.Contains(notes, i) {
			data = append(data, s)
			continue
		}
		for k, v := range s.Doc {
			s.Doc[k] = ransom.MaskAddresses(v)
		}
	}
	classify.Exposure(e, data)
	classify.RedactExposure(e)
	e.Severity, e.SeverityRule = Severity(e)
}
