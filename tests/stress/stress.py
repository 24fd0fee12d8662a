#!/usr/bin/env python3
"""weftd fault and abuse suite: `make stress` (never part of `make check`).

Every scenario starts its own weftd (ephemeral ports on 127.0.0.1, temp
UNIX paths and control socket), drives it with a built-in load generator
(200 concurrent echo exchanges, continuously) and/or hostile clients,
injects a fault, and reports counts of completed, failed, reset and refused
exchanges plus the timings it checks.  All traffic is on 127.0.0.0/8 and
bounded in count and time; every process started here is killed at exit.

Environment:
  WEFTD, PLUGIN_DIR, TEST_PLUGIN_DIR  the build's weftd and plugins
  STRESS_QUICK=1      smaller counts for CI (about 2 minutes in all)
  STRESS_ONLY=a,b     run only these scenarios (by function name)
  STRESS_REPORT=FILE  also write the results table (markdown) there
  STRESS_KEEP=1       keep the temp dirs (logs) of every scenario
  STRESS_WAVES=N      waves of slowloris's timeout phase (3)

Output: one "ok N - name" / "not ok N - name" line per scenario with its
figures as "#" lines below, then a results table.  Exit status 1 if any
scenario failed.
"""
import collections
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import weftdlib  # noqa: E402
from weftdlib import (PLUGIN_DIR, TEST_PLUGIN_DIR, WEFTD,  # noqa: E402
                      Failed, connect, nfds, status_rows)
import haproxylib  # noqa: E402
import load  # noqa: E402
from load import (Load, background, counts, echo_latencies,  # noqa: E402
                  echo_latencies_paired, fail_summary, max_gap, pctl,
                  tcp, unix)
from procstat import (cpu_ticks, owner_of, peer_ports,  # noqa: E402
                      proc_status, rss_kb, rss_split, workers_fds_rss)

QUICK = os.environ.get("STRESS_QUICK", "") not in ("", "0")
ONLY = [x for x in os.environ.get("STRESS_ONLY", "").split(",") if x]
KEEP = os.environ.get("STRESS_KEEP", "") not in ("", "0")

# Counts: full run / quick (CI) run.
N = {
    "load_conns": load.CONNS,
    "kills": 2 if QUICK else 4,
    "hups": 20 if QUICK else 100,
    "slowloris": 300 if QUICK else 1000,
    "flood": 20 if QUICK else 50,
    "abusers": 10 if QUICK else 40,
    "emfile_clients": 200,
    "lat_samples": 1000 if QUICK else 3000,
}
# Seconds of load around each fault.
D = {
    "warm": 1.0 if QUICK else 2.0,
    "after": 1.5 if QUICK else 3.0,
    "baseline": 3.0 if QUICK else 8.0,
    "flood": 5.0 if QUICK else 12.0,
    "cpu": 2.0 if QUICK else 4.0,
    "latency": 4.0 if QUICK else 10.0,
}

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# ---- process bookkeeping ------------------------------------------------


def _cleanup():
    load.stop_all()
    weftdlib.kill_started()
    haproxylib.kill_started()
    if not KEEP:
        weftdlib.remove_tmpdirs()


def _on_signal(sig, frame):
    _cleanup()
    os._exit(128 + sig)


def mkdtemp():
    return weftdlib.mkdtemp("weft-stress-", 0o755)


class Skip(Exception):
    pass


# ---- weftd ----------------------------------------------------------------

BASE = """
workers = @WORKERS@;
log_level = "info";
shutdown_timeout = @SHUTDOWN@;
worker_timeout = @WTIMEOUT@;
plugin_dir = "@PLUGINS@";
plugins = {
  echo = { path = "echo.so"; };
  lines = { path = "lines.so"; };
  http-hello = { path = "http-hello.so"; };
@EXTRA_PLUGINS@
};
listen = (
  { name = "echo-tcp"; tcp = "127.0.0.1:0"; plugin = "echo"; },
  { name = "echo-unix"; unix = "@DIR@/echo.sock"; mode = "0660"; plugin = "echo"; },
  { name = "lines"; tcp = "127.0.0.1:0"; plugin = "lines"; limit = @LIMIT@; },
  { name = "http"; tcp = "127.0.0.1:0"; plugin = "http-hello"; limit = @LIMIT@; }@EXTRA_LISTEN@
);
"""


def conf_text(workers=2, shutdown=10.0, wtimeout=30.0, limit=1024,
              extra=(), plugin_dir=None, head=""):
    """extra: test plugins to add, each with its own TCP listener."""
    ep = "".join('  %s = { path = "%s/%s.so"; };\n' %
                 (e, TEST_PLUGIN_DIR, e) for e in extra)
    el = "".join(',\n  { name = "%s"; tcp = "127.0.0.1:0"; plugin = "%s"; }'
                 % (e, e) for e in extra)
    t = BASE
    for k, v in (("@WORKERS@", str(workers)),
                 ("@SHUTDOWN@", "%.1f" % shutdown),
                 ("@WTIMEOUT@", "%.1f" % wtimeout),
                 ("@LIMIT@", str(limit)),
                 ("@EXTRA_PLUGINS@", ep), ("@EXTRA_LISTEN@", el),
                 ("@PLUGINS@", plugin_dir or PLUGIN_DIR)):
        t = t.replace(k, v)
    return head + t


class Weftd(weftdlib.Weftd):
    """weftd for a scenario: in a session of its own (killed with its
    workers, whatever their uid), no core files, its temp dir (kept with
    STRESS_KEEP) as working directory and dir/ctl.sock as control
    socket."""

    def __init__(self, text, nofile=None, name="weftd.conf", conf_mode=None,
                 dir=None):
        super().__init__(text, name=name, dir=dir or mkdtemp(),
                         conf_mode=conf_mode, ctl_name="ctl.sock",
                         session=True, nofile=nofile, nocore=True, cwd="dir")

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        return super().stop(sig, timeout)

    def wait_workers(self, n, timeout=15.0):
        return super().wait_workers(n, timeout)


def active(w):
    """Connections w's workers hold, from `weftd -s status` (their
    heartbeat brings the counts up to 1 s late)."""
    return sum(r["active"] for r in status_rows(w.status()))


# ---- small clients -----------------------------------------------------------

def recv_until(s, pred, limit=1 << 22):
    """weftdlib.recv_until, ending at a timeout with what came."""
    return weftdlib.recv_until(s, pred, limit, partial=True)


def exchange(addr, payload, timeout=5.0):
    return weftdlib.exchange(addr, payload, timeout=timeout, partial=True,
                             limit=1 << 22)


# ---- reporting ---------------------------------------------------------------

results = []     # (name, ok, figures dict, notes)
SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


class Report:
    def __init__(self, name):
        self.name = name
        self.fig = collections.OrderedDict()
        self.notes = []
        self.problems = []

    def set(self, k, v):
        self.fig[k] = v

    def note(self, text):
        self.notes.append(text)

    def check(self, cond, what):
        if not cond:
            self.problems.append(what)
        return cond

    def load(self, prefix, r):
        c = counts(r)
        self.fig[prefix] = "%d/%d/%d/%d" % (c["completed"], c["failed"],
                                            c["reset"], c["refused"])
        if r["stats"].get("client_error"):
            self.note("%s: %d client-side errors (not the server's): %s" %
                      (prefix, r["stats"]["client_error"], fail_summary(r)))
        return c


# ---- scenarios -------------------------------------------------------------

@scenario
def load_baseline(rep):
    """Reference: 200 connections of echo exchanges (TCP and UNIX), no
    fault."""
    w = Weftd(conf_text()).wait_ready(2)
    try:
        with Load([tcp(w.port("echo"))] * 3 +
                  [unix(os.path.join(w.dir, "echo.sock"))]) as ld:
            time.sleep(D["baseline"])
            r = ld.finish()
        c = rep.load("load c/f/r/ref", r)
        secs = r["t_end"] - r["t_start"]
        rep.set("exchanges/s", "%.0f" % (c["completed"] / secs))
        rep.set("connections", r["stats"]["connects"])
        rep.set("exchange p50/p99 ms", "%.2f/%.2f" %
                (r["lat"][0] * 1e3, r["lat"][1] * 1e3))
        rep.check(c["failed"] + c["reset"] + c["refused"] == 0,
                  "failures without a fault: " + fail_summary(r))
        rep.check(c["completed"] > 1000, "too little traffic")
    finally:
        rep.check(w.stop() == 0, "weftd exit status")


@scenario
def kill9_worker(rep):
    """kill -9 one worker at a time under load: only that worker's
    in-flight connections fail, no connect is refused, the replacement
    reports ready within 100 ms."""
    workers = 4
    w = Weftd(conf_text(workers=workers)).wait_ready(workers)
    port = w.port("echo")
    ready_ms = []
    victims_conns = 0
    failed_ports = set()
    allowed = set()
    with Load([tcp(port)]) as ld:
        time.sleep(D["warm"])
        for k in range(N["kills"]):
            slots = w.slots()
            slot = k % workers
            pid = slots[slot]
            mark = w.log.mark()
            # Freeze it, note its connections, then kill it: nothing it
            # accepts can escape the list.
            os.kill(pid, signal.SIGSTOP)
            ports = peer_ports(pid, port[1])
            allowed |= ports
            victims_conns += len(ports)
            t_kill = time.time()
            os.kill(pid, signal.SIGKILL)
            found = w.log.wait(r"worker %d \(pid (\d+)\) ready" % slot,
                               start=mark, timeout=10)
            ready_ms.append((found[0][1] - t_kill) * 1000)
            time.sleep(D["after"] / 2)
        time.sleep(D["after"])
        r = ld.finish()
    c = rep.load("load c/f/r/ref", r)
    for _, kind, detail, tidx, lport, done, connected in r["fails"]:
        failed_ports.add(lport)
    stray = [f for f in r["fails"] if f[4] not in allowed]
    rep.set("kills", N["kills"])
    rep.set("victims' connections", victims_conns)
    rep.set("failed+reset on victims", len(r["fails"]) - len(stray))
    rep.set("failed+reset elsewhere", len(stray))
    rep.set("replacement ready ms", "/".join("%.0f" % x for x in ready_ms))
    rep.set("longest gap in completions s", "%.1f" % max_gap(
        r, r["t_start"] + 0.5, r["t_end"] - 0.2))
    rep.check(c["refused"] == 0, "refused connects")
    rep.check(not stray, "failures outside the killed workers: %r" %
              stray[:5])
    rep.check(max(ready_ms) <= 100, "replacement slower than 100 ms: %r" %
              ready_ms)
    rep.check(len(r["fails"]) <= victims_conns, "more failures than "
              "victims' connections")
    rep.check(w.stop() == 0, "weftd exit status")


