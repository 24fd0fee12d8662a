#!/usr/bin/env python3
"""systemd integration of weftd: sd_notify messages and their order
(start, reload, stop, watchdog) seen by a test NOTIFY_SOCKET receiver, the
control socket (weftd -s), socket activation (systemd-socket-activate, when
installed) and `systemd-analyze verify` of the generated units.  TAP."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILDDIR = os.path.abspath(os.environ.get("BUILDDIR", "."))
HAVE_SYSTEMD = os.environ.get("HAVE_SYSTEMD", "yes") == "yes"
# configure's --with-systemd: only an explicit "no" may skip the tests that
# need libsystemd.  With "auto" on Debian, a build that found no libsystemd
# is a broken setup (build.sh installs libsystemd-dev), not a reason to skip.
WITH_SYSTEMD = os.environ.get("WITH_SYSTEMD", "auto")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import Skip, run, test  # noqa: E402
from weftdlib import (PLUGIN_DIR, TEST_PLUGIN_DIR, WEFTD,  # noqa: E402
                      Weftd, exchange, free_port, listening, local,
                      status_rows)
import weftdlib  # noqa: E402


class NoLibsystemd(Exception):
    """Built --with-systemd=no: the test checks that instead."""


def need_libsystemd(what):
    if HAVE_SYSTEMD:
        return
    if WITH_SYSTEMD == "no":
        raise NoLibsystemd(what)
    if not os.path.exists("/etc/debian_version"):
        raise Skip("built without libsystemd: " + what)
    raise AssertionError("built without libsystemd on Debian: install "
                         "libsystemd-dev (./build.sh deps) and configure "
                         "again")


def without_libsystemd(fn):
    """A test that needs libsystemd, in a --with-systemd=no build, checks
    what that build promises instead: with NOTIFY_SOCKET and
    WATCHDOG_USEC set it still starts and serves, and sends nothing."""
    def wrapper():
        try:
            return fn()
        except NoLibsystemd:
            pass
        d = tempfile.mkdtemp()
        r = Receiver(d)
        p = start(d, {"NOTIFY_SOCKET": r.path, "WATCHDOG_USEC": "300000"})
        try:
            end = time.time() + 10
            while time.time() < end and logtext(d).count(") ready") < 2:
                time.sleep(0.05)
            assert echo(ports(d)["echo"]) == b"ping"
            res = ctl(d, "reload")
            assert res.returncode == 0, res
            r.pump(timeout=1.0)
            assert r.msgs == [], r.msgs
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(15) == 0
    wrapper.__name__ = fn.__name__
    return wrapper


class Receiver:
    """A NOTIFY_SOCKET: collects every datagram weftd sends."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.msgs = []

    def pump(self, until=None, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            try:
                data = self.sock.recv(4096).decode()
                self.msgs.append(data)
            except socket.timeout:
                pass
            if until is not None and any(until(m) for m in self.msgs):
                return
        if until is not None:
            raise AssertionError("never got it; messages: %r" % self.msgs)

    def index(self, pred, start=0):
        for i in range(start, len(self.msgs)):
            if pred(self.msgs[i]):
                return i
        raise AssertionError("not found after %d in %r" % (start, self.msgs))


def conf_text(d, extra=""):
    return """
workers = 2;
log_level = "debug";
shutdown_timeout = 3.0;
worker_timeout = 1.0;
plugin_dir = "%s";
plugins = { echo = { path = "echo.so"; };
            block = { path = "%s/block.so"; }; };
listen = ( { name = "echo-tcp"; tcp = "127.0.0.1:0"; plugin = "echo"; },
           { name = "block"; tcp = "127.0.0.1:0"; plugin = "block"; } %s);
""" % (PLUGIN_DIR, TEST_PLUGIN_DIR, extra)


def start(d, env_extra=None, conf=None, argv_prefix=()):
    """weftd on conf (conf_text(d)) in d, its log in d/log, its control
    socket d/ctl.sock; returns its Popen."""
    return Weftd(conf if conf is not None else conf_text(d), dir=d,
                 ctl_name="ctl.sock", env=env_extra or {},
                 argv_prefix=argv_prefix).proc


def logtext(d):
    with open(os.path.join(d, "log")) as f:
        return f.read()


def ports(d):
    """plugin name -> its (last) TCP port."""
    return {p: v[-1] for p, v in listening(logtext(d)).items()}


def echo(port, payload=b"ping"):
    return exchange(local(port), payload)


def ctl(d, cmd):
    return weftdlib.ctl(os.path.join(d, "ctl.sock"), cmd)


@test
@without_libsystemd
def notify_start_reload_stop_order():
    need_libsystemd("no notifications")
    d = tempfile.mkdtemp()
    r = Receiver(d)
    p = start(d, {"NOTIFY_SOCKET": r.path})
    try:
        r.pump(lambda m: m == "READY=1")
        i_ready = r.index(lambda m: m == "READY=1")
        r.pump(lambda m: m.startswith("STATUS=generation 1, 2/2"))
        assert echo(ports(d)["echo"]) == b"ping"
        # A reload through the control socket: synchronous.
        res = ctl(d, "reload")
        assert res.returncode == 0, res
        assert res.stdout.startswith(b"OK reloaded: generation 2"), res
        r.pump(timeout=0.5)
        i_rel = r.index(lambda m: m.startswith("RELOADING=1"), i_ready + 1)
        assert re.match(r"RELOADING=1\nMONOTONIC_USEC=\d+$", r.msgs[i_rel])
        r.index(lambda m: m == "READY=1", i_rel + 1)
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0
        r.pump(timeout=0.3)
        i_stop = r.index(lambda m: m == "STOPPING=1")
        assert i_stop > i_rel
        # No WATCHDOG=1 unless systemd asked for one.
        assert not any(m == "WATCHDOG=1" for m in r.msgs)
    finally:
        if p.poll() is None:
            p.kill()


@test
@without_libsystemd
def failed_reload_still_sends_ready():
    need_libsystemd("no notifications")
    d = tempfile.mkdtemp()
    r = Receiver(d)
    p = start(d, {"NOTIFY_SOCKET": r.path})
    try:
        r.pump(lambda m: m == "READY=1")
        with open(os.path.join(d, "weftd.conf"), "a") as f:
            f.write("\nnot_a_key = 1;\n")
        res = ctl(d, "reload")
        assert res.returncode == 1, res
        assert res.stdout.startswith(b"ERR reload failed: config:"), res
        assert b"not_a_key" in res.stdout, res
        r.pump(timeout=0.5)
        i_rel = r.index(lambda m: m.startswith("RELOADING=1"))
        r.index(lambda m: m == "READY=1", i_rel + 1)
        assert echo(ports(d)["echo"]) == b"ping"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(15)


@test
@without_libsystemd
def watchdog_only_while_heartbeats_fresh():
    need_libsystemd("no notifications")
    d = tempfile.mkdtemp()
    r = Receiver(d)
    p = start(d, {"NOTIFY_SOCKET": r.path, "WATCHDOG_USEC": "300000"})
    try:
        r.pump(lambda m: m == "READY=1")
        r.pump(timeout=1.0)
        n = sum(1 for m in r.msgs if m == "WATCHDOG=1")
        assert n >= 3, r.msgs
        # Block one worker's loop: its heartbeat goes stale, the petting
        # stops until the supervisor has replaced it.
        s = socket.create_connection(("127.0.0.1", ports(d)["block"]))
        s.sendall(b"block\n")
        deadline = time.time() + 15
        while time.time() < deadline and "loop blocked" not in logtext(d):
            r.pump(timeout=0.05)
        text = logtext(d)
        assert "loop blocked" in text
        # The stale heartbeat held the watchdog back before the worker
        # was killed, and petting resumed once it was replaced.
        withheld = text.index("watchdog withheld: worker")
        assert withheld < text.index("loop blocked"), text
        before = sum(1 for m in r.msgs if m == "WATCHDOG=1")
        r.pump(timeout=2.0)
        s.close()
        assert sum(1 for m in r.msgs if m == "WATCHDOG=1") > before
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(15)


@test
def control_status_and_stop():
    d = tempfile.mkdtemp()
    p = start(d)
    try:
        end = time.time() + 10
        while time.time() < end and logtext(d).count(") ready") < 2:
            time.sleep(0.05)
        for _ in range(5):
            assert echo(ports(d)["echo"]) == b"ping"
        st = os.stat(os.path.join(d, "ctl.sock"))
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        res = ctl(d, "status")
        assert res.returncode == 0, res
        out = res.stdout.decode()
        assert out.startswith("OK weftd"), out
        assert "generation 1, 2 worker(s)" in out, out
        rows = status_rows(out)
        assert len(rows) == 2, out
        assert sum(row["accepted"] for row in rows) >= 0
        res = ctl(d, "bogus")
        assert res.returncode == 2, res
        res = ctl(d, "stop")
        assert res.returncode == 0 and res.stdout.startswith(b"OK"), res
        assert p.wait(15) == 0
        assert not os.path.exists(os.path.join(d, "ctl.sock"))
        res = ctl(d, "status")
        assert res.returncode == 1 and b"cannot reach" in res.stderr, res
    finally:
        if p.poll() is None:
            p.kill()


@test
def status_counts_accepted():
    d = tempfile.mkdtemp()
    p = start(d)
    try:
        end = time.time() + 10
        while time.time() < end and logtext(d).count(") ready") < 2:
            time.sleep(0.05)
        for _ in range(20):
            assert echo(ports(d)["echo"]) == b"ping"
        time.sleep(1.2)  # one heartbeat tick publishes the counters
        out = ctl(d, "status").stdout.decode()
        assert sum(row["accepted"] for row in status_rows(out)) == 20, out
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(15)


@test
def control_socket_from_config():
    # conf/weftd-dev.conf's way: no -C, the config names the socket,
    # relative to where weftd starts; `weftd -s CMD -c FILE` finds it.
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "weftd.conf"), "w") as f:
        f.write(conf_text(d) + 'control_socket = "sub/ctl.sock";\n')
    os.mkdir(os.path.join(d, "sub"))
    env = dict(os.environ)
    env.pop("RUNTIME_DIRECTORY", None)
    log = open(os.path.join(d, "log"), "wb")
    p = subprocess.Popen([WEFTD, "-c", "weftd.conf"], cwd=d, stdout=log,
                         stderr=log, env=env)
    try:
        end = time.time() + 10
        while time.time() < end and logtext(d).count(") ready") < 2:
            time.sleep(0.05)
        assert os.path.exists(os.path.join(d, "sub", "ctl.sock")), \
            logtext(d)
        assert "will not reach" not in logtext(d), logtext(d)
        res = subprocess.run([WEFTD, "-s", "status", "-c", "weftd.conf"],
                             cwd=d, capture_output=True, timeout=30, env=env)
        assert res.returncode == 0 and res.stdout.startswith(b"OK weftd"), \
            res
        res = subprocess.run([WEFTD, "-s", "stop", "-c", "weftd.conf"],
                             cwd=d, capture_output=True, timeout=30, env=env)
        assert res.returncode == 0, res
        assert p.wait(15) == 0
        assert not os.path.exists(os.path.join(d, "sub", "ctl.sock"))
    finally:
        if p.poll() is None:
            p.kill()


