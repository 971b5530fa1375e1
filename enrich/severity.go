// Package enrich adds what a probe cannot know on its own to an exposure:
// data classes, attribution and severity.
package enrich

import (
	"slices"

	"github.com/ajar-scan/ajar"
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

// Severity grades an exposure per the model in DESIGN.md and names the rule
// that fired.
func Severity(e *ajar.Exposure) (ajar.Severity, string) {
	hasAny := func(set []string) bool {
		return slices.ContainsFunc(e.Classes, func(c string) bool { return slices.Contains(set, c) })
	}
	switch {
	case e.Access == ajar.AccessAdmin:
		return ajar.SeverityCritical, "admin access without credentials"
	case hasAny(personal) && e.Records >= CriticalRecords:
		return ajar.SeverityCritical, "personal data in at least 100000 records"
	case hasAny(personal):
		return ajar.SeverityHigh, "personal data in fewer than 100000 records"
	case hasAny(secrets):
		return ajar.SeverityHigh, "credentials or secrets readable"
	case e.Records > 0:
		return ajar.SeverityMedium, "non-personal data readable"
	}
	return ajar.SeverityLow, "service open, no records"
}

// Apply fills the severity of e.
func Apply(e *ajar.Exposure) {
	if e == nil {
		return
	}
	e.Severity, e.SeverityRule = Severity(e)
}