def _reload(w, gen, timeout=15.0):
    mark = w.log.mark()
    t0 = time.time()
    w.proc.send_signal(signal.SIGHUP)
    found = w.log.wait(r"reload (complete: generation (\d+)|failed)",
                       start=mark, timeout=timeout, proc=w.proc)
    if "failed" in found[0][2].group(1):
        raise Failed("reload failed: " + w.log.text()[-2000:])
    return found[0][1] - t0


@scenario
def hup_swap_plugin(rep):
    """HUP under load, then replace echo.so the way a package upgrade does
    (write a new file, rename it over the old one) and HUP again: no
    exchange may fail, reset or be refused."""
    pdir = mkdtemp()
    for p in ("echo.so", "lines.so", "http-hello.so"):
        shutil.copy(os.path.join(PLUGIN_DIR, p), pdir)
        os.chmod(os.path.join(pdir, p), 0o644)
    w = Weftd(conf_text(plugin_dir=pdir)).wait_ready(2)
    port = w.port("echo")
    sock = os.path.join(w.dir, "echo.sock")
    with Load([tcp(port)] * 3 + [unix(sock)]) as ld:
        time.sleep(D["warm"])
        t1 = _reload(w, 2)
        time.sleep(D["after"] / 2)
        # A "rebuilt" echo.so: same code, different bytes (an ELF file
        # ignores what follows its last section), a new inode.
        new = os.path.join(pdir, ".echo.so.new")
        with open(os.path.join(PLUGIN_DIR, "echo.so"), "rb") as f:
            old_data = f.read()
        new_data = old_data + b"\0rebuilt %f\0" % time.time()
        with open(new, "wb") as f:
            f.write(new_data)
        os.chmod(new, 0o644)
        os.rename(new, os.path.join(pdir, "echo.so"))
        t2 = _reload(w, 3)
        time.sleep(D["after"])
        r = ld.finish()
    c = rep.load("load c/f/r/ref", r)
    # A worker runs a sealed copy of the plugin: which bytes does it hold?
    ran = collections.Counter()
    for data, n in _plugin_bytes(w.workers(), "echo.so").items():
        ran["new" if data == new_data else
            "old" if data == old_data else "other"] += n
    rep.set("reload s (plain, swapped)", "%.2f, %.2f" % (t1, t2))
    rep.set("workers running the new/old echo.so", "%d/%d" % (
        ran["new"], ran["old"]))
    rep.check(ran["new"] > 0 and ran["old"] + ran["other"] == 0,
              "new workers do not run the new file (%r)" % dict(ran))
    rep.check(c["failed"] + c["reset"] + c["refused"] == 0,
              "lost exchanges: " + fail_summary(r))
    rep.check(w.stop() == 0, "weftd exit status")


@scenario
def hup_many(rep):
    """N HUPs in a row under load (each waits for the reload to complete),
    then a burst of 10 HUPs 20 ms apart; long-ish keep-alive clients
    (2 s connections) keep old generations draining meanwhile.  Nothing may
    be lost, and the supervisor must not leak fds or processes."""
    w = Weftd(conf_text()).wait_ready(2)
    port = w.port("echo")
    sock = os.path.join(w.dir, "echo.sock")
    fds0 = nfds(w.proc.pid)
    times = []
    # The keep-alive clients: 20 connections of up to 4 s each (up to
    # 40 exchanges 0.1 s apart), so each generation keeps draining for
    # a while after the next one takes over.
    with Load([tcp(port)] * 3 + [unix(sock)]) as ld, \
            Load([tcp(port)], nconns=20, exchanges=40, size=16,
                 pause=0.1) as ka:
        time.sleep(D["warm"])
        t0 = time.time()
        peak = 0
        for i in range(N["hups"]):
            times.append(_reload(w, i + 2))
            peak = max(peak, len(w.workers()))
        t_hups = time.time() - t0
        mark = w.log.mark()
        for i in range(10):
            w.proc.send_signal(signal.SIGHUP)
            time.sleep(0.02)
        w.log.wait(r"reload complete", start=mark, timeout=15)
        time.sleep(D["after"])
        r = ld.finish()
        rk = ka.finish()
    c = rep.load("load c/f/r/ref", r)
    ck = rep.load("short clients c/f/r/ref", rk)
    # Let every old generation drain.
    end = time.time() + 15
    while time.time() < end and len(w.workers()) != 2:
        time.sleep(0.1)
    fds1 = nfds(w.proc.pid)
    gens = w.log.find(r"reload complete: generation (\d+)")
    rep.set("HUPs (waited) + burst", "%d + 10" % N["hups"])
    rep.set("reloads completed", len(gens))
    rep.set("HUPs during a reload (reloaded again after)", len(
        w.log.find(r"reload already in progress")))
    rep.set("reload s p50/max", "%.3f/%.3f" % (pctl(times, 50),
                                               max(times)))
    rep.set("HUPs/s", "%.1f" % (N["hups"] / t_hups))
    rep.set("supervisor fds before/after", "%d/%d" % (fds0, fds1))
    rep.set("peak worker processes (draining included)", peak)
    rep.set("processes after", len(w.workers()))
    too_many = w.log.find(r"too many draining generations")
    rep.set("'too many draining' warnings", len(too_many))
    rep.check(c["failed"] + c["reset"] + c["refused"] == 0,
              "lost exchanges: " + fail_summary(r))
    rep.check(ck["failed"] + ck["reset"] + ck["refused"] == 0,
              "lost exchanges (keep-alive clients): " + fail_summary(rk))
    rep.check(fds1 <= fds0, "supervisor fds grew %d -> %d" % (fds0, fds1))
    rep.check(len(w.workers()) == 2, "old workers left: %r" %
              w.workers())
    rep.check(w.stop() == 0, "weftd exit status")


def _http_body(addr):
    s = connect(addr)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return recv_until(s, lambda d: False).split(b"\r\n\r\n", 1)[-1]
    finally:
        s.close()


@scenario
def hup_during_reload(rep):
    """A config change with its HUP arriving while a reload is still in
    progress must not be lost: the last config written is the one served
    (checked through http-hello's body), under load."""
    rounds = 5 if QUICK else 20
    base = conf_text()
    w = Weftd(base).wait_ready(2)
    hport = w.port("http-hello")
    served = []
    stale = []
    with Load([tcp(w.port("echo"))]) as ld:
        time.sleep(D["warm"] / 2)
        for k in range(rounds):
            mark = w.log.mark()
            w.proc.send_signal(signal.SIGHUP)
            w.log.wait(r"reloading", start=mark, interval=0.0002)
            w.write_conf(base.replace(
                'http-hello = { path = "http-hello.so"; };',
                'http-hello = { path = "http-hello.so"; settings = '
                '{ body = "round %d\\n"; }; };' % k))
            w.proc.send_signal(signal.SIGHUP)
            # Settle: both HUPs lead to a "reloading" line (the second
            # one directly, or through the reload it asked for again once
            # the first is done), and every reload started has ended.
            end = time.time() + 10
            while time.time() < end:
                n_start = len(w.log.find(r"reloading ", start=mark))
                n_done = len(w.log.find(r"reload (complete|failed)",
                                        start=mark))
                if n_start >= 2 and n_done == n_start:
                    break
                time.sleep(0.01)
            # A worker of the retired generation may take a connection in
            # the moment before it handles its TERM and stops accepting:
            # the new body must show, and then stay, within 2 s (10
            # answers in a row from fresh connections).
            want = b"round %d\n" % k
            end = time.time() + 2
            streak = 0
            while streak < 10 and time.time() < end:
                body = _http_body(hport)
                if body == want:
                    streak += 1
                    continue
                if streak > 0:
                    stale.append(body[:40])
                streak = 0
                time.sleep(0.01)
            served.append(streak >= 10)
        r = ld.finish()
    c = rep.load("load c/f/r/ref", r)
    coalesced = w.log.find(r"reload already in progress")
    rep.set("rounds (HUP, change during its reload, HUP)", rounds)
    rep.set("HUPs that came during a reload", len(coalesced))
    rep.set("rounds serving the last config", "%d/%d" % (sum(served),
                                                         rounds))
    rep.set("old body after the new one (retired worker still accepting)",
            len(stale))
    # Such a worker still answers: what it sends is a whole older body.
    rep.check(all(b.startswith(b"round ") or b.startswith(b"Hello")
                  for b in stale), "bad answers after a reload: %r" % stale)
    rep.check(all(served), "a config change was lost: %r" % served)
    rep.check(c["failed"] + c["reset"] + c["refused"] == 0,
              "lost exchanges: " + fail_summary(r))
    rep.check(w.stop() == 0, "weftd exit status")


REUSE_PORT = """
workers = %d;
log_level = "info";
shutdown_timeout = 5.0;
plugin_dir = "%s";
plugins = { echo = { path = "echo.so"; }; };
listen = ( { tcp = "127.0.0.1:%d"; plugin = "echo"; reuse_port = true; } );
"""


