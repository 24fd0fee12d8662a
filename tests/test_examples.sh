#!/bin/sh
# The four asyncio-streams documentation examples (examples/*.c), run
# against each other and checked.  Prints TAP for build-aux/tap-driver.sh.
#
# automake runs it with the build directory as cwd, where the example
# programs (libtool wrappers) are.  It needs loopback only; python3, when
# present, serves as a real HTTP server and as an idle client.  The https
# cases make their certificates with tests/tls/mkcerts.sh (the openssl
# CLI, which build.sh installs); $srcdir is set by automake.

ex=./examples
# make check-valgrind runs every example program under memcheck through
# WEFT_TEST_WRAPPER and multiplies the time limits by
# WEFT_TEST_TIMEOUT_MULT, for memcheck's slowdown.  The limits are hang
# guards, not measurements: a working client needs a fraction of a second
# of CPU, but twenty sanitizer-built ones started at once on a loaded
# 2-CPU machine took 9 s each, waiting for a CPU.  Multiplied, the limit
# stays within the cap .ci/run puts on make check-valgrind.
run=${WEFT_TEST_WRAPPER:-}
tmo=$((30 * ${WEFT_TEST_TIMEOUT_MULT:-1}))
n=0
nfail=0
pids=

if [ ! -x "$ex/tcp-echo-server" ]; then
	echo "1..0 # SKIP examples not built in $(pwd)"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-examples.XXXXXX") || exit 99

cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

command -v timeout >/dev/null 2>&1 || timeout() { shift; "$@"; }

py=
if [ -x /usr/bin/python3 ]; then
	py=/usr/bin/python3
elif command -v python3 >/dev/null 2>&1; then
	py=$(command -v python3)
fi

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	nfail=$((nfail + 1))
	echo "not ok $n - $1"
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# Show a file as TAP diagnostics.
diag() {
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "# --- $(basename "$f"):"
		sed 's/^/#   /' "$f"
	done
}

# forget PID: drop it from the kill-on-exit list.
forget() {
	np=
	for p in $pids; do
		[ "$p" = "$1" ] || np="$np $p"
	done
	pids=$np
}

# reap PID SECS: wait for a background process for at most SECS seconds
# (SIGKILL after that); sets $status.  The watchdog polls, so it is gone
# soon after PID is, and leaves nothing behind holding the TAP pipe.
reap() {
	(
		i=0
		while kill -0 "$1" 2>/dev/null; do
			i=$((i + 1))
			if [ $i -gt $(($2 * 10)) ]; then
				kill -KILL "$1" 2>/dev/null
				break
			fi
			sleep 0.1
		done
	) >/dev/null 2>&1 &
	dog=$!
	wait "$1" 2>/dev/null
	status=$?
	wait "$dog" 2>/dev/null
	forget "$1"
}

