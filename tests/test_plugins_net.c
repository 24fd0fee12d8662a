/*
 * The four shipped plugins over loopback: each is loaded with weftd's
 * loader, initialised with its settings, and its client_connected runs
 * as the handler of a weft_start_server listener, as a worker runs it.
 *
 * Each test body runs on the first fiber of a fresh loop (wt_run of
 * tests/harness.h, which needs only the public API: this program links
 * the shared libweft the plugins link, where internals are hidden).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/server.h>
#include <weft/stream.h>

#include "config.h"
#include "harness.h"
#include "loader.h"

#define LOCALHOST "127.0.0.1"

static char tmpdir[64];
static char big[1 << 20]; /* never on a 64 KiB fiber stack */
static char back[1 << 20];

/* ---- Plugins ------------------------------------------------------------ */

/* A plugin stanza as the config parser would build it. */
#define MAX_SETTINGS 4
struct stanza {
	struct conf_plugin cp;
	struct conf_setting set[MAX_SETTINGS];
	char path[512];
};

/*
 * Load a plugin with the settings kv: NULL, or key, value, key, value...
 * NULL.  They are text, as INI gives them, on lines 2, 3 and so on of
 * "test.conf" (the stanza is line 1).
 */
static struct plugin *
load_kv(struct stanza *st, const char *name, const char *file,
    const char *const *kv, char **cause)
{
	struct plugin *p = NULL;
	size_t i;

	memset(st, 0, sizeof(*st));
	snprintf(st->path, sizeof(st->path), "%s/%s", PLUGIN_BUILD_DIR, file);
	st->cp.name = (char *)name;
	st->cp.path = (char *)file;
	st->cp.abspath = st->path;
	st->cp.settings = st->set;
	st->cp.line = 1;
	for (i = 0; kv != NULL && kv[2 * i] != NULL; i++) {
		assert_true(i < MAX_SETTINGS);
		st->set[i].key = (char *)kv[2 * i];
		st->set[i].value = (char *)kv[2 * i + 1];
		st->set[i].type = CONF_T_STR;
		st->set[i].line = 2 + (int)i;
	}
	st->cp.nsettings = i;
	*cause = NULL;
	if (plugin_load(&st->cp, &p, cause) != 0)
		fail_msg("load: %s", *cause);
	/* A refusal leaves its text in *cause, for the caller to judge. */
	if (plugin_init(p, "test.conf", 0, cause) != 0 && *cause == NULL)
		fail_msg("init failed without a message");
	return p;
}

static struct plugin *
load(struct stanza *st, const char *name, const char *file, const char *key,
    const char *value)
{
	const char *kv[3] = { key, value, NULL };
	struct plugin *p;
	char *cause;

	p = load_kv(st, name, file, key != NULL ? kv : NULL, &cause);
	if (cause != NULL)
		fail_msg("init: %s", cause);
	return p;
}

/* Load with the settings kv (see load_kv), which init must accept. */
static struct plugin *
load_with(struct stanza *st, const char *name, const char *file,
    const char *const *kv)
{
	struct plugin *p;
	char *cause;

	p = load_kv(st, name, file, kv, &cause);
	if (cause != NULL)
		fail_msg("init: %s", cause);
	return p;
}

/* init must refuse the settings kv with exactly the text want. */
static void
refused(const char *name, const char *file, const char *const *kv,
    const char *want)
{
	struct stanza st;
	struct plugin *p;
	char *cause;

	p = load_kv(&st, name, file, kv, &cause);
	if (cause == NULL)
		fail_msg("%s: init accepted settings it should refuse", name);
	assert_string_equal(cause, want);
	free(cause);
	plugin_unload(&p);
}

/* Milliseconds on the monotonic clock. */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Serve the plugin on an ephemeral loopback port, as a worker would:
 * client_connected is the server's callback and the plugin's state its
 * argument. */
static int
serve(struct plugin *p, ssize_t limit, weft_server_t **srv)
{
	weft_stream_opts_t opts;

	memset(&opts, 0, sizeof(opts));
	opts.limit = limit;
	*srv = NULL;
	assert_int_equal(weft_start_server(p->p_desc->client_connected,
			     p->p_state, LOCALHOST, 0, &opts, srv),
	    0);
	assert_true(weft_server_port(*srv) > 0);
	return weft_server_port(*srv);
}

/* ---- Client helpers ----------------------------------------------------- */

static void
connect_tcp(int port, weft_reader_t **r, weft_writer_t **w)
{
	*r = NULL;
	*w = NULL;
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, r, w), 0);
}

static void
send_str(weft_writer_t *w, const char *s)
{
	assert_int_equal(weft_write(w, s, strlen(s)), 0);
	assert_int_equal(weft_drain(w), 0);
}

