#!/bin/sh
# Checks a DESTDIR install from the outside, as a plugin author and an
# administrator would use it.  Run by `make installcheck` (tests/install.inc),
# which installs into $WEFT_IC_ROOT first and passes the configured
# directories (sbindir, libdir, includedir, plugindir, pkgconfigdir,
# sysconfdir, mandir, docdir) in the environment.  Prints TAP-style lines
# and exits 1 if any check failed.
#
# The out-of-tree plugin is the installed copy of
# doc/examples/hello-plugin/hello.c, built with exactly
#	cc $(pkg-config --cflags --libs weft) -shared -fPIC
# where pkg-config reads the installed weft.pc (PKG_CONFIG_SYSROOT_DIR
# makes its -I and -L point into the DESTDIR).  The installed weftd then
# serves it and the installed echo plugin, and must exit 0 on SIGTERM.
# Then the chat, kv and fetcher examples are built by their installed
# Makefiles and checked by the tests they ship with, against another
# weftd.

tmp=${WEFT_IC_TMP:?}
R=${WEFT_IC_ROOT:?}
n=0
nfail=0
pid=

for v in sbindir libdir includedir plugindir pkgconfigdir sysconfdir \
    mandir docdir; do
	eval "test -n \"\${$v}\"" || { echo "installcheck.sh: \$$v not set"; exit 99; }
done

cleanup() {
	if [ -n "$pid" ]; then
		# Its workers (children of this weftd only), then weftd.
		pkill -KILL -P "$pid" 2>/dev/null
		kill -KILL "$pid" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	nfail=$((nfail + 1))
	echo "not ok $n - $1"
}

# check DESCRIPTION COMMAND...: one result from a command's status.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# Show a file as diagnostics.
diag() {
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "# --- $(basename "$f"):"
		sed 's/^/#   /' "$f"
	done
}

# ---- What is installed ------------------------------------------------

check "weftd in sbindir" test -x "$R$sbindir/weftd"
check "libweft.so and its soname link in libdir" \
    test -e "$R$libdir/libweft.so" -a -e "$R$libdir/libweft.so.1"
missing=
for h in weft version errors fiber stream server plugin; do
	[ -f "$R$includedir/weft/$h.h" ] || missing="$missing $h.h"
done
check "headers in includedir/weft${missing:+ (missing:$missing)}" \
    test -z "$missing"
check "weft.pc in pkgconfigdir" test -f "$R$pkgconfigdir/weft.pc"
missing=
for p in echo lines http-hello proxy metrics; do
	[ -f "$R$plugindir/$p.so" ] || missing="$missing $p.so"
done
check "shipped plugins in plugindir${missing:+ (missing:$missing)}" \
    test -z "$missing"
junk=$(cd "$R$plugindir" 2>/dev/null && ls | grep -v '\.so$')
check "nothing but .so files in plugindir${junk:+ (found: $junk)}" \
    test -z "$junk"
check "weftd.conf in sysconfdir/weft" test -f "$R$sysconfdir/weft/weftd.conf"
missing=
for m in man8/weftd.8 man5/weftd.conf.5 man3/libweft.3; do
	[ -f "$R$mandir/$m" ] || missing="$missing $m"
