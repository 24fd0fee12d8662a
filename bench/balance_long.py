#!/usr/bin/env python3
"""make bench's long-lived balance rows (bench/run.sh): for 2 and 4
workers, 100 and 1000 connections, paced 2 ms apart and in a burst,
start weftd (accept_balance on, the default), open the connections and
count each worker's share from /proc (tests/balancelib.py).  One line per
case: "WORKERS N paced|burst MAX/MIN COUNTS" (COUNTS as a/b/...).
Environment: WEFTD, PLUGIN_DIR (as for the tests)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests"))
import balancelib  # noqa: E402

for workers in (2, 4):
    for n in (100, 1000):
        for pace in (2, 0):
            try:
                c = balancelib.measure(workers, n, pace)
                r = "%.2f" % balancelib.ratio(c)
                cs = "/".join(map(str, c))
            except Exception as e:  # a row of its own says what failed
                r, cs = "-", "failed:" + str(e).split("\n")[0][:60]
            print("%d %d %s %s %s" % (workers, n,
                                      "paced" if pace else "burst", r, cs))
            sys.stdout.flush()