@test
def socket_activation():
    tool = "/usr/bin/systemd-socket-activate"
    if not os.path.exists(tool):
        raise Skip("systemd-socket-activate not installed")
    # In every build, also --with-systemd=no, weftd reads LISTEN_FDS itself
    # (a binary upgrade passes its listeners that way), so any service
    # manager speaking the protocol can activate it.
    d = tempfile.mkdtemp()
    port = free_port()
    conf = conf_text(d).replace('tcp = "127.0.0.1:0"; plugin = "echo"',
                                'tcp = "127.0.0.1:%d"; plugin = "echo"' %
                                port)
    p = start(d, conf=conf, argv_prefix=(tool, "-l", "127.0.0.1:%d" % port,
                                          "--fdname=echo-tcp"))
    try:
        time.sleep(0.3)
        # The activator starts weftd on the first connection.
        assert echo(port, b"activated") == b"activated"
        assert re.search(r"using socket 3 from systemd", logtext(d)), \
            logtext(d)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(15)
    # An activated socket that matches no listener is an error.
    d = tempfile.mkdtemp()
    port2 = free_port()
    p = start(d, argv_prefix=(tool, "-l", "127.0.0.1:%d" % port2,
                              "--fdname=nobody-listens"))
    try:
        time.sleep(0.3)
        try:
            socket.create_connection(("127.0.0.1", port2), timeout=2).close()
        except OSError:
            pass
        assert p.wait(15) == 1
        assert "matches no listener" in logtext(d), logtext(d)
    finally:
        if p.poll() is None:
            p.kill()


