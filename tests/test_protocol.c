/*
 * StreamReaderProtocol and StreamWriter on the fake transport: cases
 * 108-115 of doc/semantics.md (S3, S7).  The protocol events are driven
 * by hand, as CPython's tests do with a mock transport:
 * connection_lost(exc) is weft__conn_lost, pause_writing/resume_writing
 * are weft__writer_pause/weft__writer_resume.
 * A Python exception object becomes an arbitrary negative code here
 * (ZeroDivisionError -> -EDOM, KeyError -> -ENOKEY, BrokenPipeError ->
 * -EPIPE); only its identity matters.
 */
#include <errno.h>
#include <limits.h>

#include "harness.h"

/* A transport that records the reader's flow-control calls. */
struct rec {
	int npause;
	int nresume;
};

static int
rec_pause(void *ctx)
{
	((struct rec *)ctx)->npause++;
	return 0;
}

static int
rec_resume(void *ctx)
{
	((struct rec *)ctx)->nresume++;
	return 0;
}

static const weft_transport_ops_t rec_ops = { rec_pause, rec_resume };

/* A drain on its own fiber, so the test can see whether it is pending. */
struct drainer {
	weft_writer_t *w;
	int rc;
	int done;
};

static void
drain_fiber(void *arg)
{
	struct drainer *d = arg;

	d->rc = weft_drain(d->w);
	d->done = 1;
}

/* Let other fibers run a few times: "one or two loop iterations". */
static void
settle(void)
{
	int i;

	for (i = 0; i < 3; i++)
		weft_yield();
}

/* ---- 108 ---------------------------------------------------------------- */

/*
 * connection_made sets the reader's transport, data_received feeds the
 * buffer and eof_received sets EOF while keeping the transport open (it
 * returns True on plain transports): the writer still works.
 */
WT_CASE(108_protocol_feeds_reader)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	struct rec t = { 0, 0 };
	char buf[16];

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	assert_ptr_equal(weft_writer_reader(w), r);
	assert_int_equal(weft_reader_has_transport(r), 0);
	assert_int_equal(weft_reader_set_transport(r, &rec_ops, &t), 0);
	assert_int_equal(weft_reader_has_transport(r), 1);

	assert_int_equal(weft_feed_data(r, "hello", 5), 0);
	assert_buffer(r, "hello");

	weft_feed_eof(r);
	assert_int_equal(weft_at_eof(r), 0); /* eof set, data unread */
	assert_buffer(r, "hello");

	/* Half-open: eof_received did not close the writer. */
	assert_int_equal(weft_is_closing(w), 0);
	assert_int_equal(weft_write(w, "still", 5), 0);
	assert_slice_equal(weft__fake_written(w), "still");

	/* The eof flag is there: the data comes out, then EOF. */
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(weft_at_eof(r), 1);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	assert_int_equal(t.npause, 0);
	assert_int_equal(t.nresume, 0);
	weft__fake_free(w);
}

/* ---- 109 ---------------------------------------------------------------- */

/* connection_lost(exc) with data buffered: everything raises exc. */
WT_CASE(109_connection_lost_exc)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	char buf[16];

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	assert_int_equal(weft_feed_data(r, "abc", 3), 0);
	weft__conn_lost(weft__conn_of_writer(w), -EDOM);

	assert_int_equal(weft_read(r, buf, sizeof(buf)), -EDOM);
	assert_int_equal(weft_wait_closed(w), -EDOM);
	assert_int_equal(weft_drain(w), -EDOM);
	assert_int_equal(weft_reader_exception(r), -EDOM);
	assert_buffer(r, "abc");
	weft__fake_free(w);
}

/* ---- 110 ---------------------------------------------------------------- */

