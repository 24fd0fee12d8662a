/*
 * Events and queues between fibers (weft/sync.h), and nestable deadlines
 * (weft/fiber.h).
 */
#include "harness.h"
#include "transport.h"

/* A fiber that waits on an event or a queue, and what its call returned. */
struct waiter {
	weft_event_t *e;
	weft_queue_t *q;
	void *item; /* put: what to put; get: what it got */
	int rc;
	int done;
	weft_fiber_t *f;
};

static void
event_waiter(void *arg)
{
	struct waiter *w = arg;

	w->rc = weft_event_wait(w->e);
	w->done = 1;
}

static void
queue_getter(void *arg)
{
	struct waiter *w = arg;

	w->rc = weft_queue_get(w->q, &w->item);
	w->done = 1;
}

static void
queue_putter(void *arg)
{
	struct waiter *w = arg;

	w->rc = weft_queue_put(w->q, w->item);
	w->done = 1;
}

/* Start fn on a joinable fiber and let it run until it parks. */
static void
start(struct waiter *w, weft_fiber_fn fn)
{
	w->rc = 1;
	w->done = 0;
	assert_int_equal(weft_spawn(fn, w, &w->f), 0);
	assert_int_equal(weft_yield(), 0);
	assert_int_equal(w->done, 0);
}

static int
finish(struct waiter *w)
{
	assert_int_equal(weft_join(w->f), 0);
	assert_int_equal(w->done, 1);
	return w->rc;
}

/* ---- Events ------------------------------------------------------------- */

WT_CASE(event_set_clear_wait)
{
	weft_event_t *e = NULL;
	struct waiter w = { 0 };

	assert_int_equal(weft_event_new(&e), 0);
	assert_false(weft_event_is_set(e));
	w.e = e;
	start(&w, event_waiter);
	assert_int_equal(weft_yield(), 0);
	assert_int_equal(w.done, 0); /* not set: still waiting */
	weft_event_set(e);
	assert_true(weft_event_is_set(e));
	assert_int_equal(finish(&w), 0);
	/* It stays set: waits return at once. */
	assert_int_equal(weft_event_wait(e), 0);
	assert_int_equal(weft_event_wait(e), 0);
	weft_event_clear(e);
	assert_false(weft_event_is_set(e));
	/* Cleared: a wait waits again (here until the deadline). */
	weft_deadline_set(20);
	assert_int_equal(weft_event_wait(e), WEFT_ETIMEDOUT);
	weft_deadline_clear();
	weft_event_free(e);
	weft_event_free(NULL);
}

WT_CASE(event_set_before_wait)
{
	weft_event_t *e = NULL;
	struct waiter w = { 0 };

	assert_int_equal(weft_event_new(&e), 0);
	weft_event_set(e);
	w.e = e;
	assert_int_equal(weft_spawn(event_waiter, &w, &w.f), 0);
	assert_int_equal(finish(&w), 0);
	weft_event_free(e);
}

WT_CASE(event_wakes_every_waiter)
{
	weft_event_t *e = NULL;
	struct waiter w[4];
	int i;

	memset(w, 0, sizeof(w));
	assert_int_equal(weft_event_new(&e), 0);
	for (i = 0; i < 4; i++) {
		w[i].e = e;
		start(&w[i], event_waiter);
	}
	weft_event_set(e);
	weft_event_clear(e); /* woken stays woken */
	for (i = 0; i < 4; i++)
		assert_int_equal(finish(&w[i]), 0);
	weft_event_free(e);
}

WT_CASE(event_cancel_and_deadline)
{
	weft_event_t *e = NULL;
	struct waiter w = { 0 };

	assert_int_equal(weft_event_new(&e), 0);
	w.e = e;
	start(&w, event_waiter);
	assert_int_equal(weft_cancel(w.f), 0);
	assert_int_equal(finish(&w), WEFT_ECANCELED);
	assert_int_equal(weft_deadline_set(10), WEFT_DEADLINE_NONE);
	assert_int_equal(weft_event_wait(e), WEFT_ETIMEDOUT);
	weft_deadline_clear();
	/* Neither left anything behind: a set wakes a new waiter. */
	start(&w, event_waiter);
	weft_event_set(e);
	assert_int_equal(finish(&w), 0);
	weft_event_free(e);
}

