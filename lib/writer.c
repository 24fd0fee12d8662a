/*
 * StreamWriter: the protocol side of writing (drain, wait_closed, water
 * marks) shared by every transport.  Moving bytes is the transport's
 * business: this file calls only its ops (transport.h); connection_lost
 * is conn.c's.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>

#include "transport.h"

static void
maybe_pause(weft_writer_t *w)
{
	weft__conn_t *c = weft__conn_of_writer(w);

	if (!w->w_paused && c->c_tr->t_buffered(c) > w->w_high)
		weft__writer_pause(w);
}

void
weft__writer_pause(weft_writer_t *w)
{
	w->w_paused = 1;
}

void
weft__writer_resume(weft_writer_t *w)
{
	if (!w->w_paused)
		return;
	w->w_paused = 0;
	if (w->w_cbmode) {
		if (w->w_cbk.cb != NULL)
			w->w_cbk.cb(w, 0, w->w_cbk.arg);
		return;
	}
	weft__wake_all(&w->w_wq, 0);
}

int
weft_write(weft_writer_t *w, const void *data, size_t len)
{
	weft_slice_t s = { data, len };

	return weft_writev(w, &s, 1);
}

int
weft_writev(weft_writer_t *w, const weft_slice_t *bufs, size_t nbufs)
{
	weft__conn_t *c = weft__conn_of_writer(w);
	size_t i, total = 0;
	int rc;

	/* WEFT_ECLOSED only after the owner's close (a write after
	 * weft_close is the caller's bug); a transport that closed on its
	 * own drops writes silently, as asyncio does after
	 * connection_lost. */
	if (w->w_closed)
		return WEFT_ECLOSED;
	if (w->w_eof)
		return -EPIPE;
	for (i = 0; i < nbufs; i++)
		total += bufs[i].len;
	if (total == 0 || w->w_lost)
		return 0;
	if ((rc = c->c_tr->t_write(c, bufs, nbufs)) != 0)
		return rc;
	maybe_pause(w);
	return 0;
}

int
weft_drain(weft_writer_t *w)
{
	weft__conn_t *c = weft__conn_of_writer(w);
	int rc;

	if (c->c_r.r_exc != 0)
		return c->c_r.r_exc;
	/* After close() the stream cannot deliver more: asyncio reports
	 * the lost connection here too (doc/semantics.md S2.3, cases 121
	 * and 122). */
	if (w->w_lost || w->w_closing)
		return -ECONNRESET;
	if (!w->w_paused)
		return 0;
	if (w->w_cbmode)
		return -EAGAIN; /* the drain callback says when */
	rc = weft__park(&w->w_wq);
	c->c_timedout = rc == WEFT_ETIMEDOUT; /* see weft__reader_park */
	/* Woken by a weft_close (close_wake), not by the buffer draining. */
	if (rc == 0 && w->w_closed && !w->w_lost)
		return -ECONNRESET;
	return rc;
}

int
weft_write_eof(weft_writer_t *w)
{
	weft__conn_t *c = weft__conn_of_writer(w);

	if (c->c_tr->t_write_eof == NULL)
		return -ENOTSUP;
	if (w->w_eof || w->w_closing)
		return 0;
	w->w_eof = 1;
	if (!w->w_lost)
		c->c_tr->t_write_eof(c);
	return 0;
}

int
weft_can_write_eof(const weft_writer_t *w)
{
	return weft__conn_of_writer(w)->c_tr->t_write_eof != NULL;
}

/*
 * Why a close by this side ends the connection: the peer had finished,
 * the last wait timed out, or the last read error was an over-limit one.
 */
static int
close_reason(const weft__conn_t *c)
{
	if (c->c_r.r_eof)
		return WEFT_CLOSE_EOF;
	if (c->c_timedout)
		return WEFT_CLOSE_TIMEOUT;
	return c->c_r.r_errcode == 1 ? WEFT_CLOSE_LIMIT : WEFT_CLOSE_LOCAL;
}

