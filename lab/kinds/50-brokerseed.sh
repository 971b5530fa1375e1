# shellcheck shell=bash
# What the lab's message brokers and ClickHouse (lab/kinds/51-54) share: the
# program that writes their seeding scripts from lab/fake and loads the NATS
# one (lab/lab_brokerseed.go). Sourced by lab/services.sh.

# brokerseed runs the seeding program with the given arguments. It is built
# into $AJAR_LAB_DIR/bin when a Go file of lab/ (or go.mod) is newer than it.
brokerseed() {
	local bin=$AJAR_LAB_DIR/bin/brokerseed tmp
	if [[ ! -x $bin || -n $(find "$LAB_REPO/lab" "$LAB_REPO/go.mod" -name '*.go' -newer "$bin" -o -name go.mod -newer "$bin" 2>/dev/null | head -n 1) ]]; then
		command -v go >/dev/null || lab_die "go is not installed; it builds lab/lab_brokerseed.go"
		mkdir -p "$AJAR_LAB_DIR/bin"
		tmp=$(mktemp)
		if ! (cd "$LAB_REPO" && go build -o "$tmp" ./lab/lab_brokerseed.go); then
			rm -f "$tmp"
			lab_die "building lab/lab_brokerseed.go failed"
		fi
		chmod 755 "$tmp"
		lab_replace "$tmp" "$bin"
		rm -f "$tmp"
		touch "$bin"
	fi
	"$bin" "$@"
}

# brokerseed_script TARGET FILE writes TARGET's script to
# $AJAR_LAB_DIR/seed/FILE (unchanged when it is the same) and prints the path.
brokerseed_script() {
	local out=$AJAR_LAB_DIR/seed/$2 tmp
	mkdir -p "$AJAR_LAB_DIR/seed"
	tmp=$(mktemp)
	brokerseed -target "$1" >"$tmp" || {
		rm -f "$tmp"
		lab_die "writing the $1 seed failed"
	}
	lab_replace "$tmp" "$out"
	rm -f "$tmp"
	echo "$out"
}
