/*
 * Events and queues between fibers (weft/sync.h), on the wait queues of
 * waitq.c.
 *
 * A queue hands items and free slots to its waiters in order: a wake
 * promises the woken fiber an item (or a slot), which nobody else may
 * take before it runs.  So a later caller cannot overtake a waiter, and
 * a woken waiter that a cancel stops before it runs (weft_cancel's
 * "the cancel wins") gives its promise to the next waiter rather than
 * losing it.  A promised waiter still has to look at the queue when it
 * runs, so a queue freed meanwhile is kept until the last one has.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "weft/sync.h"

struct weft_event {
	weft__wq_t e_wq;
	int e_set;
};

int
weft_event_new(weft_event_t **out)
{
	weft_event_t *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -ENOMEM;
	*out = e;
	return 0;
}

void
weft_event_free(weft_event_t *e)
{
	if (e == NULL)
		return;
	/* Its waiters return without looking at it again. */
	weft__wake_all(&e->e_wq, WEFT_ECLOSED);
	free(e);
}

void
weft_event_set(weft_event_t *e)
{
	e->e_set = 1;
	weft__wake_all(&e->e_wq, 0);
}

void
weft_event_clear(weft_event_t *e)
{
	e->e_set = 0;
}

int
weft_event_is_set(const weft_event_t *e)
{
	return e->e_set;
}

int
weft_event_wait(weft_event_t *e)
{
	if (e->e_set)
		return 0;
	/* Woken by set (0), free (ECLOSED), a cancel or the deadline: the
	 * result is all there is to say, and e may be gone. */
	return weft__park(&e->e_wq);
}

/* ---- Queues ------------------------------------------------------------ */

struct weft_queue {
	void **q_buf; /* ring of q_cap items */
	size_t q_cap;
	size_t q_head; /* the oldest item */
	size_t q_len;
	size_t q_gets_owed; /* woken getters not run yet, an item each */
	size_t q_puts_owed; /* woken putters not run yet, a slot each */
	weft__wq_t q_getters;
	weft__wq_t q_putters;
	uint8_t q_closed;
	uint8_t q_freed; /* freed while a promised waiter had not run */
};

int
weft_queue_new(size_t maxsize, weft_queue_t **out)
{
	weft_queue_t *q;

	if (maxsize == 0)
		return -EINVAL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	if ((q->q_buf = calloc(maxsize, sizeof(*q->q_buf))) == NULL) {
		free(q);
		return -ENOMEM;
	}
	q->q_cap = maxsize;
	*out = q;
	return 0;
}

static void
queue_release(weft_queue_t *q)
{
	free(q->q_buf);
	free(q);
}

void
weft_queue_free(weft_queue_t *q)
{
	if (q == NULL)
		return;
	weft__wake_all(&q->q_getters, WEFT_ECLOSED);
	weft__wake_all(&q->q_putters, WEFT_ECLOSED);
	if (q->q_gets_owed != 0 || q->q_puts_owed != 0)
		q->q_freed = 1; /* the last of them releases it */
	else
		queue_release(q);
}

/* Promise the items and slots nobody is owed to the first waiters. */
static void
queue_dispatch(weft_queue_t *q)
{
	while (q->q_len > q->q_gets_owed && weft__wake_one(&q->q_getters, 0))
		q->q_gets_owed++;
	while (!q->q_closed && q->q_cap - q->q_len > q->q_puts_owed &&
	    weft__wake_one(&q->q_putters, 0))
		q->q_puts_owed++;
}

static void
queue_push(weft_queue_t *q, void *item)
{
	q->q_buf[(q->q_head + q->q_len) % q->q_cap] = item;
	q->q_len++;
	queue_dispatch(q);
}

static void
queue_take(weft_queue_t *q, void **item)
{
	*item = q->q_buf[q->q_head];
	q->q_head = (q->q_head + 1) % q->q_cap;
	q->q_len--;
	queue_dispatch(q);
}

/*
 * A promised waiter runs (its count already taken off): 1 when the queue
 * was freed meanwhile, releasing it if this was the last such waiter.
 */
static int
queue_promise_end(weft_queue_t *q)
{
	if (!q->q_freed)
		return 0;
	if (q->q_gets_owed == 0 && q->q_puts_owed == 0)
		queue_release(q);
	return 1;
}

int
weft_queue_put_nowait(weft_queue_t *q, void *item)
{
	if (q->q_closed)
		return WEFT_ECLOSED;
	/* Slots promised to woken putters are theirs. */
	if (q->q_len + q->q_puts_owed >= q->q_cap)
		return -EAGAIN;
	queue_push(q, item);
	return 0;
}

int
weft_queue_put(weft_queue_t *q, void *item)
{
	int rc;

	if ((rc = weft_queue_put_nowait(q, item)) != -EAGAIN)
		return rc;
	rc = weft__park(&q->q_putters);
	/* Not woken with a slot (timed out or cancelled while parked, woken
	 * by close or free): nothing to give back, and q may be gone. */
	if (weft__park_woke() != 0)
		return rc;
	q->q_puts_owed--;
	if (queue_promise_end(q))
		return rc == 0 ? WEFT_ECLOSED : rc;
	if (rc == 0 && q->q_closed)
		rc = WEFT_ECLOSED;
	if (rc == 0)
		queue_push(q, item);
	else
		queue_dispatch(q); /* the slot goes to the next putter */
	return rc;
}

int
weft_queue_get_nowait(weft_queue_t *q, void **item)
{
	/* Items promised to woken getters are theirs. */
	if (q->q_len > q->q_gets_owed) {
		queue_take(q, item);
		return 0;
	}
	return q->q_closed ? WEFT_ECLOSED : -EAGAIN;
}

int
weft_queue_get(weft_queue_t *q, void **item)
{
	int rc;

	if ((rc = weft_queue_get_nowait(q, item)) != -EAGAIN)
		return rc;
	rc = weft__park(&q->q_getters);
	if (weft__park_woke() != 0) /* as in weft_queue_put */
		return rc;
	q->q_gets_owed--;
	if (queue_promise_end(q))
		return rc == 0 ? WEFT_ECLOSED : rc;
	if (rc == 0)
		queue_take(q, item);
	else
		queue_dispatch(q); /* the item goes to the next getter */
	return rc;
}

void
weft_queue_close(weft_queue_t *q)
{
	q->q_closed = 1;
	weft__wake_all(&q->q_putters, WEFT_ECLOSED);
	/* Getters wait only while every item is promised to others. */
	weft__wake_all(&q->q_getters, WEFT_ECLOSED);
}

size_t
weft_queue_len(const weft_queue_t *q)
{
	return q->q_len;
}
