/*
 * How a server's connections end: weft_server_set_on_close, the bytes
 * each connection and the server counted (live), the per-reason close
 * counters of weft_server_stats, and what the hook can still ask of the
 * connection (its peer, its close reason).
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"

#define LOCALHOST "127.0.0.1"

/* What the on-close hook saw, one connection at a time. */
struct seen {
	int n;
	int reason;
	weft_conn_stats_t st;
	int reason_of_w; /* weft_close_reason(w) in the hook */
	char peer[64];
	int peer_rc;
};

static void
on_close(weft_writer_t *w, const weft_conn_stats_t *st, void *arg)
{
	struct seen *s = arg;

	s->n++;
	s->st = *st;
	s->reason = st->reason;
	s->reason_of_w = weft_close_reason(w);
	s->peer_rc = weft_peername(w, s->peer, sizeof(s->peer));
}

/* The handlers: which close reason each one provokes. */
enum mode { M_ECHO, M_ABORT, M_TIMEOUT, M_LIMIT, M_HOLD };

static void
handler(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	const enum mode *m = arg;
	weft_slice_t s;
	char buf[64];

	switch (*m) {
	case M_ECHO: /* until the client's EOF: an orderly end */
		while (weft_read_slice(r, 65536, &s) > 0)
			if (weft_write(w, s.base, s.len) != 0 ||
			    weft_drain(w) != 0)
				break;
		break;
	case M_ABORT:
		(void)weft_read(r, buf, 3);
		weft_abort(w);
		break;
	case M_TIMEOUT:
		weft_deadline_set(20);
		(void)weft_read(r, buf, sizeof(buf));
		break;
	case M_LIMIT:
		(void)weft_readline(r, &s);
		break;
	case M_HOLD: /* reads until the connection fails (a reset) */
		while (weft_read(r, buf, sizeof(buf)) > 0)
			;
		break;
	}
}

struct fix {
	weft_server_t *srv;
	enum mode mode;
	struct seen seen;
	int port;
};

static void
fix_start(struct fix *f, enum mode m, ssize_t limit)
{
	weft_stream_opts_t o;

	memset(f, 0, sizeof(*f));
	memset(&o, 0, sizeof(o));
	o.limit = limit;
	f->mode = m;
	assert_int_equal(weft_start_server(handler, &f->mode, LOCALHOST, 0, &o,
			     &f->srv),
	    0);
	assert_int_equal(weft_server_set_on_close(f->srv, on_close, &f->seen),
	    0);
	f->port = weft_server_port(f->srv);
}

static void
fix_wait_ended(struct fix *f, int n)
{
	while (f->seen.n < n)
		weft_sleep(2);
}

static void
fix_stop(struct fix *f)
{
	weft_server_close(f->srv);
	weft_server_close_clients(f->srv);
	assert_int_equal(weft_server_wait_closed(f->srv), 0);
	weft_server_free(&f->srv);
}

static void
stats(struct fix *f, weft_server_stats_t *st)
{
	assert_int_equal(weft_server_stats(f->srv, st, sizeof(*st)),
	    sizeof(*st));
}

/* The client's own address, as the server's peer. */
static void
client_name(weft_writer_t *cw, char *buf, size_t size)
{
	assert_true(weft_sockname(cw, buf, size) > 0);
}

