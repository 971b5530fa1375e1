package main

import (
	"fmt"
	"io"
	"time"

	"github.com/ajar-scan/ajar/scan"
)

// progressPrinter draws the progress line on stderr: redrawn in place on a
// terminal, a plain line every few seconds otherwise.
type progressPrinter struct {
	w        io.Writer
	terminal bool
	last     time.Time
	every    time.Duration
}

func (p *progressPrinter) print(pr scan.Progress) {
	now := time.Now()
	if !pr.Final && !p.terminal && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	secs := pr.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(pr.Done) / secs
	}
	pct := 100.0
	if pr.Total > 0 {
		pct = 100 * float64(pr.Done) / float64(pr.Total)
	}
	eta := "-"
	if rate > 0 && pr.Done < pr.Total {
		eta = formatDuration(time.Duration(float64(pr.Total-pr.Done)/rate) * time.Second)
	}
	line := fmt.Sprintf("%d/%d targets (%.1f%%)  %.0f/s  open %d  exposed %d  protected %d  closed %d  eta %s",
		pr.Done, pr.Total, pct, rate, pr.Open, pr.Exposed, pr.Protected, pr.Closed, eta)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		if pr.Final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, line)
}