@scenario
def reuse_port_shrink(rep):
    """A reuse_port listener (3 workers, a socket each) under a load of
    short connections, shrunk and grown again by TTOU/TTIN and by reloads
    to 2 and back to 3 workers: no connection may hang in the queue of a
    socket nobody accepts from (the load's exchange timeout would fail it)
    and none may be refused.  A connection that completes its handshake
    the instant a retired socket closes is reset unless the kernel
    migrates it (net.ipv4.tcp_migrate_req): those are counted."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    try:
        with open("/proc/sys/net/ipv4/tcp_migrate_req") as f:
            migrate = f.read().strip()
    except OSError:
        migrate = "absent"
    rounds = 4 if QUICK else 10
    # Each shrink lasts longer than the load's exchange timeout: a
    # connection queued where nobody accepts is not rescued by the grow
    # that follows.
    hold = 3.5
    w = Weftd(REUSE_PORT % (3, PLUGIN_DIR, port)).wait_ready(3)
    shrinks = 0
    try:
        with Load([tcp(("127.0.0.1", port))], exchanges=1,
                  timeout=3.0) as ld:
            time.sleep(D["warm"])
            for k in range(rounds):
                mark = w.log.mark()
                if k % 2 == 0:
                    w.proc.send_signal(signal.SIGTTOU)
                    w.log.wait(r"SIGTTOU: 2 worker", start=mark)
                    w.wait_workers(2)
                    time.sleep(hold)
                    mark = w.log.mark()
                    w.proc.send_signal(signal.SIGTTIN)
                    w.log.wait(r"worker 2 \(pid \d+\) ready", start=mark)
                else:
                    w.write_conf(REUSE_PORT % (2, PLUGIN_DIR, port))
                    _reload(w, 0)
                    w.wait_workers(2)
                    time.sleep(hold)
                    w.write_conf(REUSE_PORT % (3, PLUGIN_DIR, port))
                    _reload(w, 0)
                shrinks += 1
                time.sleep(0.2)
            # Past the load's exchange timeout: a connection stuck in a
            # queue nobody accepts from shows as failed.
            time.sleep(hold)
            r = ld.finish()
    finally:
        rep.check(w.stop() == 0, "weftd exit status")
    c = rep.load("load c/f/r/ref", r)
    rep.set("shrinks (TTOU or reload to 2)", shrinks)
    rep.set("net.ipv4.tcp_migrate_req", migrate)
    rep.set("reset per shrink", "%.2f" % (c["reset"] / max(shrinks, 1)))
    rep.check(c["failed"] == 0, "hung or failed connections: " +
              fail_summary(r))
    rep.check(c["refused"] == 0, "refused connections")
    if migrate == "1":
        rep.check(c["reset"] == 0, "resets with tcp_migrate_req = 1")


def _slow_exchange(addr, first, rest, delay, out, key):
    """A client whose exchange is in flight when TERM comes: half the
    message now, the rest after `delay`."""
    try:
        s = connect(addr, timeout=20)
        s.sendall(first)
        assert recv_until(s, lambda d: len(d) >= len(first)) == first
        time.sleep(delay)
        s.sendall(rest)
        got = recv_until(s, lambda d: len(d) >= len(rest))
        s.close()
        out[key] = "ok" if got == rest else "short %d/%d" % (len(got),
                                                             len(rest))
    except Exception as e:
        out[key] = "error %r" % e


@scenario
def term_graceful(rep):
    """TERM under load: in-flight handlers finish (slow clients finish
    their exchange 1 s after TERM), weftd exits 0 within shutdown_timeout,
    and no connection that got through is dropped without an answer."""
    import threading
    shutdown = 5.0
    w = Weftd(conf_text(shutdown=shutdown)).wait_ready(2)
    port = w.port("echo")
    slow = {}
    threads = []
    with Load([tcp(port)]) as ld:
        time.sleep(D["warm"])
        for i in range(10):
            t = threading.Thread(target=_slow_exchange, args=(
                port, b"first half %d " % i, b"second half %d\n" % i, 1.5,
                slow, i))
            t.start()
            threads.append(t)
        time.sleep(0.3)
        t_term = time.time()
        w.proc.send_signal(signal.SIGTERM)
        rc = w.proc.wait(shutdown + 10)
        t_exit = time.time()
        time.sleep(0.5)
        r = ld.finish()
    for t in threads:
        t.join(10)
    c = rep.load("load c/f/r/ref", r)
    after = [f for f in r["fails"] if f[0] >= t_term]
    # A connect that succeeded, then EOF or reset with no answer: it was
    # taken (by the kernel or a worker) and dropped.
    dropped = [f for f in after if f[6] and f[1] != "refused"]
    kinds = collections.Counter((f[1], f[2]) for f in dropped)
    rep.set("exit status", rc)
    rep.set("TERM to exit s", "%.2f (shutdown_timeout %g)" %
            (t_exit - t_term, shutdown))
    rep.set("slow in-flight clients ok", "%d/10" % sum(
        1 for v in slow.values() if v == "ok"))
    rep.set("after TERM: refused", c["refused"] - len(
        [f for f in r["fails"] if f[1] == "refused" and f[0] < t_term]))
    rep.set("after TERM: connected then dropped", len(dropped))
    rep.set("after TERM: reset while connecting", len(
        [f for f in after if not f[6] and f[1] == "reset"]))
    if kinds:
        rep.note("dropped after connect: " + "; ".join(
            "%s %s x%d" % (k, d, n) for (k, d), n in kinds.most_common(5)))
    before = [f for f in r["fails"] if f[0] < t_term]
    rep.check(not before, "failures before TERM: %r" % before[:3])
    rep.check(rc == 0, "exit status %r" % rc)
    rep.check(t_exit - t_term <= shutdown + 1.0, "exit took too long")
    rep.check(all(v == "ok" for v in slow.values()) and len(slow) == 10,
              "in-flight slow clients: %r" % slow)
    rep.check(not dropped, "connections dropped after connect: %r" %
              dropped[:5])


@scenario
def term_timeout(rep):
    """TERM while clients hold connections that never finish: after
    shutdown_timeout (2 s) they are aborted and weftd still exits 0."""
    shutdown = 2.0
    w = Weftd(conf_text(shutdown=shutdown)).wait_ready(2)
    port = w.port("echo")
    held = []
    for i in range(20):
        s = connect(port, timeout=shutdown + 10)
        s.sendall(b"held %d" % i)
        assert recv_until(s, lambda d: len(d) >= 6) .startswith(b"held")
        held.append(s)
    t_term = time.time()
    w.proc.send_signal(signal.SIGTERM)
    ends = []
    for s in held:
        try:
            d = s.recv(100)
            ends.append("EOF" if d == b"" else "data")
        except ConnectionResetError:
            ends.append("reset")
        except socket.timeout:
            ends.append("timeout")
        ends[-1] = (ends[-1], time.time() - t_term)
        s.close()
    rc = w.proc.wait(shutdown + 10)
    t_exit = time.time() - t_term
    aborted = w.log.find(r"shutdown_timeout \(([\d.]+)s\) passed: "
                         r"aborting (\d+) connection")
    kinds = collections.Counter(k for k, _ in ends)
    rep.set("held connections", len(held))
    rep.set("their end (kind: count)", ", ".join(
        "%s: %d" % kv for kv in sorted(kinds.items())))
    rep.set("ended after s (min/max)", "%.2f/%.2f" % (
        min(t for _, t in ends), max(t for _, t in ends)))
    rep.set("aborted per worker (log)", "+".join(
        m.group(2) for _, _, m in aborted))
    rep.set("TERM to exit s", "%.2f (shutdown_timeout %g)" % (t_exit,
                                                             shutdown))
    rep.set("exit status", rc)
    rep.check(rc == 0, "exit status %r" % rc)
    rep.check(shutdown - 0.2 <= min(t for _, t in ends) and
              t_exit <= shutdown + 1.5, "timing")
    rep.check(sum(int(m.group(2)) for _, _, m in aborted) == len(held),
              "abort count")
    rep.check("timeout" not in kinds and "data" not in kinds,
              "held connections: %r" % kinds)


def _fault_plugin(rep, plugin, trigger, expect_line):
    """A handler that crashes its worker on `trigger`: the worker is
    replaced, the log names the plugin and the cause, and only that
    worker's connections fail."""
    w = Weftd(conf_text(extra=(plugin,))).wait_ready(2)
    port = w.port("echo")
    fport = w.port(plugin)
    with Load([tcp(port)]) as ld:
        time.sleep(D["warm"])
        pids = w.workers()
        s = connect(fport)
        s.sendall(b"hello\n")
        assert recv_until(s, lambda d: d.endswith(b"\n")) == b"hello\n"
        lp = s.getsockname()[1]
        victim = owner_of(pids, lp, fport[1])
        others = [p for p in pids if p != victim]
        mark = w.log.mark()
        # Freeze it to list its connections; the trigger is queued
        # before it runs again.
        os.kill(victim, signal.SIGSTOP)
        allowed = peer_ports(victim, port[1])
        s.sendall(trigger)
        t0 = time.time()
        os.kill(victim, signal.SIGCONT)
        rest = recv_until(s, lambda d: False)
        s.close()
        found = w.log.wait(r"worker (\d+) \(pid (\d+)\) ready", start=mark,
                           timeout=10)
        t_ready = found[0][1]
        time.sleep(D["after"])
        r = ld.finish()
    c = rep.load("load c/f/r/ref", r)
    text = "\n".join(l for _, l in w.log.lines[mark:])
    named = re.search(expect_line, text)
    sup = re.search(r"supervisor: warning: worker \d+ \(pid %d, "
                    r"generation \d+\) (.*)" % victim, text)
    stray = [f for f in r["fails"] if f[4] not in allowed]
    rep.set("worker log line", named.group(0) if named else "(none)")
    rep.set("supervisor line", sup.group(1) if sup else "(none)")
    rep.set("replacement ready after s", "%.3f" % (t_ready - t0))
    rep.set("victim's connections", len(allowed))
    rep.set("failed+reset elsewhere", len(stray))
    alive = [p for p in others if os.path.exists("/proc/%d" % p)]
    rep.set("other workers still alive", "%d/%d" % (len(alive),
                                                    len(others)))
    rep.check(named is not None, "log does not name the plugin: %s" %
              text[-1500:])
    rep.check(sup is not None and "signal 11" in sup.group(1),
              "supervisor line missing")
    rep.check(rest == b"", "the crashing connection got %r" % rest[:50])
    rep.check(c["refused"] == 0, "refused connects")
    # A connection taken by the victim in its last loop turn (after the
    # last look at its fds) is not in the list: one accept batch (8).
    rep.check(len(stray) <= 8, "failures outside the crashed worker: %r" %
              stray[:5])
    rep.check(len(alive) == len(others), "another worker died")
    rep.check(w.stop() == 0, "weftd exit status")


@scenario
def plugin_segfault(rep):
    _fault_plugin(rep, "crash", b"crash\n",
                  r"weft: crash in fiber 'crash'[^\n]*")


@scenario
def plugin_stack_overflow(rep):
    _fault_plugin(rep, "overflow", b"overflow\n",
                  r"weft: fiber stack overflow in fiber 'overflow'")


# The partial head every dribbling client starts with.


