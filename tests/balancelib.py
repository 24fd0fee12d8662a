"""Balanced accept, measured (tests/test_weftd_balance.py, the stress
suite and bench/run.sh): open long-lived connections to a weftd's echo
listener, paced or in a burst, and count each worker's share from /proc
(the server side of each connection, found by its socket inode in the
worker's fds and /proc/net/tcp): nothing weftd says about itself."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "stress"))
from procstat import peer_ports, tcp_table  # noqa: E402
from weftdlib import SLOW, Failed, Weftd  # noqa: E402

CONF = """
workers = %(workers)d;
log_level = "info";
worker_timeout = 5.0;
shutdown_timeout = 2.0;
accept_balance = %(balance)s;
plugin_dir = "@PLUGINS@";
plugins = { echo = { path = "echo.so"; }; };
listen = ( { tcp = "127.0.0.1:0"; plugin = "echo"; backlog = 4096;
             reuse_port = %(reuse)s; } );
"""


def start(workers, balance=True, reuse=False):
    w = Weftd(CONF % {"workers": workers,
                      "balance": "true" if balance else "false",
                      "reuse": "true" if reuse else "false"})
    w.wait_ready(workers)
    return w


def open_conns(port, n, pace_ms):
    """n connected sockets, pace_ms apart (0: a burst)."""
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        out.append(s)
        if pace_ms:
            time.sleep(pace_ms / 1000.0)
    return out


def shares(w, port, n, timeout=20.0):
    """Each worker's count of connections on port, once the workers
    hold n between them (the rest may still be in the accept queue)."""
    end = time.time() + timeout * SLOW
    while True:
        tbl = tcp_table()
        counts = [len(peer_ports(pid, port, tbl)) for pid in w.workers()]
        if sum(counts) >= n or time.time() > end:
            break
        time.sleep(0.05)
    if sum(counts) != n:
        raise Failed("workers hold %r connections, expected %d in all" %
                     (counts, n))
    return sorted(counts)


def ratio(counts):
    return max(counts) / max(min(counts), 1) if min(counts) else float("inf")


def measure(workers, n, pace_ms, balance=True, reuse=False):
    """Start weftd, open n connections, return each worker's count."""
    w = start(workers, balance, reuse)
    conns = []
    try:
        port = w.ports()["echo"][0]
        conns = open_conns(port, n, pace_ms)
        # Every connection is served: one echo each, on the last one.
        conns[-1].sendall(b"ping")
        if conns[-1].recv(4) != b"ping":
            raise Failed("no echo")
        return shares(w, port, n)
    finally:
        for s in conns:
            s.close()
        w.stop()
