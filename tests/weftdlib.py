"""The Python driver for weftd shared by the integration tests
(test_weftd.py, test_systemd.py, check_systemd.py) and the stress suite
(stress/stress.py): start weftd on a config in a temp dir, read its log,
wait for its workers, talk to its control socket (`weftd -s`), sample its
workers' pids and fds in /proc, and stop or kill it.  It only ever signals
processes it started itself.

Environment (set by the Makefile): WEFTD, PLUGIN_DIR (shipped plugins),
TEST_PLUGIN_DIR (deliberately broken or odd plugins).  make check-valgrind
starts every weftd through WEFT_TEST_WRAPPER (under memcheck) and
stretches the time limits by WEFT_TEST_TIMEOUT_MULT."""
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

WEFTD = os.path.abspath(os.environ.get("WEFTD", "./weftd"))
WEFTD_CMD = os.environ.get("WEFT_TEST_WRAPPER", "").split() + [WEFTD]
SLOW = float(os.environ.get("WEFT_TEST_TIMEOUT_MULT", "1"))
PLUGIN_DIR = os.path.abspath(os.environ.get("PLUGIN_DIR", "plugins/.libs"))
TEST_PLUGIN_DIR = os.path.abspath(
    os.environ.get("TEST_PLUGIN_DIR", "tests/plugins/.libs"))

# A worker's "ready" line; group 1 is its slot, group 2 its pid.
READY = r"worker (\d+) \(pid (\d+)\) ready"


class Failed(AssertionError):
    """weftd did not do what a helper here waited for."""


# ---- what this process started ------------------------------------------

started = []    # every Weftd started here, for kill_started()
tmpdirs = []    # every dir mkdtemp() made, for remove_tmpdirs()


def mkdtemp(prefix="weftd-test-", mode=None):
    """A temp dir removed by remove_tmpdirs() (and by taplib at exit)."""
    d = tempfile.mkdtemp(prefix=prefix)
    if mode is not None:
        os.chmod(d, mode)
    tmpdirs.append(d)
    return d


def remove_tmpdirs():
    for d in tmpdirs:
        shutil.rmtree(d, ignore_errors=True)
    del tmpdirs[:]


def kill_started():
    """SIGKILL every weftd started here that still runs (with its
    workers, when it has a session of its own), and reap it."""
    for w in started:
        w.kill()


def forget_started():
    """In a forked helper process: the parent's weftds and temp dirs are
    not its to clean up."""
    del started[:]
    del tmpdirs[:]


# ---- the log ------------------------------------------------------------

