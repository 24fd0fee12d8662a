/*
 * Test plugin "good": an echo handler whose init reads one setting of
 * each type (greeting: str, count: int, flag: bool, ratio: double) into
 * its state, which tests/test_plugin.c inspects through struct plugin.
 */
#include <errno.h>
#include <stdlib.h>

#include <weft/plugin.h>
#include <weft/stream.h>
#include <weft/fiber.h>

#include "good.h"

static void
good_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	weft_slice_t s;

	(void)state;
	while (weft_read_slice(r, 4096, &s) > 0)
		if (weft_write(w, s.base, s.len) != 0 || weft_drain(w) != 0)
			break;
}

static int
good_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct good_state *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return -ENOMEM;
	g->g_greeting = weft_setting_str(ctx, "greeting", "hello");
	g->g_count = weft_setting_int(ctx, "count", 1);
	g->g_flag = weft_setting_bool(ctx, "flag", 0);
	g->g_ratio = weft_setting_double(ctx, "ratio", 0.5);
	g->g_worker = weft_plugin_worker(ctx);
	g->g_name = weft_plugin_name(ctx);
	g->g_init_on_fiber = weft_current() != NULL;
	*state = g;
	return 0;
}

static void
good_fini(void *state)
{
	struct good_state *g = state;

	if (g->g_fini_seen != NULL)
		(*g->g_fini_seen)++;
	if (g->g_fini_on_fiber != NULL)
		*g->g_fini_on_fiber = weft_current() != NULL;
	free(g);
}

static void
good_stop(void *state)
{
	struct good_state *g = state;

	g->g_stops++;
	g->g_stop_fiber = weft_current();
}

WEFT_PLUGIN(good, .init = good_init, .client_connected = good_client,
    .stop = good_stop, .fini = good_fini);
