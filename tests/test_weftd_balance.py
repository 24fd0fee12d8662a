#!/usr/bin/env python3
"""Balanced accept on the default shared listening socket (accept_balance,
doc/weftd.conf.md): 100 long-lived connections, paced 2 ms apart or in a
burst, to 2 and to 4 workers, end up within max/min <= 1.2 of each other,
counted from /proc.  A worker killed while its siblings sit clients out
loses nothing, and one stopped (SIGSTOP: its loop blocked, its count the
lowest) holds nobody up.  Prints TAP.  Environment as for test_weftd.py."""
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from balancelib import measure, open_conns, ratio, shares, start  # noqa
from taplib import run, test  # noqa: E402
from weftdlib import Failed, kill_started, recv_until  # noqa: E402

LIMIT = 1.2


def check(workers, n, pace_ms):
    counts = measure(workers, n, pace_ms)
    print("# %d workers, %d connections %s: %r, max/min %.2f" %
          (workers, n, "%d ms apart" % pace_ms if pace_ms else "in a burst",
           counts, ratio(counts)))
    if len(counts) != workers:
        raise Failed("%d workers hold connections, expected %d" %
                     (len(counts), workers))
    if ratio(counts) > LIMIT:
        raise Failed("max/min %.2f > %.1f: %r" % (ratio(counts), LIMIT,
                                                  counts))


@test
def paced_2_workers():
    check(2, 100, 2)


@test
def burst_2_workers():
    check(2, 100, 0)


@test
def paced_4_workers():
    check(4, 100, 2)


@test
def burst_4_workers():
    check(4, 100, 0)


@test
def reuse_port_unchanged():
    # Not gated: each socket's clients are its worker's alone; all served.
    counts = measure(2, 100, 0, reuse=True)
    print("# reuse_port, 2 workers, 100 in a burst: %r" % counts)


def short_client(port, n):
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise Failed("no echo")
        # A reset, as bench/shortconn closes: the server's side goes at once.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()


@test
def short_connections_keep_workers():
    # A worker sitting clients out polls no socket: when its last
    # connection ends meanwhile, its loop must not run out of work.
    w = start(2)
    try:
        pids = sorted(w.workers())
        port = w.ports()["echo"][0]
        threads = [threading.Thread(target=short_client, args=(port, 100))
                   for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if sorted(w.workers()) != pids or "exited" in w.text():
            raise Failed("workers ended:\n" + w.text()[-2000:])
    finally:
        w.stop()


def echo_all(conns):
    for i, s in enumerate(conns):
        s.sendall(b"x%d\n" % i)
    for i, s in enumerate(conns):
        want = b"x%d\n" % i
        if recv_until(s, lambda b: len(b) >= len(want)) != want:
            raise Failed("connection %d: no echo" % i)


def lopsided(w, port):
    """20 connections, then one worker (the least loaded) frozen or
    killed: the siblings, above it, must not wait for it."""
    conns = open_conns(port, 20, 2)
    shares(w, port, 20)
    return conns


@test
def stopped_worker_holds_nobody():
    w = start(2)
    conns = []
    victim = None
    try:
        port = w.ports()["echo"][0]
        conns = lopsided(w, port)
        victim = w.workers()[0]
        os.kill(victim, signal.SIGSTOP)
        # Its heartbeat stays fresh for two seconds: until then the
        # other worker takes these by the progress rule (50 ms without
        # the stopped one accepting), and every one is served.
        more = open_conns(port, 30, 0)
        conns += more
        echo_all(more)
    finally:
        if victim is not None:
            os.kill(victim, signal.SIGCONT)
        for s in conns:
            s.close()
        w.stop()


@test
def killed_worker_loses_nothing():
    w = start(2)
    conns = []
    try:
        port = w.ports()["echo"][0]
        conns = lopsided(w, port)
        victim = w.workers()[0]
        os.kill(victim, signal.SIGKILL)
        more = open_conns(port, 30, 1)
        conns += more
        echo_all(more)
        w.wait_ready(3)  # respawned
        time.sleep(0.1)
        more = open_conns(port, 10, 0)
        conns += more
        echo_all(more)
    finally:
        for s in conns:
            s.close()
        w.stop()


if __name__ == "__main__":
    sys.exit(run(kill_started))
