package lab

// Prometheus servers of the lab (Prometheus 2.42, lab/kinds/63-prometheus.sh):
// the open one answers anyone; the secured one wants PrometheusUser and
// PrometheusPassword (web.config basic_auth_users, bcrypt). Both scrape the
// jobs of PrometheusJobs.
const (
	PrometheusOpen     = "127.0.13.40:9090"
	PrometheusSecured  = "127.0.13.41:9190"
	PrometheusUser     = "grafana"
	PrometheusPassword = "lab-secret-prometheus"
)

// PrometheusTarget is one scrape target: the address scraped, always on
// loopback, and the labels it gets. The internal host names live only in
// the labels: nothing resolves them.
type PrometheusTarget struct {
	Address string
	Labels  map[string]string
}

// PrometheusJob is one scrape job and its targets.
type PrometheusJob struct {
	Name    string
	Targets []PrometheusTarget
}

// PrometheusJobs returns the scrape jobs of the lab server at self (its own
// address), in the order of its configuration. Only the "prometheus" job
// scrapes something that answers: the exporters are down, as they would
// be when looked at from outside, but still listed as active targets.
func PrometheusJobs(self string) []PrometheusJob {
	node := func(port, host, role string) PrometheusTarget {
		return PrometheusTarget{Address: port, Labels: map[string]string{
			"instance": host, "env": "prod", "datacenter": "sh-pudong-2", "role": role,
		}}
	}
	return []PrometheusJob{
		{"prometheus", []PrometheusTarget{{Address: self}}},
		{"node", []PrometheusTarget{
			node("127.0.13.42:9100", "db-prod-07.internal.corp:9100", "db"),
			node("127.0.13.43:9100", "db-prod-08.internal.corp:9100", "db"),
			node("127.0.13.44:9100", "web-prod-01.internal.corp:9100", "web"),
		}},
		{"mysqld", []PrometheusTarget{
			{"127.0.13.42:9104", map[string]string{"instance": "db-prod-07.internal.corp:9104", "cluster": "police-records", "env": "prod"}},
			{"127.0.13.43:9104", map[string]string{"instance": "db-prod-08.internal.corp:9104", "cluster": "police-records", "env": "prod"}},
		}},
		{"redis", []PrometheusTarget{
			{"127.0.13.45:9121", map[string]string{"instance": "cache-prod-01.internal.corp:9121", "env": "prod"}},
		}},
	}
}
