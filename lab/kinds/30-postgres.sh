# shellcheck shell=bash
# PostgreSQL of the lab: open (trust), and secured (scram-sha-256). Sourced
# by lab/services.sh.

lab_service postgres-open "$LAB_PG_OPEN"
lab_service postgres-secured "$LAB_PG_SECURED"

postgres_missing() {
	{ pg_bin >/dev/null && [[ -x $(pg_bin)/psql ]] && id postgres >/dev/null 2>&1; } || echo postgresql
}
postgres_comm() { echo postgres; }
postgres_ready() {
	"$PGBIN/pg_isready" -q -t 2 -h "$(svc_host "$1")" -p "$(svc_port "$1")" -U postgres -d postgres
}
postgres_stopsig() { echo INT; }
postgres_seed_script() { echo "$AJAR_LAB_DIR/seed/postgres.sql"; }

# pg_bin prints the bin directory of the newest PostgreSQL server installed.
pg_bin() {
	local d
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/postgres && -x $d/initdb ]] || return 1
	echo "$d"
}

# pg_cli speaks to the server over its own socket as the postgres system user
# (peer authentication on either variant).
pg_cli() {
	local s=$1
	shift
	(cd / && timeout 120 runuser -u postgres -- env -i LANG=C.UTF-8 PATH=/usr/bin:/bin \
		"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(svc_dir "$s")/run" -p "$(svc_port "$s")" -U postgres "$@")
}

# ---- PostgreSQL --------------------------------------------------------------

postgres_init() {
	local s=$1 dir
	dir=$(svc_dir "$s")
	svc_stop "$s"
	rm -rf "$dir"
	mkdir -p "$dir"
	install -d -o postgres -g postgres -m 700 "$dir/data"
	install -d -o postgres -g postgres -m 755 "$dir/run"
	runuser -u postgres -- test -x "$dir" ||
		lab_die "$s: the postgres user cannot enter $dir; choose an AJAR_LAB_DIR it can reach"
	lab_log "$s: creating the data directory"
	(cd / && runuser -u postgres -- env -i LANG=C.UTF-8 PATH=/usr/bin:/bin "$PGBIN/initdb" \
		-D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer \
		--auth-host=reject --no-instructions) >"$dir/install.log" 2>&1 ||
		lab_die "$s: initdb failed (log: $dir/install.log)"
	local method=trust
	[[ $(svc_variant "$s") == secured ]] && method=scram-sha-256
	cat >"$dir/data/pg_hba.conf" <<-EOF
		# PostgreSQL of the ajar test lab ($s); written by lab/up.
		# TYPE  DATABASE  USER      ADDRESS       METHOD
		local   all       postgres                peer
		host    all       all       127.0.0.0/8   $method
		host    all       all       ::1/128       $method
	EOF
	chown postgres:postgres "$dir/data/pg_hba.conf"
	postgres_start "$s"
	if [[ $(svc_variant "$s") == secured ]]; then
		pg_cli "$s" -d postgres -c "ALTER ROLE postgres PASSWORD '$LAB_PG_PASSWORD'" ||
			lab_die "$s: setting the password failed"
	fi
	touch "$dir/initialized"
}

postgres_start() {
	local s=$1 dir
	dir=$(svc_dir "$s")
	# A server killed by a signal leaves its lock files behind, naming a PID
	# that may linger as a zombie or be reused: PostgreSQL would refuse to
	# start. No live process works in this directory any more (svc_stop has
	# waited for that), so they are stale.
	[[ -z $(svc_strays "$s") ]] || lab_die "$s: processes still run in $dir"
	rm -f "$dir/data/postmaster.pid" "$dir/run/.s.PGSQL.$(svc_port "$s")" "$dir/run/.s.PGSQL.$(svc_port "$s").lock"
	# setpriv execs the server in place (runuser would stay as its parent),
	# so the PID kept is the postmaster's.
	svc_launch "$s" "$dir/server.log" setpriv --reuid=postgres --regid=postgres --init-groups -- \
		env -i LANG=C.UTF-8 PATH=/usr/bin:/bin "$PGBIN/postgres" -D "$dir/data" \
		-c listen_addresses="$(svc_host "$s")" -c port="$(svc_port "$s")" \
		-c unix_socket_directories="$dir/run" -c cluster_name="ajar-lab-$s" \
		-c shared_buffers=16MB -c max_connections=100 -c synchronous_commit=off
}

postgres_counts() {
	local s=$1 police shop
	police=$(pg_cli "$s" -d police -tA -c "SELECT (SELECT count(*) FROM person_info) || ' ' ||
		(SELECT count(*) FROM case_record)" 2>/dev/null) || return 1
	shop=$(pg_cli "$s" -d shop -tA -c "SELECT count(*) FROM orders" 2>/dev/null) || return 1
	[[ "$police $shop" == "$LAB_SQL_PERSONS $LAB_SQL_CASES $LAB_SQL_ORDERS" ]]
}

postgres_seed() {
	pg_cli "$1" -d postgres <"$AJAR_LAB_DIR/seed/postgres.sql" || lab_die "$1: seeding failed"
}

# The server binaries; lab/up installs PostgreSQL first when they are missing.
PGBIN=$(pg_bin || true)
