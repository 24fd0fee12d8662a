#!/usr/bin/env python3
"""Integration tests of the plugin lifecycle and of plugin instances, on
the test plugin tests/plugins/lifecycle.c: background fibers spawned by
init (they never outlive the plugin, in `weftd -t`, the reload probe and
the workers), the stop hook (handlers finish at a request boundary, not
at shutdown_timeout), and one .so serving several instances.  Prints
TAP; the environment is test_weftd.py's."""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import run, test  # noqa: E402
from weftdlib import (READY, SLOW, WEFTD_CMD, Weftd, connect,  # noqa: E402
                      fill, kill_started, local, mkdtemp, recv_until)

CRASHED = r"killed by signal|SIGSEGV|fini with|not on a fiber"
ABORTING = "passed: aborting"


def greeted(port, want):
    """Connect and read the greeting line, which must be want."""
    s = connect(local(port))
    got = recv_until(s, lambda d: b"\n" in d)
    assert got == want, got
    return s


def echo(s, line):
    s.sendall(line)
    got = recv_until(s, lambda d: d.endswith(b"\n"))
    assert got == line, got


BACKGROUND = """
workers = 2;
log_level = "info";
plugins = {
  bg = { path = "@TPLUGINS@/lifecycle.so";
         settings = { background = true; greeting = "tick"; }; };
};
listen = ( { tcp = "127.0.0.1:0"; plugin = "bg"; } );
"""


@test
def background_fibers_from_init():
    """A plugin whose init spawns a ticking fiber (which spawns another):
    `weftd -t` passes (it crashed with SIGSEGV: the fiber ran after fini
    and dlclose), reloads succeed (the probe is `weftd -t`'s check), and
    every fini sees its fibers cancelled and ended (the plugin aborts
    otherwise)."""
    d = mkdtemp()
    conf = os.path.join(d, "weftd.conf")
    with open(conf, "w") as f:
        f.write(fill(BACKGROUND, d))
    r = subprocess.run(WEFTD_CMD + ["-t", "-c", conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60 * SLOW)
    out = r.stdout.decode()
    assert r.returncode == 0, (r.returncode, out)
    assert not re.search(CRASHED, out), out
    assert out.count("lifecycle bg: fini") == 1, out

    w = Weftd(BACKGROUND)
    try:
        w.wait_log(READY, count=2)
        port = w.ports()["bg"][0]
        greeted(port, b"tick bg\n").close()
        for _ in range(2):
            r = w.control("reload", timeout=30)
            assert r.returncode == 0, (r, w.text()[-2000:])
            assert r.stdout.startswith(b"OK"), r
            greeted(port, b"tick bg\n").close()
    finally:
        assert w.stop() == 0, w.text()[-3000:]
    text = w.text()
    assert not re.search(CRASHED, text), text[-3000:]
    # Two reloads of two workers, then the last two: six workers, each
    # with its fini after its fibers ended; and each reload's probe.
    assert len(re.findall(r"worker \d: info: lifecycle bg: fini",
                          text)) == 6, text[-3000:]
    assert len(re.findall(r"reload probe: info: lifecycle bg: fini",
                          text)) == 2, text[-3000:]


STOP = """
workers = 1;
log_level = "info";
shutdown_timeout = 60.0;
plugins = { chat = { path = "@TPLUGINS@/lifecycle.so"; }; };
listen = ( { tcp = "127.0.0.1:0"; plugin = "chat"; } );
"""


@test
def stop_hook_ends_handlers():
    """A graceful stop with a client in mid-session: the stop hook runs
    before shutdown_timeout (60 s) counts, the handler says goodbye at
    its request boundary and returns, and the worker exits without
    aborting anyone."""
    w = Weftd(STOP)
    try:
        w.wait_log(READY)
        s = greeted(w.ports()["chat"][0], b"hello chat\n")
        echo(s, b"one\n")
        w.proc.send_signal(signal.SIGTERM)
        got = recv_until(s, lambda d: False)  # to EOF
        assert got == b"bye from chat\n", (got, w.text()[-2000:])
        s.close()
        assert w.stop() == 0
    finally:
        w.kill()
    text = w.text()
    assert text.count("lifecycle chat: stop") == 1, text[-2000:]
    assert ABORTING not in text, text[-2000:]
    assert text.index("lifecycle chat: stop") < \
        text.index("lifecycle chat: fini"), text[-2000:]


@test
def stop_hook_on_reload():
    """A reload: the old worker's handler hears of it through the stop
    hook and says goodbye; the new worker serves."""
    w = Weftd(STOP)
    try:
        w.wait_log(READY)
        port = w.ports()["chat"][0]
        s = greeted(port, b"hello chat\n")
        echo(s, b"before\n")
        r = w.control("reload", timeout=30)
        assert r.returncode == 0, (r, w.text()[-2000:])
        got = recv_until(s, lambda d: False)
        assert got == b"bye from chat\n", (got, w.text()[-2000:])
        s.close()
        s = greeted(port, b"hello chat\n")
        echo(s, b"after\n")
        s.close()
    finally:
        assert w.stop() == 0
    assert ABORTING not in w.text(), w.text()[-2000:]


INSTANCES = """
workers = 1;
log_level = "info";
plugins = {
  api-a = { path = "@TPLUGINS@/lifecycle.so";
            settings = { greeting = "alpha"; background = true; }; };
  api-b = { path = "@TPLUGINS@/lifecycle.so";
            settings = { greeting = "beta"; }; };
};
listen = (
  { tcp = "127.0.0.1:0"; plugin = "api-a"; },
  { tcp = "127.0.0.1:0"; plugin = "api-b"; }
);
"""


def plugin_maps(pid, base):
    """The distinct files (device, inode) of pid's mappings of the plugin
    copy named base (/memfd:weftd-plugin:BASE)."""
    files = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and \
                    fields[5] == "/memfd:weftd-plugin:" + base:
                files.add((fields[3], fields[4]))
    return files


@test
def instances_share_one_so():
    """Two instances of one .so with their own settings, on two
    listeners: each serves with its own greeting and name, gets its own
    stop and fini, and the worker maps the file once."""
    w = Weftd(INSTANCES)
    try:
        w.wait_log(READY)
        ports = w.ports()
        a = greeted(ports["api-a"][0], b"alpha api-a\n")
        b = greeted(ports["api-b"][0], b"beta api-b\n")
        echo(a, b"to a\n")
        echo(b, b"to b\n")
        worker = w.workers()[0]
        maps = plugin_maps(worker, "lifecycle.so")
        assert len(maps) == 1, maps
        st = w.status()
        tpl = fill("@TPLUGINS@", "")
        assert re.search(r"^plugin path listeners \(generation 1\)$", st,
                         re.M), st
        for name in ("api-a", "api-b"):
            assert re.search(r"^%s %s/lifecycle.so 127.0.0.1:0$" %
                             (name, re.escape(tpl)), st, re.M), st
        w.proc.send_signal(signal.SIGTERM)
        assert recv_until(a, lambda d: False) == b"bye from api-a\n"
        assert recv_until(b, lambda d: False) == b"bye from api-b\n"
        a.close()
        b.close()
    finally:
        assert w.stop() == 0
    text = w.text()
    for name in ("api-a", "api-b"):
        assert text.count("lifecycle %s: stop" % name) == 1, text[-2000:]
        assert text.count("lifecycle %s: fini" % name) == 1, text[-2000:]
    assert not re.search(CRASHED, text), text[-2000:]


if __name__ == "__main__":
    sys.exit(run(kill_started))
