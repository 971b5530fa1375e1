package enrich

import (
	"testing"

	"github.com/ajar-scan/ajar"
)

func TestSeverity(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    ajar.Exposure
		want ajar.Severity
	}{
		{"admin, empty", ajar.Exposure{Access: ajar.AccessAdmin}, ajar.SeverityCritical},
		{"many ids", ajar.Exposure{Access: ajar.AccessRead, Records: 3_000_000, Classes: []string{"cn_resident_id"}}, ajar.SeverityCritical},
		{"exactly the threshold", ajar.Exposure{Access: ajar.AccessRead, Records: 100_000, Classes: []string{"phone"}}, ajar.SeverityCritical},
		{"few phones", ajar.Exposure{Access: ajar.AccessRead, Records: 99_999, Classes: []string{"phone"}}, ajar.SeverityHigh},
		{"secrets", ajar.Exposure{Access: ajar.AccessRead, Records: 3, Classes: []string{"secret_key"}}, ajar.SeverityHigh},
		{"business data", ajar.Exposure{Access: ajar.AccessRead, Records: 10, Classes: []string{"ip_address"}}, ajar.SeverityMedium},
		{"empty", ajar.Exposure{Access: ajar.AccessRead}, ajar.SeverityLow},
		{"default creds, data", ajar.Exposure{Access: ajar.AccessDefaultCreds, Records: 5}, ajar.SeverityMedium},
	} {
		got, rule := Severity(&tc.e)
		if got != tc.want || rule == "" {
			t.Errorf("%s: %s (%q), want %s", tc.name, got, rule, tc.want)
		}
	}
	Apply(nil) // must not panic
}