done
check "man pages in mandir${missing:+ (missing:$missing)}" test -z "$missing"
left=$(grep -l '@[a-zA-Z_]*@' "$R$mandir"/man*/* 2>/dev/null)
check "no @variable@ left in the man pages${left:+ ($left)}" test -z "$left"
missing=
for d in plugins.md weftd.conf.md examples/weftd.ini \
    examples/hello-plugin/hello.c examples/hello-plugin/Makefile \
    examples/hello-plugin/README.md; do
	[ -f "$R$docdir/$d" ] || missing="$missing $d"
done
check "guides and examples in docdir${missing:+ (missing:$missing)}" \
    test -z "$missing"

# ---- pkg-config -----------------------------------------------------

PKG_CONFIG_PATH="$R$pkgconfigdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
PKG_CONFIG_SYSROOT_DIR=$R
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
flags=$(pkg-config --cflags --libs weft 2>"$tmp/pkg-config.err")
if [ $? -eq 0 ] && [ -n "$flags" ]; then
	ok "pkg-config --cflags --libs weft: $flags"
else
	not_ok "pkg-config --cflags --libs weft"
	diag "$tmp/pkg-config.err"
fi
# A plugin's large frames must probe the fiber's guard page (issue 15, bug
# 5): where the compiler has the flag, weft.pc hands it to every plugin.
echo 'int main(void) { return 0; }' >"$tmp/scp.c"
if cc -fstack-clash-protection -Werror -o "$tmp/scp" "$tmp/scp.c" \
    2>/dev/null; then
	case " $flags " in
	*" -fstack-clash-protection "*)
		ok "pkg-config --cflags weft has -fstack-clash-protection" ;;
	*)	not_ok "pkg-config --cflags weft has -fstack-clash-protection" ;;
	esac
fi
# pkgconf may or may not put the sysroot in front of a variable.
pd=$(pkg-config --variable=plugindir weft)
check "pkg-config --variable=plugindir weft is $plugindir (got '$pd')" \
    test "x$pd" = "x$plugindir" -o "x$pd" = "x$R$plugindir"
am=$(pkg-config --variable=abi_major weft)
check "pkg-config --variable=abi_major weft matches plugindir (got '$am')" \
    test -n "$am" -a "x${plugindir##*/plugins-}" = "x$am"

# Every installed header compiles on its own.
bad=
for h in "$R$includedir"/weft/*.h; do
	h=${h##*/}
	printf '#include <weft/%s>\n' "$h" |
	    cc $(pkg-config --cflags weft) -Wall -Wextra -Werror \
	    -fsyntax-only -x c - 2>>"$tmp/headers.err" || bad="$bad $h"
done
check "each installed header compiles alone${bad:+ (failed:$bad)}" \
    test -z "$bad"
[ -z "$bad" ] || diag "$tmp/headers.err"

# A C++17 plugin's descriptor, as tests/plugins/cxx-plugin.cc uses it.
printf '%s\n' '#include <weft/plugin.h>' \
    'static void f(weft_reader_t *, weft_writer_t *, void *) {}' \
    'WEFT_PLUGIN(cxx, .flags = WEFT_PLUGIN_CALLBACK, .client_connected = f);' |
    c++ $(pkg-config --cflags weft) -std=c++17 -Wall -Wextra -Werror \
    -fsyntax-only -x c++ - 2>"$tmp/cxx.err"
check "weft/plugin.h builds a C++17 plugin" test $? -eq 0
[ ! -s "$tmp/cxx.err" ] || diag "$tmp/cxx.err"

# ---- The out-of-tree plugin ------------------------------------------

mkdir -p "$tmp/build" "$tmp/make"
cp "$R$docdir/examples/hello-plugin/hello.c" "$tmp/build/" 2>/dev/null
cmd='cc $(pkg-config --cflags --libs weft) -shared -fPIC -o hello.so hello.c'
if (cd "$tmp/build" &&
    cc $(pkg-config --cflags --libs weft) -shared -fPIC -o hello.so hello.c) \
    >"$tmp/cc.log" 2>&1; then
	ok "hello.so builds with: $cmd"
else
	not_ok "hello.so builds with: $cmd"
	diag "$tmp/cc.log"
fi
check "hello.so exports weft_plugin_desc" \
    sh -c "nm -D --defined-only '$tmp/build/hello.so' | grep -q ' weft_plugin_desc\$'"
# The example's own Makefile does the same (without the caller's make
# state: this runs inside `make installcheck`).
cp "$R$docdir/examples/hello-plugin/hello.c" \
    "$R$docdir/examples/hello-plugin/Makefile" "$tmp/make/" 2>/dev/null
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tmp/make" \
    >"$tmp/make.log" 2>&1 && [ -f "$tmp/make/hello.so" ]; then
	ok "the installed example Makefile builds hello.so"