@test
def units_verify():
    tool = "/usr/bin/systemd-analyze"
    if not os.path.exists(tool):
        raise Skip("systemd-analyze not installed")
    d = tempfile.mkdtemp()
    for unit in ("weftd.service", "weftd@.service"):
        src = os.path.join(BUILDDIR, "systemd", unit)
        text = open(src).read()
        assert "@sbindir@" not in text and "@sysconfdir@" not in text
        # verify resolves ExecStart= binaries: point them at this build.
        text = re.sub(r"ExecStart(Pre)?=\S+/weftd", lambda m: m.group(0)
                      .split("=")[0] + "=" + WEFTD, text)
        text = text.replace("ExecReload=" + text.split("ExecReload=")[1]
                            .split()[0], "ExecReload=" + WEFTD)
        name = unit.replace("@.", "@test.")
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    res = subprocess.run([tool, "verify", "--man=no",
                          os.path.join(d, "weftd.service"),
                          os.path.join(d, "weftd@test.service")],
                         capture_output=True, timeout=60)
    err = res.stderr.decode()
    # Only complaints about our units count (the host's own units may be
    # odd in a container).
    ours = [l for l in err.splitlines() if "weftd" in l]
    assert res.returncode == 0 or not ours, err


if __name__ == "__main__":
    # Whatever a failed test left running is killed.
    sys.exit(run(weftdlib.kill_started))
