/*
 * Streams over real sockets: the cases 116-140 of doc/semantics.md (S7)
 * that have a C meaning, over loopback TCP (127.0.0.1, and [::1] when the
 * machine has it), UNIX sockets in a private mkdtemp directory and
 * socketpairs.
 *
 * Each test body runs on the first fiber of a fresh loop (wt_run); server
 * handlers run on fibers of their own and only record what they saw, the
 * body asserts.  Every test closes its connections and its server and
 * waits for them, so the loop runs dry and wt_run returns: a test that
 * hangs fails there.  No assertion depends on timing; a sleep only gives
 * the other side a chance to act ("still pending after 100 ms").
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "harness.h"

#define LOCALHOST "127.0.0.1"
#define BIG (16 * 1024 * 1024)

/* What a server handler saw; the test body asserts on it. */
struct hs {
	int started; /* handler entered */
	int done;    /* handler about to return */
	int go;	     /* set by the body to let the handler go on */
	int rc;	     /* last result the handler got */
	int nconn;   /* handlers run */
	weft_reader_t *r;
	weft_writer_t *w;
	void *arg;
	weft_fiber_t *fiber;
	size_t total;	/* bytes received */
	size_t bad;	/* bytes that did not match the pattern */
	char data[256]; /* what the handler read */
	size_t len;
	char peer[128];
	char sock[128];
};

static char tmpdir[64];
static char iobuf[WEFT__BUF_SIZE]; /* never on a 64 KiB fiber stack */

/* ---- Helpers ------------------------------------------------------------ */

/* Let other fibers run a few times: "one or two loop iterations". */
static void
settle(void)
{
	int i;

	for (i = 0; i < 3; i++)
		weft_yield();
}

/* Wait (bounded, about 10 s) until *flag is set; returns it. */
static int
wait_flag(const int *flag)
{
	int i;

	for (i = 0; i < 2000 && !*flag; i++)
		weft_sleep(5);
	return *flag;
}

static void
unix_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int
start_tcp(weft_client_cb cb, void *arg, weft_server_t **srv)
{
	int rc;

	*srv = NULL;
	rc = weft_start_server(cb, arg, LOCALHOST, 0, NULL, srv);
	assert_int_equal(rc, 0);
	assert_true(weft_server_port(*srv) > 0);
	return weft_server_port(*srv);
}

static void
connect_tcp(int port, weft_reader_t **r, weft_writer_t **w)
{
	*r = NULL;
	*w = NULL;
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, r, w), 0);
	assert_non_null(*r);
	assert_non_null(*w);
}

/* Close a client connection, wait for it and release it. */
static void
client_done(weft_writer_t *w)
{
	assert_int_equal(weft_close(w), 0);
	weft_wait_closed(w);
	weft_stream_free(w);
}

/* Close a server, wait for its connections to end and free it. */
static void
server_done(weft_server_t **srv)
{
	assert_int_equal(weft_server_close(*srv), 0);
	assert_int_equal(weft_server_wait_closed(*srv), 0);
	weft_server_free(srv);
	assert_null(*srv);
}

static void
record_names(struct hs *s, weft_writer_t *w)
{
	if (weft_peername(w, s->peer, sizeof(s->peer)) < 0)
		strcpy(s->peer, "?");
	if (weft_sockname(w, s->sock, sizeof(s->sock)) < 0)
		strcpy(s->sock, "?");
}

/* A fiber running one waiting call, so the body can see it pending. */
struct waiter {
	weft_writer_t *w;
	weft_server_t *srv;
	int rc;
	int done;
};

static void
wait_closed_fiber(void *arg)
{
	struct waiter *wt = arg;

	wt->rc = weft_wait_closed(wt->w);
	wt->done = 1;
}

static void
drain_fiber(void *arg)
{
	struct waiter *wt = arg;

	wt->rc = weft_drain(wt->w);
	wt->done = 1;
}

static void
serve_forever_fiber(void *arg)
{
	struct waiter *wt = arg;

	wt->rc = weft_server_serve_forever(wt->srv);
	wt->done = 1;
}

static void
server_wait_closed_fiber(void *arg)
{
	struct waiter *wt = arg;

	wt->rc = weft_server_wait_closed(wt->srv);
	wt->done = 1;
}

/* ---- Handlers ----------------------------------------------------------- */

/* Echo bytes until EOF or an error. */
static void
h_echo(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	ssize_t n;

	if (s != NULL) {
		s->started = 1;
		s->nconn++;
		record_names(s, w);
	}
	while ((n = weft_read(r, iobuf, sizeof(iobuf))) > 0) {
		if (weft_write(w, iobuf, (size_t)n) != 0 || weft_drain(w) != 0)
			break;
	}
	if (s != NULL) {
		s->rc = (int)n;
		s->done = 1;
	}
}

/* Echo one line, then return (which closes the connection). */
static void
h_echo_line(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t line;

	s->started = 1;
	s->rc = weft_readline(r, &line);
	if (s->rc == 0) {
		weft_write(w, line.base, line.len);
		s->rc = weft_drain(w);
	}
	s->done = 1;
}

/* ---- 116, 117: echo and the callback's arguments ------------------------ */

WT_CASE(116_echo_line)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	char buf[16];
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo_line, &s, &srv);
	assert_int_equal(weft_server_is_serving(srv), 1);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "hello\n", 6), 0);
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "hello\n");
	/* The handler returned: its connection is closed. */
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	assert_int_equal(weft_at_eof(r), 1);
	assert_int_equal(s.rc, 0);
	client_done(w);
	server_done(&srv);
}

static weft_fiber_t *body_fiber;

static void
h_args(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	s->started = 1;
	s->r = r;
	s->w = w;
	s->arg = arg;
	s->fiber = weft_current();
	s->rc = weft_writer_reader(w) == r ? 0 : -1;
	weft_write(w, "ok", 2);
	s->done = 1;
}

