# shellcheck shell=bash
# What lab/up, lab/down and lab/status share: where each lab service lives and
# how to install, start, check, seed and stop it. Sourced, never run.

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(dirname "$LAB_SRC")
# shellcheck source=lab/lab.env
. "$LAB_SRC/lab.env"

# The services, in start order, and their addresses: each kind of server has
# a file in lab/kinds/ that registers its services with lab_service and
# defines KIND_comm, KIND_ready, KIND_start and, where it applies, KIND_init,
# KIND_missing (packages to install), KIND_seed, KIND_counts and
# KIND_seed_script. The files are read in name order: the quickest servers
# first, so that tests of the first ones can begin while the rest start.
LAB_SERVICES=()
declare -A LAB_ADDR=()
LAB_KINDS=()

# lab_service NAME ADDR registers a service; NAME is KIND-VARIANT.
lab_service() {
	LAB_SERVICES+=("$1")
	LAB_ADDR[$1]=$2
	local k=${1%-*} x
	for x in "${LAB_KINDS[@]}"; do
		[[ $x == "$k" ]] && return 0
	done
	LAB_KINDS+=("$k")
}

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
	[[ -n ${LAB_ADDR[$1]+x} ]] || lab_die "unknown service '$1' (known: ${LAB_SERVICES[*]})"
	echo "${LAB_ADDR[$1]}"
}
svc_kind() { echo "${1%-*}"; }     # redis, mariadb, postgres, …
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
svc_comm() { "$(svc_kind "$1")_comm"; }

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
	# A kind may name its own stop signal (PostgreSQL: SIGINT is the fast
	# shutdown; SIGTERM would wait for clients).
	if declare -F "$(svc_kind "$s")_stopsig" >/dev/null; then
		sig=$("$(svc_kind "$s")_stopsig")
	fi
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
	# A kind may have helpers to stop after its server (RabbitMQ's epmd).
	if declare -F "$(svc_kind "$s")_poststop" >/dev/null; then
		"$(svc_kind "$s")_poststop" "$s"
	fi
}

# port_open HOST PORT: something accepts TCP connections there.
port_open() { timeout 2 bash -c ": <>/dev/tcp/$1/$2" 2>/dev/null; }

# svc_ready SERVICE: the server answers its protocol on the lab address.
svc_ready() {
	"$(svc_kind "$1")_ready" "$1"
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
		for fd in "/proc/$BASHPID/fd/"*; do
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

# ---- seeding -----------------------------------------------------------------

# lab_build_seeds builds labseed and writes the three seeding scripts. Both
# are made in a temporary directory and replace what the lab holds only when
# they differ: a warm lab/up changes no file.
lab_build_seeds() {
	local t ext tmp
	command -v go >/dev/null || lab_die "go is not installed; it builds lab/cmd/labseed"
	mkdir -p "$AJAR_LAB_DIR/bin" "$AJAR_LAB_DIR/seed"
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT
	(cd "$LAB_REPO" && go build -o "$tmp/labseed" ./lab/cmd/labseed) ||
		lab_die "building lab/cmd/labseed failed"
	lab_replace "$tmp/labseed" "$AJAR_LAB_DIR/bin/labseed"
	for t in redis mysql postgres; do
		ext=sql
		[[ $t == redis ]] && ext=resp
		"$tmp/labseed" -target "$t" >"$tmp/$t.$ext" || lab_die "labseed -target $t failed"
		lab_replace "$tmp/$t.$ext" "$AJAR_LAB_DIR/seed/$t.$ext"
	done
	rm -rf "$tmp"
	trap - EXIT
}

# lab_replace NEW OLD copies NEW over OLD unless they are equal.
lab_replace() {
	cmp -s "$1" "$2" && return 0
	cp "$1" "$2.new"
	mv "$2.new" "$2"
}

svc_seed_script() { "$(svc_kind "$1")_seed_script"; }

# svc_ensure_seeded SERVICE loads the seed unless this very script was loaded
# and the counts still hold.
svc_ensure_seeded() {
	local s=$1 kind marker want
	kind=$(svc_kind "$s")
	declare -F "${kind}_seed" >/dev/null || return 0
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
	local k
	for k in "${LAB_KINDS[@]}"; do
		if declare -F "${k}_missing" >/dev/null; then
			# shellcheck disable=SC2207 # package names have no spaces
			need+=($("${k}_missing"))
		fi
	done
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
	exec 9>>"$AJAR_LAB_DIR/.lock"
	flock -w 900 9 || lab_die "another lab/up or lab/down holds $AJAR_LAB_DIR/.lock"
}

# lab_status_line SERVICE prints one aligned line and fails when it is down.
lab_status_line() {
	local s=$1 pid
	if pid=$(svc_pid "$s") && svc_ready "$s"; then
		printf '%-26s %-18s %-5s pid %s\n' "$s" "$(svc_addr "$s")" up "$pid"
		return 0
	fi
	printf '%-26s %-18s %s\n' "$s" "$(svc_addr "$s")" down
	return 1
}


# The kinds of server, each in its own file.
for _kind in "$LAB_SRC"/kinds/*.sh; do
	# shellcheck source=/dev/null
	. "$_kind"
done
unset _kind