WT_CASE(event_free_wakes_waiters)
{
	weft_event_t *e = NULL;
	struct waiter w[2];
	int i;

	memset(w, 0, sizeof(w));
	assert_int_equal(weft_event_new(&e), 0);
	for (i = 0; i < 2; i++) {
		w[i].e = e;
		start(&w[i], event_waiter);
	}
	weft_event_free(e);
	for (i = 0; i < 2; i++)
		assert_int_equal(finish(&w[i]), WEFT_ECLOSED);
}

/* ---- Queues ------------------------------------------------------------- */

#define P(n) ((void *)(intptr_t)(n))

WT_TEST(queue_maxsize_zero)
{
	weft_queue_t *q = NULL;

	assert_int_equal(weft_queue_new(0, &q), -EINVAL);
	assert_null(q);
	weft_queue_free(NULL);
}

WT_CASE(queue_fifo_order)
{
	weft_queue_t *q = NULL;
	void *item = NULL;
	int i;

	assert_int_equal(weft_queue_new(3, &q), 0);
	/* Twice around the ring. */
	for (i = 1; i <= 6; i++) {
		assert_int_equal(weft_queue_put(q, P(i)), 0);
		assert_int_equal(weft_queue_len(q), 1 + (i - 1) % 2);
		if (i % 2 == 0) {
			assert_int_equal(weft_queue_get(q, &item), 0);
			assert_ptr_equal(item, P(i - 1));
			assert_int_equal(weft_queue_get(q, &item), 0);
			assert_ptr_equal(item, P(i));
		}
	}
	assert_int_equal(weft_queue_len(q), 0);
	weft_queue_free(q);
}

WT_CASE(queue_nowait)
{
	weft_queue_t *q = NULL;
	void *item = NULL;

	assert_int_equal(weft_queue_new(2, &q), 0);
	assert_int_equal(weft_queue_get_nowait(q, &item), -EAGAIN);
	assert_int_equal(weft_queue_put_nowait(q, P(1)), 0);
	assert_int_equal(weft_queue_put_nowait(q, P(2)), 0);
	assert_int_equal(weft_queue_put_nowait(q, P(3)), -EAGAIN);
	assert_int_equal(weft_queue_len(q), 2);
	assert_int_equal(weft_queue_get_nowait(q, &item), 0);
	assert_ptr_equal(item, P(1));
	assert_int_equal(weft_queue_get_nowait(q, &item), 0);
	assert_ptr_equal(item, P(2));
	assert_int_equal(weft_queue_get_nowait(q, &item), -EAGAIN);
	weft_queue_free(q);
}

WT_CASE(queue_put_waits_when_full)
{
	weft_queue_t *q = NULL;
	struct waiter w = { 0 };
	void *item = NULL;

	assert_int_equal(weft_queue_new(1, &q), 0);
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	w.q = q;
	w.item = P(2);
	start(&w, queue_putter);
	assert_int_equal(weft_queue_len(q), 1);
	assert_int_equal(weft_queue_get(q, &item), 0);
	assert_ptr_equal(item, P(1));
	assert_int_equal(finish(&w), 0);
	assert_int_equal(weft_queue_get(q, &item), 0);
	assert_ptr_equal(item, P(2));
	weft_queue_free(q);
}

WT_CASE(queue_get_waits_when_empty)
{
	weft_queue_t *q = NULL;
	struct waiter w = { 0 };

	assert_int_equal(weft_queue_new(4, &q), 0);
	w.q = q;
	start(&w, queue_getter);
	assert_int_equal(weft_yield(), 0);
	assert_int_equal(w.done, 0);
	assert_int_equal(weft_queue_put(q, P(7)), 0);
	assert_int_equal(finish(&w), 0);
	assert_ptr_equal(w.item, P(7));
	assert_int_equal(weft_queue_len(q), 0);
	weft_queue_free(q);
}

/* Waiters are served in order, and a caller that comes later cannot take
 * what a woken waiter was promised. */
