#!/usr/bin/env python3
"""weftd's access log (a listener's access_log key), end to end: one line
per connection with its exact bytes, close reason, peer, listener and
plugin; quoting; tls= and sni= on a TLS listener; the file reopened on
SIGUSR1 after logrotate moved it; the "stderr" target; and a target that
cannot keep up (a FIFO nobody reads): the worker goes on serving and
counts the lines it drops, which `weftd -s status` (text and --json)
and the metrics plugin show.  Both config syntaxes and --dump.  Prints
TAP.  Environment as for test_weftd.py."""
import fcntl
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get("SRCDIR", ".")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import run, test  # noqa: E402
from weftdlib import (SLOW, WEFTD_CMD, Failed, Weftd,  # noqa: E402
                      connect, fill, kill_started, local, mkdtemp,
                      recv_until)

CONF = """
workers = 1;
log_level = "debug";
shutdown_timeout = 5.0;
plugin_dir = "@PLUGINS@";
plugins = { echo = { path = "echo.so"; }; };
listen = (
  { name = "web"; tcp = "127.0.0.1:0"; plugin = "echo";
    access_log = "%s"; }
);
"""

LINE = (r"time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z listener=(\S+) "
        r"plugin=(\S+) peer=(\S+) duration_ms=(\d+) bytes_in=(\d+) "
        r"bytes_out=(\d+) reason=(\w+)")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_lines(path, n, timeout=10.0):
    """The access log's lines, once it has at least n."""
    end = time.time() + timeout * SLOW
    while time.time() < end:
        lines = read(path).splitlines()
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    raise Failed("%s: fewer than %d lines:\n%s" % (path, n, read(path)))


def echo_once(port, payload, reset=False):
    """One echo connection; returns the client's own address."""
    s = connect(local(port))
    try:
        me = "%s:%d" % s.getsockname()
        s.sendall(payload)
        assert recv_until(s, lambda d: len(d) >= len(payload)) == payload
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        else:
            s.shutdown(socket.SHUT_WR)
            assert s.recv(16) == b""
        return me
    finally:
        s.close()


def start(target, conf=CONF, n=1):
    w = Weftd(conf % target)
    w.wait_ready(n)
    return w


@test
def lines_for_echo_connections():
    d = mkdtemp()
    path = os.path.join(d, "access.log")
    w = start(path)
    try:
        port = w.ports()["echo"][0]
        me1 = echo_once(port, b"hello")
        me2 = echo_once(port, b"x" * 100000)
        me3 = echo_once(port, b"bye\n", reset=True)
        lines = wait_lines(path, 3)
        assert len(lines) == 3, lines
        got = [re.fullmatch(LINE, ln) for ln in lines]
        assert all(got), lines
        want = [(me1, "5", "eof"), (me2, "100000", "eof"),
                (me3, "4", "reset")]
        for m, (me, n, reason) in zip(got, want):
            assert m.group(1) == "web" and m.group(2) == "echo", m.group(0)
            assert m.group(3) == me, (m.group(0), me)
            assert m.group(5) == n and m.group(6) == n, m.group(0)
            assert m.group(7) == reason, m.group(0)
    finally:
        w.stop()


@test
def quoted_values():
    """An unnamed UNIX listener is named by its path, here with a space;
    its client has no name: both are quoted."""
    d = mkdtemp()
    sock = os.path.join(d, "a b.sock")
    path = os.path.join(d, "access.log")
    conf = ("""
workers = 1;
plugin_dir = "@PLUGINS@";
plugins = { echo = { path = "echo.so"; }; };
listen = ( { unix = "%s"; plugin = "echo"; access_log = "%%s"; } );
""" % sock)
    w = start(path, conf=conf)
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(b"abc")
        assert recv_until(s, lambda x: len(x) >= 3) == b"abc"
        s.close()
        line = wait_lines(path, 1)[0]
        assert ' listener="%s" plugin=echo peer="" ' % sock in line, line
        assert "bytes_in=3 bytes_out=3 reason=" in line, line
    finally:
        w.stop()


@test
def ini_syntax_and_dump():
    d = mkdtemp()
    path = os.path.join(d, "access.log")
    ini = ("workers = 1\nplugin_dir = @PLUGINS@\n[plugins.echo]\n"
           "path = echo.so\n[listen.web]\ntcp = 127.0.0.1:0\n"
           "plugin = echo\naccess_log = %s\n" % path)
    w = Weftd(ini, name="weftd.ini")
    try:
        w.wait_ready(1)
        dump = subprocess.run(WEFTD_CMD + ["-c", w.conf, "--dump"],
                              stdout=subprocess.PIPE, check=True)
        assert ("access_log = %s\n" % path).encode() in dump.stdout, dump
        echo_once(w.ports()["echo"][0], b"ini")
        line = wait_lines(path, 1)[0]
        assert " listener=web plugin=echo " in line, line
        assert " bytes_in=3 bytes_out=3 reason=eof" in line, line
    finally:
        w.stop()


