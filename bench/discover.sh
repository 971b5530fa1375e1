#!/usr/bin/env bash
# Discovery benchmark on loopback: ajar's connect and SYN modes against
# nmap -sT / -sS and a minimal Go connect loop, on listeners this script
# opens. Writes bench/results-discover.md. Run as root: make bench-discover.
#
# Every packet stays inside 127.0.0.0/8: the scans target 127.0.78.0/24,
# 127.0.79.1 and 127.1.0.0/16 only, and the enumeration-only case (d) runs
# in an empty network namespace, where nothing could leave even by mistake.
#
# Settings (environment): RUNS (runs per measurement, best kept; default 5),
# TIMEOUT (ajar --timeout; default 50ms, the floor of nmap -T5's own RTT
# timeout), CONC (ajar --concurrency and --per-host; default 8192), OUT.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
TIMEOUT=${TIMEOUT:-50ms}
CONC=${CONC:-8192}
OUT=${OUT:-bench/results-discover.md}
NMAP_RETRIES=1 # the same retry budget as ajar's --retries 1
DROPS=4096

if [[ $(id -u) != 0 ]]; then
	echo "bench/discover.sh: run as root (nmap -sS, raw sockets and nft need it)" >&2
	exit 2
fi

WORK=$(mktemp -d)
LPID=
cleanup() {
	nft delete table inet ajar_bench 2>/dev/null || true
	if [[ -n $LPID ]]; then kill "$LPID" 2>/dev/null || true; wait "$LPID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null && return
	echo "installing $2" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "$2" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "$2" >/dev/null; }
}
need nmap nmap
need nft nftables
need /usr/bin/time time

echo "building" >&2
go build -o bin/ajar ./cmd/ajar
for t in listeners connectloop score synscan; do go build -o "$WORK/$t" "./bench/$t"; done
ulimit -n "$(ulimit -Hn)"

# Listeners: 300 on random ports of 127.0.78.1 and of 127.0.79.1, 200 on
# random addresses of 127.0.78.0/24 below 1025.
"$WORK/listeners" -o "$WORK/open.txt" 127.0.78.1:300:1-65535 127.0.78.0/24:200:1-1024 \
	127.0.79.1:300:1-65535 2>"$WORK/listeners.err" &
LPID=$!
for _ in $(seq 100); do grep -q ready "$WORK/listeners.err" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$WORK/listeners.err" || { cat "$WORK/listeners.err" >&2; exit 1; }
ss -ltnH >"$WORK/ss.txt"

SYN_CLI=1
msg=$(bin/ajar discover 127.0.78.1 -p 1 --syn --json -q 2>&1 >/dev/null || true)
if grep -q "not available" <<<"$msg"; then
	SYN_CLI=0
	echo "note: this build of ajar has no --syn yet; SYN figures come from bench/synscan" >&2
fi

now() { date +%s%N; }

# measure FORMAT TARGET PORTS DROPPED -- COMMAND…: runs COMMAND $RUNS times
# (its output is the scan result; "{out}" in it is replaced by the output
# file for nmap) and sets BEST (seconds), RSS (KB, of the best run),
# EXPECTED, WORST_FOUND and WORST_FALSE (over all runs).
measure() {
	local format=$1 target=$2 ports=$3 dropped=$4
	shift 5
	BEST='' RSS='' EXPECTED='' WORST_FOUND='' WORST_FALSE=0
	for _ in $(seq "$RUNS"); do
		local args=() a
		for a in "$@"; do args+=("${a//\{out\}/$WORK/out}"); done
		rm -f "$WORK/out"
		local t0 t1
		t0=$(now)
		if [[ $format == nmap ]]; then
			/usr/bin/time -f %M -o "$WORK/rss" "${args[@]}" >/dev/null
		else
			/usr/bin/time -f %M -o "$WORK/rss" "${args[@]}" >"$WORK/out"
		fi
		t1=$(now)
		local secs score
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
		score=$("$WORK/score" -format "$format" -result "$WORK/out" -listeners "$WORK/open.txt" \
			-ss "$WORK/ss.txt" -targets "$target" -ports "$ports" -dropped "$dropped")
		read -r e f x <<<"$score"
		EXPECTED=$e
		if [[ -z $WORST_FOUND || $f -lt $WORST_FOUND ]]; then WORST_FOUND=$f; fi
		if ((x > WORST_FALSE)); then WORST_FALSE=$x; fi
		if [[ -z $BEST ]] || awk -v a="$secs" -v b="$BEST" 'BEGIN { exit !(a < b) }'; then
			BEST=$secs RSS=$(tail -1 "$WORK/rss")
		fi
	done
}

