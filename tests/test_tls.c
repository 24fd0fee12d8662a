/*
 * TLS over loopback TCP: ssl= on servers and clients, verification
 * failures, timeouts, close_notify and ragged EOFs, flow control with
 * ciphertext queued, start_tls with bytes already buffered, the
 * KeyUpdate cap and many handshakes at once.  The certificates come from
 * tests/tls/mkcerts.sh, run once into a temporary directory.
 */
#include <openssl/ssl.h>
#include <string.h>
#include <unistd.h>

#include "net_util.h"

static char certdir[128];

static void
path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", certdir, name);
}

static weft_tls_ctx_t *
server_ctx(const char *crt, const char *key)
{
	char c[192], k[192];
	weft_tls_cert_t cert = { 0 };
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *ctx = NULL;

	path_of(c, sizeof(c), crt);
	path_of(k, sizeof(k), key);
	cert.cert = c;
	cert.key = k;
	o.server = 1;
	o.certs = &cert;
	o.ncerts = 1;
	assert_int_equal(weft_tls_ctx_new(&o, &ctx), 0);
	return ctx;
}

static weft_tls_ctx_t *
client_ctx(const char *ca)
{
	char c[192];
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *ctx = NULL;

	path_of(c, sizeof(c), ca);
	o.ca_file = c;
	assert_int_equal(weft_tls_ctx_new(&o, &ctx), 0);
	return ctx;
}

static int
start_tls_server(weft_client_cb cb, void *arg, weft_tls_ctx_t *ctx,
    int timeout_ms, weft_server_t **srv)
{
	weft_stream_opts_t opts = { 0 };

	opts.ssl = ctx;
	opts.ssl_handshake_timeout_ms = timeout_ms;
	*srv = NULL;
	assert_int_equal(weft_start_server(cb, arg, LOCALHOST, 0, &opts, srv),
	    0);
	return weft_server_port(*srv);
}

static int
tls_connect(int port, weft_tls_ctx_t *ctx, const char *name, weft_reader_t **r,
    weft_writer_t **w)
{
	weft_stream_opts_t opts = { 0 };

	opts.ssl = ctx;
	opts.server_hostname = name;
	*r = NULL;
	*w = NULL;
	return weft_open_connection(LOCALHOST, port, &opts, r, w);
}

static weft_server_stats_t
stats_of(weft_server_t *srv)
{
	weft_server_stats_t st;

	memset(&st, 0, sizeof(st));
	weft_server_stats(srv, &st, sizeof(st));
	return st;
}

/* ---- Echo, info, close_notify ------------------------------------------- */

WT_CASE(echo_and_info)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_tls_ctx_t *cctx = client_ctx("ca.crt");
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_tls_info_t info;
	weft_slice_t line;
	struct hs s = { 0 };
	char buf[256];
	int port;

	port = start_tls_server(h_echo, &s, sctx, 0, &srv);
	assert_int_equal(tls_connect(port, cctx, "localhost", &r, &w), 0);
	assert_int_equal(weft_can_write_eof(w), 0);
	assert_int_equal(weft_write_eof(w), -ENOTSUP);
	assert_int_equal(weft_write(w, "hello tls\n", 10), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "hello tls\n");
	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	assert_string_equal(info.version, "TLSv1.3");
	assert_string_equal(info.server_name, "localhost");
	assert_int_equal(info.verify_result, 0);
	assert_true(info.peer_cert);
	assert_true(weft_extra_info(w, "cipher", buf, sizeof(buf)) > 0);
	assert_true(weft_extra_info(w, "peercert_subject", buf, sizeof(buf)) >
	    0);
	assert_true(weft_extra_info(w, "peercert_sha256", buf, sizeof(buf)) ==
	    64);
	assert_true(weft_tls_peer_cert(w, NULL, 0) > 0);
	client_done(w);
	assert_true(wait_flag(&s.done));
	/* The handler saw our close_notify as a clean EOF. */
	assert_int_equal(s.rc, 0);
	assert_int_equal(stats_of(srv).tls_handshakes, 1);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

/* A handler that writes a line and returns: close_notify, clean EOF. */
static void
h_hello(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	(void)r;
	(void)arg;
	weft_write(w, "hi\n", 3);
}

