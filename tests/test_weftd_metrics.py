#!/usr/bin/env python3
"""weftd's metrics: the shipped `metrics` plugin's `GET /metrics` in the
Prometheus text format 0.0.4, and `weftd -s status --json`.  Known
traffic goes to an echo listener and a TLS one, then the scrape is
polled until it shows exactly that (the workers publish at their
heartbeat, the supervisor sums at its next turn: no timing is assumed,
a hang guard bounds the wait).  Every scrape goes through the grammar
checker below, and through `promtool check metrics` where Debian's
prometheus package is installed.  Counters survive a worker's crash and
reloads.  Prints TAP; the environment is test_weftd.py's."""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import run, test  # noqa: E402
from weftdlib import (SLOW, WEFTD_CMD, Weftd, connect,  # noqa: E402
                      kill_started, local, recv_until)

SRCDIR = os.environ.get("SRCDIR", ".")
HANG_GUARD = 30.0  # seconds; a scrape that never matches fails the test

# ---- The exposition format's grammar ------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf|NaN)"
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"(%s)(?:\{((?:%s=%s)(?:,%s=%s)*,?)?\})? (%s)(?: -?[0-9]+)?$"
                    % (NAME, LABEL, LABEL_VALUE, LABEL, LABEL_VALUE, VALUE))
PAIR = re.compile(r"(%s)=(%s)" % (LABEL, LABEL_VALUE))
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n"
                  else m.group(1), v[1:-1])


def parse_exposition(text):
    """Check text against the text exposition format 0.0.4 and return
    {(name, ((label, value), ...sorted)): float}.  Raises ValueError on
    a malformed line, a HELP or TYPE given twice or after the family's
    first sample, an unknown type, a family whose samples are not
    together, a series given twice, a counter not named ..._total, or
    text that does not end in a newline."""
    if text and not text.endswith("\n"):
        raise ValueError("no final newline")
    out, typed, helped, done = {}, {}, set(), set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (n, line)
        m = re.match(r"# (HELP|TYPE) (%s)(?: (.*))?$" % NAME, line)
        if m:
            kind, name, rest = m.groups()
            if name in done or name == current:
                raise ValueError("%s after the samples: %s" % (kind, where))
            if kind == "TYPE":
                if name in typed or rest not in TYPES:
                    raise ValueError("bad or second TYPE: " + where)
                typed[name] = rest
            else:
                if name in helped or rest is None:
                    raise ValueError("bad or second HELP: " + where)
                if "\\" in re.sub(r"\\[\\n]", "", rest):
                    raise ValueError("bad escape in HELP: " + where)
                helped.add(name)
            continue
        if line.startswith("#") or line == "":
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("malformed sample: " + where)
        name, labels, value = m.groups()
        if name != current:
            if name in done:
                raise ValueError("family not together: " + where)
            if current is not None:
                done.add(current)
            current = name
        pairs = PAIR.findall(labels or "")
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("label given twice: " + where)
        key = (name, tuple(sorted((k, unescape(v)) for k, v in pairs)))
        if key in out:
            raise ValueError("series given twice: " + where)
        if typed.get(name) == "counter" and not name.endswith("_total"):
            raise ValueError("counter not named _total: " + where)
        out[key] = float(value)
    return out


@test
def grammar_checker_refuses_bad_text():
    """The checker passes a good exposition and refuses each kind of bad
    one (so that its passing the daemon's text means something)."""
    good = ('# HELP a_total A "thing" \\\\ \\n.\n# TYPE a_total counter\n'
            'a_total{l="x\\"y\\\\z\\n"} 1\na_total{l="w"} 2.5e3\n'
            '# TYPE g gauge\ng -Inf\n')
    got = parse_exposition(good)
    assert got[("a_total", (("l", 'x"y\\z\n'),))] == 1
    assert got[("a_total", (("l", "w"),))] == 2500
    bad = [
        good[:-1],                                   # no final newline
        "# TYPE a counter\na 1\n",                   # counter without _total
        "# TYPE a gauge\n# TYPE a gauge\na 1\n",     # TYPE twice
        "a 1\n# TYPE a gauge\n",                     # TYPE after a sample
        "# TYPE a blob\na 1\n",                      # unknown type
        "a 1\nb 2\na 3\n",                           # family split
        'a{l="x"} 1\na{l="x"} 2\n',                  # series twice
        'a{l="x\\t"} 1\n',                           # bad escape
        'a{l="x} 1\n',                               # unterminated value
        'a{l="x",l="y"} 1\n',                        # label twice
        "a one\n",                                   # bad value
        "1a 1\n",                                    # bad name
    ]
    for text in bad:
        try:
            parse_exposition(text)
        except ValueError:
            continue
        raise AssertionError("accepted: %r" % text)


