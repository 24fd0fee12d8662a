#!/usr/bin/env python3
"""weftd's TLS listeners, end to end: `weftd -t` on bad certificates and
keys, a TLS echo served to Python's ssl client, reloads that keep the old
generation when a certificate is bad and change it when it is good, a key
only root can read (at start and after a HUP, the supervisor running as
nobody), session resumption from one worker to the other and across a
reload (shared ticket keys), and the status counters.  Prints TAP.

Certificates are made at test time (tests/tls/mkcerts.sh): nothing
committed can expire.  Environment as for test_weftd.py."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get("SRCDIR", ".")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import Skip, run, test  # noqa: E402
from weftdlib import (PLUGIN_DIR, SLOW, TEST_PLUGIN_DIR,  # noqa: E402
                      WEFTD_CMD, Weftd,
                      connect, exchange, free_port, kill_started, local,
                      recv_until, status_rows)

NOBODY = 65534
CERTS = {}


def certs():
    """The directory of tests/tls/mkcerts.sh's certificates, made once."""
    if "dir" not in CERTS:
        d = tempfile.mkdtemp(prefix="weftd-tls-")
        os.chmod(d, 0o755)
        subprocess.run(["sh", os.path.join(SRCDIR, "tests", "tls",
                                           "mkcerts.sh"), d], check=True)
        CERTS["dir"] = d
    return CERTS["dir"]


def cert(name):
    return os.path.join(certs(), name)


def tls_conf(keydir, workers=2, extra="", listen_extra="", top=""):
    """A TLS echo listener (profile "site", cert and key in keydir) and a
    plain one, both on the echo plugin."""
    return ("""
workers = %d;
log_level = "debug";
shutdown_timeout = 5.0;
worker_timeout = 1.0;
plugin_dir = "@PLUGINS@";
%s
plugins = { echo = { path = "echo.so"; }; };
tls = { site = { cert = "%s/site.crt"; key = "%s/site.key"; %s }; };
listen = (
  { name = "tls"; tcp = "127.0.0.1:0"; plugin = "echo"; tls = "site"; %s },
  { name = "plain"; tcp = "127.0.0.1:0"; plugin = "echo"; }
);
""" % (workers, top, keydir, keydir, extra, listen_extra))


def install(keydir, stem, mode=0o644):
    """site.crt and site.key in keydir become stem's (atomically)."""
    for ext in ("crt", "key"):
        tmp = os.path.join(keydir, "site.%s.new" % ext)
        shutil.copy(cert("%s.%s" % (stem, ext)), tmp)
        os.chmod(tmp, mode if ext == "key" else 0o644)
        os.rename(tmp, os.path.join(keydir, "site." + ext))


def client_ctx():
    ctx = ssl.create_default_context(cafile=cert("ca.crt"))
    ctx.check_hostname = True
    return ctx


def tls_connect(port, ctx=None, session=None, name="localhost"):
    """A TLS connection to the TLS listener, handshake done."""
    ctx = ctx or client_ctx()
    raw = connect(local(port))
    return ctx.wrap_socket(raw, server_hostname=name, session=session)


class Conn:
    """What a TLS connection negotiated, kept past its close."""

    def __init__(self, s, cert):
        self.session = s.session
        self.session_reused = s.session_reused
        self.cn = dict(x[0] for x in cert["subject"]).get("commonName")


def tls_echo(port, payload=b"over tls\n", ctx=None, session=None,
             name="localhost"):
    """One echo over a new TLS connection: (what came back, a Conn)."""
    s = tls_connect(port, ctx, session, name)
    # Asked right after the handshake: while a post-handshake message
    # (a ticket) is half read, Python says "handshake not done yet".
    cert = s.getpeercert()
    try:
        s.sendall(payload)
        data = recv_until(s, lambda d: len(d) >= len(payload))
        # Read after the echo: a TLS 1.3 ticket comes after the
        # handshake, and s.session has it once it was read.
        return data, Conn(s, cert)
    finally:
        s.close()


def peer_subject(port, name="localhost"):
    return tls_echo(port, name=name)[1].cn


def ports(w):
    """(TLS port, plain port): both listeners are on the echo plugin, in
    the order of the config."""
    p = w.ports()["echo"]
    return p[0], p[1]


def start(keydir, **kw):
    w = Weftd(tls_conf(keydir, **kw))
    w.wait_ready(kw.get("workers", 2))
    return w


def keydir_with(stem, mode=0o755):
    d = tempfile.mkdtemp(prefix="weftd-keys-")
    os.chmod(d, mode)
    install(d, stem)
    return d


