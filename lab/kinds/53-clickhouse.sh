# shellcheck shell=bash
# ClickHouse of the lab (Debian's 18.16, configured in the 2018 <yandex>
# format): open (user default with an empty password, as the package ships
# it), and secured (a password for default). Each serves the HTTP interface
# and the native protocol. Sourced by lab/services.sh.

LAB_CLICKHOUSE_OPEN=127.0.12.40:8123
LAB_CLICKHOUSE_OPEN_NATIVE=127.0.12.40:9000
LAB_CLICKHOUSE_SECURED=127.0.12.41:8223
LAB_CLICKHOUSE_SECURED_NATIVE=127.0.12.41:9100
LAB_CLICKHOUSE_PASSWORD=lab-secret-clickhouse

lab_service clickhouse-open "$LAB_CLICKHOUSE_OPEN"
lab_service clickhouse-secured "$LAB_CLICKHOUSE_SECURED"

clickhouse_missing() {
	command -v clickhouse-server >/dev/null || echo clickhouse-server
	command -v clickhouse-client >/dev/null || echo clickhouse-client
}
# The kernel keeps 15 characters of a program's name.
clickhouse_comm() { echo clickhouse-serv; }
# The HTTP interface answers "Ok." on / without credentials.
clickhouse_ready() { [[ $(curl -sf -m 2 "http://$(svc_addr "$1")/" 2>/dev/null) == Ok. ]]; }
clickhouse_seed_script() { brokerseed_script clickhouse clickhouse.sql; }

# clickhouse_native SERVICE prints the native protocol's address.
clickhouse_native() {
	if [[ $(svc_variant "$1") == secured ]]; then
		echo "$LAB_CLICKHOUSE_SECURED_NATIVE"
	else
		echo "$LAB_CLICKHOUSE_OPEN_NATIVE"
	fi
}

# clickhouse_password SERVICE prints the password of user default.
clickhouse_password() {
	[[ $(svc_variant "$1") == secured ]] && echo "$LAB_CLICKHOUSE_PASSWORD"
	return 0
}

# clickhouse_query SERVICE SQL runs one query over HTTP as user default.
clickhouse_query() {
	curl -sS --fail-with-body -m 30 -u "default:$(clickhouse_password "$1")" \
		--data-binary "$2" "http://$(svc_addr "$1")/"
}

# ---- ClickHouse --------------------------------------------------------------

clickhouse_start() {
	local s=$1 dir native conf
	dir=$(svc_dir "$s")
	native=$(clickhouse_native "$s")
	mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
	# The address in the file name puts it on the command line, where
	# lab/services.sh looks for it.
	conf=$dir/config-$(svc_host "$s").xml
	# Small caches: the defaults (8 and 5 GiB) are sized for a real server.
	cat >"$conf" <<-EOF
		<?xml version="1.0"?>
		<!-- ClickHouse of the ajar test lab ($s); written by lab/up. -->
		<yandex>
		    <logger><level>warning</level><console>1</console></logger>
		    <listen_host>$(svc_host "$s")</listen_host>
		    <http_port>$(svc_port "$s")</http_port>
		    <tcp_port>${native##*:}</tcp_port>
		    <max_concurrent_queries>20</max_concurrent_queries>
		    <uncompressed_cache_size>16777216</uncompressed_cache_size>
		    <mark_cache_size>16777216</mark_cache_size>
		    <path>$dir/data/</path>
		    <tmp_path>$dir/tmp/</tmp_path>
		    <user_files_path>$dir/user_files/</user_files_path>
		    <format_schema_path>$dir/format_schemas/</format_schema_path>
		    <users_config>$dir/users.xml</users_config>
		    <default_profile>default</default_profile>
		    <default_database>default</default_database>
		    <mlock_executable>false</mlock_executable>
		</yandex>
	EOF
	(
		umask 077
		cat >"$dir/users.xml" <<-EOF
			<?xml version="1.0"?>
			<!-- Users of the ajar test lab ($s); written by lab/up. -->
			<yandex>
			    <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
			    <users>
			        <default>
			            <password>$(clickhouse_password "$s")</password>
			            <networks><ip>::/0</ip></networks>
			            <profile>default</profile>
			            <quota>default</quota>
			        </default>
			    </users>
			    <quotas><default></default></quotas>
			</yandex>
		EOF
	)
	(cd "$dir" && svc_launch "$s" "$dir/server.log" clickhouse-server --config-file="$conf") || exit 1
}

clickhouse_counts() {
	local got
	got=$(clickhouse_query "$1" "SELECT (SELECT count() FROM police.person_info), (SELECT count() FROM police.case_record), (SELECT count() FROM shop.orders) FORMAT TSV" 2>/dev/null) || return 1
	[[ $got == "$LAB_SQL_PERSONS"$'\t'"$LAB_SQL_CASES"$'\t'"$LAB_SQL_ORDERS" ]]
}

clickhouse_seed() {
	local s=$1 native pw=()
	native=$(clickhouse_native "$s")
	[[ $(svc_variant "$s") == secured ]] && pw=(--password "$LAB_CLICKHOUSE_PASSWORD")
	timeout 300 clickhouse-client --host "${native%:*}" --port "${native##*:}" --user default "${pw[@]}" \
		--multiquery <"$(clickhouse_seed_script)" || lab_die "$s: seeding failed"
}
