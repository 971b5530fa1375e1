# shellcheck shell=bash
# MariaDB of the lab: open (root without a password over TCP), and
# secured. Sourced by lab/services.sh.

lab_service mariadb-open "$LAB_MYSQL_OPEN"
lab_service mariadb-secured "$LAB_MYSQL_SECURED"

mariadb_missing() {
	command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null || echo mariadb-server
	command -v mariadb >/dev/null && command -v mariadb-admin >/dev/null || echo mariadb-client
}
mariadb_comm() { echo mariadbd; }
# The TCP listener opens before the socket (and a failed bind is fatal).
mariadb_ready() { mariadb_cli "$1" -e 'SELECT 1' >/dev/null 2>&1; }
mariadb_seed_script() { echo "$AJAR_LAB_DIR/seed/mysql.sql"; }

# mariadb_cli speaks to the server over its own socket as root, which
# authenticates by unix_socket on either variant.
mariadb_cli() {
	local s=$1
	shift
	timeout 120 mariadb --no-defaults --protocol=socket --socket="$(svc_dir "$s")/run/mysqld.sock" \
		--user=root --default-character-set=utf8mb4 --connect-timeout=2 "$@"
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

