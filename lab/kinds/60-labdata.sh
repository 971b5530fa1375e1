# shellcheck shell=bash
# What the lab's file, registry, Prometheus and LDAP servers (lab/kinds/6*)
# share: lab/cmd/labdata, which writes their trees, configurations and
# seeds, and the check that a directory holds a seeded tree. Sourced by
# lab/services.sh; registers no service.

# labdata ARGS… runs lab/cmd/labdata, built into the lab's bin directory
# when it is missing or older than any of its sources (the program, package
# lab and lab/fake).
labdata() {
	local bin=$AJAR_LAB_DIR/bin/labdata
	if [[ ! -x $bin ]] || [[ -n $(find "$LAB_SRC/cmd/labdata" "$LAB_SRC/fake" -name '*.go' -newer "$bin" -print -quit) ]] ||
		[[ -n $(find "$LAB_SRC" -maxdepth 1 -name '*.go' -newer "$bin" -print -quit) ]]; then
		command -v go >/dev/null || lab_die "go is not installed; it builds lab/cmd/labdata"
		mkdir -p "$AJAR_LAB_DIR/bin"
		(cd "$LAB_REPO" && go build -o "$bin.new" ./lab/cmd/labdata) || lab_die "building lab/cmd/labdata failed"
		mv "$bin.new" "$bin"
	fi
	"$bin" "$@"
}

# labdata_seed_file NAME ARGS… writes the output of `labdata ARGS…` to
# $AJAR_LAB_DIR/seed/NAME, replacing the file only when it changed, and
# prints its path: a kind's seed script, whose hash says whether the seed
# changed.
labdata_seed_file() {
	local f=$AJAR_LAB_DIR/seed/$1
	shift
	mkdir -p "$AJAR_LAB_DIR/seed"
	labdata "$@" >"$f.new" || lab_die "labdata $* failed"
	if cmp -s "$f.new" "$f"; then
		rm -f "$f.new"
	else
		mv "$f.new" "$f"
	fi
	echo "$f"
}

# tree_matches DIR MANIFEST: DIR holds exactly the files of the manifest
# ("PATH SIZE SHA256" lines, sorted by path), with their sizes.
tree_matches() {
	[[ -d $1 ]] || return 1
	cmp -s <(cd "$1" && find . -type f -printf '%P %s\n' | LC_ALL=C sort) <(cut -d' ' -f1,2 "$2")
}

# tree_write SET DIR replaces DIR with a fresh copy of the seeded tree SET.
tree_write() {
	rm -rf "$2.new"
	labdata tree -set "$1" -dir "$2.new" || lab_die "writing the $1 tree to $2 failed"
	rm -rf "$2"
	mv "$2.new" "$2"
}

# http_code URL [CURL-ARGS…] prints the HTTP status of a GET (000 when
# nothing answers). No proxy: the lab is on loopback.
http_code() {
	local url=$1
	shift
	curl --noproxy '*' -s -o /dev/null -m 2 -w '%{http_code}' "$@" "$url" 2>/dev/null || true
}