class Log:
    """A log file read incrementally; each line with the time the reader
    first saw it."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.partial = b""
        self.lines = []   # (seen_at, text)

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except OSError:
            return
        if not data:
            return
        self.off += len(data)
        data = self.partial + data
        parts = data.split(b"\n")
        self.partial = parts.pop()
        now = time.time()
        for p in parts:
            self.lines.append((now, p.decode("utf-8", "replace")))

    def text(self):
        self.poll()
        return "\n".join(l for _, l in self.lines)

    def find(self, pattern, start=0):
        """[(index, seen_at, match)] from line index `start` on."""
        self.poll()
        rx = re.compile(pattern)
        out = []
        for i in range(start, len(self.lines)):
            m = rx.search(self.lines[i][1])
            if m:
                out.append((i, self.lines[i][0], m))
        return out

    def wait(self, pattern, start=0, timeout=10.0, count=1, proc=None,
             interval=0.002):
        """find() until it has `count` matches, or raise Failed after
        `timeout` s or once proc has exited."""
        end = time.time() + timeout * SLOW
        while True:
            found = self.find(pattern, start)
            if len(found) >= count:
                return found
            if time.time() > end:
                break
            if proc is not None and proc.poll() is not None:
                found = self.find(pattern, start)
                if len(found) >= count:
                    return found
                break
            time.sleep(interval)
        raise Failed("log never matched %r (x%d); last lines:\n%s" %
                     (pattern, count, "\n".join(
                         l for _, l in self.lines[-25:])))

    def mark(self):
        self.poll()
        return len(self.lines)


def listening(text):
    """plugin name -> list of TCP ports, from weftd's "listening on"
    lines."""
    out = {}
    for host, port, plugin in re.findall(
            r"listening on (\S+?):(\d+) \((\S+)\)", text):
        out.setdefault(plugin, []).append(int(port))
    return out


# ---- weftd ----------------------------------------------------------------

def fill(text, dir):
    """A config template's placeholders: @DIR@ (the instance's temp dir),
    @PLUGINS@ and @TPLUGINS@ (the build's plugin dirs)."""
    return (text.replace("@DIR@", dir).replace("@PLUGINS@", PLUGIN_DIR)
            .replace("@TPLUGINS@", TEST_PLUGIN_DIR))


class Weftd:
    """A weftd process on the config `conf_text` (see fill()), written to
    `name` in `dir` (a new temp dir by default), with stdout and stderr in
    dir/log and a control socket of its own, dir/ctl_name (one
    supervisor per control socket), unless args has a -C.

    session: start it in a session of its own, so that kill() takes its
    workers (even under another uid) with it.  nofile: its RLIMIT_NOFILE.
    nocore: no core files.  cwd: its working directory ("dir" for dir).
    env: added to the environment, with @DIR@ filled in.  argv_prefix:
    run under this command (systemd-socket-activate ...)."""

    def __init__(self, conf_text, name="weftd.conf", args=(), env=None,
                 dir=None, conf_mode=None, ctl_name="weftd.sock",
                 session=False, nofile=None, nocore=False, cwd=None,
                 argv_prefix=()):
        self.dir = dir or mkdtemp()
        self.conf = os.path.join(self.dir, name)
        self.write_conf(conf_text)
        if conf_mode is not None:
            os.chmod(self.conf, conf_mode)
        self.ctl = os.path.join(self.dir, ctl_name)
        args = list(args)
        if "-C" not in args:
            args += ["-C", self.ctl]
        if env is not None:
            env = dict(os.environ, **{k: v.replace("@DIR@", self.dir)
                                      for k, v in env.items()})
        self.logpath = os.path.join(self.dir, "log")
        self.session = session

        def pre():
            if nocore:
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        with open(self.logpath, "wb") as logf:
            self.proc = subprocess.Popen(
                list(argv_prefix) + WEFTD_CMD + ["-c", self.conf] + args,
                stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                env=env, start_new_session=session,
                preexec_fn=pre if nocore or nofile is not None else None,
                cwd=self.dir if cwd == "dir" else cwd)
        started.append(self)
        self.log = Log(self.logpath)

    @property
    def pid(self):
        return self.proc.pid

    def write_conf(self, text):
        """Replace the config (atomically: a reload never reads half)."""
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(fill(text, self.dir))
        os.rename(tmp, self.conf)

    def text(self):
        """The whole log so far."""
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10.0, count=1):
        """re.findall(pattern) over the whole log, once it has `count`
        matches; raise Failed after `timeout` s or once weftd exited."""
        end = time.time() + timeout * SLOW
        while time.time() < end:
            found = re.findall(pattern, self.text())
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise Failed("log never matched %r (x%d):\n%s" %
                     (pattern, count, self.text()))

    def wait_ready(self, n, timeout=15.0):
        """Until n workers have said they are ready."""
        self.log.wait(READY, count=n, timeout=timeout, proc=self.proc)
        return self

    def hup(self, timeout=10.0):
        """SIGHUP, then wait for that reload's end: (log mark before the
        signal, the "reload complete/failed ..." line)."""
        mark = self.log.mark()
        self.proc.send_signal(signal.SIGHUP)
        res = self.log.wait(r"reload (complete|failed)[^\n]*", start=mark,
                            timeout=timeout)
        return mark, res[0][2].group(0)

    def ports(self):
        """plugin name -> list of TCP ports, from the listening lines."""
        return listening(self.text())

    def port(self, plugin):
        return ("127.0.0.1", self.ports()[plugin][0])

    def workers(self):
        """pids of the live worker processes (children of weftd)."""
        return children(self.proc.pid)

    def slots(self):
        """slot -> pid of the live workers, from the "ready" lines."""
        live = set(self.workers())
        out = {}
        for _, _, m in self.log.find(READY):
            if int(m.group(2)) in live:
                out[int(m.group(1))] = int(m.group(2))
        return out

    def wait_workers(self, n, timeout=10.0):
        """Until weftd has exactly n children; their pids."""
        end = time.time() + timeout * SLOW
        while time.time() < end:
            w = self.workers()
            if len(w) == n:
                return w
            time.sleep(0.02)
        raise Failed("expected %d workers, have %r\n%s" %
                     (n, self.workers(), self.text()[-2000:]))

    def control(self, cmd, **kw):
        """`weftd -s cmd` on this instance's control socket."""
        return ctl(self.ctl, cmd, **kw)

    def status(self):
        """`weftd -s status`'s output (empty if it failed)."""
        return self.control("status", timeout=10).stdout.decode()

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Signal weftd (SIGTERM) and return its exit status; if it has
        not exited within timeout s, kill it and raise Failed."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failed("weftd did not stop in %gs:\n%s" %
                         (timeout * SLOW, self.text()[-2000:]))

    def kill(self):
        """SIGKILL weftd (with its process group if it has a session of
        its own) unless it has exited, and reap it."""
        if self.proc.poll() is None:
            try:
                if self.session:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass


def ctl(path, cmd, timeout=30.0, **kw):
    """`weftd -s cmd -C path` (the control socket at path)."""
    return subprocess.run(WEFTD_CMD + ["-s", cmd, "-C", path],
                          capture_output=True, timeout=timeout * SLOW, **kw)


STATUS_COLUMNS = ("worker", "pid", "gen", "uptime", "accepted", "active",
                  "restarts", "emfile_pauses", "tls_handshakes",
                  "tls_resumed", "tls_failed", "tls_timeouts",
                  "send_timeouts")


def status_rows(text):
    """The worker rows of `weftd -s status`'s output, as dicts keyed by
    STATUS_COLUMNS, plus "starting" (the worker is not ready yet)."""
    out = []
    n = len(STATUS_COLUMNS)
    for line in text.splitlines():
        f = line.split()
        if len(f) >= n and all(x.isdigit() for x in f[:n]):
            row = dict(zip(STATUS_COLUMNS, map(int, f[:n])))
            row["starting"] = "(starting)" in f[n:]
            out.append(row)
    return out


# ---- /proc ----------------------------------------------------------------

def children(pid):
    """pids of pid's live children."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def proc_gone(pid):
    """True once pid has exited (a zombie nobody reaped counts)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def fds(pid):
    """fd -> what it points to ("socket:[N]", a path, "anon_inode:..."),
    for pid's open fds; {} if pid is gone."""
    out = {}
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in names:
        try:
            out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
    return out


def nfds(pid):
    """How many fds pid has open; -1 if it is gone."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def socket_fds(pid):
    """The "socket:[N]" targets of pid's fds."""
    return [t for t in fds(pid).values() if t.startswith("socket:")]


# ---- clients ----------------------------------------------------------------

def local(port):
    return ("127.0.0.1", port)


def connect(addr, timeout=5.0):
    """A connected socket: addr is a UNIX path or (host, port)."""
    fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout * SLOW)
    s.connect(addr)
    return s


def recv_until(s, pred, limit=1 << 20, partial=False):
    """Read until pred(data), EOF or more than limit bytes.  A timeout
    raises, or with partial=True ends the read with what came."""
    data = b""
    while not pred(data):
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if not partial:
                raise
            break
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            break
    return data


def exchange(addr, payload, expect_len=None, half_close=False, timeout=5.0,
             partial=False, limit=1 << 20):
    """Send payload on a new connection (then shut down writing if
    half_close) and read until expect_len bytes (len(payload)) came."""
    s = connect(addr, timeout)
    try:
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        n = len(payload) if expect_len is None else expect_len
        return recv_until(s, lambda d: len(d) >= n, limit, partial)
    finally:
        s.close()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def port_free(port):
    """Can a new listener bind port (as weftd does, SO_REUSEADDR)?"""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()