def promtool(text):
    """`promtool check metrics` on text, if promtool is installed."""
    tool = shutil.which("promtool")
    if tool is None:
        return
    res = subprocess.run([tool, "check", "metrics"], input=text.encode(),
                         capture_output=True, timeout=30 * SLOW)
    assert res.returncode == 0, (res.stdout, res.stderr, text)


# ---- The daemon ---------------------------------------------------------

CERTS = {}


def certs():
    """tests/tls/mkcerts.sh's certificates, made once."""
    if "dir" not in CERTS:
        d = tempfile.mkdtemp(prefix="weftd-metrics-tls-")
        subprocess.run(["sh", os.path.join(SRCDIR, "tests", "tls",
                                           "mkcerts.sh"), d], check=True,
                       capture_output=True)
        CERTS["dir"] = d
    return CERTS["dir"]


CONF = """
workers = 2;
log_level = "info";
worker_timeout = 1.0;
plugin_dir = "@PLUGINS@";
plugins = {
  echo = { path = "echo.so"; };
  metrics = { path = "metrics.so"; };
};
tls = { site = { cert = "%(certs)s/server.crt"; key = "%(certs)s/server.key"; }; };
listen = (
  { name = "echo"; tcp = "127.0.0.1:0"; plugin = "echo"; },
  { name = "secure"; tcp = "127.0.0.1:0"; plugin = "echo"; tls = "site"; },
  { tcp = "127.0.0.1:0"; plugin = "metrics"; }
);
"""


def start():
    w = Weftd(CONF % {"certs": certs()})
    w.wait_ready(2)
    return w


def http(port, request):
    """Send a raw request, read the whole response: (status, headers
    text, body)."""
    s = connect(local(port))
    try:
        s.sendall(request)
        data = recv_until(s, lambda d: False)
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode(), body


