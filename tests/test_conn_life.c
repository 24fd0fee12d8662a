/*
 * A connection's life seen from other fibers (tests/net_util.h): a writer
 * held past its handler's return (weft_writer_hold), weft_close from a
 * fiber that is not the owner waking the owner's waits, and a server's
 * send timeout aborting a peer that never reads.
 */
#include "net_util.h"

/* Output the client never reads: more than the socket buffers hold. */
#define STUCK (8 * 1024 * 1024)

static char stuck[STUCK];

/* Make the kernel take little, so that output is queued soon. */
static void
small_buffers(weft_writer_t *w, int opt)
{
	int fd = weft_fileno(w), sz = 4096;

	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, opt, &sz, sizeof(sz)), 0);
}

/* Wait (bounded, about 10 s) until srv has no connection left. */
static int
wait_no_conns(weft_server_t *srv)
{
	int i;

	for (i = 0; i < 2000 && weft_server_connections(srv) > 0; i++)
		weft_sleep(5);
	return weft_server_connections(srv) == 0;
}

/* ---- weft_writer_hold -------------------------------------------------- */

/* Hold the writer and return at once. */
static void
h_hold_return(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	(void)r;
	s->w = weft_writer_hold(w);
	assert_int_equal(weft_write(w, "bye\n", 4), 0);
	s->done = 1;
}

/* What a held writer does once its connection is gone. */
static void
assert_gone(weft_writer_t *w)
{
	char buf[64];

	assert_int_equal(weft_write(w, "late", 4), WEFT_ECLOSED);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_abort(w), 0);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_is_closing(w), 1);
	assert_true(weft_wait_closed(w) <= 0);
	assert_int_equal(weft_writer_buffered(w), 0);
	assert_int_equal(weft_fileno(w), WEFT_ECLOSED);
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), WEFT_ECLOSED);
	assert_int_equal(weft_writer_set_limits(w, 100, 10), 0);
}

WT_CASE(hold_after_handler_returned)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_hold_return, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "bye\n");
	assert_true(wait_flag(&s.done));
	assert_true(wait_no_conns(srv));
	/* The handler returned and the connection was released: its
	 * writer's memory is still there for the holder. */
	assert_gone(s.w);
	assert_int_equal(weft_close_reason(s.w), WEFT_CLOSE_LOCAL);
	/* A second hold, then both released: the last one frees it. */
	assert_ptr_equal(weft_writer_hold(s.w), s.w);
	weft_writer_release(s.w);
	weft_writer_release(s.w);
	weft_writer_release(NULL);
	client_done(w);
	server_done(&srv);
}

/* A chat server's per-client writer fiber: it writes to a connection
 * whose handler may return at any time. */
struct pusher {
	weft_writer_t *w;
	int writes;
	int rc;
	int done;
};

static void
pusher_fiber(void *arg)
{
	struct pusher *p = arg;
	int rc;

	for (;;) {
		if ((rc = weft_write(p->w, "tick\n", 5)) != 0)
			break;
		p->writes++;
		weft_sleep(1);
	}
	p->rc = rc;
	weft_writer_release(p->w);
	p->done = 1;
}

/* Start a pusher on a held writer, read one line, return. */
static void
h_pusher(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	struct pusher *p = s->arg;
	weft_slice_t line;

	p->w = weft_writer_hold(w);
	assert_int_equal(weft_spawn(pusher_fiber, p, NULL), 0);
	s->started = 1;
	s->rc = weft_readline(r, &line);
	s->done = 1;
}

WT_CASE(hold_writer_fiber_outlives_handler)
{
	struct pusher p;
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	int port;

	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	s.arg = &p;
	port = start_tcp(h_pusher, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "tick\n");
	/* The handler returns while its pusher goes on writing. */
	assert_int_equal(weft_write(w, "quit\n", 5), 0);
	assert_true(wait_flag(&s.done));
	assert_true(wait_flag(&p.done));
	assert_int_equal(p.rc, WEFT_ECLOSED);
	assert_true(p.writes > 0);
	assert_true(wait_no_conns(srv));
	client_done(w);
	server_done(&srv);
}

