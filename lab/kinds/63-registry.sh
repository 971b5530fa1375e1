# shellcheck shell=bash
# Docker registries of the lab (docker-registry 2.8, filesystem storage):
# open, and secured with htpasswd (bcrypt). lab/cmd/labdata pushes the
# repositories of lab.RegistryRepositories through the registry's own API.
# Sourced by lab/services.sh.

LAB_REGISTRY_OPEN=127.0.13.30:5000
LAB_REGISTRY_SECURED=127.0.13.31:5100
LAB_REGISTRY_USER=ci-push
LAB_REGISTRY_PASSWORD=lab-secret-registry

lab_service registry-open "$LAB_REGISTRY_OPEN"
lab_service registry-secured "$LAB_REGISTRY_SECURED"

registry_missing() {
	command -v docker-registry >/dev/null || echo docker-registry
	command -v curl >/dev/null || echo curl
}
registry_comm() { echo docker-registry; }

# registry_ready: /v2/ answers 200 (open) or 401 (secured).
registry_ready() {
	local code
	code=$(http_code "http://$(svc_addr "$1")/v2/")
	[[ $code == 200 || $code == 401 ]]
}

registry_seed_script() { labdata_seed_file registry.list registry-list; }

# registry_auth prints the labdata flags that log in to the secured one.
registry_auth() {
	if [[ $(svc_variant "$1") == secured ]]; then
		printf '%s\n' -user "$LAB_REGISTRY_USER" -password "$LAB_REGISTRY_PASSWORD"
	fi
}

registry_start() {
	local s=$1 dir conf
	dir=$(svc_dir "$s")
	# The address in the file name puts it on the command line, where
	# lab/status looks for it.
	conf=$dir/registry-$(svc_host "$s").yml
	mkdir -p "$dir/data"
	cat >"$conf" <<-EOF
		# docker-registry of the ajar test lab ($s); written by lab/up.
		version: 0.1
		log:
		  level: warn
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $dir/data
		  delete:
		    enabled: false
		http:
		  addr: $(svc_addr "$s")
	EOF
	if [[ $(svc_variant "$s") == secured ]]; then
		printf '%s:%s\n' "$LAB_REGISTRY_USER" "$(labdata bcrypt <<<"$LAB_REGISTRY_PASSWORD")" >"$dir/htpasswd" ||
			lab_die "$s: hashing the password failed"
		cat >>"$conf" <<-EOF
			auth:
			  htpasswd:
			    realm: ajar-lab
			    path: $dir/htpasswd
		EOF
	fi
	(cd "$dir" && svc_launch "$s" "$dir/server.log" docker-registry serve "$conf")
}

registry_counts() {
	local auth
	mapfile -t auth < <(registry_auth "$1")
	labdata registry-check -addr "$(svc_addr "$1")" "${auth[@]}" 2>/dev/null
}

registry_seed() {
	local auth
	mapfile -t auth < <(registry_auth "$1")
	labdata registry-push -addr "$(svc_addr "$1")" "${auth[@]}" || lab_die "$1: pushing the repositories failed"
}