/* A handler that writes a line and aborts: no close_notify. */
static void
h_hello_abort(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	(void)r;
	(void)arg;
	weft_write(w, "hi\n", 3);
	weft_drain(w);
	weft_sleep(20);
	weft_abort(w);
}

static void
eof_case(weft_client_cb h, int clean)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_tls_ctx_t *cctx = client_ctx("ca.crt");
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_tls_info_t info;
	char buf[16];
	ssize_t n;
	int port;

	port = start_tls_server(h, NULL, sctx, 0, &srv);
	assert_int_equal(tls_connect(port, cctx, NULL, &r, &w), 0);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 3);
	n = weft_read(r, buf, sizeof(buf));
	if (n != 0)
		fprintf(stderr, "# read: %zd %s\n", n, weft_tls_error(w));
	assert_int_equal(n, 0);
	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	assert_int_equal(info.eof_clean, clean);
	assert_int_equal(weft_extra_info(w, "tls_eof_clean", buf, sizeof(buf)),
	    1);
	assert_int_equal(buf[0], clean ? '1' : '0');
	client_done(w);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

WT_CASE(close_notify_clean_eof)
{
	eof_case(h_hello, 1);
}

WT_CASE(ragged_eof)
{
	eof_case(h_hello_abort, 0);
}

/* ---- Verification failures ---------------------------------------------- */

static void
verify_fails(const char *crt, const char *key, const char *ca, const char *name,
    const char *why)
{
	weft_tls_ctx_t *sctx = server_ctx(crt, key);
	weft_tls_ctx_t *cctx = client_ctx(ca);
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	struct hs s = { 0 };
	int port;

	port = start_tls_server(h_echo, &s, sctx, 0, &srv);
	assert_int_equal(tls_connect(port, cctx, name, &r, &w),
	    WEFT_ETLSVERIFY);
	assert_null(w);
	assert_non_null(strstr(weft_tls_error(NULL), why));
	/* The server counts a failure and never runs the handler. */
	for (int i = 0; i < 200 && stats_of(srv).tls_failed == 0; i++)
		weft_sleep(5);
	assert_int_equal(stats_of(srv).tls_failed, 1);
	assert_int_equal(s.started, 0);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

WT_CASE(verify_unknown_ca)
{
	verify_fails("server.crt", "server.key", "ca2.crt", "localhost",
	    "certificate verify failed");
}

WT_CASE(verify_wrong_hostname)
{
	verify_fails("server.crt", "server.key", "ca.crt", "other.example",
	    "hostname mismatch");
}

WT_CASE(verify_expired)
{
	verify_fails("expired.crt", "expired.key", "ca.crt", "localhost",
	    "expired");
}

/* ---- Bad peers ---------------------------------------------------------- */

/* A raw socket to port; returns the fd. */
static int
raw_connect(int port)
{
	struct sockaddr_in sin = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

WT_CASE(handshake_timeout)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_server_t *srv;
	struct hs s = { 0 };
	int port, fd;

	port = start_tls_server(h_echo, &s, sctx, 100, &srv);
	fd = raw_connect(port);
	for (int i = 0; i < 400 && stats_of(srv).tls_timeouts == 0; i++)
		weft_sleep(5);
	assert_int_equal(stats_of(srv).tls_timeouts, 1);
	assert_int_equal(s.started, 0);
	for (int i = 0; i < 400 && weft_server_connections(srv) > 0; i++)
		weft_sleep(5);
	assert_int_equal(weft_server_connections(srv), 0);
	close(fd);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
}

WT_CASE(plaintext_client_on_tls_port)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	struct hs s = { 0 };
	char buf[512];
	ssize_t n;
	int port;

	port = start_tls_server(h_echo, &s, sctx, 0, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "GET / HTTP/1.0\r\n\r\n", 18), 0);
	/* An alert at most, then the end. */
	while ((n = weft_read(r, buf, sizeof(buf))) > 0)
		;
	assert_true(n == 0 || n == -ECONNRESET);
	client_done(w);
	for (int i = 0; i < 200 && stats_of(srv).tls_failed == 0; i++)
		weft_sleep(5);
	assert_int_equal(stats_of(srv).tls_failed, 1);
	assert_int_equal(s.started, 0);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
}

