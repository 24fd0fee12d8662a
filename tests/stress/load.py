"""The stress suite's clients (stress.py), each in a forked process of its
own so that its work never delays the harness's timing: the echo load
generator (Load), slowloris clients, flooders that never read, and a
round-trip latency sampler.  Every process started here is tracked in
`procs` and killed by stop_all()."""
import collections
import errno
import multiprocessing
import os
import random
import re
import resource
import selectors
import signal
import socket
import time

import weftdlib
from weftdlib import Failed, connect

# Concurrent connections of a Load unless told otherwise.
CONNS = 200

procs = []   # multiprocessing.Process objects started here


def child_init():
    """In a forked client process: the harness's cleanup is not its job."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    weftdlib.forget_started()
    del procs[:]


def stop_all():
    """Kill every client process started here that still runs."""
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(2)


def pctl(values, q):
    if not values:
        return 0.0
    v = sorted(values)
    k = min(len(v) - 1, int(round(q / 100.0 * (len(v) - 1))))
    return v[k]


RESET_ERRNOS = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED)
# Linux's <netinet/in.h>; Python names it only from 3.12.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


class _Conn:
    __slots__ = ("sock", "tidx", "state", "payload", "sent", "got", "left",
                 "deadline", "lport", "t0", "done", "connected")


def _loadgen(targets, nconns, exchanges, size, timeout, stop, q, seed,
             pause=0.0, sources=()):
    """Keep nconns connections busy with echo exchanges until `stop` is
    set; each connection does 1..exchanges exchanges of 1..size bytes
    (`pause` seconds apart), then closes (the client closes first) and is
    replaced.  With `sources` (IPv4 addresses, one picked at random), each TCP
    connection is made from one of them, and the result's "peers" counts
    the (address, port) of every connection that connected ("unsettled"
    lists those still connecting at the end)."""
    child_init()
    random.seed(seed)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        pass
    sel = selectors.DefaultSelector()
    st = collections.Counter()
    fails = []
    lat = []
    buckets = collections.Counter()
    t_start = time.time()
    blob = os.urandom(65536)
    conns = set()
    retry = []   # (at, tidx)
    idle = []    # (at, conn): paced connections between exchanges
    seq = [0]
    peers = collections.Counter()

    def fail(c, kind, detail):
        st[kind] += 1
        if len(fails) < 5000:
            fails.append((time.time(), kind, detail, c.tidx, c.lport,
                          c.done, c.connected))
        close(c)

    def close(c):
        if c in conns:
            conns.discard(c)
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()

    def start(tidx):
        fam, addr = targets[tidx]
        c = _Conn()
        c.tidx = tidx
        c.sock = socket.socket(fam, socket.SOCK_STREAM)
        c.sock.setblocking(False)
        c.lport = 0
        c.done = 0
        c.connected = False
        c.left = random.randint(1, exchanges)
        c.payload = b""
        c.deadline = time.time() + timeout
        c.state = "connect"
        st["connects"] += 1
        if sources and fam == socket.AF_INET:
            # The port is left to connect(), which needs only the whole
            # 4-tuple to be unused (TIME_WAIT pairs are many here).
            c.sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            c.sock.bind((random.choice(sources), 0))
        err = c.sock.connect_ex(addr)
        conns.add(c)
        if err in (0, errno.EINPROGRESS):
            sel.register(c.sock, selectors.EVENT_WRITE, c)
            return
        if err == errno.ECONNREFUSED:
            fail(c, "refused", "connect")
        elif err == errno.EAGAIN:
            fail(c, "refused", "backlog full (EAGAIN)")
        else:
            fail(c, "client_error", errno.errorcode.get(err, str(err)))
        retry.append((time.time() + 0.05, tidx))

    def begin(c):
        seq[0] += 1
        n = random.randint(1, size)
        off = random.randint(0, len(blob) - n)
        c.payload = (b"%08d" % (seq[0] % 10 ** 8) + blob[off:off + n])[:max(n, 8)]
        c.sent = 0
        c.got = bytearray()
        c.t0 = time.time()
        c.deadline = c.t0 + timeout
        c.state = "send"
        sel.modify(c.sock, selectors.EVENT_WRITE | selectors.EVENT_READ, c)
        push(c)

    def push(c):
        try:
            k = c.sock.send(c.payload[c.sent:])
        except BlockingIOError:
            return
        except OSError as e:
            fail(c, "reset" if e.errno in RESET_ERRNOS else "failed",
                 "send: " + errno.errorcode.get(e.errno, str(e.errno)))
            return
        c.sent += k
        if c.sent == len(c.payload):
            c.state = "recv"
            sel.modify(c.sock, selectors.EVENT_READ, c)

    def readable(c):
        if c.state == "idle":
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as e:
                fail(c, "reset" if e.errno in RESET_ERRNOS else "failed",
                     "idle: " + errno.errorcode.get(e.errno, str(e.errno)))
                return
            fail(c, "failed", "closed while idle" if not data else
                 "unexpected bytes while idle")
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            fail(c, "reset" if e.errno in RESET_ERRNOS else "failed",
                 "recv: " + errno.errorcode.get(e.errno, str(e.errno)))
            return
        if not data:
            fail(c, "failed", "EOF after %d/%d bytes" %
                 (len(c.got), len(c.payload)))
            return
        c.got += data
        if len(c.got) < len(c.payload):
            return
        if bytes(c.got) != c.payload:
            fail(c, "failed", "wrong bytes")
            return
        now = time.time()
        st["completed"] += 1
        buckets[int((now - t_start) * 10)] += 1
        if len(lat) < 200000:
            lat.append(now - c.t0)
        c.done += 1
        c.left -= 1
        if c.left > 0 and pause > 0:
            c.state = "idle"
            c.deadline = now + pause + timeout
            sel.modify(c.sock, selectors.EVENT_READ, c)
            idle.append((now + pause, c))
        elif c.left > 0:
            begin(c)
        else:
            close(c)
            start(c.tidx)

    for i in range(nconns):
        start(i % len(targets))
    last_scan = time.time()
    while not stop.is_set():
        for key, ev in sel.select(0.02):
            c = key.data
            if c not in conns:
                continue
            if c.state == "connect":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    if err == errno.ECONNREFUSED:
                        fail(c, "refused", "connect")
                    elif err in RESET_ERRNOS:
                        fail(c, "reset", "connect")
                    else:
                        fail(c, "failed", "connect: " +
                             errno.errorcode.get(err, str(err)))
                    retry.append((time.time() + 0.05, c.tidx))
                    continue
                c.connected = True
                if c.sock.family == socket.AF_INET:
                    c.lport = c.sock.getsockname()[1]
                    if sources:
                        peers[c.sock.getsockname()] += 1
                begin(c)
                continue
            if ev & selectors.EVENT_READ:
                readable(c)
                if c not in conns:
                    continue
            if ev & selectors.EVENT_WRITE and c.state == "send":
                push(c)
        now = time.time()
        if idle:
            due = [x for x in idle if x[0] <= now]
            idle[:] = [x for x in idle if x[0] > now]
            for _, c in due:
                if c in conns:
                    begin(c)
        if retry:
            due = [r for r in retry if r[0] <= now]
            retry[:] = [r for r in retry if r[0] > now]
            for _, tidx in due:
                start(tidx)
        if now - last_scan > 0.05:
            last_scan = now
            for c in list(conns):
                if c.deadline < now:
                    fail(c, "failed", "timeout in %s" % c.state)
                    retry.append((now, c.tidx))
        # Keep the count: a failed connection is replaced at once unless
        # a retry is pending for it.
        missing = nconns - len(conns) - len(retry)
        for i in range(missing):
            start(random.randrange(len(targets)))
    inflight = len(conns)
    # Connections still connecting when the load stops: the server may
    # or may not see them.
    unsettled = [c.sock.getsockname() for c in conns
                 if sources and c.state == "connect"]
    for c in list(conns):
        close(c)
    q.put({"stats": dict(st), "fails": fails, "inflight": inflight,
           "lat": [pctl(lat, 50), pctl(lat, 99), max(lat) if lat else 0],
           "buckets": dict(buckets), "t_start": t_start,
           "t_end": time.time(), "peers": list(peers.items()),
           "unsettled": unsettled})


def background(target, *args):
    """Run target(*args, stop, q) in a forked daemon process, tracked for
    cleanup; returns (process, stop event, result queue)."""
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    q = ctx.Queue()
    p = ctx.Process(target=target, args=args + (stop, q))
    p.daemon = True
    p.start()
    procs.append(p)
    return p, stop, q


class Load:
    """The load generator in its own process (so its work never delays the
    harness's timing)."""

    def __init__(self, targets, nconns=None, exchanges=20, size=512,
                 timeout=10.0, pause=0.0, sources=()):
        ctx = multiprocessing.get_context("fork")
        self.stop_evt = ctx.Event()
        self.q = ctx.Queue()
        self.p = ctx.Process(target=_loadgen, args=(
            targets, nconns or CONNS, exchanges, size, timeout,
            self.stop_evt, self.q, random.random(), pause, tuple(sources)))
        self.p.daemon = True
        self.p.start()
        procs.append(self.p)
        self.result = None

    def finish(self):
        self.stop_evt.set()
        try:
            self.result = self.q.get(timeout=30)
        except Exception:
            self.p.kill()
            raise Failed("load generator did not report")
        self.p.join(5)
        r = self.result
        s = r["stats"]
        for k in ("completed", "failed", "reset", "refused",
                  "client_error", "connects"):
            s.setdefault(k, 0)
        return r

    def __enter__(self):
        return self

    def __exit__(self, *a):
        if self.result is None and self.p.is_alive():
            self.stop_evt.set()
            self.p.join(5)
            if self.p.is_alive():
                self.p.kill()


def tcp(addr):
    return (socket.AF_INET, addr)


def unix(path):
    return (socket.AF_UNIX, path)


def counts(r):
    s = r["stats"]
    return {k: s[k] for k in ("completed", "failed", "reset", "refused")}


def max_gap(r, t_from, t_to):
    """Longest run of 100 ms buckets without a completed exchange between
    the absolute times t_from and t_to, in seconds."""
    b = r["buckets"]
    lo = int((t_from - r["t_start"]) * 10)
    hi = int((t_to - r["t_start"]) * 10)
    gap = best = 0
    for i in range(lo, hi):
        if b.get(str(i), b.get(i, 0)) == 0:
            gap += 1
            best = max(best, gap)
        else:
            gap = 0
    return best / 10.0


def fail_summary(r, n=6):
    c = collections.Counter((k, d) for _, k, d, *_ in r["fails"])
    return "; ".join("%s %s x%d" % (k, d, v) for (k, d), v in
                     c.most_common(n))


def echo_latencies(addr, n, size=32, spread=0.0):
    """n round trips on one connection, spread over `spread` seconds;
    seconds each."""
    s = connect(addr)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"x" * size
    out = []
    gap = spread / n if n else 0
    try:
        for _ in range(n):
            if gap:
                time.sleep(gap)
            t0 = time.perf_counter()
            s.sendall(msg)
            got = 0
            while got < size:
                k = len(s.recv(65536))
                if k == 0:
                    raise Failed("echo connection closed")
                got += k
            out.append(time.perf_counter() - t0)
    finally:
        s.close()
    return out


def echo_latencies_paired(addrs, n, size=32, spread=0.0):
    """n round trips on one connection to each of addrs, spread over
    `spread` seconds, the servers taking turns (in alternating order) so
    that each sample of one has one of the others next to it in time;
    seconds each, one list per addr."""
    socks = []
    try:
        for addr in addrs:
            socks.append(connect(addr))
            socks[-1].setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msg = b"x" * size
        out = [[] for _ in addrs]
        gap = spread / n if n else 0
        for i in range(n):
            if gap:
                time.sleep(gap)
            order = range(len(socks)) if i % 2 == 0 else \
                range(len(socks) - 1, -1, -1)
            for j in order:
                s = socks[j]
                t0 = time.perf_counter()
                s.sendall(msg)
                got = 0
                while got < size:
                    k = len(s.recv(65536))
                    if k == 0:
                        raise Failed("echo connection closed")
                    got += k
                out[j].append(time.perf_counter() - t0)
    finally:
        for s in socks:
            s.close()
    return out


def slowloris(addr, n, stop, q):
    """n clients, each sending one byte of a never-ending HTTP head per
    second."""
    child_init()
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        pass
    socks = []
    errors = collections.Counter()
    for i in range(n):
        try:
            s = socket.socket()
            s.settimeout(5)
            s.connect(addr)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            s.setblocking(False)
            socks.append(s)
        except OSError as e:
            errors["connect " + errno.errorcode.get(e.errno, "?")] += 1
        if i % 50 == 49:
            time.sleep(0.05)
    q.put(("connected", len(socks)))
    sent = 0
    k = 0
    t0 = time.time()
    while not stop.is_set() and socks:
        # One byte per client per second, spread over the second.
        due = int((time.time() - t0) * len(socks))
        while k < due:
            s = socks[k % len(socks)]
            try:
                s.send(b"a")
                sent += 1
            except BlockingIOError:
                pass
            except OSError as e:
                errors["send " + errno.errorcode.get(e.errno, "?")] += 1
            k += 1
        time.sleep(0.005)
    alive = 0
    for s in socks:
        try:
            d = s.recv(1024)
            # Nothing should have been answered; b"" means closed.
            alive += d != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
        s.close()
    q.put(("done", {"sent": sent, "open_at_end": alive,
                    "errors": dict(errors)}))


_SLOW_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "


def _http_response_len(data):
    """Length of the first complete response in data, or 0."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return 0
    m = re.search(rb"\r\nContent-Length: (\d+)\r\n", data[:end + 2])
    n = end + 4 + (int(m.group(1)) if m else 0)
    return n if len(data) >= n else 0


def slowloris_timed(addr, n, stop, q):
    """n slowloris clients against a short header_timeout, reading what
    they get.  Every 10th client is silent (connects, sends nothing);
    every 10th+1 completes one request, then dribbles its next head
    ("keep-alive"); the rest dribble their first head ("trickle").
    Dribbling is one byte per client per second, and goes on after the
    server's EOF (a stubborn client), until a send fails because the
    server has closed for good."""
    child_init()
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        pass
    sel = selectors.DefaultSelector()
    cl = []
    errors = collections.Counter()
    for i in range(n):
        kind = ("silent" if i % 10 == 0 else
                "keepalive" if i % 10 == 1 else "trickle")
        try:
            s = socket.socket()
            s.settimeout(5)
            s.connect(addr)
            t0 = time.time()
            if kind == "trickle":
                s.sendall(_SLOW_HEAD)
            elif kind == "keepalive":
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.setblocking(False)
        except OSError as e:
            errors["connect " + errno.errorcode.get(e.errno, "?")] += 1
            continue
        c = {"kind": kind, "s": s, "t0": t0, "data": b"",
             "t_head": t0 if kind == "trickle" else None,
             "t_ans": None, "t_eof": None, "reset": False, "open": True}
        sel.register(s, selectors.EVENT_READ, c)
        cl.append(c)
        if i % 50 == 49:
            time.sleep(0.05)
    q.put(("connected", len(cl)))
    k = 0
    t_start = time.time()
    while not stop.is_set() and cl:
        for key, _ in sel.select(timeout=0.005):
            c = key.data
            now = time.time()
            try:
                d = c["s"].recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                errors["recv " + errno.errorcode.get(e.errno, "?")] += 1
                d = b""
            if not d:
                c["t_eof"] = now
                sel.unregister(c["s"])
                if c["kind"] == "silent":
                    c["s"].close()
                    c["open"] = False
                continue
            c["data"] += d
            if c["kind"] == "keepalive" and c["t_head"] is None:
                if _http_response_len(c["data"]):
                    # The first answer is in: start the next head, whose
                    # clock starts at its first byte.
                    try:
                        c["s"].send(_SLOW_HEAD)
                        c["t_head"] = now
                    except OSError as e:
                        errors["send " + errno.errorcode.get(
                            e.errno, "?")] += 1
            if c["t_ans"] is None and re.search(
                    rb"(^|\n)HTTP/1.1 408 ", c["data"]):
                c["t_ans"] = now
        # One byte per dribbling client per second, spread over the
        # second, as in slowloris.
        due = int((time.time() - t_start) * len(cl))
        while k < due:
            c = cl[k % len(cl)]
            k += 1
            if not c["open"] or c["t_head"] is None:
                continue
            try:
                c["s"].send(b"a")
            except BlockingIOError:
                pass
            except OSError:
                # The server has closed for good: its lingering close
                # is over.
                c["reset"] = True
                c["open"] = False
                if c["t_eof"] is None:
                    sel.unregister(c["s"])
                c["s"].close()
    out = {"errors": dict(errors)}
    for kind in ("trickle", "keepalive", "silent"):
        mine = [c for c in cl if c["kind"] == kind]
        ok200 = [c for c in mine
                 if c["data"].startswith(b"HTTP/1.1 200 OK\r\n")]
        rest = [c["data"][_http_response_len(c["data"]):]
                if c["kind"] == "keepalive" else c["data"] for c in mine]
        out[kind] = {
            "n": len(mine),
            "200 first": len(ok200),
            "408": sum(1 for r in rest
                       if r.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
                       and b"Connection: close\r\n" in r),
            "no data": sum(1 for c in mine if not c["data"]),
            "eof": sum(1 for c in mine if c["t_eof"] is not None),
            # A send failed: the server had closed for good.
            "reset after eof": sum(1 for c in mine if c["reset"]),
            "t_ans": [c["t_ans"] - c["t_head"] for c in mine
                      if c["t_ans"] is not None and c["t_head"]],
            "t_eof": [c["t_eof"] - c["t0"] for c in mine
                      if c["t_eof"] is not None],
        }
    for c in cl:
        if c["open"]:
            c["s"].close()
    q.put(("done", out))


def flood(addr, n, stop, q):
    """n clients that send as fast as they can and never read."""
    child_init()
    socks = []
    for i in range(n):
        s = socket.socket()
        # Small client buffers: the kernel side stays small, the server's
        # own buffering is what is measured.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        s.connect(addr)
        s.setblocking(False)
        socks.append(s)
    chunk = os.urandom(65536)
    sent = 0
    q.put("connected")
    while not stop.is_set():
        progress = False
        for s in socks:
            try:
                sent += s.send(chunk)
                progress = True
            except BlockingIOError:
                pass
            except OSError:
                pass
        if not progress:
            time.sleep(0.01)
    q.put(sent)
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     b"\1\0\0\0\0\0\0\0")
        s.close()
