package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ajar-scan/ajar/lab"
)

// prometheusConfig prints the configuration of the lab Prometheus at self:
// the jobs of lab.PrometheusJobs, each target in its own static_config so
// that it keeps its own labels. With a user, the server's scrape of itself
// sends it (its web.config wants it).
func prometheusConfig(w io.Writer, self, user, password string) error {
	var b strings.Builder
	b.WriteString("# Prometheus of the ajar test lab; written by lab/up.\n")
	b.WriteString("global:\n  scrape_interval: 15s\n  scrape_timeout: 5s\n  evaluation_interval: 1m\n")
	b.WriteString("scrape_configs:\n")
	for _, j := range lab.PrometheusJobs(self) {
		fmt.Fprintf(&b, "  - job_name: %q\n", j.Name)
		if j.Name == "prometheus" && user != "" {
			fmt.Fprintf(&b, "    basic_auth:\n      username: %q\n      password: %q\n", user, password)
		}
		b.WriteString("    static_configs:\n")
		for _, t := range j.Targets {
			fmt.Fprintf(&b, "      - targets: [%q]\n", t.Address)
			if len(t.Labels) == 0 {
				continue
			}
			b.WriteString("        labels:\n")
			keys := make([]string, 0, len(t.Labels))
			for k := range t.Labels {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "          %s: %q\n", k, t.Labels[k])
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
