package enrich

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ajar-scan/ajar"
	"github.com/ajar-scan/ajar/lab"
	"github.com/ajar-scan/ajar/lab/fake"
)

func TestSeverity(t *testing.T) {
	phones := map[string]ajar.ClassCount{"phone": {Count: 5, Confidence: 0.95}}
	ips := map[string]ajar.ClassCount{"ip_address": {Count: 5, Confidence: 0.95}}
	for _, tc := range []struct {
		name string
		e    ajar.Exposure
		want ajar.Severity
		rule string
	}{
		{"admin, empty", ajar.Exposure{Access: ajar.AccessAdmin}, ajar.SeverityCritical, RuleAdmin},
		{"many ids", ajar.Exposure{Access: ajar.AccessRead, Records: 3_000_000, Classes: []string{"cn_resident_id"}}, ajar.SeverityCritical, RuleManyPersonal},
		{"exactly the threshold", ajar.Exposure{Access: ajar.AccessRead, Records: 100_000, Classes: []string{"phone"}}, ajar.SeverityCritical, RuleManyPersonal},
		{"few phones", ajar.Exposure{Access: ajar.AccessRead, Records: 99_999, Classes: []string{"phone"}}, ajar.SeverityHigh, RuleFewPersonal},
		{"secrets", ajar.Exposure{Access: ajar.AccessRead, Records: 3, Classes: []string{"secret_key"}}, ajar.SeverityHigh, RuleSecrets},
		{"business data", ajar.Exposure{Access: ajar.AccessRead, Records: 10, Classes: []string{"ip_address"}}, ajar.SeverityMedium, RuleNonPersonal},
		{"empty", ajar.Exposure{Access: ajar.AccessRead}, ajar.SeverityLow, RuleEmpty},
		{"default creds, data", ajar.Exposure{Access: ajar.AccessDefaultCreds, Records: 5}, ajar.SeverityMedium, RuleNonPersonal},
		{"admin with many personal records", ajar.Exposure{Access: ajar.AccessAdmin, Records: 200_000, Classes: []string{"phone"}}, ajar.SeverityCritical, RuleManyPersonal},
		{
			// Phones in a small table beside a large log: the personal
			// records are those of the table.
			"phones in a small dataset",
			ajar.Exposure{Access: ajar.AccessRead, Records: 5_000_010, Classes: []string{"ip_address", "phone"},
				Datasets: []ajar.Dataset{{Name: "users", Records: 10, Classes: phones}, {Name: "log", Records: 5_000_000, Classes: ips}}},
			ajar.SeverityHigh, RuleFewPersonal,
		},
		{
			"phones in a large dataset",
			ajar.Exposure{Access: ajar.AccessRead, Records: 150_000, Classes: []string{"phone"},
				Datasets: []ajar.Dataset{{Name: "users", Records: 150_000, Classes: phones}}},
			ajar.SeverityCritical, RuleManyPersonal,
		},
		{
			"only a ransom note",
			ajar.Exposure{Access: ajar.AccessRead, Records: 1, Datasets: []ajar.Dataset{{Name: "db0", Records: 1}},
				Ransom: &ajar.Ransom{Note: "…", Datasets: []string{"db0"}}},
			ajar.SeverityLow, RuleRansomOnly,
		},
	} {
		got, rule := Severity(&tc.e)
		if got != tc.want || rule != tc.rule {
			t.Errorf("%s: %s (%q), want %s (%q)", tc.name, got, rule, tc.want, tc.rule)
		}
	}
	Apply(nil) // must not panic
}

// TestApply: the classes come from the raw samples, and nothing raw is
// left on the exposure afterwards.
func TestApply(t *testing.T) {
	g := fake.New(lab.Seed)
	e := &ajar.Exposure{Plugin: "test", Access: ajar.AccessRead, Records: 3001,
		Datasets: []ajar.Dataset{
			{Name: "police.person_info", Records: 3000, Fields: []string{"id", "name", "phone", "id_number", "address"}},
			{Name: "read_me", Records: 1},
		}}
	var raw []string
	for i := 1; i <= 5; i++ {
		p := g.Person(i)
		raw = append(raw, p.Name, p.Mobile, p.IDNumber, p.Address)
		e.Samples = append(e.Samples, ajar.Sample{Dataset: "police.person_info", Doc: map[string]string{
			"id": "1", "name": p.Name, "phone": p.Mobile, "id_number": p.IDNumber, "address": p.Address}})
	}
	note := "All your data is backed up. Pay 0.05 BTC to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh, mail restore@example.com"
	raw = append(raw, "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "restore@example.com")
	e.Samples = append(e.Samples, ajar.Sample{Dataset: "read_me", Doc: map[string]string{"note": note}})
	p := g.Person(9)
	e.Evidence = &ajar.Evidence{Request: "SELECT *", Response: "row: " + p.Mobile + " " + p.IDNumber}
	raw = append(raw, p.Mobile, p.IDNumber)

	Apply(e)

	if got := strings.Join(e.Classes, ","); got != "address,cn_resident_id,person_name,phone" {
		t.Errorf("classes %s: the note's e-mail must not count, the persons must", got)
	}
	if c := e.Datasets[0].Classes["cn_resident_id"]; c.Count != 5 || c.Confidence < 0.95 {
		t.Errorf("person_info classes %v", e.Datasets[0].Classes)
	}
	if e.Ransom == nil || strings.Join(e.Ransom.Datasets, ",") != "read_me" {
		t.Fatalf("ransom %+v", e.Ransom)
	}
	if e.Severity != ajar.SeverityHigh || e.SeverityRule != RuleFewPersonal {
		t.Errorf("severity %s %q", e.Severity, e.SeverityRule)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range raw {
		if strings.Contains(string(b), v) {
			t.Errorf("%q survives in %s", v, b)
		}
	}
	if !strings.Contains(string(b), p.Mobile[:3]+"****"+p.Mobile[7:]) {
		t.Errorf("evidence not redacted as a phone: %s", e.Evidence.Response)
	}
}