WT_CASE(hold_client_connection_freed)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w, *held;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo, &s, &srv);
	connect_tcp(port, &r, &w);
	held = weft_writer_hold(w);
	weft_stream_free(w);
	/* What the holder may do at once, and once the connection is gone
	 * (wait_closed returns then). */
	assert_int_equal(weft_write(held, "late", 4), WEFT_ECLOSED);
	assert_int_equal(weft_drain(held), -ECONNRESET);
	assert_int_equal(weft_is_closing(held), 1);
	assert_true(weft_wait_closed(held) <= 0);
	assert_gone(held);
	assert_int_equal(weft_close_reason(held), WEFT_CLOSE_ABORT);
	/* A second weft_stream_free through the holder is ignored. */
	weft_stream_free(held);
	weft_writer_release(held);
	server_done(&srv);
}

/* Callback mode: the handler holds the writer and returns. */
static void
on_cb_read(weft_reader_t *r, int status, void *arg)
{
	struct hs *s = arg;
	char buf[64];

	if (status == WEFT_ECLOSED) {
		s->done = 1;
		return;
	}
	while (weft_read(r, buf, sizeof(buf)) > 0)
		;
	if (weft_at_eof(r))
		weft_close(s->w);
}

static void
h_cb_hold(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	s->w = weft_writer_hold(w);
	s->started = 1;
	assert_int_equal(weft_read_start(r, on_cb_read, s), 0);
}

WT_CASE(hold_callback_mode)
{
	weft_stream_opts_t opts;
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&opts, 0, sizeof(opts));
	opts.callback_mode = 1;
	assert_int_equal(weft_start_server(h_cb_hold, &s, LOCALHOST, 0, &opts,
			     &srv),
	    0);
	port = weft_server_port(srv);
	connect_tcp(port, &r, &w);
	assert_true(wait_flag(&s.started));
	client_done(w);
	/* The final WEFT_ECLOSED callback ran; the writer is still held. */
	assert_true(wait_flag(&s.done));
	assert_true(wait_no_conns(srv));
	assert_gone(s.w);
	weft_writer_release(s.w);
	server_done(&srv);
}

/* ---- weft_close from another fiber --------------------------------------- */

/*
 * Fill the peer (which never reads) so that a close would wait for a
 * flush that never comes, then park in a read of 10 bytes.
 */
static void
h_stuck_read(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	char buf[16];
	size_t got = 0;

	small_buffers(w, SO_SNDBUF);
	assert_int_equal(weft_write(w, stuck, sizeof(stuck)), 0);
	assert_true(weft_writer_buffered(w) > 0);
	s->w = w;
	s->started = 1;
	s->rc = weft_readexactly(r, buf, 10, &got);
	memcpy(s->data, buf, got);
	s->len = got;
	/* Then EOF. */
	s->total = (size_t)weft_read(r, buf, sizeof(buf));
	s->done = 1;
}

WT_CASE(close_from_other_fiber_wakes_read)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_stuck_read, &s, &srv);
	connect_tcp(port, &r, &w);
	small_buffers(w, SO_RCVBUF);
	assert_int_equal(weft_write(w, "hello", 5), 0);
	assert_true(wait_flag(&s.started));
	/* Let "hello" reach the handler's buffer. */
	while (weft_reader_buffer(weft_writer_reader(s.w)).len < 5)
		weft_sleep(1);
	assert_int_equal(weft_close(s.w), 0);
	/* The owner's read ends now (the buffered bytes, then EOF), not
	 * once the flush it can never finish is done. */
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, WEFT_EINCOMPLETE);
	assert_int_equal(s.len, 5);
	assert_memory_equal(s.data, "hello", 5);
	assert_int_equal(s.total, 0);
	weft_stream_free(w);
	server_done(&srv);
}

/* Fill the peer, then park in drain. */
static void
h_stuck_drain(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	(void)r;
	small_buffers(w, SO_SNDBUF);
	assert_int_equal(weft_write(w, stuck, sizeof(stuck)), 0);
	s->w = w;
	s->started = 1;
	s->rc = weft_drain(w);
	s->done = 1;
}

WT_CASE(close_from_other_fiber_wakes_drain)
{
	struct waiter wt;
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_fiber_t *f;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&wt, 0, sizeof(wt));
	port = start_tcp(h_stuck_drain, &s, &srv);
	connect_tcp(port, &r, &w);
	small_buffers(w, SO_RCVBUF);
	assert_true(wait_flag(&s.started));
	settle();
	assert_int_equal(s.done, 0);
	/* A wait_closed on the same writer keeps waiting: the connection is
	 * closing, not closed. */
	wt.w = s.w;
	assert_int_equal(weft_spawn(wait_closed_fiber, &wt, &f), 0);
	settle();
	assert_int_equal(weft_close(s.w), 0);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, -ECONNRESET);
	settle();
	assert_int_equal(wt.done, 0);
	/* The client goes: the flush fails, and the connection ends. */
	weft_stream_free(w);
	assert_int_equal(weft_join(f), 0);
	assert_true(wt.done);
	server_done(&srv);
}

