#!/usr/bin/env python3
"""Checks a weftd serving kv.so (one worker) from the outside.

usage: test_kv.py PORT python     a small RESP client of its own
       test_kv.py PORT redis-cli  the real redis-cli (must be installed)

The server must run with max_bulk = 65536, max_args = 64 and
max_request = 131072.  Timeouts are hang guards only.  Exits 0, or 1
with what went wrong.
"""
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"
GUARD = 30  # seconds: a hang guard, not a measurement
MAX_BULK, MAX_ARGS, MAX_REQUEST = 65536, 64, 131072


class Error(str):
    """An error reply ("-ERR ...") as its text."""


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=GUARD)
        self.file = self.sock.makefile("rb")

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def reply(self):
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("reply cut short: %r" % line)
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return Error(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            if len(data) != n + 2 or data[-2:] != b"\r\n":
                raise EOFError("bulk reply cut short")
            return data[:-2]
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise ValueError("not a RESP reply: %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def closed(self):
        return self.file.read(1) == b""


def expect(what, got, want):
    if got != want:
        sys.exit("%s: expected %r, got %r" % (what, want, got))


def expect_error(what, got, part):
    if not isinstance(got, Error) or part not in got:
        sys.exit("%s: expected an error with %r, got %r" % (what, part, got))


def basics(c):
    expect("PING", c.call("PING"), "PONG")
    expect("PING msg", c.call("ping", "hi"), b"hi")
    binary = b"a\r\nb\x00c$3\r\n"
    expect("ECHO binary-safe", c.call("ECHO", binary), binary)
    expect("GET missing", c.call("GET", "py:none"), None)
    expect("SET", c.call("SET", "py:a", "1"), "OK")
    expect("GET", c.call("GET", "py:a"), b"1")
    expect("SET NX on a key", c.call("SET", "py:a", "2", "NX"), None)
    expect("SET XX on a key", c.call("SET", "py:a", "3", "xx"), "OK")
    expect("SET XX on no key", c.call("SET", "py:b", "3", "XX"), None)
    expect("GET after XX", c.call("GET", "py:a"), b"3")
    expect("INCR", c.call("INCR", "py:a"), 4)
    expect("INCR new", c.call("INCR", "py:n"), 1)
    expect("SET", c.call("SET", "py:s", "abc"), "OK")
    expect_error("INCR text", c.call("INCR", "py:s"), "not an integer")
    c.call("SET", "py:max", str(2**63 - 1))
    expect_error("INCR overflow", c.call("INCR", "py:max"), "overflow")
    expect("EXISTS", c.call("EXISTS", "py:a", "py:s", "py:none", "py:a"), 3)
    expect("DEL", c.call("DEL", "py:a", "py:none", "py:s"), 2)
    expect("GET deleted", c.call("GET", "py:a"), None)
    expect("COMMAND", c.call("COMMAND"), [])
    expect("COMMAND DOCS", c.call("COMMAND", "DOCS"), [])
    expect_error("unknown", c.call("FLY", "away"), "unknown command 'FLY'")
    expect_error("arity", c.call("GET"), "wrong number of arguments")
    expect_error("arity", c.call("GET", "a", "b"), "wrong number")


def expiry(c):
    expect("SET EX", c.call("SET", "py:ex", "v", "EX", "1000"), "OK")
    expect("GET before expiry", c.call("GET", "py:ex"), b"v")
    expect("SET PX", c.call("SET", "py:px", "v", "PX", "100"), "OK")
    time.sleep(0.5)  # past its 100 ms, however slow the machine
    expect("GET after PX", c.call("GET", "py:px"), None)
    expect("EXISTS after PX", c.call("EXISTS", "py:px"), 0)
    expect("GET EX still", c.call("GET", "py:ex"), b"v")
    expect_error("EX 0", c.call("SET", "k", "v", "EX", "0"), "invalid expire")
    expect_error("EX text", c.call("SET", "k", "v", "EX", "x"),
                 "not an integer")
    expect_error("SET junk", c.call("SET", "k", "v", "NOPE"), "syntax error")


def inline(c):
    c.sock.sendall(b"SET py:in 5\r\nINCR py:in\r\n  GET   py:in \r\n\r\nPING\n")
    expect("inline SET", c.reply(), "OK")
    expect("inline INCR", c.reply(), 6)
    expect("inline GET", c.reply(), b"6")
    expect("inline PING", c.reply(), "PONG")


def pipeline(c):
    n = 2000
    out = []
    for i in range(n):
        out.append(b"*3\r\n$3\r\nSET\r\n$6\r\npy:p%02d\r\n$%d\r\n%d\r\n" %
                   (i % 100, len(str(i)), i))
        out.append(b"*2\r\n$3\r\nGET\r\n$6\r\npy:p%02d\r\n" % (i % 100))
    c.sock.sendall(b"".join(out))
    for i in range(n):
        expect("pipelined SET %d" % i, c.reply(), "OK")
        expect("pipelined GET %d" % i, c.reply(), str(i).encode())


def limits(c):
    big = b"v" * (MAX_BULK - 10)
    expect("SET near max_bulk", c.call("SET", "py:big", big), "OK")
    expect("GET near max_bulk", c.call("GET", "py:big"), big)
    expect_error("bulk over max_bulk",
                 c.call("SET", "py:big", b"w" * (MAX_BULK + 1)),
                 "over the limit of %d" % MAX_BULK)
    expect("still sane after it", c.call("PING"), "PONG")
    expect("value untouched", c.call("GET", "py:big"), big)
    expect_error("too many arguments",
                 c.call("DEL", *["k%d" % i for i in range(MAX_ARGS + 5)]),
                 "over the limit of %d" % MAX_ARGS)
    expect("still sane after it", c.call("PING"), "PONG")
    third = b"z" * (MAX_BULK - 1)
    expect_error("request over max_request",
                 c.call("DEL", third, third, third), "max_request")
    expect("still sane after it", c.call("ECHO", "ok"), b"ok")
    c.sock.sendall(b"X" * 70000 + b"\r\nPING\r\n")
    expect_error("inline over the line limit", c.reply(), "too big inline")
    expect("still sane after it", c.reply(), "PONG")


def protocol_error(port):
    c = Conn(port)
    c.sock.sendall(b"*1\r\n$x\r\n")
    expect_error("bad bulk length", c.reply(), "Protocol error")
    expect("closed after a protocol error", c.closed(), True)
    c = Conn(port)
    c.sock.sendall(b"*2\r\n$4\r\nECHO\r\n$2\r\nabXY")
    expect_error("missing CRLF", c.reply(), "Protocol error")
    expect("closed after a protocol error", c.closed(), True)


def with_python(port):
    c = Conn(port)
    basics(c)
    expiry(c)
    inline(c)
    pipeline(c)
    limits(c)
    # Another connection of the same worker sees the same table.
    expect("shared in the worker", Conn(port).call("GET", "py:n"), b"1")
    protocol_error(port)
    expect("QUIT", c.call("QUIT"), "OK")
    expect("closed after QUIT", c.closed(), True)
    print("the Python RESP client's checks passed")


def cli(port, *args, stdin=None):
    p = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port)] +
                       list(args), input=stdin, capture_output=True,
                       timeout=GUARD)
    if p.returncode != 0:
        sys.exit("redis-cli %s: exit %d: %s" %
                 (" ".join(args), p.returncode, p.stderr.decode()))
    return p.stdout.decode()