@scenario
def slowloris(rep):
    """N slowloris clients on http-hello (one byte a second, never
    finishing a head).  Phase 1, header_timeout off, so that all are held:
    a normal client's echo p99 stays within 2x of an idle twin's (or
    within 1 ms of it: the noise floor of this shared machine).  The twin
    is a second weftd on the same config without the slowloris clients,
    sampled in turn with the first (load.echo_latencies_paired), so that
    both see the same load from the rest of the machine.  The figure
    compared is the median of the p99s of 5 windows; a phase that misses
    is measured again, up to three times in all: what the slowloris
    clients cost shows in every try, a stall the scheduler gives one
    process and not the other does not.  The first weftd's own idle p99,
    before and after, is reported.  Phase 2, header_timeout 3 s, three
    waves: every dribbling client gets 408 and the server's EOF, a silent
    one an EOF alone, the workers' fds come back to their baseline after
    each wave, and their RSS levels off (see _slowloris_timeout)."""
    n = N["slowloris"]
    hello = 'http-hello = { path = "http-hello.so"; };'
    text = conf_text(limit=65536).replace(hello, hello.replace(
        "};", 'settings = { header_timeout = 0; }; };'))

    def windows(v, k=5):
        # p99 of each of k consecutive windows: a burst of noise from
        # the rest of the machine spoils one window, not the figure.
        n = len(v) // k
        return [pctl(v[i * n:(i + 1) * n], 99) * 1e3 for i in range(k)]
    w = Weftd(text).wait_ready(2)
    twin = Weftd(text).wait_ready(2)
    ports = (w.port("echo"), twin.port("echo"))
    echo_latencies_paired(ports, 200)      # warm up
    idle, idle_t = echo_latencies_paired(ports, N["lat_samples"],
                                         spread=D["latency"])
    rss0 = sum(rss_kb(p) for p in w.workers())
    p, stop, q = background(load.slowloris, w.port("http-hello"), n)
    tries = []
    try:
        kind, connected = q.get(timeout=60)
        time.sleep(2.0)
        # A slowdown the slowloris clients cause shows in every try; the
        # scheduler's, from the rest of the machine, comes and goes.
        for _ in range(3):
            busy, busy_t = echo_latencies_paired(ports, N["lat_samples"],
                                                 spread=D["latency"])
            got, ref = pctl(windows(busy), 50), pctl(windows(busy_t), 50)
            tries.append("%.3f/%.3f" % (ref, got))
            if got <= 2 * ref or got - ref <= 1.0:
                break
        rss1 = sum(rss_kb(p) for p in w.workers())
        status = w.status()
    finally:
        stop.set()
        try:
            kind, info = q.get(timeout=30)
        except Exception:
            info = {}
        p.join(5)
    idle2, idle2_t = echo_latencies_paired(ports, N["lat_samples"],
                                           spread=D["latency"])
    held = sum(r["active"] for r in status_rows(status))

    def ms(v, q):
        return pctl(v, q) * 1e3
    rep.set("slowloris clients connected", connected)
    rep.set("connections held by workers", held)
    rep.set("bytes dribbled", info.get("sent"))
    rep.set("still open at the end", info.get("open_at_end"))
    rep.set("echo p50 ms idle/slowloris", "%.3f/%.3f" % (
        ms(idle, 50), ms(busy, 50)))
    rep.set("echo p99 ms idle/slowloris/idle again", "%.3f/%.3f/%.3f" % (
        ms(idle, 99), ms(busy, 99), ms(idle2, 99)))
    rep.set("idle twin's echo p99 ms meanwhile", "%.3f/%.3f/%.3f" % (
        ms(idle_t, 99), ms(busy_t, 99), ms(idle2_t, 99)))
    rep.set("median of 5-window p99s ms idle before+after/idle twin/"
            "slowloris", "%.3f/%.3f/%.3f" % (
                pctl(windows(idle) + windows(idle2), 50), ref, got))
    rep.set("ratio to the twin", "%.2f" % (got / ref if ref else 0))
    rep.set("tries: twin/slowloris ms", ", ".join(tries))
    rep.set("workers' RSS MB before/with", "%.1f/%.1f" % (rss0 / 1024.0,
                                                        rss1 / 1024.0))
    if info.get("errors"):
        rep.note("slowloris client errors: %r" % info["errors"])
    rep.check(connected == n, "only %d/%d slowloris clients connected" %
              (connected, n))
    rep.check(held >= n, "workers hold only %d connections" % held)
    rep.check(got <= 2 * ref or got - ref <= 1.0,
              "p99 %.3f ms vs the idle twin's %.3f ms in %d tries (%s)" % (
                  got, ref, len(tries), ", ".join(tries)))
    rep.check(w.stop() == 0, "weftd exit status")
    rep.check(twin.stop() == 0, "weftd exit status (twin)")
    _slowloris_timeout(rep, n)


def _slowloris_wave(w, addr, n, timeout, base, margin):
    """One wave of load.slowloris_timed against w; returns its figures.
    Once the workers' fds are back, their RSS is read after the pools' trim
    (between one and two _TRIM_MS periods), waiting up to 5 s more for it
    to come within `margin` KiB of `base`."""
    fds0, rss0 = workers_fds_rss(w.workers())
    map0 = {pid: weftdlib.fds(pid) for pid in w.workers()}
    p, stop, q = background(load.slowloris_timed, addr, n)
    f = {"fds0": fds0, "rss0": rss0, "peak_fds": fds0, "peak_rss": rss0,
         "t_back": None, "served": None, "connected": 0, "info": {}}
    try:
        kind, f["connected"] = q.get(timeout=60)
        t_conn = time.time()
        # Until the workers are back to their baseline fds, at most 30 s
        # after the last connect: the 408s are due `timeout` s after each
        # head began, and each lingering close takes up to 2 s more.
        while time.time() - t_conn < 30:
            fds, rss = workers_fds_rss(w.workers())
            f["peak_fds"] = max(f["peak_fds"], fds)
            f["peak_rss"] = max(f["peak_rss"], rss)
            if f["served"] is None and time.time() - t_conn > 1.0:
                # A normal client, while the slow ones are held.
                f["served"] = _http_body(addr)
            if fds <= fds0 and time.time() - t_conn > timeout:
                f["t_back"] = time.time() - t_conn
                break
            time.sleep(0.1)
        time.sleep(0.5)
        f["fds1"], f["rss1"] = workers_fds_rss(w.workers())
        f["fds_diff"] = _fds_diff(map0, {pid: weftdlib.fds(pid)
                                         for pid in w.workers()})
        t_rss = time.time()
        time.sleep(2 * _TRIM_MS / 1000.0 + 0.2)
        while True:
            f["rss1"] = workers_fds_rss(w.workers())[1]
            if f["rss1"] <= base + margin or time.time() - t_rss > 5:
                break
            time.sleep(0.1)
        f["t_rss"] = time.time() - t_rss
        f["split1"] = rss_split(w.workers())
        # The workers' counts in the status reach the supervisor with
        # their heartbeat, up to 1 s late.
        for _ in range(30):
            f["active"] = active(w)
            if f["active"] == 0:
                break
            time.sleep(0.1)
        # Give the stubborn clients (a byte a second) time to find the
        # server gone.
        time.sleep(2.5)
    finally:
        stop.set()
        try:
            kind, f["info"] = q.get(timeout=30)
        except Exception:
            pass
        p.join(5)
    return f


def _warm_up(w, addr, n, timeout=15.0):
    """HTTP requests to addr until each of w's n workers has accepted a
    connection.  Whichever worker accepts first gets a connection: on a
    busy machine one of them may win a whole batch."""
    end = time.time() + timeout
    while True:
        for _ in range(20):
            _http_body(addr)
        rows = status_rows(w.status())
        if len(rows) == n and all(r["accepted"] > 0 for r in rows):
            return
        if time.time() > end:
            raise Failed("warm-up: a worker accepted nothing: %r" % rows)
        # The counts come with the workers' heartbeat, once a second.
        time.sleep(0.3)


def _fds_diff(before, after):
    """What changed between two {pid: weftdlib.fds(pid)} readings."""
    out = []
    for pid in sorted(set(before) | set(after)):
        b, a = before.get(pid, {}), after.get(pid, {})
        for fd in sorted(set(b) | set(a)):
            if b.get(fd) != a.get(fd):
                out.append("pid %d fd %d: %s -> %s" % (
                    pid, fd, b.get(fd, "-"), a.get(fd, "-")))
    return "; ".join(out) or "none"


# The pools' trim period for the slowloris waves (WEFT_POOL_TRIM_MS; the
# default is 5 s), and how far above the baseline a wave's workers may
# stay once it is over and trimmed, in KiB over both workers.
_TRIM_MS = 200
_RSS_MARGIN = 512


