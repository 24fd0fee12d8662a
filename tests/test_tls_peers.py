#!/usr/bin/env python3
"""libweft's TLS against other implementations on loopback: curl,
openssl s_client and Python's ssl module as clients of a weft server
(tests/tls_peer serve), and weft (tests/tls_peer connect) as a client of
openssl s_server.  Certificates come from tests/tls/mkcerts.sh at test
time.  Prints TAP.

Environment (set by the Makefile): SRCDIR, BUILDDIR.  curl, openssl and
python3 are installed by build.sh; a missing one fails, it does not skip."""
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import run, test  # noqa: E402

SRCDIR = os.environ.get("SRCDIR", ".")
BUILDDIR = os.environ.get("BUILDDIR", ".")
# Under make check-valgrind every weft process runs under memcheck.
PEER = os.environ.get("WEFT_TEST_WRAPPER", "").split() + [
    os.path.join(BUILDDIR, "tests", "tls_peer")]
TMO = 10 * int(os.environ.get("WEFT_TEST_TIMEOUT_MULT", "1"))
ECHO_ALPN = "weft-echo,http/1.1"

certs = tempfile.mkdtemp(prefix="weft-tls-peers.")
subprocess.run(["sh", os.path.join(SRCDIR, "tests", "tls", "mkcerts.sh"),
                certs], check=True)
started = []


def cert(name):
    return os.path.join(certs, name)


def need(tool):
    path = shutil.which(tool)
    assert path is not None, "%s is not installed (build.sh installs it)" % tool
    return path


class Lines:
    """A child's stdout read line by line with a deadline."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""
        self.seen = []

    def wait(self, regex, timeout=TMO):
        pat = re.compile(regex)
        end = time.monotonic() + timeout
        while True:
            for line in self.seen:
                m = pat.search(line)
                if m:
                    self.seen.remove(line)
                    return m
            left = end - time.monotonic()
            assert left > 0, "no line matching %r in %r" % (regex, self.seen)
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            data = os.read(self.proc.stdout.fileno(), 4096)
            assert data, "EOF before %r; saw %r" % (regex, self.seen)
            self.buf += data
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.seen.append(line.decode(errors="replace"))


def spawn(argv, **kw):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, **kw)
    started.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait(TMO)
    started.remove(p)


class Server:
    """tests/tls_peer serve: a weft TLS server, echo or one HTTP answer."""

    def __init__(self, *args):
        self.proc = spawn(PEER + ["serve", cert("server.crt"),
                           cert("server.key")] + list(args))
        self.out = Lines(self.proc)
        self.port = int(self.out.wait(r"^port (\d+)$").group(1))

    def done(self):
        """What the handler reported when its connection ended."""
        m = self.out.wait(r"^done version=(\S+) alpn=(\S+) "
                          r"eof_clean=(\d) read=(-?\d+)$")
        return m.groups()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stop(self.proc)


def client_ctx(**kw):
    ctx = ssl.create_default_context(cafile=cert("ca.crt"))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def tls_echo(port, ctx, data=b"hello from python\n"):
    """Connect, echo data, unwrap; returns the TLS version used."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=TMO)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(4096)
        assert chunk, "EOF after %r" % got
        got += chunk
    assert got == data, got
    version = s.version()
    # unwrap() sends our close_notify and waits for the server's: it
    # returns the plain socket only if weft answered with close_notify.
    plain = s.unwrap()
    assert plain.recv(16) == b""  # then weft closed the TCP connection
    plain.close()
    return version


# ---- curl -----------------------------------------------------------------

@test
def curl_https_verified():
    """curl --cacert: the body arrives and curl says the certificate
    verified; with the wrong CA curl refuses (exit 60)."""
    curl = need("curl")
    with Server("--http") as srv:
        url = "https://localhost:%d/" % srv.port
        p = subprocess.run([curl, "-sS", "-v", "--noproxy", "*",
                            "--max-time", str(TMO),
                            "--cacert", cert("ca.crt"), url],
                           capture_output=True, timeout=TMO * 2)
        err = p.stderr.decode(errors="replace")
        assert p.returncode == 0, err
        assert p.stdout == b"hello over tls\n", p.stdout
        assert "SSL certificate verify ok" in err, err
        assert "subject: CN=localhost" in err, err
        srv.done()
        p = subprocess.run([curl, "-sS", "--noproxy", "*",
                            "--max-time", str(TMO),
                            "--cacert", cert("ca2.crt"), url],
                           capture_output=True, timeout=TMO * 2)
        assert p.returncode == 60, (p.returncode, p.stderr)
        assert p.stdout == b""


# ---- openssl s_client ---------------------------------------------------

