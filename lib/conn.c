/*
 * Connections: the lifecycle of a reader/writer pair over a transport
 * (transport.h) from allocation to release, the one place that records
 * why a connection ended, and the owner (a server) that is told when it
 * is released.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>

#include "transport.h"

/* The reader's pause/resume_reading, forwarded to the transport. */
static int
conn_pause(void *ctx)
{
	weft__conn_t *c = ctx;

	c->c_tr->t_read_stop(c);
	return 0;
}

static int
conn_resume(void *ctx)
{
	weft__conn_t *c = ctx;

	c->c_tr->t_read_start(c);
	return 0;
}

static const weft_transport_ops_t conn_reader_ops = { conn_pause, conn_resume };

size_t
weft__conn_size(const weft__transport_t *tr)
{
	return tr->t_size;
}

weft__conn_t *
weft__conn_new(const weft__transport_t *tr, size_t limit)
{
	void *mem;

	if ((mem = malloc(weft__conn_size(tr))) == NULL)
		return NULL;
	return weft__conn_init(mem, tr, limit, 0);
}

weft__conn_t *
weft__conn_init(void *mem, const weft__transport_t *tr, size_t limit,
    int carved)
{
	weft__conn_t *c = mem;

	memset(c, 0, weft__conn_size(tr));
	c->c_carved = (uint32_t)(carved != 0);
	weft__reader_init(&c->c_r, limit);
	c->c_w.w_high = WEFT_WRITE_HIGH_DEFAULT;
	c->c_w.w_low = WEFT_WRITE_LOW_DEFAULT;
	c->c_tr = tr;
	c->c_nodelay = 1;
	if (tr->t_read_start != NULL)
		weft_reader_set_transport(&c->c_r, &conn_reader_ops, c);
	return c;
}

/* ---- Why it ended ------------------------------------------------------ */

void
weft__conn_reason(weft__conn_t *c, int reason)
{
	if (c->c_reason == WEFT_CLOSE_NONE)
		c->c_reason = (uint32_t)reason & 0xf;
}

static int
reason_of_err(int err)
{
	switch (err) {
	case -ECONNRESET:
	case -EPIPE:
		return WEFT_CLOSE_RESET;
	case -ETIMEDOUT:
		return WEFT_CLOSE_TIMEOUT;
	case -ECONNABORTED:
		return WEFT_CLOSE_ABORT;
	default:
		return WEFT_CLOSE_ERROR;
	}
}

/*
 * connection_lost(err), the one way a connection's end reaches its
 * reader and writer, whichever transport saw it.
 */
void
weft__conn_lost(weft__conn_t *c, int err)
{
	weft_writer_t *w = &c->c_w;

	if (w->w_lost)
		return;
	w->w_lost = 1;
	w->w_lost_err = err;
	if (err != 0)
		weft_reader_set_exception(&c->c_r, err);
	else
		weft_feed_eof(&c->c_r);
	/* Drains and wait_closed()s already waiting return err: 0 (a drain
	 * returns normally) on a clean close. */
	if (w->w_cbmode) {
		if (w->w_paused && err != 0 && w->w_cbk.cb != NULL) {
			w->w_paused = 0;
			w->w_cbk.cb(w, err, w->w_cbk.arg);
		}
		w->w_paused = 0;
		return;
	}
	w->w_paused = 0;
	weft__wake_all(&w->w_wq, err);
}

void
weft__conn_fatal(weft__conn_t *c, int err)
{
	weft__conn_reason(c, reason_of_err(err));
	weft__conn_lost(c, err);
	c->c_tr->t_abort(c);
}

void
weft__conn_send_timeout(weft__conn_t *c)
{
	/* A close that was waiting for the flush did not end cleanly. */
	if (c->c_reason == WEFT_CLOSE_LOCAL || c->c_reason == WEFT_CLOSE_EOF)
		c->c_reason = WEFT_CLOSE_NONE;
	weft__conn_reason(c, WEFT_CLOSE_TIMEOUT);
	if (c->c_owner != NULL)
		c->c_owner->o_send_timeouts++;
	weft__conn_fatal(c, -ETIMEDOUT);
}