/* connection_lost(None): the data reads out, drain reports the loss. */
WT_CASE(110_connection_lost_clean)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	char buf[16];

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	assert_int_equal(weft_feed_data(r, "abc", 3), 0);
	weft__conn_lost(weft__conn_of_writer(w), 0);

	assert_int_equal(weft_read(r, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	assert_int_equal(weft_at_eof(r), 1);
	assert_int_equal(weft_reader_exception(r), 0);
	weft__fake_free(w);
}

/* ---- 111 ---------------------------------------------------------------- */

static void
set_flag(void *arg)
{
	*(int *)arg = 1;
}

/* Q4 kept: drain below the high-water mark never yields. */
WT_CASE(111_drain_does_not_yield)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_fiber_t *f = NULL;
	int ran = 0, i;

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	/* call_soon: the fiber runs on the next scheduler pass. */
	assert_int_equal(weft_spawn(set_flag, &ran, &f), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(weft_drain(w), 0);
	assert_int_equal(ran, 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(ran, 1);
	weft__fake_free(w);
}

/* ---- 112 ---------------------------------------------------------------- */

/* Paused: two concurrent drains wait, resume_writing releases both. */
WT_CASE(112_concurrent_drains)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_fiber_t *f1 = NULL, *f2 = NULL;
	struct drainer d1 = { NULL, 1, 0 }, d2 = { NULL, 1, 0 };

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	d1.w = d2.w = w;
	weft__writer_pause(w);
	assert_int_equal(weft_spawn(drain_fiber, &d1, &f1), 0);
	assert_int_equal(weft_spawn(drain_fiber, &d2, &f2), 0);
	settle();
	assert_int_equal(d1.done, 0);
	assert_int_equal(d2.done, 0);

	weft__writer_resume(w);
	assert_int_equal(weft_join(f1), 0);
	assert_int_equal(weft_join(f2), 0);
	assert_int_equal(d1.done, 1);
	assert_int_equal(d2.done, 1);
	assert_int_equal(d1.rc, 0);
	assert_int_equal(d2.rc, 0);
	weft__fake_free(w);
}

/* ---- 113 ---------------------------------------------------------------- */

/* A paused drain gets the error connection_lost(exc) carries. */
WT_CASE(113_paused_drain_lost_exc)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_fiber_t *f = NULL;
	struct drainer d = { NULL, 1, 0 };

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	d.w = w;
	weft__writer_pause(w);
	assert_int_equal(weft_spawn(drain_fiber, &d, &f), 0);
	settle();
	assert_int_equal(d.done, 0);

	weft__conn_lost(weft__conn_of_writer(w), -EPIPE);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(d.rc, -EPIPE);
	weft__fake_free(w);
}

/* ---- 114 ---------------------------------------------------------------- */

/* A drain already waiting when the connection closes cleanly returns 0. */
WT_CASE(114_paused_drain_lost_clean)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_fiber_t *f = NULL;
	struct drainer d = { NULL, 1, 0 };

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	d.w = w;
	weft__writer_pause(w);
	assert_int_equal(weft_spawn(drain_fiber, &d, &f), 0);
	settle();
	assert_int_equal(d.done, 0);

	weft__conn_lost(weft__conn_of_writer(w), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(d.rc, 0);
	/* A drain that starts after the loss reports it. */
	assert_int_equal(weft_drain(w), -ECONNRESET);
	weft__fake_free(w);
}

/* ---- 115 ---------------------------------------------------------------- */

/* The reader's stored exception comes out of drain on a healthy writer. */
WT_CASE(115_drain_raises_reader_exception)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	assert_int_equal(weft_drain(w), 0);
	weft_reader_set_exception(r, -ENOKEY);
	assert_int_equal(weft_drain(w), -ENOKEY);
	assert_int_equal(weft_is_closing(w), 0);
	weft__fake_free(w);
}

/* ---- doc/semantics.md S2.2, S2.4: writer details, fake transport ------- */

