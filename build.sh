#!/bin/bash
# weft's one entry point for people and CI.
#   ./build.sh run    build everything, run the main program in the foreground
#   ./build.sh test   build (normal and ASan+UBSan) and run the whole test suite
#   ./build.sh deps   only install the Debian packages the build needs
#   ./build.sh fuzz [SECONDS]  run the libFuzzer targets, SECONDS each (20)
#   ./build.sh valgrind  build in _build-vg, run make check-valgrind (memcheck)
#   ./build.sh nosystemd  build --with-systemd=no in _build-nosd, make check
#   ./build.sh systemd   make check-systemd: weftd under a real systemd
#   ./build.sh deb    make deb (Debian packages, lintian), make check-deb
# Missing Debian packages are installed with apt-get (run as root).
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

PKGS="build-essential autoconf automake libtool pkg-config libuv1-dev libssl-dev openssl
      libcmocka-dev libconfig-dev libinih-dev python3 procps mandoc curl
      redis-tools
      libsystemd-dev systemd util-linux"
# Only for ./build.sh deb (make deb): the Debian packaging tools.
DEB_PKGS="debhelper dpkg-dev fakeroot lintian"
# Only for ./build.sh fuzz: clang and its libFuzzer runtime (Debian 12).
FUZZ_PKGS="clang libclang-rt-14-dev"
# Only for ./build.sh valgrind: memcheck, and valgrind/valgrind.h, which
# configure must see so fibers register their stacks with valgrind.
VALGRIND_PKGS="valgrind"

deps() {
	local missing=""
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed" || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "build.sh: installing:$missing" >&2
		if [ "$(id -u)" -ne 0 ]; then
			echo "build.sh: need root to apt-get install$missing" >&2
			exit 1
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq $missing >/dev/null
	fi
}

# build DIR [configure args...]: out-of-tree build in DIR.
build() {
	local dir=$1
	shift
	[ -x configure ] || ./autogen.sh
	mkdir -p "$dir"
	# Configured before libsystemd-dev was installed: configure again,
	# or the systemd integration would silently stay out.
	if [ -f "$dir/config.status" ] &&
	    ! grep -q -e '--with-systemd=no' "$dir/config.status" &&
	    grep -q '^S\["have_systemd"\]="no"' "$dir/config.status" &&
	    pkg-config --exists libsystemd; then
		rm -f "$dir/Makefile"
	fi
	(cd "$dir" &&
	    { [ -f Makefile ] || "$top/configure" --enable-werror "$@" >/dev/null; } &&
	    make -j"$jobs" >/dev/null)
}

# check DIR: make check in DIR; prints the automake summary counts.
check() {
	local dir=$1 out rc=0
	rm -f "$dir/test-suite.log"
	out=$(cd "$dir" && make -j"$jobs" check 2>&1) || rc=$?
	if [ $rc -ne 0 ] && [ ! -f "$dir/test-suite.log" ]; then
		# Nothing ran: the build of the tests failed.
		printf '%s\n' "$out" | tail -30
		printf '# FAIL:  1\n' >"$dir/test-suite.log"
	fi
	printf '%s\n' "$out" | grep -E '^(# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR)|(FAIL|ERROR|XPASS):)' || true
	if [ $rc -ne 0 ]; then
		find "$dir/tests" -name '*.log' -exec grep -l -E '^(not ok|ERROR|FAIL)' {} + 2>/dev/null |
		    while read -r f; do echo "---- $f"; tail -40 "$f"; done
	fi
	return $rc
}

count() { # count DIR FIELD
	grep -E "^# $2: " "$1/test-suite.log" 2>/dev/null | awk '{s+=$3} END {print s+0}'
}

case "${1:-}" in
deps)
	deps
	;;
run)
	deps
	build _build
	echo "weftd: echo :7000, lines :7001, http-hello :7080," \
	    "echo on unix:_build/weftd-echo.sock (Ctrl-C stops it)" >&2
	exec _build/weftd -c conf/weftd-dev.conf
	;;