WT_CASE(echo_bytes_and_eof)
{
	static struct fix f;
	weft_server_stats_t st;
	weft_reader_t *cr;
	weft_writer_t *cw;
	char buf[16], me[64];

	fix_start(&f, M_ECHO, 0);
	assert_int_equal(weft_open_connection(LOCALHOST, f.port, NULL, &cr,
			     &cw),
	    0);
	client_name(cw, me, sizeof(me));
	assert_int_equal(weft_write(cw, "hello", 5), 0);
	assert_int_equal(weft_readexactly(cr, buf, 5, NULL), 0);
	/* Counted as the bytes flow, before the connection ends. */
	stats(&f, &st);
	assert_int_equal(st.bytes_in, 5);
	assert_int_equal(st.bytes_out, 5);
	assert_int_equal(st.closed_eof, 0);
	assert_int_equal(f.seen.n, 0);
	assert_int_equal(weft_write(cw, "abc", 3), 0);
	assert_int_equal(weft_write_eof(cw), 0);
	assert_int_equal(weft_readexactly(cr, buf, 3, NULL), 0);
	assert_int_equal(weft_read(cr, buf, sizeof(buf)), 0);
	fix_wait_ended(&f, 1);
	assert_int_equal(f.seen.reason, WEFT_CLOSE_EOF);
	assert_int_equal(f.seen.reason_of_w, WEFT_CLOSE_EOF);
	assert_int_equal(f.seen.st.bytes_in, 8);
	assert_int_equal(f.seen.st.bytes_out, 8);
	assert_true(f.seen.st.start_ms > 0);
	/* The socket is closed, but the hook still has the peer. */
	assert_true(f.seen.peer_rc > 0);
	assert_string_equal(f.seen.peer, me);
	stats(&f, &st);
	assert_int_equal(st.closed_eof, 1);
	assert_int_equal(st.closed_reset + st.closed_timeout + st.closed_abort +
		st.closed_limit + st.closed_shutdown + st.closed_error,
	    0);
	assert_int_equal(st.bytes_in, 8);
	assert_int_equal(st.bytes_out, 8);
	weft_stream_free(cw);
	fix_stop(&f);
}

/* The handler's own close (LOCAL) counts as eof too. */
WT_CASE(local_close_counts_as_eof)
{
	static struct fix f;
	weft_server_stats_t st;
	weft_reader_t *cr;
	weft_writer_t *cw;
	char buf[16];

	fix_start(&f, M_LIMIT, 0); /* one line, then the handler returns */
	assert_int_equal(weft_open_connection(LOCALHOST, f.port, NULL, &cr,
			     &cw),
	    0);
	assert_int_equal(weft_write(cw, "one\n", 4), 0);
	assert_int_equal(weft_read(cr, buf, sizeof(buf)), 0);
	fix_wait_ended(&f, 1);
	assert_int_equal(f.seen.reason, WEFT_CLOSE_LOCAL);
	assert_int_equal(f.seen.st.bytes_in, 4);
	assert_int_equal(f.seen.st.bytes_out, 0);
	stats(&f, &st);
	assert_int_equal(st.closed_eof, 1);
	weft_stream_free(cw);
	fix_stop(&f);
}

WT_CASE(reset)
{
	static struct fix f;
	struct linger lg = { 1, 0 };
	weft_server_stats_t st;
	weft_reader_t *cr;
	weft_writer_t *cw;

	fix_start(&f, M_HOLD, 0);
	assert_int_equal(weft_open_connection(LOCALHOST, f.port, NULL, &cr,
			     &cw),
	    0);
	assert_int_equal(weft_write(cw, "xy", 2), 0);
	while (weft_server_connections(f.srv) == 0 || (stats(&f, &st), 0) ||
	    st.bytes_in < 2)
		weft_sleep(2);
	assert_int_equal(setsockopt(weft_fileno(cw), SOL_SOCKET, SO_LINGER, &lg,
			     sizeof(lg)),
	    0);
	weft_abort(cw); /* RST */
	fix_wait_ended(&f, 1);
	assert_int_equal(f.seen.reason, WEFT_CLOSE_RESET);
	assert_int_equal(f.seen.st.bytes_in, 2);
	stats(&f, &st);
	assert_int_equal(st.closed_reset, 1);
	weft_stream_free(cw);
	fix_stop(&f);
}

WT_CASE(timeout)
{
	static struct fix f;
	weft_server_stats_t st;
	weft_reader_t *cr;
	weft_writer_t *cw;
	char buf[8];

	fix_start(&f, M_TIMEOUT, 0);
	assert_int_equal(weft_open_connection(LOCALHOST, f.port, NULL, &cr,
			     &cw),
	    0);
	assert_int_equal(weft_read(cr, buf, sizeof(buf)), 0);
	fix_wait_ended(&f, 1);
	assert_int_equal(f.seen.reason, WEFT_CLOSE_TIMEOUT);
	stats(&f, &st);
	assert_int_equal(st.closed_timeout, 1);
	weft_stream_free(cw);
	fix_stop(&f);
}

