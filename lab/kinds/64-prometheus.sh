# shellcheck shell=bash
# Prometheus servers of the lab: open, and secured with basic
# authentication (web.config, bcrypt). Both scrape the jobs of
# lab.PrometheusJobs: themselves, and exporters on 127.0.13.42-45 that do
# not run (down, but listed). Sourced by lab/services.sh.

LAB_PROMETHEUS_OPEN=127.0.13.40:9090
LAB_PROMETHEUS_SECURED=127.0.13.41:9190
LAB_PROMETHEUS_USER=grafana
LAB_PROMETHEUS_PASSWORD=lab-secret-prometheus

lab_service prometheus-open "$LAB_PROMETHEUS_OPEN"
lab_service prometheus-secured "$LAB_PROMETHEUS_SECURED"

prometheus_missing() {
	command -v prometheus >/dev/null || echo prometheus
	command -v curl >/dev/null || echo curl
}
prometheus_comm() { echo prometheus; }

prometheus_ready() {
	local auth=()
	if [[ $(svc_variant "$1") == secured ]]; then
		auth=(-u "$LAB_PROMETHEUS_USER:$LAB_PROMETHEUS_PASSWORD")
	fi
	[[ $(http_code "http://$(svc_addr "$1")/-/ready" "${auth[@]}") == 200 ]]
}

prometheus_start() {
	local s=$1 dir args=()
	dir=$(svc_dir "$s")
	mkdir -p "$dir/data"
	if [[ $(svc_variant "$s") == secured ]]; then
		labdata prometheus-config -self "$(svc_addr "$s")" -user "$LAB_PROMETHEUS_USER" \
			-password "$LAB_PROMETHEUS_PASSWORD" >"$dir/prometheus.yml" || lab_die "$s: writing prometheus.yml failed"
		{
			echo "# Web configuration of the ajar test lab's Prometheus ($s); written by lab/up."
			echo "basic_auth_users:"
			printf '  %s: %s\n' "$LAB_PROMETHEUS_USER" "$(labdata bcrypt <<<"$LAB_PROMETHEUS_PASSWORD")"
		} >"$dir/web.yml" || lab_die "$s: writing web.yml failed"
		args+=(--web.config.file="$dir/web.yml")
	else
		labdata prometheus-config -self "$(svc_addr "$s")" >"$dir/prometheus.yml" ||
			lab_die "$s: writing prometheus.yml failed"
	fi
	(cd "$dir" && svc_launch "$s" "$dir/server.log" prometheus --config.file="$dir/prometheus.yml" \
		--web.listen-address="$(svc_addr "$s")" --storage.tsdb.path="$dir/data" \
		--storage.tsdb.retention.time=2d "${args[@]}")
}
