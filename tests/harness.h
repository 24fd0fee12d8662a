/*
 * Test harness shared by the cmocka programs: run a test body on a fiber
 * inside weft_run, and fail the test if the body never finished (a fiber
 * parked forever means the loop ran dry: a deadlock).
 */
#ifndef WEFT_TEST_HARNESS_H
#define WEFT_TEST_HARNESS_H

#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

struct wt_ctx {
	void (*body)(void *);
	void *arg;
	int done;
};

static int
wt_main(void *p)
{
	struct wt_ctx *c = p;

	c->body(c->arg);
	c->done = 1;
	return 0;
}

/* Run body(arg) as the first fiber of a fresh loop. */
static inline void
wt_run(void (*body)(void *), void *arg)
{
	struct wt_ctx c = { body, arg, 0 };

	weft__sched_forget();
	/* WEFT_TEST_SHARED=1 runs a whole program in shared-stack mode. */
	if (getenv("WEFT_TEST_SHARED") != NULL)
		weft_fiber_stacks_shared(1);
	assert_int_equal(weft_run(wt_main, &c), 0);
	assert_true(c.done);
}

/* Compare a slice with a C string literal (binary safe via length). */
#define assert_slice_equal(s, lit)                                             \
	do {                                                                   \
		weft_slice_t s__ = (s);                                        \
		assert_int_equal(s__.len, sizeof(lit) - 1);                    \
		assert_memory_equal(s__.base, lit, sizeof(lit) - 1);           \
	} while (0)

/* The reader's unread buffer must equal lit. */
#define assert_buffer(r, lit) assert_slice_equal(weft_reader_buffer(r), lit)

/* Every test program runs under a timeout. */
#define WT_TIMEOUT(secs) alarm(secs)

#endif /* WEFT_TEST_HARNESS_H */
