/*
 * StreamReader conformance, continued (tests/reader_util.h and the
 * notes of tests/test_reader.c): at_eof and exceptions, concurrency,
 * async iteration, flow control and error details, cases 85-107 of
 * doc/semantics.md (S7), and zero-copy slices.
 */
#include "reader_util.h"

/* ---- at_eof and exception ----------------------------------------------- */

WT_CASE(case_085_at_eof_sequence)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	assert_false(weft_at_eof(r));
	feed(r, "some data\n");
	assert_false(weft_at_eof(r));
	assert_int_equal(weft_readline(r, &s), 0);
	assert_slice_equal(s, "some data\n");
	assert_false(weft_at_eof(r));
	feed(r, "some data\n");
	weft_feed_eof(r);
	assert_false(weft_at_eof(r));
	assert_int_equal(weft_readline(r, &s), 0);
	assert_slice_equal(s, "some data\n");
	assert_true(weft_at_eof(r));
	weft_reader_free(&r);
}

WT_CASE(case_086_exception_get_set)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);

	assert_int_equal(weft_reader_exception(r), 0);
	weft_reader_set_exception(r, -EPERM);
	assert_int_equal(weft_reader_exception(r), -EPERM);
	weft_reader_free(&r);
}

WT_CASE(case_087_exception_wakes_readline)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READLINE };

	start(&c);
	weft_reader_set_exception(r, -EPERM);
	assert_int_equal(finish(&c), -EPERM);
	assert_true(weft__wq_empty(&r->r_wq));
	weft_reader_free(&r);
}

WT_CASE(case_088_exception_after_cancel)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READLINE };

	start(&c);
	assert_int_equal(weft_cancel(c.f), 0);
	/* Before the cancelled fiber has even run: it must not see this. */
	weft_reader_set_exception(r, -EIO);
	assert_int_equal(finish(&c), WEFT_ECANCELED);
	settle();
	assert_true(weft__wq_empty(&r->r_wq));
	assert_int_equal(weft_reader_exception(r), -EIO);
	weft_reader_free(&r);
}

WT_CASE(case_089_exception_sticky)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];

	weft_reader_set_exception(r, -EIO);
	assert_int_equal(weft_read(r, buf, 1), -EIO);
	assert_int_equal(weft_read(r, buf, 1), -EIO);
	assert_int_equal(weft_reader_exception(r), -EIO);
	weft_reader_free(&r);
}

WT_CASE(case_090_exception_hides_data_q5)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	weft_reader_set_exception(r, -EIO);
	feed(r, "zz");
	weft_feed_eof(r);
	assert_buffer(r, "zz");
	assert_false(weft_at_eof(r));
	assert_int_equal(weft_read_all(r, 0, &s), -EIO);
	assert_buffer(r, "zz");
	weft_reader_free(&r);
}

WT_CASE(case_091_exception_cleared)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];

	weft_reader_set_exception(r, -EIO);
	weft_reader_set_exception(r, 0);
	feed(r, "ok");
	assert_int_equal(weft_read(r, buf, 2), 2);
	assert_memory_equal(buf, "ok", 2);
	assert_int_equal(weft_reader_exception(r), 0);
	weft_reader_free(&r);
}

WT_CASE(case_092_exception_beats_eof)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];

	weft_feed_eof(r);
	weft_reader_set_exception(r, -EIO);
	assert_int_equal(weft_read(r, buf, 1), -EIO);
	weft_reader_free(&r);
}

/* ---- Concurrency -------------------------------------------------------- */

WT_CASE(case_093_second_waiter_busy)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READLINE };
	char buf[8];

	start(&c);
	assert_int_equal(weft_read(r, buf, 1), WEFT_EBUSY);
	settle();
	assert_false(c.done);
	feed(r, "x\n");
	assert_int_equal(finish(&c), 0);
	assert_got(&c, "x\n");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_094_busy_from_every_read)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READ, .n = 5 };
	weft_slice_t s;
	char buf[8];

	start(&c);
	assert_int_equal(weft_readline(r, &s), WEFT_EBUSY);
	assert_int_equal(weft_readexactly(r, buf, 2, NULL), WEFT_EBUSY);
	assert_int_equal(weft_readuntil(r, "\n", 1, &s), WEFT_EBUSY);
	assert_int_equal(weft_read_all(r, 0, &s), WEFT_EBUSY);
	settle();
	assert_false(c.done);
	feed(r, "hello");
	assert_int_equal(finish(&c), 5);
	assert_got(&c, "hello");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_095_q1_fixed)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READLINE };
	char buf[8];

	feed(r, "abc");
	start(&c);
	/* The buffer can satisfy it: no WEFT_EBUSY. */
	assert_int_equal(weft_read(r, buf, 2), 2);
	assert_memory_equal(buf, "ab", 2);
	assert_buffer(r, "c");
	/* Q1 fixed: the '\n' right after the taken bytes is seen. */
	feed(r, "d\n");
	settle();
	assert_true(c.done);
	assert_int_equal(finish(&c), 0);
	assert_got(&c, "cd\n");
	assert_buffer(r, "");
	feed(r, "e\n");
	assert_buffer(r, "e\n");
	weft_reader_free(&r);
}

