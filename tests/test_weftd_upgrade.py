#!/usr/bin/env python3
"""Binary upgrade (SIGUSR2, `weftd -s upgrade`; doc/weftd.8.in): the
supervisor runs the weftd binary it was started from again, hands its
listening sockets and control socket over, and drains once the new one is
ready.  weftd runs here from a copy of the build's binary in a temp dir,
so that a test can put another file there (a fresh copy: another inode,
which `weftd -s status` shows; /bin/false; a group-writable file) before
it asks for the upgrade.  Prints TAP.  Environment as for test_weftd.py."""
import os
import re
import shutil
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import weftdlib  # noqa: E402
from taplib import run, test  # noqa: E402
from weftdlib import (SLOW, WEFTD, Failed, Weftd, connect,  # noqa: E402
                      exchange, kill_started, local, proc_gone, recv_until)

CONF = """
workers = 2;
log_level = "info";
shutdown_timeout = 5.0;
plugin_dir = "@PLUGINS@";
plugins = { echo = { path = "echo.so"; }; };
listen = (
  { name = "echo"; tcp = "127.0.0.1:0"; plugin = "echo"; },
  { unix = "@DIR@/echo.sock"; plugin = "echo"; },
  { tcp = "127.0.0.1:0"; plugin = "echo"; reuse_port = true; }
);
"""

# New supervisors started by an upgrade: not our children, killed at the
# end if a test left one running.
adopted = []


def real_binary():
    """The weftd executable itself (not libtool's wrapper script) and the
    environment it needs to run from elsewhere."""
    with open(WEFTD, "rb") as f:
        script = f.read(2) == b"#!"
    if not script:
        return WEFTD, {}
    libs = os.path.join(os.path.dirname(WEFTD), ".libs")
    return os.path.join(libs, "weftd"), {
        "LD_LIBRARY_PATH": libs + ":" + os.environ.get("LD_LIBRARY_PATH",
                                                        "")}


def put_binary(path, src):
    """Replace path by a copy of src (a new inode, as a package upgrade
    renames the new file over the old)."""
    tmp = path + ".new"
    shutil.copy(src, tmp)
    os.chmod(tmp, 0o755)
    os.rename(tmp, path)
    return os.stat(path).st_ino


def start():
    """weftd from a copy of the binary in its own dir/sbin."""
    binary, env = real_binary()
    d = weftdlib.mkdtemp()
    os.mkdir(os.path.join(d, "sbin"))
    exe = os.path.join(d, "sbin", "weftd")
    put_binary(exe, binary)
    saved = weftdlib.WEFTD_CMD
    weftdlib.WEFTD_CMD = [exe]
    try:
        w = Weftd(CONF, dir=d, env=env)
    finally:
        weftdlib.WEFTD_CMD = saved
    w.exe = exe
    w.binary = binary
    w.wait_ready(2)
    return w


def status_of(w):
    """(pid, binary inode, text) from `weftd -s status`."""
    text = w.status()
    m = re.match(r"OK weftd \S+, pid (\d+),", text)
    i = re.search(r"^binary (\S+), inode (\d+)", text, re.M)
    assert m and i, text
    assert i.group(1) == w.exe, (i.group(1), w.exe)
    return int(m.group(1)), int(i.group(2)), text