WT_CASE(117_callback_gets_reader_writer)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	int port;

	memset(&s, 0, sizeof(s));
	body_fiber = weft_current();
	port = start_tcp(h_args, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_slice_equal(all, "ok");
	assert_int_equal(s.done, 1);
	assert_non_null(s.r);
	assert_non_null(s.w);
	assert_ptr_equal(s.arg, &s);
	assert_int_equal(s.rc, 0); /* the reader is the writer's reader */
	/* The handler ran on a fiber of its own. */
	assert_non_null(s.fiber);
	assert_ptr_not_equal(s.fiber, body_fiber);
	client_done(w);
	server_done(&srv);
}

/* ---- 118: get_extra_info ------------------------------------------------ */

static void
h_names(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	char c;

	record_names(s, w);
	s->started = 1;
	weft_write(w, "x", 1);
	s->rc = (int)weft_read(r, &c, 1); /* until the client closes */
	s->done = 1;
}

WT_CASE(118_extra_info)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char listen[64], peer[128], sock[128], info[128], num[16];
	int port, fd;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_names, &s, &srv);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_read(r, info, 1), 1); /* handler has run */
	assert_int_equal(s.started, 1);

	/* Client peername is the listen address; its sockname is the
	 * server side's peername. */
	assert_true(weft_peername(w, peer, sizeof(peer)) > 0);
	assert_string_equal(peer, listen);
	assert_true(weft_sockname(w, sock, sizeof(sock)) > 0);
	assert_string_equal(sock, s.peer);
	assert_string_equal(s.sock, listen);
	assert_true(strncmp(sock, "127.0.0.1:", 10) == 0);

	/* The same through get_extra_info. */
	assert_true(weft_extra_info(w, "peername", info, sizeof(info)) > 0);
	assert_string_equal(info, listen);
	assert_true(weft_extra_info(w, "sockname", info, sizeof(info)) > 0);
	assert_string_equal(info, sock);
	fd = weft_fileno(w);
	assert_true(fd >= 0);
	snprintf(num, sizeof(num), "%d", fd);
	assert_true(weft_extra_info(w, "socket", info, sizeof(info)) > 0);
	assert_string_equal(info, num);
	assert_true(weft_extra_info(w, "family", info, sizeof(info)) > 0);
	assert_string_equal(info, "AF_INET");
	/* Unknown keys (and sslcontext on a plain socket) have no value:
	 * the caller uses its default. */
	assert_int_equal(weft_extra_info(w, "nonexistent", info, sizeof(info)),
	    -ENOENT);
	assert_int_equal(weft_extra_info(w, "sslcontext", info, sizeof(info)),
	    -ENOENT);
	/* A short buffer is reported, not overrun. */
	assert_int_equal(weft_peername(w, info, 4), -ENOBUFS);
	client_done(w);
	server_done(&srv);
	assert_int_equal(s.rc, 0);
}

/* ---- 119: half-close ---------------------------------------------------- */

/* read(-1) until EOF, then reply "got:" + the request. */
static void
h_half_close(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t all;

	s->started = 1;
	s->rc = weft_read_all(r, sizeof(s->data), &all);
	if (s->rc == 0) {
		memcpy(s->data, all.base, all.len);
		s->len = all.len;
		weft_write(w, "got:", 4);
		weft_write(w, s->data, s->len);
	}
	s->done = 1;
}

WT_CASE(119_half_close)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_half_close, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "req", 3), 0);
	assert_int_equal(weft_can_write_eof(w), 1);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_write(w, "more", 4), -EPIPE);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_slice_equal(all, "got:req");
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.data, "req", 3);
	assert_int_equal(weft_at_eof(r), 1);
	assert_int_equal(weft_is_closing(w), 0);
	client_done(w);
	server_done(&srv);
}

/* ---- 120: empty write and writelines ------------------------------------ */

static void
h_line(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t line;

	(void)w;
	s->started = 1;
	s->rc = weft_readline(r, &line);
	if (s->rc == 0 && line.len <= sizeof(s->data)) {
		memcpy(s->data, line.base, line.len);
		s->len = line.len;
	}
	s->done = 1;
}

WT_CASE(120_writelines_and_empty_write)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	const weft_slice_t parts[3] = { { "a", 1 }, { "b", 1 }, { "c\n", 2 } };
	char buf[8];
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_line, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "", 0), 0);
	assert_int_equal(weft_writer_buffered(w), 0);
	assert_int_equal(weft_writev(w, parts, 3), 0);
	assert_int_equal(weft_drain(w), 0);
	/* The handler read its line and returned: EOF here. */
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.len, 4);
	assert_memory_equal(s.data, "abc\n", 4);
	client_done(w);
	server_done(&srv);
}

/* ---- 121, 122: close semantics ------------------------------------------ */

WT_CASE(121_close_semantics)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[8];
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_is_closing(w), 0);
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_is_closing(w), 1);
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(weft_wait_closed(w), 0);
	/* A write after the owner's close is an error in weft. */
	assert_int_equal(weft_write(w, "x", 1), WEFT_ECLOSED);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	assert_int_equal(weft_at_eof(r), 1);
	weft_stream_free(w);
	server_done(&srv);
	assert_int_equal(s.rc, 0); /* the server saw a clean EOF */
}

WT_CASE(122_close_write_drain)
{
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	port = start_tcp(h_echo, NULL, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_write(w, "data", 4), WEFT_ECLOSED);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	assert_int_equal(weft_wait_closed(w), 0);
	weft_stream_free(w);
	server_done(&srv);
}

/* ---- 123: the peer closes; wait_closed waits for the local close -------- */

static void
h_bye(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	(void)r;
	s->started = 1;
	s->rc = weft_write(w, "bye", 3);
	weft_close(w);
	s->done = 1;
}

WT_CASE(123_peer_close_wait_closed_pending)
{
	struct hs s;
	struct waiter wt;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_fiber_t *f = NULL;
	weft_slice_t all;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&wt, 0, sizeof(wt));
	port = start_tcp(h_bye, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_slice_equal(all, "bye");
	assert_int_equal(weft_at_eof(r), 1);
	assert_int_equal(weft_is_closing(w), 0);

	wt.w = w;
	assert_int_equal(weft_spawn(wait_closed_fiber, &wt, &f), 0);
	weft_sleep(100);
	assert_int_equal(wt.done, 0); /* the local side is still open */
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(wt.rc, 0);
	weft_stream_free(w);
	server_done(&srv);
	assert_int_equal(s.rc, 0);
}