test)
	deps
	rc=0
	echo "== build: -Wall -Wextra -Werror"
	build _build
	echo "== make check"
	check _build || rc=1
	echo "== build: --enable-sanitizers (ASan + UBSan)"
	build _build-san --enable-sanitizers
	echo "== make check (sanitizers)"
	# ASan about doubles the CPU a test needs: its hang guards double too.
	WEFT_TEST_TIMEOUT_MULT=2 \
	    ASAN_OPTIONS=detect_stack_use_after_return=1:detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 check _build-san || rc=1
	# Install checks: one test each (their own output says what failed).
	extra_pass=0
	extra_fail=0
	for target in installcheck distcheck; do
		echo "== make $target"
		if (cd _build && make -j"$jobs" $target >"$top/_build/$target.out" 2>&1); then
			extra_pass=$((extra_pass + 1))
			tail -3 "_build/$target.out"
		else
			extra_fail=$((extra_fail + 1))
			tail -40 "_build/$target.out"
			rc=1
		fi
	done
	pass=$(( $(count _build PASS) + extra_pass ))
	fail=$(( $(count _build FAIL) + $(count _build ERROR) + $(count _build XPASS) + extra_fail ))
	sfail=$(( $(count _build-san FAIL) + $(count _build-san ERROR) + $(count _build-san XPASS) ))
	skip=$(count _build SKIP)
	echo "sanitizer build: $(count _build-san PASS) passed, $sfail failed"
	[ "$fail" -eq 0 ] && [ "$sfail" -eq 0 ] || rc=1
	echo "$pass passed, $((fail + sfail)) failed, $skip skipped"
	exit $rc
	;;
fuzz)
	# doc/fuzzing.md: configure with clang in _build-fuzz (nothing else
	# is built there) and run each target for SECONDS.
	PKGS="$PKGS $FUZZ_PKGS"
	deps
	secs=${2:-20}
	if ! printf 'int LLVMFuzzerTestOneInput(const char *d, long n)
	    { return 0; }\n' | clang -fsanitize=fuzzer -x c - \
	    -o /tmp/build-sh-fuzz-probe.$$ >/dev/null 2>&1; then
		echo "build.sh: clang -fsanitize=fuzzer does not link" >&2
		exit 1
	fi
	rm -f /tmp/build-sh-fuzz-probe.$$
	[ -x configure ] || ./autogen.sh
	mkdir -p _build-fuzz
	(cd _build-fuzz &&
	    { [ -f Makefile ] || "$top/configure" CC=clang >/dev/null; } &&
	    make fuzz FUZZ_SECONDS="$secs")
	;;
valgrind)
	# doc/reliability.md, "Valgrind": a normal build (--enable-werror,
	# no sanitizers) of its own in _build-vg, then the network and
	# integration tests under memcheck.  It prints the failures, the
	# automake summary and the scan of the memcheck logs, not every PASS.
	PKGS="$PKGS $VALGRIND_PKGS"
	deps
	# Configured before valgrind was installed: configure again, or
	# the fiber stacks would not be registered with valgrind.
	if [ -f _build-vg/autoconf.h ] && ! grep -q \
	    '^#define HAVE_VALGRIND_VALGRIND_H 1' _build-vg/autoconf.h; then
		rm -f _build-vg/Makefile
	fi
	build _build-vg
	quiet='^(PASS|SKIP|XFAIL): |^  (CC|CCLD|GEN) |^make\[[0-9]+\]: [EL]'
	set +e
	(cd _build-vg && make -s -j"$jobs" check-valgrind 2>&1) |
	    grep -v -E "$quiet"
	exit "${PIPESTATUS[0]}"
	;;
nosystemd)
	# For systems without systemd: the same build without libsystemd
	# stays compiling and passing.  Prints "N passed, N failed, N skipped".
	deps
	build _build-nosd --with-systemd=no
	rc=0
	check _build-nosd || rc=1
	echo "$(count _build-nosd PASS) passed," \
	    "$(( $(count _build-nosd FAIL) + $(count _build-nosd ERROR) + $(count _build-nosd XPASS) )) failed," \
	    "$(count _build-nosd SKIP) skipped"
	exit $rc
	;;
systemd)
	# weftd installed into a real systemd booted in private namespaces
	# (tests/check_systemd.py; needs root).  Its last line is
	# "# check-systemd: N passed, N failed, N skipped".
	deps
	build _build
	cd _build && exec make -s check-systemd
	;;
deb)
	# The Debian packages (debian/), built from a clean copy of the
	# tree, lintian ("make deb" in _build), then "make check-deb": they
	# install with dpkg -i into a namespaced systemd and serve.
	PKGS="$PKGS $DEB_PKGS"
	deps
	build _build
	cd _build && make -s deb && exec make -s check-deb
	;;
*)
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
