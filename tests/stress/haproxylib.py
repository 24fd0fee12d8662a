"""HAProxy in front of weftd instances, for the stress suite's scale-out
scenario (stress.py, haproxy_rolling): Debian's haproxy in `mode tcp`,
sending a PROXY v2 header to each server and checking each one's health
listener over HTTP, with an admin stats socket to drain a server by.  The
same configuration, with real addresses, is doc/scale-out.md's."""
import csv
import os
import shutil
import signal
import socket
import subprocess
import time

from weftdlib import Failed

CONF = """global
    stats socket {dir}/haproxy.sock mode 600 level admin
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # A refused connect (a server that has just closed its listener) is
    # tried again, on another server.
    retries 3
    option redispatch 1

frontend echo
    bind 127.0.0.1:{front}
    default_backend weft

backend weft
    balance leastconn
    option httpchk GET /
    http-check expect status 200
    default-server send-proxy-v2 check inter 200ms fall 2 rise 2
{servers}
"""

SERVER = "    server {name} 127.0.0.1:{port} check port {health}\n"

started = []   # every Haproxy started here, for kill_started()


def kill_started():
    for h in started:
        h.kill()
    del started[:]


def binary():
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK)
        else None)


class Haproxy:
    """haproxy -db on CONF in `dir`, in a session of its own; servers:
    [(name, port, health port)]."""

    def __init__(self, dir, front, servers):
        self.dir = dir
        self.front = front
        self.sock = os.path.join(dir, "haproxy.sock")
        self.cfg = os.path.join(dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(CONF.format(dir=dir, front=front, servers="".join(
                SERVER.format(name=n, port=p, health=h)
                for n, p, h in servers)))
        exe = binary()
        chk = subprocess.run([exe, "-c", "-q", "-f", self.cfg],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if chk.returncode != 0:
            raise Failed("haproxy -c: " + chk.stdout.decode())
        self.logpath = os.path.join(dir, "haproxy.log")
        with open(self.logpath, "wb") as logf:
            self.proc = subprocess.Popen(
                [exe, "-db", "-f", self.cfg], stdout=logf, stderr=logf,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=dir)
        started.append(self)

    def cmd(self, line, timeout=5.0):
        """One command on the stats socket; its answer."""
        end = time.time() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(timeout)
            try:
                s.connect(self.sock)
                break
            except OSError:
                s.close()
                if time.time() > end or self.proc.poll() is not None:
                    raise Failed("no haproxy stats socket: " + self.log())
                time.sleep(0.05)
        try:
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                d = s.recv(65536)
                if not d:
                    return out.decode()
                out += d
        finally:
            s.close()

    def stat(self):
        """`show stat`: (proxy, server) -> its row (a dict by field)."""
        text = self.cmd("show stat").lstrip("# ")
        rows = csv.DictReader(text.splitlines())
        return {(r["pxname"], r["svname"]): r for r in rows}

    def server(self, name, backend="weft"):
        return self.stat()[(backend, name)]

    def wait_status(self, name, status, timeout=10.0):
        """Until server `name`'s status (UP, DOWN, DRAIN, ...) is it."""
        end = time.time() + timeout
        while True:
            st = self.server(name)["status"]
            if st == status:
                return
            if time.time() > end:
                raise Failed("haproxy server %s is %s, not %s" %
                             (name, st, status))
            time.sleep(0.02)

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def stop(self):
        """Hard stop (TERM); its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failed("haproxy did not stop")

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