WT_CASE(queue_waiters_fifo)
{
	weft_queue_t *q = NULL;
	struct waiter w[3];
	void *item = NULL;
	int i;

	memset(w, 0, sizeof(w));
	assert_int_equal(weft_queue_new(1, &q), 0);
	for (i = 0; i < 3; i++) {
		w[i].q = q;
		start(&w[i], queue_getter);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(weft_queue_put(q, P(10 + i)), 0);
		/* The item is the first waiter's, not ours. */
		assert_int_equal(weft_queue_get_nowait(q, &item), -EAGAIN);
		assert_int_equal(weft_queue_put_nowait(q, P(99)), -EAGAIN);
		assert_int_equal(finish(&w[i]), 0);
		assert_ptr_equal(w[i].item, P(10 + i));
	}
	/* Putters too. */
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	for (i = 0; i < 3; i++) {
		w[i].item = P(20 + i);
		start(&w[i], queue_putter);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(weft_queue_get(q, &item), 0);
		assert_ptr_equal(item, i == 0 ? P(1) : P(20 + i - 1));
		/* The free slot is the first putter's. */
		assert_int_equal(weft_queue_put_nowait(q, P(99)), -EAGAIN);
		assert_int_equal(finish(&w[i]), 0);
	}
	assert_int_equal(weft_queue_get(q, &item), 0);
	assert_ptr_equal(item, P(22));
	weft_queue_free(q);
}

WT_CASE(queue_cancel_consumes_nothing)
{
	weft_queue_t *q = NULL;
	struct waiter g = { 0 }, p = { 0 };
	void *item = NULL;

	assert_int_equal(weft_queue_new(1, &q), 0);
	g.q = p.q = q;
	start(&g, queue_getter);
	assert_int_equal(weft_cancel(g.f), 0);
	assert_int_equal(finish(&g), WEFT_ECANCELED);
	assert_null(g.item);
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	p.item = P(2);
	start(&p, queue_putter);
	assert_int_equal(weft_cancel(p.f), 0);
	assert_int_equal(finish(&p), WEFT_ECANCELED);
	/* The item is still there, and the cancelled put added nothing. */
	assert_int_equal(weft_queue_len(q), 1);
	assert_int_equal(weft_queue_get_nowait(q, &item), 0);
	assert_ptr_equal(item, P(1));
	assert_int_equal(weft_queue_get_nowait(q, &item), -EAGAIN);
	weft_queue_free(q);
}

/*
 * A waiter woken with an item (or a slot) and cancelled before it runs
 * returns WEFT_ECANCELED without it, and the next waiter gets it.
 */
WT_CASE(queue_cancel_after_wake_passes_on)
{
	weft_queue_t *q = NULL;
	struct waiter w[2];
	void *item = NULL;

	memset(w, 0, sizeof(w));
	assert_int_equal(weft_queue_new(1, &q), 0);
	w[0].q = w[1].q = q;
	start(&w[0], queue_getter);
	start(&w[1], queue_getter);
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	assert_int_equal(weft_cancel(w[0].f), 0);
	assert_int_equal(finish(&w[0]), WEFT_ECANCELED);
	assert_null(w[0].item);
	assert_int_equal(finish(&w[1]), 0);
	assert_ptr_equal(w[1].item, P(1));
	assert_int_equal(weft_queue_len(q), 0);

	assert_int_equal(weft_queue_put(q, P(2)), 0);
	w[0].item = P(3);
	w[1].item = P(4);
	start(&w[0], queue_putter);
	start(&w[1], queue_putter);
	assert_int_equal(weft_queue_get(q, &item), 0);
	assert_ptr_equal(item, P(2));
	assert_int_equal(weft_cancel(w[0].f), 0);
	assert_int_equal(finish(&w[0]), WEFT_ECANCELED);
	assert_int_equal(finish(&w[1]), 0);
	assert_int_equal(weft_queue_get_nowait(q, &item), 0);
	assert_ptr_equal(item, P(4));
	assert_int_equal(weft_queue_get_nowait(q, &item), -EAGAIN);
	weft_queue_free(q);
}

