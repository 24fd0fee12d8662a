/*
 * StreamReader conformance, continued (tests/reader_util.h and the
 * notes of tests/test_reader.c): readuntil and readexactly, cases 47-84
 * of doc/semantics.md (S7).
 */
#include "reader_util.h"

/* ---- readuntil ---------------------------------------------------------- */

WT_CASE(case_047_readuntil_empty_separator)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	feed(r, "abc");
	assert_int_equal(weft_readuntil(r, "", 0, &s), -EINVAL);
	assert_buffer(r, "abc");
	weft_reader_free(&r);
}

WT_CASE(case_048_readuntil_separator_checked_first)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	weft_reader_set_exception(r, -EPERM);
	assert_int_equal(weft_readuntil(r, "", 0, &s), -EINVAL);
	assert_int_equal(weft_reader_exception(r), -EPERM);
	weft_reader_free(&r);
}

WT_CASE(case_049_readuntil_empty_tuple)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t seps[1] = { { "\n", 1 } };
	weft_slice_t s;

	feed(r, "a\n");
	assert_int_equal(weft_readuntil_any(r, seps, 0, &s), -EINVAL);
	assert_buffer(r, "a\n");
	weft_reader_free(&r);
}

WT_CASE(case_050_readuntil_tuple_empty_member)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t one[1] = { { "", 0 } };
	weft_slice_t two[2] = { { "\n", 1 }, { "", 0 } };
	weft_slice_t s;

	feed(r, "a\n");
	assert_int_equal(weft_readuntil_any(r, one, 1, &s), -EINVAL);
	assert_int_equal(weft_readuntil_any(r, two, 2, &s), -EINVAL);
	assert_buffer(r, "a\n");
	weft_reader_free(&r);
}

WT_CASE(case_051_readuntil_tuple_cr_lf)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t seps[2] = { { "\r", 1 }, { "\n", 1 } };
	weft_slice_t s;

	feed(r, "line 1\nline 2\r");
	assert_int_equal(weft_readuntil_any(r, seps, 2, &s), 0);
	assert_slice_equal(s, "line 1\n");
	assert_int_equal(weft_readuntil_any(r, seps, 2, &s), 0);
	assert_slice_equal(s, "line 2\r");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_052_readuntil_tuple_earliest_end)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t seps[2] = { { "DEF", 3 }, { "BCDE", 4 } };
	weft_slice_t s;

	feed(r, "ABCDEFG");
	assert_int_equal(weft_readuntil_any(r, seps, 2, &s), 0);
	assert_slice_equal(s, "ABCDE");
	assert_buffer(r, "FG");
	weft_reader_free(&r);
}

WT_CASE(case_053_readuntil_tuple_found_too_long)
{
	weft_reader_t *r = mk(3);
	weft_slice_t seps[2] = { { "A", 1 }, { "ome dataA", 9 } };
	weft_slice_t rev[2] = { { "ome dataA", 9 }, { "A", 1 } };
	weft_slice_t s;

	feed(r, "some dataA");
	assert_int_equal(weft_readuntil_any(r, seps, 2, &s), WEFT_ELIMIT);
	assert_overrun(r, 1, 9);
	assert_buffer(r, "some dataA");
	/* The tie goes to the shorter separator in either order. */
	assert_int_equal(weft_readuntil_any(r, rev, 2, &s), WEFT_ELIMIT);
	assert_overrun(r, 1, 9);
	assert_buffer(r, "some dataA");
	weft_reader_free(&r);
}

WT_CASE(case_054_readuntil_tuple_pending)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t seps[2] = { { "A", 1 }, { "long sep", 8 } };
	struct call c = { .r = r,
		.op = OP_READUNTIL_ANY,
		.seps = seps,
		.nseps = 2 };

	feed(r, "data");
	start(&c);
	feed(r, "Z");
	settle();
	assert_false(c.done);
	feed(r, "Aaaa");
	assert_int_equal(finish(&c), 0);
	assert_got(&c, "dataZA");
	assert_buffer(r, "aaa");
	weft_reader_free(&r);
}

WT_CASE(case_056_readuntil_multibyte_separator)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	feed(r, "lineAAA");
	assert_int_equal(weft_readuntil(r, "AAA", 3, &s), 0);
	assert_slice_equal(s, "lineAAA");
	assert_buffer(r, "");
	feed(r, "lineAAAxxx");
	assert_int_equal(weft_readuntil(r, "AAA", 3, &s), 0);
	assert_slice_equal(s, "lineAAA");
	assert_buffer(r, "xxx");
	weft_reader_free(&r);
}

