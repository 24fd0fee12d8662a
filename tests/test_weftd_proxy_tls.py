#!/usr/bin/env python3
"""weftd's proxy plugin with TLS, end to end: `weftd -t` refuses a bad
upstream_ca with the setting's file:line; a TLS listener in front of the
proxy terminates TLS for a plain upstream (weftd's own echo listener);
the proxy originates TLS to a libweft TLS echo server (tests/tls_peer
serve), verified against the test CA, and a client whose upstream
handshake fails (an unknown CA) is closed with a warning giving
OpenSSL's reason.  And a plugin of ABI 1.2 reads what a TLS listener's
handshake negotiated.  Prints TAP.

Certificates are made at test time (tests/tls/mkcerts.sh): nothing
committed can expire.  Environment as for test_weftd.py."""
import os
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import run, test  # noqa: E402
from weftdlib import (PLUGIN_DIR, SLOW, TEST_PLUGIN_DIR,  # noqa: E402
                      WEFTD_CMD, Weftd, connect, free_port, kill_started,
                      local, recv_until)

SRCDIR = os.environ.get("SRCDIR", ".")
BUILDDIR = os.environ.get("BUILDDIR", ".")
PEER = os.environ.get("WEFT_TEST_WRAPPER", "").split() + [
    os.path.join(BUILDDIR, "tests", "tls_peer")]
CERTS = {}
peers = []


def cert(name):
    """A file of tests/tls/mkcerts.sh's set, made once."""
    if "dir" not in CERTS:
        d = tempfile.mkdtemp(prefix="weftd-proxy-tls-")
        os.chmod(d, 0o755)
        subprocess.run(["sh", os.path.join(SRCDIR, "tests", "tls",
                                           "mkcerts.sh"), d], check=True)
        CERTS["dir"] = d
    return os.path.join(CERTS["dir"], name)


def conf(upstream, settings="", front_tls=False, back_port=None):
    """The proxy on a listener "front" (TLS profile "site" if front_tls)
    to upstream, and with back_port an echo listener "back" on it."""
    back = ('  { name = "back"; tcp = "127.0.0.1:%d"; plugin = "echo"; }\n'
            % back_port) if back_port else ""
    return """
workers = 1;
log_level = "debug";
shutdown_timeout = 5.0;
worker_timeout = 1.0;
plugin_dir = "@PLUGINS@";
plugins = {
  echo = { path = "echo.so"; };
  proxy = { path = "proxy.so"; settings = {
    upstream = "%s";
%s  }; };
};
tls = { site = { cert = "%s"; key = "%s"; }; };
listen = (
  { name = "front"; tcp = "127.0.0.1:0"; plugin = "proxy"; %s}%s
%s);
""" % (upstream, settings, cert("server.crt"), cert("server.key"),
       'tls = "site"; ' if front_tls else "", "," if back else "", back)


def check_t(text):
    """weftd -t on text: (exit status, stderr, the config's path)."""
    d = tempfile.mkdtemp(prefix="weftd-t-")
    path = os.path.join(d, "t.conf")
    with open(path, "w") as f:
        f.write(text.replace("@PLUGINS@", PLUGIN_DIR))
    r = subprocess.run(WEFTD_CMD + ["-t", "-c", path], capture_output=True,
                       timeout=30 * SLOW)
    return r.returncode, r.stderr.decode(), path


def line_of(text, needle):
    return [i for i, x in enumerate(text.split("\n"), 1) if needle in x][0]