WT_CASE(queue_deadline_consumes_nothing)
{
	weft_queue_t *q = NULL;
	void *item = P(5);

	assert_int_equal(weft_queue_new(1, &q), 0);
	weft_deadline_set(10);
	assert_int_equal(weft_queue_get(q, &item), WEFT_ETIMEDOUT);
	assert_ptr_equal(item, P(5));
	weft_deadline_clear();
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	weft_deadline_set(10);
	assert_int_equal(weft_queue_put(q, P(2)), WEFT_ETIMEDOUT);
	/* Expired, but there is no need to wait: the call goes through. */
	assert_int_equal(weft_queue_get(q, &item), 0);
	assert_ptr_equal(item, P(1));
	weft_deadline_clear();
	assert_int_equal(weft_queue_len(q), 0);
	weft_queue_free(q);
}

WT_CASE(queue_close)
{
	weft_queue_t *q = NULL;
	void *item = NULL;

	assert_int_equal(weft_queue_new(4, &q), 0);
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	assert_int_equal(weft_queue_put(q, P(2)), 0);
	weft_queue_close(q);
	assert_int_equal(weft_queue_put(q, P(3)), WEFT_ECLOSED);
	assert_int_equal(weft_queue_put_nowait(q, P(3)), WEFT_ECLOSED);
	/* The items left come out, then WEFT_ECLOSED. */
	assert_int_equal(weft_queue_get(q, &item), 0);
	assert_ptr_equal(item, P(1));
	assert_int_equal(weft_queue_get_nowait(q, &item), 0);
	assert_ptr_equal(item, P(2));
	assert_int_equal(weft_queue_get(q, &item), WEFT_ECLOSED);
	assert_int_equal(weft_queue_get_nowait(q, &item), WEFT_ECLOSED);
	weft_queue_free(q);
}

WT_CASE(queue_close_wakes_waiters)
{
	weft_queue_t *q = NULL;
	struct waiter w[2];
	void *item = NULL;

	memset(w, 0, sizeof(w));
	assert_int_equal(weft_queue_new(1, &q), 0);
	w[0].q = w[1].q = q;
	start(&w[0], queue_getter);
	start(&w[1], queue_getter);
	weft_queue_close(q);
	assert_int_equal(finish(&w[0]), WEFT_ECLOSED);
	assert_int_equal(finish(&w[1]), WEFT_ECLOSED);
	weft_queue_free(q);

	assert_int_equal(weft_queue_new(1, &q), 0);
	w[0].q = w[1].q = q;
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	w[0].item = P(2);
	w[1].item = P(3);
	start(&w[0], queue_putter);
	start(&w[1], queue_putter);
	weft_queue_close(q);
	assert_int_equal(finish(&w[0]), WEFT_ECLOSED);
	assert_int_equal(finish(&w[1]), WEFT_ECLOSED);
	assert_int_equal(weft_queue_get(q, &item), 0);
	assert_ptr_equal(item, P(1));
	assert_int_equal(weft_queue_get(q, &item), WEFT_ECLOSED);
	weft_queue_free(q);
}

/* Freed with waiters: they wake with WEFT_ECLOSED, also one woken with an
 * item that has not run yet (under valgrind or ASan, a use of the freed
 * queue would show). */
WT_CASE(queue_free_wakes_waiters)
{
	weft_queue_t *q = NULL;
	struct waiter w[2];

	memset(w, 0, sizeof(w));
	assert_int_equal(weft_queue_new(1, &q), 0);
	w[0].q = w[1].q = q;
	start(&w[0], queue_getter);
	start(&w[1], queue_getter);
	weft_queue_free(q);
	assert_int_equal(finish(&w[0]), WEFT_ECLOSED);
	assert_int_equal(finish(&w[1]), WEFT_ECLOSED);

	assert_int_equal(weft_queue_new(1, &q), 0);
	w[0].q = w[1].q = q;
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	w[0].item = P(2);
	w[1].item = P(3);
	start(&w[0], queue_putter);
	start(&w[1], queue_putter);
	weft_queue_free(q);
	assert_int_equal(finish(&w[0]), WEFT_ECLOSED);
	assert_int_equal(finish(&w[1]), WEFT_ECLOSED);

	assert_int_equal(weft_queue_new(1, &q), 0);
	w[0].q = w[1].q = q;
	w[0].item = w[1].item = NULL;
	start(&w[0], queue_getter);
	start(&w[1], queue_getter);
	assert_int_equal(weft_queue_put(q, P(4)), 0); /* w[0] is woken */
	weft_queue_free(q);
	assert_int_equal(finish(&w[0]), WEFT_ECLOSED);
	assert_int_equal(finish(&w[1]), WEFT_ECLOSED);
}

