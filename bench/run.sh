#!/bin/sh
# bench/run.sh: weft's example echo server and fiber switch against the
# peers in ../shared/anchors, measured in one run, printed as one table of
# absolute figures and ratios to bare libuv.  See bench/README.md.
#
# Environment (all optional):
#   WEFT_BUILDDIR   build directory holding examples/ and bench/ (default:
#                   the source tree, for in-tree builds)
#   WEFT_ANCHORS    the anchors directory (default: ../shared/anchors
#                   beside the source tree)
#   BENCH_ROUNDS    rounds of the echo tests, interleaved (3); the median
#                   is reported
#   BENCH_SECONDS   length of one load run (5)
#   BENCH_CONNS     connections of the echo tests (50)
#   BENCH_IDLE      idle connections for the memory test (5000)
#   BENCH_YIELDS    yields of the fiber benchmark (10000000)
#   BENCH_PEERS     0: measure weft and bare libuv only (1)
#   CC              compiler for the anchors (cc)

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_src=$(cd "$here/.." && pwd)
build=${WEFT_BUILDDIR:-$top_src}
anchors=${WEFT_ANCHORS:-$top_src/../shared/anchors}
rounds=${BENCH_ROUNDS:-3}
secs=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-50}
idle_n=${BENCH_IDLE:-5000}
yields=${BENCH_YIELDS:-10000000}
peers=${BENCH_PEERS:-1}
cc=${CC:-cc}
py=/usr/bin/python3

weft_server=$build/examples/tcp-echo-server
fiber_switch=$build/bench/fiber_switch

die() {
	echo "bench: $*" >&2
	exit 1
}

[ -x "$weft_server" ] || die "no $weft_server: run make first"
[ -x "$fiber_switch" ] || die "no $fiber_switch: run make first"
[ -f "$anchors/loadgen.c" ] || die "no anchors in $anchors (set WEFT_ANCHORS)"

# Thousands of idle connections need as many descriptors in the server
# and in the load generator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
nofile=$(ulimit -n)
notes=
if [ "$nofile" != unlimited ] && [ "$nofile" -lt $((idle_n + 64)) ]; then
	idle_n=$((nofile - 64))
	notes="$notes
note: ulimit -n is $nofile (hard limit), idle test uses $idle_n connections"
fi

# Servers on CPU 0, the load generator on CPU 1, as run_peers.sh does.
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if command -v taskset >/dev/null 2>&1 && [ "$ncpu" -ge 2 ]; then
	pin_srv="taskset -c 0"
	pin_gen="taskset -c 1"
	pinning="servers on CPU 0, loadgen on CPU 1"
else
	pin_srv=
	pin_gen=
	pinning="no CPU pinning (needs taskset and 2 CPUs)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench.XXXXXX") || exit 1
spid=
cleanup() {
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

echo "bench: building the anchors from $anchors" >&2
$cc -O2 -o "$tmp/loadgen" "$anchors/loadgen.c" || die "cannot build loadgen"
$cc -O2 -o "$tmp/echo_epoll" "$anchors/echo_epoll.c" ||
    die "cannot build echo_epoll"
$cc -O2 -o "$tmp/echo_libuv" "$anchors/echo_libuv.c" -luv ||
    die "cannot build echo_libuv"

# The servers measured, in this order; weft and libuv always.
servers="weft libuv"
skipped=
if [ "$peers" != 0 ]; then
	servers="$servers epoll"
	if command -v node >/dev/null 2>&1; then
		servers="$servers node"
	else
		skipped="$skipped
node      skipped: no node (apt-get install nodejs)"
	fi
	if [ -x "$py" ]; then
		servers="$servers asyncio"
		if "$py" -c 'import uvloop' 2>/dev/null; then
			servers="$servers uvloop"
		else
			skipped="$skipped
uvloop    skipped: $py cannot import uvloop (apt-get install python3-uvloop)"
		fi
	else
		skipped="$skipped
asyncio   skipped: no $py
uvloop    skipped: no $py"
	fi
fi

label() {
	case $1 in
	weft) echo "weft (tcp-echo-server)" ;;
	libuv) echo "libuv (echo_libuv.c)" ;;
	epoll) echo "epoll (echo_epoll.c)" ;;
	node) echo "node (echo_node.js)" ;;
	asyncio) echo "asyncio (echo_asyncio.py)" ;;
	uvloop) echo "uvloop (echo_asyncio.py)" ;;
	esac
}