/* Feed chunks to a readuntil(aaa), all at once and one per iteration. */
static void
multi_chunk(const char *const *chunks, const char *want)
{
	weft_reader_t *r;
	weft_slice_t s;
	struct call c;
	size_t i;

	r = mk(WEFT_LIMIT_DEFAULT);
	for (i = 0; chunks[i] != NULL; i++)
		assert_int_equal(weft_feed_data(r, chunks[i],
				     strlen(chunks[i])),
		    0);
	assert_int_equal(weft_readuntil(r, "aaa", 3, &s), 0);
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.base, want, s.len);
	assert_buffer(r, "");
	weft_reader_free(&r);

	r = mk(WEFT_LIMIT_DEFAULT);
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.op = OP_READUNTIL;
	c.sep = "aaa";
	start(&c);
	for (i = 0; chunks[i] != NULL; i++) {
		assert_false(c.done);
		assert_int_equal(weft_feed_data(r, chunks[i],
				     strlen(chunks[i])),
		    0);
		settle();
	}
	assert_int_equal(finish(&c), 0);
	assert_int_equal(c.got, strlen(want));
	assert_memory_equal(c.buf, want, c.got);
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_057_readuntil_multi_chunks)
{
	static const char *const a[] = { "QWEaa", "XYaa", "a", NULL };
	static const char *const b[] = { "QWEaa", "XYa", "aa", NULL };
	static const char *const x[] = { "XXX", "a", "a", "a", NULL };

	multi_chunk(a, "QWEaaXYaaa");
	multi_chunk(b, "QWEaaXYaaa");
	multi_chunk(x, "XXXaaa");
}

WT_CASE(case_058_readuntil_eof_incomplete)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	feed(r, "some dataAA");
	weft_feed_eof(r);
	assert_int_equal(weft_readuntil(r, "AAA", 3, &s), WEFT_EINCOMPLETE);
	assert_slice_equal(s, "some dataAA");
	assert_incomplete(r, 11, -1,
	    "11 bytes read on a total of undefined expected bytes");
	assert_buffer(r, "");
	assert_true(weft_at_eof(r));
	weft_reader_free(&r);
}

WT_CASE(case_059_readuntil_eof_only)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s = { NULL, 1 };

	weft_feed_eof(r);
	assert_int_equal(weft_readuntil(r, "\n", 1, &s), WEFT_EINCOMPLETE);
	assert_slice_equal(s, "");
	assert_incomplete(r, 0, -1,
	    "0 bytes read on a total of undefined expected bytes");
	assert_true(weft_at_eof(r));
	weft_reader_free(&r);
}

WT_CASE(case_060_readuntil_not_found_then_found)
{
	weft_reader_t *r = mk(3);
	weft_slice_t s;

	feed(r, "some dataAA");
	assert_int_equal(weft_readuntil(r, "AAA", 3, &s), WEFT_ELIMIT);
	assert_overrun(r, 0, 9);
	assert_buffer(r, "some dataAA");
	feed(r, "A");
	assert_int_equal(weft_readuntil(r, "AAA", 3, &s), WEFT_ELIMIT);
	assert_overrun(r, 1, 9);
	assert_buffer(r, "some dataAAA");
	weft_reader_free(&r);
}

WT_CASE(case_061_readuntil_at_limit)
{
	weft_reader_t *r = mk(3);
	weft_slice_t s;

	feed(r, "abcXdef");
	assert_int_equal(weft_readuntil(r, "X", 1, &s), 0);
	assert_slice_equal(s, "abcX");
	assert_buffer(r, "def");
	weft_reader_free(&r);
}

WT_CASE(case_062_readuntil_found_too_long)
{
	weft_reader_t *r = mk(3);
	weft_slice_t s;

	feed(r, "abcdX");
	assert_int_equal(weft_readuntil(r, "X", 1, &s), WEFT_ELIMIT);
	assert_overrun(r, 1, 4);
	assert_buffer(r, "abcdX");
	weft_reader_free(&r);
}