WT_CASE(tls_client_on_plain_port)
{
	weft_tls_ctx_t *cctx = client_ctx("ca.crt");
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	struct hs s = { 0 };
	int port, rc;

	port = start_tcp(h_echo_line, &s, &srv);
	rc = tls_connect(port, cctx, "localhost", &r, &w);
	assert_true(rc == WEFT_ETLS || rc == -ECONNRESET);
	assert_null(w);
	server_done(&srv);
	weft_tls_ctx_free(cctx);
}

WT_CASE(peer_closes_mid_handshake)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_server_t *srv;
	int port, fd;
	/* The first bytes of a ClientHello record, then nothing. */
	static const char part[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03";

	port = start_tls_server(h_echo, NULL, sctx, 0, &srv);
	fd = raw_connect(port);
	assert_int_equal(write(fd, part, sizeof(part) - 1), sizeof(part) - 1);
	weft_sleep(20);
	close(fd);
	for (int i = 0; i < 400 && stats_of(srv).tls_failed == 0; i++)
		weft_sleep(5);
	assert_int_equal(stats_of(srv).tls_failed, 1);
	for (int i = 0; i < 400 && weft_server_connections(srv) > 0; i++)
		weft_sleep(5);
	assert_int_equal(weft_server_connections(srv), 0);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
}

/* ---- Bulk, flow control, start_tls -------------------------------------- */

static void
fill(char *p, size_t n, size_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)pattern(off + i);
}

static void
writer_fiber(void *arg)
{
	weft_writer_t *w = arg;
	static char chunk[65536];
	size_t off;

	for (off = 0; off < BIG; off += sizeof(chunk)) {
		fill(chunk, sizeof(chunk), off);
		if (weft_write(w, chunk, sizeof(chunk)) != 0 ||
		    weft_drain(w) != 0)
			return;
	}
}

WT_CASE(big_echo_16mib)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_tls_ctx_t *cctx = client_ctx("ca.crt");
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_fiber_t *f;
	static char want[65536];
	size_t got = 0;
	ssize_t n;
	int port;

	port = start_tls_server(h_echo, NULL, sctx, 0, &srv);
	assert_int_equal(tls_connect(port, cctx, NULL, &r, &w), 0);
	assert_int_equal(weft_spawn(writer_fiber, w, &f), 0);
	while (got < BIG && (n = weft_read(r, iobuf, sizeof(iobuf))) > 0) {
		fill(want, (size_t)n, got);
		assert_memory_equal(iobuf, want, (size_t)n);
		got += (size_t)n;
	}
	assert_int_equal(got, BIG);
	weft_join(f);
	client_done(w);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

/* Sits on its reader while 1 MiB of ciphertext queues, then reads it. */
static void
h_slow_reader(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	ssize_t n;

	weft_sleep(200);
	while (s->total < 1024 * 1024 &&
	    (n = weft_read(r, iobuf, sizeof(iobuf))) > 0)
		s->total += (size_t)n;
	weft_write(w, "ok\n", 3);
	s->done = 1;
}

WT_CASE(paused_reader_with_ciphertext_queued)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_tls_ctx_t *cctx = client_ctx("ca.crt");
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	struct hs s = { 0 };
	static char chunk[65536];
	int port, i;

	port = start_tls_server(h_slow_reader, &s, sctx, 0, &srv);
	assert_int_equal(tls_connect(port, cctx, NULL, &r, &w), 0);
	for (i = 0; i < 16; i++)
		assert_int_equal(weft_write(w, chunk, sizeof(chunk)), 0);
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "ok\n");
	assert_int_equal(s.total, 1024 * 1024);
	client_done(w);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

static weft_tls_ctx_t *starttls_sctx;

/* A line in the clear, then TLS: the ClientHello is already buffered
 * behind the line when the handler reads it. */
static void
h_starttls(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t line;

	weft_sleep(50);
	if (weft_readline(r, &line) != 0)
		return;
	s->len = weft_reader_buffer(r).len;
	if ((s->rc = weft_start_tls(w, starttls_sctx, NULL, 0)) != 0)
		return;
	h_echo(r, w, NULL);
}