/* ---- 124: 16 MiB against a slow reader ---------------------------------- */

static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i % 251);
}

/* Read nothing until told to, then count and check everything. */
static void
h_slow(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	ssize_t n, i;

	(void)w;
	s->started = 1;
	wait_flag(&s->go);
	while ((n = weft_read(r, iobuf, sizeof(iobuf))) > 0) {
		for (i = 0; i < n; i++)
			if ((unsigned char)iobuf[i] != pattern(s->total + i))
				s->bad++;
		s->total += (size_t)n;
	}
	s->rc = (int)n;
	s->done = 1;
}

WT_CASE(124_big_write_slow_reader)
{
	struct hs s;
	struct waiter wt;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_fiber_t *f = NULL;
	unsigned char *data;
	size_t lo, hi, i;
	char c;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&wt, 0, sizeof(wt));
	assert_non_null(data = malloc(BIG));
	for (i = 0; i < BIG; i++)
		data[i] = pattern(i);
	port = start_tcp(h_slow, &s, &srv);
	connect_tcp(port, &r, &w);
	weft_writer_get_limits(w, &lo, &hi);
	assert_int_equal(lo, 16384);
	assert_int_equal(hi, 65536);

	assert_int_equal(weft_write(w, data, BIG), 0);
	free(data); /* weft_write copied what the kernel did not take */
	assert_true(weft_writer_buffered(w) > 65536);
	assert_int_equal(w->w_paused, 1); /* pause_writing was called */
	wt.w = w;
	assert_int_equal(weft_spawn(drain_fiber, &wt, &f), 0);
	weft_sleep(200);
	assert_int_equal(wt.done, 0); /* paused: the server is not reading */
	assert_true(weft_writer_buffered(w) > 65536);

	s.go = 1;
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(wt.rc, 0);
	assert_int_equal(w->w_paused, 0);
	assert_true(weft_writer_buffered(w) <= 16384);
	/* Half-close; the handler reads to EOF and returns, closing. */
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read(r, &c, 1), 0);
	assert_int_equal(s.done, 1);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.total, BIG);
	assert_int_equal(s.bad, 0);
	client_done(w);
	server_done(&srv);
}

/* ---- 125, 126: the server object ---------------------------------------- */

WT_CASE(125_server_api)
{
	struct waiter wt;
	weft_server_t *srv;
	weft_fiber_t *f = NULL;
	int fds[4] = { -1, -1, -1, -1 };

	memset(&wt, 0, sizeof(wt));
	start_tcp(h_echo, NULL, &srv);
	assert_int_equal(weft_server_is_serving(srv), 1);
	assert_int_equal(weft_server_sockets(srv, fds, 4), 1);
	assert_true(fds[0] >= 0);

	wt.srv = srv;
	assert_int_equal(weft_spawn(serve_forever_fiber, &wt, &f), 0);
	settle();
	assert_int_equal(wt.done, 0);
	/* A second serve_forever while one waits: RuntimeError. */
	assert_int_equal(weft_server_serve_forever(srv), WEFT_EBUSY);
	assert_int_equal(wt.done, 0);

	/* Cancelling serve_forever closes the server. */
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(wt.rc, WEFT_ECANCELED);
	assert_int_equal(weft_server_is_serving(srv), 0);
	assert_int_equal(weft_server_sockets(srv, fds, 4), 0);
	/* serve_forever on a closed server: RuntimeError('... is closed'). */
	assert_int_equal(weft_server_serve_forever(srv), WEFT_ECLOSED);
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

/* The part of 126 the C API has: a closed server serves no more. */
WT_CASE(126_closed_server_not_serving)
{
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	int port;

	port = start_tcp(h_echo, NULL, &srv);
	assert_int_equal(weft_server_is_serving(srv), 1);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "ping\n", 5), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "ping\n");
	client_done(w);
	/* What "async with server:" does on exit. */
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	assert_int_equal(weft_server_is_serving(srv), 0);
	assert_int_equal(weft_server_sockets(srv, NULL, 0), 0);
	/* No socket left, so no port either. */
	assert_int_equal(weft_server_port(srv), 0);
	weft_server_free(&srv);
}

/* ---- 127: a handler that fails ------------------------------------------ */

/* The C form of a callback that raises: it gives up and returns. */
static void
h_fail(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	(void)r;
	(void)w;
	s->started = 1;
	s->done = 1;
}

WT_CASE(127_failed_handler_closes)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[8];
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_fail, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "hi\n", 3), 0);
	/* The transport was closed for it: the client reads b''. */
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	assert_int_equal(s.done, 1);
	client_done(w);
	server_done(&srv);
}

/* ---- 129: closing a server keeps its connections ------------------------ */

static void
h_echo_lines(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t line;

	s->started = 1;
	while ((s->rc = weft_readline(r, &line)) == 0 && line.len > 0) {
		weft_write(w, line.base, line.len);
		if ((s->rc = weft_drain(w)) != 0)
			break;
	}
	s->done = 1;
}

WT_CASE(129_close_keeps_connections)
{
	struct hs s;
	struct waiter wt;
	weft_server_t *srv;
	weft_reader_t *r, *r2;
	weft_writer_t *w, *w2;
	weft_fiber_t *f = NULL;
	weft_slice_t line;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&wt, 0, sizeof(wt));
	port = start_tcp(h_echo_lines, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, "1\n", 2), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "1\n");

	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_is_serving(srv), 0);
	/* The live connection still echoes. */
	assert_int_equal(weft_write(w, "2\n", 2), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "2\n");
	/* New connections are refused. */
	r2 = NULL;
	w2 = NULL;
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r2, &w2),
	    -ECONNREFUSED);
	assert_null(w2);

	/* wait_closed waits for the connection (3.12.1+). */
	wt.srv = srv;
	assert_int_equal(weft_spawn(server_wait_closed_fiber, &wt, &f), 0);
	weft_sleep(100);
	assert_int_equal(wt.done, 0);
	assert_int_equal(weft_server_connections(srv), 1);
	client_done(w);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(wt.rc, 0);
	assert_int_equal(weft_server_connections(srv), 0);
	assert_int_equal(s.done, 1);
	weft_server_free(&srv);
}

/* ---- 130: connection refused -------------------------------------------- */

