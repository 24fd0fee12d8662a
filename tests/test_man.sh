#!/bin/sh
# Lints the man pages with mandoc: weftd(8) and weftd.conf(5) as made in
# the build directory (doc/Makefile.inc substitutes the configured paths),
# libweft(3) from the source tree.  Any warning or error fails, as does an
# @variable@ left unsubstituted.  Without mandoc every page is a visible
# SKIP.  Prints TAP for build-aux/tap-driver.sh; automake runs it with the
# build directory as cwd and $srcdir set.

srcdir=${srcdir:-.}
n=0
nfail=0

pages="doc/weftd.8 doc/weftd.conf.5 doc/libweft.3"

echo "1..6"

find_page() {
	if [ -f "$1" ]; then
		echo "$1"
	elif [ -f "$srcdir/$1" ]; then
		echo "$srcdir/$1"
	fi
}

for p in $pages; do
	n=$((n + 1))
	f=$(find_page "$p")
	if [ -z "$f" ]; then
		nfail=$((nfail + 1))
		echo "not ok $n - $p exists (run make first)"
	elif grep -n '@[A-Za-z_]*@' "$f" >/dev/null; then
		nfail=$((nfail + 1))
		echo "not ok $n - $p: no @variable@ left"
		grep -n '@[A-Za-z_]*@' "$f" | sed 's/^/# /'
	else
		echo "ok $n - $p: no @variable@ left"
	fi
done

for p in $pages; do
	n=$((n + 1))
	f=$(find_page "$p")
	if ! command -v mandoc >/dev/null 2>&1; then
		echo "ok $n - mandoc -T lint $p # SKIP mandoc not installed"
		continue
	fi
	if [ -z "$f" ]; then
		nfail=$((nfail + 1))
		echo "not ok $n - mandoc -T lint $p: no such page"
		continue
	fi
	# -W warning: report warnings and worse (not style hints), and exit
	# non-zero on any.  "referenced manual not found" is a style hint:
	# the pages refer to each other before they are installed.
	out=$(mandoc -T lint -W warning "$f" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		echo "ok $n - mandoc -T lint -W warning $p"
	else
		nfail=$((nfail + 1))
		echo "not ok $n - mandoc -T lint -W warning $p (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
done

[ $nfail -eq 0 ]
