/*
 * asyncio's streams over TLS, as CPython's test_streams.py checks them,
 * in C on libweft: an HTTPS request over TCP and over a UNIX socket with
 * a client that verifies nothing, start_tls on both ends of a plain
 * connection, and what get_extra_info reports on a TLS connection.
 * Where weft answers differently from asyncio on purpose, the case
 * asserts weft's answer and says so.  Certificates come from
 * tests/tls/mkcerts.sh, run once into a temporary directory.
 */
#include <string.h>
#include <unistd.h>

#include "net_util.h"

static char certdir[128];

/* The body CPython's test HTTP server answers every request with. */
#define TEST_MESSAGE "Test message"

static void
path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", certdir, name);
}

static weft_tls_ctx_t *
server_ctx(void)
{
	char c[192], k[192];
	weft_tls_cert_t cert = { 0 };
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *ctx = NULL;

	path_of(c, sizeof(c), "server.crt");
	path_of(k, sizeof(k), "server.key");
	cert.cert = c;
	cert.key = k;
	o.server = 1;
	o.certs = &cert;
	o.ncerts = 1;
	assert_int_equal(weft_tls_ctx_new(&o, &ctx), 0);
	return ctx;
}

/*
 * asyncio's test client context: certificates are not checked.  Its
 * trust store is a CA that signed nothing here, so a verifying context
 * would fail the handshake: any success below proves nothing was checked.
 */
static weft_tls_ctx_t *
unverified_client_ctx(void)
{
	char c[192];
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *ctx = NULL;

	path_of(c, sizeof(c), "ca2.crt");
	o.ca_file = c;
	o.verify = WEFT_TLS_VERIFY_NONE;
	assert_int_equal(weft_tls_ctx_new(&o, &ctx), 0);
	return ctx;
}

/* The "%p" text weft_extra_info gives for "sslcontext" of ctx. */
static void
ctx_text(weft_tls_ctx_t *ctx, char *buf, size_t size)
{
	snprintf(buf, size, "%p", weft_tls_ctx_ossl(ctx));
}

/* One HTTP request's headers, then a fixed response, then return. */
static void
h_http(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	static const char resp[] = "HTTP/1.0 200 OK\r\n"
				   "Content-Type: text/plain\r\n"
				   "\r\n" TEST_MESSAGE;
	struct hs *s = arg;
	weft_slice_t head;

	s->started = 1;
	s->rc = weft_readuntil(r, "\r\n\r\n", 4, &head);
	if (s->rc == 0) {
		weft_write(w, resp, sizeof(resp) - 1);
		s->rc = weft_drain(w);
	}
	s->done = 1;
}

static weft_server_stats_t
stats_of(weft_server_t *srv)
{
	weft_server_stats_t st;

	memset(&st, 0, sizeof(st));
	weft_server_stats(srv, &st, sizeof(st));
	return st;
}

/*
 * The shared body of the two no_loop_ssl tests: a GET, then everything
 * up to EOF, which ends with the blank line and the test message.
 * (CPython also unsets the event loop after connecting, to show the
 * streams keep their own; a weft stream has no loop argument to lose.)
 */
static void
get_test_message(weft_reader_t *r, weft_writer_t *w)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	static const char tail[] = "\r\n\r\n" TEST_MESSAGE;
	weft_slice_t all;

	assert_int_equal(weft_write(w, req, sizeof(req) - 1), 0);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_true(all.len >= sizeof(tail) - 1);
	assert_memory_equal(all.base + all.len - (sizeof(tail) - 1), tail,
	    sizeof(tail) - 1);
	client_done(w);
}

/* ---- test_open_connection_no_loop_ssl ----------------------------------- */

WT_CASE(open_connection_no_loop_ssl)
{
	weft_tls_ctx_t *sctx = server_ctx();
	weft_tls_ctx_t *cctx = unverified_client_ctx();
	weft_stream_opts_t sopts = { 0 }, copts = { 0 };
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	struct hs s = { 0 };

	sopts.ssl = sctx;
	assert_int_equal(weft_start_server(h_http, &s, LOCALHOST, 0, &sopts,
			     &srv),
	    0);
	copts.ssl = cctx;
	assert_int_equal(weft_open_connection(LOCALHOST, weft_server_port(srv),
			     &copts, &r, &w),
	    0);
	get_test_message(r, w);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, 0);
	/* CPython: no error reached the loop's exception handler. */
	assert_int_equal(stats_of(srv).tls_failed, 0);
	assert_int_equal(stats_of(srv).tls_handshakes, 1);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

