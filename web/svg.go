package web

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ajar-scan/ajar"
)

var funcs = template.FuncMap{
	"bytes":   ajar.FormatBytes,
	"time":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") },
	"timeptr": func(t *time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") },
	"openfor": func(s *int64) string { return (time.Duration(*s) * time.Second).String() },
	"bars":    barChart,
	"columns": columnChart,
	"refine": func(q, field, value string) string {
		term := field + ":" + value
		if strings.ContainsAny(value, " \"") {
			term = field + ":" + strconv.Quote(value)
		}
		return "/search?" + url.Values{"q": {strings.TrimSpace(q + " " + term)}}.Encode()
	},
	"join":  strings.Join,
	"upper": strings.ToUpper,
	"id":    func(r ajar.Record) string { return strconv.FormatInt(r.ID, 10) },
}

// barChart draws counts as horizontal bars with their labels: an inline
// SVG, so that the dashboard needs no script and no external asset.
func barChart(title string, counts []ajar.FacetCount) template.HTML {
	const w, row, labelW = 420, 22, 140
	var max int64 = 1
	for _, c := range counts {
		max = maxInt(max, c.Count)
	}
	h := row*len(counts) + 28
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" width="%d" height="%d" viewBox="0 0 %d %d">`, esc(title), w, h, w, h)
	fmt.Fprintf(&b, `<text x="0" y="14" class="chart-title">%s</text>`, esc(title))
	if len(counts) == 0 {
		fmt.Fprintf(&b, `<text x="0" y="40" class="muted">nothing yet</text>`)
	}
	for i, c := range counts {
		y := 24 + i*row
		bw := int(float64(w-labelW-50) * float64(c.Count) / float64(max))
		fmt.Fprintf(&b, `<text x="0" y="%d" class="label">%s</text>`, y+14, esc(truncate(c.Value, 20)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="bar"><title>%s: %d</title></rect>`, labelW, y+3, max1(bw), row-6, esc(c.Value), c.Count)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="value">%d</text>`, labelW+max1(bw)+6, y+14, c.Count)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// columnChart draws a count per day as columns.
func columnChart(title string, counts []ajar.FacetCount) template.HTML {
	const w, h, top, bottom = 620, 180, 24, 24
	var max int64 = 1
	for _, c := range counts {
		max = maxInt(max, c.Count)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" width="%d" height="%d" viewBox="0 0 %d %d">`, esc(title), w, h, w, h)
	fmt.Fprintf(&b, `<text x="0" y="14" class="chart-title">%s</text>`, esc(title))
	if n := len(counts); n > 0 {
		cw := (w - 40) / n
		for i, c := range counts {
			ch := int(float64(h-top-bottom) * float64(c.Count) / float64(max))
			x := 30 + i*cw
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="bar"><title>%s: %d new</title></rect>`,
				x, h-bottom-ch, max1(cw-2), ch, esc(c.Value), c.Count)
		}
		fmt.Fprintf(&b, `<text x="30" y="%d" class="label">%s</text>`, h-6, esc(counts[0].Value))
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="label" text-anchor="end">%s</text>`, w-10, h-6, esc(counts[len(counts)-1].Value))
		fmt.Fprintf(&b, `<text x="0" y="%d" class="label">%d</text>`, top+10, max)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// timelineSVG draws an exposure's history: a bar for each open period (from
// the first event of the period to its closing, or to now), a mark for every
// observation, a cross where it closed.
func timelineSVG(events []ajar.Event, now time.Time) template.HTML {
	const w, h, pad = 640, 70, 20
	if len(events) == 0 {
		return ""
	}
	start, end := events[0].Time, now
	if last := events[len(events)-1].Time; last.After(end) {
		end = last
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Second
	}
	x := func(t time.Time) int { return pad + int(float64(w-2*pad)*float64(t.Sub(start))/float64(span)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" role="img" aria-label="timeline" width="%d" height="%d" viewBox="0 0 %d %d">`, w, h, w, h)
	fmt.Fprintf(&b, `<line x1="%d" y1="40" x2="%d" y2="40" class="axis"/>`, pad, w-pad)
	var open *time.Time
	closePeriod := func(t time.Time, class string) {
		if open != nil {
			fmt.Fprintf(&b, `<rect x="%d" y="30" width="%d" height="20" class="%s"><title>open %s → %s</title></rect>`,
				x(*open), max1(x(t)-x(*open)), class, open.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
			open = nil
		}
	}
	for i := range events {
		e := &events[i]
		switch e.Status {
		case ajar.StatusExposed, ajar.StatusOpen, ajar.StatusWiped:
			if open == nil {
				t := e.Time
				open = &t
			}
		case ajar.StatusClosed:
			closePeriod(e.Time, "period")
			fmt.Fprintf(&b, `<text x="%d" y="26" class="closed" text-anchor="middle">✕<title>closed %s</title></text>`, x(e.Time), e.Time.UTC().Format(time.RFC3339))
		case ajar.StatusProtected:
			closePeriod(e.Time, "period")
		}
	}
	closePeriod(end, "period ongoing")
	for i := range events {
		e := &events[i]
		fmt.Fprintf(&b, `<circle cx="%d" cy="40" r="3" class="obs %s"><title>%s %s</title></circle>`, x(e.Time), e.Status, e.Time.UTC().Format(time.RFC3339), e.Status)
	}
	fmt.Fprintf(&b, `<text x="%d" y="66" class="label">%s</text>`, pad, start.UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, `<text x="%d" y="66" class="label" text-anchor="end">%s</text>`, w-pad, end.UTC().Format("2006-01-02"))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func esc(s string) string     { return template.HTMLEscapeString(s) }
func max1(n int) int          { return max(n, 1) }
func maxInt(a, b int64) int64 { return max(a, b) }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
