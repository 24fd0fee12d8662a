/*
 * Callback style: readers and writers driven from the loop's stack with
 * no fiber (weft_read_start, weft_drain_start, server callback_mode).
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"

struct rec {
	int calls;
	int last_status;
	char got[64];
	size_t ngot;
};

/* Consume exactly 4-byte records; a partial one waits (-EAGAIN). */
static void
on_records(weft_reader_t *r, int status, void *arg)
{
	struct rec *rc = arg;
	char buf[4];
	int e;

	rc->calls++;
	rc->last_status = status;
	while ((e = weft_readexactly(r, buf, 4, NULL)) == 0) {
		memcpy(rc->got + rc->ngot, buf, 4);
		rc->ngot += 4;
	}
	assert_true(e == -EAGAIN || e == WEFT_EINCOMPLETE ||
	    (e == 0 && status != 0));
}

WT_TEST(reader_callback_no_wait)
{
	weft_reader_t *r = NULL;
	struct rec rc;

	memset(&rc, 0, sizeof(rc));
	assert_int_equal(weft_reader_new(WEFT_LIMIT_DEFAULT, &r), 0);
	/* Outside any fiber: read calls return -EAGAIN instead of waiting
	 * and consume nothing. */
	assert_int_equal(weft_read_start(r, on_records, &rc), 0);
	assert_int_equal(rc.calls, 0); /* nothing buffered yet */
	assert_int_equal(weft_feed_data(r, "abcdef", 6), 0);
	assert_int_equal(rc.calls, 1);
	assert_int_equal(rc.ngot, 4);
	assert_buffer(r, "ef");
	assert_int_equal(weft_feed_data(r, "gh", 2), 0);
	assert_int_equal(rc.ngot, 8);
	assert_memory_equal(rc.got, "abcdefgh", 8);
	assert_buffer(r, "");
	/* EOF is a callback too. */
	weft_feed_eof(r);
	assert_int_equal(rc.calls, 3);
	assert_true(weft_at_eof(r));
	weft_reader_free(&r);
}

static void
on_lines_first(weft_reader_t *r, int status, void *arg)
{
	struct rec *rc = arg;
	weft_slice_t line;

	rc->calls++;
	rc->last_status = status;
	/* A readline in callback mode: the partial line stays buffered. */
	while (weft_readline(r, &line) == 0 && line.len > 0) {
		memcpy(rc->got + rc->ngot, line.base, line.len);
		rc->ngot += line.len;
	}
}

WT_TEST(reader_callback_stop_start)
{
	weft_reader_t *r = NULL;
	struct rec rc;

	memset(&rc, 0, sizeof(rc));
	assert_int_equal(weft_reader_new(WEFT_LIMIT_DEFAULT, &r), 0);
	assert_int_equal(weft_read_start(r, on_lines_first, &rc), 0);
	assert_int_equal(weft_feed_data(r, "one\ntw", 6), 0);
	assert_int_equal(rc.ngot, 4);
	assert_buffer(r, "tw");
	assert_int_equal(weft_read_stop(r), 0);
	assert_int_equal(weft_feed_data(r, "o\n", 2), 0);
	assert_int_equal(rc.calls, 1); /* stopped: no callback */
	assert_buffer(r, "two\n");
	/* Starting again hands over what is buffered at once. */
	assert_int_equal(weft_read_start(r, on_lines_first, &rc), 0);
	assert_int_equal(rc.calls, 2);
	assert_int_equal(rc.ngot, 8);
	assert_memory_equal(rc.got, "one\ntwo\n", 8);
	/* An error reaches the callback with its status. */
	weft_reader_set_exception(r, -ECONNRESET);
	assert_int_equal(rc.last_status, -ECONNRESET);
	weft_reader_free(&r);
}

/* ---- A callback-mode server ------------------------------------------ */

static int released;

static void
cb_echo_data(weft_reader_t *r, int status, void *arg)
{
	weft_writer_t *w = arg;
	weft_slice_t s;

	if (status == WEFT_ECLOSED) {
		released++;
		return;
	}
	if (status < 0)
		return;
	while (weft_read_slice(r, 65536, &s) > 0)
		weft_write(w, s.base, s.len);
	if (weft_at_eof(r))
		weft_close(w);
}

static void
cb_echo(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	(void)arg;
	/* Runs on the loop's stack: no fiber. */
	assert_null(weft_current());
	weft_read_start(r, cb_echo_data, w);
}

WT_CASE(callback_server)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	char buf[16];
	int i;

	released = 0;
	memset(&opts, 0, sizeof(opts));
	opts.callback_mode = 1;
	assert_int_equal(weft_start_server(cb_echo, NULL, "127.0.0.1", 0, &opts,
			     &srv),
	    0);
	for (i = 0; i < 3; i++) {
		r = NULL;
		w = NULL;
		assert_int_equal(weft_open_connection("127.0.0.1",
				     weft_server_port(srv), NULL, &r, &w),
		    0);
		assert_int_equal(weft_write(w, "hello", 5), 0);
		assert_int_equal(weft_readexactly(r, buf, 5, NULL), 0);
		assert_memory_equal(buf, "hello", 5);
		assert_int_equal(weft_write_eof(w), 0);
		assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
		weft_close(w);
		weft_wait_closed(w);
		weft_stream_free(w);
	}
	weft_server_close(srv);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
	/* Each connection got its final WEFT_ECLOSED callback. */
	assert_int_equal(released, 3);
}

static int drained;

static void
on_drain(weft_writer_t *w, int status, void *arg)
{
	(void)w;
	(void)arg;
	if (status == 0)
		drained++;
}

WT_TEST(writer_drain_callback)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;

	drained = 0;
	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	assert_int_equal(weft_drain_start(w, on_drain, NULL), 0);
	assert_int_equal(weft_drain(w), 0);
	weft__writer_pause(w);
	/* Callback mode: drain never waits. */
	assert_int_equal(weft_drain(w), -EAGAIN);
	weft__writer_resume(w);
	assert_int_equal(drained, 1);
	assert_int_equal(weft_drain(w), 0);
	weft__fake_free(w);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