WT_TEST(sync_outside_a_fiber)
{
	weft_event_t *e = NULL;
	weft_queue_t *q = NULL;
	void *item = NULL;

	assert_int_equal(weft_event_new(&e), 0);
	assert_int_equal(weft_event_wait(e), WEFT_ENOTFIBER);
	weft_event_set(e);
	assert_int_equal(weft_event_wait(e), 0);
	weft_event_free(e);
	assert_int_equal(weft_queue_new(1, &q), 0);
	assert_int_equal(weft_queue_get(q, &item), WEFT_ENOTFIBER);
	assert_int_equal(weft_queue_put(q, P(1)), 0);
	assert_int_equal(weft_queue_put(q, P(2)), WEFT_ENOTFIBER);
	assert_int_equal(weft_queue_len(q), 1);
	assert_int_equal(weft_queue_get(q, &item), 0);
	assert_ptr_equal(item, P(1));
	weft_queue_free(q);
	/* Deadlines are a fiber's: nothing to set or get. */
	assert_int_equal(weft_deadline_set(10), WEFT_DEADLINE_NONE);
	assert_int_equal(weft_deadline_push(10), WEFT_DEADLINE_NONE);
	assert_int_equal(weft_deadline_get(), WEFT_DEADLINE_NONE);
	weft_deadline_restore(5);
	assert_int_equal(weft_deadline_get(), WEFT_DEADLINE_NONE);
}

/* ---- Deadlines ---------------------------------------------------------- */

WT_CASE(deadline_set_returns_previous)
{
	weft_deadline_t d1, d2;

	assert_int_equal(weft_deadline_get(), WEFT_DEADLINE_NONE);
	assert_int_equal(weft_deadline_set(60000), WEFT_DEADLINE_NONE);
	d1 = weft_deadline_get();
	assert_int_not_equal(d1, WEFT_DEADLINE_NONE);
	/* A later deadline replaces an earlier one. */
	assert_int_equal(weft_deadline_set(120000), d1);
	d2 = weft_deadline_get();
	assert_true(d2 > d1);
	assert_int_equal(weft_deadline_set(10), d2);
	assert_int_equal(weft_sleep(60000), WEFT_ETIMEDOUT);
	weft_deadline_restore(d2);
	assert_int_equal(weft_deadline_get(), d2);
	assert_int_equal(weft_sleep(1), 0);
	weft_deadline_clear();
	assert_int_equal(weft_deadline_get(), WEFT_DEADLINE_NONE);
}

WT_CASE(deadline_push_takes_earlier)
{
	weft_deadline_t outer, prev;

	/* Without a deadline, a push sets one. */
	assert_int_equal(weft_deadline_push(60000), WEFT_DEADLINE_NONE);
	outer = weft_deadline_get();
	assert_int_not_equal(outer, WEFT_DEADLINE_NONE);
	/* A later one does not extend it. */
	assert_int_equal(weft_deadline_push(600000), outer);
	assert_int_equal(weft_deadline_get(), outer);
	/* An earlier one applies, and restoring brings the outer back. */
	prev = weft_deadline_push(10);
	assert_int_equal(prev, outer);
	assert_true(weft_deadline_get() < outer);
	assert_int_equal(weft_sleep(60000), WEFT_ETIMEDOUT);
	weft_deadline_restore(prev);
	assert_int_equal(weft_deadline_get(), outer);
	assert_int_equal(weft_sleep(1), 0);
	weft_deadline_restore(WEFT_DEADLINE_NONE);
	assert_int_equal(weft_deadline_get(), WEFT_DEADLINE_NONE);
}

static int
scoped_sleep(uint64_t ms)
{
	WEFT_DEADLINE_SCOPE(ms);

	return weft_sleep(60000); /* leaves the scope: restored */
}