WT_CASE(abort)
{
	static struct fix f;
	weft_server_stats_t st;
	weft_reader_t *cr;
	weft_writer_t *cw;
	char buf[8];

	fix_start(&f, M_ABORT, 0);
	assert_int_equal(weft_open_connection(LOCALHOST, f.port, NULL, &cr,
			     &cw),
	    0);
	assert_int_equal(weft_write(cw, "abc", 3), 0);
	(void)weft_read(cr, buf, sizeof(buf));
	fix_wait_ended(&f, 1);
	assert_int_equal(f.seen.reason, WEFT_CLOSE_ABORT);
	assert_int_equal(f.seen.st.bytes_in, 3);
	stats(&f, &st);
	assert_int_equal(st.closed_abort, 1);
	weft_stream_free(cw);
	fix_stop(&f);
}

WT_CASE(limit)
{
	static struct fix f;
	weft_server_stats_t st;
	weft_reader_t *cr;
	weft_writer_t *cw;
	char line[64], buf[8];

	fix_start(&f, M_LIMIT, 16);
	assert_int_equal(weft_open_connection(LOCALHOST, f.port, NULL, &cr,
			     &cw),
	    0);
	memset(line, 'a', sizeof(line));
	assert_int_equal(weft_write(cw, line, sizeof(line)), 0);
	(void)weft_read(cr, buf, sizeof(buf));
	fix_wait_ended(&f, 1);
	assert_int_equal(f.seen.reason, WEFT_CLOSE_LIMIT);
	stats(&f, &st);
	assert_int_equal(st.closed_limit, 1);
	weft_stream_free(cw);
	fix_stop(&f);
}

WT_CASE(shutdown_and_no_hook)
{
	static struct fix f;
	weft_server_stats_t st;
	weft_reader_t *cr;
	weft_writer_t *cw;
	char buf[8];

	fix_start(&f, M_HOLD, 0);
	/* Removed: nothing is called, the counters still count. */
	assert_int_equal(weft_server_set_on_close(f.srv, NULL, NULL), 0);
	assert_int_equal(weft_open_connection(LOCALHOST, f.port, NULL, &cr,
			     &cw),
	    0);
	while (weft_server_connections(f.srv) == 0)
		weft_sleep(2);
	weft_server_close_clients(f.srv);
	assert_int_equal(weft_read(cr, buf, sizeof(buf)), 0);
	while ((stats(&f, &st), st.closed_shutdown) == 0)
		weft_sleep(2);
	assert_int_equal(f.seen.n, 0);
	weft_stream_free(cw);
	fix_stop(&f);
}

/* A connection the handler is still on: weft_conn_stats is live. */
static void
stats_handler(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	weft_conn_stats_t *out = arg;
	char buf[8];

	(void)weft_readexactly(r, buf, 4, NULL);
	(void)weft_write(w, "xy", 2);
	assert_int_equal(weft_conn_stats(w, out, sizeof(*out)), sizeof(*out));
}

WT_CASE(conn_stats_live)
{
	static weft_conn_stats_t st;
	weft_server_t *srv;
	weft_reader_t *cr;
	weft_writer_t *cw;
	char buf[8];

	assert_int_equal(weft_start_server(stats_handler, &st, LOCALHOST, 0,
			     NULL, &srv),
	    0);
	assert_int_equal(weft_open_connection(LOCALHOST, weft_server_port(srv),
			     NULL, &cr, &cw),
	    0);
	assert_int_equal(weft_write(cw, "abcd", 4), 0);
	assert_int_equal(weft_readexactly(cr, buf, 2, NULL), 0);
	assert_int_equal(st.bytes_in, 4);
	assert_int_equal(st.bytes_out, 2);
	assert_int_equal(st.reason, WEFT_CLOSE_NONE);
	/* A client's own connection has no owner to count for it. */
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(weft_conn_stats(cw, &st, sizeof(st)), sizeof(st));
	assert_int_equal(st.bytes_in, 0);
	weft_stream_free(cw);
	weft_server_close(srv);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