ROWS=()
declare -A SECS
# row CASE TOOL FLAGS TARGETS: records the last measurement.
row() {
	local recall rate
	recall=$(awk -v f="$WORST_FOUND" -v e="$EXPECTED" 'BEGIN { printf "%.1f %%", e ? 100 * f / e : 100 }')
	rate=$(awk -v n="$4" -v s="$BEST" 'BEGIN { printf "%.0f", n / s }')
	SECS[$1/$2]=$BEST
	ROWS+=("$1|$2|$3|$BEST|$rate|$recall ($WORST_FOUND/$EXPECTED)|$WORST_FALSE|$((RSS / 1024)) MB")
	printf '%-3s %-22s %8ss %9s/s  recall %s  false %s  rss %s MB\n' "$1" "$2" "$BEST" "$rate" "$recall" "$WORST_FALSE" "$((RSS / 1024))" >&2
}

ajar_connect=(bin/ajar discover --json -q --concurrency "$CONC" --per-host "$CONC" --timeout "$TIMEOUT" --retries 1)
if ((SYN_CLI)); then
	ajar_syn=(bin/ajar discover --json -q --syn --timeout "$TIMEOUT" --retries 1)
	syn_name="ajar --syn"
else
	ajar_syn=("$WORK/synscan" -wait "$TIMEOUT" -retries 1)
	syn_name="ajar SYN (bench/synscan)"
fi

# run_case CASE TARGET PORTS DROPPED
run_case() {
	local c=$1 target=$2 ports=$3 dropped=$4 n
	n=$(awk -F- '{ print $2 - $1 + 1 }' <<<"$ports")
	if [[ $target == */* ]]; then n=$((n << (32 - ${target#*/}))); fi
	measure ajar "$target" "$ports" "$dropped" -- "${ajar_connect[@]}" "$target" -p "$ports"
	row "$c" "ajar (connect)" "--concurrency $CONC --per-host $CONC --timeout $TIMEOUT --retries 1" "$n"
	if ((SYN_CLI)); then
		measure ajar "$target" "$ports" "$dropped" -- "${ajar_syn[@]}" "$target" -p "$ports"
	else
		measure ajar "$target" "$ports" "$dropped" -- "${ajar_syn[@]}" -p "$ports" "$target"
	fi
	row "$c" "$syn_name" "--timeout $TIMEOUT --retries 1" "$n"
	measure nmap "$target" "$ports" "$dropped" -- nmap -sT -T5 -n -Pn --max-retries "$NMAP_RETRIES" -p "$ports" "$target" -oG "{out}"
	row "$c" "nmap -sT" "-T5 -n -Pn --max-retries $NMAP_RETRIES" "$n"
	measure nmap "$target" "$ports" "$dropped" -- nmap -sS -T5 -n -Pn --max-retries "$NMAP_RETRIES" -p "$ports" "$target" -oG "{out}"
	row "$c" "nmap -sS" "-T5 -n -Pn --max-retries $NMAP_RETRIES" "$n"
}

echo "(a) 127.0.78.1 × 1-65535" >&2
run_case a 127.0.78.1 1-65535 ""
echo "(b) 127.0.78.0/24 × 1-1024" >&2
run_case b 127.0.78.0/24 1-1024 ""

# The loopback connect ceiling: the simplest Go connect loop, best of
# several concurrencies.
declare -A CEIL
read -r 'CEIL[a]' _ < <("$WORK/connectloop" -runs "$RUNS" -p 1-65535 -c 32,64,128,256,512,1024 127.0.78.1 2>/dev/null)
mapfile -t b_addrs < <(seq 0 255 | sed 's/^/127.0.78./')
read -r 'CEIL[b]' _ < <("$WORK/connectloop" -runs "$RUNS" -p 1-1024 -c 32,64,128,256,512,1024 "${b_addrs[@]}" 2>/dev/null)

