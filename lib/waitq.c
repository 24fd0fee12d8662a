/*
 * Waiting: wait queues, a fiber's deadline and sleep timer, cancel and
 * join.  A parked fiber leaves its wait when it is woken by pointer or
 * from its queue, when its timer finds the deadline or the sleep's end
 * reached, or when it is cancelled; the scheduler (fiber.c) then runs it
 * on its next pass.
 */
#include "autoconf.h"

#include <errno.h>

#include "fiber_int.h"

static void
wq_append(weft__wq_t *q, weft_fiber_t *f)
{
	f->f_wq = q;
	f->f_wnext = NULL;
	f->f_wprev = q->tail;
	if (q->tail != NULL)
		q->tail->f_wnext = f;
	else
		q->head = f;
	q->tail = f;
}

static void
wq_remove(weft__wq_t *q, weft_fiber_t *f)
{
	if (f->f_wprev != NULL)
		f->f_wprev->f_wnext = f->f_wnext;
	else
		q->head = f->f_wnext;
	if (f->f_wnext != NULL)
		f->f_wnext->f_wprev = f->f_wprev;
	else
		q->tail = f->f_wprev;
	f->f_wq = NULL;
	f->f_wprev = f->f_wnext = NULL;
}

/* ---- Timers ------------------------------------------------------------ */

static int arm_timer(weft_fiber_t *f);

/*
 * A fiber's timer is lazy: a wait that ends before the timer is due leaves
 * it running, and the next wait reuses it when it is due no later than
 * that wait's deadline.  A keep-alive loop that sets a deadline for each
 * request then starts the timer once per deadline period rather than
 * starting and stopping it on every wait (two heap operations each, about
 * a sixth of a keep-alive request's instructions).  So when it fires,
 * what it was armed for may have moved: nothing is due (it stops), or a
 * later deadline is (it is armed again).
 */
static void
on_fiber_timer(uv_timer_t *t)
{
	weft_fiber_t *f = t->data;
	uint64_t now = uv_now(S.loop);

	if (f == NULL)
		return;
	f->f_timer_at = 0;
	if (f->f_state != F_PARKED)
		return;
	if (f->f_deadline != 0 && now >= f->f_deadline)
		weft__wake(f, WEFT_ETIMEDOUT);
	else if (f->f_wake_at != 0 && now >= f->f_wake_at)
		weft__wake(f, 0);
	else
		(void)arm_timer(f);
}

/*
 * Make sure f's timer fires no later than its deadline or sleep end.  A
 * timer left running by an earlier wait (see on_fiber_timer) that is due
 * in time is kept.  Without anything due it may still run; it is then
 * unreferenced, so that it alone does not keep the loop alive.
 */
static int
arm_timer(weft_fiber_t *f)
{
	uint64_t now = uv_now(S.loop), at = 0;

	if (f->f_deadline != 0)
		at = f->f_deadline;
	if (f->f_wake_at != 0 && (at == 0 || f->f_wake_at < at))
		at = f->f_wake_at;
	if (at == 0) {
		if (f->f_timer_at != 0)
			uv_unref((uv_handle_t *)f->f_timer);
		return 0;
	}
	if (f->f_timer_at != 0 && f->f_timer_at <= at) {
		uv_ref((uv_handle_t *)f->f_timer);
		return 0;
	}
	if (f->f_timer == NULL && (f->f_timer = weft__timer_get()) == NULL)
		return -ENOMEM;
	f->f_timer->data = f;
	uv_ref((uv_handle_t *)f->f_timer);
	uv_timer_start(f->f_timer, on_fiber_timer, at > now ? at - now : 0, 0);
	f->f_timer_at = at > now ? at : now;
	return 0;
}

/* The loop time ms from now, never 0 (which means none). */
static uint64_t
deadline_at(uint64_t ms)
{
	uint64_t at;

	/* From now, not from the start of this loop iteration: a fiber that
	 * has run for a while would otherwise get a deadline that much too
	 * early.  One vDSO clock read (libuv's fast clock). */
	uv_update_time(S.loop);
	at = uv_now(S.loop) + ms;
	return at != 0 ? at : 1;
}