WT_CASE(130_connect_refused)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	int fd, port;

	/* A port that is bound but not listening: nobody can take it
	 * meanwhile, and a connect to it is refused. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r, &w),
	    -ECONNREFUSED);
	assert_null(r);
	assert_null(w);
	close(fd);
}

/* ---- 131: the limit option of open_connection --------------------------- */

static void
h_send_lines(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	(void)r;
	s->started = 1;
	s->rc = weft_write(w, "123456\nab\n", 10);
	s->done = 1;
}

WT_CASE(131_open_connection_limit)
{
	weft_stream_opts_t opts;
	weft_read_error_t info;
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&opts, 0, sizeof(opts));
	opts.limit = 5;
	port = start_tcp(h_send_lines, &s, &srv);
	assert_int_equal(weft_open_connection(LOCALHOST, port, &opts, &r, &w),
	    0);
	assert_int_equal(weft_reader_limit(r), 5);
	/* Loopback hands the whole write over at once; wait for it so the
	 * first readline sees the complete overlong line. */
	assert_true(wait_flag(&s.done));
	assert_int_equal(weft_readline(r, &line), WEFT_ELIMIT);
	assert_int_equal(weft_reader_last_error(r, &info), WEFT_ELIMIT);
	assert_int_equal(info.found, 1);
	assert_int_equal(info.consumed, 6);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "ab\n");
	assert_int_equal(weft_readline(r, &line), 0);
	assert_int_equal(line.len, 0);
	assert_int_equal(weft_at_eof(r), 1);
	assert_int_equal(s.rc, 0);
	client_done(w);
	server_done(&srv);

	/* limit <= 0 is refused before any connection is made (0 means
	 * the default in weft's options, so -1 stands for it). */
	opts.limit = -1;
	assert_int_equal(weft_open_connection(LOCALHOST, port, &opts, &r, &w),
	    -EINVAL);
	srv = NULL;
	assert_int_equal(weft_start_server(h_echo, NULL, LOCALHOST, 0, &opts,
			     &srv),
	    -EINVAL);
	assert_null(srv);
}

/* Each accepted connection gets a fresh reader with the server's limit. */
static void
h_limit(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t line;

	s->total = weft_reader_limit(r);
	s->rc = weft_readline(r, &line);
	if (s->rc == 0)
		weft_write(w, "ok\n", 3);
	s->done = 1;
}

WT_CASE(131_server_limit)
{
	weft_stream_opts_t opts;
	weft_read_error_t info;
	struct hs s;
	weft_server_t *srv = NULL;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&opts, 0, sizeof(opts));
	opts.limit = 5;
	assert_int_equal(weft_start_server(h_limit, &s, LOCALHOST, 0, &opts,
			     &srv),
	    0);
	port = weft_server_port(srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_reader_limit(r), WEFT_LIMIT_DEFAULT);
	assert_int_equal(weft_write(w, "123456\n", 7), 0);
	assert_int_equal(weft_read_all(r, 0, &line), 0);
	assert_int_equal(line.len, 0); /* the handler's readline failed */
	assert_int_equal(s.total, 5);
	assert_int_equal(s.rc, WEFT_ELIMIT);
	assert_int_equal(weft_reader_last_error(r, &info), 0);
	client_done(w);
	server_done(&srv);
}

/* ---- 132: connection reset ---------------------------------------------- */

/* Abort with SO_LINGER {1, 0}: the close sends a RST. */
static void
h_reset(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	struct linger lg = { 1, 0 };
	int fd;

	(void)r;
	s->started = 1;
	fd = weft_fileno(w);
	if (fd < 0)
		s->rc = fd;
	else if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
		s->rc = -errno;
	weft_close(w);
	s->done = 1;
}

WT_CASE(132_connection_reset)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[8];
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_reset, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), -ECONNRESET);
	assert_int_equal(s.rc, 0);
	assert_int_equal(weft_reader_exception(r), -ECONNRESET);
	assert_int_equal(weft_wait_closed(w), -ECONNRESET);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	assert_int_equal(weft_is_closing(w), 1);
	/* Sticky: the next read reports it again. */
	assert_int_equal(weft_read(r, buf, sizeof(buf)), -ECONNRESET);
	/* S2.2 of doc/semantics.md: after the connection is lost writes are
	 * dropped silently; the error shows at drain. */
	assert_int_equal(weft_write(w, "late", 4), 0);
	assert_int_equal(weft_writer_buffered(w), 0);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	/* Once the owner has closed it, a write is WEFT_ECLOSED (S6.2 of
	 * doc/semantics.md). */
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_write(w, "late", 4), WEFT_ECLOSED);
	client_done(w);
	server_done(&srv);
}

/* ---- 133: UNIX sockets -------------------------------------------------- */

WT_CASE(133_unix_echo_names)
{
	struct hs s;
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	char path[128], buf[128];

	memset(&s, 0, sizeof(s));
	unix_path(path, sizeof(path), "names.sock");
	assert_int_equal(weft_start_unix_server(h_echo, &s, path, NULL, &srv),
	    0);
	assert_int_equal(weft_server_port(srv), 0);
	assert_int_equal(weft_server_is_serving(srv), 1);
	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w), 0);
	assert_int_equal(weft_write(w, "hello\n", 6), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "hello\n");

	/* Client: peername is the path, sockname is unnamed. */
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), (int)strlen(path));
	assert_string_equal(buf, path);
	assert_int_equal(weft_sockname(w, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_true(weft_extra_info(w, "family", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "AF_UNIX");
	assert_int_equal(weft_can_write_eof(w), 1);
	/* Server side: the other way round. */
	assert_string_equal(s.peer, "");
	assert_string_equal(s.sock, path);

	/* write_eof works on UNIX streams too. */
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	client_done(w);
	server_done(&srv);
	assert_int_equal(s.rc, 0);
}

/* Echo one line over a fresh connection to a UNIX server. */
static void
unix_echo_once(const char *path)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;

	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w), 0);
	assert_int_equal(weft_write(w, "u\n", 2), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "u\n");
	client_done(w);
}