def with_redis_cli(port):
    expect("redis-cli PING", cli(port, "PING"), "PONG\n")
    expect("redis-cli SET", cli(port, "SET", "cli:k", "hello world"), "OK\n")
    expect("redis-cli GET", cli(port, "GET", "cli:k"), "hello world\n")
    expect("redis-cli INCR", cli(port, "INCR", "cli:n"), "1\n")
    expect("redis-cli INCR", cli(port, "INCR", "cli:n"), "2\n")
    expect("redis-cli SET EX", cli(port, "SET", "cli:e", "v", "EX", "100"),
           "OK\n")
    expect("redis-cli EXISTS", cli(port, "EXISTS", "cli:k", "cli:e", "no"),
           "2\n")
    expect("redis-cli DEL", cli(port, "DEL", "cli:k"), "1\n")
    expect("redis-cli GET nil", cli(port, "--no-raw", "GET", "cli:k"),
           "(nil)\n")
    expect("redis-cli ECHO", cli(port, "ECHO", "x y"), "x y\n")
    out = cli(port, "INCR", "cli:k2x", stdin=None)
    expect("redis-cli INCR new", out, "1\n")
    err = cli(port, "GET")
    if "wrong number of arguments" not in err:
        sys.exit("redis-cli GET without a key: %r" % err)
    # Commands on stdin, one connection, as `redis-cli < file` runs them.
    out = cli(port, stdin=b"SET cli:p 7\nINCR cli:p\nGET cli:p\nPING\n")
    expect("redis-cli from stdin", out, "OK\n8\n8\nPONG\n")
    # --pipe: the raw protocol, the way redis-cli mass-inserts.
    cmds = b"".join(b"*3\r\n$3\r\nSET\r\n$7\r\ncli:m%02d\r\n$1\r\nx\r\n" % i
                    for i in range(50))
    out = cli(port, "--pipe", stdin=cmds)
    if "errors: 0, replies: 50" not in out:
        sys.exit("redis-cli --pipe: %r" % out)
    expect("after --pipe", cli(port, "EXISTS", "cli:m00", "cli:m49"), "2\n")
    print("redis-cli's checks passed")


def main():
    port, how = int(sys.argv[1]), sys.argv[2]
    if how == "python":
        with_python(port)
    elif how == "redis-cli":
        with_redis_cli(port)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