class Load:
    """Clients running echo exchanges on every listener until stopped:
    each a new connection, plus one connection kept open until
    end_kept() (a client the old workers serve until it leaves: one kept
    past shutdown_timeout would be aborted, as by a reload)."""

    def __init__(self, addrs):
        self.addrs = addrs
        self.ok = 0
        self.errors = []
        self.stopping = False
        self.kept_ending = False
        self.threads = [threading.Thread(target=self.run, args=(a,),
                                         daemon=True)
                        for a in addrs for _ in range(2)]
        self.kept_thread = threading.Thread(target=self.kept,
                                            args=(addrs[0],), daemon=True)
        self.threads.append(self.kept_thread)
        for t in self.threads:
            t.start()

    def run(self, addr):
        i = 0
        while not self.stopping:
            msg = b"%r %d\n" % (addr, i)
            try:
                got = exchange(addr, msg, timeout=5.0)
                if got != msg:
                    self.errors.append((addr, msg, got))
                else:
                    self.ok += 1
            except OSError as e:
                self.errors.append((addr, msg, repr(e)))
            if len(self.errors) > 100:
                break  # the test has failed; say so, do not spin
            i += 1

    def kept(self, addr):
        try:
            s = connect(addr)
            i = 0
            while not self.stopping and not self.kept_ending:
                msg = b"kept %d\n" % i
                s.sendall(msg)
                got = recv_until(s, lambda d: len(d) >= len(msg))
                if got != msg:
                    self.errors.append(("kept", msg, got))
                    break
                self.ok += 1
                i += 1
            s.close()
        except OSError as e:
            self.errors.append(("kept", repr(e)))

    def end_kept(self):
        self.kept_ending = True
        self.kept_thread.join(30)

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(30)
        return self.errors


def addrs_of(w):
    ports = w.ports()["echo"]
    return [local(ports[0]), local(ports[1]),
            os.path.join(w.dir, "echo.sock")]


def wait_gone(pid, timeout=15.0):
    end = time.time() + timeout * SLOW
    while time.time() < end:
        if proc_gone(pid):
            return
        time.sleep(0.02)
    raise Failed("pid %d did not exit" % pid)


def stop_adopted(w, pid):
    """SIGTERM the new supervisor; it removes the paths it was handed."""
    os.kill(pid, signal.SIGTERM)
    wait_gone(pid)
    adopted.remove(pid)
    assert not os.path.exists(w.ctl), "control socket left behind"
    assert not os.path.exists(os.path.join(w.dir, "echo.sock"))


def upgraded(w, how):
    """Upgrade w (how: "ctl" or "usr2") to a fresh copy of the binary,
    under load; the new supervisor's pid."""
    old_pid, old_ino, _ = status_of(w)
    new_ino = put_binary(w.exe, w.binary)
    assert new_ino != old_ino
    load = Load(addrs_of(w))
    try:
        time.sleep(0.3)
        before = load.ok
        if how == "usr2":
            w.proc.send_signal(signal.SIGUSR2)
            w.wait_log(r"upgrade: new weftd \(pid \d+\) ready")
        else:
            r = w.control("upgrade")
            assert r.returncode == 0, r
            assert re.match(rb"OK upgraded: new weftd \(pid \d+\) ready",
                            r.stdout), r
        # The old supervisor drains and exits; the new one answers.
        load.end_kept()
        assert w.proc.wait(20 * SLOW) == 0, w.text()
        pid, ino, text = status_of(w)
        adopted.append(pid)
        time.sleep(0.3)
    finally:
        # A failed upgrade must not leave the clients running forever.
        errors = load.stop()
    assert not errors, (errors[:5], len(errors), w.text()[-3000:])
    assert load.ok > before, (load.ok, before)
    assert pid != old_pid and ino == new_ino, text
    assert "upgraded from pid %d" % old_pid in text, text
    # The paths stayed, and the lock file names the new supervisor.
    assert os.path.exists(os.path.join(w.dir, "echo.sock"))
    with open(w.ctl + ".lock") as f:
        assert int(f.read()) == pid
    for a in addrs_of(w):
        assert exchange(a, b"after\n") == b"after\n"
    return pid


@test
def upgrade_under_load():
    w = start()
    pid = upgraded(w, "ctl")
    stop_adopted(w, pid)


@test
def usr2_upgrades_twice():
    w = start()
    pid = upgraded(w, "usr2")
    # And the new one upgrades in turn, by its control socket.
    ino = put_binary(w.exe, w.binary)
    r = w.control("upgrade")
    assert r.returncode == 0, r
    wait_gone(pid)
    adopted.remove(pid)
    pid2, ino2, text = status_of(w)
    adopted.append(pid2)
    assert pid2 != pid and ino2 == ino, text
    stop_adopted(w, pid2)