WT_CASE(133_unix_path_removed_on_close)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	struct stat st;
	char path[128];

	unix_path(path, sizeof(path), "removed.sock");
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &srv),
	    0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	unix_echo_once(path);
	server_done(&srv);
	/* 3.13's cleanup_socket=True: the path is gone. */
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w),
	    -ENOENT);

	/* keep_socket (cleanup_socket=False) leaves it behind. */
	memset(&opts, 0, sizeof(opts));
	opts.keep_socket = 1;
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, &opts,
			     &srv),
	    0);
	server_done(&srv);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w),
	    -ECONNREFUSED);
	assert_int_equal(unlink(path), 0);
}

WT_CASE(133_unix_stale_socket_replaced)
{
	struct sockaddr_un sun;
	weft_server_t *srv = NULL;
	struct stat st;
	char path[128];
	int fd;

	unix_path(path, sizeof(path), "stale.sock");
	/* A socket file left by a process that died. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &srv),
	    0);
	unix_echo_once(path);
	server_done(&srv);
	assert_int_equal(lstat(path, &st), -1);
}

WT_CASE(133_unix_regular_file_in_use)
{
	weft_server_t *srv = NULL;
	struct stat st;
	char path[128];
	int fd;

	unix_path(path, sizeof(path), "regular");
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &srv),
	    -EADDRINUSE);
	assert_null(srv);
	/* The file is not ours: left alone. */
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
	assert_int_equal(unlink(path), 0);
}

/*
 * 3.13 removes the path on close only if it is still the socket the
 * server bound: a newer server that took the path over keeps it.
 */
WT_CASE(133_unix_close_keeps_replaced_path)
{
	weft_server_t *old = NULL, *new = NULL;
	struct stat st;
	char path[128];

	unix_path(path, sizeof(path), "replaced.sock");
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &old),
	    0);
	/* The path is a socket file: a new server replaces it. */
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &new),
	    0);
	server_done(&old);
	assert_int_equal(lstat(path, &st), 0);
	unix_echo_once(path);
	server_done(&new);
	assert_int_equal(lstat(path, &st), -1);
}

/* ---- 139: wait_closed is cancellation-safe (Q3 fixed) ------------------- */

WT_CASE(139_wait_closed_cancel_safe)
{
	struct waiter a, b;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_fiber_t *fa = NULL, *fb = NULL;
	int port;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	port = start_tcp(h_echo, NULL, &srv);
	connect_tcp(port, &r, &w);
	a.w = b.w = w;
	assert_int_equal(weft_spawn(wait_closed_fiber, &a, &fa), 0);
	assert_int_equal(weft_spawn(wait_closed_fiber, &b, &fb), 0);
	settle();
	assert_int_equal(a.done, 0);
	assert_int_equal(b.done, 0);

	assert_int_equal(weft_cancel(fa), 0);
	assert_int_equal(weft_join(fa), 0);
	assert_int_equal(a.rc, WEFT_ECANCELED);
	/* Only the cancelled caller saw it. */
	settle();
	assert_int_equal(b.done, 0);

	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_join(fb), 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(weft_wait_closed(w), 0);
	weft_stream_free(w);
	server_done(&srv);
}

/* ---- 140: close_clients ------------------------------------------------- */

WT_CASE(140_close_clients)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_true(wait_flag(&s.started));
	assert_int_equal(weft_server_connections(srv), 1);

	assert_int_equal(weft_server_close(srv), 0);
	weft_server_close_clients(srv);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	assert_int_equal(weft_server_connections(srv), 0);
	assert_int_equal(s.done, 1);
	assert_int_equal(s.rc, 0); /* the handler's read saw EOF */
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_int_equal(all.len, 0);
	assert_int_equal(weft_at_eof(r), 1);
	client_done(w);
	weft_server_free(&srv);
}

/* ---- Close flushes, write_eof flushes ----------------------------------- */

#define FLUSH_LEN (4 * 1024 * 1024)

/* Write a lot, then return at once: weft's close must flush it all. */
static void
h_write_and_return(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	unsigned char *p;
	size_t i;

	(void)r;
	s->started = 1;
	if ((p = malloc(FLUSH_LEN)) == NULL) {
		s->rc = -ENOMEM;
		s->done = 1;
		return;
	}
	for (i = 0; i < FLUSH_LEN; i++)
		p[i] = pattern(i);
	s->rc = weft_write(w, p, FLUSH_LEN);
	free(p);
	s->done = 1;
}

/* Read everything up to EOF into s->total/s->bad; returns the last rc. */
static ssize_t
count_to_eof(weft_reader_t *r, struct hs *s)
{
	ssize_t n, i;

	while ((n = weft_read(r, iobuf, sizeof(iobuf))) > 0) {
		for (i = 0; i < n; i++)
			if ((unsigned char)iobuf[i] != pattern(s->total + i))
				s->bad++;
		s->total += (size_t)n;
	}
	return n;
}

WT_CASE(close_flushes_buffered_data)
{
	struct hs s, got;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&got, 0, sizeof(got));
	port = start_tcp(h_write_and_return, &s, &srv);
	connect_tcp(port, &r, &w);
	/* Let the handler return (and close) before anything is read. */
	assert_true(wait_flag(&s.done));
	weft_sleep(50);
	assert_int_equal(s.rc, 0);
	assert_int_equal(count_to_eof(r, &got), 0);
	assert_int_equal(got.total, FLUSH_LEN);
	assert_int_equal(got.bad, 0);
	assert_int_equal(weft_reader_exception(r), 0);
	client_done(w);
	server_done(&srv);
}

/* Count what arrives until EOF, then report the count as a line. */
static void
h_count(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	char line[32];
	int n;

	s->started = 1;
	s->rc = (int)count_to_eof(r, s);
	n = snprintf(line, sizeof(line), "%zu\n", s->total);
	weft_write(w, line, (size_t)n);
	s->done = 1;
}

WT_CASE(write_eof_flushes_buffered_data)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	unsigned char *p;
	size_t i;
	int port;

	memset(&s, 0, sizeof(s));
	assert_non_null(p = malloc(FLUSH_LEN));
	for (i = 0; i < FLUSH_LEN; i++)
		p[i] = pattern(i);
	port = start_tcp(h_count, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, p, FLUSH_LEN), 0);
	free(p);
	/* No drain: the shutdown must wait for the buffered bytes. */
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_write(w, "x", 1), -EPIPE);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "4194304\n");
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.bad, 0);
	client_done(w);
	server_done(&srv);
}