def check_t(conf_text, name="t.conf"):
    """weftd -t on conf_text: (exit status, stderr, the config's path)."""
    d = tempfile.mkdtemp(prefix="weftd-t-")
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(conf_text.replace("@PLUGINS@", PLUGIN_DIR))
    r = subprocess.run(WEFTD_CMD + ["-t", "-c", path], capture_output=True,
                       timeout=30 * SLOW)
    return r.returncode, r.stderr.decode(), path


def line_of(conf_text, needle):
    return conf_text.split("\n").index(
        [x for x in conf_text.split("\n") if needle in x][0]) + 1


# ---- weftd -t ----------------------------------------------------------


@test
def check_missing_key():
    """A key that is not there: file:line of the profile, the path and
    errno's words."""
    d = keydir_with("server")
    os.unlink(os.path.join(d, "site.key"))
    text = tls_conf(d)
    rc, err, path = check_t(text)
    assert rc == 1, err
    want = '%s:%d: tls profile "site": %s/site.key: No such file or ' \
        'directory' % (path, line_of(text, "tls = { site"), d)
    assert want in err, (want, err)
    assert "configuration and plugins OK" not in err, err


@test
def check_bad_key():
    """A key that is no key (a certificate), and a key that is not the
    certificate's: file:line of the profile and OpenSSL's reason."""
    d = keydir_with("server")
    text = tls_conf(d)
    shutil.copy(cert("server.crt"), os.path.join(d, "site.key"))
    rc, err, path = check_t(text)
    assert rc == 1, err
    m = re.search(r'%s:%d: tls profile "site": (.+)' %
                  (re.escape(path), line_of(text, "tls = { site")), err)
    assert m and m.group(1).strip(), err
    assert "configuration and plugins OK" not in err, err
    # The key of another certificate.
    shutil.copy(cert("other.key"), os.path.join(d, "site.key"))
    rc, err, path = check_t(text)
    assert rc == 1, err
    assert re.search(r'%s:%d: tls profile "site": \S' %
                     (re.escape(path), line_of(text, "tls = { site")),
                     err), err
    # And a good pair passes.
    install(d, "server")
    rc, err, path = check_t(text)
    assert rc == 0 and "configuration and plugins OK" in err, err


@test
def check_symlinked_key():
    """Let's Encrypt's layout (live/ links into archive/) is followed;
    a key in a directory others may write is refused, naming it."""
    d = keydir_with("server")
    os.mkdir(os.path.join(d, "archive"))
    os.mkdir(os.path.join(d, "live"))
    for ext in ("crt", "key"):
        os.rename(os.path.join(d, "site." + ext),
                  os.path.join(d, "archive", "site1." + ext))
        os.symlink("../archive/site1." + ext,
                   os.path.join(d, "live", "site." + ext))
    text = tls_conf(d + "/live")
    rc, err, path = check_t(text)
    assert rc == 0 and "configuration and plugins OK" in err, err
    os.chmod(os.path.join(d, "archive"), 0o777)
    rc, err, path = check_t(text)
    assert rc == 1, err
    assert re.search(r'tls profile "site": .*archive.* writable by others',
                     err), err


@test
def check_bad_cert_ini():
    """The same in INI: the line is the [tls.site] section's."""
    d = keydir_with("server")
    with open(os.path.join(d, "site.crt"), "w") as f:
        f.write("not a certificate\n")
    text = ("plugin_dir = @PLUGINS@\n[plugins.echo]\npath = echo.so\n"
            "[tls.site]\ncert = %s/site.crt\nkey = %s/site.key\n"
            "[listen.a]\ntcp = 127.0.0.1:0\nplugin = echo\ntls = site\n"
            % (d, d))
    rc, err, path = check_t(text, "t.ini")
    assert rc == 1, err
    assert re.search(r'%s:4: tls profile "site": \S' % re.escape(path),
                     err), err


@test
def check_callback_plugin_refused():
    """A callback-mode plugin has no fiber for the handshake: a TLS
    listener on one fails weftd -t, naming the listener's line."""
    d = keydir_with("server")
    text = tls_conf(d, workers=1).replace(
        '"@PLUGINS@"', '"%s"' % TEST_PLUGIN_DIR).replace(
        'echo = { path = "echo.so"; }', 'cb-echo = { path = "cb-echo.so"; }') \
        .replace('plugin = "echo"', 'plugin = "cb-echo"')
    rc, err, path = check_t(text)
    assert rc == 1, err
    assert re.search(r'%s:%d: listener 127\.0\.0\.1:0: tls: plugin "cb-echo" '
                     r'runs in callback mode' %
                     (re.escape(path), line_of(text, 'name = "tls"')),
                     err), err


