/*
 * The shipped plugins over loopback (proxy in tests/test_plugins_proxy.c,
 * helpers in tests/plugins_net_util.h): each is loaded with weftd's
 * loader, initialised with its settings, and its client_connected runs
 * as the handler of a weft_start_server listener, as a worker runs it.
 *
 * Each test body runs on the first fiber of a fresh loop (wt_run of
 * tests/harness.h, which needs only the public API: this program links
 * the shared libweft the plugins link, where internals are hidden).
 */
#include "plugins_net_util.h"

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
	    "test.conf:2: plugin \"http-hello\": setting 'header_timeout': "
	    "expected a duration of 0 or more seconds, got '-1'");
	refused("http-hello", "http-hello.so", both,
	    "test.conf:2: plugin \"http-hello\": setting 'header_timeout': must "
	    "be from 0 (no timeout) to 86400 seconds, not 100000\n"
	    "test.conf:3: plugin \"http-hello\": setting 'keepalive_timeout': "
	    "expected a duration of 0 or more seconds, got '-0.5'");
	refused("http-hello", "http-hello.so", word,
	    "test.conf:2: plugin \"http-hello\": setting 'keepalive_timeout': "
	    "expected a number, got 'soon'");
	refused("http-hello", "http-hello.so", body,
	    "test.conf:2: plugin \"http-hello\": setting 'body_timeout': "
	    "expected a duration of 0 or more seconds, got '-1'\n"
	    "test.conf:3: plugin \"http-hello\": setting 'send_timeout': must "
	    "be from 0 (no timeout) to 86400 seconds, not 86401");
	refused("http-hello", "http-hello.so", send,
	    "test.conf:2: plugin \"http-hello\": setting 'send_timeout': "
	    "expected a number, got 'never'");
	refused("lines", "lines.so", idle,
	    "test.conf:2: plugin \"lines\": setting 'idle_timeout': expected a "
	    "duration of 0 or more seconds, got '-2'");
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