/* ---- Many small writes, both directions backed up ----------------------- */

#define NLINES 100000

/* Small kernel buffers (no autotuning), so that backlogs show in weft. */
static void
small_socket_buffers(weft_writer_t *w)
{
	int fd = weft_fileno(w), sz = 16384;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static void
h_echo_lines_small(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	small_socket_buffers(w);
	h_echo_lines(r, w, arg);
}

WT_CASE(many_small_writes_in_order)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	char buf[16];
	int i, n, port, bad = 0;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo_lines_small, &s, &srv);
	connect_tcp(port, &r, &w);
	small_socket_buffers(w);
	/* Nothing is read meanwhile: once the kernel buffers are full the
	 * server's replies back up, it stops reading and the rest queues
	 * in this writer, small write by small write. */
	for (i = 0; i < NLINES; i++) {
		n = snprintf(buf, sizeof(buf), "%07d\n", i);
		assert_int_equal(weft_write(w, buf, (size_t)n), 0);
	}
	assert_true(weft_writer_buffered(w) > 65536);
	for (i = 0; i < NLINES; i++) {
		if (weft_readline(r, &line) != 0 || line.len != 8) {
			bad++;
			break;
		}
		snprintf(buf, sizeof(buf), "%07d\n", i);
		if (memcmp(line.base, buf, 8) != 0)
			bad++;
	}
	assert_int_equal(bad, 0);
	assert_int_equal(weft_drain(w), 0);
	client_done(w);
	server_done(&srv);
	assert_int_equal(s.rc, 0);
}

/* ---- Reader flow control on a real socket ------------------------------- */

WT_CASE(reader_flow_control_small_limit)
{
	weft_stream_opts_t opts;
	struct hs s, got;
	weft_server_t *srv;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&got, 0, sizeof(got));
	memset(&opts, 0, sizeof(opts));
	opts.limit = 1024;
	port = start_tcp(h_write_and_return, &s, &srv);
	assert_int_equal(weft_open_connection(LOCALHOST, port, &opts, &r, &w),
	    0);
	/* The reader pauses the transport past 2*limit... */
	assert_true(wait_flag(&s.done));
	weft_sleep(20);
	assert_int_equal(weft_reader_paused(r), 1);
	assert_true(weft_reader_buffer(r).len > 2048);
	assert_true(weft_reader_buffer(r).len < FLUSH_LEN);
	/* ...and resumes it as it is read: everything arrives. */
	assert_int_equal(count_to_eof(r, &got), 0);
	assert_int_equal(got.total, FLUSH_LEN);
	assert_int_equal(got.bad, 0);
	client_done(w);
	server_done(&srv);
}

/* ---- The peer aborts while a drain waits -------------------------------- */

/* Wait for the go, then abort with a RST without reading anything. */
static void
h_abort_on_go(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	struct linger lg = { 1, 0 };
	int fd;

	(void)r;
	s->started = 1;
	wait_flag(&s->go);
	if ((fd = weft_fileno(w)) >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	weft_close(w);
	s->done = 1;
}

WT_CASE(drain_peer_abort)
{
	struct hs s;
	struct waiter wt;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_fiber_t *f = NULL;
	unsigned char *p;
	int port, rc;

	memset(&s, 0, sizeof(s));
	memset(&wt, 0, sizeof(wt));
	assert_non_null(p = calloc(1, BIG));
	port = start_tcp(h_abort_on_go, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, p, BIG), 0);
	free(p);
	wt.w = w;
	assert_int_equal(weft_spawn(drain_fiber, &wt, &f), 0);
	settle();
	assert_int_equal(wt.done, 0);
	s.go = 1;
	assert_int_equal(weft_join(f), 0);
	/* asyncio's own test accepts any of these. */
	rc = wt.rc;
	assert_true(rc == -ECONNRESET || rc == -EPIPE || rc == -ECONNABORTED);
	assert_int_equal(weft_reader_exception(r), rc);
	assert_int_equal(weft_wait_closed(w), rc);
	assert_int_equal(weft_is_closing(w), 1);
	assert_int_equal(weft_writer_buffered(w), 0);
	client_done(w);
	server_done(&srv);
}

/* ---- Name resolution, bind errors, options ------------------------------ */

/* "localhost" goes through getaddrinfo; every address is tried. */
WT_CASE(open_connection_localhost)
{
	weft_server_t *srv;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	int port;

	port = start_tcp(h_echo, NULL, &srv);
	assert_int_equal(weft_open_connection("localhost", port, NULL, &r, &w),
	    0);
	assert_int_equal(weft_write(w, "lo\n", 3), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "lo\n");
	client_done(w);
	server_done(&srv);
}

WT_CASE(start_server_addr_in_use)
{
	weft_stream_opts_t opts;
	weft_server_t *srv, *srv2 = NULL, *srv3 = NULL;
	int port;

	port = start_tcp(h_echo, NULL, &srv);
	assert_int_equal(weft_start_server(h_echo, NULL, LOCALHOST, port, NULL,
			     &srv2),
	    -EADDRINUSE);
	assert_null(srv2);
	server_done(&srv);

	/* reuse_port: two listeners share a port. */
	memset(&opts, 0, sizeof(opts));
	opts.reuse_port = 1;
	assert_int_equal(weft_start_server(h_echo, NULL, LOCALHOST, 0, &opts,
			     &srv2),
	    0);
	port = weft_server_port(srv2);
	assert_int_equal(weft_start_server(h_echo, NULL, LOCALHOST, port, &opts,
			     &srv3),
	    0);
	assert_int_equal(weft_server_port(srv3), port);
	server_done(&srv2);
	server_done(&srv3);
}

WT_CASE(unix_mode)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	struct stat st;
	char path[128];

	unix_path(path, sizeof(path), "mode.sock");
	memset(&opts, 0, sizeof(opts));
	opts.unix_mode = 0600;
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, &opts,
			     &srv),
	    0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unix_echo_once(path);
	server_done(&srv);
}

/* ---- Many clients at once ----------------------------------------------- */