def _slowloris_timeout(rep, n, timeout=3.0,
                       waves=int(os.environ.get("STRESS_WAVES", "3"))):
    """Phase 2 of slowloris: `waves` waves of n clients, one after the
    other, against header_timeout = `timeout` s (see load.slowloris_timed).
    Every wave must be answered and dropped, and the workers' fds must
    come back to their baseline after each, and so must their RSS: the
    fiber stacks and buffers the wave left in libweft's pools give their
    memory back once pooled unused for a trim period (_TRIM_MS here), and
    malloc its free pages.  So after every wave the workers' RSS must be
    within _RSS_MARGIN KiB of the baseline taken before the first (a
    connection that leaked would cost at least its 4 KiB stack page:
    a wave of n = 300 leaking shows as 1200 KiB)."""
    hello = 'http-hello = { path = "http-hello.so"; };'
    old = os.environ.get("WEFT_POOL_TRIM_MS")
    os.environ["WEFT_POOL_TRIM_MS"] = str(_TRIM_MS)
    try:
        w = Weftd(conf_text(limit=65536).replace(hello, hello.replace(
            "};", 'settings = { header_timeout = %g; }; };' % timeout))
        ).wait_ready(2)
    finally:
        if old is None:
            del os.environ["WEFT_POOL_TRIM_MS"]
        else:
            os.environ["WEFT_POOL_TRIM_MS"] = old
    addr = w.port("http-hello")
    # Warm up both workers (their first connections allocate what they
    # keep for good: libuv's and the plugins' state, and libuv's EMFILE
    # reserve fd, /dev/null, opened at a loop's first uv_tcp_init), let
    # the pools trim what the warm-up left, then take the baseline.
    _warm_up(w, addr, 2)
    echo_latencies(w.port("echo"), 50)
    time.sleep(2 * _TRIM_MS / 1000.0 + 0.5)
    base = workers_fds_rss(w.workers())[1]
    split0 = rss_split(w.workers())
    fs = [_slowloris_wave(w, addr, n, timeout, base, _RSS_MARGIN)
          for _ in range(waves)]

    def span(v):
        return ("%.2f/%.2f/%.2f" % (min(v), pctl(v, 50), max(v))
                if v else "-")

    def per_wave(fmt, fn):
        return ", ".join(fmt % fn(f) for f in fs)

    def k(f, kind, key):
        return f["info"].get(kind, {}).get(key, 0)
    rep.set("timeout phase: header_timeout s, waves", "%g, %d" % (
        timeout, waves))
    rep.set("trickle clients: 408+EOF/n per wave", per_wave(
        "%d+%d/%d", lambda f: (k(f, "trickle", "408"),
                               k(f, "trickle", "eof"),
                               k(f, "trickle", "n"))))
    rep.set("keep-alive clients: 200, then 408+EOF/n per wave", per_wave(
        "%d, %d+%d/%d", lambda f: (k(f, "keepalive", "200 first"),
                                   k(f, "keepalive", "408"),
                                   k(f, "keepalive", "eof"),
                                   k(f, "keepalive", "n"))))
    rep.set("silent clients: EOF without data/n per wave", per_wave(
        "%d/%d", lambda f: (min(k(f, "silent", "eof"),
                                k(f, "silent", "no data")),
                            k(f, "silent", "n"))))
    tr = [x for f in fs for x in k(f, "trickle", "t_ans") or []]
    ka = [x for f in fs for x in k(f, "keepalive", "t_ans") or []]
    si = [x for f in fs for x in k(f, "silent", "t_eof") or []]
    rep.set("s to 408 from the head's first byte min/p50/max: trickle; "
            "keep-alive (2nd head)", "%s; %s" % (span(tr), span(ka)))
    rep.set("s from connect to a silent client's EOF min/p50/max",
            span(si))
    rep.set("stubborn clients reset after the lingering close per wave",
            per_wave("%d", lambda f: k(f, "trickle", "reset after eof") +
                     k(f, "keepalive", "reset after eof")))
    rep.set("worker fds baseline/peak/after per wave", per_wave(
        "%d/%d/%d", lambda f: (f["fds0"], f["peak_fds"], f["fds1"])))
    rep.set("s from last connect to baseline fds per wave", per_wave(
        "%s", lambda f: "%.1f" % f["t_back"] if f["t_back"] is not None
        else "never"))
    rep.set("workers' RSS MB baseline/peak/after per wave", per_wave(
        "%.1f/%.1f/%.1f", lambda f: (f["rss0"] / 1024.0,
                                     f["peak_rss"] / 1024.0,
                                     f["rss1"] / 1024.0)))
    rep.set("workers' RSS KiB after each wave - baseline %d KiB "
            "(margin %d)" % (base, _RSS_MARGIN),
            per_wave("%+d", lambda f: f["rss1"] - base))
    rep.set("anon/file KiB baseline %d/%d, after each wave" % split0,
            per_wave("%d/%d", lambda f: f["split1"]))
    rep.set("s from baseline fds to the RSS reading per wave", per_wave(
        "%.1f", lambda f: f.get("t_rss", 0)))
    for i, f in enumerate(fs, 1):
        info = f["info"]
        tr_, ka_, si_ = (info.get(x, {}) for x in ("trickle", "keepalive",
                                                   "silent"))
        if info.get("errors"):
            rep.note("wave %d client errors: %r" % (i, info["errors"]))
        rep.check(f["connected"] == n, "wave %d: only %d/%d connected" %
                  (i, f["connected"], n))
        rep.check(tr_.get("408", 0) == tr_.get("n", -1) and
                  tr_.get("eof", 0) == tr_.get("n", -1),
                  "wave %d trickle clients: %r" % (i, tr_))
        rep.check(ka_.get("200 first", 0) == ka_.get("n", -1) and
                  ka_.get("408", 0) == ka_.get("n", -1) and
                  ka_.get("eof", 0) == ka_.get("n", -1),
                  "wave %d keep-alive clients: %r" % (i, ka_))
        rep.check(si_.get("eof", 0) == si_.get("n", -1) and
                  si_.get("no data", 0) == si_.get("n", -1),
                  "wave %d silent clients: %r" % (i, si_))
        rep.check(f["served"] == b"Hello, world!\n",
                  "wave %d: a normal request got %r" % (i, f["served"]))
        rep.check(f["t_back"] is not None and f["fds1"] <= f["fds0"],
                  "wave %d: worker fds %d, baseline %d (changed: %s)" % (
                      i, f["fds1"], f["fds0"], f["fds_diff"]))
        rep.check(f["active"] == 0, "wave %d: workers still hold %d "
                  "connections" % (i, f["active"]))
        stubborn = tr_.get("n", 0) + ka_.get("n", 0)
        rep.check(tr_.get("reset after eof", 0) +
                  ka_.get("reset after eof", 0) == stubborn,
                  "wave %d: not every stubborn client saw the close" % i)
    # Not early (the deadline starts when the handler does, after the
    # client's connect returned), and not much late either.
    late = tr + ka + si
    rep.check(late and min(late) >= timeout - 0.05 and
              max(late) <= timeout + 5.0,
              "answers outside %g..%g s: %s" % (timeout, timeout + 5.0,
                                                span(late)))
    for i, f in enumerate(fs, 1):
        rep.check(f["rss1"] - base <= _RSS_MARGIN,
                  "wave %d: workers' RSS %d KiB once trimmed, baseline %d "
                  "KiB + margin %d (after each wave: %s)" % (
                      i, f["rss1"], base, _RSS_MARGIN,
                      per_wave("%d", lambda f: f["rss1"])))
    rep.check(w.stop() == 0, "weftd exit status (timeout phase)")