/*
 * A close may come from a fiber other than the owner, and the flush it
 * starts may never end (a peer that stopped reading): the owner's waits
 * end now.  Reads get what is buffered, then EOF (nothing more is read);
 * drains -ECONNRESET; a wait_closed goes on waiting (woken with 0, it
 * waits again).  A callback-mode reader hears of the end when the
 * connection is lost, as before.
 */
static void
close_wake(weft__conn_t *c)
{
	weft_writer_t *w = &c->c_w;

	c->c_r.r_eof = 1;
	if (!c->c_r.r_cbmode)
		weft__wake_one(&c->c_r.r_wq, 0);
	if (!w->w_cbmode)
		weft__wake_all(&w->w_wq, 0);
}

int
weft_close(weft_writer_t *w)
{
	weft__conn_t *c = weft__conn_of_writer(w);

	w->w_closed = 1;
	if (w->w_closing)
		return 0;
	w->w_closing = 1;
	weft__conn_reason(c, close_reason(c));
	c->c_tr->t_close(c);
	if (!w->w_lost)
		close_wake(c);
	return 0;
}

int
weft_abort(weft_writer_t *w)
{
	weft__conn_t *c = weft__conn_of_writer(w);

	w->w_closed = 1;
	w->w_closing = 1;
	/* Lost first, so that waiters see the abort rather than the clean
	 * close that on_close reports; then the handle goes, and with it
	 * every queued write (libuv cancels them). */
	weft__conn_reason(c,
	    c->c_timedout ? WEFT_CLOSE_TIMEOUT : WEFT_CLOSE_ABORT);
	weft__conn_fatal(c, -ECONNABORTED);
	return 0;
}

int
weft_is_closing(const weft_writer_t *w)
{
	return w->w_closing;
}

int
weft_wait_closed(weft_writer_t *w)
{
	int rc;

	if (w->w_cbmode && !w->w_lost)
		return -EAGAIN;
	while (!w->w_lost) {
		if ((rc = weft__park(&w->w_wq)) != 0 || w->w_lost)
			return rc;
	}
	return w->w_lost_err;
}

int
weft_writer_set_limits(weft_writer_t *w, ssize_t high, ssize_t low)
{
	/* -1 stands for asyncio's None; any other negative value is refused
	 * as asyncio refuses it, before the arithmetic below can overflow
	 * (4 * low of a huge low, or of a negative one). */
	if (high < -1 || low < -1 || high > (ssize_t)UINT32_MAX ||
	    low > (ssize_t)UINT32_MAX)
		return -EINVAL;
	if (high == -1 && low == -1) {
		high = WEFT_WRITE_HIGH_DEFAULT;
		low = WEFT_WRITE_LOW_DEFAULT;
	} else if (high == -1) {
		if (low > (ssize_t)(UINT32_MAX / 4))
			return -EINVAL;
		high = 4 * low;
	} else if (low == -1) {
		low = high / 4;
	}
	if (high < low)
		return -EINVAL;
	w->w_high = (uint32_t)high;
	w->w_low = (uint32_t)low;
	maybe_pause(w);
	return 0;
}

void
weft_writer_get_limits(const weft_writer_t *w, size_t *low, size_t *high)
{
	if (low != NULL)
		*low = w->w_low;
	if (high != NULL)
		*high = w->w_high;
}

size_t
weft_writer_buffered(const weft_writer_t *w)
{
	const weft__conn_t *c = weft__conn_of_writer(w);

	return c->c_tr->t_buffered(c);
}

weft_reader_t *
weft_writer_reader(const weft_writer_t *w)
{
	return &weft__conn_of_writer(w)->c_r;
}

int
weft_drain_start(weft_writer_t *w, weft_write_cb cb, void *arg)
{
	if (!w->w_cbmode && !weft__wq_empty(&w->w_wq))
		return WEFT_EBUSY;
	w->w_cbmode = 1;
	w->w_cbk.cb = cb;
	w->w_cbk.arg = arg;
	return 0;
}
