/*
 * The plugin lifecycle through the loader: init, stop and fini run on
 * fibers whoever calls them (a fiber, or a worker's loop before it runs);
 * the fibers init spawns are cancelled and joined before fini; the stop
 * hook runs once, on its own fiber, and only for plugins built for ABI
 * 1.3 or later.
 */
#include <uv.h>

#include "plugin_util.h"

/* On a fiber: init and fini run on the caller's; stop on its own, once. */
WT_CASE(stop_and_fibers)
{
	struct stanza st;
	struct plugin *p;
	struct good_state *g;
	int on_fiber = 0, fini = 0;

	stanza_init(&st, "good-1", TEST_PLUGIN_DIR, "good.so", 1);
	p = load_ok(&st, 0);
	g = p->p_state;
	assert_int_equal(g->g_init_on_fiber, 1);
	assert_string_equal(weft_fiber_name(weft_current()), "main");
	plugin_stop(p);
	assert_int_equal(g->g_stops, 0); /* not inline: on its fiber */
	assert_int_equal(weft_sleep(5), 0);
	assert_int_equal(g->g_stops, 1);
	assert_non_null(g->g_stop_fiber);
	assert_ptr_not_equal(g->g_stop_fiber, weft_current());
	plugin_stop(p);
	assert_int_equal(weft_sleep(5), 0);
	assert_int_equal(g->g_stops, 1);
	g->g_fini_seen = &fini;
	g->g_fini_on_fiber = &on_fiber;
	plugin_unload(&p);
	assert_int_equal(fini, 1);
	assert_int_equal(on_fiber, 1);
}

/* A 1.1 plugin's reserved[0] is not a stop hook (it would abort). */
WT_CASE(no_stop_before_1_3)
{
	struct stanza st;
	struct plugin *p;

	stanza_init(&st, "older-minor", TEST_PLUGIN_DIR, "older-minor-1.so", 1);
	p = load_ok(&st, 0);
	plugin_stop(p);
	assert_int_equal(weft_sleep(5), 0);
	plugin_unload(&p);
}

/*
 * As a worker calls it: a scheduler attached, its loop not running yet.
 * The lifecycle plugin refuses an init that is not on a fiber, and
 * aborts in a fini that is not, or that finds a fiber init spawned (or
 * one of theirs) still alive.
 */
WT_TEST(from_the_loop)
{
	struct stanza st;
	struct plugin *p;
	uv_loop_t loop;
	int i;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(weft_init(&loop), 0);
	stanza_init(&st, "bg", TEST_PLUGIN_DIR, "lifecycle.so", 1);
	stanza_set(&st, "background", "true", CONF_T_BOOL, 2);
	p = load_ok(&st, 0);
	assert_null(weft_current());
	/* The background fibers tick, and spawn. */
	for (i = 0; i < 5; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_true(weft_fiber_count() >= 1);
	plugin_unload(&p);
	assert_int_equal(weft_fiber_count(), 0);
	weft_fini();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* In `weftd -t` (a fiber of weft_run), the same. */
WT_CASE(background_in_check)
{
	struct stanza st;
	struct plugin *p;

	stanza_init(&st, "bg", TEST_PLUGIN_DIR, "lifecycle.so", 1);
	stanza_set(&st, "background", "1", CONF_T_BOOL, 2);
	p = load_ok(&st, 0);
	assert_int_equal(weft_fiber_count(), 2); /* main, and init's */
	assert_int_equal(weft_sleep(20), 0);
	assert_int_equal(weft_fiber_count(), 3); /* and its child */
	plugin_unload(&p);
	assert_int_equal(weft_fiber_count(), 1);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