# 1 if something listens on 127.0.0.1:$1 (or any address), from procfs.
listening() {
	hex=$(printf '%04X' "$1")
	grep -q ":$hex 00000000:0000 0A " /proc/net/tcp 2>/dev/null
}

free_port() {
	while :; do
		p=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		p=$((20000 + p % 30000))
		listening "$p" || break
	done
	echo "$p"
}

# start NAME MODE PIN: start a server; sets $spid and $sport (empty when
# it did not come up within 10 s).
start() {
	name=$1
	mode=$2
	pin=$3
	sport=
	case $name in
	weft)
		if [ "$mode" = lines ]; then
			$pin "$weft_server" --lines 127.0.0.1 0 \
			    >"$tmp/weft.out" 2>&1 &
		else
			$pin "$weft_server" 127.0.0.1 0 >"$tmp/weft.out" 2>&1 &
		fi
		spid=$!
		i=0
		while [ $i -lt 100 ]; do
			sport=$(sed -n \
			    's/^Serving on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
			    "$tmp/weft.out")
			[ -n "$sport" ] && return
			sleep 0.1
			i=$((i + 1))
		done
		return
		;;
	libuv)
		port=$(free_port)
		$pin "$tmp/echo_libuv" "$port" >>"$tmp/servers.log" 2>&1 &
		;;
	epoll)
		port=$(free_port)
		$pin "$tmp/echo_epoll" "$port" >>"$tmp/servers.log" 2>&1 &
		;;
	node)
		port=$(free_port)
		$pin node "$anchors/echo_node.js" "$port" \
		    >>"$tmp/servers.log" 2>&1 &
		;;
	asyncio)
		port=$(free_port)
		$pin "$py" "$anchors/echo_asyncio.py" "$port" "$mode" \
		    >>"$tmp/servers.log" 2>&1 &
		;;
	uvloop)
		port=$(free_port)
		$pin "$py" "$anchors/echo_asyncio.py" "$port" "$mode" uvloop \
		    >>"$tmp/servers.log" 2>&1 &
		;;
	esac
	spid=$!
	i=0
	while [ $i -lt 100 ]; do
		if listening "$port"; then
			sport=$port
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

stop() {
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	spid=
}

# median FILE COLUMN: the median of a column of numbers.
median() {
	awk -v c="$2" '{ print $c }' "$1" | sort -n |
	    awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- Throughput: echo (read) and lines, interleaved rounds ------------

echo "bench: $rounds rounds of ${secs}s runs: $servers" >&2
r=1
while [ "$r" -le "$rounds" ]; do
	for mode in read lines; do
		if [ "$mode" = lines ]; then
			size=64
		else
			size=1024
		fi
		for s in $servers; do
			start "$s" "$mode" "$pin_srv"
			if [ -z "$sport" ]; then
				echo "bench: $s did not start" >&2
				stop
				continue
			fi
			# shellcheck disable=SC2086
			out=$($pin_gen "$tmp/loadgen" "127.0.0.1:$sport" \
			    "$conns" "$size" "$secs" $mode)
			stop
			echo "bench: round $r $mode $s: $out" >&2
			# reqs/s N  MiB/s N  p50_us N  p99_us N  errors N
			echo "$out" | awk '$1 == "reqs/s" {
			    print $2, $6, $8, $10 }' >>"$tmp/$s.$mode"
		done
	done
	r=$((r + 1))
done

# ---- Idle memory per connection ----------------------------------------