def tls_peer():
    """tests/tls_peer serve on server.crt: a libweft TLS echo server;
    returns its port."""
    p = subprocess.Popen(PEER + ["serve", cert("server.crt"),
                                 cert("server.key")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peers.append(p)
    line = p.stdout.readline().decode()
    assert line.startswith("port "), line
    return int(line.split()[1])


def front(w):
    return w.ports()["proxy"][0]


def start(text):
    w = Weftd(text)
    w.wait_ready(1)
    return w


# ---- weftd -t ----------------------------------------------------------


@test
def check_bad_upstream_ca():
    """An upstream_ca that is not there fails weftd -t with the
    setting's file:line and OpenSSL's reason; the CA itself passes."""
    settings = ('    upstream_tls = true;\n'
                '    upstream_ca = "/nonexistent/weft-ca.crt";\n')
    text = conf("127.0.0.1:9", settings)
    rc, err, path = check_t(text)
    assert rc == 1, err
    want = ("%s:%d: plugin \"proxy\": setting 'upstream_ca': "
            "/nonexistent/weft-ca.crt: no such file"
            % (path, line_of(text, "upstream_ca")))
    assert want in err, (want, err)
    assert "configuration and plugins OK" not in err, err
    rc, err, path = check_t(text.replace("/nonexistent/weft-ca.crt",
                                         cert("ca.crt")))
    assert rc == 0 and "configuration and plugins OK" in err, err


# ---- Termination --------------------------------------------------------


@test
def termination_to_plain_upstream():
    """Python's ssl client on a TLS listener whose handler is the proxy,
    to weftd's plain echo listener: the echo comes back, 1 MiB too; the
    client's close_notify reaches the echo as EOF, whose close comes back
    as weft's close_notify (unwrap() completes)."""
    back = free_port()
    w = start(conf("127.0.0.1:%d" % back, front_tls=True, back_port=back))
    try:
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        raw = connect(local(front(w)))
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        assert s.version() in ("TLSv1.3", "TLSv1.2"), s.version()
        s.sendall(b"through the proxy\n")
        got = recv_until(s, lambda d: len(d) >= 18)
        assert got == b"through the proxy\n", got
        big = os.urandom(1 << 20)
        s.sendall(big)
        got = recv_until(s, lambda d: len(d) >= len(big), limit=2 << 20)
        assert got == big
        plain = s.unwrap()
        assert plain.recv(16) == b""
        plain.close()
    finally:
        w.stop()


# ---- Origination --------------------------------------------------------


@test
def origination_verified():
    """A plain client, the proxy with upstream_tls to a libweft TLS echo
    server, verified against the test CA for localhost: the echo comes
    back."""
    port = tls_peer()
    settings = ('    upstream_tls = true;\n    upstream_ca = "%s";\n'
                % cert("ca.crt"))
    w = start(conf("localhost:%d" % port, settings))
    try:
        s = connect(local(front(w)))
        s.sendall(b"to a tls upstream\n")
        got = recv_until(s, lambda d: len(d) >= 18)
        assert got == b"to a tls upstream\n", got
        s.close()
        assert "TLS handshake failed" not in w.text(), w.text()
    finally:
        w.stop()


@test
def origination_unknown_ca():
    """The upstream's certificate is from a CA the proxy does not trust:
    the client is closed without a byte, and weftd's log says why."""
    port = tls_peer()
    settings = ('    upstream_tls = true;\n    upstream_ca = "%s";\n'
                % cert("ca2.crt"))
    w = start(conf("localhost:%d" % port, settings))
    try:
        s = connect(local(front(w)))
        try:
            s.sendall(b"x\n")
            got = recv_until(s, lambda d: False)
        except ConnectionResetError:
            got = b""
        s.close()
        assert got == b"", got
        w.wait_log(r"proxy: upstream localhost:%d: TLS handshake failed: "
                   r"certificate verify failed: unable to get local issuer "
                   r"certificate" % port)
    finally:
        w.stop()


# ---- Plugin ABI 1.2 ---------------------------------------------------------


@test
def plugin_reads_tls_info():
    """A plugin built for ABI 1.2 (tests/plugins/tls-info.c) on a TLS
    listener reads, on its handler's first line, what the handshake
    negotiated: version, SNI, ALPN and the client's certificate."""
    text = """
workers = 1;
log_level = "debug";
plugin_dir = "%s";
plugins = { tls-info = { path = "tls-info.so"; }; };
tls = { site = { cert = "%s"; key = "%s"; alpn = [ "h2", "http/1.1" ];
                 client_ca = "%s"; verify_client = "optional"; }; };
listen = ( { tcp = "127.0.0.1:0"; plugin = "tls-info"; tls = "site"; } );
""" % (TEST_PLUGIN_DIR, cert("server.crt"), cert("server.key"),
       cert("ca.crt"))
    w = start(text)
    try:
        port = w.ports()["tls-info"][0]
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        ctx.load_cert_chain(cert("client.crt"), cert("client.key"))
        ctx.set_alpn_protocols(["h2"])
        s = ctx.wrap_socket(connect(local(port)), server_hostname="localhost")
        line = recv_until(s, lambda d: d.endswith(b"\n")).decode()
        s.close()
        with open(cert("client.crt")) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        want = ("version=TLSv1.3 sni=localhost alpn=h2 cert=1 der=%d "
                "subject=CN=weft test client error=-\n" % len(der))
        assert line == want, (line, want)
        # No client certificate, no ALPN, no SNI (an address).
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        ctx.check_hostname = False
        s = ctx.wrap_socket(connect(local(port)))
        line = recv_until(s, lambda d: d.endswith(b"\n")).decode()
        s.close()
        assert line == ("version=TLSv1.3 sni=- alpn=- cert=0 der=-2 "
                        "subject=- error=-\n"), line
    finally:
        w.stop()


def stop_all():
    for p in peers:
        if p.poll() is None:
            p.kill()
        p.wait()
    kill_started()


if __name__ == "__main__":
    sys.exit(run(stop_all))
