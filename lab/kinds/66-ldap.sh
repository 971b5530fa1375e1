# shellcheck shell=bash
# LDAP servers of the lab (OpenLDAP slapd, mdb): open (anonymous bind, all
# readable) and secured (anonymous bind disallowed, authentication required
# for anything). Both hold the entries lab/cmd/labdata writes as LDIF.
# Sourced by lab/services.sh.

LAB_LDAP_OPEN=127.0.13.60:389
LAB_LDAP_SECURED=127.0.13.61:1389
LAB_LDAP_BASE=dc=corp,dc=internal
LAB_LDAP_ADMIN=cn=admin,dc=corp,dc=internal
LAB_LDAP_PASSWORD=lab-secret-ldap
LAB_LDAP_PEOPLE=1000
LAB_LDAP_GROUPS=3

lab_service ldap-open "$LAB_LDAP_OPEN"
lab_service ldap-secured "$LAB_LDAP_SECURED"

ldap_missing() {
	command -v slapd >/dev/null || [[ -x /usr/sbin/slapd ]] || echo slapd
	command -v ldapsearch >/dev/null || echo ldap-utils
}
ldap_comm() { echo slapd; }

# ldap_admin runs an LDAP client as the directory's administrator.
ldap_admin() {
	local s=$1 cmd=$2
	shift 2
	timeout 60 "$cmd" -x -H "ldap://$(svc_addr "$s")/" -o nettimeout=5 -D "$LAB_LDAP_ADMIN" -w "$LAB_LDAP_PASSWORD" "$@"
}

ldap_ready() {
	ldap_admin "$1" ldapsearch -l 2 -s base -b "" 1.1 >/dev/null 2>&1
}

ldap_seed_script() { labdata_seed_file ldap.ldif ldif; }

ldap_start() {
	local s=$1 dir conf
	dir=$(svc_dir "$s")
	conf=$dir/slapd.conf
	mkdir -p "$dir/data"
	cat >"$conf" <<-EOF
		# slapd of the ajar test lab ($s); written by lab/up.
		include /etc/ldap/schema/core.schema
		include /etc/ldap/schema/cosine.schema
		include /etc/ldap/schema/inetorgperson.schema
		pidfile $dir/slapd.pid
		argsfile $dir/slapd.args
		modulepath /usr/lib/ldap
		moduleload back_mdb
		sizelimit size.soft=500 size.hard=unlimited size.prtotal=unlimited
	EOF
	if [[ $(svc_variant "$s") == secured ]]; then
		printf '%s\n' "disallow bind_anon" "require authc" >>"$conf"
	fi
	cat >>"$conf" <<-EOF
		database mdb
		maxsize 268435456
		suffix "$LAB_LDAP_BASE"
		rootdn "$LAB_LDAP_ADMIN"
		rootpw $(slappasswd -s "$LAB_LDAP_PASSWORD")
		directory $dir/data
	EOF
	if [[ $(svc_variant "$s") == secured ]]; then
		echo "access to * by users read by anonymous auth" >>"$conf"
	else
		echo "access to * by * read" >>"$conf"
	fi
	chmod 600 "$conf"
	(cd "$dir" && svc_launch "$s" "$dir/server.log" slapd -h "ldap://$(svc_addr "$s")/" -f "$conf" -d 0)
}

# ldap_count BASE prints how many entries lie strictly below BASE.
ldap_count() {
	local n
	n=$(ldap_admin "$1" ldapsearch -LLL -z 0 -s one -b "$2" 1.1 2>/dev/null | grep -c '^dn:') || true
	echo "${n:-0}"
}

ldap_counts() {
	[[ $(ldap_count "$1" "ou=people,$LAB_LDAP_BASE") == "$LAB_LDAP_PEOPLE" ]] &&
		[[ $(ldap_count "$1" "ou=groups,$LAB_LDAP_BASE") == "$LAB_LDAP_GROUPS" ]]
}

ldap_seed() {
	local s=$1 out
	# Start from an empty directory: delete the tree if it is there. Only
	# then: slapd 2.5.13 crashes on the delete of a suffix that has no entry.
	if ldap_admin "$s" ldapsearch -LLL -s base -b "$LAB_LDAP_BASE" 1.1 >/dev/null 2>&1; then
		ldap_admin "$s" ldapdelete -r "$LAB_LDAP_BASE" >/dev/null 2>&1 || lab_die "$s: emptying the directory failed"
	fi
	out=$(ldap_admin "$s" ldapadd -f "$AJAR_LAB_DIR/seed/ldap.ldif" 2>&1 >/dev/null) ||
		lab_die "$s: seeding failed: ${out:0:500}"
}