/* ---- test_open_unix_connection_no_loop_ssl ------------------------------ */

/* Over a UNIX socket there is no host name: server_hostname "" sends no
 * SNI and checks no name, as asyncio requires for this case. */
WT_CASE(open_unix_connection_no_loop_ssl)
{
	weft_tls_ctx_t *sctx = server_ctx();
	weft_tls_ctx_t *cctx = unverified_client_ctx();
	weft_stream_opts_t sopts = { 0 }, copts = { 0 };
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_tls_info_t info;
	struct hs s = { 0 };
	char path[128];

	unix_path(path, sizeof(path), "https.sock");
	sopts.ssl = sctx;
	assert_int_equal(weft_start_unix_server(h_http, &s, path, &sopts, &srv),
	    0);
	copts.ssl = cctx;
	copts.server_hostname = "";
	assert_int_equal(weft_open_unix_connection(path, &copts, &r, &w), 0);
	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	assert_string_equal(info.server_name, "");
	get_test_message(r, w);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, 0);
	assert_int_equal(stats_of(srv).tls_failed, 0);
	assert_int_equal(stats_of(srv).tls_handshakes, 1);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

/* ---- test_start_tls ----------------------------------------------------- */

static weft_tls_ctx_t *starttls_sctx;

/*
 * The server's half: echo a line in the clear, upgrade, echo a line over
 * TLS, close.  s->len counts the sslcontext checks that held.
 */
static void
h_start_tls(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t line;
	char buf[64];

	s->started = 1;
	if ((s->rc = weft_readline(r, &line)) != 0)
		goto out;
	weft_write(w, line.base, line.len);
	if ((s->rc = weft_drain(w)) != 0)
		goto out;
	if (weft_extra_info(w, "sslcontext", buf, sizeof(buf)) == -ENOENT)
		s->len++;
	if ((s->rc = weft_start_tls(w, starttls_sctx, NULL, 0)) != 0)
		goto out;
	if (weft_extra_info(w, "sslcontext", buf, sizeof(buf)) > 0)
		s->len++;
	if ((s->rc = weft_readline(r, &line)) != 0)
		goto out;
	weft_write(w, line.base, line.len);
	s->rc = weft_drain(w);
	weft_close(w);
	weft_wait_closed(w);
out:
	s->done = 1;
}

WT_CASE(start_tls)
{
	weft_tls_ctx_t *cctx = unverified_client_ctx();
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	struct hs s = { 0 };
	char buf[64];
	int port;

	starttls_sctx = server_ctx();
	port = start_tcp(h_start_tls, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "hello world 1!\n", 15), 0);
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "hello world 1!\n");
	assert_int_equal(weft_extra_info(w, "sslcontext", buf, sizeof(buf)),
	    -ENOENT);
	assert_int_equal(weft_start_tls(w, cctx, NULL, 0), 0);
	assert_true(weft_extra_info(w, "sslcontext", buf, sizeof(buf)) > 0);
	assert_int_equal(weft_write(w, "hello world 2!\n", 15), 0);
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "hello world 2!\n");
	client_done(w);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.len,
	    2); /* the server's sslcontext: none, then one */
	server_done(&srv);
	weft_tls_ctx_free(starttls_sctx);
	weft_tls_ctx_free(cctx);
}

/* ---- What a client that checks nothing sees ----------------------------- */

