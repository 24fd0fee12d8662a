#!/usr/bin/env python3
"""weftd's `proxy_protocol = true` listeners, end to end, with the test
plugin peer-info (tests/plugins/peer-info.c), which first writes a line
of what the connection reports and then echoes.  A plain client sends v1
and v2 headers (IPv4, IPv6, UNIX, LOCAL, TLVs) with data in the same
segment; malformed, truncated and late headers are closed without the
handler and logged, the log rate-limited; on a TLS listener the header
comes before the ClientHello, in the same segment; and HAProxy itself
(send-proxy, send-proxy-v2 with TLVs, over TCP and UNIX, behind a TLS
frontend) stands in front of weftd.  Prints TAP.

Certificates are made at test time (tests/tls/mkcerts.sh).  Environment
as for test_weftd.py; haproxy (Debian's package, which build.sh
installs) must be on PATH or at /usr/sbin/haproxy."""
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import Skip, run, test  # noqa: E402
from weftdlib import (SLOW, TEST_PLUGIN_DIR, WEFTD_CMD,  # noqa: E402
                      Weftd, connect, free_port, kill_started, local,
                      recv_until)

SRCDIR = os.environ.get("SRCDIR", ".")
CERTS = {}
haproxies = []

CONF = """
workers = 1;
log_level = "info";
shutdown_timeout = 5.0;
plugin_dir = "@TPLUGINS@";
plugins = {
  pp = { path = "peer-info.so"; };
  pptls = { path = "peer-info.so"; };
  plain = { path = "peer-info.so"; };
};
tls = { site = { cert = "%s"; key = "%s"; }; };
listen = (
  { tcp = "127.0.0.1:0"; plugin = "pp"; proxy_protocol = true;
    proxy_protocol_timeout = 1.0; },
  { unix = "@DIR@/pp.sock"; plugin = "pp"; proxy_protocol = true; },
  { tcp = "127.0.0.1:0"; plugin = "pptls"; proxy_protocol = true;
    tls = "site"; },
  { tcp = "127.0.0.1:0"; plugin = "plain"; }
);
"""

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def cert(name):
    """A file of tests/tls/mkcerts.sh's set, made once."""
    if "dir" not in CERTS:
        d = tempfile.mkdtemp(prefix="weftd-pp-certs-")
        os.chmod(d, 0o755)
        subprocess.run(["sh", os.path.join(SRCDIR, "tests", "tls",
                                           "mkcerts.sh"), d], check=True)
        CERTS["dir"] = d
    return os.path.join(CERTS["dir"], name)


def start():
    w = Weftd(CONF % (cert("server.crt"), cert("server.key")))
    w.wait_ready(1)
    return w


def v2(cmd, fam, addrs=b"", tlvs=b""):
    body = addrs + tlvs
    return V2SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H",
                                                         len(body)) + body


def tlv(t, value):
    return bytes([t]) + struct.pack("!H", len(value)) + value


def v4(src, dst, sport, dport):
    return (socket.inet_pton(socket.AF_INET, src) +
            socket.inet_pton(socket.AF_INET, dst) +
            struct.pack("!HH", sport, dport))


def info_of(line):
    """peer-info's first line as a dict."""
    return dict(kv.split("=", 1) for kv in line.decode().split())


def talk(addr, payload, echo=b""):
    """Send payload; return (info line as a dict, what was echoed after
    it), reading until len(echo) bytes came back."""
    s = connect(addr)
    try:
        s.sendall(payload)
        data = recv_until(s, lambda d: d.count(b"\n") >= 1 and
                          len(d.split(b"\n", 1)[1]) >= len(echo))
    finally:
        s.close()
    assert b"\n" in data, data
    line, rest = data.split(b"\n", 1)
    return info_of(line), rest


def refused(addr, payload, shut=False):
    """Send payload (then EOF if shut): the server closes without a
    byte."""
    s = connect(addr)
    try:
        s.sendall(payload)
        if shut:
            s.shutdown(socket.SHUT_WR)
        try:
            data = recv_until(s, lambda d: False)
        except ConnectionResetError:
            data = b""
    finally:
        s.close()
    assert data == b"", data


