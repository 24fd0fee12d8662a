#!/bin/bash
# bench/run.sh: weftd (and libweft's example server and fiber switch)
# against bare libuv echo and the other anchor peers, nginx, Node,
# HAProxy and uvloop, every row measured in the same run and printed as one
# table of absolute figures and ratios, then the targets of issue D with
# met / MISSED.  See bench/README.md.
#
# Environment (all optional):
#   WEFT_BUILDDIR        build directory: weftd, plugins/.libs,
#                        tests/plugins/.libs, examples/, bench/ (default:
#                        the source tree, for in-tree builds)
#   WEFT_ANCHORS         the anchors directory.  The anchors are the
#                        reference peers, kept outside this repository:
#                        echo servers on bare libuv (echo_libuv.c), epoll
#                        (echo_epoll.c), Node (echo_node.js) and asyncio
#                        or uvloop (echo_asyncio.py), and the load
#                        generator loadgen.c.  Default: ../shared/anchors
#                        beside the source tree, where CI keeps them
#   BENCH_ROUNDS         interleaved rounds of the throughput tests (5);
#                        the median is reported, and each ratio is the
#                        median of the ratios within a round
#   BENCH_SECS           length of one load run in whole seconds (3);
#                        BENCH_SECONDS is an older name for it
#   BENCH_CONNS          connections of the echo, lines, proxy and http
#                        tests (50)
#   BENCH_ACCEPT_CLIENTS concurrent clients of the accept-rate test (50)
#   BENCH_IDLE           idle connections, memory rows (5000)
#   BENCH_IDLE_BIG       idle connections, big row (100000; lowered to
#                        fit RLIMIT_NOFILE, with a note)
#   BENCH_SCALE_N        idle connections of the idlescale section: one
#                        weftd with several workers, several load
#                        generator processes (100000; the quick size
#                        .ci/run uses is 10000)
#   BENCH_SCALE_HOLD     seconds each idlescale wave holds them (10)
#   BENCH_SCALE_WAVES    idlescale waves: open, hold, close (3)
#   BENCH_SCALE_WORKERS  weftd's workers in idlescale (8)
#   BENCH_SCALE_GENS     idlehold processes in idlescale (8)
#   BENCH_SCALE_SOCKET   reuse_port (a listening socket per worker) or
#                        shared (one socket, accept_balance) (reuse_port)
#   BENCH_SCALE_TRIM_MS  idlescale's weftd gets it as WEFT_POOL_TRIM_MS,
#                        the pools' trim period (unset: weftd's 5000);
#                        the quick size uses 500, so that its short hold
#                        reads the pools trimmed
#   BENCH_BALANCE        short connections of the balance test (10000)
#   BENCH_YIELDS         yields of the fiber benchmark (10000000)
#   BENCH_PEERS          0: only the peers the targets compare against
#                        (libuv, uvloop, nginx, HAProxy) (1)
#   BENCH_KEEP           1: keep the temp dir (configs, logs, results)
#   BENCH_ONLY           comma-separated sections to run, e.g. "proxy,http"
#                        (echo lines accept http proxy proxyg idle idlebig
#                        idlescale balance fiber, and the TLS ones tlshs
#                        tlsecho tlshttp tlsproxy tlsidle, or tls for all
#                        five; alog: echo with access_log off and on);
#                        unset: all.  Not a full table: the rest read
#                        "not measured"
#   BENCH_INSTALL        1: apt-get install the peers that are missing
#                        (nginx-light libnginx-mod-stream haproxy wrk) and
#                        go on; as root, on Debian (0: never install)
#   CC                   compiler for the anchors and load generators (cc)
#
# It changes one system setting, only as root and only when too low for
# the big idle rows: vm.max_map_count (every fiber stack is an mmap plus a
# guard page, two mappings per connection).  The old value is put back on
# exit.  The other limits idlescale needs are checked and reported in a
# note when too small (see bench/README.md, "Limits and system settings").  Every server it starts gets a process group of its own (setsid)
# and is killed on exit; all traffic stays on 127.0.0.0/8.

set -u

here=$(cd "$(dirname "$0")" && pwd)
top_src=$(cd "$here/.." && pwd)
build=${WEFT_BUILDDIR:-$top_src}
anchors=${WEFT_ANCHORS:-$top_src/../shared/anchors}
rounds=${BENCH_ROUNDS:-5}
secs=${BENCH_SECS:-${BENCH_SECONDS:-3}}
conns=${BENCH_CONNS:-50}
acc_clients=${BENCH_ACCEPT_CLIENTS:-50}
idle_n=${BENCH_IDLE:-5000}
idle_big=${BENCH_IDLE_BIG:-100000}
bal_n=${BENCH_BALANCE:-10000}
scale_n=${BENCH_SCALE_N:-100000}
scale_hold=${BENCH_SCALE_HOLD:-10}
scale_waves=${BENCH_SCALE_WAVES:-3}
scale_w=${BENCH_SCALE_WORKERS:-8}
scale_gens=${BENCH_SCALE_GENS:-8}
scale_sock=${BENCH_SCALE_SOCKET:-reuse_port}
scale_trim=${BENCH_SCALE_TRIM_MS:-}
yields=${BENCH_YIELDS:-10000000}
peers=${BENCH_PEERS:-1}
only_list=${BENCH_ONLY:-}
cc=${CC:-cc}
py=/usr/bin/python3
body='Hello, world!\n'		# as written in configs (escaped)
body_bytes=$'Hello, world!\n'	# the bytes
t_begin=$(date +%s)

weftd=$build/weftd
plugdir=$build/plugins/.libs
cbso=$build/tests/plugins/.libs/cb-lines.so
example=$build/examples/tcp-echo-server
fiber_switch=$build/bench/fiber_switch

die() {
	echo "bench: $*" >&2
	exit 1
}
have_cmd() {
	command -v "$1" >/dev/null 2>&1
}
say() {
	echo "bench [$(($(date +%s) - t_begin))s]: $*" >&2
}

[ -x "$weftd" ] || die "no $weftd: run make first"
for p in echo lines http-hello proxy; do
	[ -f "$plugdir/$p.so" ] || die "no $plugdir/$p.so: run make first"
done
[ -x "$fiber_switch" ] || die "no $fiber_switch: run make first"
case $secs in
'' | *[!0-9]* | 0) die "BENCH_SECS must be a whole number of seconds" ;;
esac
for v in "$scale_n" "$scale_hold" "$scale_waves" "$scale_w" "$scale_gens" \
    "${scale_trim:-5000}"; do
	case $v in
	'' | *[!0-9]* | 0) die "BENCH_SCALE_*: whole numbers above 0" ;;
	esac
done
case $scale_sock in
reuse_port | shared) ;;
*) die "BENCH_SCALE_SOCKET: reuse_port or shared" ;;
esac
# want SECTION: whether BENCH_ONLY lets SECTION run ("tls" stands for
# every TLS section).
want() {
	case $1 in
	tlsfull | tlsresume) set -- tlshs ;;
	alogacc) set -- alog ;;
	esac
	[ -z "$only_list" ] && return 0
	case ",$only_list," in
	*",$1,"*) return 0 ;;
	esac
	case $1,",$only_list," in
	tls*,*",tls,"*) return 0 ;;
	esac
	return 1
}
for o in $(echo "$only_list" | tr ',' ' '); do
	case $o in
	echo | lines | accept | http | proxy | proxyg | idle | idlebig | \
	    idlescale | balance | fiber | tls | tlshs | tlsecho | tlshttp | \
	    tlsproxy | tlsidle | alog) ;;
	*) die "BENCH_ONLY: unknown section $o (echo lines accept http proxy proxyg idle idlebig idlescale balance fiber tls tlshs tlsecho tlshttp tlsproxy tlsidle alog)" ;;
	esac
done
# The anchors: every section but these compares against them (idlescale
# is weftd's alone; .ci/run runs it from a clone that has none).
need_anchors=0
[ -z "$only_list" ] && need_anchors=1
for o in $(echo "$only_list" | tr ',' ' '); do
	case $o in
	idlescale | balance | fiber) ;;
	*) need_anchors=1 ;;
	esac
done
[ "$need_anchors" = 0 ] || [ -f "$anchors/loadgen.c" ] ||
    die "no anchors in $anchors (set WEFT_ANCHORS)"

notes=()	# printed under the table
changes=()	# system settings changed (and restored)
note() {
	notes+=("$*")
}

# ---- Temp dir, cleanup ---------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench.XXXXXX") || exit 1
groups=" "	# process groups of the servers we started
hpid=		# the idle holder, when running
hpids=		# idlescale's holders, when running
cleanup() {
	local g
	[ -n "$hpid" ] && kill -KILL "$hpid" 2>/dev/null
	for g in $hpids; do
		kill -KILL "$g" 2>/dev/null
	done
	for g in $groups; do
		kill -KILL -- "-$g" 2>/dev/null
	done
	[ -n "${mmc_old:-}" ] && echo "$mmc_old" >/proc/sys/vm/max_map_count
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# ---- Limits --------------------------------------------------------------

# The big idle row needs idle_big descriptors in weftd's worker and as
# many in the holder; both inherit this shell's limit.  Raising the hard
# limit needs CAP_SYS_RESOURCE; without it we go as high as it allows.
nofile_want=$((idle_big + 1024))
[ "$nofile_want" -lt $((idle_n + 1024)) ] && nofile_want=$((idle_n + 1024))
[ "$nofile_want" -lt 16384 ] && nofile_want=16384
hard=$(ulimit -Hn)
if ! ulimit -n "$nofile_want" 2>/dev/null; then
	ulimit -Sn "$hard" 2>/dev/null
fi
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] && nofile=1048576
idle_big_req=$idle_big
if [ "$nofile" -lt $((idle_n + 256)) ]; then
	idle_n=$((nofile - 256))
	note "ulimit -n is $nofile: the idle rows use $idle_n connections"
fi
if [ "$nofile" -lt $((idle_big + 256)) ]; then
	idle_big=$(((nofile - 256) / 1000 * 1000))
	want idlebig && note "RLIMIT_NOFILE: hard limit $(ulimit -Hn), and this shell cannot raise it" \
	    "(no CAP_SYS_RESOURCE?): the big idle row holds $idle_big, not" \
	    "$idle_big_req connections; run as a root that may raise it"
fi
# Source addresses 127.0.0.1..N: each gives the one destination about
# 28 000 ephemeral ports (32768-60999), so 100 000 connections need 4;
# the accept test's TIME_WAIT entries spread over them too.
srcaddrs=$((idle_big / 20000 + 2))
[ "$srcaddrs" -lt 8 ] && srcaddrs=8

# idlescale: connections per worker and per load generator.  reuse_port
# hashes the connections over the workers, the shared socket balances
# them: either way allow a worker 20 % above the mean.
scale_per_w=$(((scale_n + scale_w - 1) / scale_w))
scale_per_g=$(((scale_n + scale_gens - 1) / scale_gens))
scale_max_w=$((scale_per_w * 6 / 5 + 64))

# Fiber stacks are two mappings each (stack + guard page), and
# vm.max_map_count is per process: the big idle row's one worker needs
# two per connection, idlescale's workers two per connection of theirs.
mmc_old=
mmc_need=0
mmc_for=
if want idlebig; then
	mmc_need=$((2 * idle_big + 65530))
	mmc_for="$idle_big fibers in one worker"
fi
if want idlescale && [ $((2 * scale_max_w + 4096)) -gt "$mmc_need" ]; then
	mmc_need=$((2 * scale_max_w + 4096))
	mmc_for="$scale_max_w fibers in one worker (idlescale)"
