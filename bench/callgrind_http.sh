#!/bin/bash
# callgrind_http.sh BUILDDIR [SECONDS]: instructions a weftd worker spends
# per keep-alive request of http-hello, counted by valgrind's callgrind.
# weftd (1 worker) runs under callgrind, wrk -t1 -c10 drives it for
# SECONDS (4), and the worker's total instruction count (start-up
# included, under 2 % of it) is divided by the requests wrk completed.
# Deterministic where wall-clock benchmarks on a shared VM are not: use it
# to compare two builds, e.g. before and after a change to the hot path.
# WEFT_LIBDIR overrides where libweft.so is taken from (BUILDDIR/.libs), to
# pair one build's plugin with another build's library.  Needs valgrind,
# wrk and curl.
set -eu
build=$(cd "${1:?usage: callgrind_http.sh BUILDDIR [SECONDS]}" && pwd)
secs=${2:-4}
t=$(mktemp -d /tmp/weft-cg-XXXXXX)
trap 'kill -TERM "$pid" 2>/dev/null; rm -rf "$t"' EXIT
port=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$t/w.conf" <<EOC
workers = 1;
log_level = "warning";
shutdown_timeout = 1.0;
plugins = { http-hello = { path = "$build/plugins/.libs/http-hello.so"; }; };
listen = ( { tcp = "127.0.0.1:$port"; plugin = "http-hello"; } );
EOC
LD_LIBRARY_PATH=${WEFT_LIBDIR:-$build/.libs} valgrind --tool=callgrind --trace-children=yes \
    --callgrind-out-file="$t/cg.%p" "$build/.libs/weftd" -c "$t/w.conf" \
    -C "$t/ctl.sock" >"$t/log" 2>&1 &
pid=$!
for _ in $(seq 300); do
	curl -s -o /dev/null "http://127.0.0.1:$port/" && break
	sleep 0.1
done
reqs=$(wrk -t1 -c10 -d"${secs}s" "http://127.0.0.1:$port/" |
    awk '/requests in/ { print $1 }')
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
# The worker is the process with the most instructions.
ir=$(for f in "$t"/cg.*; do awk '/^totals:/ { print $2; exit }' "$f"; done |
    sort -n | tail -n 1)
awk -v i="$ir" -v r="$reqs" 'BEGIN {
    printf "%d requests, %.0f instructions per request\n", r, i / r }'
