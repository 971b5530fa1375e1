# shellcheck shell=bash
# ZooKeeper of the lab, standalone: open (every four-letter word allowed), and
# secured with SASL DIGEST-MD5 and enforced authentication (only srvr among
# the four-letter words, ZooKeeper's default). Sourced by lab/services.sh.

LAB_ZOOKEEPER_OPEN=127.0.11.40:2181
LAB_ZOOKEEPER_SECURED=127.0.11.41:2281
LAB_ZOOKEEPER_USER=ajar-lab
LAB_ZOOKEEPER_PASSWORD=lab-secret-zookeeper

lab_service zookeeper-open "$LAB_ZOOKEEPER_OPEN"
lab_service zookeeper-secured "$LAB_ZOOKEEPER_SECURED"

zookeeper_missing() {
	{ command -v java >/dev/null && [[ -f /usr/share/java/zookeeper.jar ]]; } || echo zookeeper
}
zookeeper_comm() { echo java; }
zookeeper_seed_script() { lab_fill_seed zookeeper; }

# zookeeper_ready: srvr, allowed on both variants, names the server.
zookeeper_ready() {
	local reply
	# shellcheck disable=SC2016 # expanded by the inner shell
	reply=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf srvr >&3 && read -r line <&3 && echo "$line"' \
		_ "$(svc_host "$1")" "$(svc_port "$1")" 2>/dev/null) || return 1
	[[ $reply == "Zookeeper version: "* ]]
}

# zookeeper_start SERVICE [seeding] starts the server; with "seeding", the
# secured variant runs without enforced authentication, so that labfill,
# whose client library speaks no SASL, can load it.
zookeeper_start() {
	local s=$1 mode=${2:-} dir jaas=()
	dir=$(svc_dir "$s")
	mkdir -p "$dir/data"
	(
		umask 077
		cat >"$dir/zoo.cfg" <<-EOF
			# ZooKeeper of the ajar test lab ($s); written by lab/up.
			tickTime=2000
			dataDir=$dir/data
			clientPortAddress=$(svc_host "$s")
			clientPort=$(svc_port "$s")
			maxClientCnxns=200
			admin.enableServer=false
			forceSync=no
			autopurge.purgeInterval=24
		EOF
		if [[ $(svc_variant "$s") == open ]]; then
			echo "4lw.commands.whitelist=*" >>"$dir/zoo.cfg"
		else
			cat >>"$dir/zoo.cfg" <<-EOF
				authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider
			EOF
			if [[ $mode != seeding ]]; then
				cat >>"$dir/zoo.cfg" <<-EOF
					enforce.auth.enabled=true
					enforce.auth.schemes=sasl
				EOF
			fi
			cat >"$dir/jaas.conf" <<-EOF
				Server {
				  org.apache.zookeeper.server.auth.DigestLoginModule required
				  user_$LAB_ZOOKEEPER_USER="$LAB_ZOOKEEPER_PASSWORD";
				};
			EOF
		fi
	)
	[[ $(svc_variant "$s") == secured ]] && jaas=(-Djava.security.auth.login.config="$dir/jaas.conf")
	# The address on the command line lets lab/services.sh tell this JVM
	# from any other. env -C: the service's directory is the working
	# directory, as lab/services.sh expects.
	svc_launch "$s" "$dir/server.log" env -C "$dir" java -Xmx96m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Dajar.lab.address="$(svc_addr "$s")" -Dzookeeper.root.logger=WARN,CONSOLE \
		-Dzookeeper.log.dir="$dir" "${jaas[@]}" \
		-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg"
}

zookeeper_counts() {
	lab_fill -kind zookeeper -addr "$(svc_addr "$1")" -check
}

zookeeper_seed() {
	local s=$1
	if [[ $(svc_variant "$s") == secured ]]; then
		svc_stop "$s"
		zookeeper_start "$s" seeding
	fi
	lab_fill -kind zookeeper -addr "$(svc_addr "$s")" -load "$(zookeeper_seed_script "$s")" ||
		lab_die "$s: seeding failed"
	if [[ $(svc_variant "$s") == secured ]]; then
		svc_stop "$s"
		zookeeper_start "$s"
	fi
}