static void
extra_info_unverified(weft_writer_t *w, weft_tls_ctx_t *cctx)
{
	weft_tls_info_t info;
	char buf[4096], want[64];

	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	ctx_text(cctx, want, sizeof(want));
	assert_true(weft_extra_info(w, "sslcontext", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want);
	/* asyncio gives {} as the peer certificate when it checked none;
	 * weft reports the certificate the server sent all the same, and
	 * verify_result says it was not trusted (our trust store is a CA
	 * that did not sign it). */
	assert_true(info.peer_cert);
	assert_true(weft_extra_info(w, "peercert", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "-----BEGIN CERTIFICATE-----"));
	assert_int_not_equal(info.verify_result, 0);
	/* asyncio's cipher is a (name, version, bits) tuple: weft gives the
	 * name, and the version through "tls_version". */
	assert_true(weft_extra_info(w, "cipher", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, info.cipher);
	/* No compression: asyncio's None is weft's empty text. */
	assert_int_equal(weft_extra_info(w, "compression", buf, sizeof(buf)),
	    0);
	snprintf(want, sizeof(want), "%p", info.ssl);
	assert_true(weft_extra_info(w, "ssl_object", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want);
	assert_true(weft_extra_info(w, "peername", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, LOCALHOST ":"));
}

WT_CASE(case_134_ssl_client_cert_none)
{
	weft_tls_ctx_t *sctx = server_ctx();
	weft_tls_ctx_t *cctx = unverified_client_ctx();
	weft_stream_opts_t sopts = { 0 }, copts = { 0 };
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	struct hs s = { 0 };

	sopts.ssl = sctx;
	assert_int_equal(weft_start_server(h_echo, &s, LOCALHOST, 0, &sopts,
			     &srv),
	    0);
	copts.ssl = cctx;
	assert_int_equal(weft_open_connection(LOCALHOST, weft_server_port(srv),
			     &copts, &r, &w),
	    0);
	extra_info_unverified(w, cctx);
	/* asyncio: can_write_eof() is False and write_eof() raises
	 * NotImplementedError.  weft says 0 and -ENOTSUP, and the
	 * connection is unharmed. */
	assert_int_equal(weft_can_write_eof(w), 0);
	assert_int_equal(weft_write_eof(w), -ENOTSUP);
	assert_int_equal(weft_write(w, "echo me\n", 8), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "echo me\n");
	client_done(w);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, 0);
	server_done(&srv);
	weft_tls_ctx_free(sctx);
	weft_tls_ctx_free(cctx);
}

/* ---- start_tls: what the client sees change ----------------------------- */

WT_CASE(case_135_start_tls_upgrades_in_place)
{
	weft_tls_ctx_t *cctx = unverified_client_ctx();
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	weft_tls_info_t info;
	struct hs s = { 0 };
	char buf[64], want[64];
	int port, fd;

	starttls_sctx = server_ctx();
	port = start_tcp(h_start_tls, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "plain line\n", 11), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "plain line\n");
	assert_int_equal(weft_extra_info(w, "sslcontext", buf, sizeof(buf)),
	    -ENOENT);
	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), -ENOENT);
	fd = weft_fileno(w);
	assert_int_equal(weft_start_tls(w, cctx, NULL, 0), 0);
	/* asyncio hands the writer a new transport object; weft keeps the
	 * same reader and writer (and socket) and changes what is under
	 * them, so the change shows in what they report. */
	ctx_text(cctx, want, sizeof(want));
	assert_true(weft_extra_info(w, "sslcontext", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want);
	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	assert_string_equal(info.version, "TLSv1.3");
	assert_int_equal(weft_fileno(w), fd);
	assert_ptr_equal(weft_writer_reader(w), r);
	assert_int_equal(weft_write(w, "tls line\n", 9), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "tls line\n");
	client_done(w);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, 0);
	server_done(&srv);
	weft_tls_ctx_free(starttls_sctx);
	weft_tls_ctx_free(cctx);
}

/* Reads and never answers: a peer that does not speak TLS back. */
static void
h_silent(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	(void)w;
	s->started = 1;
	while (weft_read(r, iobuf, sizeof(iobuf)) > 0)
		;
	s->done = 1;
}

/*
 * A handshake that never completes ends at its timeout with
 * -ECONNABORTED (asyncio aborts it with ConnectionAbortedError), and the
 * connection is closed.
 */
WT_CASE(start_tls_handshake_timeout)
{
	weft_tls_ctx_t *cctx = unverified_client_ctx();
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	struct hs s = { 0 };
	int port;

	port = start_tcp(h_silent, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_start_tls(w, cctx, NULL, 100), -ECONNABORTED);
	assert_non_null(strstr(weft_tls_error(NULL), "timed out"));
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_TIMEOUT);
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	assert_true(wait_flag(&s.done));
	server_done(&srv);
	weft_tls_ctx_free(cctx);
}

int
main(int argc, char **argv)
{
	const char *srcdir = getenv("srcdir");
	char cmd[512];
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-tlss-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(certdir, sizeof(certdir), "%s/certs", tmpdir);
	snprintf(cmd, sizeof(cmd), "sh %s/tests/tls/mkcerts.sh %s",
	    srcdir != NULL ? srcdir : ".", certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_tls_streams: %s failed\n", cmd);
		return 1;
	}
	WT_TIMEOUT(60);
	rc = wt_run_cases(argc, argv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