# wait_line FILE REGEX PID: wait up to $tmo s for a line matching REGEX to
# appear in FILE while PID runs.
wait_line() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -gt $((tmo * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# start_server NAME ARGS...: run tcp-echo-server on an ephemeral port;
# sets $spid and $sport.
start_server() {
	name=$1
	shift
	$run "$ex/tcp-echo-server" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	spid=$!
	pids="$pids $spid"
	sport=
	if wait_line "$tmp/$name.out" '^Serving on ' "$spid"; then
		sport=$(sed -n \
		    's/^Serving on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
		    "$tmp/$name.out")
	fi
}

{
	echo "Send: 'Hello World!'"
	echo "Received: 'Hello World!'"
	echo "Close the connection"
} >"$tmp/client.expected"

echo "1..16"

# 1: the server comes up on an ephemeral port and says where.
start_server srv 127.0.0.1 0
if [ -n "$sport" ] && [ "$sport" -gt 0 ]; then
	ok "tcp-echo-server: Serving on 127.0.0.1:$sport"
else
	not_ok "tcp-echo-server: Serving on 127.0.0.1:PORT"
	diag "$tmp/srv.out" "$tmp/srv.err"
	sport=1
fi

# 2: the seed's client against it.
timeout $tmo $run "$ex/tcp-echo-client" 127.0.0.1 "$sport" \
    >"$tmp/client.out" 2>"$tmp/client.err"
status=$?
if [ $status -eq 0 ] && cmp -s "$tmp/client.out" "$tmp/client.expected"
then
	ok "tcp-echo-client: Send/Received/Close"
else
	not_ok "tcp-echo-client: Send/Received/Close (exit $status)"
	diag "$tmp/client.out" "$tmp/client.err"
fi

# 3: twenty clients at once, each on its own connection and fiber.
cpids=
i=0
while [ $i -lt 20 ]; do
	timeout $tmo $run "$ex/tcp-echo-client" 127.0.0.1 "$sport" \
	    >"$tmp/c$i.out" 2>"$tmp/c$i.err" &
	cpids="$cpids $!"
	i=$((i + 1))
done
good=0
for p in $cpids; do
	wait "$p" && good=$((good + 1))
done
i=0
while [ $i -lt 20 ]; do
	cmp -s "$tmp/c$i.out" "$tmp/client.expected" || good=$((good - 1))
	i=$((i + 1))
done
if [ $good -eq 20 ]; then
	ok "20 concurrent tcp-echo-clients"
else
	not_ok "20 concurrent tcp-echo-clients ($good/20 good)"
	diag "$tmp/c0.out" "$tmp/c0.err"
fi

# 4: http-headers against the echo server: the request comes back, so its
# own lines are the "headers", up to the blank line.
t="http-headers: request echoed back by tcp-echo-server"
timeout $tmo $run "$ex/http-headers" "http://127.0.0.1:$sport/" \
    >"$tmp/hh-echo.out" 2>"$tmp/hh-echo.err"
status=$?
printf 'HTTP header> HEAD / HTTP/1.0\nHTTP header> Host: 127.0.0.1\n' \
    >"$tmp/hh-echo.expected"
if [ $status -eq 0 ] && cmp -s "$tmp/hh-echo.out" "$tmp/hh-echo.expected"
then
	ok "$t"
else
	not_ok "$t (exit $status)"
	diag "$tmp/hh-echo.out" "$tmp/hh-echo.err"
fi

# 5: http-headers against a real HTTP server.
t="http-headers: HEAD against python3 -m http.server"
if [ -n "$py" ]; then
	mkdir "$tmp/www"
	echo hello >"$tmp/www/index.html"
	"$py" -u -m http.server --bind 127.0.0.1 --directory "$tmp/www" 0 \
	    >"$tmp/http.out" 2>"$tmp/http.err" &
	hpid=$!
	pids="$pids $hpid"
	hport=
	if wait_line "$tmp/http.out" ' port [0-9]' "$hpid"; then
		hport=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' \
		    "$tmp/http.out" | head -n 1)
	fi
	timeout $tmo $run "$ex/http-headers" "http://127.0.0.1:${hport:-1}/" \
	    >"$tmp/hh.out" 2>"$tmp/hh.err"
	status=$?
	if [ $status -eq 0 ] &&
	    grep -q '^HTTP header> HTTP/1\.[01] 200' "$tmp/hh.out" &&
	    grep -q '^HTTP header> Server: ' "$tmp/hh.out" &&
	    grep -q '^HTTP header> Content-Length: 6' "$tmp/hh.out"; then
		ok "$t"
	else
		not_ok "$t (exit $status)"
		diag "$tmp/hh.out" "$tmp/hh.err" "$tmp/http.out" "$tmp/http.err"
	fi
	kill "$hpid" 2>/dev/null
	reap "$hpid" $tmo
else
	skip "$t" "no python3"
fi

# 6: the socketpair example.
timeout $tmo $run "$ex/socketpair-wait" >"$tmp/sp.out" 2>"$tmp/sp.err"
status=$?
if [ $status -eq 0 ] && [ "$(cat "$tmp/sp.out")" = "Received: 'abc'" ]; then
	ok "socketpair-wait: Received: 'abc'"
else
	not_ok "socketpair-wait: Received: 'abc' (exit $status)"
	diag "$tmp/sp.out" "$tmp/sp.err"
fi

# 7: SIGTERM with an idle client connected: the server closes it and
# exits 0.  Without python3 there is no idle client, only the signal.
t="tcp-echo-server: SIGTERM closes clients, exits 0"
idle=
if [ -n "$py" ]; then
	"$py" -u -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"ping")
assert s.recv(100) == b"ping"
print("ready")
s.settimeout(int(sys.argv[2]))
print("eof" if s.recv(100) == b"" else "data")
' "$sport" "$tmo" >"$tmp/idle.out" 2>"$tmp/idle.err" &
	idle=$!
	pids="$pids $idle"
	wait_line "$tmp/idle.out" '^ready' "$idle"
fi
kill -TERM "$spid"
reap "$spid" $tmo
srvstatus=$status
if [ -n "$idle" ]; then
	reap "$idle" $tmo
fi
if [ $srvstatus -eq 0 ] && [ ! -s "$tmp/srv.err" ] &&
    { [ -z "$idle" ] || grep -q '^eof' "$tmp/idle.out"; }; then
	ok "$t"
else
	not_ok "$t (exit $srvstatus)"
	diag "$tmp/srv.out" "$tmp/srv.err" "$tmp/idle.out" "$tmp/idle.err"
fi

# 8: nothing listens there any more.
t="tcp-echo-client: refused once the server is gone"
timeout $tmo $run "$ex/tcp-echo-client" 127.0.0.1 "$sport" \
    >"$tmp/refused.out" 2>"$tmp/refused.err"
status=$?
if [ $status -eq 1 ] && grep -qi 'refused' "$tmp/refused.err"; then
	ok "$t"
else
	not_ok "$t (exit $status)"
	diag "$tmp/refused.out" "$tmp/refused.err"
fi

# 9: the readline echo, --lines, again driven by http-headers (CRLF lines).
start_server lines --lines --port 0
if [ -n "$sport" ]; then
	ok "tcp-echo-server --lines --port 0: Serving on 127.0.0.1:$sport"
else
	not_ok "tcp-echo-server --lines --port 0: Serving on 127.0.0.1:PORT"
	diag "$tmp/lines.out" "$tmp/lines.err"
	sport=1
fi

# 10
timeout $tmo $run "$ex/http-headers" 127.0.0.1 "$sport" /lines \
    >"$tmp/hh-lines.out" 2>"$tmp/hh-lines.err"
status=$?
printf 'HTTP header> HEAD /lines HTTP/1.0\nHTTP header> Host: 127.0.0.1\n' \
    >"$tmp/hh-lines.expected"
if [ $status -eq 0 ] && cmp -s "$tmp/hh-lines.out" "$tmp/hh-lines.expected"
then
	ok "tcp-echo-server --lines echoes line by line"
else
	not_ok "tcp-echo-server --lines echoes line by line (exit $status)"
	diag "$tmp/hh-lines.out" "$tmp/hh-lines.err"
fi

# 11: SIGINT stops it as cleanly.
kill -INT "$spid"
reap "$spid" $tmo
if [ $status -eq 0 ] && [ ! -s "$tmp/lines.err" ]; then
	ok "tcp-echo-server --lines: SIGINT exits 0"
else
	not_ok "tcp-echo-server --lines: SIGINT exits 0 (exit $status)"
	diag "$tmp/lines.out" "$tmp/lines.err"
fi

# 12: a bad command line is refused.
$run "$ex/tcp-echo-server" --port 70000 >"$tmp/usage.out" 2>"$tmp/usage.err"
status=$?
if [ $status -eq 2 ] && grep -q '^usage:' "$tmp/usage.err"; then
	ok "tcp-echo-server: bad port is a usage error"
else
	not_ok "tcp-echo-server: bad port is a usage error (exit $status)"
	diag "$tmp/usage.out" "$tmp/usage.err"
fi

# 13: tcp-echo-server --tls, with certificates made now.
certs="$tmp/certs"
sh "${srcdir:-.}/tests/tls/mkcerts.sh" "$certs" >"$tmp/mkcerts.err" 2>&1
start_server tls --tls "$certs/server.crt" "$certs/server.key" --port 0
if [ -n "$sport" ]; then
	ok "tcp-echo-server --tls: Serving on 127.0.0.1:$sport"
else
	not_ok "tcp-echo-server --tls: Serving on 127.0.0.1:PORT"
	diag "$tmp/mkcerts.err" "$tmp/tls.out" "$tmp/tls.err"
	sport=1
fi

# 14: http-headers https:// with the test CA as the whole trust store:
# the request comes back over TLS, as in 4.
t="http-headers https://localhost: verified against SSL_CERT_FILE"
SSL_CERT_FILE="$certs/ca.crt" SSL_CERT_DIR="$tmp/nocerts" \
    timeout $tmo $run "$ex/http-headers" "https://localhost:$sport/tls" \
    >"$tmp/hh-tls.out" 2>"$tmp/hh-tls.err"
status=$?
printf 'HTTP header> HEAD /tls HTTP/1.0\nHTTP header> Host: localhost\n' \
    >"$tmp/hh-tls.expected"
if [ $status -eq 0 ] && cmp -s "$tmp/hh-tls.out" "$tmp/hh-tls.expected"
then
	ok "$t"
else
	not_ok "$t (exit $status)"
	diag "$tmp/hh-tls.out" "$tmp/hh-tls.err"
fi

# 15: no trusted CA (another CA only): exit 1, OpenSSL's reason printed,
# no header.
t="http-headers https://: no trusted CA, exits 1 with the reason"
SSL_CERT_FILE="$certs/ca2.crt" SSL_CERT_DIR="$tmp/nocerts" \
    timeout $tmo $run "$ex/http-headers" "https://localhost:$sport/" \
    >"$tmp/hh-untrusted.out" 2>"$tmp/hh-untrusted.err"
status=$?
if [ $status -eq 1 ] && [ ! -s "$tmp/hh-untrusted.out" ] &&
    grep -q 'certificate verify failed: unable to get local issuer' \
    "$tmp/hh-untrusted.err"; then
	ok "$t"
else
	not_ok "$t (exit $status)"
	diag "$tmp/hh-untrusted.out" "$tmp/hh-untrusted.err"
fi

# 16: the TLS server stops as cleanly as the plain one.
kill -TERM "$spid"
reap "$spid" $tmo
if [ $status -eq 0 ] && [ ! -s "$tmp/tls.err" ]; then
	ok "tcp-echo-server --tls: SIGTERM exits 0"
else
	not_ok "tcp-echo-server --tls: SIGTERM exits 0 (exit $status)"
	diag "$tmp/tls.out" "$tmp/tls.err"
fi

[ $nfail -eq 0 ]