/* set_write_buffer_limits fills in missing values as asyncio does. */
WT_CASE(writer_buffer_limits)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	size_t lo, hi;

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	weft_writer_get_limits(w, &lo, &hi);
	assert_int_equal(lo, 16384);
	assert_int_equal(hi, 65536);
	/* Only low: high = 4*low (uvloop's check: 16385 -> 65540). */
	assert_int_equal(weft_writer_set_limits(w, -1, 16385), 0);
	weft_writer_get_limits(w, &lo, &hi);
	assert_int_equal(lo, 16385);
	assert_int_equal(hi, 65540);
	/* Only high: low = high // 4. */
	assert_int_equal(weft_writer_set_limits(w, 1001, -1), 0);
	weft_writer_get_limits(w, &lo, &hi);
	assert_int_equal(lo, 250);
	assert_int_equal(hi, 1001);
	/* Neither: the defaults again. */
	assert_int_equal(weft_writer_set_limits(w, -1, -1), 0);
	weft_writer_get_limits(w, &lo, &hi);
	assert_int_equal(lo, 16384);
	assert_int_equal(hi, 65536);
	/* high >= low is required; a refused call changes nothing. */
	assert_int_equal(weft_writer_set_limits(w, 10, 20), -EINVAL);
	weft_writer_get_limits(w, &lo, &hi);
	assert_int_equal(lo, 16384);
	assert_int_equal(hi, 65536);
	/* Negative values other than -1 and marks that do not fit are
	 * refused as asyncio's ValueError, not computed with: 4 * a huge
	 * low overflowed (UBSan) and a negative low became a huge mark. */
	assert_int_equal(weft_writer_set_limits(w, -1, SSIZE_MAX), -EINVAL);
	assert_int_equal(weft_writer_set_limits(w, -1, SSIZE_MAX / 4 + 1),
	    -EINVAL);
	assert_int_equal(weft_writer_set_limits(w, -1, 0x40000000), -EINVAL);
	assert_int_equal(weft_writer_set_limits(w, -2, 10), -EINVAL);
	assert_int_equal(weft_writer_set_limits(w, 10, -2), -EINVAL);
	assert_int_equal(weft_writer_set_limits(w, -5, -5), -EINVAL);
	assert_int_equal(weft_writer_set_limits(w, SSIZE_MAX, -1), -EINVAL);
	assert_int_equal(weft_writer_set_limits(w, SSIZE_MAX, SSIZE_MAX),
	    -EINVAL);
	weft_writer_get_limits(w, &lo, &hi);
	assert_int_equal(lo, 16384);
	assert_int_equal(hi, 65536);
	/* The largest marks that fit are still accepted. */
	assert_int_equal(weft_writer_set_limits(w, -1, 0x3fffffff), 0);
	weft_writer_get_limits(w, &lo, &hi);
	assert_int_equal(lo, 0x3fffffff);
	assert_int_equal(hi, 0xfffffffc);
	assert_int_equal(weft_writer_set_limits(w, 0, 0), 0);
	weft__fake_free(w);
}

/* write_eof and close: what writes return afterwards, idempotence. */
WT_CASE(writer_write_eof_and_close)
{
	const weft_slice_t parts[2] = { { "a", 1 }, { "b", 1 } };
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	assert_int_equal(weft_writev(w, parts, 2), 0);
	assert_slice_equal(weft__fake_written(w), "ab");
	assert_int_equal(weft_can_write_eof(w), 1);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_write_eof(w), 0);
	/* RuntimeError('Cannot call write() after write_eof()'). */
	assert_int_equal(weft_write(w, "x", 1), -EPIPE);
	assert_int_equal(weft_writev(w, parts, 2), -EPIPE);
	assert_slice_equal(weft__fake_written(w), "ab");
	assert_int_equal(weft_is_closing(w), 0);

	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_is_closing(w), 1);
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_write(w, "x", 1), WEFT_ECLOSED);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	assert_int_equal(weft_at_eof(r), 1);
	weft__fake_free(w);
}

/* doc/semantics.md S2.2: once the connection is lost, writes are dropped
 * silently. */
WT_CASE(writer_write_after_lost)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;

	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	weft__conn_lost(weft__conn_of_writer(w), -ECONNRESET);
	assert_int_equal(weft_write(w, "x", 1), 0);
	assert_slice_equal(weft__fake_written(w), "");
	assert_int_equal(weft_drain(w), -ECONNRESET);
	assert_int_equal(weft_wait_closed(w), -ECONNRESET);
	/* A second connection_lost changes nothing. */
	weft__conn_lost(weft__conn_of_writer(w), -EPIPE);
	assert_int_equal(weft_wait_closed(w), -ECONNRESET);
	assert_int_equal(weft_reader_exception(r), -ECONNRESET);
	weft__fake_free(w);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
