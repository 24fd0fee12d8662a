/*
 * libFuzzer target: the StreamReader against a reference model.
 *
 * The input is a program: a header choosing the reader's limit and mode,
 * then operations (feed a chunk, feed EOF, readline, readuntil with one or
 * several separators, readexactly, read, read_slice, readline_copy,
 * read_all, set/clear the stored error, stop/start callbacks).  A
 * standalone reader (weft_reader_new) runs them outside any fiber, so a
 * read that would wait returns at once without consuming anything:
 * WEFT_ENOTFIBER, or -EAGAIN in callback mode (weft_read_start).  That is
 * "would block" to the model.
 *
 * The model is a plain byte array plus flags implementing S1.7 to S1.10
 * and S2.1 of doc/semantics.md (one pass of each coroutine, as
 * a call outside a fiber never waits) with weft's documented extensions
 * (read_all's max, readline_copy's -ENOBUFS, callback mode).  After every
 * operation the return code, the bytes returned, the remaining buffer,
 * at_eof, the stored error, the last ELIMIT/EINCOMPLETE details and
 * message, the paused flag, the transport calls and the callback count
 * must equal the model's; any mismatch abort()s.  Slices handed out are
 * checked again after every feed (they must stay valid until the next
 * read call), which ASan turns into a use-after-free check of the
 * buffer's growth and pooling.
 *
 * Input layout:
 *   byte 0  limit: 1 + b % 32, or 65536 when b >= 0xf8
 *   byte 1  bit 0 callback mode, bit 1 transport attached, bit 2 its
 *           pause_reading says -ENOTSUP, bit 3 weft_read_stop at once
 *   then    ops: one opcode byte, then its operands (see run_op)
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/stream.h>

#define MAX_BIG (96 * 1024)

/* ---- Input cursor -------------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t n;
};

static int
more(const struct in *in)
{
	return in->n > 0;
}

static unsigned
byte(struct in *in)
{
	unsigned b;

	if (in->n == 0)
		return 0;
	b = *in->p++;
	in->n--;
	return b;
}

/* Up to want bytes of the input; *len says how many. */
static const uint8_t *
bytes(struct in *in, size_t want, size_t *len)
{
	const uint8_t *p = in->p;

	if (want > in->n)
		want = in->n;
	in->p += want;
	in->n -= want;
	*len = want;
	return p;
}

/* ---- Failure ------------------------------------------------------------- */

static int opno;

static void __attribute__((noreturn))
fail(const char *what, long got, long want)
{
	fprintf(stderr, "fuzz_reader: op %d: %s: got %ld, model %ld\n", opno,
	    what, got, want);
	abort();
}

#define CHECK_EQ(what, got, want)                                              \
	do {                                                                   \
		long g_ = (long)(got), w_ = (long)(want);                      \
		if (g_ != w_)                                                  \
			fail(what, g_, w_);                                    \
	} while (0)

static void
check_bytes(const char *what, const void *got, size_t glen, const void *want,
    size_t wlen)
{
	CHECK_EQ(what, glen, wlen);
	if (wlen > 0 && memcmp(got, want, wlen) != 0)
		fail(what, 0, 1);
}

/* ---- The model --------------------------------------------------------- */

struct model {
	uint8_t *mem; /* the allocation */
	uint8_t *buf; /* the buffer's bytes: [buf, buf + len) */
	size_t len;
	size_t cap;
	size_t limit;
	int eof;
	int exc;
	/* last ELIMIT/EINCOMPLETE */
	int ecode;
	int efound;
	size_t econsumed;
	size_t epartial;
	long eexpected;
	/* flow control and callbacks */
	int transport; /* a transport is attached */
	int notsup;    /* its pause_reading says -ENOTSUP */
	int paused;
	long pauses;
	long resumes;
	int cbmode;
	int cb_on; /* a callback is installed (not stopped) */
	long cbcalls;
	int wouldblock; /* the code a waiting call returns */
};