@test
def reopened_on_usr1():
    d = mkdtemp()
    path = os.path.join(d, "access.log")
    w = start(path)
    try:
        port = w.ports()["echo"][0]
        echo_once(port, b"one")
        wait_lines(path, 1)
        os.rename(path, path + ".1")
        mark = w.log.mark()
        w.proc.send_signal(signal.SIGUSR1)
        # The supervisor hands the new file over, then forwards USR1.
        end = time.time() + 10 * SLOW
        while not os.path.exists(path) and time.time() < end:
            time.sleep(0.02)
        assert os.path.exists(path), w.text()[mark:]
        time.sleep(0.2)
        echo_once(port, b"two!")
        lines = wait_lines(path, 1)
        assert "bytes_in=4 " in lines[0], lines
        assert len(read(path + ".1").splitlines()) == 1
    finally:
        w.stop()


@test
def stderr_target():
    w = start("stderr")
    try:
        port = w.ports()["echo"][0]
        echo_once(port, b"to stderr")
        w.wait_log(r"\ntime=\S+ listener=web plugin=echo peer=\S+ "
                   r"duration_ms=\d+ bytes_in=9 bytes_out=9 reason=eof\n")
    finally:
        w.stop()


@test
def slow_target_drops_lines():
    """A FIFO whose reader never reads: its pipe fills, the worker's
    buffer fills, and further lines are dropped, counted and logged;
    the worker goes on serving."""
    d = mkdtemp()
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fcntl.fcntl(rfd, 1031, 4096)  # F_SETPIPE_SZ: one page
        w = start(fifo)
        try:
            port = w.ports()["echo"][0]
            n = 0
            while not re.search(r"access log \S+: \d+ line\(s\) dropped",
                                w.text()):
                echo_once(port, b"ping")
                n += 1
                assert n < 5000, w.text()[-2000:]
            m = re.search(r"access log \S+: (\d+) line\(s\) dropped",
                          w.text())
            assert int(m.group(1)) > 0
            # Still serving.
            echo_once(port, b"still here")
        finally:
            w.stop()
    finally:
        os.close(rfd)


DROP_CONF = """
workers = 1;
log_level = "info";
plugin_dir = "@PLUGINS@";
plugins = { echo = { path = "echo.so"; }; metrics = { path = "metrics.so"; }; };
listen = (
  { name = "web"; tcp = "127.0.0.1:0"; plugin = "echo";
    access_log = "%s"; },
  { name = "scrape"; tcp = "127.0.0.1:0"; plugin = "metrics"; }
);
"""


def dropped_everywhere(w):
    """The web listener's dropped lines as `weftd -s status` (its access
    log table), `--json` and GET /metrics give them."""
    text = w.status()
    m = re.search(r"\nlistener access_log_dropped access_log "
                  r"\(generation 1\)\nweb (\d+) (\S+)\n", text)
    assert m, text
    res = subprocess.run(WEFTD_CMD + ["-s", "status", "--json", "-C", w.ctl],
                         capture_output=True, timeout=10 * SLOW)
    assert res.returncode == 0, res
    js = json.loads(res.stdout.decode())
    ls = {x["listener"]: x for x in js["listeners"]}
    s = connect(local(w.ports()["metrics"][0]))
    try:
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        body = recv_until(s, lambda d: False).decode()
    finally:
        s.close()
    p = re.search(r'\nweftd_access_log_dropped_total\{listener="web"\} '
                  r"(\d+)\n", body)
    assert p, body
    q = re.search(r'\nweftd_access_log_dropped_total\{listener="scrape"\} '
                  r"(\d+)\n", body)
    assert q and q.group(1) == "0", body
    assert "# TYPE weftd_access_log_dropped_total counter\n" in body, body
    return (int(m.group(1)), ls["web"]["access_log_dropped"],
            int(p.group(1)), m.group(2))