def scrape(w):
    """One GET /metrics, checked against the grammar (and promtool):
    {(name, labels): value}."""
    status, head, body = http(w.ports()["metrics"][0],
                              b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200, (status, head)
    assert "text/plain; version=0.0.4" in head, head
    m = re.search(r"Content-Length: (\d+)", head)
    assert m and int(m.group(1)) == len(body), head
    text = body.decode()
    got = parse_exposition(text)
    promtool(text)
    return got


def scrape_until(w, want):
    """Scrape until every (name, labels) of want has its value; the last
    scrape.  Fails after HANG_GUARD seconds with what differed."""
    end = time.time() + HANG_GUARD * SLOW
    while True:
        got = scrape(w)
        diff = {k: (v, got.get(k)) for k, v in want.items()
                if got.get(k) != v}
        if not diff:
            return got
        if time.time() > end:
            raise AssertionError("scrape never matched: %r" % diff)
        time.sleep(0.05)


def L(name, **labels):
    """A series key for listener `name`."""
    labels["listener"] = name
    return tuple(sorted(labels.items()))


def echo_once(port, payload):
    s = connect(local(port))
    try:
        s.sendall(payload)
        got = recv_until(s, lambda d: len(d) >= len(payload))
        assert got == payload
        s.shutdown(socket.SHUT_WR)
        recv_until(s, lambda d: False)
    finally:
        s.close()


def reset_one(port):
    """A connection the client ends with a reset (SO_LINGER 0)."""
    s = connect(local(port))
    s.sendall(b"x")
    recv_until(s, lambda d: len(d) >= 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def tls_once(port):
    ctx = ssl.create_default_context(cafile=os.path.join(certs(), "ca.crt"))
    s = ctx.wrap_socket(connect(local(port)), server_hostname="localhost")
    try:
        s.sendall(b"tls\n")
        assert recv_until(s, lambda d: len(d) >= 4) == b"tls\n"
    finally:
        s.close()


def tls_garbage(port):
    """A handshake that fails: not a ClientHello."""
    s = connect(local(port))
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 4)
        recv_until(s, lambda d: False, partial=True)
    finally:
        s.close()


N_ECHO = 5
PAYLOAD = b"m" * 1000


def traffic(w):
    echo, secure = w.ports()["echo"]
    for _ in range(N_ECHO):
        echo_once(echo, PAYLOAD)
    reset_one(echo)
    tls_once(secure)
    tls_garbage(secure)


def traffic_want(restarts=0, reloads_ok=0, reloads_failed=0, gen=1):
    """What traffic() leaves in the scrape: N_ECHO echoes of PAYLOAD and
    a connection reset after one byte on "echo"; a TLS echo of 4 bytes
    and a failed handshake on "secure"."""
    want = {
        ("weftd_workers", ()): 2,
        ("weftd_generation", ()): gen,
        ("weftd_worker_restarts_total", ()): restarts,
        ("weftd_reloads_total", (("result", "ok"),)): reloads_ok,
        ("weftd_reloads_total", (("result", "failed"),)): reloads_failed,
        ("weftd_connections_accepted_total", L("echo")): N_ECHO + 1,
        ("weftd_connections_active", L("echo")): 0,
        ("weftd_connections_accepted_total", L("secure")): 2,
        ("weftd_connections_active", L("secure")): 0,
        ("weftd_tls_handshakes_total", L("secure", result="ok")): 1,
        ("weftd_tls_handshakes_total", L("secure", result="failed")): 1,
        ("weftd_tls_handshakes_total", L("secure", result="timeout")): 0,
        ("weftd_tls_handshakes_total", L("secure", result="resumed")): 0,
        ("weftd_tls_handshakes_total", L("echo", result="ok")): 0,
        ("weftd_bytes_received_total", L("echo")): N_ECHO * len(PAYLOAD) + 1,
        ("weftd_bytes_sent_total", L("echo")): N_ECHO * len(PAYLOAD) + 1,
        ("weftd_bytes_received_total", L("secure")): 4,
        ("weftd_bytes_sent_total", L("secure")): 4,
        ("weftd_proxy_protocol_errors_total", L("echo")): 0,
        ("weftd_access_log_dropped_total", L("echo")): 0,
    }
    for reason in ("eof", "reset", "timeout", "abort", "limit", "shutdown",
                   "error"):
        want[("weftd_connections_closed_total", L("echo", reason=reason))] \
            = {"eof": N_ECHO, "reset": 1}.get(reason, 0)
        want[("weftd_connections_closed_total",
              L("secure", reason=reason))] = {"eof": 1,
                                              "error": 1}.get(reason, 0)
    return want


FAMILIES = {
    "weftd_connections_accepted_total": [{}],
    "weftd_connections_active": [{}],
    "weftd_connections_closed_total": [
        {"reason": r} for r in ("eof", "reset", "timeout", "abort", "limit",
                                "shutdown", "error")],
    "weftd_bytes_received_total": [{}],
    "weftd_bytes_sent_total": [{}],
    "weftd_tls_handshakes_total": [
        {"result": r} for r in ("ok", "failed", "timeout", "resumed")],
    "weftd_proxy_protocol_errors_total": [{}],
    "weftd_access_log_dropped_total": [{}],
}


@test
def scrape_after_known_traffic():
    """Echo connections, one reset, a TLS handshake and a failed one: the
    scrape shows exactly them, summed over both workers; every listener
    has every series of the issue's list (the unnamed metrics listener
    labelled by its address), nothing else is named weftd_*."""
    w = start()
    try:
        traffic(w)
        got = scrape_until(w, traffic_want())
        for name in ("echo", "secure", "127.0.0.1:0"):
            for fam, variants in FAMILIES.items():
                for extra in variants:
                    assert (fam, L(name, **extra)) in got, (fam, name, extra)
        names = {k[0] for k in got}
        assert names == set(FAMILIES) | {
            "weftd_workers", "weftd_generation", "weftd_worker_restarts_total",
            "weftd_reloads_total"}, names
        assert len(got) == 4 + 1 + 3 * sum(len(v) for v in FAMILIES.values())
        # The scrapes count as connections of the metrics listener.
        assert got[("weftd_connections_accepted_total",
                    L("127.0.0.1:0"))] >= 1
    finally:
        w.stop()


@test
def other_paths_and_methods():
    """404 for another path, 405 (with Allow) for another method, HEAD
    gets the head only, a query string is ignored, and garbage is a
    400."""
    w = start()
    try:
        port = w.ports()["metrics"][0]
        st, head, body = http(port, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        assert st == 404 and body == b"", (st, body)
        st, head, body = http(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 0\r\n\r\n")
        assert st == 405 and "Allow: GET, HEAD" in head, head
        st, head, body = http(port, b"HEAD /metrics HTTP/1.1\r\n\r\n")
        assert st == 200 and body == b"", (st, body)
        assert int(re.search(r"Content-Length: (\d+)", head).group(1)) > 0
        st, head, body = http(port, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
        assert st == 200 and b"weftd_workers 2\n" in body, body
        st, head, body = http(port, b"hello there\r\n\r\n")
        assert st == 400, st
    finally:
        w.stop()


@test
def counters_survive_a_crash_and_reloads():
    """A worker killed with SIGKILL is counted as a restart and what it
    had counted stays in the totals; a good reload counts ok and moves
    the generation, a broken config counts failed."""
    w = start()
    try:
        traffic(w)
        scrape_until(w, traffic_want())
        os.kill(w.workers()[0], signal.SIGKILL)
        w.wait_log(r"restarting worker", timeout=10)
        w.wait_ready(3)
        scrape_until(w, traffic_want(restarts=1))
        _, line = w.hup()
        assert "complete" in line, line
        scrape_until(w, traffic_want(restarts=1, reloads_ok=1, gen=2))
        good = open(w.conf).read()
        with open(w.conf, "w") as f:
            f.write("workers = ;\n")
        _, line = w.hup()
        assert "failed" in line, line
        with open(w.conf, "w") as f:
            f.write(good)
        scrape_until(w, traffic_want(restarts=1, reloads_ok=1,
                                     reloads_failed=1, gen=2))
    finally:
        w.stop()


def status_json(w):
    res = subprocess.run(WEFTD_CMD + ["-s", "status", "--json", "-C", w.ctl],
                         capture_output=True, timeout=10 * SLOW)
    assert res.returncode == 0, res
    return json.loads(res.stdout.decode())


@test
def status_json_same_data():
    """`weftd -s status --json` is valid JSON with the same numbers as the
    scrape; --json with another command is refused."""
    w = start()
    try:
        traffic(w)
        got = scrape_until(w, traffic_want())
        end = time.time() + HANG_GUARD * SLOW
        while True:
            st = status_json(w)
            ls = {x["listener"]: x for x in st["listeners"]}
            if ls["echo"]["accepted"] == N_ECHO + 1:
                break
            assert time.time() < end, st
            time.sleep(0.05)
        assert st["generation"] == 1 and st["workers"] == 2, st
        assert st["reloads"] == {"ok": 0, "failed": 0}, st
        assert st["worker_restarts"] == 0, st
        assert list(ls) == ["echo", "secure", "127.0.0.1:0"], list(ls)
        sec = ls["secure"]
        assert (sec["accepted"], sec["tls_handshakes"], sec["tls_failed"],
                sec["active"]) == (2, 1, 1, 0), sec
        for key, prom in (("closed_reset", ("weftd_connections_closed_total",
                                            L("echo", reason="reset"))),
                          ("bytes_in", ("weftd_bytes_received_total",
                                        L("echo"))),
                          ("bytes_out", ("weftd_bytes_sent_total",
                                         L("echo")))):
            assert ls["echo"][key] == got[prom], (key, ls["echo"], got[prom])
        res = subprocess.run(WEFTD_CMD + ["-s", "reload", "--json", "-C",
                                          w.ctl], capture_output=True,
                             timeout=10 * SLOW)
        assert res.returncode == 2 and b"--json" in res.stderr, res
    finally:
        w.stop()


sys.exit(run(cleanup=kill_started))