WT_CASE(case_063_readuntil_split_separator_pending)
{
	weft_reader_t *r = mk(5);
	struct call c = { .r = r, .op = OP_READUNTIL, .sep = "ab" };

	feed(r, "xxxxxa");
	start(&c);
	assert_buffer(r, "xxxxxa");
	feed(r, "b");
	assert_int_equal(finish(&c), 0);
	assert_got(&c, "xxxxxab");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_064_readuntil_not_found_over_limit)
{
	weft_reader_t *r = mk(5);
	weft_slice_t s;

	feed(r, "xxxxxxa");
	assert_int_equal(weft_readuntil(r, "ab", 2, &s), WEFT_ELIMIT);
	assert_overrun(r, 0, 6);
	assert_buffer(r, "xxxxxxa");
	weft_reader_free(&r);
}

WT_CASE(case_065_readuntil_long_separator_tolerance)
{
	weft_reader_t *r = mk(3);
	struct call c = { .r = r, .op = OP_READUNTIL, .sep = "XYZ" };

	feed(r, "abcde");
	start(&c);
	feed(r, "f");
	assert_int_equal(finish(&c), WEFT_ELIMIT);
	assert_overrun(r, 0, 4);
	assert_buffer(r, "abcdef");
	weft_reader_free(&r);
}

WT_CASE(case_066_readuntil_separator_longer_than_limit)
{
	weft_reader_t *r = mk(2);
	weft_slice_t s;

	feed(r, "ABCD");
	assert_int_equal(weft_readuntil(r, "ABCD", 4, &s), 0);
	assert_slice_equal(s, "ABCD");
	assert_buffer(r, "");
	weft_reader_free(&r);

	r = mk(2);
	feed(r, "xxABCD");
	assert_int_equal(weft_readuntil(r, "ABCD", 4, &s), 0);
	assert_slice_equal(s, "xxABCD");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_067_readuntil_line_then_incomplete)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	feed(r, "abc\ndef");
	weft_feed_eof(r);
	assert_int_equal(weft_readuntil(r, "\n", 1, &s), 0);
	assert_slice_equal(s, "abc\n");
	assert_int_equal(weft_readuntil(r, "\n", 1, &s), WEFT_EINCOMPLETE);
	assert_slice_equal(s, "def");
	assert_incomplete(r, 3, -1,
	    "3 bytes read on a total of undefined expected bytes");
	assert_buffer(r, "");
	assert_true(weft_at_eof(r));
	weft_reader_free(&r);
}

WT_CASE(case_068_readuntil_crlf)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char sep[2] = { '\r', '\n' };
	weft_slice_t s;

	feed(r, "some data\r\n");
	assert_int_equal(weft_readuntil(r, sep, sizeof(sep), &s), 0);
	assert_slice_equal(s, "some data\r\n");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_069_readuntil_exception)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	feed(r, "a\n");
	weft_reader_set_exception(r, -EIO);
	assert_int_equal(weft_readuntil(r, "\n", 1, &s), -EIO);
	assert_buffer(r, "a\n");
	weft_reader_free(&r);
}

WT_CASE(case_070_readuntil_no_overlap)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	weft_slice_t s;

	feed(r, "xaaaa");
	assert_int_equal(weft_readuntil(r, "aa", 2, &s), 0);
	assert_slice_equal(s, "xaa");
	assert_buffer(r, "aa");
	weft_reader_free(&r);
}

WT_CASE(case_071_readuntil_crlf_split)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READUNTIL, .sep = "\r\n" };

	start(&c);
	feed(r, "ab\r");
	settle();
	assert_false(c.done);
	assert_buffer(r, "ab\r");
	feed(r, "\ncd");
	assert_int_equal(finish(&c), 0);
	assert_got(&c, "ab\r\n");
	assert_buffer(r, "cd");
	weft_reader_free(&r);
}

WT_CASE(case_072_readuntil_overrun_then_readline)
{
	weft_reader_t *r = mk(4);
	weft_slice_t s;

	feed(r, "abcdefg\nhij\n");
	assert_int_equal(weft_readuntil(r, "\n", 1, &s), WEFT_ELIMIT);
	assert_overrun(r, 1, 7);
	assert_buffer(r, "abcdefg\nhij\n");
	assert_int_equal(weft_readline(r, &s), WEFT_ELIMIT);
	assert_overrun(r, 1, 7);
	assert_buffer(r, "hij\n");
	weft_reader_free(&r);
}

