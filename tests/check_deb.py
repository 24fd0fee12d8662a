#!/usr/bin/env python3
"""make check-deb: the packages `make deb` built (in $(builddir)/deb) are
installed with dpkg -i into a real systemd (tests/sdns.py) whose /usr,
/etc and /var are overlays on a tmpfs, so dpkg's database, files and
the `weft` user its postinst creates never reach the host.  The service
starts from the packaged unit and config (fixed ports: the namespace has
its own network), and a plugin built out of tree from libweft-dev's
hello-plugin example with `pkg-config weft` loads and serves.  TAP, then
"# check-deb: N passed, N failed, N skipped in S s"."""
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdns  # noqa: E402
from taplib import Skip, run, test  # noqa: E402

BUILDDIR = os.path.abspath(os.environ.get("BUILDDIR", "."))
START = time.time()
LOG = []


class Env:
    m = None
    refused = None
    work = None
    debs = None


E = Env()

# A client inside the namespace's network: python3 from the host's /usr.
CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(sys.argv[3].encode())
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
sys.stdout.write(got.decode())
"""


def talk(host, port, data):
    return E.m.run(["python3", "-c", CLIENT, host, str(port), data],
                   timeout=30).stdout


def host_state():
    """What must be the same on the host before and after."""
    h = hashlib.sha256()
    for f in ("/etc/passwd", "/etc/group", "/var/lib/dpkg/status",
              "/etc/ld.so.cache"):
        with open(f, "rb") as fp:
            h.update(fp.read())
    for d in ("/var/cache/man", "/var/cache/ldconfig", "/var/lib/dpkg"):
        h.update(str(os.stat(d).st_mtime_ns).encode())
    return (h.hexdigest(), os.path.exists("/usr/sbin/weftd"),
            os.path.exists("/usr/sbin/policy-rc.d"),
            os.path.exists("/lib/systemd/system/weftd.service"))


def setup():
    E.debs = sorted(glob.glob(os.path.join(BUILDDIR, "deb", "*.deb")))
    E.debs = [d for d in E.debs if "-dbgsym_" not in d]
    if len(E.debs) != 3:
        raise AssertionError("run make deb first: %r" % E.debs)
    why = sdns.probe()
    if why is not None:
        E.refused = why
        return
    E.work = tempfile.mkdtemp(prefix="check-deb.", dir=BUILDDIR)
    for d in E.debs:
        shutil.copy(d, E.work)
    E.m = sdns.Machine(E.work, overlay=True, net=True, log=LOG.append)
    E.m.boot()


def need():
    if E.refused is not None:
        raise Skip(E.refused)
    assert E.m is not None and E.m.pid is not None, "no systemd"


@test
def dpkg_install_starts_service():
    need()
    debs = [os.path.join(E.work, os.path.basename(d)) for d in E.debs]
    E.m.run(["env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i"] + debs,
            timeout=120)
    out = E.m.run(["dpkg", "-l", "weftd", "libweft1", "libweft-dev"]).stdout
    assert len(re.findall(r"^ii ", out, re.M)) == 3, out
    assert E.m.run(["getent", "passwd", "weft"]).stdout.startswith("weft:")
    # postinst enabled and started it, from the packaged unit.
    assert E.m.systemctl("show", "-P", "FragmentPath",
                         "weftd.service").stdout.strip() == \
        "/lib/systemd/system/weftd.service"
    end = time.time() + 30
    while time.time() < end and E.m.systemctl(
            "is-active", "weftd", check=False).stdout.strip() != "active":
        time.sleep(0.2)
    assert E.m.systemctl("is-active", "weftd", check=False).stdout.strip() \
        == "active", E.m.run(["journalctl", "-u", "weftd", "--no-pager"],
                             check=False).stdout
    assert E.m.systemctl("is-enabled", "weftd").stdout.strip() == "enabled"
    # The packaged weftd.conf's echo listener.
    assert talk("127.0.0.1", 7000, "packaged") == "packaged"


@test
def out_of_tree_plugin_loads():
    need()
    E.m.run(["sh", "-c", "set -e; cp -r /usr/share/doc/libweft-dev/examples/"
             "hello-plugin /tmp/hp; cd /tmp/hp; make; make install"],
            timeout=120)
    pdir = E.m.run(["pkg-config", "--variable=plugindir", "weft"]).stdout
    assert E.m.run(["test", "-f", pdir.strip() + "/hello.so"],
                   check=False).returncode == 0, pdir
    conf = E.m.run(["cat", "/etc/weft/weftd.conf"]).stdout
    conf = conf.replace("plugins = {", 'plugins = {\n\thello = { path = '
                        '"hello.so"; settings = { greeting = "hi there"; '
                        '}; };', 1)
    conf = conf.replace("listen = (", 'listen = (\n\t{ name = "hello"; '
                        'tcp = "127.0.0.1:7300"; plugin = "hello"; },', 1)
    E.m.run(["sh", "-c", "cat >/etc/weft/weftd.conf"], input=conf)
    E.m.systemctl("reload", "weftd", timeout=60)
    got = talk("127.0.0.1", 7300, "one\nquit\n")
    assert got.startswith("hi there\none\n"), got


def cleanup():
    if E.m is not None:
        E.m.close()
    if os.environ.get("CHECK_SYSTEMD_LOG"):
        with open(os.environ["CHECK_SYSTEMD_LOG"], "w") as f:
            f.write("\n".join(LOG))
    if E.work is not None:
        shutil.rmtree(E.work, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    before = host_state()
    err = None
    try:
        setup()
    except Exception as e:
        err = "setup: %s" % e
    if err is not None:
        def need():  # noqa: F811
            raise AssertionError(err)
        globals()["need"] = need

    @test
    def host_untouched():
        # Checked after cleanup() below, reported here.
        pass

    import io
    buf = io.StringIO()
    real = sys.stdout
    sys.stdout = buf
    try:
        rc = run()
    finally:
        sys.stdout = real
        cleanup()
    out = buf.getvalue()
    after = host_state()
    if after != before:
        out = out.replace("ok %d - host_untouched" % 3,
                          "not ok %d - host_untouched # %r != %r" %
                          (3, before, after))
        rc = 1
    sys.stdout.write(out)
    passed = len(re.findall(r"^ok \d+ - \S+$", out, re.M))
    skipped = len(re.findall(r"^ok \d+ .*# SKIP", out, re.M))
    failed = len(re.findall(r"^not ok ", out, re.M))
    print("# check-deb: %d passed, %d failed, %d skipped in %.0f s" %
          (passed, failed, skipped, time.time() - START))
    sys.exit(rc)