def refused(w, why):
    """An upgrade that fails: the reason is reported, the old supervisor
    keeps serving with its workers, and is still the one answering."""
    pid, ino, _ = status_of(w)
    load = Load(addrs_of(w))
    r = w.control("upgrade")
    errors = load.stop()
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 1 and r.stdout.startswith(
        b"ERR upgrade failed"), r
    assert re.search(why, out), out
    assert not errors, errors[:5]
    w.wait_log(r"upgrade failed, still serving")
    assert re.search(why, w.text()), w.text()
    assert w.proc.poll() is None
    assert status_of(w)[0] == pid
    for a in addrs_of(w):
        assert exchange(a, b"still\n") == b"still\n"


@test
def broken_config_keeps_serving():
    w = start()
    good = open(w.conf).read()
    with open(w.conf, "a") as f:
        f.write("\nbogus_key = 1;\n")
    refused(w, r"bogus_key")
    # Fixed, the next upgrade goes through.
    with open(w.conf, "w") as f:
        f.write(good)
    pid = upgraded(w, "ctl")
    stop_adopted(w, pid)


def with_test_plugin(w, name):
    """Add the test plugin `name` to w's config, on a listener of its
    own: the next upgrade's new supervisor loads it."""
    good = open(w.conf).read()
    with open(w.conf, "w") as f:
        f.write(good.replace(
            'echo = { path = "echo.so"; };',
            'echo = { path = "echo.so"; };\n  %s = { path = "%s/%s.so"; };'
            % (name, weftdlib.TEST_PLUGIN_DIR, name)).replace(
            ");\n", ',\n  { tcp = "127.0.0.1:0"; plugin = "%s"; }\n);\n'
            % name))


@test
def new_workers_fail_paths_stay():
    # The new supervisor starts, but its workers cannot (a plugin whose
    # init fails): it gives up, and what it removes on the way out is
    # none of the old supervisor's (control socket, UNIX listener).
    w = start()
    with_test_plugin(w, "init-fails")
    refused(w, r"failed to boot")
    assert os.path.exists(w.ctl)
    assert os.path.exists(os.path.join(w.dir, "echo.sock"))
    assert w.stop() == 0


@test
def broken_binary_keeps_serving():
    w = start()
    put_binary(w.exe, shutil.which("false"))
    refused(w, r"exited before it was ready")
    assert w.stop() == 0


@test
def unsafe_binary_refused():
    w = start()
    os.chmod(w.exe, 0o775)
    refused(w, r"writable by nobody else \(refused\)")
    os.chmod(w.exe, 0o755)
    os.chmod(os.path.dirname(w.exe), 0o777)
    refused(w, r"writable by others")
    os.chmod(os.path.dirname(w.exe), 0o755)
    assert w.stop() == 0


@test
def stop_during_upgrade_kills_new():
    # The new supervisor never gets ready (a plugin whose init sleeps an
    # hour); the old one is told to stop meanwhile.  Nobody would take
    # the listeners over, so it kills the new one (and with it, its
    # workers), answers the waiting `-s upgrade`, and stops.
    w = start()
    with_test_plugin(w, "init-hang")
    answer = []
    t = threading.Thread(target=lambda: answer.append(w.control("upgrade")))
    t.start()
    newpid = int(w.wait_log(r"upgrade: started \S+ as pid (\d+)")[0])
    adopted.append(newpid)
    assert not proc_gone(newpid)
    os.kill(w.proc.pid, signal.SIGTERM)
    t.join(30 * SLOW)
    assert answer, "weftd -s upgrade did not return"
    r = answer[0]
    assert r.returncode == 1 and r.stdout.startswith(
        b"ERR upgrade failed: cancelled"), r
    wait_gone(newpid)
    adopted.remove(newpid)
    assert w.proc.wait(15 * SLOW) == 0
    assert re.search(r"upgrade cancelled: stopping", w.text()), w.text()
    # The old supervisor removed its own paths on the way out.
    assert not os.path.exists(w.ctl), "control socket left behind"


def cleanup():
    for pid in adopted:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    kill_started()


if __name__ == "__main__":
    sys.exit(run(cleanup))