WT_CASE(deadline_scopes_nest)
{
	weft_event_t *e = NULL;
	weft_deadline_t outer;

	assert_int_equal(weft_event_new(&e), 0);
	{
		WEFT_DEADLINE_SCOPE(60000);
		outer = weft_deadline_get();
		assert_int_not_equal(outer, WEFT_DEADLINE_NONE);
		{
			WEFT_DEADLINE_SCOPE(10);
			assert_true(weft_deadline_get() < outer);
			assert_int_equal(weft_event_wait(e), WEFT_ETIMEDOUT);
			assert_int_equal(weft_sleep(1), WEFT_ETIMEDOUT);
		}
		/* The inner one is gone; the outer still applies. */
		assert_int_equal(weft_deadline_get(), outer);
		assert_int_equal(weft_sleep(1), 0);
		{
			/* An inner scope cannot extend the outer one. */
			WEFT_DEADLINE_SCOPE(600000);
			assert_int_equal(weft_deadline_get(), outer);
			WEFT_DEADLINE_SCOPE(20); /* two in one block */
			assert_true(weft_deadline_get() < outer);
			assert_int_equal(weft_sleep(60000), WEFT_ETIMEDOUT);
		}
		assert_int_equal(weft_deadline_get(), outer);
		assert_int_equal(scoped_sleep(10), WEFT_ETIMEDOUT);
		assert_int_equal(weft_deadline_get(), outer);
		assert_int_equal(weft_sleep(1), 0);
	}
	assert_int_equal(weft_deadline_get(), WEFT_DEADLINE_NONE);
	weft_event_set(e);
	assert_int_equal(weft_event_wait(e), 0);
	weft_event_free(e);
}

/* Fibers start without a deadline, whatever their spawner has. */
static void
deadline_of_new_fiber(void *arg)
{
	*(weft_deadline_t *)arg = weft_deadline_get();
}

WT_CASE(deadline_not_inherited)
{
	weft_deadline_t seen = 1;
	weft_fiber_t *f = NULL;

	weft_deadline_set(60000);
	assert_int_equal(weft_spawn(deadline_of_new_fiber, &seen, &f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(seen, WEFT_DEADLINE_NONE);
	weft_deadline_clear();
}

/*
 * A handler that returns with its deadline set and expired: the server's
 * close after it (the close that flushes the handler's last write) must
 * not run under it.  A spy in front of the connection's transport checks
 * what the close sees and waits as a bounded flush would.
 */
static struct {
	weft__transport_t tr;
	const weft__transport_t *orig;
	weft_deadline_t deadline;
	int rc;
	int closed;
} spy;

static void
spy_close(weft__conn_t *c)
{
	spy.deadline = weft_deadline_get();
	spy.rc = weft_sleep(0);
	spy.closed = 1;
	spy.orig->t_close(c);
}

static void
h_leaves_deadline(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	weft__conn_t *c = weft__conn_of_writer(w);

	(void)r;
	(void)arg;
	weft_deadline_set(1);
	assert_int_equal(weft_sleep(60000), WEFT_ETIMEDOUT);
	assert_int_equal(weft_write(w, "last\n", 5), 0);
	spy.orig = c->c_tr;
	spy.tr = *c->c_tr;
	spy.tr.t_close = spy_close;
	c->c_tr = &spy.tr;
	/* Returns with the expired deadline still set. */
}

WT_CASE(server_clears_handler_deadline)
{
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t all;

	memset(&spy, 0, sizeof(spy));
	spy.rc = 1;
	assert_int_equal(weft_start_server(h_leaves_deadline, NULL, "127.0.0.1",
			     0, NULL, &srv),
	    0);
	assert_int_equal(weft_open_connection("127.0.0.1",
			     weft_server_port(srv), NULL, &r, &w),
	    0);
	assert_int_equal(weft_read_all(r, 64, &all), 0);
	assert_slice_equal(all, "last\n");
	assert_true(spy.closed);
	assert_int_equal(spy.deadline, WEFT_DEADLINE_NONE);
	assert_int_equal(spy.rc, 0);
	assert_int_equal(weft_close(w), 0);
	weft_wait_closed(w);
	weft_stream_free(w);
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
