# shellcheck shell=bash
# memcached of the lab: open, and secured with SASL (-Y, text-protocol
# authentication). Sourced by lab/services.sh.

LAB_MEMCACHED_OPEN=127.0.11.20:11211
LAB_MEMCACHED_SECURED=127.0.11.21:11311
LAB_MEMCACHED_USER=ajar-lab
LAB_MEMCACHED_PASSWORD=lab-secret-memcached

lab_service memcached-open "$LAB_MEMCACHED_OPEN"
lab_service memcached-secured "$LAB_MEMCACHED_SECURED"

memcached_missing() { command -v memcached >/dev/null || echo memcached; }
memcached_comm() { echo memcached; }
memcached_seed_script() { lab_fill_seed memcached; }

memcached_creds() {
	if [[ $(svc_variant "$1") == secured ]]; then
		printf '%s\n' -user "$LAB_MEMCACHED_USER" -password "$LAB_MEMCACHED_PASSWORD"
	fi
}

# memcached_ready: "version" answers VERSION, or CLIENT_ERROR unauthenticated
# on the secured variant. Both are memcached.
memcached_ready() {
	local reply
	# shellcheck disable=SC2016 # expanded by the inner shell
	reply=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "version\r\n" >&3 && read -r line <&3 && echo "$line"' \
		_ "$(svc_host "$1")" "$(svc_port "$1")" 2>/dev/null) || return 1
	[[ $reply == "VERSION "* || $reply == "CLIENT_ERROR unauthenticated"* ]]
}

memcached_start() {
	local s=$1 dir args=()
	dir=$(svc_dir "$s")
	mkdir -p "$dir"
	rm -f "$dir/seeded" # no persistence: a new process starts empty
	if [[ $(svc_variant "$s") == secured ]]; then
		(
			umask 077
			echo "$LAB_MEMCACHED_USER:$LAB_MEMCACHED_PASSWORD" >"$dir/auth"
		)
		args=(-Y "$dir/auth")
	fi
	# -U 0: no UDP listener. env -C: the service's directory is the server's
	# working directory, as lab/services.sh expects.
	svc_launch "$s" "$dir/server.log" env -C "$dir" memcached -u root -l "$(svc_host "$s")" \
		-p "$(svc_port "$s")" -U 0 -m 16 -c 256 "${args[@]}"
}

memcached_counts() {
	# shellcheck disable=SC2046 # flags, one a line, no spaces
	lab_fill -kind memcached -addr "$(svc_addr "$1")" $(memcached_creds "$1") -check
}

# memcached_seed starts the server anew, so that no item but the seed's is
# left, and loads the seed.
memcached_seed() {
	svc_stop "$1"
	memcached_start "$1"
	# shellcheck disable=SC2046
	lab_fill -kind memcached -addr "$(svc_addr "$1")" $(memcached_creds "$1") \
		-load "$(memcached_seed_script "$1")" || lab_die "$1: seeding failed"
}