@test
def plain_client_headers():
    """v1 TCP4/TCP6/UNKNOWN and v2 IPv4 (with TLVs), IPv6, LOCAL and UNIX
    headers, each with data in the same segment: the handler reports the
    header's addresses (the socket's own as socket_*) and echoes exactly
    the bytes after the header.  A listener without the key takes a
    header for data."""
    w = start()
    try:
        pp = local(w.ports()["pp"][0])
        i, rest = talk(pp, b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443"
                       b"\r\nhello\n", b"hello\n")
        assert rest == b"hello\n", rest
        assert i["peer"] == "192.0.2.1:56324", i
        assert i["sock"] == "198.51.100.2:443", i
        assert i["socket_peer"].startswith("127.0.0.1:"), i
        assert i["socket_sock"] == "127.0.0.1:%d" % pp[1], i
        assert i["proxy"] == "1/PROXY" and i["tls"] == "plain", i
        i, _ = talk(pp, b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n")
        assert (i["peer"], i["sock"]) == ("[2001:db8::1]:1",
                                          "[2001:db8::2]:2"), i
        i, _ = talk(pp, b"PROXY UNKNOWN\r\n")
        assert i["peer"] == i["socket_peer"] and i["proxy"] == "1/UNKNOWN"
        ssl_tlv = tlv(0x20, b"\x05\x00\x00\x00\x00" +
                      tlv(0x21, b"TLSv1.3") + tlv(0x22, b"client one"))
        hdr = v2(1, 0x11, v4("203.0.113.9", "203.0.113.10", 4000, 8443),
                 tlv(0x01, b"h2") + tlv(0x02, b"example.com") +
                 tlv(0x05, b"req-42") + ssl_tlv + tlv(0x04, b"\0" * 7))
        i, rest = talk(pp, hdr + b"\x00binary\xff", b"\x00binary\xff")
        assert rest == b"\x00binary\xff", rest
        assert i["peer"] == "203.0.113.9:4000", i
        assert i["sock"] == "203.0.113.10:8443", i
        assert i["proxy"] == "2/PROXY", i
        assert (i["alpn"], i["authority"], i["unique_id"]) == (
            "h2", "example.com", "req-42"), i
        assert (i["ssl_client"], i["ssl_version"]) == ("5", "TLSv1.3"), i
        assert i["ssl_cn"] == "client_one", i
        a6 = (socket.inet_pton(socket.AF_INET6, "2001:db8::a") +
              socket.inet_pton(socket.AF_INET6, "::1") +
              struct.pack("!HH", 5555, 443))
        i, _ = talk(pp, v2(1, 0x21, a6))
        assert (i["peer"], i["sock"]) == ("[2001:db8::a]:5555",
                                          "[::1]:443"), i
        i, rest = talk(pp, v2(0, 0x00) + b"check\n", b"check\n")
        assert rest == b"check\n"
        assert i["proxy"] == "2/LOCAL" and i["peer"] == i["socket_peer"], i
        au = (b"/run/client.sock".ljust(108, b"\0") +
              b"/run/haproxy.sock".ljust(108, b"\0"))
        i, rest = talk(os.path.join(w.dir, "pp.sock"),
                       v2(1, 0x31, au) + b"unix\n", b"unix\n")
        assert rest == b"unix\n", rest
        assert (i["peer"], i["sock"]) == ("/run/client.sock",
                                          "/run/haproxy.sock"), i
        plain = local(w.ports()["plain"][0])
        hdr = b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n"
        i, rest = talk(plain, hdr, hdr)
        assert rest == hdr and i["proxy"] == "-", (i, rest)
        assert i["peer"] == i["socket_peer"], i
    finally:
        assert w.stop() == 0


@test
def refusals_closed_and_logged():
    """A bad signature, an over-long v1 line, an unknown version or
    command, a bad family, a short address block, a truncated header and
    a late one: each connection is closed without a byte from the handler
    and logged with its reason; a flood of one kind is rate-limited, and
    what was dropped is counted in a "suppressed" line."""
    w = start()
    try:
        pp = local(w.ports()["pp"][0])
        refused(pp, b"GET / HTTP/1.0\r\n\r\n")
        refused(pp, b"PROXY UNKNOWN " + b"x" * 100)
        refused(pp, V2SIG + b"\x31\x11\x00\x00")
        refused(pp, V2SIG + b"\x23\x11\x00\x00")
        refused(pp, V2SIG + b"\x21\x41\x00\x00")
        refused(pp, v2(1, 0x21, b"\0" * 20))
        refused(pp, b"PROXY TCP4 192.0.2.1 ", shut=True)
        refused(pp, b"PROXY TCP4 192.0.2.1")  # then 1 s of silence
        for reason in ("no PROXY header signature",
                       "v1 line longer than 107 bytes", "unknown version",
                       "unknown v2 command", "bad v2 address family",
                       "v2 address block shorter than its family",
                       r"truncated header: the peer closed after 21 byte",
                       r"no complete header within 1000 ms"):
            w.wait_log(r"PROXY protocol: connection from 127\.0\.0\.1:\d+ "
                       r"to 127\.0\.0\.1:%d closed: %s" % (pp[1], reason))
        clients = 30
        t0 = time.time()
        for _ in range(clients):
            refused(pp, b"\x16\x03\x01")  # TLS to a PROXY listener
        elapsed = time.time() - t0
        time.sleep(5.5)  # the window ends; one more brings the summary
        refused(pp, b"\x16\x03\x01")
        w.wait_log(r"suppressed \d+ similar messages")
        w.wait_log(r"closed: no PROXY header signature", count=12)
        text = w.text()
        shown = len(re.findall(r"warning: PROXY protocol: [^\n]*closed: "
                               r"no PROXY header signature", text))
        dropped = sum(int(n) for n in re.findall(
            r"suppressed (\d+) similar messages", text))
        assert shown <= 10 * (int(elapsed / 5) + 2), (shown, text[-2000:])
        # Every one accounted for, the GET above included.
        assert shown + dropped == clients + 2, (shown, dropped,
                                                text[-2000:])
    finally:
        assert w.stop() == 0


def tls_client(sock, prefix, ctx, name):
    """A TLS handshake over sock through memory BIOs, prefix sent in the
    same send as the ClientHello: (SSLObject, incoming BIO)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        sock.sendall(prefix + out.read())
        prefix = b""
        chunk = sock.recv(65536)
        assert chunk, "closed during the handshake"
        inc.write(chunk)
    sock.sendall(out.read())
    return obj, inc, out


def tls_read_line(sock, obj, inc, out):
    data = b""
    while b"\n" not in data:
        try:
            data += obj.read(65536)
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            chunk = sock.recv(65536)
            assert chunk, data
            inc.write(chunk)
    return data


@test
def tls_after_header():
    """On a TLS listener the PROXY header comes first, and the
    ClientHello right behind it in the same segment: the handshake
    completes, the handler sees the header's addresses over TLS, and a
    ClientHello without a header is refused."""
    w = start()
    try:
        port = w.ports()["pptls"][0]
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        s = connect(local(port))
        try:
            obj, inc, out = tls_client(
                s, b"PROXY TCP4 192.0.2.77 192.0.2.78 1234 443\r\n", ctx,
                "localhost")
            i = info_of(tls_read_line(s, obj, inc, out).split(b"\n")[0])
            assert i["tls"].startswith("TLSv1"), i
            assert (i["peer"], i["sock"]) == ("192.0.2.77:1234",
                                              "192.0.2.78:443"), i
            assert i["socket_sock"] == "127.0.0.1:%d" % port, i
            obj.write(b"ping\n")
            s.sendall(out.read())
            assert tls_read_line(s, obj, inc, out) == b"ping\n"
        finally:
            s.close()
        s = connect(local(port))
        try:
            try:
                ctx.wrap_socket(s, server_hostname="localhost")
                raise AssertionError("handshake without a header passed")
            except (ssl.SSLError, OSError):
                pass
        finally:
            s.close()
        w.wait_log(r"to 127\.0\.0\.1:%d closed: no PROXY header signature"
                   % port)
    finally:
        assert w.stop() == 0


@test
def check_callback_plugin_refused():
    """A callback-mode plugin has no fiber to read the header on:
    `weftd -t` refuses the pair, naming the listener's line; the same
    listener on a fiber plugin passes."""
    path = os.path.join(tempfile.mkdtemp(prefix="weftd-pp-t-"), "t.ini")

    def check_t(plugin):
        with open(path, "w") as f:
            f.write("plugin_dir = %s\n[plugins.p]\npath = %s\n"
                    "[listen.a]\ntcp = 127.0.0.1:0\nplugin = p\n"
                    "proxy_protocol = true\n" % (TEST_PLUGIN_DIR, plugin))
        r = subprocess.run(WEFTD_CMD + ["-t", "-c", path],
                           capture_output=True, timeout=30 * SLOW)
        return r.returncode, r.stderr.decode()

    rc, err = check_t("cb-echo.so")
    assert rc == 1, err
    assert re.search(r'%s:4: listener 127\.0\.0\.1:0: proxy_protocol: '
                     r'plugin "p" runs in callback mode, which has no fiber '
                     r'for the PROXY header' % re.escape(path), err), err
    rc, err = check_t("peer-info.so")
    assert rc == 0, err


# ---- HAProxy in front ------------------------------------------------------

def haproxy_path():
    path = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK)
        else None)
    if path is None:
        if os.path.exists("/etc/debian_version"):
            raise AssertionError("haproxy is not installed on Debian: "
                                 "./build.sh deps installs it")
        raise Skip("haproxy not installed")
    return path


HAPROXY = """
global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend v1
    bind 127.0.0.1:%(f1)d
    default_backend v1
backend v1
    server w 127.0.0.1:%(pp)d send-proxy
frontend v2
    bind 127.0.0.1:%(f2)d
    unique-id-format id-%%cp
    default_backend v2
backend v2
    server w 127.0.0.1:%(pp)d send-proxy-v2 proxy-v2-options unique-id,crc32c
frontend v2unix
    bind 127.0.0.1:%(f3)d
    default_backend v2unix
backend v2unix
    server w %(sock)s send-proxy-v2
frontend tls
    bind 127.0.0.1:%(f4)d ssl crt %(pem)s ca-file %(ca)s verify optional alpn h2,http/1.1
    default_backend tls
backend tls
    server w 127.0.0.1:%(pp)d send-proxy-v2 proxy-v2-options ssl,cert-cn,ssl-cipher,authority,crc32c
"""


def start_haproxy(cfg_vars, dir):
    exe = haproxy_path()
    pem = os.path.join(dir, "haproxy.pem")
    with open(pem, "w") as f:
        f.write(open(cert("server.crt")).read() +
                open(cert("server.key")).read())
    cfg_vars.update(pem=pem, ca=cert("ca.crt"))
    cfg = os.path.join(dir, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(HAPROXY % cfg_vars)
    log = open(os.path.join(dir, "haproxy.log"), "wb")
    p = subprocess.Popen([exe, "-f", cfg, "-db"], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    haproxies.append(p)
    end = time.time() + 10 * SLOW
    for port in (cfg_vars["f1"], cfg_vars["f4"]):
        while True:
            assert p.poll() is None, open(log.name).read()
            try:
                socket.create_connection(local(port), 1).close()
                break
            except OSError:
                assert time.time() < end, open(log.name).read()
                time.sleep(0.05)
    return p


def via(port, payload=b"", echo=b""):
    """Through HAProxy's frontend port: (info, echoed, our address)."""
    s = connect(local(port))
    try:
        me = "%s:%d" % s.getsockname()
        s.sendall(payload)
        data = recv_until(s, lambda d: b"\n" in d and
                          len(d.split(b"\n", 1)[1]) >= len(echo))
    finally:
        s.close()
    line, rest = data.split(b"\n", 1)
    return info_of(line), rest, me


@test
def haproxy_in_front():
    """Debian's HAProxy in front of weftd: send-proxy (v1) and
    send-proxy-v2 (with unique-id and CRC32C TLVs) over TCP, v2 over
    UNIX, and a TLS frontend whose v2 header carries ALPN, the SNI as
    authority and the SSL TLVs with the client certificate's CN.  The
    handler sees the client's own address, and HAProxy's as the
    socket's."""
    exe = haproxy_path()
    w = start()
    try:
        pp = w.ports()["pp"][0]
        ports = dict(f1=free_port(), f2=free_port(), f3=free_port(),
                     f4=free_port(), pp=pp,
                     sock=os.path.join(w.dir, "pp.sock"))
        assert exe
        start_haproxy(ports, w.dir)
        i, rest, me = via(ports["f1"], b"one\n", b"one\n")
        assert rest == b"one\n", rest
        assert i["peer"] == me and i["proxy"] == "1/PROXY", (i, me)
        assert i["sock"] == "127.0.0.1:%d" % ports["f1"], i
        assert i["socket_peer"] != me, i
        i, rest, me = via(ports["f2"], b"two\n", b"two\n")
        assert rest == b"two\n", rest
        assert i["peer"] == me and i["proxy"] == "2/PROXY", (i, me)
        assert i["unique_id"] == "id-%s" % me.split(":")[1], i
        i, rest, me = via(ports["f3"], b"three\n", b"three\n")
        assert i["peer"] == me and i["proxy"] == "2/PROXY", (i, me)
        assert i["socket_sock"] == ports["sock"], i
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        ctx.load_cert_chain(cert("client.crt"), cert("client.key"))
        ctx.set_alpn_protocols(["h2"])
        raw = connect(local(ports["f4"]))
        try:
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            me = "%s:%d" % s.getsockname()
            line = recv_until(s, lambda d: b"\n" in d)
            s.close()
        finally:
            raw.close()
        i = info_of(line.split(b"\n")[0])
        assert i["peer"] == me and i["tls"] == "plain", (i, me)
        assert (i["alpn"], i["authority"]) == ("h2", "localhost"), i
        assert i["ssl_version"].startswith("TLSv1"), i
        assert i["ssl_cn"] == "weft_test_client", i
        assert int(i["ssl_client"]) & 1, i
        assert "PROXY protocol:" not in w.text(), w.text()[-2000:]
    finally:
        for p in haproxies:
            p.kill()
            p.wait()
        haproxies.clear()
        assert w.stop() == 0


def cleanup():
    for p in haproxies:
        p.kill()
    kill_started()


if __name__ == "__main__":
    sys.exit(run(cleanup))