/* The next bytes from r must be exactly s. */
static void
expect(weft_reader_t *r, const char *s)
{
	char buf[1024];
	size_t n = strlen(s), got = 0;
	int rc;

	assert_true(n <= sizeof(buf));
	rc = weft_readexactly(r, buf, (ssize_t)n, &got);
	if (rc != 0)
		fail_msg("expected \"%s\": %s after %zu bytes \"%.*s\"", s,
		    weft_err_name(rc), got, (int)got, buf);
	assert_memory_equal(buf, s, n);
}

/* The peer must have closed with nothing more to read. */
static void
expect_eof(weft_reader_t *r)
{
	weft_slice_t all;
	int rc;

	rc = weft_read_all(r, 0, &all);
	if (rc != 0)
		fail_msg("expected EOF: %s", weft_err_name(rc));
	if (all.len != 0)
		fail_msg("expected EOF, got \"%.*s\"", (int)all.len, all.base);
}

static void
client_done(weft_writer_t *w)
{
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
}

static void
server_done(weft_server_t **srv)
{
	assert_int_equal(weft_server_close(*srv), 0);
	assert_int_equal(weft_server_wait_closed(*srv), 0);
	weft_server_free(srv);
}

/* Write 1 MiB of a pattern and read the same back. */
static void
roundtrip_big(weft_reader_t *r, weft_writer_t *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		big[i] = (char)(i * 7 + i / 251);
	/* No drain: weft_write buffers, so the echo can flow back while
	 * the rest is still going out. */
	assert_int_equal(weft_write(w, big, n), 0);
	assert_int_equal(weft_readexactly(r, back, (ssize_t)n, NULL), 0);
	assert_memory_equal(big, back, n);
}

/*
 * Send one byte every `every` ms, at most n times, until the server
 * answers or goes away; then the answer must be exactly want, followed
 * by the server's EOF or a reset.  The answer is looked at in the
 * reader's buffer first: a byte sent just after the server closed may
 * earn a reset, and the reader's sticky error must not hide what came
 * before it.
 */
static void
trickle_until_answered(weft_reader_t *r, weft_writer_t *w, int every, int n,
    const char *want)
{
	char got[256];
	size_t len = strlen(want);
	weft_slice_t b, all;
	int i, rc;

	assert_true(len <= sizeof(got));
	for (i = 0; i < n; i++) {
		b = weft_reader_buffer(r);
		if (b.len > 0 || weft_at_eof(r) || weft_reader_exception(r))
			break;
		(void)weft_write(w, "x", 1); /* it may fail: see above */
		weft_sleep((uint64_t)every);
	}
	if (i == n)
		fail_msg("no answer after %d bytes %d ms apart", n, every);
	/* The rest of the answer: up to 5 s. */
	for (i = 0; i < 500 && weft_reader_buffer(r).len < len &&
	     !weft_at_eof(r) && !weft_reader_exception(r);
	     i++)
		weft_sleep(10);
	b = weft_reader_buffer(r);
	if (b.len < len || memcmp(b.base, want, len) != 0)
		fail_msg("expected \"%s\", got \"%.*s\" (%s)", want, (int)b.len,
		    b.base, weft_err_name(weft_reader_exception(r)));
	if (weft_reader_exception(r) != 0) {
		assert_int_equal(b.len, len); /* nothing after it */
		return;
	}
	assert_int_equal(weft_read(r, got, len), (ssize_t)len);
	rc = weft_read_all(r, 0, &all);
	if (rc == 0 && all.len != 0)
		fail_msg("expected the end after \"%s\", got \"%.*s\"", want,
		    (int)all.len, all.base);
	if (rc != 0 && rc != -ECONNRESET)
		fail_msg("expected the end after \"%s\": %s", want,
		    weft_err_name(rc));
}

/* ---- echo --------------------------------------------------------------- */

WT_CASE(echo)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	p = load(&st, "echo", "echo.so", NULL, NULL);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	send_str(w, "hello\n");
	expect(r, "hello\n");
	send_str(w, "no newline");
	expect(r, "no newline");
	roundtrip_big(r, w, sizeof(big));
	/* The echo goes on to EOF, then returns: the connection closes. */
	send_str(w, "last");
	assert_int_equal(weft_write_eof(w), 0);
	expect(r, "last");
	expect_eof(r);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

/* ---- lines -------------------------------------------------------------- */

