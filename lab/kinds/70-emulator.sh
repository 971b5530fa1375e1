# shellcheck shell=bash
# Emulators of the HTTP search and document stores that no package here
# provides (Elasticsearch, OpenSearch, Kibana, CouchDB 3.x, Solr), built from
# their documented answers by lab/cmd/emulators. Sourced by lab/services.sh.

# name → product version variant [es-variant]
declare -A EMULATOR=(
	[emulator-es7]="elasticsearch 7.17.9 open"
	[emulator-es8secured]="elasticsearch 8.11.1 secured"
	[emulator-es6]="elasticsearch 6.8.23 open"
	[emulator-es7ransomed]="elasticsearch 7.17.9 ransomed"
	[emulator-os2]="opensearch 2.11.0 open"
	[emulator-es8]="elasticsearch 8.11.1 open"
	[emulator-kibana7]="kibana 7.17.9 open open"
	[emulator-kibana8secured]="kibana 8.11.1 secured"
	[emulator-couchdbadminparty]="couchdb 3.3.3 adminparty"
	[emulator-couchdbsecured]="couchdb 3.3.3 secured"
	[emulator-couchdb]="couchdb 3.3.3 open"
	[emulator-solr]="solr 9.4.1 open"
	[emulator-solrsecured]="solr 9.4.1 secured"
	[emulator-os2secured]="opensearch 2.11.0 secured"
)
lab_service emulator-es7 127.0.10.40:9200
lab_service emulator-es8secured 127.0.10.41:9200
lab_service emulator-es6 127.0.10.42:9200
lab_service emulator-es7ransomed 127.0.10.43:9200
lab_service emulator-os2 127.0.10.44:9200
lab_service emulator-es8 127.0.10.45:9200
lab_service emulator-kibana7 127.0.10.46:5601
lab_service emulator-kibana8secured 127.0.10.47:5601
lab_service emulator-couchdbadminparty 127.0.10.48:5984
lab_service emulator-couchdbsecured 127.0.10.49:5984
lab_service emulator-couchdb 127.0.10.50:5984
lab_service emulator-solr 127.0.10.53:8983
lab_service emulator-solrsecured 127.0.10.54:8983
lab_service emulator-os2secured 127.0.10.55:9200

emulator_comm() { echo emulators; }
emulator_ready() { port_open "$(svc_host "$1")" "$(svc_port "$1")"; }

# emulator_bin builds lab/cmd/emulators once per lab/up into the lab's bin.
emulator_bin() {
	local bin=$AJAR_LAB_DIR/bin/emulators tmp
	if [[ -z ${EMULATOR_BUILT:-} ]]; then
		mkdir -p "$AJAR_LAB_DIR/bin"
		tmp=$(mktemp -d)
		(cd "$LAB_REPO" && go build -o "$tmp/emulators" ./lab/cmd/emulators) || lab_die "building lab/cmd/emulators failed"
		lab_replace "$tmp/emulators" "$bin"
		rm -rf "$tmp"
		EMULATOR_BUILT=1
	fi
	echo "$bin"
}

emulator_start() {
	local s=$1 dir bin spec
	dir=$(svc_dir "$s")
	mkdir -p "$dir"
	bin=$(emulator_bin)
	read -r -a spec <<<"${EMULATOR[$s]}"
	(cd "$dir" && svc_launch "$s" "$dir/server.log" "$bin" -listen "$(svc_addr "$s")" -product "${spec[0]}" \
		-version "${spec[1]}" -variant "${spec[2]}" -es-variant "${spec[3]:-open}")
}
