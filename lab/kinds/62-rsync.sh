# shellcheck shell=bash
# rsync daemons of the lab: open (modules readable by anyone, one of them
# with a password) and secured (every module wants a user and password).
# The modules are those of lab.RsyncModules. Sourced by lab/services.sh.

LAB_RSYNC_OPEN=127.0.13.20:873
LAB_RSYNC_SECURED=127.0.13.21:1873
LAB_RSYNC_USER=mirror
LAB_RSYNC_PASSWORD=lab-secret-rsync

lab_service rsync-open "$LAB_RSYNC_OPEN"
lab_service rsync-secured "$LAB_RSYNC_SECURED"

rsync_missing() {
	command -v rsync >/dev/null || echo rsync
}
rsync_comm() { echo rsync; }

# rsync_ready: the daemon lists its modules (it does on both variants).
rsync_ready() {
	timeout 5 rsync --contimeout=2 --timeout=3 "rsync://$(svc_addr "$1")/" >/dev/null 2>&1
}

rsync_seed_script() { labdata_seed_file rsync.manifest manifest -set rsync; }

rsync_start() {
	local s=$1 dir
	dir=$(svc_dir "$s")
	mkdir -p "$dir/modules"
	(
		umask 077
		echo "$LAB_RSYNC_USER:$LAB_RSYNC_PASSWORD" >"$dir/rsyncd.secrets"
	)
	labdata rsync-config -variant "$(svc_variant "$s")" -dir "$dir/modules" -secrets "$dir/rsyncd.secrets" \
		>"$dir/rsyncd.conf" || lab_die "$s: writing rsyncd.conf failed"
	(cd "$dir" && svc_launch "$s" "$dir/server.log" rsync --daemon --no-detach --config="$dir/rsyncd.conf" \
		--address="$(svc_host "$s")" --port="$(svc_port "$s")" --log-file="$dir/rsyncd.log")
}

rsync_counts() {
	tree_matches "$(svc_dir "$1")/modules" "$AJAR_LAB_DIR/seed/rsync.manifest"
}

rsync_seed() {
	tree_write rsync "$(svc_dir "$1")/modules"
}
