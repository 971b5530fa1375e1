package prometheus

import "testing"

// FuzzParseTargets: any answer groups into jobs within the label bounds.
func FuzzParseTargets(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"activeTargets":[{"labels":{"job":"node","instance":"db-prod-07.internal.corp:9100"},"scrapePool":"node"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		jobs, err := parseTargets(body, 5)
		if err != nil {
			return
		}
		for _, j := range jobs {
			if j.targets < 1 || len(j.labels) > maxLabels || len(j.samples) > 5 {
				t.Fatalf("job %+v", j)
			}
		}
	})
}
