#!/bin/sh
# Run one libFuzzer target for a bounded time and print one line:
#   fuzz_reader: 1234567 execs in 20 s, 0 crashes
# Usage: run.sh BINARY SECONDS SEED_CORPUS WORK_DIR [libFuzzer flags...]
# New inputs go into WORK_DIR/corpus (the seed corpus is only read), a
# crash, leak or timeout into WORK_DIR/ as crash-*, leak-*, timeout-*;
# the full log is WORK_DIR/log.  Exits 1 if the target found anything.
set -u
bin=$1 secs=$2 seeds=$3 work=$4
shift 4
name=$(basename "$bin")
dict=$(dirname "$0")/${name#fuzz_}.dict

mkdir -p "$work/corpus" "$work/tmp" || exit 1
# fuzz_config's temporary files: a crash leaves them here, not in /tmp.
TMPDIR=$(cd "$work/tmp" && pwd)
export TMPDIR
rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
set -- -max_total_time="$secs" -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$work/" "$@"
[ -f "$dict" ] && set -- -dict="$dict" "$@"
# Any stdin a target might touch is /dev/null: fuzzing never waits on it.
"$bin" "$@" "$work/corpus" "$seeds" >"$work/log" 2>&1 </dev/null
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
found=$(ls "$work" | grep -c -E '^(crash|leak|timeout|oom)-')
if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then
	found=1 # died without writing an artifact
fi
echo "$name: ${execs:-0} execs in $secs s, $found crashes"
if [ "$found" -ne 0 ]; then
	grep -E -m 20 'ERROR|SUMMARY|^fuzz_|runtime error' "$work/log" | sed 's/^/  /'
	ls "$work" | grep -E '^(crash|leak|timeout|oom)-' |
	    sed "s|^|  reproducer: $work/|"
	echo "  log: $work/log; rerun: $bin <reproducer>"
	exit 1
fi
exit 0