else
	not_ok "the installed example Makefile builds hello.so"
	diag "$tmp/make.log"
fi

# ---- The installed weftd ---------------------------------------------

weftd="$R$sbindir/weftd"
LD_LIBRARY_PATH="$R$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH

ver=$("$weftd" --version 2>&1)
check "weftd --version: $ver" test -n "$ver"

# The installed config parses, and leaves plugin_dir to the built-in
# default: the installed plugindir.
"$weftd" -c "$R$sysconfdir/weft/weftd.conf" --dump >"$tmp/dump.out" \
    2>"$tmp/dump.err"
rc=$?
if [ $rc -eq 0 ] && grep -qx "plugin_dir = $plugindir" "$tmp/dump.out"; then
	ok "installed weftd.conf parses; plugin_dir is $plugindir"
else
	not_ok "installed weftd.conf parses; plugin_dir is $plugindir (exit $rc)"
	diag "$tmp/dump.err"
	grep '^plugin_dir' "$tmp/dump.out" | sed 's/^/#   /'
fi

# A bad setting is refused by the plugin, as file:line.
cat >"$tmp/bad.conf" <<EOF
plugin_dir = "$R$plugindir";
plugins = {
	hello = { path = "$tmp/build/hello.so";
		settings = { max_lines = 0; }; };
};
listen = ( { tcp = "127.0.0.1:0"; plugin = "hello"; } );
EOF
"$weftd" -t -c "$tmp/bad.conf" >"$tmp/bad.out" 2>&1
rc=$?
if [ $rc -eq 1 ] &&
    grep -q "bad.conf:4: plugin \"hello\": setting 'max_lines': must be at least 1" \
    "$tmp/bad.out"; then
	ok "weftd -t reports hello's refused setting as file:line"
else
	not_ok "weftd -t reports hello's refused setting as file:line (exit $rc)"
	diag "$tmp/bad.out"
fi

cat >"$tmp/weftd.conf" <<EOF
# installcheck: the installed echo plugin and the out-of-tree hello.
workers = 2;
log_level = "info";
shutdown_timeout = 5.0;
plugin_dir = "$R$plugindir";
plugins = {
	echo = { path = "echo.so"; };
	hello = {
		path = "$tmp/build/hello.so";
		settings = { greeting = "hi from installcheck"; };
	};
};
listen = (
	{ name = "echo"; unix = "$tmp/echo.sock"; plugin = "echo"; },
	{ name = "hello"; tcp = "127.0.0.1:0"; plugin = "hello"; }
);
EOF
if "$weftd" -t -c "$tmp/weftd.conf" >"$tmp/check.out" 2>&1; then
	ok "weftd -t loads the installed echo.so and hello.so"
else
	not_ok "weftd -t loads the installed echo.so and hello.so"
	diag "$tmp/check.out"
fi

# Its own control socket, if this weftd has one, so that it never meets
# another weftd's.
ctl=
if "$weftd" --help 2>/dev/null | grep -q -- '--control'; then
	ctl="-C $tmp/ctl.sock"
fi
# shellcheck disable=SC2086
"$weftd" -c "$tmp/weftd.conf" $ctl 2>"$tmp/weftd.log" &
pid=$!