weft_deadline_t
weft_deadline_set(uint64_t ms)
{
	weft_deadline_t prev;

	if (S.cur == NULL)
		return WEFT_DEADLINE_NONE;
	prev = S.cur->f_deadline;
	S.cur->f_deadline = deadline_at(ms);
	return prev;
}

weft_deadline_t
weft_deadline_push(uint64_t ms)
{
	weft_deadline_t prev, at;

	if (S.cur == NULL)
		return WEFT_DEADLINE_NONE;
	prev = S.cur->f_deadline;
	at = deadline_at(ms);
	if (prev == 0 || at < prev)
		S.cur->f_deadline = at;
	return prev;
}

weft_deadline_t
weft_deadline_get(void)
{
	return S.cur != NULL ? S.cur->f_deadline : WEFT_DEADLINE_NONE;
}

void
weft_deadline_restore(weft_deadline_t prev)
{
	if (S.cur != NULL)
		S.cur->f_deadline = prev;
}

uint64_t
weft__deadline_swap(uint64_t at)
{
	uint64_t prev;

	if (S.cur == NULL)
		return 0;
	prev = S.cur->f_deadline;
	S.cur->f_deadline = at;
	return prev;
}

void
weft_deadline_clear(void)
{
	if (S.cur != NULL)
		S.cur->f_deadline = 0;
}

/* ---- Parking and waking ------------------------------------------------ */

int
weft__park(weft__wq_t *q)
{
	weft_fiber_t *f = S.cur;
	int rc;

	if (f == NULL)
		return WEFT_ENOTFIBER;
	f->f_woke = 1;
	if (f->f_cancel) {
		f->f_cancel = 0;
		return WEFT_ECANCELED;
	}
	if (f->f_deadline != 0 && uv_now(S.loop) >= f->f_deadline)
		return WEFT_ETIMEDOUT;
	if ((rc = arm_timer(f)) < 0)
		return rc;
	if (q != NULL)
		wq_append(q, f);
	f->f_state = F_PARKED;
	f->f_wake = 0;
	return fiber_switch_out(f);
}

void
weft__wake(weft_fiber_t *f, int code)
{
	if (f == NULL || f->f_state != F_PARKED)
		return;
	if (f->f_wq != NULL)
		wq_remove(f->f_wq, f);
	f->f_woke = code;
	weft__sched_resume(f, code);
}

int
weft__park_woke(void)
{
	return S.cur != NULL ? S.cur->f_woke : 1;
}

void
weft__wake_all(weft__wq_t *q, int code)
{
	while (q->head != NULL)
		weft__wake(q->head, code);
}

int
weft__wake_one(weft__wq_t *q, int code)
{
	if (q->head == NULL)
		return 0;
	weft__wake(q->head, code);
	return 1;
}

int
weft_sleep(uint64_t ms)
{
	weft_fiber_t *f = S.cur;
	int rc;

	if (f == NULL)
		return WEFT_ENOTFIBER;
	uv_update_time(S.loop); /* from now, as weft_deadline_set */
	f->f_wake_at = uv_now(S.loop) + ms;
	if (f->f_wake_at == 0)
		f->f_wake_at = 1;
	rc = weft__park(NULL);
	f->f_wake_at = 0;
	return rc;
}

int
weft_cancel(weft_fiber_t *f)
{
	if (f == NULL || f->f_state == F_DONE || f->f_state == 0)
		return -EINVAL;
	if (f->f_state == F_PARKED)
		weft__wake(f, WEFT_ECANCELED);
	else if (f->f_state == F_READY && f->f_ran)
		/* Woken but not resumed yet: as in asyncio, the cancel wins
		 * over the result, and the call it was in consumes nothing. */
		f->f_wake = WEFT_ECANCELED;
	else
		f->f_cancel = 1;
	return 0;
}

int
weft_join(weft_fiber_t *f)
{
	int rc;

	if (f == NULL || !f->f_joinable)
		return -EINVAL;
	while (f->f_state != F_DONE) {
		if (S.cur == NULL)
			return WEFT_ENOTFIBER;
		/* Parked on no queue: the fiber's end wakes it (fiber.c). */
		f->f_joiner = S.cur;
		rc = weft__park(NULL);
		f->f_joiner = NULL;
		if (rc < 0 && f->f_state != F_DONE)
			return rc;
	}
	weft__fiber_release(f);
	return 0;
}