WT_CASE(case_073_readuntil_pending_eof)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READUNTIL, .sep = "\r\n" };

	feed(r, "ab");
	start(&c);
	weft_feed_eof(r);
	assert_int_equal(finish(&c), WEFT_EINCOMPLETE);
	assert_got(&c, "ab");
	assert_incomplete(r, 2, -1,
	    "2 bytes read on a total of undefined expected bytes");
	assert_buffer(r, "");
	weft_reader_free(&r);
}

/* ---- readexactly -------------------------------------------------------- */

WT_CASE(case_074_readexactly_zero)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];
	size_t got = 99;

	feed(r, DATA);
	assert_int_equal(weft_readexactly(r, buf, 0, &got), 0);
	assert_int_equal(got, 0);
	assert_buffer(r, DATA);
	weft_reader_free(&r);
}

WT_CASE(case_075_readexactly_negative)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];

	feed(r, DATA);
	assert_int_equal(weft_readexactly(r, buf, -1, NULL), -EINVAL);
	assert_buffer(r, DATA);
	weft_reader_free(&r);
}

WT_CASE(case_076_readexactly_negative_before_exception)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];

	weft_reader_set_exception(r, -EIO);
	assert_int_equal(weft_readexactly(r, buf, -1, NULL), -EINVAL);
	weft_reader_free(&r);
}

WT_CASE(case_077_readexactly_zero_exception)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];

	weft_reader_set_exception(r, -EIO);
	assert_int_equal(weft_readexactly(r, buf, 0, NULL), -EIO);
	weft_reader_free(&r);
}

WT_CASE(case_078_readexactly_pending)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READEXACTLY, .n = 36 };

	start(&c);
	feed(r, DATA);
	feed(r, DATA);
	feed(r, DATA);
	assert_int_equal(finish(&c), 0);
	assert_got(&c, DATA DATA);
	assert_buffer(r, DATA);
	weft_reader_free(&r);
}

WT_CASE(case_079_readexactly_not_capped_by_limit)
{
	weft_reader_t *r = mk(3);
	char buf[8];
	size_t got = 0;

	feed(r, "chunk");
	assert_int_equal(weft_readexactly(r, buf, 5, &got), 0);
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "chunk", 5);
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_080_readexactly_pending_eof)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READEXACTLY, .n = 36 };

	start(&c);
	feed(r, DATA);
	weft_feed_eof(r);
	assert_int_equal(finish(&c), WEFT_EINCOMPLETE);
	assert_got(&c, DATA);
	assert_incomplete(r, 18, 36,
	    "18 bytes read on a total of 36 expected bytes");
	assert_buffer(r, "");
	assert_true(weft_at_eof(r));
	weft_reader_free(&r);
}

WT_CASE(case_081_readexactly_eof_only)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];
	size_t got = 99;

	weft_feed_eof(r);
	assert_int_equal(weft_readexactly(r, buf, 3, &got), WEFT_EINCOMPLETE);
	assert_int_equal(got, 0);
	assert_incomplete(r, 0, 3,
	    "0 bytes read on a total of 3 expected bytes");
	weft_reader_free(&r);
}

WT_CASE(case_082_readexactly_all)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	char buf[8];
	size_t got = 0;

	feed(r, "abcd");
	assert_int_equal(weft_readexactly(r, buf, 4, &got), 0);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "abcd", 4);
	assert_buffer(r, "");
	weft_reader_free(&r);
}

WT_CASE(case_083_readexactly_cancel)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READEXACTLY, .n = 4 };
	char buf[8];
	size_t got = 0;

	feed(r, "ab");
	start(&c);
	assert_int_equal(weft_cancel(c.f), 0);
	assert_int_equal(finish(&c), WEFT_ECANCELED);
	assert_buffer(r, "ab");
	assert_true(weft__wq_empty(&r->r_wq));
	feed(r, "cd");
	assert_int_equal(weft_readexactly(r, buf, 4, &got), 0);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "abcd", 4);
	assert_buffer(r, "");
	assert_true(weft__wq_empty(&r->r_wq));
	weft_reader_free(&r);
}

WT_CASE(case_084_readexactly_pending_exception)
{
	weft_reader_t *r = mk(WEFT_LIMIT_DEFAULT);
	struct call c = { .r = r, .op = OP_READEXACTLY, .n = 5 };

	feed(r, "ab");
	start(&c);
	weft_reader_set_exception(r, -EIO);
	assert_int_equal(finish(&c), -EIO);
	assert_buffer(r, "ab");
	weft_reader_free(&r);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(120);
	return wt_run_cases(argc, argv);
}