@scenario
def flood_no_read(rep):
    """N clients send without reading (to echo, limit 65536): the server
    memory each costs stays bounded (2*limit + 16 KiB read buffer, the
    slice echo holds, write high-water + one write), the workers' RSS
    stays flat, and normal exchanges go on."""
    n = N["flood"]
    limit = 65536
    text = conf_text().replace('plugin = "echo"; },',
                               'plugin = "echo"; limit = %d; },' % limit, 1)
    w = Weftd(text).wait_ready(2)
    port = w.port("echo")
    pids = w.workers()
    rss0 = sum(rss_kb(p) for p in pids)
    p, stop, q = background(load.flood, port, n)
    samples = []
    lat = []
    try:
        q.get(timeout=30)
        t0 = time.time()
        while time.time() - t0 < D["flood"]:
            samples.append((time.time() - t0,
                            sum(rss_kb(x) for x in pids)))
            lat += echo_latencies(port, 20)
            time.sleep(0.25)
    finally:
        stop.set()
        try:
            sent = q.get(timeout=30)
        except Exception:
            sent = -1
        p.join(5)
    half = [v for t, v in samples if t >= D["flood"] / 2]
    peak = max(v for _, v in samples)
    per_conn = (peak - rss0) * 1024.0 / n
    # What one connection may hold: the read buffer (reading pauses past
    # 2*limit, a read goes 16 KiB past that), the 64 KiB slice echo has
    # lent out while it waits in drain, and the write buffer (high-water
    # 64 KiB, plus the one 64 KiB write that took it past).  Plus, per
    # worker, libweft's pool of up to 64 free 64 KiB buffers.
    bound = 2 * limit + 16384 + 65536 + 65536 + 65536
    pool = len(pids) * 64 * 65536
    rep.set("flooders", n)
    rep.set("bytes sent by them MB", "%.0f" % (sent / 1e6))
    rep.set("workers' RSS MB idle/peak", "%.1f/%.1f" % (rss0 / 1024.0,
                                                       peak / 1024.0))
    rep.set("RSS growth per flooder KiB", "%.0f (bound %d + %d MiB "
            "pool shared)" % (per_conn / 1024, bound // 1024, pool >> 20))
    rep.set("RSS MB 2nd half min/max", "%.1f/%.1f" % (
        min(half) / 1024.0, max(half) / 1024.0))
    rep.set("echo p99 ms during flood", "%.2f" % (pctl(lat, 99) * 1e3))
    rep.check((peak - rss0) * 1024 <= n * bound + pool,
              "RSS grew %d KiB > %d x %d + %d" % (peak - rss0, n, bound,
                                                 pool))
    rep.check(max(half) - min(half) <= 2048, "RSS not flat in the second "
              "half: %r" % half)
    rep.check(w.stop() == 0, "weftd exit status")


def _abuse_lines(addr, big):
    s = connect(addr, timeout=10)
    try:
        s.sendall(b"short\n" + b"x" * big + b"\nafter\n")
        got = recv_until(s, lambda d: d.count(b"\n") >= 3)
        s.sendall(b"still\n")
        got2 = recv_until(s, lambda d: d.endswith(b"still\n"))
        return got == b"short\nERR line too long\nafter\n" and \
            got2 == b"still\n", (got[:80], got2[:80])
    finally:
        s.close()


def _abuse_http(addr, kind):
    s = connect(addr, timeout=10)
    try:
        if kind == "header":
            req = (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 8000 +
                   b"\r\n\r\n")
        else:  # a request line that never ends, 1 MB of it
            req = b"GET /" + b"z" * 1000000
        try:
            s.sendall(req)
        except OSError as e:
            # The server answered and closed before taking it all.
            pass
        got = recv_until(s, lambda d: False)
        return got.startswith(b"HTTP/1.1 431 "), got[:60]
    except ConnectionResetError as e:
        return False, "reset before the reply"
    finally:
        s.close()


@scenario
def overlimit_lines_headers(rep):
    """Over-limit lines to lines and over-limit heads to http-hello
    (limit 1024), from many clients at once, under echo load: the
    documented replies, and nothing else affected."""
    import concurrent.futures as cf
    w = Weftd(conf_text(limit=1024)).wait_ready(2)
    lport = w.port("lines")
    hport = w.port("http-hello")
    results_ = collections.Counter()
    bad = []
    with Load([tcp(w.port("echo"))]) as ld:
        time.sleep(D["warm"])
        jobs = []
        with cf.ThreadPoolExecutor(max_workers=16) as ex:
            for i in range(N["abusers"]):
                jobs.append(("lines 1 MB line", ex.submit(
                    _abuse_lines, lport, 1000000)))
                jobs.append(("lines 5 KB line", ex.submit(
                    _abuse_lines, lport, 5000)))
                jobs.append(("http 8 KB header", ex.submit(
                    _abuse_http, hport, "header")))
                jobs.append(("http 1 MB request line", ex.submit(
                    _abuse_http, hport, "line")))
            for name, fut in jobs:
                try:
                    ok, detail = fut.result(timeout=60)
                except Exception as e:
                    ok, detail = False, repr(e)
                results_[(name, ok)] += 1
                if not ok:
                    bad.append((name, detail))
        time.sleep(D["after"] / 2)
        r = ld.finish()
    c = rep.load("echo load c/f/r/ref", r)
    for name in ("lines 1 MB line", "lines 5 KB line", "http 8 KB header",
                 "http 1 MB request line"):
        rep.set(name + " ok", "%d/%d" % (results_[(name, True)],
                                         N["abusers"]))
    normal_lines = exchange(lport, b"normal\n") == b"normal\n"
    s = connect(hport)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    normal_http = recv_until(s, lambda d: False).startswith(
        b"HTTP/1.1 200 OK")
    s.close()
    rep.set("normal lines/http after", "%s/%s" % (normal_lines,
                                                  normal_http))
    if bad:
        rep.note("bad replies: %r" % collections.Counter(
            (n, str(d)[:60]) for n, d in bad).most_common(4))
    rep.check(not bad, "%d abusive clients did not get the documented "
              "reply" % len(bad))
    rep.check(c["failed"] + c["reset"] + c["refused"] == 0,
              "echo load affected: " + fail_summary(r))
    rep.check(normal_lines and normal_http, "normal clients affected")
    rep.check(w.stop() == 0, "weftd exit status")


@scenario
def emfile(rep):
    """RLIMIT_NOFILE 64 and 200 clients: the workers pause accepting
    (CPU under 5%), and the service recovers as fds free up."""
    n = N["emfile_clients"]
    w = Weftd(conf_text(), nofile=64).wait_ready(2)
    port = w.port("echo")
    pids = w.workers()
    socks = []
    for i in range(n):
        s = socket.socket()
        s.settimeout(5)
        s.connect(port)
        s.sendall(b"x")
        socks.append(s)
    # Who got an answer within 2 s was accepted.
    served = []
    waiting = []
    end = time.time() + 2.0
    for s in socks:
        s.settimeout(max(0.01, end - time.time()))
        try:
            ok = s.recv(1) == b"x"
        except OSError:
            ok = False
        (served if ok else waiting).append(s)
    c0 = {p: cpu_ticks(p) for p in pids}
    t0 = time.time()
    time.sleep(D["cpu"])
    c1 = {p: cpu_ticks(p) for p in pids}
    el = time.time() - t0
    cpu = max((c1[p] - c0[p]) / TICK / el * 100 for p in pids)
    # Free fds: the served clients leave, and so does every waiting one
    # once it has been served: all must be served in the end.
    t_free = time.time()
    for s in served:
        s.close()
    sel = selectors.DefaultSelector()
    for s in waiting:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    late = 0
    left = len(waiting)
    while left and time.time() - t_free < 15:
        for key, _ in sel.select(0.1):
            try:
                late += key.fileobj.recv(1) == b"x"
            except OSError:
                pass
            sel.unregister(key.fileobj)
            key.fileobj.close()
            left -= 1
    t_late = time.time() - t_free
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    status = w.status()
    pauses = sum(r["emfile_pauses"] for r in status_rows(status))
    time.sleep(0.2)
    fresh = sum(1 for i in range(20)
                if exchange(port, b"fresh %d" % i) == b"fresh %d" % i)
    warn = w.log.find(r"out of file descriptors")
    rep.set("clients", n)
    rep.set("served at once", len(served))
    rep.set("waiting in the backlog", len(waiting))
    rep.set("max worker CPU % while out of fds", "%.1f" % cpu)
    rep.set("emfile pauses", pauses)
    rep.set("warnings logged", len(warn))
    rep.set("waiting ones served after fds freed", "%d/%d in %.2fs" % (
        late, len(waiting), t_late))
    rep.set("fresh exchanges after", "%d/20" % fresh)
    rep.check(len(waiting) > 0, "the limit was never reached")
    rep.check(cpu < 5.0, "worker CPU %.1f%%" % cpu)
    rep.check(late == len(waiting), "waiting clients not served")
    rep.check(fresh == 20, "service did not recover")
    rep.check(w.stop() == 0, "weftd exit status")


@scenario
def blocked_loop(rep):
    """A handler calls sleep(60) (block.so): the worker is killed after
    worker_timeout (2 s) and replaced; other workers keep serving."""
    wt = 2.0
    w = Weftd(conf_text(wtimeout=wt, extra=("block",))).wait_ready(2)
    port = w.port("echo")
    bport = w.port("block")
    with Load([tcp(port)], timeout=20.0) as ld:
        time.sleep(D["warm"])
        pids = w.workers()
        s = connect(bport)
        s.sendall(b"hi\n")
        assert recv_until(s, lambda d: d.endswith(b"\n")) == b"hi\n"
        victim = owner_of(pids, s.getsockname()[1], bport[1])
        mark = w.log.mark()
        t0 = time.time()
        s.sendall(b"block\n")
        # Blocked, it accepts nothing more: its connections are fixed.
        time.sleep(0.3)
        allowed = peer_ports(victim, port[1])
        while os.path.exists("/proc/%d/fd/0" % victim) and \
                time.time() - t0 < wt + 10:
            time.sleep(0.005)
        t_dead = time.time()
        s.close()
        blk = w.log.wait(r"loop blocked for ([\d.]+)s", start=mark,
                         timeout=5)
        rdy = w.log.wait(r"worker (\d+) \(pid (\d+)\) ready", start=mark,
                         timeout=10)
        time.sleep(D["after"])
        r = ld.finish()
    c = rep.load("load c/f/r/ref", r)
    stray = [f for f in r["fails"] if f[4] not in allowed]
    rep.set("detected after s", "%.2f (worker_timeout %g)" % (
        blk[0][1] - t0, wt))
    rep.set("worker gone after s", "%.2f" % (t_dead - t0))
    rep.set("replacement ready after kill s", "%.3f" % (rdy[0][1] - t_dead))
    rep.set("replacement ready after s", "%.2f" % (rdy[0][1] - t0))
    rep.set("victim's connections", len(allowed))
    rep.set("failed+reset elsewhere", len(stray))
    gap = max_gap(r, t0, t_dead)
    rep.set("longest gap in completions while blocked s", "%.1f" % gap)
    rep.check(blk[0][1] - t0 <= wt + 1.5, "detection too slow")
    rep.check(len(stray) == 0, "failures outside the blocked worker: %r" %
              stray[:5])
    rep.check(c["refused"] == 0, "refused connects")
    rep.check(gap < 1.0, "service stalled for %.1fs" % gap)
    rep.check(w.stop() == 0, "weftd exit status")


def _ensure_user(name):
    import pwd
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", name], check=True,
                       capture_output=True)
        return pwd.getpwnam(name)


def _check_cmd(conf):
    r = subprocess.run([WEFTD, "-t", "-c", conf], capture_output=True,
                       timeout=30)
    return r.returncode, r.stderr.decode()


@scenario
def plugin_file_safety(rep):
    """A plugin file or plugin_dir writable by group/others (or owned by
    another user) is refused by weftd -t and by weftd, naming the file."""
    pdir = mkdtemp()
    so = os.path.join(pdir, "echo.so")
    shutil.copy(os.path.join(PLUGIN_DIR, "echo.so"), so)
    os.chmod(so, 0o644)
    conf = os.path.join(pdir, "p.conf")
    with open(conf, "w") as f:
        f.write('workers = 1;\nplugin_dir = "%s";\nplugins = { echo = { '
                'path = "echo.so"; }; };\nlisten = ( { tcp = '
                '"127.0.0.1:0"; plugin = "echo"; } );\n' % pdir)
    rc, _ = _check_cmd(conf)
    rep.check(rc == 0, "a safe plugin was refused")
    cases = [("file o+w", so, 0o646, "writable by others"),
             ("file g+w", so, 0o664, "writable by its group"),
             ("dir o+w", pdir, 0o757, "directory %s is writable by others"
              % pdir)]
    for name, path, mode, want in cases:
        old = os.stat(path).st_mode & 0o7777
        os.chmod(path, mode)
        try:
            rc, err = _check_cmd(conf)
            rep.set("weftd -t, " + name, "exit %d: %s" % (
                rc, err.strip().splitlines()[0] if err.strip() else ""))
            rep.check(rc == 1 and so in err and want in err,
                      "%s: weftd -t said %d %r" % (name, rc, err))
        finally:
            os.chmod(path, old)
    # The daemon itself: the worker refuses, the supervisor gives up.
    os.chmod(so, 0o646)
    w = Weftd(open(conf).read())
    try:
        rc = w.proc.wait(30)
    except subprocess.TimeoutExpired:
        w.kill()
        rc = None
    os.chmod(so, 0o644)
    text = w.log.text()
    m = re.search(r"worker 0: error: (.*refusing.*)", text)
    rep.set("weftd, file o+w", "exit %r; %s" % (rc, m.group(1) if m else
                                                "(no refusal logged)"))
    rep.check(rc == 1 and m is not None and so in m.group(1),
              "weftd did not refuse: %r %s" % (rc, text[-800:]))
    if os.geteuid() == 0:
        pw = _ensure_user("weftstress")
        os.chown(so, pw.pw_uid, pw.pw_gid)
        try:
            rc, err = _check_cmd(conf)
            rep.set("weftd -t (root), file owned by weftstress", "exit %d: %s"
                    % (rc, err.strip().splitlines()[0] if err else ""))
            rep.check(rc == 1 and "owned by uid %d" % pw.pw_uid in err,
                      "root loaded a plugin owned by another user")
        finally:
            os.chown(so, 0, 0)


@scenario
def privileges(rep):
    """As root: workers (and the supervisor) run as the configured user
    with no capabilities; the UNIX socket gets its mode, owner and group; a
    root-only (0600) config is read before the drop; what a HUP does then,
    and with a new socket for another owner; at exit the sockets are
    removed from a directory the user owns, and a notice names each one
    left in a root-only directory."""
    if os.geteuid() != 0:
        raise Skip("needs root")
    import grp
    pw = _ensure_user("weftstress")
    gname = grp.getgrgid(pw.pw_gid).gr_name
    pdir = mkdtemp()
    for p in ("echo.so", "lines.so", "http-hello.so"):
        shutil.copy(os.path.join(PLUGIN_DIR, p), pdir)
        os.chmod(os.path.join(pdir, p), 0o644)
    head = 'user = "weftstress";\ngroup = "%s";\n' % gname
    text = conf_text(plugin_dir=pdir, head=head).replace(
        'mode = "0660";', 'mode = "0660"; owner = "weftstress"; '
        'group = "%s";' % gname)
    # The sockets' directory belongs to the service user, as systemd's
    # RuntimeDirectory= does it: the supervisor can remove them at exit.
    rundir = mkdtemp()
    os.chown(rundir, pw.pw_uid, pw.pw_gid)
    w = Weftd(text, conf_mode=0o600, dir=rundir).wait_ready(2)
    sockpath = os.path.join(w.dir, "echo.sock")
    extra = os.path.join(w.dir, "extra.sock")
    try:
        port = w.port("echo")
        rows = []
        for pid in [w.proc.pid] + w.workers():
            st = proc_status(pid)
            uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st,
                            re.M).groups()
            gid = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st,
                            re.M).groups()
            groups = re.search(r"^Groups:\s*(.*)$", st, re.M).group(1)
            capeff = re.search(r"^CapEff:\s+(\S+)", st, re.M).group(1)
            capprm = re.search(r"^CapPrm:\s+(\S+)", st, re.M).group(1)
            rows.append((pid, uid, gid, groups.split(), capeff, capprm))
        ok_ids = all(set(map(int, u)) == {pw.pw_uid} and
                     set(map(int, g)) == {pw.pw_gid} and
                     [int(x) for x in gr] in ([pw.pw_gid], []) and
                     int(ce, 16) == 0 and int(cp, 16) == 0
                     for _, u, g, gr, ce, cp in rows)
        rep.set("processes as weftstress (uid/gid/groups, no caps)",
                "%d/%d" % (sum(1 for _, u, *_ in rows
                               if int(u[0]) == pw.pw_uid), len(rows)))
        rep.check(ok_ids, "ids/caps: %r" % rows)
        st = os.stat(sockpath)
        rep.set("UNIX socket mode/owner (owner, group = weftstress)",
                "%04o %d:%d" % (st.st_mode & 0o7777, st.st_uid, st.st_gid))
        rep.check(st.st_mode & 0o7777 == 0o660, "socket mode")
        rep.check((st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid),
                  "socket owner %d:%d, want %d:%d" % (
                      st.st_uid, st.st_gid, pw.pw_uid, pw.pw_gid))
        rep.check(exchange(port, b"as weftstress") == b"as weftstress",
                  "echo over TCP")
        rep.check(exchange(sockpath, b"unix") == b"unix", "echo over UNIX")
        rep.set("config 0600 root: started", "yes")
        # HUP with the root-only config: the supervisor (now weftstress)
        # cannot read it.
        mark, line = w.hup()
        detail = "\n".join(l for _, l in w.log.lines[mark:mark + 4])
        m = re.search(r"(Permission denied|cannot open[^\n]*)", detail)
        rep.set("HUP with 0600 root config", "%s (%s)" % (
            line[:60], m.group(0) if m else "?"))
        rep.check(exchange(port, b"still") == b"still",
                  "serving after the failed reload")
        # Readable by the service user's group: reload works.
        os.chown(w.conf, 0, pw.pw_gid)
        os.chmod(w.conf, 0o640)
        _, line = w.hup()
        rep.set("HUP with 0640 root:%s config" % gname,
                line[:60])
        rep.check("complete" in line,
                  "reload with a group-readable config failed")
        # A new socket for root: the supervisor runs as weftstress and
        # cannot give it away, so the reload fails and says why.
        add = (',\n  { name = "extra"; unix = "@DIR@/extra.sock"; '
               'owner = "%s"; plugin = "echo"; }\n);')
        w.write_conf(text.rstrip().rstrip(");").rstrip() +
                     add % "root")
        _, line = w.hup()
        m = re.search(r"cannot set owner root: [^(]*", line)
        rep.set("HUP adding a socket with owner root", "%s (%s)" % (
            line[:13], m.group(0).strip() if m else line[:60]))
        rep.check("failed" in line and "cannot set owner root" in line and
                  "dropped privileges" in line,
                  "reload with owner root: %r" % line)
        rep.check(not os.path.exists(extra), "%s left by the failed "
                  "reload" % extra)
        rep.check(exchange(sockpath, b"still") == b"still",
                  "serving after the failed reload (UNIX)")
        # For itself it can.
        w.write_conf(text.rstrip().rstrip(");").rstrip() +
                     add % "weftstress")
        _, line = w.hup()
        rep.check("complete" in line,
                  "reload adding a socket for weftstress: %s" %
                  line)
        st = os.stat(extra)
        rep.set("HUP adding a socket with owner weftstress",
                "%s, socket %d:%d" % (line[:15], st.st_uid,
                                      st.st_gid))
        rep.check(st.st_uid == pw.pw_uid, "extra.sock owner %d" % st.st_uid)
        rep.check(exchange(extra, b"extra") == b"extra", "echo over extra")
    finally:
        rc = w.stop()
    rep.set("exit status", rc)
    rep.check(rc == 0, "weftd exit status")
    left = [p for p in (sockpath, extra, w.ctl) if os.path.exists(p)]
    rep.set("left after exit (dir owned by weftstress)",
            ", ".join(os.path.basename(p) for p in left) or "nothing")
    rep.check(not left, "left after exit: %r" % left)
    notices = w.log.find(r"notice: cannot remove")
    rep.check(not notices, "removal notices: %r" % [
        m.group(0) for _, _, m in notices])

    # A root-only directory: what is left is named in the log, once each.
    w = Weftd(conf_text(workers=1, plugin_dir=pdir, head=head)).wait_ready(1)
    rc = w.stop()
    rep.check(rc == 0, "weftd exit status (root-only directory)")
    sock2 = os.path.join(w.dir, "echo.sock")
    found = {}
    for _, _, m in w.log.find(r"notice: cannot remove (?:control )?socket "
                              r"(\S+): (.*)$"):
        found[m.group(1)] = found.get(m.group(1), 0) + 1
        reason = m.group(2)
    rep.set("root-only directory: notices", "%d (%s)" % (
        sum(found.values()), reason if found else "none"))
    rep.check(found == {sock2: 1, w.ctl: 1},
              "notices for the root-only directory: %r" % found)