fi
mmc_cur=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)
if [ "$mmc_cur" -lt "$mmc_need" ]; then
	if [ -w /proc/sys/vm/max_map_count ] &&
	    echo "$mmc_need" >/proc/sys/vm/max_map_count 2>/dev/null; then
		mmc_old=$mmc_cur
		changes+=("vm.max_map_count $mmc_cur -> $mmc_need for the run (restored at exit)")
	else
		note "vm.max_map_count is $mmc_cur, below the $mmc_need that" \
		    "$mmc_for need, and not writable (run as root):" \
		    "fibers past it fail to start"
	fi
fi

# ---- CPUs ------------------------------------------------------------------

# Servers on CPU 0, load generators on CPU 1, as run_peers.sh does.  A
# server's whole process group is pinned: weftd's workers, nginx's worker
# inherit the supervisor's / master's affinity.
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if command -v taskset >/dev/null 2>&1 && [ "$ncpu" -ge 2 ]; then
	pin_srv="taskset -c 0"
	pin_gen="taskset -c 1"
	pinning="servers on CPU 0, load generators on CPU 1"
else
	pin_srv=
	pin_gen=
	pinning="no CPU pinning (needs taskset and 2 CPUs)"
fi

if [ "$need_anchors" = 1 ]; then
	say "building the anchors from $anchors and the load generators"
	$cc -O2 -o "$tmp/loadgen" "$anchors/loadgen.c" ||
	    die "cannot build loadgen"
	$cc -O2 -o "$tmp/echo_epoll" "$anchors/echo_epoll.c" ||
	    die "cannot build echo_epoll"
	$cc -O2 -o "$tmp/echo_libuv" "$anchors/echo_libuv.c" -luv ||
	    die "cannot build echo_libuv"
fi
$cc -O2 -o "$tmp/shortconn" "$here/shortconn.c" || die "cannot build shortconn"
$cc -O2 -o "$tmp/idlehold" "$here/idlehold.c" || die "cannot build idlehold"

# ---- BENCH_INSTALL ----------------------------------------------------------

# BENCH_INSTALL=1: the peers that are missing, from Debian's archive.  On
# a host with systemd the packages start their own services (nginx on
# port 80), which stay idle beside the bench's instances on other ports;
# bench/README.md says how to stop them.
if [ "${BENCH_INSTALL:-0}" = 1 ]; then
	pkgs=
	have_cmd nginx || pkgs="$pkgs nginx-light"
	[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] ||
	    pkgs="$pkgs libnginx-mod-stream"
	have_cmd haproxy || pkgs="$pkgs haproxy"
	have_cmd wrk || pkgs="$pkgs wrk"
	have_cmd openssl || pkgs="$pkgs openssl"
	if [ -n "$pkgs" ]; then
		say "BENCH_INSTALL: apt-get install$pkgs"
		# shellcheck disable=SC2086
		if DEBIAN_FRONTEND=noninteractive apt-get -o \
		    DPkg::Lock::Timeout=300 install -y --no-install-recommends \
		    $pkgs >"$tmp/apt.log" 2>&1; then
			changes+=("installed$pkgs (BENCH_INSTALL=1)")
		else
			note "BENCH_INSTALL: apt-get install$pkgs failed: $(tail \
			    -n 1 "$tmp/apt.log")"
		fi
	fi
fi

# ---- TLS: the certificate, the client, the anchor -------------------------

# One ECDSA P-256 certificate for every TLS server, made for this run (it
# expires in two days and is removed with the temp dir); HAProxy wants the
# key in the same file.  tlsload offers only TLS 1.3,
# TLS_AES_128_GCM_SHA256 and X25519, and checks that every server
# presents this certificate.
tlsload=$build/bench/tlsload
echo_tls=$build/bench/echo_libuv_tls
tlsdir=$tmp/tls
tls_why=
if ! have_cmd openssl; then
	tls_why="skipped: no openssl command (apt-get install openssl)"
elif [ ! -x "$tlsload" ] || [ ! -x "$echo_tls" ]; then
	tls_why="not built (make bench builds bench/tlsload and bench/echo_libuv_tls)"
else
	mkdir -p "$tlsdir"
	if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 2 -subj /CN=bench.weft \
	    -addext subjectAltName=DNS:bench.weft,IP:127.0.0.1 \
	    -keyout "$tlsdir/key.pem" -out "$tlsdir/cert.pem" \
	    >"$tlsdir/openssl.log" 2>&1; then
		cat "$tlsdir/cert.pem" "$tlsdir/key.pem" >"$tlsdir/haproxy.pem"
	else
		tls_why="skipped: openssl req failed ($(tail -n 1 \
		    "$tlsdir/openssl.log"))"
	fi
fi

# ---- Processes -------------------------------------------------------------

# launch LOG PIN CMD...: start CMD in a process group of its own, pinned;
# sets $lpid (= its pgid).
launch() {
	local log=$1 pin=$2
	shift 2
	# shellcheck disable=SC2086
	setsid $pin "$@" >>"$log" 2>&1 </dev/null &
	lpid=$!
	groups="$groups$lpid "
}

# reap PGID: TERM the group, KILL it after 5 s, wait for the leader.
reap() {
	local g=$1 i=0
	[ -n "$g" ] || return 0
	kill -TERM -- "-$g" 2>/dev/null
	while [ $i -lt 50 ] &&
	    ps -o stat= -s "$g" 2>/dev/null | grep -qv '^Z'; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL -- "-$g" 2>/dev/null
	wait "$g" 2>/dev/null
	groups=${groups/ $g / }
}

# Something listens on 127.0.0.1:$1 (or on any address).
listening() {
	local hex
	hex=$(printf '%04X' "$1")
	grep -q ":$hex 00000000:0000 0A " /proc/net/tcp 2>/dev/null
}

# Server ports come from outside the ephemeral range: the clients'
# TIME_WAIT entries sit on ephemeral ports, and a server bound to one of
# those would fail with EADDRINUSE.
read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null ||
    { eph_lo=32768; eph_hi=60999; }
if [ "$eph_lo" -ge 12000 ]; then
	port_base=10000
	port_span=$((eph_lo - 10000))
elif [ "$eph_hi" -le 63000 ]; then
	port_base=$((eph_hi + 1))
	port_span=$((65535 - eph_hi))
else
	port_base=20000
	port_span=30000
	note "ip_local_port_range is $eph_lo-$eph_hi: server ports may" \
	    "collide with client ports"
fi
used_ports=" "
free_port() {
	local p
	while :; do
		p=$((port_base + RANDOM % port_span))
		case $used_ports in *" $p "*) continue ;; esac
		listening "$p" || break
	done
	used_ports="$used_ports$p "
	echo "$p"
}

kib() {
	awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ---- idlescale: the kernel's limits -------------------------------------------

# scale_limits: whether this machine lets idlescale's scale_n connections
# through: sets scale_why (empty, or why the section cannot run),
# scale_backlog (the listeners' backlog), scale_inflight (connections
# each generator has in flight) and scale_k (source addresses each
# generator binds); what is too small but only slows the run down, or
# may make it fail, is a note.
scale_limits() {
	local somax fmax span ctmax ctcnt total

	scale_why=
	if [ "$scale_max_w" -gt $((nofile - 256)) ]; then
		scale_why="not measured: $scale_per_w connections a worker (+20 %) do not fit RLIMIT_NOFILE $nofile; raise BENCH_SCALE_WORKERS"
		return
	fi
	if [ $((scale_per_g + 64)) -gt "$nofile" ]; then
		scale_why="not measured: $scale_per_g connections a load generator do not fit RLIMIT_NOFILE $nofile; raise BENCH_SCALE_GENS"
		return
	fi
	# Each connection is two sockets on this machine, weftd's and the
	# generator's.
	fmax=$(cat /proc/sys/fs/file-max 2>/dev/null || echo 0)
	[ "$fmax" -lt $((2 * scale_n + 65536)) ] &&
	    note "fs.file-max is $fmax, below the $((2 * scale_n + 65536))" \
	    "that idlescale's two sockets a connection need: connections" \
	    "may fail with ENFILE (sysctl -w fs.file-max=...)"
	# Completed handshakes wait in the listeners' accept queues, which
	# net.core.somaxconn caps; what overflows is retried a second later.
	somax=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 4096)
	scale_backlog=$somax
	[ "$scale_backlog" -gt 4096 ] && scale_backlog=4096
	[ "$somax" -lt 1024 ] &&
	    note "net.core.somaxconn is $somax: idlescale keeps fewer" \
	    "connections in flight, its connecting phase is slower" \
	    "(sysctl -w net.core.somaxconn=4096)"
	total=$scale_backlog
	[ "$scale_sock" = reuse_port ] && total=$((scale_backlog * scale_w))
	scale_inflight=$((total / scale_gens))
	[ "$scale_inflight" -gt 256 ] && scale_inflight=256
	[ "$scale_inflight" -lt 8 ] && scale_inflight=8
	# A source address reaches the one listener from span ports; the
	# closed connections of the wave before sit in TIME_WAIT on the
	# generator's side: leave room for three waves' worth.
	span=$((eph_hi - eph_lo + 1))
	scale_k=$(((3 * scale_per_g + span - 1) / span))
	[ "$scale_k" -lt 2 ] && scale_k=2
	if [ $((scale_k * scale_gens)) -gt 254 ]; then
		scale_why="not measured: net.ipv4.ip_local_port_range $eph_lo-$eph_hi is too narrow: $((scale_k * scale_gens)) source addresses in 127.0.0.0/24 would be needed"
		return
	fi
	[ "$span" -lt 10000 ] &&
	    note "net.ipv4.ip_local_port_range is $eph_lo-$eph_hi: idlescale" \
	    "binds $scale_k source addresses per generator to fit"
	# Where connection tracking is loaded, a full table drops handshakes.
	if [ -r /proc/sys/net/netfilter/nf_conntrack_max ]; then
		ctmax=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
		ctcnt=$(cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null ||
		    echo 0)
		[ "$ctmax" -lt $((ctcnt + scale_n)) ] &&
		    note "net.netfilter.nf_conntrack_max is $ctmax ($ctcnt in" \
		    "use): if loopback is tracked, idlescale's $scale_n" \
		    "connections overflow it and handshakes are dropped"
	fi
	return 0
}

# ---- weftd -----------------------------------------------------------------

# weftd_conf FILE WORKERS PORT PLUGIN PATH SETTINGS TOP LISTEN: a
# libconfig file with one listener.
weftd_conf() {
	cat >"$1" <<EOF
# written by bench/run.sh
workers = $2;
log_level = "warning";
shutdown_timeout = 1.0;
plugin_dir = "$plugdir";
$7
plugins = {
	$4 = { path = "$5"; $6 };
};
listen = (
	{ name = "bench"; tcp = "127.0.0.1:$3"; plugin = "$4"; $8 }
);
EOF
}

# weftd_status CTL: the supervisor's status, or nothing.
weftd_status() {
	"$weftd" -s status -C "$1" 2>/dev/null
}

# Worker rows of a status: "slot pid gen uptime accepted active restarts
# emfile_pauses", then the TLS counters where weftd has them; ready ones
# only.
weftd_workers() {
	awk '$1 ~ /^[0-9]+$/ && NF >= 8'
}