WT_CASE(start_tls_with_buffered_bytes)
{
	weft_tls_ctx_t *cctx = client_ctx("ca.crt");
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	struct hs s = { 0 };
	int port;

	starttls_sctx = server_ctx("server.crt", "server.key");
	port = start_tcp(h_starttls, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "STARTTLS\n", 9), 0);
	assert_int_equal(weft_start_tls(w, cctx, "localhost", 0), 0);
	assert_int_equal(s.rc, 0);
	assert_true(s.len > 0); /* the ClientHello was in the reader */
	assert_int_equal(weft_write(w, "secret\n", 7), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "secret\n");
	client_done(w);
	server_done(&srv);
	weft_tls_ctx_free(starttls_sctx);
	weft_tls_ctx_free(cctx);
}

/* ---- Abuse -------------------------------------------------------------- */

WT_CASE(keyupdate_flood_aborts)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_tls_ctx_t *cctx = client_ctx("ca.crt");
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_tls_info_t info;
	struct hs s = { 0 };
	char buf[64];
	ssize_t n = 0;
	int port, i;

	port = start_tls_server(h_echo, &s, sctx, 0, &srv);
	assert_int_equal(tls_connect(port, cctx, NULL, &r, &w), 0);
	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	for (i = 0; i < 300; i++) {
		SSL_key_update(info.ssl, SSL_KEY_UPDATE_NOT_REQUESTED);
		if (weft_write(w, "x", 1) != 0)
			break;
	}
	/* The server gives up on us: its echo stops short of 300 bytes. */
	size_t got = 0;
	while ((n = weft_read(r, buf, sizeof(buf))) > 0)
		got += (size_t)n;
	assert_true(got < 300);
	/* A reset, or an EOF without close_notify. */
	assert_true(n <= 0);
	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	assert_int_equal(info.eof_clean, 0);
	/* The server dropped the connection (before or after its handler
	 * started: the flood may come before the fiber first runs). */
	for (i = 0; i < 400 && weft_server_connections(srv) > 0; i++)
		weft_sleep(5);
	assert_int_equal(weft_server_connections(srv), 0);
	assert_true(!s.started || (s.done && s.rc != 0));
	client_done(w);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

/* ---- Many at once ------------------------------------------------------- */

/* 1000 handshakes; 100 under valgrind (a stretched time limit). */
#define NHS 1000
static int
nhs(void)
{
	return getenv("WEFT_TEST_TIMEOUT_MULT") != NULL ? NHS / 10 : NHS;
}

struct many {
	weft_tls_ctx_t *ctx;
	int port;
	int ok;
	int failed;
};

static void
one_client(void *arg)
{
	struct many *m = arg;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;

	if (tls_connect(m->port, m->ctx, NULL, &r, &w) != 0) {
		m->failed++;
		return;
	}
	if (weft_write(w, "x\n", 2) == 0 && weft_readline(r, &line) == 0 &&
	    line.len == 2)
		m->ok++;
	else
		m->failed++;
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
}

WT_CASE(many_concurrent_handshakes)
{
	weft_tls_ctx_t *sctx = server_ctx("server.crt", "server.key");
	weft_server_t *srv;
	static weft_fiber_t *f[NHS];
	struct many m = { 0 };
	static struct hs s;
	int i;

	m.ctx = client_ctx("ca.crt");
	m.port = start_tls_server(h_echo_line, &s, sctx, 0, &srv);
	for (i = 0; i < nhs(); i++)
		assert_int_equal(weft_spawn(one_client, &m, &f[i]), 0);
	for (i = 0; i < nhs(); i++)
		weft_join(f[i]);
	assert_int_equal(m.failed, 0);
	assert_int_equal(m.ok, nhs());
	assert_int_equal(stats_of(srv).tls_handshakes, (uint64_t)nhs());
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(m.ctx);
}

int
main(int argc, char **argv)
{
	const char *srcdir = getenv("srcdir");
	char cmd[512];
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-tls-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(certdir, sizeof(certdir), "%s/certs", tmpdir);
	snprintf(cmd, sizeof(cmd), "sh %s/tests/tls/mkcerts.sh %s",
	    srcdir != NULL ? srcdir : ".", certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_tls: %s failed\n", cmd);
		return 1;
	}
	WT_TIMEOUT(120);
	rc = wt_run_cases(argc, argv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