@scenario
def balance(rep):
    """Balanced accept on the shared socket (accept_balance): 100 and
    1000 long-lived connections, paced 2 ms apart and in a burst, to 2
    and 4 workers; each worker's count from /proc, max/min <= 1.2."""
    import balancelib
    sizes = (100,) if QUICK else (100, 1000)
    for workers in (2, 4):
        for n in sizes:
            for pace in (2, 0):
                counts = balancelib.measure(workers, n, pace)
                r = balancelib.ratio(counts)
                key = "%dw %d %s" % (workers, n, "paced" if pace else "burst")
                rep.set(key, "%.2f %s" % (r, "/".join(map(str, counts))))
                rep.check(len(counts) == workers and r <= 1.2,
                          "%s: max/min %.2f > 1.2 (%r)" % (key, r, counts))


# ---- scale-out behind HAProxy ------------------------------------------------

SCALE_CONF = """
workers = 2;
log_level = "info";
shutdown_timeout = 10.0;
plugin_dir = "%(pdir)s";
plugins = {
  echo = { path = "echo.so"; };
  health = { path = "%(plugins)s/http-hello.so"; };
};
listen = (
  { name = "echo"; tcp = "127.0.0.1:%(port)d"; plugin = "echo";
    proxy_protocol = true; access_log = "@DIR@/access.log"; },
  { name = "health"; tcp = "127.0.0.1:%(health)d"; plugin = "health"; }
);
"""

# The clients' own addresses: what the access logs must show.
CLIENT_SOURCES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")


def _free_ports(n):
    """n distinct TCP ports on 127.0.0.1 that were free a moment ago, below
    the ephemeral range: a port given up for a moment (an instance that
    restarts) is not taken meanwhile as the source port of a connection
    from 127.0.0.1, which would keep it from being bound again."""
    import random
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    probes = []
    while len(probes) < n:
        s = socket.socket()
        port = random.randrange(10000, low) if low > 11000 else 0
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        probes.append(s)
    ports = [s.getsockname()[1] for s in probes]
    for s in probes:
        s.close()
    return ports


def _access_peers(path):
    """[(end time, (address, port))] of an access log's lines."""
    import calendar
    out = []
    with open(path) as f:
        for line in f:
            m = re.search(r"^time=(\S+)\.(\d+)Z .* peer=([\d.]+):(\d+) ",
                          line)
            if not m:
                raise Failed("access log line: %r" % line)
            t = calendar.timegm(time.strptime(m.group(1),
                                              "%Y-%m-%dT%H:%M:%S"))
            out.append((t + int(m.group(2)) / 1000.0,
                        (m.group(3), int(m.group(4)))))
    return out


def _plugin_bytes(pids, name):
    """Counter of the contents of the sealed copies of plugin `name` the
    processes pids run (a worker keeps its copy open as
    "/memfd:weftd-plugin:NAME")."""
    out = collections.Counter()
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            path = "/proc/%d/fd/%s" % (pid, fd)
            try:
                if not os.readlink(path).startswith(
                        "/memfd:weftd-plugin:" + name):
                    continue
                with open(path, "rb") as f:
                    out[f.read()] += 1
            except OSError:
                continue
    return out


def _until(t):
    time.sleep(max(0.0, t - time.time()))


