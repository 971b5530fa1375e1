# shellcheck shell=bash
# etcd of the lab, single-node clusters: open, and with authentication
# enabled (a root user). Each peer port is its client port plus one, on the
# same address. Sourced by lab/services.sh.

LAB_ETCD_OPEN=127.0.11.30:2379
LAB_ETCD_SECURED=127.0.11.31:2479
LAB_ETCD_PASSWORD=lab-secret-etcd

lab_service etcd-open "$LAB_ETCD_OPEN"
lab_service etcd-secured "$LAB_ETCD_SECURED"

etcd_missing() {
	command -v etcd >/dev/null || echo etcd-server
	command -v etcdctl >/dev/null || echo etcd-client
}
etcd_comm() { echo etcd; }
etcd_seed_script() { lab_fill_seed etcd; }
etcd_ready() {
	[[ $(curl -s --max-time 2 "http://$(svc_addr "$1")/version" 2>/dev/null) == *'"etcdserver"'* ]]
}

etcd_creds() {
	if [[ $(svc_variant "$1") == secured ]]; then
		printf '%s\n' -user root -password "$LAB_ETCD_PASSWORD"
	fi
}

# etcd_ctl SERVICE ARGS… runs etcdctl against the service; etcdctl retries
# for ever when the server does not answer, hence the timeout.
etcd_ctl() {
	local s=$1
	shift
	ETCDCTL_API=3 timeout 30 etcdctl --endpoints="http://$(svc_addr "$s")" --dial-timeout=5s "$@"
}

# etcd_init creates the data directory anew; on the secured variant it adds
# the root user and turns authentication on.
etcd_init() {
	local s=$1 dir out
	dir=$(svc_dir "$s")
	svc_stop "$s"
	rm -rf "$dir"
	mkdir -p "$dir"
	install -d -m 700 "$dir/data"
	etcd_start "$s"
	if [[ $(svc_variant "$s") == secured ]]; then
		out=$(etcd_ctl "$s" user add root --new-user-password="$LAB_ETCD_PASSWORD" --interactive=false 2>&1 &&
			etcd_ctl "$s" user grant-role root root 2>&1 &&
			etcd_ctl "$s" auth enable 2>&1) || lab_die "$s: enabling authentication failed: $out"
	fi
	touch "$dir/initialized"
}

etcd_start() {
	local s=$1 dir host peer name
	dir=$(svc_dir "$s")
	host=$(svc_host "$s")
	peer="http://$host:$(($(svc_port "$s") + 1))"
	name=ajar-lab-$s
	# env -C: the service's directory is the server's working directory, as
	# lab/services.sh expects.
	svc_launch "$s" "$dir/server.log" env -C "$dir" etcd --name "$name" --data-dir "$dir/data" \
		--listen-client-urls "http://$(svc_addr "$s")" --advertise-client-urls "http://$(svc_addr "$s")" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "$name=$peer" --initial-cluster-state new --initial-cluster-token "$name" \
		--enable-v2=false --logger=zap --log-outputs=stderr --log-level=warn
}

etcd_counts() {
	# shellcheck disable=SC2046 # flags, one a line, no spaces
	lab_fill -kind etcd -addr "$(svc_addr "$1")" $(etcd_creds "$1") -check
}

etcd_seed() {
	# shellcheck disable=SC2046
	lab_fill -kind etcd -addr "$(svc_addr "$1")" $(etcd_creds "$1") \
		-load "$(etcd_seed_script "$1")" || lab_die "$1: seeding failed"
}