# start_weftd ID WORKERS PIN: start weftd on $tmp/ID.conf; waits until
# every worker is ready; sets spid, wpids, ctl (sport is in the conf).
start_weftd() {
	local id=$1 n=$2 pin=$3 i=0 st
	ctl=$tmp/$id.sock
	rm -f "$ctl"
	launch "$tmp/$id.log" "$pin" "$weftd" -c "$tmp/$id.conf" -C "$ctl"
	spid=$lpid
	wpids=
	while [ $i -lt 200 ]; do
		st=$(weftd_status "$ctl")
		wpids=$(echo "$st" | weftd_workers | awk '{ print $2 }')
		if [ "$(echo "$wpids" | grep -c .)" -eq "$n" ]; then
			return 0
		fi
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
		i=$((i + 1))
	done
	wpids=
	return 1
}

# ---- TLS servers' configuration -----------------------------------------------

# weftd's TLS profile (a listener takes it with tls = "site").
weft_tls="tls = { site = { cert = \"$tlsdir/cert.pem\"; key = \"$tlsdir/key.pem\"; }; };"

# nginx_tls_conf KIND PORT UPORT: an nginx config in $tmp/KIND, one
# worker, the run's certificate, TLS 1.3 with TLS_AES_128_GCM_SHA256 and
# X25519.  nginx-stream answers "x" after the handshake and closes (nginx
# stream has no echo: tlsload's greet), nginx-streamp terminates TLS in
# front of the plain echo on UPORT, nginx-tls is the http row's return
# 200 with http-hello's body.
nginx_tls_conf() {
	local kind=$1 port=$2 uport=$3 d=$tmp/$1 tls
	mkdir -p "$d"
	tls="ssl_certificate $tlsdir/cert.pem;
	ssl_certificate_key $tlsdir/key.pem;
	ssl_protocols TLSv1.3;
	ssl_ecdh_curve X25519;
	ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;"
	{
		[ "$kind" != nginx-tls ] && [ -n "$nginx_stream_mod" ] &&
		    echo "load_module $nginx_stream_mod;"
		cat <<EOF
# written by bench/run.sh: one worker, TLS as every TLS server of the run
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 16384; }
EOF
		case $kind in
		nginx-stream)
			cat <<EOF
stream {
	$tls
	server {
		listen 127.0.0.1:$port ssl;
		return "x";
	}
}
EOF
			;;
		nginx-streamp)
			cat <<EOF
stream {
	$tls
	server {
		listen 127.0.0.1:$port ssl;
		proxy_pass 127.0.0.1:$uport;
	}
}
EOF
			;;
		*)
			cat <<EOF
http {
	access_log off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	keepalive_requests 1000000;
	keepalive_timeout 600s;
	$tls
	server {
		listen 127.0.0.1:$port ssl;
		location / {
			default_type text/plain;
			return 200 "$body";
		}
	}
}
EOF
			;;
		esac
	} >"$d/nginx.conf"
}

# ---- Servers ---------------------------------------------------------------

# up KIND MODE PIN: start a server of KIND; sets spid (its pgid), sport,
# and for weftd wpids (workers) and ctl; upid for a proxy's upstream.
# Returns 1 if it did not come up.
up() {
	local kind=$1 mode=$2 pin=$3 i=0 uport
	spid=
	wpids=
	upid=
	sport=$(free_port)
	case $kind in
	weftd-echo)
		weftd_conf "$tmp/$kind.conf" 1 "$sport" echo echo.so "" "" ""
		start_weftd "$kind" 1 "$pin"
		return
		;;
	weftd-alog)
		weftd_conf "$tmp/$kind.conf" 1 "$sport" echo echo.so "" "" \
		    "access_log = \"$tmp/access.log\";"
		start_weftd "$kind" 1 "$pin"
		return
		;;
	weftd-shared)
		weftd_conf "$tmp/$kind.conf" 1 "$sport" echo echo.so "" \
		    "fiber_stacks = \"shared\";" ""
		start_weftd "$kind" 1 "$pin"
		return
		;;
	weftd-lines)
		weftd_conf "$tmp/$kind.conf" 1 "$sport" lines lines.so "" "" ""
		start_weftd "$kind" 1 "$pin"
		return
		;;
	weftd-cb)
		weftd_conf "$tmp/$kind.conf" 1 "$sport" cb-lines "$cbso" "" "" ""
		start_weftd "$kind" 1 "$pin"
		return
		;;
	weftd-http)
		weftd_conf "$tmp/$kind.conf" 1 "$sport" http-hello \
		    http-hello.so "settings = { body = \"$body\"; };" "" ""
		start_weftd "$kind" 1 "$pin"
		return
		;;
	weftd-tls-echo)
		weftd_conf "$tmp/$kind.conf" 1 "$sport" echo echo.so "" \
		    "$weft_tls" 'tls = "site";'
		start_weftd "$kind" 1 "$pin"
		return
		;;
	weftd-tls-http)
		weftd_conf "$tmp/$kind.conf" 1 "$sport" http-hello \
		    http-hello.so "settings = { body = \"$body\"; };" \
		    "$weft_tls" 'tls = "site";'
		start_weftd "$kind" 1 "$pin"
		return
		;;
	weftd-bal)
		weftd_conf "$tmp/$kind.conf" 2 "$sport" echo echo.so "" "" ""
		start_weftd "$kind" 2 "$pin"
		return
		;;
	weftd-balrp)
		weftd_conf "$tmp/$kind.conf" 2 "$sport" echo echo.so "" "" \
		    "reuse_port = true;"
		start_weftd "$kind" 2 "$pin"
		return
		;;
	weftd-proxy | haproxy | weftd-tls-proxy | haproxy-tls | nginx-streamp)
		# The upstream: bare libuv echo.  Mode "gen" puts it beside the
		# load generator, otherwise it shares the proxy's CPU (see
		# bench/README.md, "proxy").
		uport=$(free_port)
		if [ "$mode" = gen ]; then
			launch "$tmp/servers.log" "$pin_gen" "$tmp/echo_libuv" \
			    "$uport"
		else
			launch "$tmp/servers.log" "$pin" "$tmp/echo_libuv" \
			    "$uport"
		fi
		upid=$lpid
		while [ $i -lt 200 ] && ! listening "$uport"; do
			sleep 0.05
			i=$((i + 1))
		done
		i=0
		case $kind in
		weftd-proxy)
			weftd_conf "$tmp/$kind.conf" 1 "$sport" proxy proxy.so \
			    "settings = { upstream = \"127.0.0.1:$uport\"; };" \
			    "" ""
			start_weftd "$kind" 1 "$pin"
			return
			;;
		weftd-tls-proxy)
			weftd_conf "$tmp/$kind.conf" 1 "$sport" proxy proxy.so \
			    "settings = { upstream = \"127.0.0.1:$uport\"; };" \
			    "$weft_tls" 'tls = "site";'
			start_weftd "$kind" 1 "$pin"
			return
			;;
		nginx-streamp)
			nginx_tls_conf "$kind" "$sport" "$uport"
			launch "$tmp/$kind/out.log" "$pin" nginx -p "$tmp/$kind" \
			    -e "$tmp/$kind/error.log" -c "$tmp/$kind/nginx.conf"
			spid=$lpid
			wait_listen
			return
			;;
		esac
		# Two descriptors a connection; HAProxy refuses to start if
		# the limit cannot hold maxconn.
		hp_maxconn=$(((nofile - 100) / 2))
		[ "$hp_maxconn" -gt 4096 ] && hp_maxconn=4096
		# TLS: the settings every TLS server of the run has, and a
		# reset rather than a FIN towards the upstream, so that the
		# handshake rows' short connections leave no TIME_WAIT.
		hp_global= hp_bind= hp_opt=
		if [ "$kind" = haproxy-tls ]; then
			hp_global="    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
    ssl-default-bind-curves X25519
    ssl-default-bind-options ssl-min-ver TLSv1.3"
			hp_bind=" ssl crt $tlsdir/haproxy.pem"
			hp_opt="    option nolinger"
		fi
		cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn $hp_maxconn
$hp_global
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
$hp_opt
frontend bench
    bind 127.0.0.1:$sport$hp_bind
    default_backend echo
backend echo
    server echo 127.0.0.1:$uport
EOF
		launch "$tmp/haproxy.log" "$pin" haproxy -db -f "$tmp/haproxy.cfg"
		;;
	example)
		if [ "$mode" = lines ]; then
			launch "$tmp/servers.log" "$pin" "$example" --lines \
			    127.0.0.1 "$sport"
		else
			launch "$tmp/servers.log" "$pin" "$example" 127.0.0.1 \
			    "$sport"
		fi
		;;
	libuv)
		launch "$tmp/servers.log" "$pin" "$tmp/echo_libuv" "$sport"
		;;
	libuv-tls)
		launch "$tmp/servers.log" "$pin" "$echo_tls" "$sport" \
		    "$tlsdir/cert.pem" "$tlsdir/key.pem"
		;;
	nginx-stream | nginx-tls)
		nginx_tls_conf "$kind" "$sport" ""
		launch "$tmp/$kind/out.log" "$pin" nginx -p "$tmp/$kind" \
		    -e "$tmp/$kind/error.log" -c "$tmp/$kind/nginx.conf"
		;;
	epoll)
		launch "$tmp/servers.log" "$pin" "$tmp/echo_epoll" "$sport"
		;;
	node)
		launch "$tmp/servers.log" "$pin" node "$anchors/echo_node.js" \
		    "$sport"
		;;
	asyncio)
		launch "$tmp/servers.log" "$pin" "$py" \
		    "$anchors/echo_asyncio.py" "$sport" "$mode"
		;;
	uvloop)
		launch "$tmp/servers.log" "$pin" "$py" \
		    "$anchors/echo_asyncio.py" "$sport" "$mode" uvloop
		;;
	nodehttp)
		launch "$tmp/servers.log" "$pin" node "$here/http_node.js" \
		    "$sport" "$body_bytes"
		;;
	nginx)
		mkdir -p "$tmp/nginx"
		cat >"$tmp/nginx/nginx.conf" <<EOF
# written by bench/run.sh: one worker, return 200 with http-hello's body
worker_processes 1;
daemon off;
master_process on;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	# weftd's http-hello never closes a keep-alive connection; nginx's
	# default closes one after 1000 requests.
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$sport;
		location / {
			default_type text/plain;
			return 200 "$body";
		}
	}
}
EOF
		launch "$tmp/nginx/out.log" "$pin" nginx -p "$tmp/nginx" \
		    -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf"
		;;
	*)
		die "unknown server kind $kind"
		;;
	esac
	spid=$lpid
	wait_listen
}