/* ---- Async iteration ---------------------------------------------------- */

WT_CASE(case_096_iterate_lines)
{
	static const char *const want[] = { "a\n", "b\n", "c" };
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;
	size_t n = 0;

	feed(r, "a\nb\nc");
	weft_feed_eof(r);
	for (;;) {
		assert_int_equal(weft_readline(r, &s), 0);
		if (s.len == 0)
			break;
		assert_true(n < 3);
		assert_int_equal(s.len, strlen(want[n]));
		assert_memory_equal(s.base, want[n], s.len);
		n++;
	}
	assert_int_equal(n, 3);
	assert_true(weft_at_eof(r));
	weft_reader_free(&r);
}

WT_CASE(case_097_iterate_overlong_line)
{
	weft_reader_t *r = mk(2);
	weft_slice_t s;

	feed(r, "abc\nd\n");
	weft_feed_eof(r);
	/* The first step of the loop fails. */
	assert_int_equal(weft_readline(r, &s), WEFT_ELIMIT);
	assert_overrun(r, 1, 3);
	assert_buffer(r, "d\n");
	weft_reader_free(&r);
}

/* ---- Reader flow control (fake transport) ------------------------------- */

WT_CASE(case_098_pause_past_twice_limit)
{
	struct fake_tp t;
	weft_reader_t *r = mk_tp(2, &t);

	feed(r, "1234");
	assert_string_equal(t.calls, "");
	assert_false(weft_reader_paused(r));
	feed(r, "5");
	assert_string_equal(t.calls, "p");
	assert_true(weft_reader_paused(r));
	feed(r, "6");
	assert_string_equal(t.calls, "p");
	assert_true(weft_reader_paused(r));
	assert_buffer(r, "123456");
	weft_reader_free(&r);
}

WT_CASE(case_099_resume_at_limit)
{
	struct fake_tp t;
	weft_reader_t *r = mk_tp(2, &t);
	char buf[8];

	feed(r, "12345");
	assert_string_equal(t.calls, "p");
	assert_int_equal(weft_read(r, buf, 2), 2);
	assert_memory_equal(buf, "12", 2);
	assert_string_equal(t.calls, "p");
	assert_true(weft_reader_paused(r));
	assert_int_equal(weft_read(r, buf, 1), 1);
	assert_memory_equal(buf, "3", 1);
	assert_string_equal(t.calls, "pr");
	assert_false(weft_reader_paused(r));
	assert_buffer(r, "45");
	weft_reader_free(&r);
}

WT_CASE(case_100_pause_not_supported)
{
	struct fake_tp t;
	weft_reader_t *r = mk_tp(1, &t);

	t.pause_rc = -ENOTSUP;
	feed(r, "123");
	feed(r, "456");
	assert_string_equal(t.calls, "p");
	assert_false(weft_reader_has_transport(r));
	assert_false(weft_reader_paused(r));
	assert_buffer(r, "123456");
	weft_reader_free(&r);
}

WT_CASE(case_101_resume_before_wait)
{
	struct fake_tp t;
	weft_reader_t *r = mk_tp(1, &t);
	struct call c = { .r = r, .op = OP_READEXACTLY, .n = 5 };

	feed(r, "123");
	assert_string_equal(t.calls, "p");
	start(&c);
	assert_string_equal(t.calls, "pr");
	assert_false(weft_reader_paused(r));
	feed(r, "45");
	assert_int_equal(finish(&c), 0);
	assert_got(&c, "12345");
	assert_string_equal(t.calls, "prpr");
	assert_false(weft_reader_paused(r));
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_102_readline_overrun_resumes)
{
	struct fake_tp t;
	weft_reader_t *r = mk_tp(2, &t);
	weft_slice_t s;

	feed(r, "abcdef");
	assert_true(weft_reader_paused(r));
	assert_int_equal(weft_readline(r, &s), WEFT_ELIMIT);
	assert_overrun(r, 0, 6);
	assert_buffer(r, "");
	assert_string_equal(t.calls, "pr");
	assert_false(weft_reader_paused(r));
	weft_reader_free(&r);
}

WT_CASE(case_103_readuntil_overrun_no_resume)
{
	struct fake_tp t;
	weft_reader_t *r = mk_tp(2, &t);
	weft_slice_t s;

	feed(r, "abcdef");
	assert_int_equal(weft_readuntil(r, "\n", 1, &s), WEFT_ELIMIT);
	assert_overrun(r, 0, 6);
	assert_buffer(r, "abcdef");
	assert_string_equal(t.calls, "p");
	assert_true(weft_reader_paused(r));
	weft_reader_free(&r);
}

