#!/usr/bin/env python3
"""make check-systemd: weftd under a real systemd (tests/sdns.py), installed
from `make install DESTDIR=...` and driven with systemctl and journalctl
as an operator would.  The checks share one booted systemd, in order.
TAP, then "# check-systemd: N passed, N failed, N skipped in S s".

The units are the installed ones, unchanged, from /run/systemd/system; a
drop-in only shortens WatchdogSec (60 s) and TimeoutAbortSec so the
watchdog check takes seconds, and one for weftd.socket moves its port to
a free one.  The install tree is bind-mounted on /usr/local (configure's
default prefix), so its weftd.conf is /usr/local/etc/weft/weftd.conf."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdns  # noqa: E402
from taplib import Skip, run, test  # noqa: E402
from weftdlib import exchange, free_port, local  # noqa: E402

BUILDDIR = os.path.abspath(os.environ.get("BUILDDIR", "."))
PREFIX = os.environ.get("PREFIX", "/usr/local")
SYSCONFDIR = os.environ.get("SYSCONFDIR", PREFIX + "/etc")
UNITDIR = os.environ.get("UNITDIR", "/lib/systemd/system")
# systemd-analyze security's exposure for weftd.service (0 best, 10
# worst; Debian's nginx unit: 9.6).  What is left is what weftd is: it
# serves the network (no PrivateNetwork=, IPAddressDeny=) and binds low
# ports with an ambient CAP_NET_BIND_SERVICE valid in the host's user
# namespace (no PrivateUsers=), which it drops with capset(2) (in
# @privileged).  A change that loosens the unit fails here.
MAX_EXPOSURE = 1.5

START = time.time()
LOG = []


def log(s):
    LOG.append(s)


def echo(port, payload=b"ping", timeout=10):
    return exchange(local(port), payload, timeout=timeout)


def conf(port, extra=""):
    return """
workers = 2;
user = "weft";
group = "weft";
log_level = "info";
shutdown_timeout = 5.0;
worker_timeout = 5.0;
plugins = { echo = { path = "echo.so"; }; };
listen = (
	{ name = "echo-tcp"; tcp = "127.0.0.1:%d"; plugin = "echo"; }%s
);
""" % (port, extra)


def wait_for(what, pred, timeout=30, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out (%ds) waiting for %s" % (timeout, what))


class Env:
    m = None
    refused = None
    work = None
    dest = None
    port = None
    port2 = None


E = Env()


def etc_files(work):
    """/etc/passwd and /etc/group with a `weft` system user, bound over
    the namespace's (its /etc is read-only)."""
    out = []
    for name, line in (("passwd", "weft:x:%d:%d:weft:/nonexistent:"
                        "/usr/sbin/nologin\n"),
                       ("group", "weft:x:%d:\n")):
        with open("/etc/" + name) as f:
            text = f.read()
        if not re.search(r"^weft:", text, re.M):
            if not text.endswith("\n"):
                text += "\n"
            text += line % ((61999, 61999) if name == "passwd" else 61999)
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        out.append((path, "/etc/" + name))
    return out


