# shellcheck shell=bash
# What lab/up, lab/down and lab/status share: where each lab service lives and
# how to install, start, check, seed and stop it. Sourced, never run.

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(dirname "$LAB_SRC")
# shellcheck source=lab/lab.env
. "$LAB_SRC/lab.env"

# The services, in start order: the quickest first, so that tests of the
# first ones can begin while the rest start.
LAB_SERVICES=(redis-open redis-secured mariadb-open mariadb-secured postgres-open postgres-secured)

umask 022
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
# The clients below get every setting on their command line; none may come
# from the caller's environment.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGSERVICEFILE \
	PGPASSFILE PGOPTIONS PGSSLMODE PGCONNECT_TIMEOUT REDISCLI_AUTH MYSQL_PWD MYSQL_HOST \
	MYSQL_TCP_PORT MYSQL_UNIX_PORT

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() {
	printf 'lab: %s\n' "$*" >&2
	exit 1
}

# ---- what and where ----------------------------------------------------------

svc_addr() {
	case $1 in
	redis-open) echo "$LAB_REDIS_OPEN" ;;
	redis-secured) echo "$LAB_REDIS_SECURED" ;;
	mariadb-open) echo "$LAB_MYSQL_OPEN" ;;
	mariadb-secured) echo "$LAB_MYSQL_SECURED" ;;
	postgres-open) echo "$LAB_PG_OPEN" ;;
	postgres-secured) echo "$LAB_PG_SECURED" ;;
	*) lab_die "unknown service '$1' (known: ${LAB_SERVICES[*]})" ;;
	esac
}
svc_kind() { echo "${1%-*}"; }     # redis, mariadb or postgres
svc_variant() { echo "${1##*-}"; } # open or secured
svc_host() {
	local a
	a=$(svc_addr "$1")
	echo "${a%:*}"
}
svc_port() {
	local a
	a=$(svc_addr "$1")
	echo "${a##*:}"
}
svc_dir() { echo "$AJAR_LAB_DIR/$1"; }
svc_pidfile() { echo "$AJAR_LAB_DIR/$1/server.pid"; }
svc_comm() {
	case $(svc_kind "$1") in
	redis) echo redis-server ;;
	mariadb) echo mariadbd ;;
	postgres) echo postgres ;;
	esac
}

# lab_services_from ARGS… checks the service names given on a command line
# (all services when none) and prints them, one a line.
lab_services_from() {
	local s
	if (($# == 0)); then
		printf '%s\n' "${LAB_SERVICES[@]}"
		return
	fi
	for s in "$@"; do
		svc_addr "$s" >/dev/null
		echo "$s"
	done
}

# pg_bin prints the bin directory of the newest PostgreSQL server installed.
pg_bin() {
	local d
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/postgres && -x $d/initdb ]] || return 1
	echo "$d"
}

# ---- processes ---------------------------------------------------------------

# proc_alive PID: the process exists and is not a zombie.
proc_alive() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

# proc_is_service PID SERVICE: PID is that service's server (right program,
# lab address on its command line), so that a recycled PID is never signalled.
proc_is_service() {
	local comm cmd
	proc_alive "$1" || return 1
	comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
	[[ $comm == "$(svc_comm "$2")" ]] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *"$(svc_host "$2")"* ]]
}