kib() {
	awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

echo "bench: idle RSS with $idle_n connections: $servers" >&2
for s in $servers; do
	start "$s" read ""
	if [ -z "$sport" ]; then
		echo "bench: $s did not start" >&2
		stop
		continue
	fi
	sleep 1
	base=$(kib "$spid")
	: >"$tmp/idle.out"
	HOLD=4 "$tmp/loadgen" "127.0.0.1:$sport" "$idle_n" 64 3 idle \
	    >"$tmp/idle.out" 2>"$tmp/idle.err" &
	lpid=$!
	i=0
	while [ $i -lt 240 ] && [ ! -s "$tmp/idle.out" ]; do
		sleep 0.5
		i=$((i + 1))
	done
	sleep 1
	now=$(kib "$spid")
	wait "$lpid"
	stop
	answered=$(awk '/^idle conns answered/ { print $4 }' "$tmp/idle.out")
	echo "bench: idle $s: base $base KiB, with $idle_n: $now KiB," \
	    "answered ${answered:-0}" >&2
	if [ -n "$base" ] && [ -n "$now" ] &&
	    [ "${answered:-0}" -eq "$idle_n" ]; then
		echo "$base $now" | awk -v n="$idle_n" \
		    '{ printf "%.2f\n", ($2 - $1) / n }' >"$tmp/$s.idle"
	else
		notes="$notes
note: idle test of $s: ${answered:-0} of $idle_n connections answered"
	fi
done

# ---- Fiber switch -------------------------------------------------------

echo "bench: fiber_switch $yields" >&2
$pin_srv "$fiber_switch" "$yields" >"$tmp/fiber.out" ||
    notes="$notes
note: fiber_switch failed"
fsw() {
	awk -v k="$1" '$1 == k { print $2 }' "$tmp/fiber.out"
}

# ---- The table ----------------------------------------------------------

# ratio A B: A/B as "0.97x", or "-".
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
	    if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0)
		print "-";
	    else printf "%.2fx\n", a / b }'
}

get() {
	if [ -s "$tmp/$1" ]; then
		median "$tmp/$1" "$2"
	else
		echo -
	fi
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null |
    head -n 1)
uvver=$(pkg-config --modversion libuv 2>/dev/null || echo "?")
lib_read=$(get libuv.read 1)
lib_lines=$(get libuv.lines 1)
lib_idle=$(get libuv.idle 1)

echo
echo "weft bench, $(date -u '+%Y-%m-%d %H:%M UTC'): $ncpu CPUs (${cpu:-?}), libuv $uvver"
echo "$pinning; $conns conns, ${secs}s per run, median of $rounds interleaved rounds"
echo
printf '%-26s %29s   %29s   %19s\n' "" "echo 1 KiB x $conns conns" \
    "lines 64 B x $conns conns" "idle x $idle_n conns"
printf '%-26s %9s %8s %10s   %9s %8s %10s   %9s %9s\n' server \
    req/s p99_us "vs libuv" req/s p99_us "vs libuv" KiB/conn "vs libuv"
for s in $servers; do
	rd=$(get "$s.read" 1)
	rdp=$(get "$s.read" 3)
	ln=$(get "$s.lines" 1)
	lnp=$(get "$s.lines" 3)
	id=$(get "$s.idle" 1)
	printf '%-26s %9s %8s %10s   %9s %8s %10s   %9s %9s\n' "$(label "$s")" \
	    "$rd" "$rdp" "$(ratio "$rd" "$lib_read")" \
	    "$ln" "$lnp" "$(ratio "$ln" "$lib_lines")" \
	    "$id" "$(ratio "$id" "$lib_idle")"
done
[ -n "$skipped" ] && echo "$skipped" | sed '/^$/d'
echo
echo "fiber switch (bench/fiber_switch, $yields yields, public API only):"
printf '  %-52s %8s ns\n' \
    "yield round trip, 2 fibers ping-pong" "$(fsw pingpong_round_trip_ns)" \
    "yield, $(fsw many_fibers) fibers (loop pass shared by all)" \
    "$(fsw many_yield_ns)" \
    "one context switch (derived: half of the above)" "$(fsw switch_ns)" \
    "one loop iteration (derived: round trip - 4 switches)" \
    "$(fsw loop_iteration_ns)"
echo
lr=$(ratio "$(get weft.lines 1)" "$lib_lines" | tr -d x)
verdict=$(awk -v r="$lr" 'BEGIN {
    if (r == "-") print "not measured";
    else if (r + 0 >= 0.95) print "met";
    else print "NOT met" }')
echo "target: readline echo >= 0.95x bare libuv in lines mode: ${lr}x ($verdict)"
errs=$(cat "$tmp"/*.read "$tmp"/*.lines 2>/dev/null |
    awk '{ s += $4 } END { print s + 0 }')
echo "loadgen errors over all runs: $errs"
[ -n "$notes" ] && echo "$notes" | sed '/^$/d'
exit 0