def setup():
    why = sdns.probe()
    if why is not None:
        E.refused = why
        return
    E.work = tempfile.mkdtemp(prefix="check-systemd.", dir=BUILDDIR)
    E.dest = os.path.join(E.work, "dest")
    r = subprocess.run(["make", "-s", "install", "DESTDIR=" + E.dest],
                       cwd=BUILDDIR, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise AssertionError("make install: " + r.stdout + r.stderr)
    E.port = free_port()
    E.port2 = free_port()
    etcweft = E.dest + SYSCONFDIR + "/weft"
    with open(os.path.join(etcweft, "weftd.conf"), "w") as f:
        f.write(conf(E.port, """,
	{ name = "echo-unix"; unix = "/run/weft/echo.sock"; mode = "0660";
	  plugin = "echo"; }"""))
    with open(os.path.join(etcweft, "alt.conf"), "w") as f:
        f.write(conf(E.port2))
    units = {}
    unitdir = E.dest + UNITDIR
    for u in os.listdir(unitdir):
        with open(os.path.join(unitdir, u)) as f:
            units[u] = f.read()
    os.makedirs(os.path.join(E.work, "units"), exist_ok=True)
    for d, text in (("weftd.service.d", "[Service]\nWatchdogSec=3\n"
                     "TimeoutAbortSec=5\n"),
                    ("weftd.socket.d", "[Socket]\nListenStream=\n"
                     "ListenStream=127.0.0.1:%d\n" % E.port)):
        os.makedirs(os.path.join(E.work, "units", d), exist_ok=True)
        units[d + "/test.conf"] = text
    binds = etc_files(E.work) + [(E.dest + PREFIX, PREFIX)]
    # An ld.so cache that knows PREFIX/lib, as `ldconfig` after `make
    # install` would make; -X: no symlinks made anywhere, -i: no aux cache.
    setup = ("ldconfig -i -X -C /run/weft-ld.so.cache && "
             "mount --bind /run/weft-ld.so.cache /etc/ld.so.cache")
    E.m = sdns.Machine(E.work, binds=binds, units=units, setup=setup,
                       log=log)
    E.m.boot()


def need():
    if E.refused is not None:
        raise Skip(E.refused)
    assert E.m is not None and E.m.pid is not None, "no systemd"


def status(unit="weftd.service"):
    """generation, ready, workers, connections from StatusText."""
    text = E.m.prop(unit, "StatusText")
    mt = re.match(r"generation (\d+), (\d+)/(\d+) worker\(s\) ready, "
                  r"(\d+) connection\(s\)", text)
    assert mt, "StatusText: %r" % text
    return tuple(int(x) for x in mt.groups())


def mainpid(unit="weftd.service"):
    """MainPID, never 0: `kill 0` would signal a whole process group."""
    pid = E.m.prop(unit, "MainPID")
    assert pid.isdigit() and int(pid) > 1, "%s MainPID %r" % (unit, pid)
    return pid


def journal(*args):
    return E.m.run(["journalctl", "--no-pager", "-o", "cat"] + list(args),
                   timeout=30).stdout


@test
def start_waits_for_ready():
    need()
    E.m.systemctl("start", "weftd.service", timeout=60)
    # systemctl start of a Type=notify unit returns once READY=1 came:
    # already running and serving, without any further wait.
    assert E.m.prop("weftd", "ActiveState") == "active"
    assert E.m.prop("weftd", "SubState") == "running"
    out = E.m.systemctl("status", "weftd", "--no-pager", check=False).stdout
    assert "active (running)" in out, out
    assert echo(E.port) == b"ping"
    gen, ready, workers, conns = status()
    assert (gen, ready, workers) == (1, 2, 2), (gen, ready, workers)
    assert conns >= 0


@test
def reload_is_synchronous():
    need()
    pid = mainpid()
    gen = status()[0]
    E.m.systemctl("reload", "weftd.service", timeout=60)
    # Returned after the new generation is ready.
    assert status()[0] == gen + 1, status()
    assert E.m.prop("weftd", "MainPID") == pid
    out = E.m.run(["weftd", "-s", "status", "-C", "/run/weft/weftd.sock"],
                  timeout=30).stdout
    assert "generation %d" % (gen + 1) in out, out
    assert echo(E.port) == b"ping"


@test
def broken_reload_fails_keeps_serving():
    need()
    path = E.dest + SYSCONFDIR + "/weft/weftd.conf"
    with open(path) as f:
        good = f.read()
    gen = status()[0]
    pid = mainpid()
    try:
        with open(path, "a") as f:
            f.write("\nnot_a_key = 1;\n")
        r = E.m.systemctl("reload", "weftd.service", check=False, timeout=60)
        assert r.returncode != 0, r
        assert E.m.prop("weftd", "ActiveState") == "active"
        assert E.m.prop("weftd", "MainPID") == pid
        assert status()[0] == gen
        assert echo(E.port) == b"ping"
        assert "not_a_key" in journal("-u", "weftd", "-n", "50")
    finally:
        with open(path, "w") as f:
            f.write(good)


@test
def socket_activation():
    need()
    E.m.systemctl("stop", "weftd.service", timeout=60)
    E.m.systemctl("start", "weftd.socket", timeout=30)
    assert E.m.prop("weftd.socket", "ActiveState") == "active"
    assert E.m.prop("weftd.service", "ActiveState") == "inactive"
    # 50 clients at once against the inactive service: the first starts
    # it, all wait in the socket's backlog meanwhile, none is refused.
    results = [None] * 50
    go = threading.Event()

    def client(i):
        go.wait(10)
        try:
            results[i] = echo(E.port, b"client %d" % i, timeout=30)
        except OSError as e:
            results[i] = e

    ts = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join(60)
    bad = [(i, r) for i, r in enumerate(results) if r != b"client %d" % i]
    assert not bad, bad
    # The first worker ready may serve all 50 before the last one is
    # ready and READY=1 makes the service active.
    wait_for("active", lambda: E.m.prop("weftd.service", "ActiveState") ==
             "active", timeout=30)
    assert "using socket" in journal("-u", "weftd", "-n", "100")
    E.m.systemctl("stop", "weftd.socket", timeout=30)
    E.m.systemctl("restart", "weftd.service", timeout=60)
    assert echo(E.port) == b"ping"


@test
def watchdog_restarts_stopped_supervisor():
    need()
    pid = mainpid()
    restarts = int(E.m.prop("weftd", "NRestarts"))
    assert E.m.prop("weftd", "WatchdogUSec") == "3s"
    E.m.run(["kill", "-STOP", pid])
    # WatchdogSec=3: SIGABRT after 3 s, SIGKILL TimeoutAbortSec=5 later
    # at most, RestartSec=1.
    wait_for("a restart", lambda: int(E.m.prop("weftd", "NRestarts")) >
             restarts and E.m.prop("weftd", "ActiveState") == "active",
             timeout=40, step=0.3)
    assert E.m.prop("weftd", "MainPID") != pid
    assert "Watchdog timeout" in journal("-u", "weftd", "-n", "100")
    assert echo(E.port) == b"ping"


def workers(pid):
    out = E.m.run(["cat", "/proc/%s/task/%s/children" % (pid, pid)]).stdout
    return set(out.split())


@test
def killed_worker_is_replaced():
    need()
    pid = mainpid()
    before = workers(pid)
    assert len(before) == 2, before
    victim = sorted(before)[0]
    assert int(victim) > 1
    E.m.run(["kill", "-9", victim])
    wait_for("a new worker", lambda: len(workers(pid)) == 2 and
             victim not in workers(pid), timeout=30)
    assert E.m.prop("weftd", "ActiveState") == "active"
    assert E.m.prop("weftd", "MainPID") == pid
    wait_for("2/2 ready", lambda: status()[1] == 2, timeout=30)
    assert echo(E.port) == b"ping"


@test
def journal_priorities():
    need()
    warn = journal("-u", "weftd", "-p", "warning")
    info = journal("-u", "weftd", "-p", "info")
    # The killed worker and the broken reload above are warnings.
    assert re.search(r"worker \d+ \(pid \d+, generation \d+\) killed by "
                     r"signal 9", warn) or "signal 9" in warn, warn
    assert "reload failed" in warn, warn
    assert "listening on" not in warn, warn
    assert "listening on 127.0.0.1:%d" % E.port in info, info


@test
def upgrade_hands_over_mainpid():
    """weftd -s upgrade: the new supervisor becomes the unit's MainPID
    (MAINPID= from the old one), the unit stays active while the old one
    drains and after it has exited, the watchdog is fed by the new one,
    and nothing restarts."""
    need()
    old = mainpid()
    restarts = E.m.prop("weftd", "NRestarts")
    r = E.m.run(["weftd", "-s", "upgrade", "-C", "/run/weft/weftd.sock"],
                timeout=90, check=False)
    assert r.returncode == 0 and r.stdout.startswith("OK upgraded"), r
    new = re.search(r"pid (\d+)", r.stdout).group(1)
    assert new != old
    wait_for("MainPID %s" % new, lambda: E.m.prop("weftd", "MainPID") ==
             new, timeout=10)

    def old_gone():
        assert E.m.prop("weftd", "ActiveState") == "active"
        return E.m.run(["test", "-e", "/proc/" + old],
                       check=False).returncode != 0
    wait_for("the old supervisor to exit", old_gone, timeout=30)
    out = E.m.systemctl("status", "weftd", "--no-pager", check=False).stdout
    assert "active (running)" in out and "Main PID: %s" % new in out, out
    # WatchdogSec=3: the new main process pings the watchdog (its
    # WATCHDOG_PID is its own), or systemd would abort it meanwhile.
    time.sleep(4.5)
    assert E.m.prop("weftd", "MainPID") == new
    assert E.m.prop("weftd", "NRestarts") == restarts
    assert E.m.prop("weftd", "ActiveState") == "active"
    assert echo(E.port) == b"ping"
    wait_for("2/2 ready", lambda: status()[1] == 2, timeout=30)
    out = E.m.run(["weftd", "-s", "status", "-C", "/run/weft/weftd.sock"],
                  timeout=30).stdout
    assert "pid %s," % new in out and "upgraded from pid %s" % old in out, \
        out


@test
def stop_is_graceful():
    need()
    assert E.m.prop("weftd", "ActiveState") == "active"
    s = socket.create_connection(("127.0.0.1", E.port), timeout=10)
    try:
        s.sendall(b"before")
        assert s.recv(100) == b"before"
        t0 = time.time()
        E.m.systemctl("stop", "--no-block", "weftd.service")
        wait_for("deactivating", lambda: E.m.prop(
            "weftd", "ActiveState") != "active", timeout=10, step=0.05)
        # Draining: the connection in flight is still served...
        s.sendall(b"during")
        assert s.recv(100) == b"during"
    finally:
        s.close()
    # ...and once it is done, the stop completes, well before
    # shutdown_timeout (5 s) would have cut it.
    wait_for("inactive", lambda: E.m.prop("weftd", "ActiveState") ==
             "inactive", timeout=30)
    assert time.time() - t0 < 30
    assert E.m.prop("weftd", "Result") == "success"
    j = journal("-u", "weftd", "-n", "30")
    assert "Stopped" in j or "Deactivated successfully" in j, j
    E.m.systemctl("start", "weftd.service", timeout=60)


@test
def template_instance():
    need()
    E.m.systemctl("start", "weftd@alt.service", timeout=60)
    assert E.m.prop("weftd@alt", "ActiveState") == "active"
    assert E.m.prop("weftd", "ActiveState") == "active"
    assert E.m.prop("weftd@alt", "MainPID") != E.m.prop("weftd", "MainPID")
    assert echo(E.port) == b"ping"
    assert echo(E.port2) == b"ping"
    assert status("weftd@alt.service")[0] == 1
    E.m.systemctl("reload", "weftd@alt.service", timeout=60)
    assert status("weftd@alt.service")[0] == 2
    assert status()[0] == 1
    # Stopping the main instance (systemd removes its RuntimeDirectory)
    # leaves the other's control socket alone.
    E.m.systemctl("stop", "weftd.service", timeout=60)
    E.m.systemctl("reload", "weftd@alt.service", timeout=60)
    assert status("weftd@alt.service")[0] == 3
    E.m.systemctl("start", "weftd.service", timeout=60)
    E.m.systemctl("stop", "weftd@alt.service", timeout=60)


@test
def hardening_exposure():
    need()
    r = E.m.run(["systemd-analyze", "security", "--no-pager",
                 "weftd.service"], timeout=60, check=False)
    mt = re.search(r"Overall exposure level for weftd.service: "
                   r"([0-9.]+)", r.stdout)
    assert mt, r.stdout + r.stderr
    score = float(mt.group(1))
    print("# systemd-analyze security weftd.service: %.1f" % score)
    assert score <= MAX_EXPOSURE, r.stdout


@test
def runs_unprivileged():
    """Started as User=weft: the supervisor and its workers run as weft
    and, the listeners bound, hold no capability at all."""
    need()
    pid = mainpid()
    uid = E.m.run(["id", "-u", "weft"]).stdout.strip()
    assert "capabilities dropped" in journal("-u", "weftd", "-n", "100")
    procs = [pid] + sorted(workers(pid))
    assert len(procs) == 3, procs
    for p in procs:
        st = E.m.run(["cat", "/proc/%s/status" % p]).stdout
        f = dict(re.findall(r"^(\w+):\s+(.*)$", st, re.M))
        assert f["Uid"].split() == [uid] * 4, (p, f["Uid"])
        for cap in ("CapEff", "CapPrm", "CapAmb", "CapInh"):
            assert int(f[cap], 16) == 0, (p, cap, f[cap])
    assert echo(E.port) == b"ping"


@test
def access_log_to_journal():
    """A listener with access_log = "journal": its worker sends each
    connection's line to journald as an entry of its own (native
    protocol: PRIORITY 6, SYSLOG_IDENTIFIER weftd), under the unit."""
    import json
    need()
    port = free_port()
    with open(E.dest + SYSCONFDIR + "/weft/alog.conf", "w") as f:
        f.write("""
workers = 1;
user = "weft";
group = "weft";
plugins = { echo = { path = "echo.so"; }; };
listen = ( { name = "alog-echo"; tcp = "127.0.0.1:%d"; plugin = "echo";
             access_log = "journal"; } );
""" % port)
    unit = "weftd@alog.service"
    E.m.systemctl("start", unit, timeout=60)
    try:
        pid = mainpid(unit)
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            me = "%s:%d" % s.getsockname()
            s.sendall(b"to the journal")
            got = b""
            while len(got) < 14:
                d = s.recv(100)
                assert d, got
                got += d
            assert got == b"to the journal", got
            s.shutdown(socket.SHUT_WR)
            assert s.recv(100) == b""
        finally:
            s.close()

        def entries():
            out = E.m.run(["journalctl", "--no-pager", "-o", "json",
                           "_SYSTEMD_UNIT=" + unit], timeout=30).stdout
            return [e for e in map(json.loads, out.splitlines())
                    if " listener=alog-echo " in str(e.get("MESSAGE"))]

        es = wait_for("the access log line", entries, timeout=30)
        assert len(es) == 1, es
        e = es[0]
        assert re.fullmatch(
            r"time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
            r"listener=alog-echo plugin=echo peer=%s duration_ms=\d+ "
            r"bytes_in=14 bytes_out=14 reason=eof" % re.escape(me),
            e["MESSAGE"]), e
        assert e["PRIORITY"] == "6", e
        assert e["SYSLOG_IDENTIFIER"] == "weftd", e
        # Sent by the worker itself over the native protocol, not
        # through the supervisor's standard error.
        assert e["_TRANSPORT"] == "journal", e
        assert e["_PID"] in workers(pid), (e["_PID"], workers(pid))
    finally:
        E.m.systemctl("stop", unit, timeout=60)


def cleanup():
    if E.m is not None:
        if E.m.pid is not None:
            try:
                E.m.run(["journalctl", "--no-pager", "-n", "300",
                         "-u", "weftd*", "-u", "init.scope"],
                        timeout=30, check=False)
            except Exception:
                pass
        E.m.close()
    if os.environ.get("CHECK_SYSTEMD_LOG"):
        with open(os.environ["CHECK_SYSTEMD_LOG"], "w") as f:
            f.write("\n".join(LOG))
            if E.m is not None:
                f.write("\n---- console\n" + E.m.console_text())
    if E.work is not None:
        shutil.rmtree(E.work, ignore_errors=True)


if __name__ == "__main__":
    # make's or timeout's SIGTERM still runs cleanup(): the namespace's
    # PID 1 is killed and its cgroups removed.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        setup()
    except Exception as e:
        # Nothing can run: every check fails with the reason.
        E.refused = None
        E.m = None
        err = "%s" % e

        def need():  # noqa: F811
            raise AssertionError("setup: " + err)
        globals()["need"] = need
    rc = 1
    try:
        import io
        buf = io.StringIO()
        real = sys.stdout
        sys.stdout = buf
        try:
            rc = run()
        finally:
            sys.stdout = real
        out = buf.getvalue()
        sys.stdout.write(out)
    finally:
        cleanup()
    passed = len(re.findall(r"^ok \d+ - \S+$", out, re.M))
    skipped = len(re.findall(r"^ok \d+ .*# SKIP", out, re.M))
    failed = len(re.findall(r"^not ok ", out, re.M))
    print("# check-systemd: %d passed, %d failed, %d skipped in %.0f s" %
          (passed, failed, skipped, time.time() - START))
    sys.exit(rc)