WT_CASE(lines)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	p = load(&st, "lines", "lines.so", NULL, NULL);
	port = serve(p, 16, &srv);
	connect_tcp(port, &r, &w);
	send_str(w, "one\n");
	expect(r, "one\n");
	send_str(w, "a\nb\nc\n");
	expect(r, "a\nb\nc\n");

	/* A long line with its '\n' in one go: refused, the next line
	 * goes on. */
	send_str(w, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
	expect(r, "ERR line too long\n");
	send_str(w, "two\n");
	expect(r, "two\n");

	/* A long line that arrives in two parts: one ERR, and its tail is
	 * not echoed as a line of its own. */
	send_str(w, "yyyyyyyyyyyyyyyyyyyy");
	expect(r, "ERR line too long\n");
	send_str(w, "yyyyy\nthree\n");
	expect(r, "three\n");

	/* Exactly at the limit is fine. */
	send_str(w, "0123456789abcdef\n");
	expect(r, "0123456789abcdef\n");

	/* A partial line at EOF is echoed, then the connection closes. */
	send_str(w, "tail");
	assert_int_equal(weft_write_eof(w), 0);
	expect(r, "tail");
	expect_eof(r);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

/* idle_timeout: a connection that sends no complete line in time is told
 * so and closed; one that keeps sending lines is not. */
static void
body_lines_idle(void *arg)
{
	static const char *const kv[] = { "idle_timeout", "0.2", NULL };
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	double t0;
	int port, i;

	(void)arg;
	p = load_with(&st, "lines", "lines.so", kv);
	port = serve(p, 0, &srv);

	/* Six lines 100 ms apart, 600 ms in all: the clock restarts at
	 * each line, so all are echoed.  Then silence: the ERR line (not
	 * before the timeout), and the close. */
	connect_tcp(port, &r, &w);
	for (i = 0; i < 6; i++) {
		weft_sleep(100);
		send_str(w, "tick\n");
		expect(r, "tick\n");
	}
	t0 = now_ms();
	expect(r, "ERR idle timeout\n");
	assert_true(now_ms() - t0 >= 100);
	expect_eof(r);
	client_done(w);

	/* A line trickled a byte every 50 ms never completes: its bytes do
	 * not restart the clock, so the answer comes while it trickles. */
	connect_tcp(port, &r, &w);
	trickle_until_answered(r, w, 50, 40, "ERR idle timeout\n");
	client_done(w);

	/* A client that connects and says nothing: the same. */
	connect_tcp(port, &r, &w);
	expect(r, "ERR idle timeout\n");
	expect_eof(r);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

/* idle_timeout with a client that sends lines and never reads their
 * echo: the connection goes once the echo has stalled for the timeout,
 * where a close would have waited for the client to read it. */
static void
body_lines_no_reader(void *arg)
{
	static const char *const kv[] = { "idle_timeout", "0.3", NULL };
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port, i, rcvbuf = 4096;

	(void)arg;
	p = load_with(&st, "lines", "lines.so", kv);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(setsockopt(weft_fileno(w), SOL_SOCKET, SO_RCVBUF,
			     &rcvbuf, sizeof(rcvbuf)),
	    0);
	/* 8 MiB of 1 KiB lines, whose echo is more than the kernel
	 * buffers (the server stops reading once its echo stalls). */
	memset(big, 'x', sizeof(big));
	for (i = 1; i <= (int)(sizeof(big) / 1024); i++)
		big[i * 1024 - 1] = '\n';
	for (i = 0; i < 8; i++)
		assert_int_equal(weft_write(w, big, sizeof(big)), 0);
	for (i = 0; i < 400 && weft_server_connections(srv) > 0; i++)
		weft_sleep(50);
	assert_int_equal(weft_server_connections(srv), 0);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

WT_TEST(lines_idle_timeout)
{
	wt_run(body_lines_idle, NULL);
	wt_run(body_lines_no_reader, NULL);
}

/* ---- http-hello --------------------------------------------------------- */

#define HDR                                                                    \
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
#define OK_KA HDR "\r\nhi\n"
#define HEAD_KA HDR "\r\n"
#define OK_CLOSE HDR "Connection: close\r\n\r\nhi\n"
#define OK_KA10 HDR "Connection: keep-alive\r\n\r\nhi\n"
#define ERR_HDR(status, len)                                                   \
	"HTTP/1.1 " status "\r\nContent-Type: text/plain\r\n"                  \
	"Content-Length: " len "\r\nConnection: close\r\n\r\n"
#define R400 ERR_HDR("400 Bad Request", "12") "Bad Request\n"
#define R431                                                                   \
	ERR_HDR("431 Request Header Fields Too Large", "32")                   \
	"Request Header Fields Too Large\n"
#define R501 ERR_HDR("501 Not Implemented", "16") "Not Implemented\n"
#define R408 ERR_HDR("408 Request Timeout", "16") "Request Timeout\n"
#define GET "GET / HTTP/1.1\r\nHost: t\r\n\r\n"

/* One connection: send each request in turn, expect each answer; if
 * closes, the server must close after the last one. */
static void
http_exchange(int port, const char *const *req, const char *const *resp,
    size_t n, int closes)
{
	weft_reader_t *r;
	weft_writer_t *w;
	size_t i;

	connect_tcp(port, &r, &w);
	for (i = 0; i < n; i++) {
		send_str(w, req[i]);
		expect(r, resp[i]);
	}
	if (closes)
		expect_eof(r);
	client_done(w);
}

/* One request, one answer, and the server closes. */
static void
http_once_closes(int port, const char *req, const char *resp)
{
	http_exchange(port, &req, &resp, 1, 1);
}

WT_CASE(http_keepalive)
{
	static const char *const req[] = {
		GET,
		"GET /again?x=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: t\r\n\r\n",
		"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n",
		/* If HEAD had sent a body, it would be read here. */
		GET,
		"GET / HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nConnection: Close\r\n\r\n",
	};
	static const char *const resp[] = {
		OK_KA,
		OK_KA,
		HEAD_KA,
		OK_KA,
		OK_KA,
		OK_CLOSE,
	};
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	int port;

	p = load(&st, "http-hello", "http-hello.so", "body", "hi\n");
	port = serve(p, 0, &srv);
	http_exchange(port, req, resp, sizeof(req) / sizeof(req[0]), 1);
	server_done(&srv);
	plugin_unload(&p);
}

WT_CASE(http_bodies_and_versions)
{
	static const char *const with_body[] = {
		"POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n"
		"hello world",
		"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
		GET,
	};
	static const char *const three_ok[] = { OK_KA, OK_KA, OK_KA };
	static const char *const http10_ka[] = {
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		GET,
	};
	static const char *const http10_ka_resp[] = { OK_KA10, OK_KA };
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	p = load(&st, "http-hello", "http-hello.so", "body", "hi\n");
	port = serve(p, 0, &srv);
	http_exchange(port, with_body, three_ok, 3, 0);

	/* A body arriving in pieces, after the head. */
	connect_tcp(port, &r, &w);
	send_str(w,
	    "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
	    "01234");
	weft_sleep(20);
	send_str(w, "567");
	weft_sleep(20);
	send_str(w, "89" GET);
	expect(r, OK_KA);
	expect(r, OK_KA);
	client_done(w);

	/* Expect: 100-continue gets the interim response first. */
	connect_tcp(port, &r, &w);
	send_str(w,
	    "POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
	    "Content-Length: 5\r\n\r\n");
	expect(r, "HTTP/1.1 100 Continue\r\n\r\n");
	send_str(w, "abcde");
	expect(r, OK_KA);
	client_done(w);

	/* Pipelined requests are answered in order. */
	connect_tcp(port, &r, &w);
	send_str(w, GET "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" GET);
	expect(r, OK_KA HEAD_KA OK_KA);
	client_done(w);

	/* HTTP/1.0: close unless asked to keep alive (no Host needed). */
	http_once_closes(port, "GET / HTTP/1.0\r\n\r\n", OK_CLOSE);
	http_exchange(port, http10_ka, http10_ka_resp, 2, 0);
	/* HEAD with Connection: close: the head, then the close. */
	http_once_closes(port,
	    "HEAD / HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n",
	    HDR "Connection: close\r\n\r\n");
	server_done(&srv);
	plugin_unload(&p);
}

WT_CASE(http_errors)
{
	static const char *const bad[] = {
		"GARBAGE\r\n\r\n",
		"GET /\r\nHost: t\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
		"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: t\r\n\r\n",
		"G(T / HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET / http/1.1\r\nHost: t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
		"GET / HTTP/1.1\r\n: t\r\nHost: t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\nHost: t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\rx\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
		"Content-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: "
		"99999999999999999999\r\n\r\n",
	};
	static const char *const good_then_bad[] = { GET, "BAD\r\n\r\n" };
	static const char *const good_then_bad_resp[] = {
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		"Content-Length: 14\r\n\r\nHello, world!\n",
		R400,
	};
	char huge[1100];
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	size_t i;
	int port;

	/* No settings: the default body. */
	p = load(&st, "http-hello", "http-hello.so", NULL, NULL);
	port = serve(p, 512, &srv);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		http_once_closes(port, bad[i], R400);
	http_exchange(port, good_then_bad, good_then_bad_resp, 2, 1);

	/* Transfer-Encoding is not implemented: 501 and close. */
	http_once_closes(port,
	    "POST / HTTP/1.1\r\nHost: t\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n",
	    R501);

	/* A head over the listener's limit (512): 431 and close. */
	snprintf(huge, sizeof(huge), "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(huge + strlen(huge), 'b', 1000 - strlen(huge));
	huge[1000] = '\0';
	http_once_closes(port, huge, R431);

	/* EOF in the middle of a head: closed without an answer. */
	connect_tcp(port, &r, &w);
	send_str(w, "GET / HT");
	assert_int_equal(weft_write_eof(w), 0);
	expect_eof(r);
	client_done(w);

	/* Empty lines before a request are ignored. */
	http_once_closes(port,
	    "\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 14\r\nConnection: close\r\n\r\nHello, world!\n");
	server_done(&srv);
	plugin_unload(&p);
}

/* Send s in pieces of `piece` bytes, `gap` ms apart. */
static void
send_slowly(weft_writer_t *w, const char *s, size_t piece, int gap)
{
	size_t n = strlen(s), k;

	while (n > 0) {
		k = n < piece ? n : piece;
		assert_int_equal(weft_write(w, s, k), 0);
		assert_int_equal(weft_drain(w), 0);
		s += k;
		n -= k;
		if (n > 0)
			weft_sleep((uint64_t)gap);
	}
}

/*
 * header_timeout (600 ms here): a slow head that is complete in time is
 * answered; a later request's clock starts at its own first byte, not at
 * the previous response; a late head gets 408 and a close; a connection
 * that sends nothing is closed without a word.
 */
WT_CASE(http_header_timeout)
{
	static const char *const kv[] = { "body", "hi\n", "header_timeout",
		"0.6", NULL };
	/* 31 bytes: 4 pieces of 8, 100 ms apart, 300 ms in all. */
	static const char slow[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	double t0;
	int port;

	p = load_with(&st, "http-hello", "http-hello.so", kv);
	port = serve(p, 0, &srv);

	connect_tcp(port, &r, &w);
	send_slowly(w, slow, 8, 100);
	expect(r, OK_KA);
	/* Idle for longer than header_timeout (keepalive_timeout is 75 s),
	 * then another slow head: still in time, counted from its first
	 * byte. */
	weft_sleep(800);
	send_slowly(w, slow, 8, 100);
	expect(r, OK_KA);
	/* A head that stops half-way: 408 no sooner than the timeout, then
	 * the server's EOF. */
	t0 = now_ms();
	send_str(w, "GET / HTTP/1.1\r\n");
	expect(r, R408);
	assert_true(now_ms() - t0 >= 500);
	expect_eof(r);
	client_done(w);

	/* A first head trickled a byte every 50 ms: its bytes do not
	 * restart the clock, so the 408 comes while it trickles. */
	connect_tcp(port, &r, &w);
	send_str(w, "GET / HTTP/1.1\r\nX-Slow: ");
	trickle_until_answered(r, w, 50, 100, R408);
	client_done(w);

	/* Nothing at all within header_timeout of the accept: closed, no
	 * response (nothing was asked). */
	connect_tcp(port, &r, &w);
	t0 = now_ms();
	expect_eof(r);
	assert_true(now_ms() - t0 >= 500);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

/* keepalive_timeout: an idle kept-alive connection is closed without a
 * word; 0 turns keep-alive off. */
WT_CASE(http_keepalive_timeout)
{
	static const char *const kv[] = { "body", "hi\n", "keepalive_timeout",
		"0.2", NULL };
	static const char *const off[] = { "body", "hi\n", "keepalive_timeout",
		"0", "header_timeout", "0", NULL };
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	double t0;
	int port;

	p = load_with(&st, "http-hello", "http-hello.so", kv);
	port = serve(p, 0, &srv);
	/* Requests 100 ms apart keep it open. */
	connect_tcp(port, &r, &w);
	send_str(w, GET);
	expect(r, OK_KA);
	weft_sleep(100);
	send_str(w, GET);
	expect(r, OK_KA);
	/* Then idle: closed, with nothing sent, after the timeout. */
	t0 = now_ms();
	expect_eof(r);
	assert_true(now_ms() - t0 >= 100);
	client_done(w);
	/* Pipelined requests: the second one is there at once, then the
	 * idle close. */
	connect_tcp(port, &r, &w);
	send_str(w, GET GET);
	expect(r, OK_KA OK_KA);
	expect_eof(r);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);

	/* keepalive_timeout = 0: every response closes (and
	 * header_timeout = 0, no head timeout, is accepted). */
	p = load_with(&st, "http-hello", "http-hello.so", off);
	port = serve(p, 0, &srv);
	http_once_closes(port, GET, OK_CLOSE);
	http_once_closes(port,
	    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
	    "\r\n",
	    OK_CLOSE);
	server_done(&srv);
	plugin_unload(&p);
}

/*
 * body_timeout (500 ms here) bounds each wait for the body, not the
 * body: one trickled 2 bytes every 200 ms (longer than the timeout in
 * all) is read and answered; one that stops half-way gets 408 and a
 * close.  The test's own waits end at a deadline, so that a server that
 * never times out fails the test instead of hanging it.
 */
WT_CASE(http_body_timeout)
{
	static const char *const kv[] = { "body", "hi\n", "body_timeout", "0.5",
		NULL };
	static const char head8[] = "POST / HTTP/1.1\r\nHost: t\r\n"
				    "Content-Length: 8\r\n\r\n";
	static const char head100[] = "POST / HTTP/1.1\r\nHost: t\r\n"
				      "Content-Length: 100\r\n\r\n";
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	double t0;
	int port;

	p = load_with(&st, "http-hello", "http-hello.so", kv);
	port = serve(p, 0, &srv);

	connect_tcp(port, &r, &w);
	send_str(w, head8);
	send_slowly(w, "abcdefgh", 2, 200);
	expect(r, OK_KA);
	/* A stalled body: 408 no sooner than the timeout, then the end. */
	t0 = now_ms();
	send_str(w, head100);
	send_str(w, "0123456789");
	assert_int_equal(weft_deadline_set(10000), 0);
	expect(r, R408);
	expect_eof(r);
	weft_deadline_clear();
	assert_true(now_ms() - t0 >= 400);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

/* An 8 MiB response body: more than the kernel buffers for a client that
 * does not read (its receive buffer is made small, too). */
#define SEND_BODY (8 << 20)

/*
 * send_timeout (1 s here): a client that asks for a large response and
 * never reads is disconnected, with the rest of the response dropped;
 * before, the response sat in the writer's buffer and the connection
 * stayed open for as long as the client did.  A client that reads gets
 * all of it.
 */
WT_CASE(http_send_timeout)
{
	const char *kv[5] = { "body", NULL, "send_timeout", "1", NULL };
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t sl;
	char *body;
	size_t got = 0;
	ssize_t n;
	int port, i, rcvbuf = 4096;

	assert_non_null(body = malloc(SEND_BODY + 1));
	memset(body, 'x', SEND_BODY);
	body[SEND_BODY] = '\0';
	kv[1] = body;
	p = load_with(&st, "http-hello", "http-hello.so", kv);
	free(body);
	port = serve(p, 0, &srv);

	connect_tcp(port, &r, &w);
	assert_int_equal(setsockopt(weft_fileno(w), SOL_SOCKET, SO_RCVBUF,
			     &rcvbuf, sizeof(rcvbuf)),
	    0);
	send_str(w, GET);
	/* Read nothing; the server must let go of the connection.  Up to
	 * 20 s, for slow (sanitizer, valgrind) builds. */
	for (i = 0; i < 400 && weft_server_connections(srv) > 0; i++)
		weft_sleep(50);
	assert_int_equal(weft_server_connections(srv), 0);
	client_done(w);

	/* A client that reads gets the whole response, then the close. */
	connect_tcp(port, &r, &w);
	send_str(w,
	    "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
	    "\r\n");
	assert_int_equal(weft_deadline_set(20000), 0);
	while ((n = weft_read_slice(r, 65536, &sl)) > 0)
		got += (size_t)n;
	weft_deadline_clear();
	assert_int_equal(n, 0);
	assert_true(got > SEND_BODY);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

/* Timeout settings out of range, or not numbers, are refused with the
 * setting's line. */
WT_TEST(timeout_settings_refused)
{
	static const char *const neg[] = { "header_timeout", "-1", NULL };
	static const char *const both[] = { "header_timeout", "100000",
		"keepalive_timeout", "-0.5", NULL };
	static const char *const word[] = { "keepalive_timeout", "soon", NULL };
	static const char *const idle[] = { "idle_timeout", "-2", NULL };
	static const char *const body[] = { "body_timeout", "-1",
		"send_timeout", "86401", NULL };
	static const char *const send[] = { "send_timeout", "never", NULL };

	refused("http-hello", "http-hello.so", neg,
	    "test.conf:2: plugin http-hello: setting 'header_timeout': "
	    "expected a duration of 0 or more seconds, got '-1'");
	refused("http-hello", "http-hello.so", both,
	    "test.conf:2: plugin http-hello: setting 'header_timeout': must "
	    "be from 0 (no timeout) to 86400 seconds, not 100000\n"
	    "test.conf:3: plugin http-hello: setting 'keepalive_timeout': "
	    "expected a duration of 0 or more seconds, got '-0.5'");
	refused("http-hello", "http-hello.so", word,
	    "test.conf:2: plugin http-hello: setting 'keepalive_timeout': "
	    "expected a number, got 'soon'");
	refused("http-hello", "http-hello.so", body,
	    "test.conf:2: plugin http-hello: setting 'body_timeout': "
	    "expected a duration of 0 or more seconds, got '-1'\n"
	    "test.conf:3: plugin http-hello: setting 'send_timeout': must "
	    "be from 0 (no timeout) to 86400 seconds, not 86401");
	refused("http-hello", "http-hello.so", send,
	    "test.conf:2: plugin http-hello: setting 'send_timeout': "
	    "expected a number, got 'never'");
	refused("lines", "lines.so", idle,
	    "test.conf:2: plugin lines: setting 'idle_timeout': expected a "
	    "duration of 0 or more seconds, got '-2'");
}

/* ---- proxy -------------------------------------------------------------- */

/* The upstream: echo to EOF, then one more line after the client's
 * half-close, then close. */
struct upstream {
	int conns;
	int saw_eof;
};

static void
h_upstream(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct upstream *u = arg;
	weft_slice_t s;
	ssize_t n;

	u->conns++;
	while ((n = weft_read_slice(r, 65536, &s)) > 0)
		if (weft_write(w, s.base, s.len) != 0 || weft_drain(w) != 0)
			return;
	if (n == 0) {
		u->saw_eof++;
		weft_write(w, "bye\n", 4);
	}
}

/* Through the proxy at port: echo, 1 MiB both ways, half-close. */
static void
proxy_session(int port, struct upstream *u)
{
	weft_reader_t *r;
	weft_writer_t *w;
	int eofs = u->saw_eof;

	connect_tcp(port, &r, &w);
	send_str(w, "ping\n");
	expect(r, "ping\n");
	roundtrip_big(r, w, sizeof(big));
	/* Half-close: our EOF reaches the upstream, which still answers;
	 * its close then reaches us. */
	send_str(w, "abc");
	assert_int_equal(weft_write_eof(w), 0);
	expect(r, "abc");
	expect(r, "bye\n");
	expect_eof(r);
	assert_int_equal(u->saw_eof, eofs + 1);
	client_done(w);

	/* A client that sends nothing and shuts down at once. */
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write_eof(w), 0);
	expect(r, "bye\n");
	expect_eof(r);
	assert_int_equal(u->saw_eof, eofs + 2);
	client_done(w);
}

WT_CASE(proxy_tcp)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	char addr[64];
	int port;

	memset(&u, 0, sizeof(u));
	up = NULL;
	assert_int_equal(weft_start_server(h_upstream, &u, LOCALHOST, 0, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, weft_server_port(up));
	p = load(&st, "proxy", "proxy.so", "upstream", addr);
	port = serve(p, 0, &srv);
	proxy_session(port, &u);
	assert_int_equal(u.conns, 2);
	server_done(&srv);
	server_done(&up);
	plugin_unload(&p);
}

WT_CASE(proxy_unix)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	char path[128], addr[160];
	int port;

	memset(&u, 0, sizeof(u));
	snprintf(path, sizeof(path), "%s/up.sock", tmpdir);
	up = NULL;
	assert_int_equal(weft_start_unix_server(h_upstream, &u, path, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	p = load(&st, "proxy", "proxy.so", "upstream", addr);
	port = serve(p, 0, &srv);
	proxy_session(port, &u);
	server_done(&srv);
	server_done(&up);
	plugin_unload(&p);
}

/* Nothing listens upstream: the client is closed. */
WT_CASE(proxy_upstream_down)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *gone, *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	char addr[128];
	int port, rc;

	/* A port that was just free: bind, note it, close. */
	gone = NULL;
	assert_int_equal(weft_start_server(h_upstream, NULL, LOCALHOST, 0, NULL,
			     &gone),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST,
	    weft_server_port(gone));
	server_done(&gone);
	p = load(&st, "proxy", "proxy.so", "upstream", addr);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	rc = weft_read_all(r, 0, &all);
	assert_true(rc == 0 || rc == -ECONNRESET);
	if (rc == 0)
		assert_int_equal(all.len, 0);
	client_done(w);

	/* Same for a UNIX path with nothing behind it. */
	server_done(&srv);
	plugin_unload(&p);
	snprintf(addr, sizeof(addr), "unix:%s/nobody.sock", tmpdir);
	p = load(&st, "proxy", "proxy.so", "upstream", addr);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	rc = weft_read_all(r, 0, &all);
	assert_true(rc == 0 || rc == -ECONNRESET);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

/* An upstream that speaks first: six ticks 100 ms apart, then close. */
static void
h_ticker(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	int i;

	(void)r;
	(void)arg;
	for (i = 0; i < 6; i++) {
		weft_sleep(100);
		if (weft_write(w, "t\n", 2) != 0 || weft_drain(w) != 0)
			return;
	}
}

/* idle_timeout: a pair with no byte moving either way is closed; bytes in
 * one direction only keep it open. */
static void
body_proxy_idle(void *arg)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char addr[64];
	const char *kv[5] = { "upstream", addr, "idle_timeout", "0.3", NULL };
	double t0;
	int port, i;

	(void)arg;
	memset(&u, 0, sizeof(u));
	up = NULL;
	assert_int_equal(weft_start_server(h_upstream, &u, LOCALHOST, 0, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, weft_server_port(up));
	p = load_with(&st, "proxy", "proxy.so", kv);
	port = serve(p, 0, &srv);
	/* Exchanges 150 ms apart, 750 ms in all, then silence: closed, not
	 * before the timeout. */
	connect_tcp(port, &r, &w);
	for (i = 0; i < 5; i++) {
		weft_sleep(150);
		send_str(w, "ping\n");
		expect(r, "ping\n");
	}
	t0 = now_ms();
	expect_eof(r);
	assert_true(now_ms() - t0 >= 200);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);

	/* A silent client while the upstream talks for 600 ms: every tick
	 * arrives, then the upstream's close. */
	up = NULL;
	assert_int_equal(weft_start_server(h_ticker, NULL, LOCALHOST, 0, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, weft_server_port(up));
	p = load_with(&st, "proxy", "proxy.so", kv);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	for (i = 0; i < 6; i++)
		expect(r, "t\n");
	expect_eof(r);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

/*
 * A listener that answers no SYN: listen(0) and never accept, then two
 * connects.  The first fills the accept queue; Linux drops SYNs to a
 * listener whose queue is full, so the second, and every connect after
 * it, waits in SYN-SENT through the kernel's retries (about two
 * minutes).  fds[0] is the listener, fds[1..2] the fillers.
 */
static int
black_hole(int fds[3])
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fds[0] = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fds[0], (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fds[0], 0), 0);
	assert_int_equal(getsockname(fds[0], (struct sockaddr *)&sin, &len), 0);
	for (i = 1; i <= 2; i++) {
		assert_true((fds[i] = socket(AF_INET,
				 SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0);
		if (connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)) != 0)
			assert_int_equal(errno, EINPROGRESS);
		weft_sleep(50); /* let the first handshake land */
	}
	return ntohs(sin.sin_port);
}

/* connect_timeout: an upstream that never answers the SYN.  With a 1 s
 * timeout the client is closed; before, it waited out the kernel's two
 * minutes of SYN retries.  The test's wait has a bound of its own. */
static void
body_proxy_connect_timeout(void *arg)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	char addr[64];
	const char *kv[5] = { "upstream", addr, "connect_timeout", "1", NULL };
	double t0;
	int fds[3], port, rc, i;

	(void)arg;
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, black_hole(fds));
	p = load_with(&st, "proxy", "proxy.so", kv);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	t0 = now_ms();
	assert_int_equal(weft_deadline_set(20000), 0);
	rc = weft_read_all(r, 0, &all);
	weft_deadline_clear();
	if (rc != 0 && rc != -ECONNRESET)
		fail_msg("expected the proxy to close: %s", weft_err_name(rc));
	assert_true(now_ms() - t0 >= 900);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
	for (i = 0; i < 3; i++)
		close(fds[i]);
}

WT_TEST(proxy_connect_timeout)
{
	static const char *const neg[] = { "upstream", "127.0.0.1:1",
		"connect_timeout", "-1", NULL };
	static const char *const word[] = { "upstream", "127.0.0.1:1",
		"connect_timeout", "later", NULL };

	wt_run(body_proxy_connect_timeout, NULL);
	refused("proxy", "proxy.so", neg,
	    "test.conf:3: plugin proxy: setting 'connect_timeout': expected "
	    "a duration of 0 or more seconds, got '-1'");
	refused("proxy", "proxy.so", word,
	    "test.conf:3: plugin proxy: setting 'connect_timeout': expected "
	    "a number, got 'later'");
}

/* An upstream that sends 8 MiB at once, then waits for the client. */
static void
h_flood(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	char *p;
	weft_slice_t s;

	(void)arg;
	if ((p = calloc(1, 8 << 20)) == NULL)
		return;
	(void)weft_write(w, p, 8 << 20);
	free(p);
	while (weft_read_slice(r, 65536, &s) > 0)
		;
}

/* idle_timeout with a client that does not read: the pair is stalled,
 * so idle, and both connections go, where a close would have waited for
 * the client to read what the proxy had queued for it. */
static void
body_proxy_idle_stalled(void *arg)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char addr[64];
	const char *kv[5] = { "upstream", addr, "idle_timeout", "0.5", NULL };
	int port, i, rcvbuf = 4096;

	(void)arg;
	up = NULL;
	assert_int_equal(weft_start_server(h_flood, NULL, LOCALHOST, 0, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, weft_server_port(up));
	p = load_with(&st, "proxy", "proxy.so", kv);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(setsockopt(weft_fileno(w), SOL_SOCKET, SO_RCVBUF,
			     &rcvbuf, sizeof(rcvbuf)),
	    0);
	send_str(w, "go\n");
	/* Up to 20 s (slow builds) for the proxy to let go. */
	for (i = 0; i < 400 &&
	     (weft_server_connections(srv) > 0 ||
		 weft_server_connections(up) > 0);
	     i++)
		weft_sleep(50);
	assert_int_equal(weft_server_connections(srv), 0);
	assert_int_equal(weft_server_connections(up), 0);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

WT_TEST(proxy_idle_timeout)
{
	static const char *const neg[] = { "upstream", "127.0.0.1:1",
		"idle_timeout", "-1", NULL };

	wt_run(body_proxy_idle, NULL);
	wt_run(body_proxy_idle_stalled, NULL);
	refused("proxy", "proxy.so", neg,
	    "test.conf:3: plugin proxy: setting 'idle_timeout': expected a "
	    "duration of 0 or more seconds, got '-1'");
}

int
main(int argc, char **argv)
{
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-plugnet-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	WT_TIMEOUT(120);
	rc = wt_run_cases(argc, argv);
	rmdir(tmpdir);
	return rc;
}