def s_client(port, *extra):
    return spawn([need("openssl"), "s_client", "-connect",
                  "127.0.0.1:%d" % port, "-CAfile", cert("ca.crt"),
                  "-servername", "localhost", "-verify_hostname", "localhost",
                  "-verify_return_error"] + list(extra),
                 stdin=subprocess.PIPE)


@test
def s_client_verify_alpn_echo():
    """s_client verifies (return code 0), negotiates our ALPN, gets its
    line echoed; its EOF on stdin sends close_notify, which the weft
    handler reads as a clean EOF."""
    with Server("--alpn", ECHO_ALPN) as srv:
        c = s_client(srv.port, "-alpn", "weft-echo")
        out = Lines(c)
        out.wait(r"^ALPN protocol: weft-echo$")
        out.wait(r"^Verify return code: 0 \(ok\)$")
        c.stdin.write(b"hello s_client\n")
        c.stdin.flush()
        out.wait(r"^hello s_client$")
        c.stdin.close()
        assert c.wait(TMO) == 0
        stop(c)
        version, alpn, clean, rc = srv.done()
        assert alpn == "weft-echo", alpn
        assert clean == "1" and rc == "0", (clean, rc)


@test
def s_client_alpn_mismatch_refused():
    """A client offering only protocols the server does not speak gets a
    fatal no_application_protocol alert."""
    with Server("--alpn", ECHO_ALPN) as srv:
        c = s_client(srv.port, "-alpn", "h2")
        c.stdin.close()
        out = Lines(c)
        out.wait(r"no application protocol")
        assert c.wait(TMO) != 0
        stop(c)
        # The server lives on: the next client is served.
        c = s_client(srv.port, "-alpn", "http/1.1")
        out = Lines(c)
        out.wait(r"^ALPN protocol: http/1.1$")
        c.stdin.close()
        assert c.wait(TMO) == 0
        stop(c)


@test
def s_client_renegotiation_refused():
    """TLS 1.2 renegotiation, asked for by s_client's R command after an
    echo: weft (renegotiation off) answers the new ClientHello with a
    no_renegotiation alert and no ServerHello, so no second handshake
    happens.  s_client takes the refusal as fatal (handshake_failure
    alert, exit 1), so the next line is never echoed and the weft
    handler's read ends with WEFT_ETLS (-1008) without close_notify.
    The server lives on: the next client is served."""
    with Server() as srv:
        c = s_client(srv.port, "-tls1_2", "-msg")
        out = Lines(c)
        out.wait(r"^Verification: OK$")
        c.stdin.write(b"before\n")
        c.stdin.flush()
        out.wait(r"^before$")
        c.stdin.write(b"R\n")
        c.stdin.flush()
        out.wait(r"^RENEGOTIATING$")
        out.wait(r"^<<< TLS 1\.2, Alert \[length 0002\], warning "
                 r"no_renegotiation$")
        try:
            c.stdin.write(b"after\n")
            c.stdin.flush()
        except BrokenPipeError:
            pass  # s_client may be gone already
        assert c.wait(TMO) == 1
        out.wait(r"^>>> TLS 1\.2, Alert \[length 0002\], fatal "
                 r"handshake_failure$")
        out.wait(r"no renegotiation")
        rest = out.seen + c.stdout.read().decode(errors="replace").split("\n")
        assert "after" not in rest, rest
        # Two ClientHellos, and a ServerHello for the first one only.
        assert len([x for x in rest if x.endswith("], ClientHello")]) == 2
        assert len([x for x in rest if x.endswith("], ServerHello")]) == 1
        stop(c)
        version, alpn, clean, rc = srv.done()
        assert version == "TLSv1.2", version
        assert clean == "0" and rc == "-1008", (clean, rc)
        # Still serving.
        assert tls_echo(srv.port, client_ctx()) == "TLSv1.3"
        assert srv.done()[2:] == ("1", "0")


# ---- Python's ssl -----------------------------------------------------------

@test
def python_echo_clean_unwrap():
    """wrap_socket with the CA: TLS 1.3 echo, then unwrap() succeeds (weft
    answered our close_notify) and weft saw the EOF as clean."""
    with Server("--alpn", ECHO_ALPN) as srv:
        assert tls_echo(srv.port, client_ctx()) == "TLSv1.3"
        version, alpn, clean, rc = srv.done()
        assert version == "TLSv1.3", version
        assert alpn == "-", alpn  # Python offered no ALPN
        assert clean == "1" and rc == "0", (clean, rc)


@test
def python_sees_server_close_notify():
    """The weft handler returns after its response: Python, which would
    raise on a ragged EOF (suppress_ragged_eofs=False), reads a clean
    end, and its unwrap() then completes: weft half-closed after its
    close_notify and still takes ours."""
    with Server("--http") as srv:
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=TMO)
        s = client_ctx().wrap_socket(raw, server_hostname="localhost",
                                     suppress_ragged_eofs=False)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        got = b""
        while True:
            chunk = s.recv(4096)  # SSLEOFError here if close_notify was missing
            if not chunk:
                break
            got += chunk
        assert got.startswith(b"HTTP/1.0 200 OK\r\n"), got
        assert got.endswith(b"\r\n\r\nhello over tls\n"), got
        plain = s.unwrap()
        assert plain.recv(16) == b""
        plain.close()
        srv.done()


