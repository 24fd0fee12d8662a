#!/bin/bash
# kv_redis.sh BUILDDIR [REQUESTS]: redis-benchmark -q -t set,get against
# the kv example plugin (doc/examples/kv) served by BUILDDIR's weftd with
# one worker (the table is per worker).  kv.so is compiled here against
# BUILDDIR's libweft and the source tree's headers, as `pkg-config weft`
# would against an installed one.  REQUESTS is redis-benchmark's -n
# (20000).  Needs redis-benchmark (Debian's redis-tools).  Prints
# redis-benchmark's result lines; not a test.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: kv_redis.sh BUILDDIR [REQUESTS]}" && pwd)
n=${2:-20000}
command -v redis-benchmark >/dev/null ||
    { echo "kv_redis.sh: redis-benchmark is not installed (redis-tools)" >&2; exit 1; }
t=$(mktemp -d /tmp/weft-kv-XXXXXX)
pid=
trap '[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null; rm -rf "$t"' EXIT
cc -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
    -I"$src/include" -I"$build/include" -o "$t/kv.so" \
    "$src/doc/examples/kv/kv.c" -L"$build/.libs" -lweft
port=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$t/w.conf" <<EOC
workers = 1;
log_level = "warning";
shutdown_timeout = 1.0;
plugins = { kv = { path = "$t/kv.so"; }; };
listen = ( { tcp = "127.0.0.1:$port"; plugin = "kv"; } );
EOC
LD_LIBRARY_PATH=$build/.libs "$build/.libs/weftd" -c "$t/w.conf" \
    -C "$t/ctl.sock" >"$t/log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	redis-cli -p "$port" PING >/dev/null 2>&1 && break
	sleep 0.1
done
# -q rewrites a progress line in place; keep the results.
redis-benchmark -p "$port" -q -t set,get -n "$n" 2>&1 | tr '\r' '\n' |
    grep 'requests per second'