echo "(c) 127.0.79.1 × 1-65535, $DROPS ports silently dropped" >&2
grep '^127\.0\.79\.1:' "$WORK/open.txt" | cut -d: -f2 >"$WORK/used"
awk '{ n = split($4, a, ":"); print a[n] }' "$WORK/ss.txt" >>"$WORK/used"
seq 1 65535 | grep -vxFf "$WORK/used" | shuf -n "$DROPS" | sort -n | paste -sd, >"$WORK/dropped"
nft add table inet ajar_bench
nft add chain inet ajar_bench input '{ type filter hook input priority 0; policy accept; }'
nft add set inet ajar_bench dropped '{ type inet_service; }'
nft add element inet ajar_bench dropped "{ $(cat "$WORK/dropped") }"
nft add rule inet ajar_bench input ip daddr 127.0.79.1 tcp dport @dropped drop
run_case c 127.0.79.1 1-65535 "$WORK/dropped"
nft delete table inet ajar_bench

echo "(d) enumeration only: 1.0.0.0/8 × 80 --dry-run" >&2
D_BEST='' D_RSS='' D_COUNT=''
for _ in $(seq "$RUNS"); do
	t0=$(now)
	out=$(unshare -n /usr/bin/time -f %M -o "$WORK/rss" bin/ajar discover 1.0.0.0/8 -p 80 --dry-run --no-default-excludes -q)
	t1=$(now)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	D_COUNT=$(tail -1 <<<"$out")
	if [[ -z $D_BEST ]] || awk -v a="$secs" -v b="$D_BEST" 'BEGIN { exit !(a < b) }'; then
		D_BEST=$secs D_RSS=$(tail -1 "$WORK/rss")
	fi
done
D_RATE=$(awk -v n="$D_COUNT" -v s="$D_BEST" 'BEGIN { printf "%.1f", n / s / 1e6 }')
echo "(d) $D_COUNT targets in ${D_BEST}s: $D_RATE M/s, rss $((D_RSS / 1024)) MB" >&2

echo "(e) 127.1.0.0/16 × 10 ports" >&2
E_PORTS=21,22,23,25,110,143,993,8081,9201,27018
E_N=$((65536 * 10))
declare -A E
for mode in connect syn; do
	if [[ $mode == connect ]]; then
		cmd=("${ajar_connect[@]}" 127.1.0.0/16 -p "$E_PORTS")
	elif ((SYN_CLI)); then
		cmd=("${ajar_syn[@]}" 127.1.0.0/16 -p "$E_PORTS")
	else
		cmd=("${ajar_syn[@]}" -p "$E_PORTS" 127.1.0.0/16)
	fi
	t0=$(now)
	/usr/bin/time -f %M -o "$WORK/rss" "${cmd[@]}" >"$WORK/out"
	t1=$(now)
	E[$mode]="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') $(($(tail -1 "$WORK/rss") / 1024)) $(wc -l <"$WORK/out")"
	echo "(e) $mode: ${E[$mode]} (seconds, MB, open ports)" >&2
done

# (f) the rate limit: 127.1.0.0/16 × 3 ports (every port refuses, so no
# retries) at a set rate; the achieved rate over the whole run, start-up
# included, against the one asked for.
declare -A F
F_N=$((65536 * 3))
for want in 5000 20000; do
	t0=$(now)
	bin/ajar discover 127.1.0.0/16 -p 1-3 --rate "$want" --timeout 200ms -q >/dev/null
	t1=$(now)
	F[$want]=$(awk -v n=$F_N -v a="$t0" -v b="$t1" -v w="$want" 'BEGIN { s = (b - a) / 1e9; printf "%.2f %.0f %+.2f", s, n / s, 100 * (n / s / w - 1) }')
	echo "(f) --rate $want: ${F[$want]} (seconds, achieved/s, deviation %)" >&2
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f ×", a / b }'; }