int
weft_close_reason(const weft_writer_t *w)
{
	return weft__conn_of_writer(w)->c_reason;
}

/* ---- Owners ------------------------------------------------------------ */

int
weft__conn_set_owner(weft__conn_t *c, weft__conn_owner_t *o)
{
	weft__conn_t **nc;
	struct weft__conn_acct *na;
	uint32_t ncap;

	if (o->o_n == o->o_cap) {
		ncap = o->o_cap == 0 ? 64 : o->o_cap * 2;
		if (ncap <= o->o_cap ||
		    (nc = realloc(o->o_conns, ncap * sizeof(*nc))) == NULL)
			return -ENOMEM;
		o->o_conns = nc;
		if ((na = realloc(o->o_acct, ncap * sizeof(*na))) == NULL)
			return -ENOMEM;
		o->o_acct = na;
		o->o_cap = ncap;
	}
	c->c_slot = o->o_n;
	memset(&o->o_acct[o->o_n], 0, sizeof(o->o_acct[0]));
	if (weft_loop() != NULL)
		o->o_acct[o->o_n].a_start = uv_now(weft_loop());
	o->o_conns[o->o_n++] = c;
	c->c_owner = o;
	/* Its socket is gone by the time o_on_close asks for the peer. */
	if (o->o_on_close != NULL)
		weft__addr_keep_peer(c);
	return 0;
}

/*
 * Halve the table once it is a quarter full: what a burst of connections
 * grew (about 32 bytes each, 400 KiB for 12 500 of them) goes back to
 * malloc when the burst is over, and a count hovering around a size
 * does not realloc each time it crosses it.  A failed shrink keeps the
 * larger table.
 */
static void
owner_shrink(weft__conn_owner_t *o)
{
	weft__conn_t **nc;
	struct weft__conn_acct *na;
	uint32_t ncap = o->o_cap / 2;

	if (o->o_cap <= 64 || o->o_n > o->o_cap / 4)
		return;
	if ((nc = realloc(o->o_conns, ncap * sizeof(*nc))) == NULL)
		return;
	o->o_conns = nc;
	/* o_acct may stay the larger: o_cap is what both have room for. */
	o->o_cap = ncap;
	if ((na = realloc(o->o_acct, ncap * sizeof(*na))) != NULL)
		o->o_acct = na;
}

/* Take c off its owner's table: the last one moves into its slot. */
static void
owner_remove(weft__conn_owner_t *o, weft__conn_t *c)
{
	weft__conn_t *last = o->o_conns[--o->o_n];

	WEFT__ASSERT(o->o_conns[c->c_slot] == c);
	o->o_conns[c->c_slot] = last;
	o->o_acct[c->c_slot] = o->o_acct[o->o_n];
	last->c_slot = c->c_slot;
	c->c_owner = NULL;
	owner_shrink(o);
}

void
weft__owner_fini(weft__conn_owner_t *o)
{
	WEFT__ASSERT(o->o_n == 0);
	free(o->o_conns);
	free(o->o_acct);
	o->o_conns = NULL;
	o->o_acct = NULL;
	o->o_cap = 0;
}

/* ---- After the release: a held writer ----------------------------------- */

/*
 * The transport of a connection released while its writer is held: no
 * socket, nothing buffered, every op a no-op, so that the writer calls a
 * holder may still make need no test of their own.
 */
static void
gone_nop(weft__conn_t *c)
{
	(void)c;
}

static int
gone_write(weft__conn_t *c, const weft_slice_t *bufs, size_t n)
{
	(void)c;
	(void)bufs;
	(void)n;
	return WEFT_ECLOSED;
}

