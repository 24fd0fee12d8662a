/*
 * Shared by the StreamReader conformance programs
 * (tests/test_reader*.c, tests/test_readuntil.c): a read call on its own
 * fiber, checks on the last ELIMIT / EINCOMPLETE and a fake transport
 * recording flow-control calls.  Static inline so that a program may
 * leave some unused.
 */
#ifndef READER_UTIL_H
#define READER_UTIL_H

#include "harness.h"

#include <errno.h>
#include <stdio.h>

/* DATA of doc/semantics.md S7 (18 bytes). */
#define DATA "line1\nline2\nline3\n"

#define MSG_FOUND "Separator is found, but chunk is longer than limit"
#define MSG_NOT_FOUND "Separator is not found, and chunk exceed the limit"

/* Feed a string literal. */
#define feed(r, lit)                                                           \
	assert_int_equal(weft_feed_data((r), (lit), sizeof(lit) - 1), 0)

/* The bytes a finished call returned must equal lit. */
#define assert_got(c, lit)                                                     \
	do {                                                                   \
		assert_int_equal((c)->got, sizeof(lit) - 1);                   \
		assert_memory_equal((c)->buf, lit, sizeof(lit) - 1);           \
	} while (0)

static inline weft_reader_t *
mk(ssize_t limit)
{
	weft_reader_t *r = NULL;

	assert_int_equal(weft_reader_new(limit, &r), 0);
	assert_non_null(r);
	assert_int_equal(weft_reader_limit(r), (size_t)limit);
	return r;
}

/* Let every other fiber run twice: two asyncio loop iterations. */
static inline void
settle(void)
{
	assert_int_equal(weft_yield(), 0);
	assert_int_equal(weft_yield(), 0);
}

/* ---- A read call running on its own fiber ------------------------------- */

enum op {
	OP_READ,
	OP_READ_ALL,
	OP_READLINE,
	OP_READUNTIL,
	OP_READUNTIL_ANY,
	OP_READEXACTLY,
};

struct call {
	weft_reader_t *r;
	enum op op;
	ssize_t n;		  /* read, readexactly: the size */
	const char *sep;	  /* readuntil */
	const weft_slice_t *seps; /* readuntil_any */
	size_t nseps;
	weft_fiber_t *f;
	int done;
	ssize_t rc;
	char buf[128]; /* what the call returned (copied) */
	size_t got;
};

static inline void
call_fiber(void *arg)
{
	struct call *c = arg;
	weft_slice_t s = { NULL, 0 };

	switch (c->op) {
	case OP_READ:
		c->rc = weft_read(c->r, c->buf, (size_t)c->n);
		c->got = c->rc > 0 ? (size_t)c->rc : 0;
		break;
	case OP_READ_ALL:
		c->rc = weft_read_all(c->r, 0, &s);
		break;
	case OP_READLINE:
		c->rc = weft_readline(c->r, &s);
		break;
	case OP_READUNTIL:
		c->rc = weft_readuntil(c->r, c->sep, strlen(c->sep), &s);
		break;
	case OP_READUNTIL_ANY:
		c->rc = weft_readuntil_any(c->r, c->seps, c->nseps, &s);
		break;
	case OP_READEXACTLY:
		c->rc = weft_readexactly(c->r, c->buf, c->n, &c->got);
		break;
	}
	if (c->op != OP_READ && c->op != OP_READEXACTLY &&
	    (c->rc == 0 || c->rc == WEFT_EINCOMPLETE)) {
		/* Copy the lent slice before anything else touches it. */
		assert_true(s.len <= sizeof(c->buf));
		if (s.len > 0)
			memcpy(c->buf, s.base, s.len);
		c->got = s.len;
	}
	c->done = 1;
}

/* Start the call and check that it is pending after two iterations. */
static inline void
start(struct call *c)
{
	c->done = 0;
	c->got = 0;
	c->rc = 1;
	assert_int_equal(weft_spawn(call_fiber, c, &c->f), 0);
	settle();
	assert_false(c->done);
}

/* Wait for the call to end; returns its result. */
static inline ssize_t
finish(struct call *c)
{
	assert_int_equal(weft_join(c->f), 0);
	c->f = NULL;
	assert_true(c->done);
	return c->rc;
}

/* ---- Checks on the last ELIMIT / EINCOMPLETE ---------------------------- */

static inline void
assert_overrun(weft_reader_t *r, int found, size_t consumed)
{
	weft_read_error_t e;
	char msg[128];

	memset(&e, 0, sizeof(e));
	assert_int_equal(weft_reader_last_error(r, &e), WEFT_ELIMIT);
	assert_int_equal(e.code, WEFT_ELIMIT);
	assert_int_equal(e.found, found);
	assert_int_equal(e.consumed, consumed);
	assert_ptr_equal(weft_reader_error_message(r, msg, sizeof(msg)), msg);
	assert_string_equal(msg, found ? MSG_FOUND : MSG_NOT_FOUND);
}

static inline void
assert_incomplete(weft_reader_t *r, size_t partial, ssize_t expected,
    const char *text)
{
	weft_read_error_t e;
	char msg[128];

	memset(&e, 0, sizeof(e));
	assert_int_equal(weft_reader_last_error(r, &e), WEFT_EINCOMPLETE);
	assert_int_equal(e.code, WEFT_EINCOMPLETE);
	assert_int_equal(e.partial, partial);
	assert_int_equal(e.expected, expected);
	weft_reader_error_message(r, msg, sizeof(msg));
	assert_string_equal(msg, text);
}

/* ---- A fake transport recording flow-control calls ---------------------- */

struct fake_tp {
	char calls[32]; /* 'p': pause_reading, 'r': resume_reading */
	size_t ncalls;
	int pause_rc;
};

static inline int
tp_pause(void *ctx)
{
	struct fake_tp *t = ctx;

	assert_true(t->ncalls < sizeof(t->calls) - 1);
	t->calls[t->ncalls++] = 'p';
	return t->pause_rc;
}

static inline int
tp_resume(void *ctx)
{
	struct fake_tp *t = ctx;

	assert_true(t->ncalls < sizeof(t->calls) - 1);
	t->calls[t->ncalls++] = 'r';
	return 0;
}

static const weft_transport_ops_t tp_ops = { tp_pause, tp_resume };

/* A reader of limit with a fresh fake transport t. */
static inline weft_reader_t *
mk_tp(ssize_t limit, struct fake_tp *t)
{
	weft_reader_t *r = mk(limit);

	memset(t, 0, sizeof(*t));
	assert_int_equal(weft_reader_set_transport(r, &tp_ops, t), 0);
	assert_true(weft_reader_has_transport(r));
	assert_false(weft_reader_paused(r));
	return r;
}

#endif /* READER_UTIL_H */