#define NCLIENTS 64

struct client {
	int port;
	int idx;
	int rc;
	int done;
};

static void
client_fiber(void *arg)
{
	struct client *cl = arg;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	char buf[32];
	int n;

	cl->rc = weft_open_connection(LOCALHOST, cl->port, NULL, &r, &w);
	if (cl->rc != 0) {
		cl->done = 1;
		return;
	}
	n = snprintf(buf, sizeof(buf), "client %d\n", cl->idx);
	weft_write(w, buf, (size_t)n);
	cl->rc = weft_readline(r, &line);
	if (cl->rc == 0 &&
	    (line.len != (size_t)n || memcmp(line.base, buf, (size_t)n) != 0))
		cl->rc = -EBADMSG;
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	cl->done = 1;
}

WT_CASE(many_clients)
{
	struct client cl[NCLIENTS];
	weft_fiber_t *f[NCLIENTS];
	struct hs s;
	weft_server_t *srv;
	int i, port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo, &s, &srv);
	for (i = 0; i < NCLIENTS; i++) {
		cl[i].port = port;
		cl[i].idx = i;
		cl[i].rc = 1;
		cl[i].done = 0;
		assert_int_equal(weft_spawn(client_fiber, &cl[i], &f[i]), 0);
	}
	for (i = 0; i < NCLIENTS; i++) {
		assert_int_equal(weft_join(f[i]), 0);
		assert_int_equal(cl[i].rc, 0);
	}
	server_done(&srv);
	assert_int_equal(s.nconn, NCLIENTS);
}

/* ---- weft_stream_free aborts ------------------------------------------- */

WT_CASE(stream_free_aborts)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_true(wait_flag(&s.started));
	/* Released while open and idle: the peer sees the end. */
	weft_stream_free(w);
	assert_true(wait_flag(&s.done));
	assert_true(s.rc == 0 || s.rc == -ECONNRESET);
	server_done(&srv);
}

/* ---- Giving up on waiting calls ----------------------------------------- */

struct opener {
	const char *host;
	int port;
	uint64_t deadline; /* ms, 0 = none */
	int rc;
	weft_reader_t *r;
	weft_writer_t *w;
};

static void
open_fiber(void *arg)
{
	struct opener *o = arg;

	if (o->deadline != 0)
		weft_deadline_set(o->deadline);
	o->rc = weft_open_connection(o->host, o->port, NULL, &o->r, &o->w);
	weft_deadline_clear();
}

/*
 * A cancelled open_connection returns WEFT_ECANCELED and leaves nothing
 * behind: the pending libuv request (name lookup or connect) finishes
 * later on its own.  LeakSanitizer checks the "nothing" part.
 */
WT_CASE(cancel_open_connection)
{
	struct opener o;
	weft_server_t *srv;
	weft_fiber_t *f = NULL;
	int port;

	port = start_tcp(h_echo, NULL, &srv);

	/* Cancelled before it runs: it gives up in the name lookup. */
	memset(&o, 0, sizeof(o));
	o.host = "localhost";
	o.port = port;
	assert_int_equal(weft_spawn(open_fiber, &o, &f), 0);
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(o.rc, WEFT_ECANCELED);
	assert_null(o.w);

	/* Cancelled while the connect is in flight. */
	memset(&o, 0, sizeof(o));
	o.host = LOCALHOST;
	o.port = port;
	assert_int_equal(weft_spawn(open_fiber, &o, &f), 0);
	weft_yield(); /* it runs up to the connect and parks */
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(o.rc, WEFT_ECANCELED);
	assert_null(o.w);
	server_done(&srv);
}

/*
 * A name lookup given up on (deadline) while it still waits for libuv's
 * thread pool is taken off the pool's queue, instead of running there
 * later for nobody and holding up the lookups of other connections.
 * main() makes the pool one thread; a blocker occupies it, three lookups
 * time out behind it, and then only the blocker may be left pending on
 * the loop: the cancelled lookups have been called back already.
 *
 * The lookups are started only once the blocker runs.  Queued behind it
 * is not enough: libuv's uv_cancel() of a queued lookup (as in
 * test_cancel_open_connection) leaves the pool's "run slow I/O" marker
 * in its queue until the pool thread next wakes, and a lookup queued
 * before that runs at the marker's place, ahead of the blocker.
 */
static int pool_pipe[2] = { -1, -1 };
static int pool_blocked_done;
static atomic_int pool_block_started;

static void
pool_block(uv_work_t *req)
{
	struct pollfd pfd = { pool_pipe[0], POLLIN, 0 };

	int i;

	(void)req;
	atomic_store(&pool_block_started, 1);
	/* Bounded, in case of a bug; a signal (valgrind sends its own)
	 * must not end the block early and let the lookups run. */
	for (i = 0; i < 200; i++)
		if (poll(&pfd, 1, 100) != 0 &&
		    (pfd.revents != 0 || errno != EINTR))
			break;
}

static void
pool_block_done(uv_work_t *req, int status)
{
	(void)req;
	(void)status;
	pool_blocked_done = 1;
}

WT_CASE(lookup_cancel_dequeues)
{
	static uv_work_t blocker;
	struct opener o[3];
	weft_fiber_t *f[3];
	unsigned before;
	int i;

	assert_int_equal(pipe(pool_pipe), 0);
	pool_blocked_done = 0;
	atomic_store(&pool_block_started, 0);
	before = weft_loop()->active_reqs.count;
	assert_int_equal(uv_queue_work(weft_loop(), &blocker, pool_block,
			     pool_block_done),
	    0);
	for (i = 0; i < 2000 && !atomic_load(&pool_block_started); i++)
		weft_sleep(5);
	assert_true(atomic_load(&pool_block_started));
	for (i = 0; i < 3; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		o[i].host = "localhost";
		o[i].port = 9;
		o[i].deadline = 50;
		f[i] = NULL;
		assert_int_equal(weft_spawn(open_fiber, &o[i], &f[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(weft_join(f[i]), 0);
		assert_int_equal(o[i].rc, WEFT_ETIMEDOUT);
	}
	weft_sleep(50);
	/* Only the blocker: the three lookups are no longer queued. */
	assert_int_equal(weft_loop()->active_reqs.count, before + 1);
	assert_int_equal(write(pool_pipe[1], "x", 1), 1);
	assert_true(wait_flag(&pool_blocked_done));
	close(pool_pipe[0]);
	close(pool_pipe[1]);
}

/* A drain that times out leaves the writer usable; a later one works. */
WT_CASE(drain_deadline)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	unsigned char *p;
	char c;
	int port;

	memset(&s, 0, sizeof(s));
	assert_non_null(p = malloc(BIG));
	memset(p, 0, BIG);
	port = start_tcp(h_slow, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, p, BIG), 0);
	free(p);
	assert_int_equal(weft_deadline_set(50), 0);
	assert_int_equal(weft_drain(w), WEFT_ETIMEDOUT);
	weft_deadline_clear();
	assert_true(weft_writer_buffered(w) > 65536);
	s.go = 1;
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read(r, &c, 1), 0);
	assert_int_equal(s.total, BIG);
	client_done(w);
	server_done(&srv);
}