@scenario
def haproxy_rolling(rep):
    """Two weftd instances (A, B) behind Debian's HAProxy (mode tcp,
    send-proxy-v2, HTTP health checks on a listener of their own).  100
    client connections from 127.0.0.2-5, each a session of 1 to 10 echo
    exchanges 50 ms apart that then closes and reconnects, for 30 s (8 s
    quick).  Meanwhile A is reloaded (HUP) twice; B is drained (`set
    server weft/b state drain` on HAProxy's stats socket), stopped
    gracefully (TERM), started again and set ready once HAProxy sees it up;
    A gets a rebuilt echo.so by HUP.  No exchange may fail and no
    connection be refused or reset; every session shows in A's or B's
    access log with the client's own address and port.

    Why nothing fails: a draining server gets no new sessions from
    HAProxy, so by the time B closes its listeners (at once on TERM)
    nothing is queued on them; the sessions B holds run to their end
    within shutdown_timeout (10 s), since a client closes after at most
    10 exchanges.  A's reloads keep its listening sockets (the new
    generation accepts on them as the old one stops).  HAProxy's
    `retries` with `option redispatch` would move a refused connect to A,
    but a connection completed into B's queue as it closed would be reset
    after HAProxy had taken it: the drain is what avoids that, and the
    retries and redispatches are reported (expected 0)."""
    if haproxylib.binary() is None:
        raise Skip("no haproxy")
    duration = 8.0 if QUICK else 30.0
    front, a_port, a_health, b_port, b_health = _free_ports(5)
    # A's plugins from a directory of its own, for the swap.
    pdir = mkdtemp()
    shutil.copy(os.path.join(PLUGIN_DIR, "echo.so"), pdir)
    os.chmod(os.path.join(pdir, "echo.so"), 0o644)
    conf_a = SCALE_CONF % dict(pdir=pdir, plugins=PLUGIN_DIR, port=a_port,
                               health=a_health)
    conf_b = SCALE_CONF % dict(pdir=PLUGIN_DIR, plugins=PLUGIN_DIR,
                               port=b_port, health=b_health)
    a = Weftd(conf_a).wait_ready(2)
    b = Weftd(conf_b).wait_ready(2)
    hdir = mkdtemp()
    hp = haproxylib.Haproxy(hdir, front, [("a", a_port, a_health),
                                          ("b", b_port, b_health)])
    try:
        hp.wait_status("a", "UP")
        hp.wait_status("b", "UP")
        with Load([tcp(("127.0.0.1", front))], nconns=100, exchanges=10,
                  size=256, pause=0.05, sources=CLIENT_SOURCES) as ld:
            t0 = time.time()
            _until(t0 + 0.1 * duration)
            r1 = _reload(a, 2)
            _until(t0 + 0.2 * duration)
            r2 = _reload(a, 3)
            _until(t0 + 0.3 * duration)
            # B: drain, stop, start, ready.
            hp.cmd("set server weft/b state drain")
            hp.wait_status("b", "DRAIN")
            time.sleep(0.1)
            inflight_b = int(hp.server("b")["scur"])
            t_term = time.time()
            rc_b = b.stop(timeout=20)
            t_stopped = time.time()
            os.rename(b.logpath, b.logpath + ".1")
            b = Weftd(conf_b, dir=b.dir).wait_ready(2)
            t_b_restart = time.time()
            hp.wait_status("b", "DRAIN")   # health checks pass again
            hp.cmd("set server weft/b state ready")
            hp.wait_status("b", "UP")
            t_b_ready = time.time()
            _until(t0 + 0.65 * duration)
            # A "rebuilt" echo.so (same code, different bytes, a new
            # inode), renamed over the one A's config names, then HUP.
            with open(os.path.join(PLUGIN_DIR, "echo.so"), "rb") as f:
                old_data = f.read()
            new_data = old_data + b"\0rebuilt %f\0" % time.time()
            new = os.path.join(pdir, ".echo.so.new")
            with open(new, "wb") as f:
                f.write(new_data)
            os.chmod(new, 0o644)
            os.rename(new, os.path.join(pdir, "echo.so"))
            r3 = _reload(a, 4)
            t_swap = time.time()
            a.wait_workers(2, timeout=15)
            ran = _plugin_bytes(a.workers(), "echo.so")
            status_a = a.status()
            _until(t0 + duration)
            # What A's new generation has accepted (the counts come with
            # the workers' heartbeats, well within the time since the
            # swap).
            new_gen = [row for row in status_rows(a.status())
                       if row["gen"] == 4]
            r = ld.finish()
        # Every session has ended on both sides: let the access logs'
        # 100 ms buffers reach their files.
        time.sleep(0.5)
        st = hp.stat()
    finally:
        rc_hp = hp.stop()
    c = rep.load("load c/f/r/ref", r)
    peers = collections.Counter(dict((tuple(k), v) for k, v in
                                     r["peers"]))
    la = _access_peers(os.path.join(a.dir, "access.log"))
    lb = _access_peers(os.path.join(b.dir, "access.log"))
    logged = collections.Counter(p for _, p in la + lb)
    unsettled = collections.Counter(tuple(p) for p in r["unsettled"])
    strangers = logged - peers - unsettled
    missing = peers - logged
    srv = {n: st[("weft", n)] for n in ("a", "b")}
    rep.set("sessions (client connects)", sum(peers.values()))
    rep.set("access log lines A/B", "%d/%d" % (len(la), len(lb)))
    rep.set("B lines after its restart", sum(
        1 for t, _ in lb if t > t_b_restart))
    rep.set("A lines after the plugin swap", sum(
        1 for t, _ in la if t > t_swap))
    rep.set("logged peers not a client's / sessions not logged",
            "%d/%d" % (sum(strangers.values()), sum(missing.values())))
    rep.set("connecting as the load stopped (logged)", "%d (%d)" % (
        sum(unsettled.values()), sum((logged & unsettled).values())))
    rep.set("reload A s (HUP, HUP, new echo.so)", "%.2f, %.2f, %.2f" % (
        r1, r2, r3))
    rep.set("B: sessions at TERM, TERM to exit s, restart to ready s",
            "%d, %.2f, %.2f" % (inflight_b, t_stopped - t_term,
                                t_b_ready - t_stopped))
    rep.set("haproxy retries/redispatches/conn errors a, b",
            "%s/%s/%s, %s/%s/%s" % tuple(
                srv[n][k] or "0" for n in ("a", "b")
                for k in ("wretr", "wredis", "econ")))
    rep.set("A's workers running the new/old echo.so", "%d/%d" % (
        ran[new_data], ran[old_data]))
    rep.set("connections A's new generation accepted", sum(
        row["accepted"] for row in new_gen))
    rep.check(c["failed"] + c["reset"] + c["refused"] == 0,
              "lost exchanges: " + fail_summary(r))
    rep.check(c["completed"] > 1000, "too little traffic")
    rep.check(rc_b == 0, "B's exit status %r" % rc_b)
    rep.check(a.stop() == 0, "A's exit status")
    rep.check(b.stop() == 0, "B's exit status (restarted)")
    rep.check(rc_hp in (0, 143, -signal.SIGTERM),
              "haproxy exit status %r" % rc_hp)
    rep.check(not strangers, "access log peers that are no client's "
              "(%d, e.g. %r)" % (sum(strangers.values()),
                                 list(strangers)[:3]))
    rep.check(not missing, "sessions missing from the access logs "
              "(%d, e.g. %r)" % (sum(missing.values()), list(missing)[:3]))
    rep.check(la and lb, "an instance served nothing")
    rep.check(any(t > t_b_restart for t, _ in lb),
              "B served nothing after its restart")
    rep.check(any(t > t_swap for t, _ in la),
              "A served nothing after the plugin swap")
    rep.check(ran[new_data] == 2 and len(ran) == 1,
              "A's workers do not run the new echo.so: %r" % {
                  ("new" if k == new_data else "old" if k == old_data
                   else "other"): v for k, v in ran.items()})
    rep.check("generation 4," in status_a, "A's status: %r" %
              status_a[:200])
    rep.check(sum(row["accepted"] for row in new_gen) > 0,
              "A's new generation accepted nothing: %r" % new_gen)


# ---- main ------------------------------------------------------------------

def main():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    if not os.access(WEFTD, os.X_OK):
        print("Bail out! no weftd at %s" % WEFTD)
        return 1
    todo = [f for f in SCENARIOS if not ONLY or f.__name__ in ONLY]
    print("1..%d" % len(todo))
    print("# %s run: %s" % ("quick" if QUICK else "full",
                            ", ".join("%s=%s" % kv for kv in N.items())))
    sys.stdout.flush()
    failed = 0
    t_all = time.time()
    for i, fn in enumerate(todo, 1):
        rep = Report(fn.__name__)
        t0 = time.time()
        status = "ok"
        try:
            fn(rep)
            if rep.problems:
                status = "not ok"
        except Skip as e:
            status = "skip"
            rep.note("skipped: %s" % e)
        except Exception as e:
            status = "not ok"
            rep.problems.append("%s: %s" % (type(e).__name__, e))
            for line in traceback.format_exc().splitlines()[-8:]:
                rep.note(line)
        finally:
            # A sanitizer build reports memory errors in the log.
            for w_ in weftdlib.started:
                m = re.search(r"(ERROR: AddressSanitizer[^\n]*|"
                              r"runtime error:[^\n]*|"
                              r"ERROR: LeakSanitizer[^\n]*)", w_.log.text())
                if m:
                    rep.problems.append("sanitizer: " + m.group(1))
                    if status == "ok":
                        status = "not ok"
            # Whatever it started is gone before the next one.
            weftdlib.kill_started()
            del weftdlib.started[:]
        el = time.time() - t0
        rep.set("duration s", "%.1f" % el)
        results.append((fn.__name__, status, rep))
        if status == "skip":
            print("ok %d - %s # SKIP %s" % (i, fn.__name__, rep.notes[-1]))
        else:
            print("%s %d - %s" % (status, i, fn.__name__))
            failed += status != "ok"
        for k, v in rep.fig.items():
            print("#   %s: %s" % (k, v))
        for n_ in rep.notes:
            print("#   note: %s" % n_)
        for p_ in rep.problems:
            print("#   FAILED: %s" % p_)
        sys.stdout.flush()
    total = time.time() - t_all
    table = ["| scenario | result | figures |", "|---|---|---|"]
    for name, status, rep in results:
        figs = "; ".join("%s: %s" % kv for kv in rep.fig.items())
        table.append("| %s | %s | %s |" % (name, status, figs))
    print("# ---- results (%s run, %.0f s) ----" %
          ("quick" if QUICK else "full", total))
    for line in table:
        print("# " + line)
    if os.environ.get("STRESS_REPORT"):
        with open(os.environ["STRESS_REPORT"], "w") as f:
            f.write("\n".join(table) + "\n")
            json.dump({name: {"status": status, "figures": rep.fig,
                              "notes": rep.notes,
                              "problems": rep.problems}
                       for name, status, rep in results}, f, indent=1)
    print("# stress: %d passed, %d failed, %d skipped in %.0f s" % (
        sum(1 for _, s, _ in results if s == "ok"), failed,
        sum(1 for _, s, _ in results if s == "skip"), total))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        _cleanup()
    sys.exit(rc)