@test
def python_plaintext_client_clean_error():
    """A plaintext client on the TLS port gets at most an alert record,
    then the end of the connection, not a hang; the server goes on."""
    with Server() as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=TMO)
        s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        s.close()
        # 0x15: a TLS alert record; never an HTTP answer or an echo.
        assert got == b"" or got[0] == 0x15, got
        assert b"GET" not in got
        assert tls_echo(srv.port, client_ctx()) == "TLSv1.3"


@test
def python_tls12_forced():
    """A client that speaks only TLS 1.2 is served over TLS 1.2."""
    with Server() as srv:
        ctx = client_ctx(minimum_version=ssl.TLSVersion.TLSv1_2,
                         maximum_version=ssl.TLSVersion.TLSv1_2)
        assert tls_echo(srv.port, ctx) == "TLSv1.2"
        version, alpn, clean, rc = srv.done()
        assert version == "TLSv1.2", version
        assert clean == "1", clean


@test
def python_tls11_refused():
    """A client that speaks only TLS 1.1 is refused by the server with a
    protocol_version alert.  The client lowers its own security level so
    that it really sends a TLS 1.1 ClientHello."""
    with Server() as srv:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = client_ctx(minimum_version=ssl.TLSVersion.TLSv1_1,
                             maximum_version=ssl.TLSVersion.TLSv1_1)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        raw = socket.create_connection(("127.0.0.1", srv.port), timeout=TMO)
        try:
            ctx.wrap_socket(raw, server_hostname="localhost")
        except ssl.SSLError as e:
            assert "PROTOCOL_VERSION" in e.reason, e
        else:
            raise AssertionError("TLS 1.1 handshake succeeded")
        finally:
            raw.close()
        assert tls_echo(srv.port, client_ctx()) == "TLSv1.3"


# ---- weft as the client of openssl s_server -----------------------------------

def s_server(crt, key, *extra):
    """openssl s_server for one connection, reversing each line (-rev);
    returns the process, its output and its port."""
    p = spawn([need("openssl"), "s_server", "-accept", "0", "-naccept", "1",
               "-rev", "-cert", cert(crt), "-key", cert(key)] + list(extra),
              stdin=subprocess.DEVNULL)
    out = Lines(p)
    port = int(out.wait(r"^ACCEPT .*:(\d+)$").group(1))
    return p, out, port


def weft_connect(port, ca, name, line):
    return subprocess.run(PEER + ["connect", "127.0.0.1", str(port), cert(ca),
                           name, line], capture_output=True, text=True,
                          timeout=TMO * 2)


@test
def weft_client_of_s_server():
    """weft verifies s_server's certificate for localhost and gets its
    line back, reversed by s_server."""
    p, out, port = s_server("server.crt", "server.key")
    try:
        r = weft_connect(port, "ca.crt", "localhost", "hello peer")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert r.stdout == "got: reep olleh\n", r.stdout
        out.wait(r"^CONNECTION ESTABLISHED$")
    finally:
        stop(p)


@test
def weft_client_of_s_server_tls12_rsa():
    """The same against an RSA certificate and a server that speaks only
    TLS 1.2."""
    p, out, port = s_server("server-rsa.crt", "server-rsa.key", "-tls1_2")
    try:
        r = weft_connect(port, "ca.crt", "localhost", "tls one two")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert r.stdout == "got: owt eno slt\n", r.stdout
        out.wait(r"^Protocol version: TLSv1\.2$")
    finally:
        stop(p)


@test
def weft_client_wrong_name_fails():
    """s_server presents a certificate for other.example: weft, asking for
    localhost, fails the handshake and says why."""
    p, out, port = s_server("other.crt", "other.key")
    try:
        r = weft_connect(port, "ca.crt", "localhost", "hello peer")
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert r.stdout.startswith("error: "), r.stdout
        assert "hostname mismatch" in r.stdout, r.stdout
    finally:
        stop(p)


@test
def weft_client_unknown_ca_fails():
    """Trusting another CA only, weft refuses s_server's certificate."""
    p, out, port = s_server("server.crt", "server.key")
    try:
        r = weft_connect(port, "ca2.crt", "localhost", "hello peer")
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "certificate verify failed" in r.stdout, r.stdout
    finally:
        stop(p)


def cleanup():
    for p in list(started):
        stop(p)


if __name__ == "__main__":
    sys.exit(run(cleanup))
