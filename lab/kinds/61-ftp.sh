# shellcheck shell=bash
# FTP servers of the lab (vsFTPd): open (anonymous login, read-only) and
# secured (no anonymous login; one local user with a password). Sourced by
# lab/services.sh.

LAB_FTP_OPEN=127.0.13.10:21
LAB_FTP_SECURED=127.0.13.11:2121
LAB_FTP_USER=ajar-ftp
LAB_FTP_PASSWORD=lab-secret-ftp

lab_service ftp-open "$LAB_FTP_OPEN"
lab_service ftp-secured "$LAB_FTP_SECURED"

ftp_missing() {
	command -v vsftpd >/dev/null || echo vsftpd
}
ftp_comm() { echo vsftpd; }

# ftp_ready: the server greets with 220.
ftp_ready() {
	local line
	# shellcheck disable=SC2016 # expanded by the inner shell
	line=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && IFS= read -r -t 2 l <&3 && printf "%s" "$l"' _ \
		"$(svc_host "$1")" "$(svc_port "$1")" 2>/dev/null) || return 1
	[[ $line == 220* ]]
}

ftp_seed_script() { labdata_seed_file ftp.manifest manifest -set ftp; }

# ftp_tree prints the directory the service serves: the anonymous root of
# the open server, the user's home on the secured one.
ftp_tree() {
	if [[ $(svc_variant "$1") == secured ]]; then
		echo "$(svc_dir "$1")/home"
	else
		echo "$(svc_dir "$1")/root"
	fi
}

# ftp_init creates the secured server's system user (no shell, no home of
# its own) and the PAM service that checks its password and nothing else:
# Debian's "vsftpd" service also wants a login shell.
ftp_init() {
	local s=$1
	mkdir -p "$(svc_dir "$s")"
	if [[ $(svc_variant "$s") == secured ]]; then
		if ! id "$LAB_FTP_USER" >/dev/null 2>&1; then
			useradd --system --no-create-home --home-dir "$(ftp_tree "$s")" --shell /usr/sbin/nologin "$LAB_FTP_USER" ||
				lab_die "$s: creating the user $LAB_FTP_USER failed"
		fi
		echo "$LAB_FTP_USER:$LAB_FTP_PASSWORD" | chpasswd || lab_die "$s: setting the password of $LAB_FTP_USER failed"
		cat >/etc/pam.d/ajar-lab-ftp <<-'PAM'
			# PAM service of the ajar test lab's FTP server (lab/kinds/61-ftp.sh):
			# the password, nothing else.
			auth	required	pam_unix.so
			account	required	pam_unix.so
			session	required	pam_permit.so
		PAM
	fi
	touch "$(svc_dir "$s")/initialized"
}

ftp_start() {
	local s=$1 dir host conf
	dir=$(svc_dir "$s")
	host=$(svc_host "$s")
	conf=$dir/vsftpd.conf
	mkdir -p "$dir/empty"
	chmod 555 "$dir/empty"
	[[ -d $(ftp_tree "$s") ]] || mkdir -p "$(ftp_tree "$s")"
	cat >"$conf" <<-EOF
		# vsFTPd of the ajar test lab ($s); written by lab/up.
		listen=YES
		listen_ipv6=NO
		listen_address=$host
		listen_port=$(svc_port "$s")
		background=NO
		seccomp_sandbox=NO
		secure_chroot_dir=$dir/empty
		write_enable=NO
		dirmessage_enable=NO
		xferlog_enable=NO
		connect_from_port_20=NO
		pasv_enable=YES
		pasv_address=$host
		pasv_min_port=30000
		pasv_max_port=30099
		max_clients=50
	EOF
	if [[ $(svc_variant "$s") == secured ]]; then
		cat >>"$conf" <<-EOF
			anonymous_enable=NO
			local_enable=YES
			chroot_local_user=YES
			local_root=$(ftp_tree "$s")
			pam_service_name=ajar-lab-ftp
		EOF
	else
		cat >>"$conf" <<-EOF
			anonymous_enable=YES
			local_enable=NO
			anon_root=$(ftp_tree "$s")
			no_anon_password=NO
			anon_upload_enable=NO
			anon_mkdir_write_enable=NO
		EOF
	fi
	# The address on the command line as well: lab/status recognises the
	# server by it.
	(cd "$dir" && svc_launch "$s" "$dir/server.log" vsftpd "$conf" "-olisten_address=$host")
}

ftp_counts() {
	tree_matches "$(ftp_tree "$1")" "$AJAR_LAB_DIR/seed/ftp.manifest"
}

ftp_seed() {
	local t
	t=$(ftp_tree "$1")
	tree_write ftp "$t"
	# vsFTPd refuses a root its users could write to.
	chmod 555 "$t"
}
