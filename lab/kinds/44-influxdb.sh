# shellcheck shell=bash
# InfluxDB 1.x of the lab: open; secured (authentication on, an admin
# exists); and "noadmin", the half-open state (authentication on and no
# admin yet, so that anyone may create the first one), left empty. The RPC
# service listens on the HTTP port plus two, on the same address. Sourced by
# lab/services.sh.

LAB_INFLUX_OPEN=127.0.11.50:8086
LAB_INFLUX_SECURED=127.0.11.51:8186
LAB_INFLUX_NOADMIN=127.0.11.52:8286
LAB_INFLUX_USER=ajar-lab
LAB_INFLUX_PASSWORD=lab-secret-influxdb

lab_service influxdb-open "$LAB_INFLUX_OPEN"
lab_service influxdb-secured "$LAB_INFLUX_SECURED"
lab_service influxdb-noadmin "$LAB_INFLUX_NOADMIN"

influxdb_missing() { command -v influxd >/dev/null || echo influxdb; }
influxdb_comm() { echo influxd; }
influxdb_seed_script() { lab_fill_seed influxdb; }
influxdb_ready() {
	[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$(svc_addr "$1")/ping" 2>/dev/null) == 204 ]]
}

influxdb_creds() {
	if [[ $(svc_variant "$1") == secured ]]; then
		printf '%s\n' -user "$LAB_INFLUX_USER" -password "$LAB_INFLUX_PASSWORD"
	fi
}

# influxdb_query SERVICE STATEMENT sends one InfluxQL statement, without
# credentials, and prints the answer.
influxdb_query() {
	curl -s --max-time 10 -XPOST "http://$(svc_addr "$1")/query" --data-urlencode "q=$2"
}

# influxdb_init creates the data directories anew; on the secured variant it
# creates the admin at once, as the documentation asks.
influxdb_init() {
	local s=$1 dir out
	dir=$(svc_dir "$s")
	svc_stop "$s"
	rm -rf "$dir"
	mkdir -p "$dir"
	influxdb_start "$s"
	if [[ $(svc_variant "$s") == secured ]]; then
		out=$(influxdb_query "$s" "CREATE USER \"$LAB_INFLUX_USER\" WITH PASSWORD '$LAB_INFLUX_PASSWORD' WITH ALL PRIVILEGES")
		[[ $out == *'"statement_id":0'* && $out != *error* ]] || lab_die "$s: creating the admin failed: $out"
	fi
	touch "$dir/initialized"
}

influxdb_start() {
	local s=$1 dir host auth=true conf
	dir=$(svc_dir "$s")
	host=$(svc_host "$s")
	[[ $(svc_variant "$s") == open ]] && auth=false
	# The file name carries the address, so that lab/services.sh can tell
	# this influxd from any other by its command line.
	conf=$dir/influxdb-$host.conf
	cat >"$conf" <<-EOF
		# InfluxDB of the ajar test lab ($s); written by lab/up.
		# Usage statistics are never sent (by default they go to an outside host).
		reporting-disabled = true
		bind-address = "$host:$(($(svc_port "$s") + 2))"
		[meta]
		  dir = "$dir/meta"
		[data]
		  dir = "$dir/data"
		  wal-dir = "$dir/wal"
		  query-log-enabled = false
		  cache-max-memory-size = "64m"
		[monitor]
		  store-enabled = false
		[http]
		  enabled = true
		  bind-address = "$(svc_addr "$s")"
		  auth-enabled = $auth
		  log-enabled = false
		[subscriber]
		  enabled = false
		[continuous_queries]
		  enabled = false
	EOF
	svc_launch "$s" "$dir/server.log" env -C "$dir" influxd run -config "$conf"
}

# influxdb_counts checks the seeded figures; on the half-open variant, that
# it still asks for its first admin.
influxdb_counts() {
	if [[ $(svc_variant "$1") == noadmin ]]; then
		[[ $(influxdb_query "$1" "SHOW DATABASES") == *"create admin user first"* ]]
		return
	fi
	# shellcheck disable=SC2046 # flags, one a line, no spaces
	lab_fill -kind influxdb -addr "$(svc_addr "$1")" $(influxdb_creds "$1") -check
}

influxdb_seed() {
	local s=$1
	if [[ $(svc_variant "$s") == noadmin ]]; then
		# Still without an admin, or someone created one: start again.
		influxdb_counts "$s" || influxdb_init "$s"
		return
	fi
	# shellcheck disable=SC2046
	lab_fill -kind influxdb -addr "$(svc_addr "$s")" $(influxdb_creds "$s") \
		-load "$(influxdb_seed_script "$s")" || lab_die "$s: seeding failed"
}
