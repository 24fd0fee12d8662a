/*
 * Fiber groups (weft/plugin.h's host section): a fiber spawned by a
 * fiber whose group is set joins it, and so do the fibers it spawns;
 * weft_fiber_group_cancel cancels them all and waits for their end.
 */
#include <weft/plugin.h>

#include "harness.h"

struct bg {
	int ticks;
	int ended;
	int children; /* each tick loop spawns this many more */
};

/* Static, not locals: under WEFT_TEST_SHARED=1 a parked fiber's stack
 * is not where its locals' addresses point. */
static struct bg bg_a, bg_o;

static void
ticker(void *arg)
{
	struct bg *b = arg;

	if (b->children > 0) {
		b->children--;
		assert_int_equal(weft_spawn(ticker, b, NULL), 0);
	}
	while (weft_sleep(2) == 0)
		b->ticks++;
	b->ended++;
}

WT_CASE(spawns_join_the_group)
{
	weft_fiber_group_t *g = NULL, *prev;
	bg_a = (struct bg){ 0, 0, 2 };
	bg_o = (struct bg){ 0, 0, 0 };
	weft_fiber_t *outside = NULL;

	assert_int_equal(weft_fiber_group_new(&g), 0);
	assert_int_equal(weft_fiber_group_count(g), 0);
	prev = weft_fiber_group_enter(g);
	assert_null(prev);
	assert_int_equal(weft_spawn(ticker, &bg_a, NULL), 0);
	assert_ptr_equal(weft_fiber_group_enter(prev), g);
	assert_int_equal(weft_fiber_group_count(g), 1);
	/* Spawned now, outside the group: not one of it. */
	assert_int_equal(weft_spawn(ticker, &bg_o, &outside), 0);
	assert_int_equal(weft_cancel(outside), 0);
	assert_int_equal(weft_join(outside), 0);
	assert_int_equal(bg_o.ended, 1);
	assert_int_equal(weft_sleep(20), 0);
	/* The first fiber's children and grandchild joined too. */
	assert_int_equal(weft_fiber_group_count(g), 3);
	assert_true(bg_a.ticks > 0);
	assert_int_equal(weft_fiber_group_cancel(g), 0);
	assert_int_equal(weft_fiber_group_count(g), 0);
	assert_int_equal(bg_a.ended, 3);
	weft_fiber_group_free(g);
}

/* A fiber that has not run yet is cancelled before its first wait. */
WT_CASE(cancel_before_first_run)
{
	weft_fiber_group_t *g = NULL;
	bg_a = (struct bg){ 0, 0, 0 };

	assert_int_equal(weft_fiber_group_new(&g), 0);
	weft_fiber_group_enter(g);
	assert_int_equal(weft_spawn(ticker, &bg_a, NULL), 0);
	weft_fiber_group_enter(NULL);
	assert_int_equal(weft_fiber_group_cancel(g), 0);
	assert_int_equal(bg_a.ended, 1);
	assert_int_equal(bg_a.ticks, 0);
	weft_fiber_group_free(g);
}

/* A fiber that catches the cancel and spawns one more on its way out:
 * that one is cancelled too before the wait ends. */
static void
cleaner(void *arg)
{
	struct bg *b = arg;

	while (weft_sleep(1000) == 0)
		b->ticks++;
	b->children = 0;
	assert_int_equal(weft_spawn(ticker, b, NULL), 0);
	b->ended++;
}

WT_CASE(spawned_while_cancelling)
{
	weft_fiber_group_t *g = NULL;
	bg_a = (struct bg){ 0, 0, 0 };

	assert_int_equal(weft_fiber_group_new(&g), 0);
	weft_fiber_group_enter(g);
	assert_int_equal(weft_spawn(cleaner, &bg_a, NULL), 0);
	weft_fiber_group_enter(NULL);
	assert_int_equal(weft_yield(), 0);
	assert_int_equal(weft_fiber_group_cancel(g), 0);
	assert_int_equal(bg_a.ended, 2);
	assert_int_equal(weft_fiber_group_count(g), 0);
	weft_fiber_group_free(g);
}

static void
self_cancel(void *arg)
{
	weft_fiber_group_t *g = arg;

	assert_int_equal(weft_fiber_group_cancel(g), -EDEADLK);
}

/* A member cannot wait for its own group; the waiter's own deadline
 * still bounds the wait; freeing a group lets its fibers go on. */
WT_CASE(edges)
{
	weft_fiber_group_t *g = NULL;
	bg_a = (struct bg){ 0, 0, 0 };
	weft_fiber_t *f = NULL;

	assert_int_equal(weft_fiber_group_cancel(NULL), 0);
	weft_fiber_group_free(NULL);
	assert_int_equal(weft_fiber_group_new(&g), 0);
	assert_int_equal(weft_fiber_group_new(&g), -EINVAL);
	weft_fiber_group_enter(g);
	assert_int_equal(weft_spawn(self_cancel, g, &f), 0);
	weft_fiber_group_enter(NULL);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(weft_fiber_group_count(g), 0);

	weft_fiber_group_enter(g);
	assert_int_equal(weft_spawn(ticker, &bg_a, &f), 0);
	weft_fiber_group_enter(NULL);
	weft_fiber_group_free(g);
	assert_int_equal(weft_sleep(10), 0);
	assert_true(bg_a.ticks > 0);
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(bg_a.ended, 1);
}

WT_TEST(outside_a_fiber)
{
	weft_fiber_group_t *g = NULL;

	assert_int_equal(weft_fiber_group_new(&g), 0);
	assert_null(weft_fiber_group_enter(g));
	assert_int_equal(weft_fiber_group_cancel(g), 0); /* empty */
	weft_fiber_group_free(g);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