{
	echo "# Discovery on loopback"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, Linux $(uname -r), $(nmap --version | head -1 | cut -d' ' -f1-3), $(go version | cut -d' ' -f3)."
	echo "Best of $RUNS runs per row (recall and false opens: worst of the runs). Generated by \`make bench-discover\`."
	echo "Listeners: 300 on random ports of 127.0.78.1 and of 127.0.79.1, 200 below port 1025 on 127.0.78.0/24;"
	echo "the machine's own wildcard listeners count as open too. (c) drops $DROPS closed ports of 127.0.79.1 silently (nft)."
	echo "Seconds are the wall clock of the whole command, start-up included. nmap runs with \`--max-retries $NMAP_RETRIES\`, the"
	echo "retry budget of ajar's \`--retries 1\` (its -T5 default of 2 gave the same times here). ajar's \`--timeout $TIMEOUT\` is the"
	echo "floor of nmap -T5's own adaptive RTT timeout (\`--min-rtt-timeout 50ms\`); in (c) a scan cannot end sooner than"
	echo "(retries + 1) × timeout after its last first attempt."
	echo
	echo "| case | scanner | flags | seconds | ports/s | recall | false open | peak RSS |"
	echo "|---|---|---|---:|---:|---:|---:|---:|"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r c tool flags secs rate recall false rss <<<"$r"
		echo "| $c | $tool | \`$flags\` | $secs | $rate | $recall | $false | $rss |"
	done
	echo
	echo "| case | ajar connect vs nmap -sT | ajar SYN vs nmap -sS | ajar connect vs nmap -sS | ajar SYN vs nmap -sT | Go connect loop (ceiling) | ajar connect share of it |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for c in a b c; do
		ceil=${CEIL[$c]:-}
		if [[ -n $ceil ]]; then
			n=65535
			if [[ $c == b ]]; then n=262144; fi
			cshare=$(awk -v n="$n" -v s="${SECS[$c/ajar (connect)]}" -v r="$ceil" 'BEGIN { printf "%.0f %%", 100 * n / s / r }')
			ceil="$ceil/s"
		else
			cshare="–" ceil="–"
		fi
		echo "| $c | $(ratio "${SECS[$c/nmap -sT]}" "${SECS[$c/ajar (connect)]}") | $(ratio "${SECS[$c/nmap -sS]}" "${SECS[$c/$syn_name]}") | $(ratio "${SECS[$c/nmap -sS]}" "${SECS[$c/ajar (connect)]}") | $(ratio "${SECS[$c/nmap -sT]}" "${SECS[$c/$syn_name]}") | $ceil | $cshare |"
	done
	echo
	echo "The Go connect loop is bench/connectloop: a net.Dialer per port at the best of 32…1024 goroutines. ajar's connect"
	echo "mode passes it because it connects with non-blocking socket calls that loopback settles inside connect(2), and"
	echo "reuses the socket of a refused attempt (disconnected with AF_UNSPEC) instead of a new socket and a close."
	echo
	echo "| case | what | seconds | rate | peak RSS |"
	echo "|---|---|---:|---:|---:|"
	echo "| d | \`ajar discover 1.0.0.0/8 -p 80 --dry-run --no-default-excludes\` ($D_COUNT targets, nothing sent) | $D_BEST | $D_RATE M targets/s | $((D_RSS / 1024)) MB |"
	read -r s m o <<<"${E[connect]}"
	echo "| e | ajar (connect) 127.1.0.0/16 × 10 ports ($E_N targets, $o open) | $s | $(awk -v n=$E_N -v s="$s" 'BEGIN { printf "%.0f/s", n / s }') | $m MB |"
	read -r s m o <<<"${E[syn]}"
	echo "| e | $syn_name 127.1.0.0/16 × 10 ports ($E_N targets, $o open) | $s | $(awk -v n=$E_N -v s="$s" 'BEGIN { printf "%.0f/s", n / s }') | $m MB |"
	echo
	echo "| case | rate asked | seconds | rate achieved | deviation |"
	echo "|---|---:|---:|---:|---:|"
	for want in 5000 20000; do
		read -r s got dev <<<"${F[$want]}"
		echo "| f | $want/s ($F_N targets, 127.1.0.0/16 × 3) | $s | $got/s | $dev % |"
	done
} >"$OUT"
cat "$OUT"
