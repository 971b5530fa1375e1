# shellcheck shell=bash
# Mosquitto (MQTT) of the lab: open (anonymous clients allowed), and secured
# (a password file, anonymous clients refused). Sourced by lab/services.sh.

LAB_MOSQUITTO_OPEN=127.0.12.20:1883
LAB_MOSQUITTO_SECURED=127.0.12.21:1983
LAB_MOSQUITTO_USER=lab
LAB_MOSQUITTO_PASSWORD=lab-secret-mqtt
LAB_MOSQUITTO_RETAINED=100 # lab.MosquittoDevices × 2 + lab.MosquittoVehicles

lab_service mosquitto-open "$LAB_MOSQUITTO_OPEN"
lab_service mosquitto-secured "$LAB_MOSQUITTO_SECURED"

mosquitto_missing() {
	command -v mosquitto >/dev/null || echo mosquitto
	command -v mosquitto_sub >/dev/null && command -v mosquitto_pub >/dev/null || echo mosquitto-clients
}
mosquitto_comm() { echo mosquitto; }
# The broker retains its version under $SYS from the start.
# shellcheck disable=SC2016 # $SYS is a topic, not a variable
mosquitto_ready() { mosquitto_client "$1" sub -t '$SYS/broker/version' -C 1 -W 2 >/dev/null 2>&1; }
mosquitto_seed_script() { brokerseed_script mosquitto mosquitto.tsv; }

# mosquitto_client SERVICE sub|pub ARGS… runs mosquitto_sub or mosquitto_pub
# against the service, with the lab user on the secured variant.
mosquitto_client() {
	local s=$1 tool=mosquitto_$2 auth=()
	shift 2
	[[ $(svc_variant "$s") == secured ]] && auth=(-u "$LAB_MOSQUITTO_USER" -P "$LAB_MOSQUITTO_PASSWORD")
	timeout 30 "$tool" -h "$(svc_host "$s")" -p "$(svc_port "$s")" -V mqttv311 "${auth[@]}" "$@"
}

# ---- Mosquitto ---------------------------------------------------------------

mosquitto_start() {
	local s=$1 dir conf
	dir=$(svc_dir "$s")
	mkdir -p "$dir"
	rm -f "$dir/seeded" # no persistence: a new process starts empty
	# The address in the file name puts it on the command line, where
	# lab/services.sh looks for it.
	conf=$dir/mosquitto-$(svc_host "$s").conf
	(
		umask 077
		cat >"$conf" <<-EOF
			# Mosquitto of the ajar test lab ($s); written by lab/up.
			per_listener_settings false
			listener $(svc_port "$s") $(svc_host "$s")
			persistence false
			user root
			log_dest stderr
			log_type error
			log_type warning
		EOF
		if [[ $(svc_variant "$s") == secured ]]; then
			rm -f "$dir/passwd"
			mosquitto_passwd -b -c "$dir/passwd" "$LAB_MOSQUITTO_USER" "$LAB_MOSQUITTO_PASSWORD" ||
				lab_die "$s: mosquitto_passwd failed"
			printf 'allow_anonymous false\npassword_file %s\n' "$dir/passwd" >>"$conf"
		else
			echo "allow_anonymous true" >>"$conf"
		fi
	)
	(cd "$dir" && svc_launch "$s" "$dir/server.log" mosquitto -c "$conf") || exit 1
}

# mosquitto_counts: every seeded topic holds a retained message. --retained-only
# stops at the first live message; -C stops once all are in.
mosquitto_counts() {
	local n
	n=$(mosquitto_client "$1" sub -t '#' --retained-only -C "$LAB_MOSQUITTO_RETAINED" -W 5 -v 2>/dev/null | wc -l)
	((n == LAB_MOSQUITTO_RETAINED))
}

mosquitto_seed() {
	local s=$1 topic payload
	while IFS=$'\t' read -r topic payload; do
		mosquitto_client "$s" pub -q 1 -r -t "$topic" -m "$payload" || lab_die "$s: publishing $topic failed"
	done <"$(mosquitto_seed_script)"
}
