#!/bin/sh
# Memcheck for `make check-valgrind` (doc/reliability.md, "Valgrind").
#
#   valgrind.sh PROG [ARGS...]   run PROG under memcheck, one log per process
#   valgrind.sh --scan DIR       check every log in DIR; exit 1 on any error
#                                or definite/indirect leak, printing the log
#
# The make target sets VG_LOGDIR (where the logs go), VG_SUPP (the
# suppressions file) and LIBTOOL (the build's libtool).  PROG may be a
# libtool wrapper script: `libtool --mode=execute` swaps it for the real
# binary and sets the library path, so memcheck sees the program and not a
# shell.  The wrapper execs, so the pid a test holds is the program's.
#
# %p in the log name gives every process its own log: weftd's workers are
# forks of the supervisor and must not write into its file.  Leaks count
# as errors (--errors-for-leak-kinds), so a leaking or faulty process also
# exits 99, which the test that ran it sees as a failure of its own.

if [ "${1:-}" = "--scan" ]; then
	dir=$2
	nlogs=0
	ncomplete=0
	nbad=0
	for f in "$dir"/vg.*.log; do
		[ -f "$f" ] || continue
		nlogs=$((nlogs + 1))
		# A process killed by SIGKILL (test_weftd.py's kill9 test does
		# it on purpose, the supervisor to a worker it gives up on)
		# ends its log before the summary: nothing to check in it.
		grep -q 'ERROR SUMMARY:' "$f" || continue
		ncomplete=$((ncomplete + 1))
		errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' \
		    "$f" | tr -d , | tail -n 1)
		def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' \
		    "$f" | tr -d , | tail -n 1)
		ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' \
		    "$f" | tr -d , | tail -n 1)
		if [ "${errs:-0}" -ne 0 ] || [ "${def:-0}" -ne 0 ] ||
		    [ "${ind:-0}" -ne 0 ]; then
			nbad=$((nbad + 1))
			echo "---- $(basename "$f"): ${errs:-0} errors," \
			    "${def:-0} bytes definitely lost," \
			    "${ind:-0} bytes indirectly lost"
			# The first errors are the ones to read; the whole
			# log stays in the directory.
			head -n 300 "$f"
		fi
	done
	echo "valgrind: $nlogs process logs, $ncomplete complete" \
	    "($((nlogs - ncomplete)) killed before exit), $nbad with errors" \
	    "or leaks"
	if [ "$ncomplete" -eq 0 ]; then
		echo "valgrind: no process ran to completion under memcheck"
		exit 1
	fi
	[ "$nbad" -eq 0 ]
	exit
fi

: "${VG_LOGDIR:?set by make check-valgrind}"
: "${LIBTOOL:=libtool}"
supp=
[ -n "${VG_SUPP:-}" ] && supp="--suppressions=$VG_SUPP"
# --trace-children: a program that execs another keeps it under
# memcheck, except the system's own tools (the TLS tests make their
# certificates with sh, mktemp and openssl): their leaks are not ours.  --child-silent-after-fork is off on purpose: the
# workers are forks and are what most of this is about.
exec $LIBTOOL --mode=execute valgrind --tool=memcheck \
    --trace-children=yes --trace-children-skip='/usr/bin/*,/bin/*' \
    --vgdb=no \
    --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
    --num-callers=30 $supp --log-file="$VG_LOGDIR/vg.%p.log" "$@"
