# shellcheck shell=bash
# express-pouchdb from the npm registry: a real CouchDB-API server beside the
# CouchDB 3.x emulator (see LAB-NOTES: it greets differently and, with an
# admin, keeps / and /_all_dbs open). Sourced by lab/services.sh.

lab_service pouchdb-open 127.0.10.51:5984
lab_service pouchdb-secured 127.0.10.52:5984

pouchdb_missing() {
	command -v node >/dev/null || echo nodejs
	command -v npm >/dev/null || echo npm
}
pouchdb_comm() { echo node; }
pouchdb_ready() { port_open "$(svc_host "$1")" "$(svc_port "$1")"; }

# pouchdb_prepare installs the npm packages into this checkout (quick when
# they are there): the servers and the probe tests run from it.
pouchdb_prepare() {
	"$LAB_SRC/pouchdb/install" || lab_die "npm install of express-pouchdb (lab/pouchdb/install) failed"
}

pouchdb_start() {
	local s=$1 dir
	dir=$(svc_dir "$s")
	mkdir -p "$dir"
	# The seed is built first, so that the server process itself is node.
	(cd "$LAB_REPO" && go run ./lab/cmd/emulators -product couchdb -dump) >"$dir/seed.json" ||
		lab_die "$s: building the seed failed"
	(cd "$dir" && svc_launch "$s" "$dir/server.log" node "$LAB_SRC/pouchdb/server.js" \
		--listen "$(svc_addr "$s")" --seed "$dir/seed.json" --variant "$(svc_variant "$s")")
}
