# shellcheck shell=bash
# Redis of the lab: open, and secured with requirepass. Sourced by
# lab/services.sh.

lab_service redis-open "$LAB_REDIS_OPEN"
lab_service redis-secured "$LAB_REDIS_SECURED"

redis_missing() {
	command -v redis-server >/dev/null || echo redis-server
	command -v redis-cli >/dev/null || echo redis-tools
}
redis_comm() { echo redis-server; }
redis_ready() { [[ $(redis_cli "$1" PING 2>/dev/null) == PONG ]]; }
redis_seed_script() { echo "$AJAR_LAB_DIR/seed/redis.resp"; }

redis_cli() {
	local s=$1
	shift
	if [[ $(svc_variant "$s") == secured ]]; then
		REDISCLI_AUTH=$LAB_REDIS_PASSWORD timeout 60 redis-cli -h "$(svc_host "$s")" -p "$(svc_port "$s")" "$@"
	else
		timeout 60 redis-cli -h "$(svc_host "$s")" -p "$(svc_port "$s")" "$@"
	fi
}

# ---- Redis -------------------------------------------------------------------

redis_start() {
	local s=$1 dir conf
	dir=$(svc_dir "$s")
	conf=$dir/redis.conf
	mkdir -p "$dir"
	rm -f "$dir/seeded" # no persistence: a new process starts empty
	(
		umask 077
		cat >"$conf" <<-EOF
			# Redis of the ajar test lab ($s); written by lab/up.
			bind $(svc_host "$s")
			port $(svc_port "$s")
			protected-mode no
			daemonize no
			dir $dir
			logfile ""
			save ""
			appendonly no
		EOF
		if [[ $(svc_variant "$s") == secured ]]; then
			echo "requirepass $LAB_REDIS_PASSWORD" >>"$conf"
		fi
	)
	svc_launch "$s" "$dir/server.log" redis-server "$conf"
}

redis_counts() {
	local s=$1
	[[ $(redis_cli "$s" -n 0 DBSIZE) == "$LAB_REDIS_PERSONS" ]] &&
		[[ $(redis_cli "$s" -n 1 DBSIZE) == "$LAB_REDIS_ORDERS" ]]
}

redis_seed() {
	local s=$1 out
	out=$(redis_cli "$s" --pipe <"$AJAR_LAB_DIR/seed/redis.resp" 2>&1) || lab_die "$s: seeding failed: $out"
	[[ $out == *"errors: 0,"* ]] || lab_die "$s: seeding failed: $out"
}