static void
m_append(struct model *m, const void *p, size_t n)
{
	size_t head = m->mem != NULL ? (size_t)(m->buf - m->mem) : 0;

	if (head + m->len + n > m->cap) {
		if (m->len > 0)
			memmove(m->mem, m->buf, m->len);
		if (m->len + n > m->cap) {
			m->cap = (m->len + n) * 2;
			if ((m->mem = realloc(m->mem, m->cap)) == NULL)
				abort();
		}
		m->buf = m->mem;
	}
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void
m_consume(struct model *m, size_t n)
{
	if (n == 0)
		return;
	m->buf += n;
	m->len -= n;
}

static void
m_notify(struct model *m)
{
	if (m->cbmode && m->cb_on)
		m->cbcalls++;
}

/* S2.1: resume once the buffer is back at or below limit. */
static void
m_maybe_resume(struct model *m)
{
	if (m->paused && m->len <= m->limit) {
		m->paused = 0;
		if (m->transport)
			m->resumes++;
	}
}

/*
 * A call that has to wait.  Outside a fiber it returns WEFT_ENOTFIBER; in
 * callback mode -EAGAIN, the callback's "wait for the next call" -- and
 * that is waiting: a paused reader resumes its transport first (S1.6 and
 * S2.1 of doc/semantics.md), or a callback needing more than 2*limit bytes
 * would never be called again.  A reader stopped by weft_read_stop stays
 * paused: that pause is the caller's backpressure.
 */
static int
m_wait(struct model *m)
{
	if (m->cbmode && m->cb_on && m->paused) {
		m->paused = 0;
		if (m->transport)
			m->resumes++;
	}
	return m->wouldblock;
}

static int
m_feed(struct model *m, const void *p, size_t n)
{
	if (m->eof)
		return -EPIPE;
	if (n == 0)
		return 0;
	m_append(m, p, n);
	if (m->transport && !m->paused && m->len > 2 * m->limit) {
		m->pauses++;
		if (m->notsup)
			m->transport = 0;
		else
			m->paused = 1;
	}
	m_notify(m);
	return 0;
}

static void
m_set_err(struct model *m, int code, int found, size_t consumed, size_t partial,
    long expected)
{
	m->ecode = code;
	m->efound = found;
	m->econsumed = code == WEFT_ELIMIT ? consumed : 0;
	m->epartial = code == WEFT_EINCOMPLETE ? partial : 0;
	m->eexpected = expected;
}

/* Leftmost occurrence of sep in the buffer, or -1.  (memmem: a plain
 * loop of memcmp here costs most of the run time on the big feeds.) */
static long
m_find(const struct model *m, const uint8_t *sep, size_t seplen)
{
	const uint8_t *p;

	if (seplen > m->len)
		return -1;
	p = memmem(m->buf, m->len, sep, seplen);
	return p == NULL ? -1 : (long)(p - m->buf);
}

struct sep {
	const uint8_t *p;
	size_t len;
};

/*
 * One pass of CPython 3.13's readuntil (the search loop before its first
 * wait) with offset 0.  Returns 0 with *end set, WEFT_ELIMIT (details
 * recorded, buffer untouched), WEFT_EINCOMPLETE (EOF, nothing matched;
 * buffer untouched here) or the would-block code.
 */
static int
m_search(struct model *m, const struct sep *seps, size_t nseps, size_t *end,
    int record_incomplete)
{
	size_t minlen = SIZE_MAX, maxlen = 0, i, best_end = 0, best_len = 0;
	size_t best_start = 0, off;
	int found = 0;
	long at;

	for (i = 0; i < nseps; i++) {
		if (seps[i].len < minlen)
			minlen = seps[i].len;
		if (seps[i].len > maxlen)
			maxlen = seps[i].len;
	}
	if (m->len >= minlen) {
		for (i = 0; i < nseps; i++) {
			if ((at = m_find(m, seps[i].p, seps[i].len)) < 0)
				continue;
			/* The smallest end wins; on a tie the shortest. */
			if (!found || (size_t)at + seps[i].len < best_end ||
			    ((size_t)at + seps[i].len == best_end &&
				seps[i].len < best_len)) {
				found = 1;
				best_start = (size_t)at;
				best_len = seps[i].len;
				best_end = best_start + best_len;
			}
		}
		if (found) {
			if (best_start > m->limit) {
				m_set_err(m, WEFT_ELIMIT, 1, best_start, 0, 0);
				return WEFT_ELIMIT;
			}
			*end = best_end;
			return 0;
		}
		off = m->len + 1 > maxlen ? m->len + 1 - maxlen : 0;
		if (off > m->limit) {
			m_set_err(m, WEFT_ELIMIT, 0, off, 0, 0);
			return WEFT_ELIMIT;
		}
	}
	if (m->eof) {
		if (record_incomplete)
			m_set_err(m, WEFT_EINCOMPLETE, 0, 0, m->len, -1);
		return WEFT_EINCOMPLETE;
	}
	return m_wait(m);
}

/* ---- The reader under test ---------------------------------------------- */

static struct model M;
static weft_reader_t *R;

/* The slice handed out by the last read call, and a copy of its bytes. */
static weft_slice_t lent;
static uint8_t *lent_copy;
static size_t lent_cap;

static long t_pauses, t_resumes, t_cbcalls;

static int
t_pause(void *ctx)
{
	(void)ctx;
	t_pauses++;
	return M.notsup ? -ENOTSUP : 0;
}

static int
t_resume(void *ctx)
{
	(void)ctx;
	t_resumes++;
	return 0;
}

static const weft_transport_ops_t t_ops = { t_pause, t_resume };

static void
t_cb(weft_reader_t *r, int status, void *arg)
{
	(void)r;
	(void)status;
	(void)arg;
	t_cbcalls++;
}

static void
lend_keep(weft_slice_t s)
{
	if (s.len > lent_cap) {
		lent_cap = s.len;
		if ((lent_copy = realloc(lent_copy, lent_cap)) == NULL)
			abort();
	}
	if (s.len > 0)
		memcpy(lent_copy, s.base, s.len);
	lent = s;
}

static void
lend_drop(void)
{
	lent.base = NULL;
	lent.len = 0;
}

/* Feeding must not disturb the last slice handed out. */
static void
lend_check(void)
{
	if (lent.base != NULL)
		check_bytes("lent slice after feed", lent.base, lent.len,
		    lent_copy, lent.len);
}

/*
 * The buffer against the model's.  A big one (only OP_FEED_BIG makes
 * them) is compared at both ends and at sampled points after each op and
 * in full at the end of the run: comparing 96 KiB after every op would
 * take most of the run time.
 */
static void
check_buffer(int full)
{
	weft_slice_t b = weft_reader_buffer(R);
	size_t i, step;

	if (full || M.len <= 8192) {
		check_bytes("buffer", b.base, b.len, M.buf, M.len);
		return;
	}
	CHECK_EQ("buffer length", b.len, M.len);
	check_bytes("buffer head", b.base, 1024, M.buf, 1024);
	check_bytes("buffer tail", b.base + b.len - 1024, 1024,
	    M.buf + M.len - 1024, 1024);
	step = M.len / 61;
	for (i = 1024; i < M.len - 1024; i += step)
		CHECK_EQ("buffer sample", (uint8_t)b.base[i], M.buf[i]);
}

/* Compare every observable of the reader with the model. */
static void
check_state(int full)
{
	weft_read_error_t e;
	char msg[128], want[128];
	int code;

	check_buffer(full);
	CHECK_EQ("at_eof", weft_at_eof(R), M.eof && M.len == 0);
	CHECK_EQ("exception", weft_reader_exception(R), M.exc);
	CHECK_EQ("paused", weft_reader_paused(R), M.paused);
	CHECK_EQ("has_transport", weft_reader_has_transport(R), M.transport);
	CHECK_EQ("pause_reading calls", t_pauses, M.pauses);
	CHECK_EQ("resume_reading calls", t_resumes, M.resumes);
	CHECK_EQ("callbacks", t_cbcalls, M.cbcalls);
	CHECK_EQ("limit", weft_reader_limit(R), M.limit);

	memset(&e, 0xa5, sizeof(e));
	code = weft_reader_last_error(R, &e);
	CHECK_EQ("last_error rc", code, M.ecode);
	CHECK_EQ("last_error code", e.code, M.ecode);
	if (M.ecode == WEFT_ELIMIT) {
		CHECK_EQ("last_error found", e.found, M.efound);
		CHECK_EQ("last_error consumed", e.consumed, M.econsumed);
		snprintf(want, sizeof(want), "%s",
		    M.efound
			? "Separator is found, but chunk is longer than limit"
			: "Separator is not found, and chunk exceed the limit");
	} else if (M.ecode == WEFT_EINCOMPLETE) {
		CHECK_EQ("last_error partial", e.partial, M.epartial);
		CHECK_EQ("last_error expected", e.expected, M.eexpected);
		if (M.eexpected < 0)
			snprintf(want, sizeof(want),
			    "%zu bytes read on a total "
			    "of undefined expected bytes",
			    M.epartial);
		else
			snprintf(want, sizeof(want),
			    "%zu bytes read on a total "
			    "of %ld expected bytes",
			    M.epartial, M.eexpected);
	} else {
		want[0] = '\0';
	}
	weft_reader_error_message(R, msg, sizeof(msg));
	check_bytes("error message", msg, strlen(msg), want, strlen(want));
}

/* ---- Operations -------------------------------------------------------- */

enum {
	OP_FEED,
	OP_FEED_BIG,
	OP_EOF,
	OP_READLINE,
	OP_READUNTIL,
	OP_READUNTIL_ANY,
	OP_READEXACTLY,
	OP_READ,
	OP_READ_SLICE,
	OP_READLINE_COPY,
	OP_READ_ALL,
	OP_EXCEPTION,
	OP_STOP_START,
	OP_N
};

static uint8_t big[MAX_BIG];
static uint8_t out[MAX_BIG + 64];

/* The model's answer for a slice or copy: bytes [0, n) of the buffer,
 * which the model then consumes. */
static void
expect_front(const void *got, size_t glen, size_t n, const char *what)
{
	check_bytes(what, got, glen, M.buf, n);
	m_consume(&M, n);
}

static void
op_feed(const void *p, size_t n)
{
	int rc = weft_feed_data(R, p, n);

	CHECK_EQ("feed_data rc", rc, m_feed(&M, p, n));
	lend_check();
}

static void
op_readuntil(struct sep *seps, size_t nseps, int any)
{
	weft_slice_t s = { NULL, 0 }, ws[4];
	size_t end, i;
	int rc, mrc;

	if (any) {
		for (i = 0; i < nseps; i++) {
			ws[i].base = (const char *)seps[i].p;
			ws[i].len = seps[i].len;
		}
		rc = weft_readuntil_any(R, ws, nseps, &s);
	} else {
		rc = weft_readuntil(R, seps[0].p, seps[0].len, &s);
	}
	for (i = 0; i < nseps; i++)
		if (seps[i].len == 0)
			break;
	if (i < nseps || nseps == 0) {
		CHECK_EQ("readuntil empty separator", rc, -EINVAL);
		return;
	}
	lend_drop();
	if (M.exc != 0) {
		CHECK_EQ("readuntil rc (exception)", rc, M.exc);
		return;
	}
	mrc = m_search(&M, seps, nseps, &end, 1);
	CHECK_EQ("readuntil rc", rc, mrc);
	if (mrc == 0) {
		expect_front(s.base, s.len, end, "readuntil bytes");
		m_maybe_resume(&M);
		lend_keep(s);
	} else if (mrc == WEFT_EINCOMPLETE) {
		/* The partial data is returned and the buffer cleared. */
		expect_front(s.base, s.len, M.len, "readuntil partial");
		lend_keep(s);
	}
}

/* readline's search; *partial says it hit EOF without a '\n'. */
static int
m_readline(size_t *end, int *partial)
{
	static const struct sep nl = { (const uint8_t *)"\n", 1 };
	int mrc;

	*partial = 0;
	mrc = m_search(&M, &nl, 1, end, 0);
	if (mrc == WEFT_EINCOMPLETE) {
		/* S1.9: the partial line is returned, no resume, nothing recorded. */
		*end = M.len;
		*partial = 1;
		return 0;
	}
	if (mrc == WEFT_ELIMIT) {
		/* S1.9: drop the overlong line: up to and including its
		 * '\n' when found, else everything. */
		if (M.econsumed < M.len && M.buf[M.econsumed] == '\n')
			m_consume(&M, M.econsumed + 1);
		else
			m_consume(&M, M.len);
		m_maybe_resume(&M);
	}
	return mrc;
}

static void
op_readline(void)
{
	weft_slice_t s = { NULL, 0 };
	size_t end = 0;
	int rc, mrc, partial;

	rc = weft_readline(R, &s);
	lend_drop();
	if (M.exc != 0) {
		CHECK_EQ("readline rc (exception)", rc, M.exc);
		return;
	}
	mrc = m_readline(&end, &partial);
	CHECK_EQ("readline rc", rc, mrc);
	if (mrc == 0) {
		expect_front(s.base, s.len, end, "readline bytes");
		if (!partial)
			m_maybe_resume(&M);
		lend_keep(s);
	}
}

static void
op_readline_copy(size_t size)
{
	ssize_t rc;
	size_t end = 0;
	int mrc, partial;

	rc = weft_readline_copy(R, out, size);
	lend_drop();
	if (M.exc != 0) {
		CHECK_EQ("readline_copy rc (exception)", rc, M.exc);
		return;
	}
	/* The search and the overrun drop are readline's; a line that does
	 * not fit is -ENOBUFS and stays. */
	mrc = m_readline(&end, &partial);
	if (mrc == 0 && end > size) {
		CHECK_EQ("readline_copy rc", rc, -ENOBUFS);
		return;
	}
	if (mrc != 0) {
		CHECK_EQ("readline_copy rc", rc, mrc);
		return;
	}
	CHECK_EQ("readline_copy rc", rc, (long)end);
	expect_front(out, (size_t)rc, end, "readline_copy bytes");
	m_maybe_resume(&M);
}

static void
op_readexactly(long n)
{
	size_t got = 12345;
	int rc;

	rc = weft_readexactly(R, out, n, &got);
	lend_drop();
	if (n < 0) {
		CHECK_EQ("readexactly rc (n < 0)", rc, -EINVAL);
		return;
	}
	if (M.exc != 0) {
		CHECK_EQ("readexactly rc (exception)", rc, M.exc);
		return;
	}
	if (n == 0) {
		CHECK_EQ("readexactly rc (n == 0)", rc, 0);
		CHECK_EQ("readexactly got (n == 0)", got, 0);
		return;
	}
	if (M.len >= (size_t)n) {
		CHECK_EQ("readexactly rc", rc, 0);
		CHECK_EQ("readexactly got", got, n);
		expect_front(out, (size_t)n, (size_t)n, "readexactly bytes");
		m_maybe_resume(&M);
		return;
	}
	if (M.eof) {
		/* S1.10: the partial bytes, the buffer cleared, no resume. */
		CHECK_EQ("readexactly rc (EOF)", rc, WEFT_EINCOMPLETE);
		CHECK_EQ("readexactly got (EOF)", got, M.len);
		m_set_err(&M, WEFT_EINCOMPLETE, 0, 0, M.len, n);
		expect_front(out, got, M.len, "readexactly partial");
		return;
	}
	CHECK_EQ("readexactly rc (would wait)", rc, m_wait(&M));
	CHECK_EQ("readexactly got untouched", got, 12345);
}

static void
op_read(size_t n, int slice)
{
	weft_slice_t s = { NULL, 0 };
	ssize_t rc;
	size_t k;

	if (slice)
		rc = weft_read_slice(R, n, &s);
	else
		rc = weft_read(R, out, n);
	lend_drop();
	if (M.exc != 0) {
		CHECK_EQ("read rc (exception)", rc, M.exc);
		return;
	}
	if (n == 0) {
		CHECK_EQ("read rc (n == 0)", rc, 0);
		if (slice)
			CHECK_EQ("read_slice len (n == 0)", s.len, 0);
		return;
	}
	if (M.len == 0 && !M.eof) {
		CHECK_EQ("read rc (would wait)", rc, m_wait(&M));
		return;
	}
	k = M.len < n ? M.len : n;
	CHECK_EQ("read rc", rc, (long)k);
	if (slice) {
		expect_front(s.base, s.len, k, "read_slice bytes");
		lend_keep(s);
	} else {
		expect_front(out, k, k, "read bytes");
	}
	m_maybe_resume(&M);
}

static void
op_read_all(size_t max)
{
	weft_slice_t s = { NULL, 0 };
	int rc;

	rc = weft_read_all(R, max, &s);
	lend_drop();
	if (M.exc != 0) {
		CHECK_EQ("read_all rc (exception)", rc, M.exc);
		return;
	}
	if (max != 0 && M.len > max) {
		/* Over max: the data is discarded (weft's extension). */
		CHECK_EQ("read_all rc (over max)", rc, WEFT_ELIMIT);
		m_consume(&M, M.len);
		if (!M.eof)
			m_maybe_resume(&M);
		return;
	}
	if (!M.eof) {
		/* Would wait: nothing is consumed (stream.h, weft_read_start:
		 * "they return -EAGAIN and consume nothing"). */
		CHECK_EQ("read_all rc (would wait)", rc, m_wait(&M));
		return;
	}
	CHECK_EQ("read_all rc", rc, 0);
	expect_front(s.base, s.len, M.len, "read_all bytes");
	m_maybe_resume(&M);
	lend_keep(s);
}

static int big_done;

/*
 * One feed of up to 96 KiB (past the 64 KiB pooled buffer, so it grows,
 * with or without a slice lent): fill bytes with a '\n' every so often,
 * so lines of all lengths appear.  Only the first of an input is big; the
 * rest feed 1 KiB: every growth is a fresh 128 KiB block, and a few of
 * them per input would take most of the run time.
 */
static void
op_feed_big(struct in *in)
{
	unsigned k = byte(in), fill = byte(in), every = byte(in);
	size_t n = (1 + (size_t)k % 96) * 1024, have;

	if (big_done)
		n = 1024;
	big_done = 1;
	/* One period, then doubled: no per-byte loop. */
	have = every != 0 ? every : 1;
	memset(big, (int)fill, have);
	if (every != 0)
		big[every - 1] = '\n';
	for (; have < n; have *= 2)
		memcpy(big + have, big, have < n - have ? have : n - have);
	op_feed(big, n);
}

static void
op_stop_start(void)
{
	int rc;

	if (!M.cbmode)
		return;
	if (M.cb_on) {
		CHECK_EQ("read_stop rc", weft_read_stop(R), 0);
		M.cb_on = 0;
		if (!M.paused && M.transport) {
			M.pauses++;
			if (!M.notsup)
				M.paused = 1;
		}
		return;
	}
	rc = weft_read_start(R, t_cb, NULL);
	CHECK_EQ("read_start rc", rc, 0);
	M.cb_on = 1;
	if (M.paused && M.len <= 2 * M.limit) {
		M.paused = 0;
		if (M.transport)
			M.resumes++;
	}
	if (M.len > 0 || M.eof || M.exc != 0)
		m_notify(&M);
}

static void
run_op(struct in *in)
{
	struct sep seps[4];
	size_t len, i, nseps;
	const uint8_t *p;
	unsigned op = byte(in) % OP_N, b;

	switch (op) {
	case OP_FEED:
		p = bytes(in, byte(in), &len);
		op_feed(p, len);
		break;
	case OP_FEED_BIG:
		op_feed_big(in);
		break;
	case OP_EOF:
		weft_feed_eof(R);
		M.eof = 1;
		m_notify(&M);
		lend_check();
		break;
	case OP_READLINE:
		op_readline();
		break;
	case OP_READUNTIL:
		/* 0..4 bytes: an empty separator is -EINVAL. */
		seps[0].p = bytes(in, byte(in) % 5, &seps[0].len);
		op_readuntil(seps, 1, 0);
		break;
	case OP_READUNTIL_ANY:
		nseps = byte(in) % 4; /* 0 is -EINVAL */
		for (i = 0; i < nseps; i++)
			seps[i].p = bytes(in, byte(in) % 5, &seps[i].len);
		op_readuntil(seps, nseps, 1);
		break;
	case OP_READEXACTLY:
		b = byte(in);
		op_readexactly(b >= 0xfe ? (long)b - 0x100 : (long)b);
		break;
	case OP_READ:
	case OP_READ_SLICE:
		op_read(byte(in), op == OP_READ_SLICE);
		break;
	case OP_READLINE_COPY:
		op_readline_copy(byte(in));
		break;
	case OP_READ_ALL:
		b = byte(in);
		op_read_all(b == 0xff ? 0 : b);
		break;
	case OP_EXCEPTION:
		/* Sticky until cleared; a set one goes to the callback. */
		b = byte(in) & 1 ? -ECONNRESET : 0;
		weft_reader_set_exception(R, (int)b);
		M.exc = (int)b;
		if (b != 0)
			m_notify(&M);
		break;
	case OP_STOP_START:
		op_stop_start();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	unsigned b0, b1;
	uint8_t *mem;
	size_t cap;

	if (size < 2)
		return 0;
	b0 = byte(&in);
	b1 = byte(&in);
	/* The model's memory is kept from run to run: fresh big blocks
	 * cost more page faults than everything else together. */
	mem = M.mem;
	cap = M.cap;
	memset(&M, 0, sizeof(M));
	M.mem = M.buf = mem;
	M.cap = cap;
	M.limit = b0 >= 0xf8 ? WEFT_LIMIT_DEFAULT : 1 + b0 % 32;
	M.wouldblock = WEFT_ENOTFIBER;
	t_pauses = t_resumes = t_cbcalls = 0;
	big_done = 0;
	lend_drop();
	opno = 0;

	R = NULL;
	if (weft_reader_new((ssize_t)M.limit, &R) != 0)
		abort();
	if (b1 & 2) {
		M.transport = 1;
		M.notsup = (b1 & 4) != 0;
		if (weft_reader_set_transport(R, &t_ops, NULL) != 0)
			abort();
	}
	if (b1 & 1) {
		M.cbmode = M.cb_on = 1;
		M.wouldblock = -EAGAIN;
		if (weft_read_start(R, t_cb, NULL) != 0)
			abort();
		if (b1 & 8)
			op_stop_start();
	}
	check_state(1);
	while (more(&in)) {
		opno++;
		run_op(&in);
		check_state(!more(&in));
	}
	weft_reader_free(&R);
	return 0;
}