/*
 * weft_abort: a handler whose peer does not read queues more than the
 * kernel takes, then aborts.  The queued bytes are dropped and the socket
 * closed at once: the peer gets less than was written, then the end,
 * where weft_close would have held the connection until it read it all.
 */
static void
h_write_abort(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	unsigned char *p;

	(void)r;
	s->started = 1;
	if ((p = calloc(1, BIG)) == NULL) {
		s->rc = -ENOMEM;
		s->done = 1;
		return;
	}
	s->rc = weft_write(w, p, BIG);
	free(p);
	s->len = weft_writer_buffered(w);
	if (s->rc == 0)
		s->rc = weft_abort(w);
	if (s->rc == 0 && weft_drain(w) != -ECONNABORTED)
		s->rc = -EPROTO;
	if (s->rc == 0 && weft_write(w, "x", 1) != WEFT_ECLOSED)
		s->rc = -EPROTO;
	if (s->rc == 0)
		s->rc = weft_abort(w); /* idempotent */
	s->done = 1;
}

WT_CASE(abort)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	size_t got = 0;
	ssize_t n;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_write_abort, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, 0);
	assert_true(s.len > 0); /* something was still queued */
	/* The server's side is gone before we read a byte. */
	weft_sleep(50);
	while ((n = weft_read(r, iobuf, sizeof(iobuf))) > 0)
		got += (size_t)n;
	assert_true(n == 0 || n == -ECONNRESET);
	assert_true(got < BIG);
	client_done(w);
	server_done(&srv);
}

/* ---- Echo of a large payload -------------------------------------------- */

#define ECHO_LEN (1024 * 1024)

WT_CASE(echo_big_tcp)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	unsigned char *out, *in;
	size_t i, got = 0;
	char c;
	int port;

	memset(&s, 0, sizeof(s));
	assert_non_null(out = malloc(ECHO_LEN));
	assert_non_null(in = malloc(ECHO_LEN));
	for (i = 0; i < ECHO_LEN; i++)
		out[i] = pattern(i * 7);
	port = start_tcp(h_echo, &s, &srv);
	connect_tcp(port, &r, &w);
	/* Queue it all, then read the echo while it flows. */
	assert_int_equal(weft_write(w, out, ECHO_LEN), 0);
	assert_int_equal(weft_readexactly(r, in, ECHO_LEN, &got), 0);
	assert_int_equal(got, ECHO_LEN);
	assert_memory_equal(in, out, ECHO_LEN);
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read(r, &c, 1), 0);
	assert_int_equal(s.rc, 0);
	client_done(w);
	server_done(&srv);
	free(out);
	free(in);
}

/* ---- open_connection on a socketpair (the sock= form) ------------------- */

struct sp {
	int fd;
	int rc;
};

static void
send_abc(void *arg)
{
	struct sp *p = arg;

	p->rc = (int)send(p->fd, "abc", 3, 0);
}

WT_CASE(socketpair_open_connection_fd)
{
	struct sp p;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_fiber_t *f = NULL;
	char buf[100];
	int sv[2];
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(weft_open_connection_fd(sv[0], NULL, &r, &w), 0);
	/* loop.call_soon(wsock.send, b'abc') */
	p.fd = sv[1];
	p.rc = 0;
	assert_int_equal(weft_spawn(send_abc, &p, &f), 0);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(p.rc, 3);
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), 0);

	/* And back the other way. */
	assert_int_equal(weft_write(w, "xyz", 3), 0);
	assert_int_equal(weft_drain(w), 0);
	n = recv(sv[1], buf, sizeof(buf), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "xyz", 3);

	client_done(w); /* closes sv[0]: weft owns it */
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 0);
	close(sv[1]);
}

/* ---- IPv6 --------------------------------------------------------------- */

static void
body_ipv6(void *arg)
{
	struct hs s;
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	char buf[128], want[64];
	int port;

	(void)arg;
	memset(&s, 0, sizeof(s));
	assert_int_equal(weft_start_server(h_echo, &s, "::1", 0, NULL, &srv),
	    0);
	port = weft_server_port(srv);
	assert_true(port > 0);
	assert_int_equal(weft_open_connection("::1", port, NULL, &r, &w), 0);
	assert_int_equal(weft_write(w, "six\n", 4), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "six\n");
	snprintf(want, sizeof(want), "[::1]:%d", port);
	assert_true(weft_peername(w, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want);
	assert_string_equal(s.sock, want);
	assert_true(weft_extra_info(w, "family", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "AF_INET6");
	client_done(w);
	server_done(&srv);
}

/* 1 when this machine can bind [::1]. */
static int
have_ipv6_loopback(void)
{
	struct sockaddr_in6 sin6;
	int fd, ok;

	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

WT_TEST(ipv6_echo)
{
	if (!have_ipv6_loopback())
		skip();
	wt_run(body_ipv6, NULL);
}

int
main(int argc, char **argv)
{
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-net-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	WT_TIMEOUT(120);
	/* One thread in libuv's pool, which only name lookups use here:
	 * test_lookup_cancel_dequeues fills it with one job. */
	setenv("UV_THREADPOOL_SIZE", "1", 1);
	rc = wt_run_cases(argc, argv);
	rmdir(tmpdir);
	return rc;
}
