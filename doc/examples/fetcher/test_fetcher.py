#!/usr/bin/env python3
"""Checks a weftd serving fetcher.so (one worker) from the outside.

usage: test_fetcher.py PORT main   against an instance with
                                   idle_timeout = 20, fetch_timeout = 1,
                                   connect_timeout = 0.5,
                                   max_response = 1048576
       test_fetcher.py PORT idle   against one with idle_timeout = 1,
                                   fetch_timeout = 30, connect_timeout = 30

The upstreams are local: a Python HTTP server, a port that accepts but
never answers, a refused port and, for the connect timeout, a listener
whose accept queue is full (Linux then drops new SYNs).  Timeouts are hang
guards only.  Exits 0, or 1 with what went wrong.
"""
import http.server
import socket
import sys
import threading

HOST = "127.0.0.1"
GUARD = 30  # seconds: a hang guard, not a measurement
BIG = 300000


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/hello":
            body = b"hello from upstream\n"
        elif self.path == "/big":
            body = bytes(range(256)) * (BIG // 256)
        elif self.path == "/huge":
            body = b"h" * (2 * 1024 * 1024)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Host-Seen", self.headers.get("Host", ""))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def upstream():
    srv = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def silent():
    """A port whose connections are accepted by the kernel, never answered."""
    s = socket.socket()
    s.bind((HOST, 0))
    s.listen(16)
    return s, s.getsockname()[1]


def refused():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def full_backlog():
    """A listener whose accept queue is full: connects to it hang."""
    s = socket.socket()
    s.bind((HOST, 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex((HOST, port))
        fillers.append(c)
    return (s, fillers), port


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=GUARD)
        self.file = self.sock.makefile("rb")

    def fetch(self, line):
        self.sock.sendall(line.encode() + b"\n")
        return self.answer()

    def answer(self):
        head = self.file.readline()
        if head.startswith(b"OK "):
            n = int(head[3:])
            body = self.file.read(n)
            if len(body) != n:
                sys.exit("OK %d but only %d bytes" % (n, len(body)))
            return "OK", body
        if head.startswith(b"ERR ") and head.endswith(b"\n"):
            return "ERR", head[4:-1].decode()
        sys.exit("not an answer: %r" % head[:200])


def expect_ok(what, got, start, end):
    kind, body = got
    if kind != "OK" or not body.startswith(start) or not body.endswith(end):
        sys.exit("%s: expected a response from %r to %r, got %r" %
                 (what, start, end[-40:], (kind, body[:200])))
    return body


def expect_err(what, got, *parts):
    kind, text = got
    if kind != "ERR" or any(p not in text for p in parts):
        sys.exit("%s: expected ERR with %r, got %r" % (what, parts,
                                                      (kind, text)))


def main_checks(port):
    up = upstream()
    _keep1, quiet = silent()
    _keep2, stuck = full_backlog()
    c = Conn(port)
    body = expect_ok("hello", c.fetch("%s:%d /hello" % (HOST, up)),
                     b"HTTP/1.0 200", b"\r\n\r\nhello from upstream\n")
    if b"X-Host-Seen: %s:%d" % (HOST.encode(), up) not in body:
        sys.exit("the Host header did not reach the upstream: %r" % body)
    expect_ok("big", c.fetch("%s:%d /big" % (HOST, up)), b"HTTP/1.0 200",
              bytes(range(256)) * (BIG // 256))
    expect_ok("404", c.fetch("%s:%d /nope" % (HOST, up)), b"HTTP/1.0 404",
              b"")
    expect_err("over max_response", c.fetch("%s:%d /huge" % (HOST, up)),
               "over max_response")
    expect_err("silent upstream", c.fetch("%s:%d /" % (HOST, quiet)),
               "timeout: no complete response", "fetch_timeout (1000 ms)")
    expect_err("refused", c.fetch("%s:%d /" % (HOST, refused())),
               "cannot connect to %s:" % HOST, "refused")
    expect_err("connect timeout", c.fetch("%s:%d /" % (HOST, stuck)),
               "timeout: no connection", "connect_timeout (500 ms)")
    expect_err("bad line", c.fetch("no-port-here /x"), "bad request")
    expect_err("bad path", c.fetch("%s:%d x" % (HOST, up)), "bad path")
    # After all that the connection still serves.
    expect_ok("hello again", c.fetch("%s:%d /hello" % (HOST, up)),
              b"HTTP/1.0 200", b"hello from upstream\n")
    c.sock.sendall(b"quit\n")
    if c.file.read(1) != b"":
        sys.exit("not closed after quit")
    print("fetches, errors and the fetch and connect timeouts as expected")


def idle_checks(port):
    _keep, quiet = silent()
    # The fetch's own 30 s cannot outlast the 1 s the request has.
    c = Conn(port)
    expect_err("silent upstream", c.fetch("%s:%d /" % (HOST, quiet)),
               "timeout: no complete response", "idle_timeout (1000 ms)")
    # A client that sends nothing is told, then closed.
    c = Conn(port)
    expect_err("idle client", c.answer(), "idle for 1000 ms")
    if c.file.read(1) != b"":
        sys.exit("not closed after the idle timeout")
    print("idle_timeout bounds the nested fetch and an idle client")


def main():
    port, what = int(sys.argv[1]), sys.argv[2]
    if what == "main":
        main_checks(port)
    elif what == "idle":
        idle_checks(port)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