static size_t
gone_buffered(const weft__conn_t *c)
{
	(void)c;
	return 0;
}

static int
gone_busy(const weft__conn_t *c)
{
	(void)c;
	return 0;
}

static int
gone_fileno(const weft__conn_t *c)
{
	(void)c;
	return WEFT_ECLOSED;
}

static int
gone_addr(const weft__conn_t *c, int peer, struct sockaddr *sa, socklen_t *len)
{
	(void)c;
	(void)peer;
	(void)sa;
	(void)len;
	return WEFT_ECLOSED;
}

static const weft__transport_t transport_gone = {
	.t_name = "closed",
	.t_base = &transport_gone,
	.t_read_start = gone_nop,
	.t_read_stop = gone_nop,
	.t_write = gone_write,
	.t_write_eof = gone_nop,
	.t_close = gone_nop,
	.t_abort = gone_nop,
	.t_buffered = gone_buffered,
	.t_busy = gone_busy,
	.t_fileno = gone_fileno,
	.t_addr = gone_addr,
	.t_destroy = gone_nop,
};

/* Its transport and buffers are released; a holder keeps the memory. */
static void
conn_gone(weft__conn_t *c)
{
	weft_writer_t *w = &c->c_w;

	c->c_gone = 1;
	c->c_tr = &transport_gone;
	/* As after weft_close and connection_lost: writes are
	 * WEFT_ECLOSED, drains -ECONNRESET (not the reader's error),
	 * wait_closed returns at once. */
	w->w_closed = w->w_closing = w->w_lost = 1;
	w->w_paused = 0;
	c->c_r.r_exc = 0;
}

static void
conn_free_mem(weft__conn_t *c)
{
	weft__addr_free(c); /* a holder may have set addresses */
	if (c->c_carved)
		weft__carve_put(c);
	else
		free(c);
}

weft_writer_t *
weft_writer_hold(weft_writer_t *w)
{
	weft__conn_t *c = weft__conn_of_writer(w);

	WEFT__ASSERT(c->c_holds < (1u << 18) - 1);
	c->c_holds++;
	return w;
}

void
weft_writer_release(weft_writer_t *w)
{
	weft__conn_t *c;

	if (w == NULL)
		return;
	c = weft__conn_of_writer(w);
	WEFT__ASSERT(c->c_holds > 0);
	if (--c->c_holds == 0 && c->c_gone)
		conn_free_mem(c);
}

/* ---- Release ----------------------------------------------------------- */

void
weft__conn_maybe_free(weft__conn_t *c)
{
	weft__conn_owner_t *o = c->c_owner;

	if (c->c_gone || !c->c_owner_done || c->c_tr->t_busy(c))
		return;
	weft__reader_gone(&c->c_r);
	/* Freed without a recorded cause: it was closed cleanly. */
	weft__conn_reason(c, c->c_r.r_eof ? WEFT_CLOSE_EOF : WEFT_CLOSE_LOCAL);
	if (o != NULL) {
		weft__owner_end(o, c, c->c_reason);
		owner_remove(o, c);
		o->o_release(o, c, c->c_reason);
	}
	weft__reader_destroy(&c->c_r);
	c->c_tr->t_destroy(c);
	weft__addr_free(c);
	if (c->c_holds > 0)
		conn_gone(c);
	else
		conn_free_mem(c);
}

void
weft_stream_free(weft_writer_t *w)
{
	weft__conn_t *c;

	if (w == NULL)
		return;
	c = weft__conn_of_writer(w);
	if (c->c_server_owned || c->c_owner_done)
		return;
	c->c_owner_done = 1;
	/* For a holder, as after weft_abort. */
	w->w_closed = w->w_closing = 1;
	/* Abort: whatever is still queued is dropped. */
	weft__conn_reason(c, WEFT_CLOSE_ABORT);
	c->c_tr->t_abort(c);
	weft__conn_maybe_free(c);
}
