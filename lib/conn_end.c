/*
 * What went through a connection and how it ended: its byte counts and
 * age (weft_conn_stats), and its owner's counters by close reason and the
 * owner's on-close hook, which weftd's access log hangs on.  The counting
 * itself is inline (internal.h), on the read and write paths.
 */
#include "autoconf.h"

#include <string.h>

#include "transport.h"

static void
conn_stats(const weft__conn_t *c, weft_conn_stats_t *all)
{
	const struct weft__conn_acct *a;
	uv_loop_t *loop = weft_loop();
	uint64_t now;

	memset(all, 0, sizeof(*all));
	all->reason = (int)c->c_reason;
	if (c->c_owner == NULL)
		return;
	a = &c->c_owner->o_acct[c->c_slot];
	now = loop != NULL ? uv_now(loop) : a->a_start;
	all->bytes_in = a->a_in;
	all->bytes_out = a->a_out;
	all->start_ms = a->a_start;
	all->duration_ms = now > a->a_start ? now - a->a_start : 0;
}

size_t
weft_conn_stats(const weft_writer_t *w, weft_conn_stats_t *st, size_t size)
{
	weft_conn_stats_t all;

	conn_stats(weft__conn_of_writer(w), &all);
	if (size > sizeof(all))
		size = sizeof(all);
	memcpy(st, &all, size);
	return size;
}

void
weft__owner_end(weft__conn_owner_t *o, weft__conn_t *c, int reason)
{
	weft_conn_stats_t st;

	/* LOCAL is as orderly as EOF: this side closed first. */
	if (reason == WEFT_CLOSE_LOCAL || reason == WEFT_CLOSE_NONE)
		reason = WEFT_CLOSE_EOF;
	if (reason > 0 && reason <= WEFT_CLOSE_ERROR)
		o->o_closed[reason]++;
	if (o->o_on_close == NULL)
		return;
	conn_stats(c, &st);
	o->o_ending = c; /* its stored addresses stay readable */
	o->o_on_close(&c->c_w, &st, o->o_on_close_arg);
	o->o_ending = NULL;
}

int
weft__owner_set_on_close(weft__conn_owner_t *o, weft_close_cb fn, void *arg)
{
	o->o_on_close = fn;
	o->o_on_close_arg = arg;
	return 0;
}

size_t
weft__owner_stats(const weft__conn_owner_t *o, weft_server_stats_t *st,
    weft_server_stats_t *out, size_t size)
{
	st->closed_eof = o->o_closed[WEFT_CLOSE_EOF];
	st->closed_reset = o->o_closed[WEFT_CLOSE_RESET];
	st->closed_timeout = o->o_closed[WEFT_CLOSE_TIMEOUT];
	st->closed_abort = o->o_closed[WEFT_CLOSE_ABORT];
	st->closed_limit = o->o_closed[WEFT_CLOSE_LIMIT];
	st->closed_shutdown = o->o_closed[WEFT_CLOSE_SHUTDOWN];
	st->closed_error = o->o_closed[WEFT_CLOSE_ERROR];
	st->bytes_in = o->o_bytes_in;
	st->bytes_out = o->o_bytes_out;
	if (size > sizeof(*st))
		size = sizeof(*st);
	memcpy(out, st, size);
	return size;
}
