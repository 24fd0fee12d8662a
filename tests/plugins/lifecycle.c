/*
 * Test plugin "lifecycle" (tests/test_weftd_plugins.py): the plugin
 * lifecycle as a plugin author uses it.
 *
 * A connection is greeted with "GREETING INSTANCE\n" (settings: greeting;
 * the instance's name), then each line is echoed back, until the stop
 * hook runs: it cancels every handler, which says "bye from INSTANCE\n"
 * and returns at that request boundary.
 *
 * With background = true, init spawns a fiber that ticks (weft_sleep in
 * a loop) and itself spawns another: both must have been cancelled and
 * have ended by the time fini runs, which aborts the process otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/plugin.h>
#include <weft/weft.h>

struct conn {
	weft_fiber_t *fiber;
	struct conn *prev, *next;
};

struct lc {
	const char *greeting;
	const char *name;
	int stopping;
	struct conn *conns; /* live handlers, for stop to cancel */
	int live_bg;	    /* background fibers not ended */
	unsigned long ticks;
};

static void
bg_tick(struct lc *lc)
{
	while (weft_sleep(5) == 0)
		lc->ticks++;
}

static void
bg_child(void *arg)
{
	struct lc *lc = arg;

	bg_tick(lc);
	lc->live_bg--;
}

static void
bg_main(void *arg)
{
	struct lc *lc = arg;

	/* A fiber of a fiber of init's: the instance's too. */
	if (weft_spawn(bg_child, lc, NULL) == 0)
		lc->live_bg++;
	bg_tick(lc);
	lc->live_bg--;
}

static void
lc_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	struct lc *lc = state;
	struct conn *c;
	char line[512];
	weft_slice_t s;
	int len;

	/* On the heap: the stop fiber reads it while this one is parked,
	 * and with shared stacks this stack is elsewhere then. */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->fiber = weft_current();
	c->next = lc->conns;
	if (lc->conns != NULL)
		lc->conns->prev = c;
	lc->conns = c;
	len = snprintf(line, sizeof(line), "%s %s\n", lc->greeting, lc->name);
	(void)weft_write(w, line, (size_t)len);
	while (!lc->stopping) {
		if (weft_readline(r, &s) != 0 || s.len == 0)
			break;
		if (weft_write(w, s.base, s.len) != 0 || weft_drain(w) != 0)
			break;
	}
	if (lc->stopping) {
		len = snprintf(line, sizeof(line), "bye from %s\n", lc->name);
		(void)weft_write(w, line, (size_t)len);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		lc->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
}

static void
lc_stop(void *state)
{
	struct lc *lc = state;
	struct conn *c;

	weft_log(WEFT_LOG_INFO, "lifecycle %s: stop", lc->name);
	lc->stopping = 1;
	for (c = lc->conns; c != NULL; c = c->next)
		(void)weft_cancel(c->fiber);
}

static int
lc_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct lc *lc;
	int bg;

	if ((lc = calloc(1, sizeof(*lc))) == NULL)
		return -ENOMEM;
	lc->greeting = weft_setting_str(ctx, "greeting", "hello");
	bg = weft_setting_bool(ctx, "background", 0);
	lc->name = weft_plugin_name(ctx);
	if (weft_current() == NULL) {
		free(lc);
		return weft_plugin_error(ctx, NULL, "init is not on a fiber");
	}
	if (bg && weft_spawn(bg_main, lc, NULL) == 0)
		lc->live_bg++;
	*state = lc;
	return 0;
}

static void
lc_fini(void *state)
{
	struct lc *lc = state;

	if (weft_current() == NULL || lc->live_bg != 0) {
		weft_log(WEFT_LOG_ERR,
		    "lifecycle %s: fini with %d background fiber(s) left%s",
		    lc->name, lc->live_bg,
		    weft_current() == NULL ? ", not on a fiber" : "");
		abort();
	}
	weft_log(WEFT_LOG_INFO, "lifecycle %s: fini", lc->name);
	free(lc);
}

WEFT_PLUGIN(lifecycle, .init = lc_init, .client_connected = lc_client,
    .stop = lc_stop, .fini = lc_fini);