@test
def dropped_lines_in_status_and_metrics():
    """The lines a target that cannot keep up cost are counted per
    listener: `weftd -s status` (text and --json) and the metrics plugin
    give the same nonzero number, and the loop goes on serving."""
    d = mkdtemp()
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fcntl.fcntl(rfd, 1031, 4096)  # F_SETPIPE_SZ: one page
        w = start(fifo, conf=DROP_CONF)
        try:
            port = w.ports()["echo"][0]
            n = 0
            while not re.search(r"access log \S+: \d+ line\(s\) dropped",
                                w.text()):
                echo_once(port, b"ping")
                n += 1
                assert n < 5000, w.text()[-2000:]
            # No more lines are made: the counts settle at the next
            # heartbeat and the supervisor's next turn.
            end = time.time() + 30 * SLOW
            while True:
                text, js, prom, target = dropped_everywhere(w)
                if text == js == prom and text > 0 and \
                        dropped_everywhere(w)[:3] == (text, js, prom):
                    break
                assert time.time() < end, (text, js, prom)
                time.sleep(0.05)
            assert target == fifo, target
            warned = sum(int(x) for x in re.findall(
                r"access log \S+: (\d+) line\(s\) dropped", w.text()))
            assert 0 < warned <= text, (warned, text)
            # Still serving, and the one more line is dropped too.
            echo_once(port, b"still here")
            end = time.time() + 30 * SLOW
            while dropped_everywhere(w)[:3] != (text + 1,) * 3:
                assert time.time() < end, dropped_everywhere(w)
                time.sleep(0.05)
        finally:
            w.stop()
    finally:
        os.close(rfd)


@test
def unsafe_targets_refused():
    """A path is opened as the log file is (safepath.c): a symlink or a
    file with a second link planted there is refused and logged, and the
    listener serves without its access log, writing nothing through
    them; a FIFO is accepted (slow_target_drops_lines), where -L refuses
    one."""
    d = mkdtemp()
    target = os.path.join(d, "target")
    with open(target, "w") as f:
        f.write("keep\n")
    link = os.path.join(d, "link.log")
    os.symlink(target, link)
    hard = os.path.join(d, "hard.log")
    os.link(target, hard)
    for path, why in ((link, "is a symbolic link, refusing to follow it"),
                      (hard, "not a regular file with a single link or a "
                       "FIFO, refusing it")):
        w = start(path)
        try:
            w.wait_log(r"access log %s: %s" % (re.escape(path),
                                               re.escape(why)))
            echo_once(w.ports()["echo"][0], b"unlogged")
        finally:
            w.stop()
        assert open(target).read() == "keep\n"
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    conf = os.path.join(d, "w.conf")
    with open(conf, "w") as f:
        f.write(fill(CONF, d) % os.path.join(d, "access.log"))
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        r = subprocess.run(WEFTD_CMD + ["-t", "-c", conf, "-L", fifo],
                           capture_output=True, timeout=30 * SLOW)
    finally:
        os.close(rfd)
    assert r.returncode != 0, r
    assert ("log file %s: not a regular file with a single link, refusing "
            "it" % fifo).encode() in r.stderr, r.stderr


CERTS = {}


def cert(name):
    if "dir" not in CERTS:
        d = tempfile.mkdtemp(prefix="weftd-tls-")
        os.chmod(d, 0o755)
        subprocess.run(["sh", os.path.join(SRCDIR, "tests", "tls",
                                           "mkcerts.sh"), d], check=True,
                       stdout=subprocess.DEVNULL)
        CERTS["dir"] = d
    return os.path.join(CERTS["dir"], name)


@test
def tls_version_and_sni():
    d = mkdtemp()
    path = os.path.join(d, "access.log")
    conf = ("""
workers = 1;
plugin_dir = "@PLUGINS@";
plugins = { echo = { path = "echo.so"; }; };
tls = { site = { cert = "%s"; key = "%s"; }; };
listen = ( { name = "secure"; tcp = "127.0.0.1:0"; plugin = "echo";
             tls = "site"; access_log = "%%s"; } );
""" % (cert("server.crt"), cert("server.key")))
    w = start(path, conf=conf)
    try:
        port = w.ports()["echo"][0]
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        s = ctx.wrap_socket(connect(local(port)),
                            server_hostname="localhost")
        s.sendall(b"secret")
        assert recv_until(s, lambda x: len(x) >= 6) == b"secret"
        version = s.version()
        s.close()
        line = wait_lines(path, 1)[0]
        assert re.search(r" listener=secure plugin=echo ", line), line
        assert re.search(r" bytes_in=6 bytes_out=6 ", line), line
        assert line.endswith(" tls=%s sni=localhost" % version), line
    finally:
        w.stop()


@test
def refused_target_value():
    d = mkdtemp()
    p = os.path.join(d, "w.conf")
    with open(p, "w") as f:
        f.write(CONF.replace("@PLUGINS@", "/nonexistent") % "relative.log")
    r = subprocess.run(WEFTD_CMD + ["-c", p, "--dump"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode != 0
    assert b'access_log is an absolute path, "journal" or "stderr"' in \
        r.stderr, r.stderr


def stop_all():
    kill_started()


if __name__ == "__main__":
    sys.exit(run(stop_all))
