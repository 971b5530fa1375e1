# shellcheck shell=bash
# shellcheck disable=SC2034 # the per-variant ports are read by rabbitmq_var
# RabbitMQ of the lab, with the management plugin: open (the vendor's
# default user guest/guest), and secured (another default user, so that
# guest never exists) on ports other than the defaults. Each node runs its
# own epmd on LAB_RABBITMQ_*_EPMD and distribution port on *_DIST, because
# the machine's own RabbitMQ may hold 4369, 5672 and 25672 on 127.0.0.1;
# epmd always listens on 127.0.0.1 and ::1 as well as on the lab address,
# and outlives the node, as it does after any Erlang node.
# Sourced by lab/services.sh.

LAB_RABBITMQ_OPEN=127.0.12.10:5672
LAB_RABBITMQ_OPEN_MGMT=127.0.12.10:15672
LAB_RABBITMQ_OPEN_EPMD=4370
LAB_RABBITMQ_OPEN_DIST=25680
LAB_RABBITMQ_SECURED=127.0.12.11:5772
LAB_RABBITMQ_SECURED_MGMT=127.0.12.11:15772
LAB_RABBITMQ_SECURED_EPMD=4371
LAB_RABBITMQ_SECURED_DIST=25780
LAB_RABBITMQ_DEFAULT_USER=guest
LAB_RABBITMQ_DEFAULT_PASSWORD=guest
LAB_RABBITMQ_USER=lab
LAB_RABBITMQ_PASSWORD=lab-secret-rabbitmq

lab_service rabbitmq-open "$LAB_RABBITMQ_OPEN"
lab_service rabbitmq-secured "$LAB_RABBITMQ_SECURED"

rabbitmq_missing() {
	[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || echo rabbitmq-server
	command -v curl >/dev/null || echo curl
	command -v jq >/dev/null || echo jq
}
rabbitmq_comm() { echo beam.smp; }
rabbitmq_seed_script() { brokerseed_script rabbitmq rabbitmq.curl; }

# rabbitmq_var SERVICE NAME prints LAB_RABBITMQ_<VARIANT>_<NAME>.
rabbitmq_var() {
	local v
	v=LAB_RABBITMQ_$(svc_variant "$1" | tr '[:lower:]' '[:upper:]')_$2
	echo "${!v}"
}

# rabbitmq_user SERVICE prints user:password of the service's administrator.
rabbitmq_user() {
	if [[ $(svc_variant "$1") == secured ]]; then
		echo "$LAB_RABBITMQ_USER:$LAB_RABBITMQ_PASSWORD"
	else
		echo "$LAB_RABBITMQ_DEFAULT_USER:$LAB_RABBITMQ_DEFAULT_PASSWORD"
	fi
}

# rabbitmq_api SERVICE PATH sends a GET to the management API.
rabbitmq_api() {
	curl -sf -m 5 -u "$(rabbitmq_user "$1")" "http://$(rabbitmq_var "$1" MGMT)$2"
}

# rabbitmq_ready: the management API answers and AMQP listens; the API
# starts last.
rabbitmq_ready() {
	rabbitmq_api "$1" /api/overview >/dev/null 2>&1 && port_open "$(svc_host "$1")" "$(svc_port "$1")"
}

# ---- RabbitMQ ----------------------------------------------------------------

rabbitmq_start() {
	local s=$1 dir host mgmt
	dir=$(svc_dir "$s")
	host=$(svc_host "$s")
	mgmt=$(rabbitmq_var "$s" MGMT)
	mkdir -p "$dir/log"
	# https://www.rabbitmq.com/docs/configure#config-file
	cat >"$dir/rabbitmq.conf" <<-EOF
		# RabbitMQ of the ajar test lab ($s); written by lab/up.
		management.tcp.ip = $host
		management.tcp.port = ${mgmt##*:}
		# Queue figures in the management API within a second.
		collect_statistics_interval = 1000
	EOF
	if [[ $(svc_variant "$s") == secured ]]; then
		cat >>"$dir/rabbitmq.conf" <<-EOF
			default_user = $LAB_RABBITMQ_USER
			default_pass = $LAB_RABBITMQ_PASSWORD
			default_user_tags.administrator = true
		EOF
	fi
	chmod 600 "$dir/rabbitmq.conf"
	echo '[rabbitmq_management].' >"$dir/enabled_plugins"
	: >"$dir/rabbitmq-env.conf"
	# RABBITMQ_ALLOW_INPUT makes the start script exec the node instead of
	# waiting for it, so that the PID kept is the node's; -noinput restores
	# what it would have passed. The AMQP listener is given on the command
	# line, where lab/services.sh looks for the address.
	# https://www.rabbitmq.com/docs/configure#supported-environment-variables
	(cd "$dir" && svc_launch "$s" "$dir/server.log" env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 \
		HOME="$dir" \
		RABBITMQ_NODENAME="lab@$host" RABBITMQ_USE_LONGNAME=true \
		RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
		RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_MNESIA_BASE="$dir/mnesia" \
		RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_LOGS=- RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
		RABBITMQ_DIST_PORT="$(rabbitmq_var "$s" DIST)" \
		ERL_EPMD_ADDRESS="$host" ERL_EPMD_PORT="$(rabbitmq_var "$s" EPMD)" \
		RABBITMQ_ALLOW_INPUT=true \
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-noinput -kernel inet_dist_use_interface {${host//./,}} -rabbit tcp_listeners [{\"$host\",$(svc_port "$s")}]" \
		/usr/lib/rabbitmq/bin/rabbitmq-server) || exit 1
}

# rabbitmq_figures SERVICE prints "vhost queue messages" for every queue, sorted.
rabbitmq_figures() {
	rabbitmq_api "$1" '/api/queues?columns=vhost,name,messages' |
		jq -r '.[] | "\(.vhost) \(.name) \(.messages // 0)"' | LC_ALL=C sort
}

rabbitmq_counts() {
	[[ $(rabbitmq_figures "$1" 2>/dev/null) == "$(brokerseed -target rabbitmq-counts | LC_ALL=C sort)" ]]
}

rabbitmq_seed() {
	local s=$1 user deadline
	user=$(rabbitmq_user "$s")
	sed -e "s#@BASE@#http://$(rabbitmq_var "$s" MGMT)#; s#@USER@#$user#; s#@NAME@#${user%%:*}#" \
		"$(rabbitmq_seed_script)" | curl -K - || lab_die "$s: seeding failed"
	# The management API counts messages once per statistics interval.
	deadline=$((SECONDS + 30))
	until rabbitmq_counts "$s"; do
		((SECONDS < deadline)) || lab_die "$s: the queues do not hold the seeded messages"
		sleep 0.5
	done
}

# rabbitmq_poststop ends the epmd the service's node started: it outlives the
# node. It is the epmd listening on the service's own address and port.
rabbitmq_poststop() {
	local s=$1 port pid
	port=$(rabbitmq_var "$s" EPMD)
	for pid in $(ss -Htlnp "sport = :$port" 2>/dev/null | grep -F "$(svc_host "$s"):$port" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
		if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == epmd ]]; then
			kill "$pid" 2>/dev/null || true
		fi
	done
}
