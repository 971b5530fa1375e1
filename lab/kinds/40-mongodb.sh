# shellcheck shell=bash
# MongoDB wire protocol of the lab: FerretDB 1.24 on SQLite, open, and with
# authentication enforced (a setup user in admin). Sourced by
# lab/services.sh. This file also holds what the lab's stores 40–49 share:
# labfill, the program that seeds and checks them.

LAB_MONGO_OPEN=127.0.11.10:27017
LAB_MONGO_SECURED=127.0.11.11:27117
LAB_MONGO_USER=ajar-lab
LAB_MONGO_PASSWORD=lab-secret-mongo
LAB_FERRETDB_VERSION=v1.24.2

lab_service mongodb-open "$LAB_MONGO_OPEN"
lab_service mongodb-secured "$LAB_MONGO_SECURED"

# ---- labfill: seeds and checks the stores of lab/kinds/4N-*.sh -------------

# lab_fill ARGS… runs labfill, built from lab/cmd/labfill when any of its
# sources is newer than the binary (a warm lab/up builds nothing).
lab_fill() {
	local bin=$AJAR_LAB_DIR/bin/labfill tmp
	if [[ ! -x $bin ]] || [[ -n $(find "$LAB_SRC/cmd/labfill" "$LAB_SRC"/*.go "$LAB_SRC/fake" \
		"$LAB_REPO/go.mod" "$LAB_REPO/go.sum" -newer "$bin" -print -quit) ]]; then
		command -v go >/dev/null || lab_die "go is not installed; it builds lab/cmd/labfill"
		mkdir -p "$AJAR_LAB_DIR/bin"
		tmp=$(mktemp "$AJAR_LAB_DIR/bin/labfill.XXXXXX")
		(cd "$LAB_REPO" && go build -o "$tmp" ./lab/cmd/labfill) || {
			rm -f "$tmp"
			lab_die "building lab/cmd/labfill failed"
		}
		mv "$tmp" "$bin"
	fi
	"$bin" "$@"
}

# lab_fill_seed KIND prints the path of KIND's seed, written by labfill and
# replaced only when it changed.
lab_fill_seed() {
	local f=$AJAR_LAB_DIR/seed/$1.seed
	mkdir -p "$AJAR_LAB_DIR/seed"
	lab_fill -kind "$1" -print >"$f.tmp" || lab_die "labfill -kind $1 -print failed"
	if cmp -s "$f.tmp" "$f"; then
		rm -f "$f.tmp"
	else
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}

# ---- FerretDB ----------------------------------------------------------------

mongodb_comm() { echo ferretdb; }
mongodb_seed_script() { lab_fill_seed mongodb; }

# mongodb_creds SERVICE prints labfill's credential flags for the service.
mongodb_creds() {
	if [[ $(svc_variant "$1") == secured ]]; then
		printf '%s\n' -user "$LAB_MONGO_USER" -password "$LAB_MONGO_PASSWORD"
	fi
}

mongodb_ready() {
	lab_fill -kind mongodb -addr "$(svc_addr "$1")" -ping -timeout 3s 2>/dev/null
}

# ferretdb_bin prints the FerretDB binary, building it first when missing.
# The module as the Go proxy serves it lacks build/version/version.txt,
# without which the binary refuses to start: it is built from a copy that
# has one.
ferretdb_bin() {
	local bin=$AJAR_LAB_DIR/ferretdb/$LAB_FERRETDB_VERSION/ferretdb dir tmp
	if [[ ! -x $bin ]]; then
		command -v go >/dev/null || lab_die "go is not installed; it builds FerretDB"
		lab_log "building FerretDB $LAB_FERRETDB_VERSION (about a minute)"
		dir=$(cd / && go mod download -json "github.com/FerretDB/FerretDB@$LAB_FERRETDB_VERSION" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || dir=
		[[ -n $dir && -d $dir ]] || lab_die "downloading FerretDB $LAB_FERRETDB_VERSION failed"
		tmp=$(mktemp -d)
		cp -r "$dir/." "$tmp/src"
		chmod -R u+w "$tmp/src"
		echo "$LAB_FERRETDB_VERSION" >"$tmp/src/build/version/version.txt"
		mkdir -p "${bin%/*}"
		(cd "$tmp/src" && GOFLAGS=-mod=mod go build -o "$tmp/ferretdb" ./cmd/ferretdb) >"$tmp/build.log" 2>&1 || {
			tail -n 20 "$tmp/build.log" >&2
			rm -rf "$tmp"
			lab_die "building FerretDB failed"
		}
		mv "$tmp/ferretdb" "$bin"
		rm -rf "$tmp"
	fi
	echo "$bin"
}

mongodb_start() {
	local s=$1 dir bin args=()
	dir=$(svc_dir "$s")
	bin=$(ferretdb_bin)
	mkdir -p "$dir/data" "$dir/state"
	if [[ $(svc_variant "$s") == secured ]]; then
		# The setup user is created when the admin database does not exist yet.
		args=(--test-enable-new-auth --setup-database=admin
			--setup-username="$LAB_MONGO_USER" --setup-password="$LAB_MONGO_PASSWORD")
	fi
	# Telemetry off (by default FerretDB reports to an outside host), no
	# debug listener on 127.0.0.1:8088. env -C makes the service's directory
	# the server's working directory, as lab/services.sh expects.
	svc_launch "$s" "$dir/server.log" env -C "$dir" DO_NOT_TRACK=1 "$bin" \
		--handler=sqlite --sqlite-url="file:$dir/data/" --listen-addr="$(svc_addr "$s")" \
		--state-dir="$dir/state" --debug-addr=- --telemetry=disable --log-level=error "${args[@]}"
}

mongodb_counts() {
	# shellcheck disable=SC2046 # flags, one a line, no spaces
	lab_fill -kind mongodb -addr "$(svc_addr "$1")" $(mongodb_creds "$1") -check
}

mongodb_seed() {
	# shellcheck disable=SC2046
	lab_fill -kind mongodb -addr "$(svc_addr "$1")" $(mongodb_creds "$1") \
		-load "$(mongodb_seed_script "$1")" || lab_die "$1: seeding failed"
}