/* ---- The send timeout ---------------------------------------------------- */

/* A server whose connections' output may stall for 200 ms at most. */
static int
start_send_timeout(weft_client_cb cb, struct hs *s, int cbmode,
    weft_server_t **srv)
{
	weft_stream_opts_t opts;

	memset(&opts, 0, sizeof(opts));
	opts.send_timeout_ms = 200;
	opts.callback_mode = cbmode;
	assert_int_equal(weft_start_server(cb, s, LOCALHOST, 0, &opts, srv), 0);
	return weft_server_port(*srv);
}

static uint64_t
send_timeouts(weft_server_t *srv)
{
	weft_server_stats_t st;

	assert_int_equal(weft_server_stats(srv, &st, sizeof(st)), sizeof(st));
	return st.send_timeouts;
}

/* Hold the writer (to see why it ended), fill the peer, then drain. */
static void
h_send_drain(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	(void)r;
	s->w = weft_writer_hold(w);
	small_buffers(w, SO_SNDBUF);
	assert_int_equal(weft_write(w, stuck, sizeof(stuck)), 0);
	s->started = 1;
	s->rc = weft_drain(w);
	s->done = 1;
}

WT_CASE(send_timeout_aborts_drain)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_send_timeout(h_send_drain, &s, 0, &srv);
	connect_tcp(port, &r, &w);
	small_buffers(w, SO_RCVBUF);
	/* The client never reads: the handler's drain fails. */
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, -ETIMEDOUT);
	assert_true(wait_no_conns(srv));
	assert_int_equal(weft_close_reason(s.w), WEFT_CLOSE_TIMEOUT);
	assert_int_equal(send_timeouts(srv), 1);
	weft_writer_release(s.w);
	weft_stream_free(w);
	server_done(&srv);
}

/* Fill the peer and return: the flush after the handler is bounded. */
static void
h_send_return(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	(void)r;
	s->w = weft_writer_hold(w);
	small_buffers(w, SO_SNDBUF);
	assert_int_equal(weft_write(w, stuck, sizeof(stuck)), 0);
	s->done = 1;
}

WT_CASE(send_timeout_bounds_flush_after_return)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_send_timeout(h_send_return, &s, 0, &srv);
	connect_tcp(port, &r, &w);
	small_buffers(w, SO_RCVBUF);
	assert_true(wait_flag(&s.done));
	assert_true(wait_no_conns(srv));
	/* Not the clean close the handler's return began. */
	assert_int_equal(weft_close_reason(s.w), WEFT_CLOSE_TIMEOUT);
	assert_int_equal(send_timeouts(srv), 1);
	weft_writer_release(s.w);
	weft_stream_free(w);
	server_done(&srv);
}

/* Callback mode: write what the peer never reads, and wait to hear. */
static void
on_cb_gone(weft_reader_t *r, int status, void *arg)
{
	struct hs *s = arg;
	char buf[64];

	if (status == WEFT_ECLOSED) {
		s->done = 1;
		return;
	}
	if (status < 0)
		s->rc = status;
	while (weft_read(r, buf, sizeof(buf)) > 0)
		;
}

static void
h_cb_stuck(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;

	s->w = weft_writer_hold(w);
	small_buffers(w, SO_SNDBUF);
	assert_int_equal(weft_write(w, stuck, sizeof(stuck)), 0);
	assert_int_equal(weft_read_start(r, on_cb_gone, s), 0);
}

WT_CASE(send_timeout_callback_mode)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_send_timeout(h_cb_stuck, &s, 1, &srv);
	connect_tcp(port, &r, &w);
	small_buffers(w, SO_RCVBUF);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, -ETIMEDOUT);
	assert_true(wait_no_conns(srv));
	assert_int_equal(weft_close_reason(s.w), WEFT_CLOSE_TIMEOUT);
	assert_int_equal(send_timeouts(srv), 1);
	weft_writer_release(s.w);
	weft_stream_free(w);
	server_done(&srv);
}

int
main(int argc, char **argv)
{
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-life-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	WT_TIMEOUT(120);
	rc = wt_run_cases(argc, argv);
	rmdir(tmpdir);
	return rc;
}