# svc_pid SERVICE prints the PID of the service's server when it runs.
svc_pid() {
	local f pid
	f=$(svc_pidfile "$1")
	[[ -s $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	proc_is_service "$pid" "$1" || return 1
	echo "$pid"
}

# svc_strays SERVICE prints "PID PPID" for every process of the service's
# server program that works in the service's directory (Redis, MariaDB and
# PostgreSQL all change to their data directory), also those a lost PID file
# no longer names. The working directory, unlike an address, is never shared
# with a lab started elsewhere (another AJAR_LAB_DIR, another network
# namespace).
svc_strays() {
	local p comm cwd want dir ppid
	want=$(svc_comm "$1")
	dir=$(svc_dir "$1")
	for p in /proc/[0-9]*; do
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		[[ $comm == "$want" ]] || continue
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		[[ $cwd == "$dir" || $cwd == "$dir"/* ]] || continue
		ppid=$(sed -n 's/^PPid:[[:space:]]*//p' "$p/status" 2>/dev/null) || continue
		echo "${p#/proc/} $ppid"
	done
}

# wait_gone SECONDS PID…: polls until every PID has exited; fails at the
# deadline.
wait_gone() {
	local deadline=$((SECONDS + $1)) pid left
	shift
	while :; do
		left=0
		for pid in "$@"; do
			proc_alive "$pid" && left=1
		done
		((left)) || return 0
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

# svc_stop SERVICE stops the service's server and any stray process of it.
# Only the topmost processes get the signal: a PostgreSQL postmaster stops
# its children itself, and SIGINT to a child means something else.
svc_stop() {
	local s=$1 sig=TERM pid ppid all=() top=()
	# PostgreSQL: SIGINT is the fast shutdown; SIGTERM would wait for clients.
	[[ $(svc_kind "$s") == postgres ]] && sig=INT
	declare -A found=()
	if pid=$(svc_pid "$s"); then
		found[$pid]=0
	fi
	while read -r pid ppid; do
		found[$pid]=$ppid
	done < <(svc_strays "$s")
	for pid in "${!found[@]}"; do
		all+=("$pid")
		[[ -n ${found[${found[$pid]}]+x} ]] || top+=("$pid")
	done
	if ((${#all[@]})); then
		kill -s "$sig" "${top[@]}" 2>/dev/null || true
		if ! wait_gone 60 "${all[@]}"; then
			lab_log "$s: still running 60 s after SIG$sig; killing ${all[*]}"
			kill -s KILL "${all[@]}" 2>/dev/null || true
			wait_gone 10 "${all[@]}" || lab_die "$s: processes ${all[*]} do not exit"
		fi
	fi
	rm -f "$(svc_pidfile "$s")"
}

# port_open HOST PORT: something accepts TCP connections there.
port_open() { timeout 2 bash -c ": <>/dev/tcp/$1/$2" 2>/dev/null; }

# svc_ready SERVICE: the server answers its protocol on the lab address.
svc_ready() {
	local s=$1 h p
	h=$(svc_host "$s")
	p=$(svc_port "$s")
	case $(svc_kind "$s") in
	redis) [[ $(redis_cli "$s" PING 2>/dev/null) == PONG ]] ;;
	# The TCP listener opens before the socket (and a failed bind is fatal).
	mariadb) mariadb_cli "$s" -e 'SELECT 1' >/dev/null 2>&1 ;;
	postgres) "$PGBIN/pg_isready" -q -t 2 -h "$h" -p "$p" -U postgres -d postgres ;;
	esac
}

# svc_launch SERVICE LOG CMD…: starts CMD in its own session, detached from
# the terminal and from the caller's output, keeps its PID and polls until the
# server answers.
svc_launch() {
	local s=$1 log=$2 pid deadline
	shift 2
	if port_open "$(svc_host "$s")" "$(svc_port "$s")"; then
		lab_die "$s: $(svc_addr "$s") is in use by a process that is not this lab's"
	fi
	# The server inherits no descriptor but its log: an inherited lock (fd 9)
	# or pipe of the caller would outlive lab/up and hold up whoever waits on
	# it. exec and setsid keep the subshell's PID (a background job is no
	# process-group leader, so setsid does not fork): $! is the server's.
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			if ((fd > 2)); then eval "exec $fd>&-"; fi
		done
		exec setsid "$@"
	) >>"$log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$(svc_pidfile "$s")"
	deadline=$((SECONDS + 120))
	until svc_ready "$s"; do
		if ! proc_alive "$pid"; then
			tail -n 20 "$log" >&2 || true
			lab_die "$s: server exited while starting (log: $log)"
		fi
		((SECONDS < deadline)) || lab_die "$s: not ready after 120 s (log: $log)"
		sleep 0.05
	done
}

# svc_ensure_running SERVICE starts the server unless it runs and answers.
svc_ensure_running() {
	local s=$1 pid deadline
	if pid=$(svc_pid "$s"); then
		# Running: give a server that is still starting some time.
		deadline=$((SECONDS + 30))
		until svc_ready "$s"; do
			if ((SECONDS >= deadline)) || ! proc_alive "$pid"; then
				lab_log "$s: PID $pid does not answer; restarting"
				break
			fi
			sleep 0.1
		done
		svc_ready "$s" && return 0
	fi
	svc_stop "$s"
	lab_log "$s: starting on $(svc_addr "$s")"
	"$(svc_kind "$s")_start" "$s"
}

# ---- clients -----------------------------------------------------------------

redis_cli() {
	local s=$1
	shift
	if [[ $(svc_variant "$s") == secured ]]; then
		REDISCLI_AUTH=$LAB_REDIS_PASSWORD timeout 60 redis-cli -h "$(svc_host "$s")" -p "$(svc_port "$s")" "$@"
	else
		timeout 60 redis-cli -h "$(svc_host "$s")" -p "$(svc_port "$s")" "$@"
	fi
}

# mariadb_cli speaks to the server over its own socket as root, which
# authenticates by unix_socket on either variant.
mariadb_cli() {
	local s=$1
	shift
	timeout 120 mariadb --no-defaults --protocol=socket --socket="$(svc_dir "$s")/run/mysqld.sock" \
		--user=root --default-character-set=utf8mb4 --connect-timeout=2 "$@"
}

# pg_cli speaks to the server over its own socket as the postgres system user
# (peer authentication on either variant).
pg_cli() {
	local s=$1
	shift
	(cd / && timeout 120 runuser -u postgres -- env -i LANG=C.UTF-8 PATH=/usr/bin:/bin \
		"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(svc_dir "$s")/run" -p "$(svc_port "$s")" -U postgres "$@")
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

# ---- MariaDB -----------------------------------------------------------------

mariadb_init() {
	local s=$1 dir
	dir=$(svc_dir "$s")
	svc_stop "$s"
	rm -rf "$dir"
	mkdir -p "$dir/data" "$dir/run"
	lab_log "$s: creating the data directory"
	mariadb-install-db --no-defaults --datadir="$dir/data" --user=root --skip-test-db \
		--skip-name-resolve --auth-root-authentication-method=socket >"$dir/install.log" 2>&1 ||
		lab_die "$s: mariadb-install-db failed (log: $dir/install.log)"
	mariadb_start "$s"
	mariadb_accounts "$s"
	touch "$dir/initialized"
}

mariadb_start() {
	local s=$1 dir
	dir=$(svc_dir "$s")
	mkdir -p "$dir/run"
	svc_launch "$s" "$dir/server.log" mariadbd --no-defaults --user=root \
		--datadir="$dir/data" --socket="$dir/run/mysqld.sock" --pid-file="$dir/run/mariadbd.pid" \
		--bind-address="$(svc_host "$s")" --port="$(svc_port "$s")" --skip-name-resolve \
		--skip-log-bin --performance-schema=OFF --innodb-buffer-pool-size=16M \
		--innodb-log-file-size=16M --key-buffer-size=1M --max-connections=200 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--log-warnings=1 --log-error="$dir/server.log"
}

# mariadb_accounts: open — root over TCP with an empty password, as a
# carelessly installed server has it; secured — root with the lab password
# and no account that logs in over TCP without one.
mariadb_accounts() {
	local s=$1 sql anon
	anon=$(mariadb_cli "$s" -N -B -e "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE User = ''")
	sql=""
	[[ -n $anon ]] && sql+="DROP USER ${anon//$'\n'/, };"
	# mariadb-install-db grants root@<host name> proxying, which
	# --skip-name-resolve warns about on every start.
	sql+="DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';"
	if [[ $(svc_variant "$s") == open ]]; then
		sql+="CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
			GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
			CREATE USER IF NOT EXISTS 'root'@'%';
			GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
	else
		sql+="ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket
				OR mysql_native_password USING PASSWORD('$LAB_MYSQL_PASSWORD');
			CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '$LAB_MYSQL_PASSWORD';
			GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
			CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$LAB_MYSQL_PASSWORD';
			GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
	fi
	mariadb_cli "$s" -e "$sql FLUSH PRIVILEGES;" || lab_die "$s: setting up accounts failed"
	if [[ $(svc_variant "$s") == secured ]]; then
		# Every account must need a password or a local socket.
		local open
		open=$(mariadb_cli "$s" -N -B -e "SELECT CONCAT(User, '@', Host) FROM mysql.global_priv
			WHERE IFNULL(JSON_EXTRACT(Priv, '$.account_locked'), 'false') <> 'true'
			AND (User = '' OR (IFNULL(JSON_VALUE(Priv, '$.authentication_string'), '') = ''
			AND IFNULL(JSON_VALUE(Priv, '$.plugin'), '') IN ('', 'mysql_native_password')))")
		[[ -z $open ]] || lab_die "$s: accounts without a password remain: $open"
	fi
}

mariadb_counts() {
	local got
	got=$(mariadb_cli "$1" -N -B -e "SELECT CONCAT_WS(' ',
		(SELECT COUNT(*) FROM police.person_info), (SELECT COUNT(*) FROM police.case_record),
		(SELECT COUNT(*) FROM shop.orders))" 2>/dev/null) || return 1
	[[ $got == "$LAB_SQL_PERSONS $LAB_SQL_CASES $LAB_SQL_ORDERS" ]]
}

mariadb_seed() {
	mariadb_cli "$1" <"$AJAR_LAB_DIR/seed/mysql.sql" || lab_die "$1: seeding failed"
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

# ---- seeding -----------------------------------------------------------------

# lab_build_seeds builds labseed and writes the three seeding scripts.
lab_build_seeds() {
	local t ext
	command -v go >/dev/null || lab_die "go is not installed; it builds lab/cmd/labseed"
	mkdir -p "$AJAR_LAB_DIR/bin" "$AJAR_LAB_DIR/seed"
	(cd "$LAB_REPO" && go build -o "$AJAR_LAB_DIR/bin/labseed" ./lab/cmd/labseed) ||
		lab_die "building lab/cmd/labseed failed"
	for t in redis mysql postgres; do
		ext=sql
		[[ $t == redis ]] && ext=resp
		"$AJAR_LAB_DIR/bin/labseed" -target "$t" >"$AJAR_LAB_DIR/seed/$t.$ext.new" ||
			lab_die "labseed -target $t failed"
		mv "$AJAR_LAB_DIR/seed/$t.$ext.new" "$AJAR_LAB_DIR/seed/$t.$ext"
	done
}

svc_seed_script() {
	case $(svc_kind "$1") in
	redis) echo "$AJAR_LAB_DIR/seed/redis.resp" ;;
	mariadb) echo "$AJAR_LAB_DIR/seed/mysql.sql" ;;
	postgres) echo "$AJAR_LAB_DIR/seed/postgres.sql" ;;
	esac
}

# svc_ensure_seeded SERVICE loads the seed unless this very script was loaded
# and the counts still hold.
svc_ensure_seeded() {
	local s=$1 kind marker want
	kind=$(svc_kind "$s")
	marker=$(svc_dir "$s")/seeded
	want=$(sha256sum <"$(svc_seed_script "$s")")
	want=${want%% *}
	if [[ -f $marker && $(<"$marker") == "$want" ]] && "${kind}_counts" "$s"; then
		return 0
	fi
	lab_log "$s: seeding"
	rm -f "$marker"
	"${kind}_seed" "$s"
	"${kind}_counts" "$s" || lab_die "$s: the seeded counts are wrong after seeding"
	echo "$want" >"$marker"
}

# ---- installation ------------------------------------------------------------

# lab_install_missing installs the Debian packages of any missing server or
# client, without letting a package start its own service.
lab_install_missing() {
	local need=()
	command -v redis-server >/dev/null || need+=(redis-server)
	command -v redis-cli >/dev/null || need+=(redis-tools)
	command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null || need+=(mariadb-server)
	command -v mariadb >/dev/null && command -v mariadb-admin >/dev/null || need+=(mariadb-client)
	{ pg_bin >/dev/null && [[ -x $(pg_bin)/psql ]] && id postgres >/dev/null 2>&1; } || need+=(postgresql)
	command -v setpriv >/dev/null && command -v flock >/dev/null || need+=(util-linux)
	((${#need[@]})) || return 0
	((EUID == 0)) || lab_die "missing ${need[*]}; run lab/up as root to install them"
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\n# Keep packages from starting their services on install.\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
	fi
	lab_log "installing ${need[*]}"
	apt-get update -q || lab_die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" ||
		lab_die "installing ${need[*]} failed"
}

# lab_lock takes the lab's lock, so that two lab/up or lab/down never run at
# once (several test runs may start the lab together).
lab_lock() {
	mkdir -p "$AJAR_LAB_DIR"
	chmod 755 "$AJAR_LAB_DIR"
	exec 9>"$AJAR_LAB_DIR/.lock"
	flock -w 900 9 || lab_die "another lab/up or lab/down holds $AJAR_LAB_DIR/.lock"
}

# lab_status_line SERVICE prints one aligned line and fails when it is down.
lab_status_line() {
	local s=$1 pid
	if pid=$(svc_pid "$s") && svc_ready "$s"; then
		printf '%-17s %-18s %-5s pid %s\n' "$s" "$(svc_addr "$s")" up "$pid"
		return 0
	fi
	printf '%-17s %-18s %s\n' "$s" "$(svc_addr "$s")" down
	return 1
}

PGBIN=$(pg_bin || true)
