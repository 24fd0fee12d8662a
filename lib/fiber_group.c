/*
 * Fiber groups (plugin.h): weftd ends a plugin instance's background
 * fibers before its fini.  fiber.c adds a fiber to its spawner's group
 * and takes it out when it ends; this file cancels and waits.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>

#include <weft/plugin.h>

#include "fiber_int.h"

int
weft_fiber_group_new(weft_fiber_group_t **out)
{
	weft_fiber_group_t *g;

	if (out == NULL || *out != NULL)
		return -EINVAL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return -ENOMEM;
	*out = g;
	return 0;
}

weft_fiber_group_t *
weft_fiber_group_enter(weft_fiber_group_t *g)
{
	weft_fiber_group_t *prev;

	if (S.cur == NULL)
		return NULL;
	prev = S.cur->f_group;
	S.cur->f_group = g;
	return prev;
}

size_t
weft_fiber_group_count(const weft_fiber_group_t *g)
{
	return g != NULL ? g->g_count : 0;
}

/* Cancel the members the cancel has not reached yet: once each, so that
 * a fiber finishing its work after a cancel is not cancelled again. */
static void
group_cancel_new(weft_fiber_group_t *g)
{
	weft_fiber_t *f;

	for (f = g->g_head; f != NULL; f = f->f_gnext) {
		if (f->f_gcancelled)
			continue;
		f->f_gcancelled = 1;
		(void)weft_cancel(f);
	}
}

int
weft_fiber_group_cancel(weft_fiber_group_t *g)
{
	weft_fiber_t *me = S.cur;
	int rc;

	if (g == NULL || g->g_count == 0)
		return 0;
	if (me == NULL)
		return WEFT_ENOTFIBER;
	if (me->f_gmember && me->f_group == g)
		return -EDEADLK;
	while (g->g_count > 0) {
		group_cancel_new(g);
		/* Parked on no queue: each member's end wakes it (fiber.c). */
		g->g_waiter = me;
		rc = weft__park(NULL);
		g->g_waiter = NULL;
		if (rc < 0 && g->g_count > 0)
			return rc;
	}
	return 0;
}

void
weft_fiber_group_free(weft_fiber_group_t *g)
{
	weft_fiber_t *f, *next;

	if (g == NULL)
		return;
	for (f = g->g_head; f != NULL; f = next) {
		next = f->f_gnext;
		f->f_gprev = f->f_gnext = NULL;
		f->f_gmember = 0;
		f->f_group = NULL;
	}
	/* The running fiber may still spawn into it. */
	if (S.cur != NULL && S.cur->f_group == g)
		S.cur->f_group = NULL;
	free(g);
}
