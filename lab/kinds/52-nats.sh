# shellcheck shell=bash
# NATS of the lab, with JetStream: open (no authentication, monitoring on
# LAB_NATS_OPEN_MONITOR), and secured (a user and password). Sourced by
# lab/services.sh.

LAB_NATS_OPEN=127.0.12.30:4222
LAB_NATS_OPEN_MONITOR=127.0.12.30:8222
LAB_NATS_SECURED=127.0.12.31:4322
LAB_NATS_USER=lab
LAB_NATS_PASSWORD=lab-secret-nats

lab_service nats-open "$LAB_NATS_OPEN"
lab_service nats-secured "$LAB_NATS_SECURED"

nats_missing() { command -v nats-server >/dev/null || echo nats-server; }
nats_comm() { echo nats-server; }
nats_seed_script() { brokerseed_script nats nats.tsv; }

# nats_ready: the server greets with INFO (https://docs.nats.io/reference/reference-protocols/nats-protocol#info).
nats_ready() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout 3 bash -c 'IFS= read -r line <"/dev/tcp/$0/$1" && [[ $line == INFO\ * ]]' \
		"$(svc_host "$1")" "$(svc_port "$1")" 2>/dev/null
}

# nats_auth SERVICE prints the seeding program's credentials arguments.
nats_auth() {
	if [[ $(svc_variant "$1") == secured ]]; then
		printf '%s\n' -user "$LAB_NATS_USER" -pass "$LAB_NATS_PASSWORD"
	fi
}

# ---- NATS --------------------------------------------------------------------

nats_start() {
	local s=$1 dir args
	dir=$(svc_dir "$s")
	mkdir -p "$dir/js"
	# JetStream keeps its streams in $dir/js: a restart keeps the seed.
	args=(-a "$(svc_host "$s")" -p "$(svc_port "$s")" -js -sd "$dir/js" -n "ajar-lab-$s")
	if [[ $(svc_variant "$s") == secured ]]; then
		args+=(--user "$LAB_NATS_USER" --pass "$LAB_NATS_PASSWORD")
	else
		args+=(-m "${LAB_NATS_OPEN_MONITOR##*:}")
	fi
	(cd "$dir" && svc_launch "$s" "$dir/server.log" nats-server "${args[@]}") || exit 1
}

nats_counts() {
	local s=$1 auth
	mapfile -t auth < <(nats_auth "$s")
	brokerseed -check "$(svc_addr "$s")" "${auth[@]}" <"$(nats_seed_script)" 2>/dev/null
}

nats_seed() {
	local s=$1 auth
	mapfile -t auth < <(nats_auth "$s")
	brokerseed -load "$(svc_addr "$s")" "${auth[@]}" <"$(nats_seed_script)" || lab_die "$s: seeding failed"
}
