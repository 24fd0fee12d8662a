/*
 * The state of the "good" test plugin, shared with tests/test_plugin.c so
 * the test can see what init read from its settings.
 */
#ifndef WEFT_TEST_GOOD_H
#define WEFT_TEST_GOOD_H

#include <stdint.h>

struct good_state {
	const char *g_greeting; /* "greeting", default "hello" */
	int64_t g_count;	/* "count", default 1 */
	int g_flag;		/* "flag", default 0 */
	double g_ratio;		/* "ratio", default 0.5 */
	int g_worker;		/* weft_plugin_worker() */
	const char *g_name;	/* weft_plugin_name() */
	int *g_fini_seen;	/* if a test sets it, fini increments it */
	int g_stops;		/* stop hook calls */
	void *g_stop_fiber;	/* the fiber the stop hook ran on */
	int g_init_on_fiber;	/* init ran on a fiber */
	int *g_fini_on_fiber;	/* if a test sets it, fini sets it */
};

#endif /* WEFT_TEST_GOOD_H */