# ---- Serving ------------------------------------------------------------


@test
def tls_echo_served():
    """Python's ssl client, verifying against the test CA: the echo comes
    back over TLS; the plain listener beside it stays plain."""
    w = start(keydir_with("server"))
    try:
        tport, pport = ports(w)
        data, s = tls_echo(tport, b"hello over tls\n")
        assert data == b"hello over tls\n", data
        big = os.urandom(1 << 20)
        data, _ = tls_echo(tport, big)
        assert data == big
        assert exchange(local(pport), b"plain\n") == b"plain\n"
        assert peer_subject(tport) == "localhost"
        # A client that does not trust the CA fails the handshake.
        bad = ssl.create_default_context(cafile=cert("ca2.crt"))
        try:
            tls_echo(tport, ctx=bad)
            raise AssertionError("handshake with an unknown CA passed")
        except ssl.SSLCertVerificationError:
            pass
    finally:
        w.stop()


@test
def http_hello_over_tls():
    """A plugin sees plaintext: http-hello answers two keep-alive
    requests on one TLS connection."""
    d = keydir_with("server")
    text = tls_conf(d, workers=1).replace(
        'echo = { path = "echo.so"; }',
        'http-hello = { path = "http-hello.so"; settings = { '
        'body = "hi tls\\n"; }; }').replace('plugin = "echo"',
                                           'plugin = "http-hello"')
    w = Weftd(text)
    w.wait_ready(1)
    try:
        s = tls_connect(w.ports()["http-hello"][0])
        try:
            req = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
            s.sendall(req + req)
            data = recv_until(s, lambda d: d.count(b"hi tls\n") >= 2)
            assert data.count(b"HTTP/1.1 200 OK\r\n") == 2, data
        finally:
            s.close()
    finally:
        w.stop()


@test
def profile_options():
    """sni picks the certificate by the name asked for, alpn the
    protocol, and client_ca with verify_client = "required" refuses a
    client without a certificate of that CA."""
    d = keydir_with("server")
    extra = ('alpn = [ "h2", "http/1.1" ]; client_ca = "%s"; '
             'verify_client = "required"; sni = ( { names = [ '
             '"sni.example", "*.wild.example" ]; cert = "%s"; key = "%s"; '
             '} );' % (cert("ca.crt"), cert("sni.crt"), cert("sni.key")))
    w = start(d, workers=1, extra=extra)
    try:
        tport, _ = ports(w)
        ctx = client_ctx()
        ctx.load_cert_chain(cert("client.crt"), cert("client.key"))
        ctx.set_alpn_protocols(["http/1.1", "h2"])
        s = tls_connect(tport, ctx)
        try:
            assert s.selected_alpn_protocol() == "h2"
            cn = dict(x[0] for x in s.getpeercert()["subject"])
            assert cn["commonName"] == "localhost", cn
            s.sendall(b"mtls\n")
            assert recv_until(s, lambda d: len(d) >= 5) == b"mtls\n"
        finally:
            s.close()
        # SNI: the other certificate.
        ctx.check_hostname = False
        s = tls_connect(tport, ctx, name="sni.example")
        try:
            cn = dict(x[0] for x in s.getpeercert()["subject"])
            assert cn["commonName"] == "sni.example", cn
        finally:
            s.close()
        # No client certificate: the server refuses the handshake (in
        # TLS 1.3 the client learns it at its first read).
        bare = client_ctx()
        try:
            s = tls_connect(tport, bare)
            s.sendall(b"x")
            data = s.recv(1)
            raise AssertionError("served without a client cert: %r" % data)
        except (ssl.SSLError, ConnectionError):
            pass
        # A client certificate from another CA: refused too.
        rogue = client_ctx()
        rogue.load_cert_chain(cert("rogue.crt"), cert("rogue.key"))
        try:
            s = tls_connect(tport, rogue)
            s.sendall(b"x")
            data = s.recv(1)
            raise AssertionError("served a rogue client cert: %r" % data)
        except (ssl.SSLError, ConnectionError):
            pass
    finally:
        w.stop()