port=
i=0
while [ $i -lt 100 ]; do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\) (hello).*/\1/p' \
	    "$tmp/weftd.log" | head -1)
	[ -n "$port" ] && [ -S "$tmp/echo.sock" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if [ -n "$port" ]; then
	ok "weftd started, hello on 127.0.0.1:$port"
else
	not_ok "weftd started"
	diag "$tmp/weftd.log"
fi

# The supervisor runs the installed libweft, not another copy.
if grep -q "$R$libdir/libweft\.so" "/proc/$pid/maps" 2>/dev/null; then
	ok "weftd maps libweft from the DESTDIR"
else
	not_ok "weftd maps libweft from the DESTDIR"
	grep 'libweft' "/proc/$pid/maps" 2>/dev/null | sed 's/^/#   /'
fi

cat >"$tmp/client.py" <<'EOF'
import socket, sys

def expect_line(f, want, what):
    got = f.readline()
    if got != want:
        sys.exit("%s: expected %r, got %r" % (what, want, got))

echo_path, port = sys.argv[1], int(sys.argv[2])
which = sys.argv[3]
if which == "echo":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(echo_path)
    f = s.makefile("rb")
    for msg in (b"ping\n", b"x" * 100000 + b"\n"):
        s.sendall(msg)
        expect_line(f, msg, "echo")
    s.shutdown(socket.SHUT_WR)
    if f.read() != b"":
        sys.exit("echo: data after EOF")
else:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    expect_line(f, b"hi from installcheck\n", "hello greeting")
    for msg in (b"one\n", b"two\r\n"):
        s.sendall(msg)
        expect_line(f, msg, "hello echo")
    s.sendall(b"quit\n")
    expect_line(f, b"bye\n", "hello quit")
    if f.read() != b"":
        sys.exit("hello: connection not closed after bye")
EOF
if [ -n "$port" ]; then
	for p in echo hello; do
		if timeout 20 python3 "$tmp/client.py" "$tmp/echo.sock" \
		    "$port" "$p" >"$tmp/client-$p.out" 2>&1; then
			ok "the $p plugin answers"
		else
			not_ok "the $p plugin answers"
			diag "$tmp/client-$p.out" "$tmp/weftd.log"
		fi
	done
else
	not_ok "the echo plugin answers # weftd did not start"
	not_ok "the hello plugin answers # weftd did not start"
fi

# Running: not gone and not a zombie waiting for `wait`.
running() {
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

kill -TERM "$pid" 2>/dev/null
i=0
while [ $i -lt 150 ] && running "$pid"; do
	sleep 0.1
	i=$((i + 1))
done
if running "$pid"; then
	not_ok "weftd stops on SIGTERM within 15 s"
	diag "$tmp/weftd.log"
else
	wait "$pid"
	rc=$?
	pid=
	if [ $rc -eq 0 ]; then
		ok "weftd exits 0 on SIGTERM"
	else
		not_ok "weftd exits 0 on SIGTERM (exit $rc)"
		diag "$tmp/weftd.log"
	fi
fi
if grep -q ': \(error\|warning\): ' "$tmp/weftd.log"; then
	not_ok "no errors or warnings logged"
	diag "$tmp/weftd.log"
else
	ok "no errors or warnings logged"
fi

# ---- The larger examples: chat, kv, fetcher ----------------------------
# Each is built by its installed Makefile (pkg-config weft, -Wall -Wextra
# -Werror), served by one weftd with one worker (kv's table and chat's
# room are per worker), and checked by the test it ships with.

examples="chat kv fetcher"
missing=
for e in $examples; do
	for f in README.md Makefile $e.c test_$e.py; do
		[ -f "$R$docdir/examples/$e/$f" ] || missing="$missing $e/$f"
	done
done
check "chat, kv and fetcher examples in docdir${missing:+ (missing:$missing)}" \
    test -z "$missing"
for e in $examples; do
	mkdir -p "$tmp/ex-$e"
	cp "$R$docdir/examples/$e/"* "$tmp/ex-$e/" 2>/dev/null
	if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$tmp/ex-$e" \
	    >"$tmp/make-$e.log" 2>&1 && [ -f "$tmp/ex-$e/$e.so" ]; then
		ok "the $e example builds with its Makefile"
	else
		not_ok "the $e example builds with its Makefile"
		diag "$tmp/make-$e.log"
	fi
done

# The fetcher twice: once where its fetch and connect timeouts are the
# shorter, once where idle_timeout is, to see that an inner timeout never
# outlasts the outer one.
cat >"$tmp/examples.conf" <<EOF
workers = 1;
log_level = "info";
shutdown_timeout = 5.0;
plugins = {
	chat = { path = "$tmp/ex-chat/chat.so"; settings = { queue_max = 64; }; };
	kv = {
		path = "$tmp/ex-kv/kv.so";
		settings = { max_bulk = 65536; max_args = 64; max_request = 131072; };
	};
	fetcher = {
		path = "$tmp/ex-fetcher/fetcher.so";
		settings = { idle_timeout = 20; fetch_timeout = 1;
			connect_timeout = 0.5; };
	};
	fetcher-idle = {
		path = "$tmp/ex-fetcher/fetcher.so";
		settings = { idle_timeout = 1; fetch_timeout = 30;
			connect_timeout = 30; };
	};
};
listen = (
	{ name = "chat"; tcp = "127.0.0.1:0"; plugin = "chat"; },
	{ name = "kv"; tcp = "127.0.0.1:0"; plugin = "kv"; },
	{ name = "fetcher"; tcp = "127.0.0.1:0"; plugin = "fetcher"; },
	{ name = "fetcher-idle"; tcp = "127.0.0.1:0"; plugin = "fetcher-idle"; }
);
EOF
if "$weftd" -t -c "$tmp/examples.conf" >"$tmp/examples-check.out" 2>&1; then
	ok "weftd -t loads the chat, kv and fetcher examples"
else
	not_ok "weftd -t loads the chat, kv and fetcher examples"
	diag "$tmp/examples-check.out"
fi
ctl=
if "$weftd" --help 2>/dev/null | grep -q -- '--control'; then
	ctl="-C $tmp/ctl-examples.sock"
fi
# shellcheck disable=SC2086
"$weftd" -c "$tmp/examples.conf" $ctl 2>"$tmp/examples.log" &
pid=$!
i=0
while [ $i -lt 100 ]; do
	grep -q 'worker 0 .* ready' "$tmp/examples.log" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if grep -q 'worker 0 .* ready' "$tmp/examples.log"; then
	ok "weftd serves the examples"
else
	not_ok "weftd serves the examples"
	diag "$tmp/examples.log"
fi

# example NAME PLUGIN ARGS...: NAME's test against the port of the
# listener serving PLUGIN (weftd logs "listening on ADDR (PLUGIN)").
example() {
	e=$1 l=$2
	shift 2
	p=$(sed -n "s/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\) ($l).*/\1/p" \
	    "$tmp/examples.log" | head -1)
	out="$tmp/test-$l-$1.out"
	if [ -n "$p" ] &&
	    timeout 120 python3 "$tmp/ex-$e/test_$e.py" "$p" "$@" >"$out" 2>&1
	then
		ok "$e: test_$e.py $* ($(tail -1 "$out"))"
	else
		not_ok "$e: test_$e.py $*"
		diag "$out" "$tmp/examples.log"
	fi
}

example kv kv python
if command -v redis-cli >/dev/null 2>&1; then
	example kv kv redis-cli
else
	ok "kv: test_kv.py redis-cli # SKIP redis-cli is not installed"
fi
example fetcher fetcher main
example fetcher fetcher-idle idle
example chat chat room
# Last, as it stops weftd (SIGTERM): chat's .stop hook tells its clients.
example chat chat stop "$pid"
i=0
while [ $i -lt 150 ] && running "$pid"; do
	sleep 0.1
	i=$((i + 1))
done
if running "$pid"; then
	not_ok "weftd serving the examples stops on SIGTERM within 15 s"
	diag "$tmp/examples.log"
else
	wait "$pid"
	rc=$?
	pid=
	if [ $rc -eq 0 ]; then
		ok "weftd serving the examples exits 0 on SIGTERM"
	else
		not_ok "weftd serving the examples exits 0 on SIGTERM (exit $rc)"
		diag "$tmp/examples.log"
	fi
fi
if grep -q ': \(error\|warning\): ' "$tmp/examples.log"; then
	not_ok "the examples logged no errors or warnings"
	diag "$tmp/examples.log"
else
	ok "the examples logged no errors or warnings"
fi

echo "1..$n"
echo "# installcheck: $((n - nfail)) passed, $nfail failed"
[ $nfail -eq 0 ]
