package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/ajar-scan/ajar"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// jsonLine writes one event as a line of the ajar/1 contract.
func jsonLine(w io.Writer, ev *ajar.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// jsonValue writes any value as one JSON line.
func jsonValue(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }
func (t *table) flush() error        { return t.tw.Flush() }

// eventRow is the human summary of one event.
func eventRow(ev *ajar.Event) []string {
	records, size, sev := "-", "-", "-"
	if ev.Exposure != nil {
		records = strconv.FormatInt(ev.Exposure.Records, 10)
		if hasEstimate(ev.Exposure) {
			records = "~" + records
		}
		size = ajar.FormatBytes(ev.Exposure.Bytes)
		sev = string(ev.Exposure.Severity)
	}
	status := string(ev.Status)
	if ev.Status == ajar.StatusClosed && ev.OpenFor != nil {
		status += " after " + formatDuration(time.Duration(*ev.OpenFor)*time.Second)
	}
	return []string{ev.Target.String(), dash(ev.Protocol), dash(product(ev)), status, records, size, sev}
}

var eventHeader = []string{"TARGET", "PROTOCOL", "PRODUCT", "STATUS", "RECORDS", "SIZE", "SEVERITY"}

func hasEstimate(e *ajar.Exposure) bool {
	for _, d := range e.Datasets {
		if d.Estimated && !d.System {
			return true
		}
	}
	return false
}

func product(ev *ajar.Event) string {
	return strings.TrimSpace(ev.Product + " " + ev.Version)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatDuration renders a duration for people: 3d4h, 2h5m, 42s.
func formatDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