WT_CASE(case_104_set_transport_twice)
{
	struct fake_tp t1, t2;
	weft_reader_t *r = mk_tp(1, &t1);

	memset(&t2, 0, sizeof(t2));
	assert_int_equal(weft_reader_set_transport(r, &tp_ops, &t2), -EALREADY);
	/* The first transport stays in charge. */
	feed(r, "abc");
	assert_string_equal(t1.calls, "p");
	assert_string_equal(t2.calls, "");
	weft_reader_free(&r);
}

WT_CASE(case_105_read_large_resumes)
{
	struct fake_tp t;
	weft_reader_t *r = mk_tp(1, &t);
	char buf[128];

	feed(r, "abc");
	feed(r, "def");
	feed(r, "g");
	assert_string_equal(t.calls, "p");
	assert_int_equal(weft_read(r, buf, 100), 7);
	assert_memory_equal(buf, "abcdefg", 7);
	assert_string_equal(t.calls, "pr");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_106_readexactly_flow_per_turn)
{
	struct fake_tp t;
	weft_reader_t *r = mk_tp(2, &t);
	struct call c = { .r = r, .op = OP_READEXACTLY, .n = 10 };

	start(&c);
	assert_string_equal(t.calls, "");
	feed(r, "abc");
	settle();
	assert_string_equal(t.calls, "");
	feed(r, "def");
	assert_string_equal(t.calls, "p");
	settle();
	assert_string_equal(t.calls, "pr");
	assert_false(c.done);
	feed(r, "ghij");
	assert_int_equal(finish(&c), 0);
	assert_got(&c, "abcdefghij");
	assert_string_equal(t.calls, "prpr");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

/* ---- Exceptions --------------------------------------------------------- */

WT_CASE(case_107_error_details)
{
	weft_reader_t *r = mk(2);
	weft_read_error_t e;
	weft_slice_t s;
	char buf[16], msg[128];
	size_t got = 0;

	/* Nothing failed yet. */
	assert_int_equal(weft_reader_last_error(r, &e), 0);
	assert_string_equal(weft_reader_error_message(r, msg, sizeof(msg)), "");

	/* LimitOverrunError('...', consumed). */
	feed(r, "abcdX");
	assert_int_equal(weft_readuntil(r, "X", 1, &s), WEFT_ELIMIT);
	assert_overrun(r, 1, 4);
	assert_int_equal(weft_readuntil(r, "Y", 1, &s), WEFT_ELIMIT);
	assert_overrun(r, 0, 5);
	assert_buffer(r, "abcdX");
	weft_reader_free(&r);

	/* IncompleteReadError(b'abc', 10). */
	r = mk(WEFT_LIMIT_DEFAULT);
	feed(r, "abc");
	weft_feed_eof(r);
	assert_int_equal(weft_readexactly(r, buf, 10, &got), WEFT_EINCOMPLETE);
	assert_int_equal(got, 3);
	assert_memory_equal(buf, "abc", 3);
	assert_incomplete(r, 3, 10,
	    "3 bytes read on a total of 10 expected bytes");
	weft_reader_free(&r);

	/* IncompleteReadError(b'ab', None). */
	r = mk(WEFT_LIMIT_DEFAULT);
	feed(r, "ab");
	weft_feed_eof(r);
	assert_int_equal(weft_readuntil(r, "\n", 1, &s), WEFT_EINCOMPLETE);
	assert_slice_equal(s, "ab");
	assert_incomplete(r, 2, -1,
	    "2 bytes read on a total of undefined expected bytes");
	/* A short buffer gets a truncated, terminated message. */
	assert_string_equal(weft_reader_error_message(r, msg, 8), "2 bytes");
	weft_reader_free(&r);

	assert_string_equal(weft_err_name(WEFT_EINCOMPLETE),
	    "WEFT_EINCOMPLETE");
	assert_string_equal(weft_err_name(WEFT_ELIMIT), "WEFT_ELIMIT");
}

/* ---- Beyond the cases: zero-copy slices --------------------------------- */

WT_CASE(slice_survives_feed)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s, t;
	char *big;
	size_t n = 3 * WEFT__BUF_SIZE;

	/* A slice stays valid while data arrives and the buffer grows. */
	feed(r, "first\nsecond\n");
	assert_int_equal(weft_readline(r, &s), 0);
	assert_slice_equal(s, "first\n");
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'z', n);
	assert_int_equal(weft_feed_data(r, big, n), 0);
	assert_int_equal(weft_feed_data(r, "\n", 1), 0);
	assert_slice_equal(s, "first\n");
	assert_int_equal(weft_readline(r, &t), 0);
	assert_slice_equal(t, "second\n");
	weft_feed_eof(r);
	assert_int_equal(weft_read_all(r, 0, &t), 0);
	assert_int_equal(t.len, n + 1);
	assert_true(weft_at_eof(r));
	free(big);
	weft_reader_free(&r);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(120);
	return wt_run_cases(argc, argv);
}
