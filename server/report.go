package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
)

// WriteReport writes a disclosure report in Markdown: what is exposed, the
// evidence, redacted samples and the timeline, to attach to a notice to the
// owner.
func WriteReport(w io.Writer, d *Detail) error {
	ev := &d.Exposure.Event
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Exposed %s on %s\n\n", dashed(ev.Product, ev.Protocol), ev.Target)
	p("| | |\n|---|---|\n")
	p("| service | %s %s %s (%s) |\n", mdCell(ev.Protocol), mdCell(ev.Product), mdCell(ev.Version), ev.Transport)
	p("| status | %s |\n", ev.Status)
	p("| first seen | %s |\n| last seen | %s |\n", ev.FirstSeen.UTC().Format(time.RFC3339), ev.LastSeen.UTC().Format(time.RFC3339))
	if ev.ClosedAt != nil {
		p("| closed at | %s |\n", ev.ClosedAt.UTC().Format(time.RFC3339))
	}
	if ev.TLS != nil && len(ev.TLS.Names) > 0 {
		p("| certificate names | %s |\n", mdCell(strings.Join(ev.TLS.Names, ", ")))
	}
	if a := ev.Attribution; a != nil {
		p("| hosting | %s %s (AS%d %s, %s) |\n", mdCell(a.Provider), mdCell(a.Hosting), a.ASN, mdCell(a.Org), mdCell(a.Country))
	}
	p("| disclosure | %s |\n", d.Disclosure.State)
	if x := ev.Exposure; x != nil {
		p("| access | %s, no credentials needed |\n", x.Access)
		p("| records | %d in %d datasets (%s) |\n", x.Records, len(x.Datasets), ajar.FormatBytes(x.Bytes))
		p("| severity | %s: %s |\n", x.Severity, mdCell(x.SeverityRule))
		if len(x.Classes) > 0 {
			p("| personal data | %s |\n", strings.Join(x.Classes, ", "))
		}
		if x.Ransom != nil {
			p("| ransom note | %s |\n", mdCell(x.Ransom.Note))
		}
		p("\n## Datasets\n\n| dataset | records | size | fields |\n|---|---|---|---|\n")
		for _, ds := range x.Datasets {
			p("| %s | %d | %s | %s |\n", mdCell(ds.Name), ds.Records, ajar.FormatBytes(ds.Bytes), mdCell(strings.Join(ds.Fields, ", ")))
		}
		if len(x.Samples) > 0 {
			p("\n## Samples (redacted)\n\n")
			for _, sm := range x.Samples {
				keys := make([]string, 0, len(sm.Doc))
				for k := range sm.Doc {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				var parts []string
				for _, k := range keys {
					parts = append(parts, k+"="+sm.Doc[k])
				}
				p("- %s: %s\n", mdCell(sm.Dataset), mdCell(strings.Join(parts, "; ")))
			}
		}
		if x.Evidence != nil {
			p("\n## Evidence\n\nRequest: `%s`\n\n```\n%s\n```\n", strings.ReplaceAll(x.Evidence.Request, "`", "'"),
				strings.ReplaceAll(x.Evidence.Response, "```", "'''"))
		}
	}
	p("\n## Timeline\n\n| time | status | records | detail |\n|---|---|---|---|\n")
	for _, e := range d.Events {
		rec := "-"
		if e.Exposure != nil {
			rec = fmt.Sprint(e.Exposure.Records)
		}
		p("| %s | %s | %s | %s |\n", e.Time.UTC().Format(time.RFC3339), e.Status, rec, mdCell(e.Detail))
	}
	p("\nThis report was produced by ajar with read-only requests; personal data is shown redacted.\n")
	return nil
}

func dashed(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// mdCell keeps a value from breaking a Markdown table.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, _ *ajar.APIKey) {
	rec, ok := s.record(w, r)
	if !ok {
		return
	}
	d, err := s.Detail(r, rec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch r.URL.Query().Get("format") {
	case "", "md", "markdown":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="ajar-report-%d.md"`, rec.ID))
		_ = WriteReport(w, d)
	case "json":
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="ajar-report-%d.json"`, rec.ID))
		writeJSON(w, http.StatusOK, d)
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "format must be md or json")
	}
}