@test
def hup_bad_cert_keeps_serving():
    """A HUP with a broken certificate fails in the probe, with the
    reason, and the old generation goes on serving the old one; a HUP
    with a good new one serves it."""
    d = keydir_with("server")
    w = start(d)
    try:
        tport, _ = ports(w)
        with open(os.path.join(d, "site.crt"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n"
                    "-----END CERTIFICATE-----\n")
        mark, res = w.hup()
        assert res.startswith("reload failed"), res
        assert re.search(r'tls profile "site": \S', w.text()[mark:]), \
            w.text()[mark:]
        data, _ = tls_echo(tport)
        assert data == b"over tls\n"
        assert peer_subject(tport) == "localhost"
        # A good certificate of another name is taken.
        install(d, "other")
        mark, res = w.hup()
        assert res.startswith("reload complete"), (res, w.text()[mark:])
        # The old workers accept until they have stopped.
        w.wait_log(r"generation 1 drained")
        assert peer_subject(tport, "other.example") == "other.example"
    finally:
        w.stop()


# ---- Privileges --------------------------------------------------------


@test
def root_only_key():
    """The supervisor runs as nobody, the key is root's alone (0600 in a
    0700 directory): it is read at start, and again on a HUP that changes
    the certificate, with CAP_DAC_READ_SEARCH raised around the open;
    the supervisor keeps that capability permitted only, and the workers
    hold none."""
    if os.geteuid() != 0:
        raise Skip("needs root to own a key nobody can read")
    d = keydir_with("server", mode=0o700)
    os.chmod(os.path.join(d, "site.key"), 0o600)
    # Workers load plugins after the drop: they must be readable by
    # nobody (an installed plugin dir is; a build tree may not be).
    pdir = tempfile.mkdtemp()
    os.chmod(pdir, 0o755)
    shutil.copy(os.path.join(PLUGIN_DIR, "echo.so"), pdir)
    text = tls_conf(d, top='user = "nobody";\ngroup = "nogroup";\n') \
        .replace("@PLUGINS@", pdir)
    w = Weftd(text)
    os.chmod(w.dir, 0o755)  # the supervisor reads the config as nobody
    os.chmod(w.conf, 0o644)
    try:
        w.wait_ready(2)
        tport, _ = ports(w)
        assert peer_subject(tport) == "localhost"
        assert "CAP_DAC_READ_SEARCH" in w.text(), w.text()
        caps = proc_caps(w.pid)
        assert caps["Uid"].split()[0] == str(NOBODY), caps
        assert int(caps["CapEff"], 16) == 0, caps
        assert int(caps["CapPrm"], 16) == 1 << 2, caps  # DAC_READ_SEARCH
        for pid in w.workers():
            c = proc_caps(pid)
            for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
                assert int(c[cap], 16) == 0, (pid, cap, c)
        # A new certificate and key, root's alone again.
        install(d, "other", mode=0o600)
        mark, res = w.hup()
        assert res.startswith("reload complete"), (res, w.text()[mark:])
        # The old workers accept until they have stopped.
        w.wait_log(r"generation 1 drained")
        assert peer_subject(tport, "other.example") == "other.example"
        for pid in w.workers():
            assert int(proc_caps(pid)["CapPrm"], 16) == 0, pid
    finally:
        w.stop()


@test
def root_only_key_needs_tls_at_start():
    """Started without a TLS profile, the supervisor keeps no capability:
    a reload that adds one whose key only root can read fails, says why,
    and the running generation goes on."""
    if os.geteuid() != 0:
        raise Skip("needs root to own a key nobody can read")
    d = keydir_with("server", mode=0o700)
    os.chmod(os.path.join(d, "site.key"), 0o600)
    pdir = tempfile.mkdtemp()
    os.chmod(pdir, 0o755)
    shutil.copy(os.path.join(PLUGIN_DIR, "echo.so"), pdir)
    text = tls_conf(d, workers=1, top='user = "nobody";\n'
                    'group = "nogroup";\n').replace("@PLUGINS@", pdir)
    plain = re.sub(r"tls = \{.*\n", "", text).replace('tls = "site";', "")
    w = Weftd(plain)
    os.chmod(w.dir, 0o755)
    os.chmod(w.conf, 0o644)
    try:
        w.wait_ready(1)
        assert "CAP_DAC_READ_SEARCH" not in w.text(), w.text()
        assert int(proc_caps(w.pid)["CapPrm"], 16) == 0
        w.write_conf(text)
        os.chmod(w.conf, 0o644)
        mark, res = w.hup()
        assert res.startswith("reload failed"), res
        # The certificate or the key, whichever is opened first; the
        # reason is the line after "reload failed" and may come later.
        w.log.wait(r'tls profile "site": %s/site\.(crt|key): '
                   r'.*Permission denied' % re.escape(d), start=mark)
        tport, pport = ports(w)
        assert exchange(local(tport), b"still plain") == b"still plain"
    finally:
        w.stop()


def proc_caps(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(re.findall(r"^(\w+):\s+(.*)$", f.read(), re.M))


# ---- Resumption and counters ------------------------------------------


def status_wait(w, pred, timeout=10.0):
    """The status rows once pred(rows) holds (workers publish their
    counters at each heartbeat)."""
    end = time.time() + timeout * SLOW
    while True:
        rows = status_rows(w.status())
        if pred(rows):
            return rows
        if time.time() > end:
            raise AssertionError("status never matched: %r" % rows)
        time.sleep(0.05)


def total(rows, col):
    return sum(r[col] for r in rows)


@test
def resumption_across_workers_and_reload():
    """A session made on one worker resumes on the other (the ticket
    keys are shared), and on a worker of the next generation."""
    # reuse_port: a socket per worker, the kernel picks one by the
    # client's address and port (each slot's own port if port 0: fixed).
    tport = free_port()
    w = Weftd(tls_conf(keydir_with("server"), listen_extra="reuse_port = "
                       "true;").replace('tcp = "127.0.0.1:0"; plugin = '
                                        '"echo"; tls', 'tcp = "127.0.0.1:%d";'
                                        ' plugin = "echo"; tls' % tport))
    w.wait_ready(2)
    try:
        ctx = client_ctx()
        _, s = tls_echo(tport, ctx=ctx)
        sess = s.session
        assert sess is not None and not s.session_reused
        rows = status_wait(w, lambda r: total(r, "tls_handshakes") == 1)
        first = [r["pid"] for r in rows if r["tls_handshakes"] == 1][0]
        other = None
        for i in range(2, 60):
            _, s = tls_echo(tport, ctx=ctx, session=sess)
            assert s.session_reused, i
            rows = status_wait(w, lambda r: total(r, "tls_handshakes") == i)
            other = [r for r in rows if r["pid"] != first and
                     r["tls_resumed"] > 0]
            if other:
                break
        assert other, rows
        # Across a reload: the new generation's workers open it too.
        mark, res = w.hup()
        assert res.startswith("reload complete"), res
        w.wait_ready(4)
        _, s = tls_echo(tport, ctx=ctx, session=sess)
        assert s.session_reused
    finally:
        w.stop()


@test
def status_counters():
    """Known handshakes, counted: full, resumed, failed (a plaintext
    client), timed out (a client that sends nothing)."""
    # Short enough that the silent client times out soon, long enough
    # that a real handshake under memcheck never does.
    w = start(keydir_with("server"), workers=1,
              extra="handshake_timeout = %g;" % (0.5 * SLOW))
    try:
        tport, _ = ports(w)
        ctx = client_ctx()
        _, s = tls_echo(tport, ctx=ctx)
        sess = s.session
        tls_echo(tport, ctx=ctx)
        for _ in range(2):
            _, s = tls_echo(tport, ctx=ctx, session=sess)
            assert s.session_reused
        # Not TLS: the handshake fails.
        p = connect(local(tport))
        p.sendall(b"GET / HTTP/1.0\r\n\r\n")
        recv_until(p, lambda d: False, partial=True)
        p.close()
        # Nothing at all: the handshake times out.
        q = connect(local(tport))
        recv_until(q, lambda d: False, partial=True)
        q.close()
        rows = status_wait(w, lambda r: total(r, "tls_timeouts") >= 1 and
                           total(r, "tls_failed") >= 1)
        assert total(rows, "tls_handshakes") == 4, rows
        assert total(rows, "tls_resumed") == 2, rows
        assert total(rows, "tls_failed") == 1, rows
        assert total(rows, "tls_timeouts") == 1, rows
        # Per listener: the TLS one, and not the plain one.
        text = w.status()
        assert re.search(r"^listener tls_handshakes tls_resumed tls_failed "
                         r"tls_timeouts tls_failed_verify tls_failed_closed "
                         r"\(generation 1\)$", text, re.M), text
        # The plaintext client's failure is neither a refused
        # certificate nor a peer that went away.
        assert re.search(r"^tls 4 2 1 1 0 0$", text, re.M), text
        assert not re.search(r"^plain ", text, re.M), text
    finally:
        w.stop()


def stop_all():
    kill_started()


if __name__ == "__main__":
    sys.exit(run(stop_all))