# wait_listen: until $sport listens (0), or $spid is gone or 10 s went
# by (1).
wait_listen() {
	local i=0

	while [ $i -lt 200 ]; do
		listening "$sport" && return 0
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

down() {
	reap "$spid"
	reap "$upid"
	spid=
	upid=
	wpids=
}

# ---- What is installed -------------------------------------------------------

have() {
	command -v "$1" >/dev/null 2>&1
}

declare -A skip	# kind -> why it is not measured
[ -f "$cbso" ] ||
    skip[weftd-cb]="not built (make check TESTS= builds tests/plugins)"
[ -x "$example" ] || skip[example]="no $example"
have node || { skip[node]="skipped: not installed (apt-get install nodejs)"
	skip[nodehttp]=${skip[node]}; }
if [ -x "$py" ]; then
	"$py" -c 'import uvloop' 2>/dev/null ||
	    skip[uvloop]="skipped: not installed (apt-get install python3-uvloop)"
else
	skip[asyncio]="skipped: no $py"
	skip[uvloop]="skipped: no $py"
fi
have nginx || skip[nginx]="skipped: not installed (apt-get install nginx)"
have haproxy || skip[haproxy]="skipped: not installed (apt-get install haproxy)"
have wrk || for k in weftd-http nginx nodehttp; do
	skip[$k]="skipped: wrk not installed (apt-get install wrk)"
done
# TLS: the same certificate and client for all; nginx's stream module is
# a package of its own on Debian (libnginx-mod-stream).
nginx_stream_mod=
if have nginx; then
	if nginx -V 2>&1 | grep -q -- '--with-stream=dynamic'; then
		for m in /usr/lib/nginx/modules/ngx_stream_module.so \
		    /usr/share/nginx/modules/ngx_stream_module.so; do
			[ -f "$m" ] && nginx_stream_mod=$m && break
		done
		[ -n "$nginx_stream_mod" ] || for k in nginx-stream nginx-streamp; do
			skip[$k]="skipped: no stream module (apt-get install libnginx-mod-stream)"
		done
	elif ! nginx -V 2>&1 | grep -q -- '--with-stream'; then
		for k in nginx-stream nginx-streamp; do
			skip[$k]="skipped: nginx built without stream"
		done
	fi
fi
for k in nginx-stream nginx-streamp nginx-tls; do
	[ -z "${skip[$k]:-}" ] && ! have nginx &&
	    skip[$k]="skipped: not installed (apt-get install nginx-light libnginx-mod-stream)"
done
have haproxy ||
    skip[haproxy-tls]="skipped: not installed (apt-get install haproxy)"
if [ -n "$tls_why" ]; then
	for k in weftd-tls-echo weftd-tls-http weftd-tls-proxy libuv-tls \
	    nginx-stream nginx-streamp nginx-tls haproxy-tls; do
		skip[$k]=$tls_why
	done
else
	# weftd with TLS listeners: being built.  weftd -t refuses the
	# keys while they do not exist.
	weftd_conf "$tmp/tlsprobe.conf" 1 "$(free_port)" echo echo.so "" \
	    "$weft_tls" 'tls = "site";'
	if ! "$weftd" -t -c "$tmp/tlsprobe.conf" >"$tmp/tlsprobe.out" 2>&1; then
		why="not built (weftd: $(grep -v 'plugins OK' \
		    "$tmp/tlsprobe.out" | head -n 1 | sed 's/^[^ ]*conf:[0-9]*: //'))"
		for k in weftd-tls-echo weftd-tls-http weftd-tls-proxy; do
			skip[$k]=$why
		done
	fi
fi
if [ "$peers" = 0 ]; then
	for k in epoll node asyncio nodehttp example; do
		skip[$k]="skipped: BENCH_PEERS=0"
	done
fi

# fiber_stacks = shared: being built.  weftd -t refuses the key while it
# does not exist; a worker that cannot do it says so in its log.
weftd_conf "$tmp/probe.conf" 1 "$(free_port)" echo echo.so "" \
    "fiber_stacks = \"shared\";" ""
if ! "$weftd" -t -c "$tmp/probe.conf" >"$tmp/probe.out" 2>&1; then
	skip[weftd-shared]="not built (weftd: $(grep -v 'plugins OK' \
	    "$tmp/probe.out" | head -n 1 | sed 's/^[^ ]*conf:[0-9]*: //'))"
elif up weftd-shared read "$pin_srv"; then
	sleep 0.2
	if grep -q 'not available' "$tmp/weftd-shared.log"; then
		skip[weftd-shared]="not built ($(grep 'not available' \
		    "$tmp/weftd-shared.log" | head -n 1 | sed 's/.*: //'))"
	fi
	down
else
	skip[weftd-shared]="not built (weftd with fiber_stacks = shared did not start)"
	down
fi

ok() {
	[ -z "${skip[$1]:-}" ]
}

# ---- Labels ------------------------------------------------------------------

label() {
	case $1:$2 in
	*:weftd-echo) echo "weftd echo, 1 worker" ;;
	*:weftd-shared) echo "weftd echo, 1 w., fiber_stacks = shared" ;;
	*:weftd-alog) echo "weftd echo, 1 worker, access_log on" ;;
	*:weftd-lines) echo "weftd lines, 1 worker" ;;
	*:weftd-cb) echo "weftd cb-lines (callback mode), 1 w." ;;
	*:weftd-http) echo "weftd http-hello, 1 worker" ;;
	*:weftd-proxy) echo "weftd proxy, 1 worker" ;;
	*:weftd-bal) echo "weftd echo, 2 workers, shared socket" ;;
	*:weftd-balrp) echo "weftd echo, 2 workers, reuse_port" ;;
	lines:example) echo "weft tcp-echo-server --lines" ;;
	*:example) echo "weft tcp-echo-server (example)" ;;
	lines:libuv) echo "libuv echo_libuv.c (raw echo)" ;;
	*:libuv) echo "libuv echo_libuv.c" ;;
	lines:epoll) echo "epoll echo_epoll.c (raw echo)" ;;
	*:epoll) echo "epoll echo_epoll.c" ;;
	lines:node) echo "node echo_node.js (raw echo)" ;;
	*:node) echo "node echo_node.js" ;;
	lines:asyncio) echo "asyncio readline()" ;;
	*:asyncio) echo "asyncio echo_asyncio.py" ;;
	lines:uvloop) echo "uvloop readline()" ;;
	*:uvloop) echo "uvloop echo_asyncio.py" ;;
	*:nginx) echo "nginx return 200, 1 worker" ;;
	*:nodehttp) echo "node http (bench/http_node.js)" ;;
	*:haproxy) echo "haproxy mode tcp, nbthread 1" ;;
	*:weftd-tls-echo) echo "weftd echo, tls listener, 1 worker" ;;
	*:weftd-tls-http) echo "weftd http-hello, tls, 1 worker" ;;
	*:weftd-tls-proxy) echo "weftd proxy, tls listener, 1 worker" ;;
	*:libuv-tls) echo "libuv+OpenSSL echo_libuv_tls.c" ;;
	*:nginx-stream) echo "nginx stream ssl, return \"x\"" ;;
	*:nginx-streamp) echo "nginx stream ssl, proxy_pass" ;;
	*:nginx-tls) echo "nginx http ssl, return 200" ;;
	tlsfull:haproxy-tls | tlsresume:haproxy-tls)
		echo "haproxy tcp, ssl crt (+ upstream)" ;;
	*:haproxy-tls) echo "haproxy tcp, bind ssl crt" ;;
	*) echo "$2" ;;
	esac
}

# ---- Throughput jobs, interleaved rounds -----------------------------------------

jobs=()
addjob() {	# WORKLOAD KIND...
	local wl=$1 k
	shift
	want "$wl" || return 0
	for k in "$@"; do
		jobs+=("$wl:$k")
	done
}
addjob echo weftd-echo weftd-shared example libuv epoll node uvloop asyncio
addjob lines weftd-lines weftd-cb example libuv epoll node uvloop asyncio
addjob accept weftd-echo libuv epoll
addjob http weftd-http nginx nodehttp
addjob proxy weftd-proxy haproxy
addjob proxyg weftd-proxy haproxy
# The access log's cost: echo with it off and on, on long connections
# (alog) and on short ones (alogacc: a line per connection).
if want alog; then
	addjob alog weftd-echo weftd-alog
	addjob alogacc weftd-echo weftd-alog
fi
# TLS.  Handshake rows: tlsload full / resume, one exchange a connection;
# the rest: keep-alive exchanges on $conns connections.
if want tlshs; then
	addjob tlsfull weftd-tls-echo libuv-tls nginx-stream haproxy-tls
	addjob tlsresume weftd-tls-echo libuv-tls nginx-stream haproxy-tls
fi
want tlsecho && addjob tlsecho weftd-tls-echo libuv-tls
want tlshttp && addjob tlshttp weftd-tls-http nginx-tls
want tlsproxy && addjob tlsproxy weftd-tls-proxy haproxy-tls nginx-streamp

# The body each http server sends, checked once.
http_check() {
	local got
	[ -x "$py" ] || return 0
	got=$("$py" - "$sport" <<'EOF' 2>&1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
head, _, rest = data.partition(b"\r\n\r\n")
n = 0
for line in head.split(b"\r\n")[1:]:
    k, _, v = line.partition(b":")
    if k.strip().lower() == b"content-length":
        n = int(v)
while len(rest) < n:
    chunk = s.recv(4096)
    if not chunk:
        break
    rest += chunk
print(head.split(b"\r\n")[0].decode(), repr(rest[:n].decode()))
EOF
)
	echo "$got" >>"$tmp/http-check"
	case $got in
	"HTTP/1.1 200 OK 'Hello, world!\\n'") ;;
	*) note "http check of $1: $got" ;;
	esac
}

# parse_wrk: "req/s p99_us errors" from wrk --latency output.
parse_wrk() {
	awk '
	/^Requests\/sec:/ { r = $2 }
	$1 == "99%" {
		v = $2
		if (v ~ /us$/) { sub(/us$/, "", v); v += 0 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); v *= 1000 }
		else if (v ~ /m$/) { sub(/m$/, "", v); v *= 60e6 }
		else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1e6 }
		p = v
	}
	/Non-2xx or 3xx/ { e += $NF }
	/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
	END { if (r == "") print "- - 1"; else printf "%.0f %.0f %d\n", r, p, e }'
}

