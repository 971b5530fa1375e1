#!/usr/bin/env bash
# Identification benchmark: ajar's identification and nmap's version
# detection (nmap -sV -n -Pn -p PORT ADDR, default intensity) on every
# service of the lab, one at a time, each tool on the same address and
# port. Prints the comparison and writes it into BENCHMARKS-identify.md
# (between its bench-identify markers). Run from `make bench-identify`.
#
# Only the lab's addresses are touched: the services come from lab/status,
# and bench/identify refuses any address outside 127.0.10.0–127.0.13.255.
#
# Settings (environment): RUNS (ajar identifications per service, median
# kept; default 3), OUT (default BENCHMARKS-identify.md), NMAP_XML (a
# directory where nmap's results are kept and reused by the next run, to
# redo the table without waiting for nmap again; default: none).
set -euo pipefail

cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
OUT=${OUT:-BENCHMARKS-identify.md}

if ! command -v nmap >/dev/null; then
	[[ $(id -u) == 0 ]] || { echo "bench/identify: nmap is missing (apt-get install nmap)" >&2; exit 2; }
	echo "installing nmap" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends nmap >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends nmap >/dev/null; }
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if ! lab/status >"$WORK/status.txt"; then
	cat "$WORK/status.txt" >&2
	echo "bench/identify: the lab is not fully up (make lab-up)" >&2
	exit 1
fi

go build -o "$WORK/bench-identify" ./bench/identify
echo "$(nmap --version | head -n 1); $(go version)" >&2
args=(-runs "$RUNS" -nmap -out "$OUT")
if [[ -n ${NMAP_XML:-} ]]; then
	mkdir -p "$NMAP_XML"
	args+=(-nmap-xml "$NMAP_XML")
fi
"$WORK/bench-identify" "${args[@]}" <"$WORK/status.txt"
echo "written to $OUT" >&2
