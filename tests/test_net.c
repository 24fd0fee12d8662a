/*
 * Streams over real sockets: the cases 116-131 of doc/semantics.md (S7)
 * that have a C meaning (132-140 and more in tests/test_net_server.c and
 * tests/test_net_misc.c, helpers in tests/net_util.h), over loopback TCP (127.0.0.1, and [::1] when the
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
#include "net_util.h"

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