# cpu_ns PGID: CPU time so far, in ns, of every thread of every process in
# group PGID (/proc/PID/task/TID/schedstat, time on a CPU: this VM's
# utime/stime ticks read near 0 for a busy process).  A proxy's upstream
# has a group of its own, so it is not counted.
cpu_ns() {
	local p f t=0 v
	for p in $(pgrep -g "$1" 2>/dev/null); do
		for f in /proc/"$p"/task/*/schedstat; do
			read -r v _ <"$f" 2>/dev/null || continue
			t=$((t + v))
		done
	done
	echo "$t"
}

# A result line: "value p99_us errors cpu_us_per_unit"; the last is the
# server's CPU time over the run divided by what it completed, which
# tells two servers apart when the load generator is the one that is
# saturated (then both reach the same value).
run_job() {
	local wl=${1%%:*} kind=${1#*:} r=$2 mode=read out res c0 c1
	ok "$kind" || return 0
	[ "$wl" = lines ] && mode=lines
	[ "$wl" = proxyg ] && mode=gen
	if ! up "$kind" "$mode" "$pin_srv"; then
		say "round $r $wl $kind: did not start"
		note "$wl $kind did not start in round $r"
		down
		# One line per round keeps the rounds of two kinds paired.
		case $wl in
		tls*) echo "- - 1 - 0 0 0" >>"$tmp/r.$wl.$kind" ;;
		*) echo "- - 1 -" >>"$tmp/r.$wl.$kind" ;;
		esac
		return 0
	fi
	sleep 0.2
	c0=$(cpu_ns "$spid")
	case $wl in
	tls*)
		tls_job "$wl" "$kind" "$r" "$c0"
		return 0
		;;
	echo | proxy | proxyg | alog)
		out=$($pin_gen "$tmp/loadgen" "127.0.0.1:$sport" "$conns" 1024 \
		    "$secs")
		res=$(echo "$out" | awk '$1 == "reqs/s" { print $2, $8, $10 }')
		;;
	lines)
		out=$($pin_gen "$tmp/loadgen" "127.0.0.1:$sport" "$conns" 64 \
		    "$secs" lines)
		res=$(echo "$out" | awk '$1 == "reqs/s" { print $2, $8, $10 }')
		;;
	accept | alogacc)
		out=$($pin_gen "$tmp/shortconn" "127.0.0.1:$sport" \
		    "$acc_clients" "$secs" 0 "$srcaddrs")
		res=$(echo "$out" | awk '$1 == "conns/s" { print $2, $8, $10 }')
		;;
	http)
		[ "$r" = 1 ] && http_check "$kind"
		out=$($pin_gen wrk -t1 -c"$conns" -d"${secs}s" --latency \
		    "http://127.0.0.1:$sport/" 2>&1)
		res=$(echo "$out" | parse_wrk)
		out=$(echo "$out" | grep -E '^Requests/sec|99%|Non-2xx|Socket' |
		    tr -s ' \n' ' ')
		;;
	esac
	c1=$(cpu_ns "$spid")
	down
	say "round $r $wl $kind: $out"
	[ -n "$res" ] || res="- - 1"
	res="$res $(echo "$res" | awk -v c=$((c1 - c0)) -v s="$secs" '
	    $1 != "-" && $1 + 0 > 0 { printf "%.2f", c / 1000 / ($1 * s); next }
	    { print "-" }')"
	echo "$res" >>"$tmp/r.$wl.$kind"
}

# tls_proto KIND: what one tlsload exchange is with this server.
tls_proto() {
	case $1 in
	nginx-stream) echo greet ;;
	weftd-tls-http | nginx-tls) echo http ;;
	*) echo echo ;;
	esac
}

# tls_job WORKLOAD KIND ROUND C0: the tlsload run of a TLS job, the
# server being up since CPU time C0.  Appends "rate p99_us errors
# cpu_us_per_unit handshakes resumed not_resumed" to $tmp/r.WORKLOAD.KIND,
# where the unit is a handshake in tlsfull and tlsresume and a request
# otherwise; a run whose handshakes failed or did not resume is noted.
tls_job() {
	local wl=$1 kind=$2 r=$3 c0=$4 tmode=keep size=1024 out res c1
	case $wl in
	tlsfull) tmode=full size=1 ;;
	tlsresume) tmode=resume size=1 ;;
	esac
	out=$($pin_gen "$tlsload" "127.0.0.1:$sport" "$tmode" \
	    "$(tls_proto "$kind")" "$conns" "$secs" "$size" \
	    "$tlsdir/cert.pem" 2>"$tmp/tlsload.err")
	c1=$(cpu_ns "$spid")
	down
	res=$(echo "$out" | awk -v c=$((c1 - c0)) -v m="$tmode" '
	    $1 == "handshakes" {
		n = m == "keep" ? $8 : $2
		cpu = n > 0 ? sprintf("%.2f", c / 1000 / n) : "-"
		print (n > 0 ? $14 : "-"), $16, $10, cpu, $2, $4, $6 }')
	[ -n "$res" ] || res="- - 1 - 0 0 0"
	say "round $r $wl $kind: $out; server CPU $(echo "$res" |
	    awk '{ print $4 }') us each $(head -c 300 "$tmp/tlsload.err")"
	echo "$res" >>"$tmp/r.$wl.$kind"
	read -r _ _ e _ h rs nr <<<"$res"
	[ "$e" = 0 ] || note "TLS FAILED: $wl $kind round $r: $e errors" \
	    "($(head -n 1 "$tmp/tlsload.err"))"
	if [ "$wl" = tlsresume ] && { [ "$nr" != 0 ] || [ "$rs" != "$h" ]; }; then
		note "TLS FAILED: $wl $kind round $r: only $rs of $h" \
		    "handshakes resumed"
	fi
	return 0
}

njobs=${#jobs[@]}
say "$rounds rounds of ${secs}s runs, $njobs jobs a round"
# Odd rounds run the jobs in order, even rounds in reverse: a pair that
# is compared (weftd and its peer) then swaps places, so a drift of the
# machine over a round does not always favour the one that runs first.
r=1
while [ "$r" -le "$rounds" ]; do
	if [ $((r % 2)) -eq 1 ]; then
		for j in "${jobs[@]}"; do
			run_job "$j" "$r"
		done
	else
		for ((ji = njobs - 1; ji >= 0; ji--)); do
			run_job "${jobs[$ji]}" "$r"
		done
	fi
	r=$((r + 1))
done

# ---- Idle memory -------------------------------------------------------------

# idle_one KIND N TAG: RSS growth per idle connection with N held; appends
# "kib_per_conn held again total_kib secs" to $tmp/r.TAG.KIND.  For weftd
# the worker's growth, and total is supervisor + worker.
idle_one() {
	local kind=$1 n=$2 tag=$3 mpid base now sbase snow i held again tot
	local lim
	ok "$kind" || return 0
	if ! up "$kind" read "$pin_srv"; then
		note "idle $kind did not start"
		down
		return 0
	fi
	if [ -n "$wpids" ]; then
		mpid=$wpids
	else
		mpid=$spid
	fi
	sleep 0.5
	base=$(kib "$mpid")
	sbase=0
	[ "$mpid" != "$spid" ] && sbase=$(kib "$spid")
	: >"$tmp/hold.out"
	$pin_gen "$tmp/idlehold" "127.0.0.1:$sport" "$n" "$srcaddrs" 64 256 \
	    600 >"$tmp/hold.out" 2>"$tmp/hold.err" &
	hpid=$!
	lim=$((1200 + n / 50))	# tenths of a second
	i=0
	while [ $i -lt $lim ] && ! grep -q '^held' "$tmp/hold.out"; do
		kill -0 "$hpid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1
	now=$(kib "$mpid")
	snow=0
	[ "$mpid" != "$spid" ] && snow=$(kib "$spid")
	kill -USR1 "$hpid" 2>/dev/null
	wait "$hpid"
	hpid=
	down
	held=$(awk '$1 == "held" { print $2 }' "$tmp/hold.out")
	again=$(awk '$1 == "again" { print $2 }' "$tmp/hold.out")
	say "idle $kind x $n: base $base KiB (sup $sbase), held: $now KiB" \
	    "(sup $snow); $(tr '\n' ' ' <"$tmp/hold.out")$(head -c 200 \
	    "$tmp/hold.err")"
	if [ -z "$base" ] || [ -z "$now" ]; then
		note "idle $kind x $n: no RSS reading"
		return 0
	fi
	[ "${held:-0}" = "$n" ] ||
	    note "idle $kind x $n: only ${held:-0} answered ($(head -n 1 \
	    "$tmp/hold.err"))"
	echo "$base $now $snow ${held:-0} ${again:-0}" | awk -v n="$n" \
	    '{ printf "%.2f %d %d %d\n", ($2 - $1) / n, $4, $5, $2 + $3 }' \
	    >>"$tmp/r.$tag.$kind"
}

if want idle; then
	say "idle RSS with $idle_n connections"
	for k in weftd-echo weftd-shared weftd-cb example libuv epoll node \
	    asyncio uvloop; do
		idle_one "$k" "$idle_n" idle
	done
fi
if want idlebig; then
	say "idle RSS with $idle_big connections"
	for k in weftd-echo weftd-shared weftd-cb; do
		idle_one "$k" "$idle_big" idlebig
	done
fi

# ---- Idle scale: one weftd, several workers, several load generators ---------------

# scale_conf KIND PORT: $tmp/scale-KIND.conf, scale_w workers on one
# listener (reuse_port or the shared socket), in KIND's fiber mode.
scale_conf() {
	local kind=$1 plugin=echo path=echo.so top= lis

	lis="backlog = $scale_backlog;"
	[ "$scale_sock" = reuse_port ] && lis="$lis reuse_port = true;"
	case $kind in
	weftd-shared) top='fiber_stacks = "shared";' ;;
	weftd-cb) plugin=cb-lines path=$cbso ;;
	esac
	weftd_conf "$tmp/scale-$kind.conf" "$scale_w" "$2" "$plugin" "$path" \
	    "" "$top" "$lis"
}

# kib_sum PID...: the sum of their VmRSS, in KiB.
kib_sum() {
	local p v t=0

	for p in "$@"; do
		v=$(kib "$p")
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# scale_open: start scale_gens idlehold processes on $sport, each with
# its share of scale_n connections over scale_k source addresses of its
# own, and wait until each has had all of its connections answered once
# (or has given up); sets hpids.
scale_open() {
	local g ng first i=0 lim alive p

	hpids=
	for ((g = 0; g < scale_gens; g++)); do
		ng=$((scale_n / scale_gens))
		[ "$g" -lt $((scale_n % scale_gens)) ] && ng=$((ng + 1))
		first=$((g * scale_k + 1))
		# shellcheck disable=SC2086
		$pin_gen "$tmp/idlehold" "127.0.0.1:$sport" "$ng" \
		    "$first-$((first + scale_k - 1))" 64 "$scale_inflight" 900 \
		    >"$tmp/scale.$g.out" 2>"$tmp/scale.$g.err" &
		hpids="$hpids $!"
	done
	lim=$((1200 + scale_n / 50))	# tenths of a second
	while [ $i -lt $lim ]; do
		[ "$(cat "$tmp"/scale.*.out | grep -c '^held')" -ge \
		    "$scale_gens" ] && return 0
		alive=0
		for p in $hpids; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ "$alive" = 1 ] || return 0
		sleep 0.1
		i=$((i + 1))
	done
}

# scale_wave KIND WAVE: scale_open, hold them scale_hold s, read the RSS
# of the supervisor and of every worker and each worker's active
# connections (weftd -s status); have every connection answered again
# and close them all; then wait, at most 30 s, for the workers' RSS to
# come back within 10 % of scale_wbase (the pools give their memory back
# one to two trim periods after the load went away), and two trim
# periods more for what is left to go: after_kib is read then.  Appends
# "wave total_kib sup_kib workers_kib held again after_kib settle_s
# min_active max_active" to $tmp/r.idlescale.KIND, settle_s being when
# the RSS came back within 10 %.
scale_wave() {
	local kind=$1 wave=$2 sk wk act held again after t0 settle i=0

	scale_open
	sleep "$scale_hold"
	sk=$(kib "$spid")
	# shellcheck disable=SC2086
	wk=$(kib_sum $wpids)
	act=$(weftd_status "$ctl" | weftd_workers | awk '{ print $6 }' |
	    sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 }
	    END { print lo + 0, hi + 0 }')
	# shellcheck disable=SC2086
	kill -USR1 $hpids 2>/dev/null
	# shellcheck disable=SC2086
	wait $hpids
	hpids=
	held=$(cat "$tmp"/scale.*.out | awk '$1 == "held" { s += $2 }
	    END { print s + 0 }')
	again=$(cat "$tmp"/scale.*.out | awk '$1 == "again" { s += $2 }
	    END { print s + 0 }')
	t0=$(date +%s%N)
	while :; do
		# shellcheck disable=SC2086
		after=$(kib_sum $wpids)
		[ $((after * 10)) -le $((scale_wbase * 11)) ] && break
		[ $i -ge 300 ] && break
		sleep 0.1
		i=$((i + 1))
	done
	settle=$(awk -v a="$t0" -v b="$(date +%s%N)" \
	    'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	sleep "$(awk -v t="${scale_trim:-5000}" \
	    'BEGIN { printf "%.1f", 2 * t / 1000 }')"
	# shellcheck disable=SC2086
	after=$(kib_sum $wpids)
	say "idlescale $kind wave $wave: sup $sk KiB, workers $wk KiB" \
	    "(before $scale_wbase); held $held, again $again of $scale_n;" \
	    "active per worker $act; after close workers $after KiB in" \
	    "${settle}s $(cat "$tmp"/scale.*.err | head -c 200)"
	echo "$wave $((sk + wk)) $sk $wk $held $again $after $settle $act" \
	    >>"$tmp/r.idlescale.$kind"
}

# scale_one KIND: one weftd with scale_w workers in KIND's fiber mode,
# scale_waves waves of scale_n connections; the supervisor's and the
# workers' RSS before the first go to $tmp/r.scalebase.KIND.  A worker
# that was restarted meanwhile (its RSS would start over) is noted.
scale_one() {
	local kind=$1 w pids0 pids1

	ok "$kind" || return 0
	sport=$(free_port)
	scale_conf "$kind" "$sport"
	if ! WEFT_POOL_TRIM_MS=${scale_trim:-${WEFT_POOL_TRIM_MS:-}} \
	    start_weftd "scale-$kind" "$scale_w" "$pin_srv"; then
		note "idlescale $kind did not start ($(head -n 1 \
		    "$tmp/scale-$kind.log"))"
		down
		return 0
	fi
	sleep 1
	# shellcheck disable=SC2086
	scale_wbase=$(kib_sum $wpids)
	echo "$(kib "$spid") $scale_wbase" >"$tmp/r.scalebase.$kind"
	pids0=$(echo "$wpids" | sort | tr '\n' ' ')
	for ((w = 1; w <= scale_waves; w++)); do
		scale_wave "$kind" "$w"
	done
	pids1=$(weftd_status "$ctl" | weftd_workers | awk '{ print $2 }' |
	    sort | tr '\n' ' ')
	if [ "$pids0" != "$pids1" ]; then
		note "idlescale $kind: workers $pids0 became $pids1 (restarted)"
		echo restarted >"$tmp/r.scalerestart.$kind"
	fi
	down
}

scale_why="not measured"
scale_k=- scale_backlog=511 scale_inflight=256
if want idlescale; then
	scale_limits
	if [ -z "$scale_why" ]; then
		say "idle scale: $scale_n connections, $scale_w workers" \
		    "($scale_sock), $scale_gens generators x $scale_k source" \
		    "addresses, $scale_waves waves held ${scale_hold}s, trim" \
		    "period ${scale_trim:-5000} ms"
		for k in weftd-echo weftd-shared weftd-cb; do
			scale_one "$k"
		done
	fi
fi

# tls_idle_one KIND N: RSS growth per idle TLS connection, N handshaken
# and answered once (tlsload idle), of weftd's worker, nginx's worker or
# the anchor's process; appends "kib_per_conn held again" to
# $tmp/r.tlsidle.KIND.
tls_idle_one() {
	local kind=$1 n=$2 mpid base now i=0 lim held again
	ok "$kind" || return 0
	if ! up "$kind" read "$pin_srv"; then
		note "idle TLS $kind did not start"
		down
		return 0
	fi
	mpid=$spid
	[ -n "$wpids" ] && mpid=$wpids
	[ "$kind" = nginx-tls ] && mpid=$(pgrep -P "$spid" | head -n 1)
	sleep 0.5
	base=$(kib "$mpid")
	: >"$tmp/hold.out"
	$pin_gen "$tlsload" "127.0.0.1:$sport" idle "$(tls_proto "$kind")" \
	    "$n" 600 64 "$tlsdir/cert.pem" >"$tmp/hold.out" \
	    2>"$tmp/hold.err" &
	hpid=$!
	lim=$((1200 + n / 20))	# tenths of a second
	while [ $i -lt $lim ] && ! grep -q '^held' "$tmp/hold.out"; do
		kill -0 "$hpid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1
	now=$(kib "$mpid")
	kill -USR1 "$hpid" 2>/dev/null
	wait "$hpid"
	hpid=
	down
	held=$(awk '$1 == "held" { print $2 }' "$tmp/hold.out")
	again=$(awk '$1 == "again" { print $2 }' "$tmp/hold.out")
	say "idle TLS $kind x $n: base $base KiB, held: $now KiB;" \
	    "$(tr '\n' ' ' <"$tmp/hold.out")$(head -c 200 "$tmp/hold.err")"
	if [ -z "$base" ] || [ -z "$now" ]; then
		note "idle TLS $kind x $n: no RSS reading"
		return 0
	fi
	[ "${held:-0}" = "$n" ] && [ "${again:-0}" = "$n" ] ||
	    note "TLS FAILED: idle $kind x $n: ${held:-0} held, ${again:-0}" \
	    "answered again ($(head -n 1 "$tmp/hold.err"))"
	echo "$base $now ${held:-0} ${again:-0}" | awk -v n="$n" \
	    '{ printf "%.2f %d %d\n", ($2 - $1) / n, $3, $4 }' \
	    >>"$tmp/r.tlsidle.$kind"
}
if want tlsidle; then
	say "idle TLS with $idle_n connections"
	for k in weftd-tls-echo libuv-tls nginx-tls; do
		tls_idle_one "$k" "$idle_n"
	done
fi

# ---- Balance ---------------------------------------------------------------------

# Two workers, unpinned (a worker per CPU is what workers = 2 is for on
# this box), bal_n short connections from shortconn, then each worker's
# "accepted" from weftd -s status (the heartbeat refreshes it every
# second).
bal_one() {
	local kind=$1 out i=0 st acc sum
	if ! up "$kind" read ""; then
		note "balance $kind did not start"
		down
		return 0
	fi
	sleep 0.3
	out=$("$tmp/shortconn" "127.0.0.1:$sport" "$acc_clients" 120 "$bal_n" \
	    "$srcaddrs")
	while [ $i -lt 50 ]; do
		st=$(weftd_status "$ctl")
		acc=$(echo "$st" | weftd_workers | awk '{ print $5 }' |
		    tr '\n' ' ')
		sum=$(echo "$acc" | awk '{ for (i = 1; i <= NF; i++) s += $i }
		    END { print s + 0 }')
		[ "$sum" -ge "$bal_n" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	down
	say "balance $kind: $out; accepted per worker: $acc"
	echo "$acc" | awk -v out="$out" '{
		mx = $1; mn = $1
		for (i = 2; i <= NF; i++) {
			if ($i > mx) mx = $i
			if ($i < mn) mn = $i
		}
		split(out, o, " ")
		sh = $1; for (i = 2; i <= NF; i++) sh = sh "/" $i
		if (mn > 0) printf "%.2f %s %s\n", mx / mn, sh, o[10]
		else printf "inf %s %s\n", sh, o[10] }' >"$tmp/r.balance.$kind"
}
: >"$tmp/r.ballong"
if want balance; then
	say "balance: workers = 2, $bal_n short connections"
	bal_one weftd-bal
	bal_one weftd-balrp
	# Long-lived connections (accept_balance), counted from /proc.
	say "balance: long-lived connections (bench/balance_long.py)"
	WEFTD=$weftd PLUGIN_DIR=$plugdir $py "$here/balance_long.py" \
	    >"$tmp/r.ballong" 2>"$tmp/ballong.err" ||
	    note "balance_long.py failed: $(tail -n 1 "$tmp/ballong.err")"
fi

# ---- Fiber switch ---------------------------------------------------------------

: >"$tmp/fiber.out"
if want fiber; then
	say "fiber_switch $yields"
	$pin_srv "$fiber_switch" "$yields" >"$tmp/fiber.out" ||
	    note "fiber_switch failed"
fi
[ -n "$only_list" ] &&
    note "BENCH_ONLY=$only_list: only these sections ran, not a full table"
fsw() {
	awk -v k="$1" '$1 == k { print $2 }' "$tmp/fiber.out"
}

# ---- The table ---------------------------------------------------------------------

# median FILE COLUMN
median() {
	awk -v c="$2" '$c != "-" { print $c }' "$1" | sort -g |
	    awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2];
		else {
			m = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf (m >= 100 ? "%.0f\n" : "%.2f\n"), m
		} }'
}
get() {	# TAG KIND COLUMN
	if [ -s "$tmp/r.$1.$2" ]; then
		median "$tmp/r.$1.$2" "$3"
	else
		echo -
	fi
}
# pratio TAG_A KIND_A TAG_B KIND_B: the median over rounds of the ratio of
# the two runs of the same round, as "0.97x", or "-".  Runs of one round
# are seconds apart, so this cancels the slow drift of a shared VM that
# a ratio of two medians keeps.  With no complete pair, "-".
# A fifth argument compares that column rather than the first (the TLS
# rows compare CPU time, column 4).
pratio() {
	local a=$tmp/r.$1.$2 b=$tmp/r.$3.$4 col=${5:-1}
	if [ ! -s "$a" ] || [ ! -s "$b" ]; then
		echo -
		return
	fi
	# Both files have the same columns: the second starts at NF / 2 + 1.
	paste -d ' ' "$a" "$b" |
	    awk -v c="$col" '{ n = NF / 2 + c }
	    $c != "-" && $n != "-" && $n + 0 > 0 { print $c / $n }' |
	    sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2fx\n", m }'
}
ratio() {	# A B: A/B as "0.97x", or "-"
	awk -v a="$1" -v b="$2" 'BEGIN {
	    if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0)
		print "-";
	    else printf "%.2fx\n", a / b }'
}

fmt='%-42s %10s %8s %9s %9s  %s\n'
section() {	# TITLE UNIT P99 RATIO1 RATIO2
	echo
	echo "$1"
	printf "$fmt" "" "$2" "$3" "$4" "$5" ""
}
row() {	# LABEL VALUE P99 R1 R2 NOTE
	printf "$fmt" "  $1" "$2" "${3:-}" "${4:-}" "${5:-}" "${6:-}"
}
skiprow() {	# LABEL WHY
	printf '%-42s %s\n' "  $1" "$2"
}

uv_idle=$(get idle libuv 1)

# tput_row WORKLOAD KIND [PEER]: a throughput row; the ratios are paired
# per round (pratio): to bare libuv echo (lines mode for lines), and to
# the PEER kind on the same workload.
tput_row() {
	local wl=$1 kind=$2 peer=${3:-} base v unit=req cpu
	if ! ok "$kind"; then
		skiprow "$(label "$wl" "$kind")" "${skip[$kind]}"
		return
	fi
	[ "$wl" = accept ] || [ "$wl" = alogacc ] && unit=conn
	case $wl in
	echo | proxy | proxyg | http | alog) base=echo ;;
	alogacc) base=accept ;;
	*) base=$wl ;;
	esac
	v=$(get "$wl" "$kind" 1)
	cpu=$(get "$wl" "$kind" 4)
	[ "$cpu" = - ] && cpu= || cpu="CPU $cpu us/$unit"
	row "$(label "$wl" "$kind")" "$v" "$(get "$wl" "$kind" 2)" \
	    "$(pratio "$wl" "$kind" "$base" libuv)" \
	    "$( [ -n "$peer" ] && pratio "$wl" "$kind" "$wl" "$peer")" "$cpu"
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null |
    head -n 1)
uvver=$(pkg-config --modversion libuv 2>/dev/null || echo "?")
cmdline="make bench"
envs=$(env | grep -E '^BENCH_[A-Z_]+=' | sort | tr '\n' ' ')
[ -n "$envs" ] && cmdline="$envs$cmdline"

echo
echo "weft bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n): nproc $ncpu, ${cpu:-?}, libuv $uvver"
echo "command: $cmdline"
echo "$pinning; ${secs}s per run, median of $rounds interleaved rounds" \
    "(even rounds in reverse order); each ratio is the median of the" \
    "per-round ratios"

section "echo 1 KiB x $conns conns (loadgen)" req/s p99_us "vs libuv" ""
for k in weftd-echo weftd-shared example libuv epoll node uvloop asyncio; do
	tput_row echo "$k"
done
section "lines 64 B x $conns conns (loadgen lines)" req/s p99_us \
    "vs libuv" "vs uvloop"
for k in weftd-lines weftd-cb example libuv epoll node uvloop asyncio; do
	tput_row lines "$k" uvloop
done
section "accept: connect, 64 B echo, close; $acc_clients clients" conns/s \
    p99_us "vs libuv" ""
for k in weftd-echo libuv epoll; do
	tput_row accept "$k"
done
if want alog; then
	section "access log: echo 1 KiB x $conns conns (loadgen)" req/s \
	    p99_us "vs libuv" "vs off"
	for k in weftd-echo weftd-alog; do
		tput_row alog "$k" weftd-echo
	done
	section "access log: connect, 64 B echo, close (a line each)" \
	    conns/s p99_us "vs libuv" "vs off"
	for k in weftd-echo weftd-alog; do
		tput_row alogacc "$k" weftd-echo
	done
fi
section "http keep-alive, wrk -t1 -c$conns, same body" req/s p99_us \
    "vs libuv" "vs nginx"
for k in weftd-http nginx nodehttp; do
	tput_row http "$k" nginx
done
section "proxy -> echo_libuv on the proxy's CPU, echo 1 KiB x $conns" \
    req/s p99_us "vs libuv" "vs haproxy"
for k in weftd-proxy haproxy; do
	tput_row proxy "$k" haproxy
done
section "proxy -> echo_libuv beside the load generator (both CPUs full)" \
    req/s p99_us "vs libuv" "vs haproxy"
for k in weftd-proxy haproxy; do
	tput_row proxyg "$k" haproxy
done

section "idle RSS, $idle_n conns held (idlehold)" KiB/conn "" "vs libuv" ""
for k in weftd-echo weftd-shared weftd-cb example libuv epoll node asyncio \
    uvloop; do
	if ! ok "$k"; then
		skiprow "$(label idle "$k")" "${skip[$k]}"
		continue
	fi
	case $k in
	weftd-echo) l="weftd echo (fiber mode)" ;;
	weftd-shared) l="weftd echo (fiber_stacks = shared)" ;;
	weftd-cb) l="weftd cb-lines (callback mode)" ;;
	*) l=$(label idle "$k") ;;
	esac
	v=$(get idle "$k" 1)
	row "$l" "$v" "" "$(ratio "$v" "$uv_idle")" "" \
	    "answered $(get idle "$k" 2)/$idle_n, again $(get idle "$k" 3)"
done

section "idle, $idle_big conns held, 1 worker" KiB/conn "" "" ""
for k in weftd-echo weftd-shared weftd-cb; do
	case $k in
	weftd-echo) l="weftd echo (fiber mode)" ;;
	weftd-shared) l="weftd echo (fiber_stacks = shared)" ;;
	weftd-cb) l="weftd cb-lines (callback mode)" ;;
	esac
	if ! ok "$k"; then
		skiprow "$l" "${skip[$k]}"
		continue
	fi
	tot=$(get idlebig "$k" 4)
	totm=$(awk -v t="$tot" 'BEGIN { if (t == "-") print "-";
	    else printf "%.0f", t / 1024 }')
	row "$l" "$(get idlebig "$k" 1)" "" "" "" \
	    "sup+worker ${totm} MiB; answered $(get idlebig "$k" 2)/$idle_big, again $(get idlebig "$k" 3)"
done

# scale_label KIND
scale_label() {
	case $1 in
	weftd-echo) echo "weftd echo, private stacks" ;;
	weftd-shared) echo "weftd echo, shared stack" ;;
	weftd-cb) echo "weftd cb-lines (callback mode)" ;;
	esac
}
section "idle scale: $scale_n conns, 1 weftd, $scale_w workers ($scale_sock), $scale_gens idlehold x $scale_k addrs, held ${scale_hold}s" \
    "MiB" "" "" ""
for k in weftd-echo weftd-shared weftd-cb; do
	l=$(scale_label "$k")
	if ! ok "$k"; then
		skiprow "$l" "${skip[$k]}"
		continue
	fi
	if [ ! -s "$tmp/r.idlescale.$k" ]; then
		skiprow "$l" "${scale_why:-not measured}"
		continue
	fi
	read -r sb wb <"$tmp/r.scalebase.$k"
	while read -r wv tot sk wk held again after settle amin amax; do
		row "$l, wave $wv" "$(awk -v t="$tot" \
		    'BEGIN { printf "%.1f", t / 1024 }')" "" "" "" \
		    "$(awk -v sk="$sk" -v wk="$wk" -v sb="$sb" -v wb="$wb" \
		    -v n="$scale_n" -v a="$after" 'BEGIN {
			printf "sup %.1f + workers %.1f MiB, %.2f KiB/conn;",
			    sk / 1024, wk / 1024, (sk + wk - sb - wb) / n
			printf " workers before %.1f, after close %.1f MiB",
			    wb / 1024, a / 1024
			printf " (%+.1f %%)", (a - wb) * 100 / wb }') in ${settle}s"
		# The answers and the spread on a line of their own.
		printf '%-42s %s\n' "" "answered $held, again $again of $scale_n; connections per worker $amin-$amax"
	done <"$tmp/r.idlescale.$k"
done

section "balance: workers = 2, $bal_n short conns" max/min "" "" ""
for k in weftd-bal weftd-balrp; do
	if [ -s "$tmp/r.balance.$k" ]; then
		read -r bv bs berr <"$tmp/r.balance.$k"
	else
		bv=- bs=- berr=-
	fi
	row "$(label balance "$k")" "$bv" "" "" "" \
	    "accepted per worker $bs; client errors $berr"
done

section "balance: long-lived connections, accept_balance" max/min "" "" ""
while read -r bw bn bp bv bs; do
	row "weftd echo, $bw workers, $bn conns, $bp" "$bv" "" "" "" \
	    "per worker $bs"
done <"$tmp/r.ballong"

section "fiber switch (bench/fiber_switch, $yields yields)" ns "" "" ""
row "yield round trip, 2 fibers ping-pong" "$(fsw pingpong_round_trip_ns)"
row "yield, $(fsw many_fibers) fibers" "$(fsw many_yield_ns)"
row "one context switch (half the above)" "$(fsw switch_ns)"
row "one loop iteration (derived)" "$(fsw loop_iteration_ns)"

# ---- TLS rows ------------------------------------------------------------------

# tls_check TAG KIND: what the runs of a TLS row did, over all rounds;
# starts with "FAILED:" if a handshake failed, a client saw an error or
# a resumption did not resume.
tls_check() {
	[ -s "$tmp/r.$1.$2" ] || return 0
	awk -v wl="$1" '{ h += $5; rs += $6; e += $3 } END {
		s = h " handshakes"
		if (wl == "tlsresume")
			s = s ", " rs " resumed"
		s = s ", " e " errors"
		if (e > 0 || h == 0 || (wl == "tlsresume" && rs != h))
			s = "FAILED: " s
		print s }' "$tmp/r.$1.$2"
}

# tls_row WORKLOAD KIND PEER1 [PEER2]: value and ratios are the server's
# CPU time per handshake or request (paired per round, lower is better),
# then the rate and what tls_check says.
tls_row() {
	local wl=$1 kind=$2 p1=$3 p2=${4:-} r2=
	if ! ok "$kind"; then
		skiprow "$(label "$wl" "$kind")" "${skip[$kind]}"
		return
	fi
	if [ ! -s "$tmp/r.$wl.$kind" ]; then
		skiprow "$(label "$wl" "$kind")" "not measured"
		return
	fi
	[ -n "$p2" ] && r2=$(pratio "$wl" "$kind" "$wl" "$p2" 4)
	row "$(label "$wl" "$kind")" "$(get "$wl" "$kind" 4)" \
	    "$(get "$wl" "$kind" 1)" "$(pratio "$wl" "$kind" "$wl" "$p1" 4)" \
	    "$r2" "$(tls_check "$wl" "$kind")"
}

if [ -n "$(ls "$tmp"/r.tls* 2>/dev/null)" ] || [ -z "$only_list" ]; then
	echo
	echo "TLS: TLS 1.3, TLS_AES_128_GCM_SHA256, X25519, one ECDSA P-256" \
	    "certificate, 1 worker each; client bench/tlsload; value and" \
	    "ratios: server CPU (lower is better)"
	section "TLS full handshake, $conns clients, connect + handshake + 1 B exchange + close" \
	    "CPU us/hs" hs/s "vs nginx" "vs haproxy"
	for k in weftd-tls-echo libuv-tls nginx-stream haproxy-tls; do
		tls_row tlsfull "$k" nginx-stream haproxy-tls
	done
	section "TLS resumed handshake (session ticket), $conns clients" \
	    "CPU us/hs" hs/s "vs nginx" "vs haproxy"
	for k in weftd-tls-echo libuv-tls nginx-stream haproxy-tls; do
		tls_row tlsresume "$k" nginx-stream haproxy-tls
	done
	section "TLS echo 1 KiB x $conns conns" "CPU us/req" req/s \
	    "vs libuv" ""
	for k in weftd-tls-echo libuv-tls; do
		tls_row tlsecho "$k" libuv-tls
	done
	section "TLS http keep-alive, $conns conns, same body" "CPU us/req" \
	    req/s "vs nginx" ""
	for k in weftd-tls-http nginx-tls; do
		tls_row tlshttp "$k" nginx-tls
	done
	section "TLS termination -> plain echo_libuv on the proxy's CPU, 1 KiB x $conns" \
	    "CPU us/req" req/s "vs haproxy" "vs nginx"
	for k in weftd-tls-proxy haproxy-tls nginx-streamp; do
		tls_row tlsproxy "$k" haproxy-tls nginx-streamp
	done
	section "idle TLS, $idle_n handshaken conns held (tlsload idle)" \
	    KiB/conn "" "vs libuv" ""
	for k in weftd-tls-echo libuv-tls nginx-tls; do
		if ! ok "$k"; then
			skiprow "$(label tlsidle "$k")" "${skip[$k]}"
			continue
		fi
		v=$(get tlsidle "$k" 1)
		row "$(label tlsidle "$k")" "$v" "" \
		    "$(ratio "$v" "$(get tlsidle libuv-tls 1)")" "" \
		    "answered $(get tlsidle "$k" 2)/$idle_n, again $(get tlsidle "$k" 3)"
	done
fi

# ---- Targets ---------------------------------------------------------------------

met=0
missed=0
unmeasured=0
# target TEXT MEASURED OP LIMIT [WHY-NOT]: OP is ge or le; a WHY-NOT
# ("not built", ...) stands for the verdict.
target() {
	local text=$1 v=$2 op=$3 lim=$4 why=${5:-} verdict
	v=${v%x}
	if [ -n "$why" ]; then
		verdict=$why
		case $why in
		MISSED*) missed=$((missed + 1)) ;;
		*) unmeasured=$((unmeasured + 1)) ;;
		esac
	elif [ -z "$v" ] || [ "$v" = - ]; then
		verdict="not measured"
		unmeasured=$((unmeasured + 1))
	elif [ "$v" != inf ] &&
	    awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN {
	    exit !(op == "ge" ? v + 0 >= l + 0 : v + 0 <= l + 0) }'; then
		verdict=met
		met=$((met + 1))
	else
		verdict=MISSED
		missed=$((missed + 1))
	fi
	printf '  %-66s %8s  %s\n' "$text" "${v:--}" "$verdict"
}
why_skip() {	# KIND: the skip reason, for target()
	ok "$1" || echo "${skip[$1]}"
}

echo
printf '%-68s %8s  %s\n' 'targets (issue D)' measured verdict
target "echo 1 KiB: weftd echo (1 worker) >= 1.00x bare libuv" \
    "$(pratio echo weftd-echo echo libuv)" ge 1.00
target "lines 64 B: weftd lines >= 0.95x bare libuv (lines mode)" \
    "$(pratio lines weftd-lines lines libuv)" ge 0.95
target "lines 64 B: weftd lines >= 1.2x uvloop" \
    "$(pratio lines weftd-lines lines uvloop)" ge 1.2 \
    "$(why_skip uvloop)"
target "idle RSS/conn, fiber mode ($idle_n conns) <= 4.5 KiB" \
    "$(get idle weftd-echo 1)" le 4.5
target "idle RSS/conn, fiber_stacks = shared <= 1.5 KiB" \
    "$(get idle weftd-shared 1)" le 1.5 "$(why_skip weftd-shared)"
target "idle RSS/conn, callback mode (cb-lines) <= 1 KiB" \
    "$(get idle weftd-cb 1)" le 1.0 "$(why_skip weftd-cb)"
big_tot=$(get idlebig weftd-echo 4)
big_ok=$(awk -v h="$(get idlebig weftd-echo 2)" \
    -v a="$(get idlebig weftd-echo 3)" -v n="$idle_big" \
    'BEGIN { print (h == n && a == n) ? "yes" : "no" }')
big_mib=$(awk -v t="$big_tot" 'BEGIN { if (t == "-") print "-";
    else printf "%.0f", t / 1024 }')
big_why=
if [ "$idle_big" -lt "$idle_big_req" ]; then
	big_ext=$(awk -v t="$big_tot" -v p="$(get idlebig weftd-echo 1)" \
	    -v n="$idle_big" -v want="$idle_big_req" 'BEGIN {
	    if (t == "-" || p == "-") print "-";
	    else printf "%.0f", (t + p * (want - n)) / 1024 }')
	big_why="not measured: $idle_big held (RLIMIT_NOFILE); extrapolated ${big_ext} MiB"
fi
if [ "$big_ok" != yes ] && [ -z "$big_why" ] && [ "$big_mib" != - ]; then
	big_why="MISSED: not all connections held and answered"
fi
target "$idle_big_req idle conns, 1 worker: all answered, sup+worker RSS <= 512 MiB" \
    "$big_mib" le 512 "$big_why"
target "accept rate: weftd echo >= 0.9x bare libuv" \
    "$(pratio accept weftd-echo accept libuv)" ge 0.9
target "fiber switch <= 30 ns" "$(fsw switch_ns)" le 30
target "balance, workers = 2, shared socket: max/min <= 1.5" \
    "$(get balance weftd-bal 1)" le 1.5
target "balance, workers = 2, reuse_port: max/min <= 1.5" \
    "$(get balance weftd-balrp 1)" le 1.5
target "access log on: echo 1 KiB >= 0.97x off (< 3 % cost)" \
    "$(pratio alog weftd-alog alog weftd-echo)" ge 0.97
target "access log on: short conns >= 0.97x off (a line each)" \
    "$(pratio alogacc weftd-alog alogacc weftd-echo)" ge 0.97
target "balance, long-lived, 2 and 4 workers, paced and burst: max/min <= 1.2" \
    "$(awk '$4 == "-" { bad = 1 } $4 + 0 > m { m = $4 + 0 }
    END { if (NR == 8 && !bad) print m; else print "-" }' "$tmp/r.ballong")" \
    le 1.2
target "accept rate: weftd echo >= 0.99x bare libuv (issue K)" \
    "$(pratio accept weftd-echo accept libuv)" ge 0.99
target "http-hello keep-alive >= nginx return 200, 1 worker each" \
    "$(pratio http weftd-http http nginx)" ge 1.00 \
    "$(why_skip nginx)"
target "proxy >= HAProxy mode tcp, 1 process each" \
    "$(pratio proxy weftd-proxy proxy haproxy)" ge 1.00 \
    "$(why_skip haproxy)"
echo "  $met met, $missed MISSED, $unmeasured not measured"

# idlescale's targets: for scale_n connections, the limit at 100 000
# scaled per connection over the base the supervisor and workers had
# before them (at 100 000 it is the limit itself).
met=0
missed=0
unmeasured=0
# scale_target KIND LIMIT_MIB TEXT
scale_target() {
	local kind=$1 lim=$2 v=- why= sb wb

	if ! ok "$kind"; then
		why=${skip[$kind]}
	elif [ -s "$tmp/r.idlescale.$kind" ]; then
		read -r sb wb <"$tmp/r.scalebase.$kind"
		lim=$(awk -v l="$lim" -v b=$((sb + wb)) -v n="$scale_n" \
		    'BEGIN { printf "%.1f", (b + (l * 1024 - b) * n / 100000) / 1024 }')
		v=$(awk '$2 > m { m = $2 } END { printf "%.1f", m / 1024 }' \
		    "$tmp/r.idlescale.$kind")
	else
		why=${scale_why:-not measured}
	fi
	target "$3 <= $lim MiB" "$v" le "$lim" "$why"
}
echo
printf '%-68s %8s  %s\n' "targets (issue L, idle scale: $scale_n conns, worst of $scale_waves waves)" \
    measured verdict
[ "$scale_n" = 100000 ] || echo "  (limits at 100000 connections, scaled per connection over the base RSS)"
scale_target weftd-echo 450 "private stacks: supervisor + workers RSS"
scale_target weftd-shared 150 "fiber_stacks = shared: supervisor + workers RSS"
scale_target weftd-cb 100 "callback mode (cb-lines): supervisor + workers RSS"
# The worst return over every mode and wave, and whether every
# connection was answered twice in every wave with no worker restarted.
scale_ret=$(for k in weftd-echo weftd-shared weftd-cb; do
	[ -s "$tmp/r.idlescale.$k" ] || continue
	read -r sb wb <"$tmp/r.scalebase.$k"
	awk -v wb="$wb" '{ print ($7 - wb) * 100 / wb }' "$tmp/r.idlescale.$k"
done | sort -g | tail -n 1)
[ -n "$scale_ret" ] && scale_ret=$(printf '%.1f' "$scale_ret")
target "after close, workers' RSS within 10 % of before (worst, %)" \
    "${scale_ret:--}" le 10 "$( [ -z "$scale_ret" ] && echo "${scale_why:-not measured}")"
scale_bad=$(cat "$tmp"/r.idlescale.* 2>/dev/null | awk -v n="$scale_n" \
    '$5 != n || $6 != n { b++ } END { print b + 0 }')
scale_bad=$((scale_bad + $(cat "$tmp"/r.scalerestart.* 2>/dev/null | wc -l)))
scale_why_all=
[ -z "$scale_ret" ] && scale_why_all=${scale_why:-not measured}
target "every connection answered twice, every wave; no worker restarted (failures)" \
    "$scale_bad" le 0 "$scale_why_all"
echo "  $met met, $missed MISSED, $unmeasured not measured"
echo "# idlescale: $met met, $missed MISSED, $unmeasured not measured"

# tls_best WORKLOAD KIND PEER...: KIND's CPU over the better (cheaper)
# peer's, i.e. the largest of the paired ratios to the peers measured.
tls_best() {
	local wl=$1 kind=$2 p v best=-
	shift 2
	for p in "$@"; do
		ok "$p" || continue
		v=$(pratio "$wl" "$kind" "$wl" "$p" 4)
		v=${v%x}
		[ "$v" = - ] && continue
		if [ "$best" = - ] ||
		    awk -v a="$v" -v b="$best" 'BEGIN { exit !(a > b) }'; then
			best=$v
		fi
	done
	echo "$best"
}
# tls_verdict WORKLOAD KIND: why a TLS target has no verdict of its own.
tls_verdict() {
	local c
	if ! ok "$2"; then
		echo "${skip[$2]}"
		return
	fi
	c=$(tls_check "$1" "$2")
	case $c in
	FAILED*) echo "MISSED: $c" ;;
	esac
}
met=0
missed=0
unmeasured=0
echo
printf '%-68s %8s  %s\n' 'targets (issue 14, TLS; server CPU over the better peer)' \
    measured verdict
target "full handshake: weftd <= 0.95x the better of nginx stream, HAProxy" \
    "$(tls_best tlsfull weftd-tls-echo nginx-stream haproxy-tls)" le 0.95 \
    "$(tls_verdict tlsfull weftd-tls-echo)"
target "resumed handshake: weftd <= 0.95x the better of nginx, HAProxy" \
    "$(tls_best tlsresume weftd-tls-echo nginx-stream haproxy-tls)" le 0.95 \
    "$(tls_verdict tlsresume weftd-tls-echo)"
target "TLS echo 1 KiB x $conns: weftd <= 0.90x libuv+OpenSSL" \
    "$(tls_best tlsecho weftd-tls-echo libuv-tls)" le 0.90 \
    "$(tls_verdict tlsecho weftd-tls-echo)"
target "TLS http-hello keep-alive: weftd <= 0.90x nginx ssl" \
    "$(tls_best tlshttp weftd-tls-http nginx-tls)" le 0.90 \
    "$(tls_verdict tlshttp weftd-tls-http)"
target "TLS termination proxy: weftd <= 0.90x HAProxy" \
    "$(tls_best tlsproxy weftd-tls-proxy haproxy-tls)" le 0.90 \
    "$(tls_verdict tlsproxy weftd-tls-proxy)"
tls_idle_why=$(why_skip weftd-tls-echo)
[ -z "$tls_idle_why" ] && [ -s "$tmp/r.tlsidle.weftd-tls-echo" ] &&
    [ "$(get tlsidle weftd-tls-echo 3)" != "$idle_n" ] &&
    tls_idle_why="MISSED: not every connection held and answered"
target "idle TLS connection ($idle_n handshaken): weftd <= 20 KiB" \
    "$(get tlsidle weftd-tls-echo 1)" le 20 "$tls_idle_why"
echo "  $met met, $missed MISSED, $unmeasured not measured"

echo
errs=$(cat "$tmp"/r.echo.* "$tmp"/r.lines.* "$tmp"/r.accept.* \
    "$tmp"/r.http.* "$tmp"/r.proxy.* "$tmp"/r.proxyg.* 2>/dev/null |
    awk '{ s += $3 } END { print s + 0 }')
echo "load generator errors over all runs: $errs"
tls_fail=$(cat "$tmp"/r.tlsfull.* "$tmp"/r.tlsresume.* "$tmp"/r.tlsecho.* \
    "$tmp"/r.tlshttp.* "$tmp"/r.tlsproxy.* 2>/dev/null |
    awk '{ e += $3; nr += $7 } END { print e + 0, nr + 0 }')
echo "TLS client errors over all runs: ${tls_fail% *}; handshakes that did" \
    "not resume: ${tls_fail#* }"
for c in "${changes[@]}"; do
	echo "system: $c"
done
for n in "${notes[@]}"; do
	echo "note: $n"
done
echo "bench took $(($(date +%s) - t_begin)) s"
exit 0
