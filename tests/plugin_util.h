/*
 * Shared by the plugin loader test programs (tests/test_plugin*.c):
 * plugin stanzas built by hand, as the config parser would build them,
 * and loading them.  Static inline so that a program may leave some
 * unused.
 */
#ifndef PLUGIN_UTIL_H
#define PLUGIN_UTIL_H

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/plugin.h>

#include "config.h"
#include "good.h"
#include "harness.h"
#include "loader.h"

#define CONF "weftd.conf"

/* A plugin stanza under construction. */
struct stanza {
	struct conf_plugin cp;
	struct conf_setting set[8];
	char path[512];
};

static inline void
stanza_init(struct stanza *st, const char *name, const char *dir,
    const char *file, int line)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->path, sizeof(st->path), "%s/%s", dir, file);
	st->cp.name = (char *)name;
	st->cp.path = (char *)file;
	st->cp.abspath = st->path;
	st->cp.settings = st->set;
	st->cp.file = (char *)CONF;
	st->cp.line = line;
}

static inline void
stanza_set(struct stanza *st, const char *key, const char *value, int type,
    int line)
{
	struct conf_setting *s = &st->set[st->cp.nsettings++];

	assert_true(st->cp.nsettings <= sizeof(st->set) / sizeof(st->set[0]));
	s->key = (char *)key;
	s->value = (char *)value;
	s->type = type;
	s->line = line;
}

/* Load and init; the plugin must be accepted. */
static inline struct plugin *
load_ok(struct stanza *st, int worker)
{
	struct plugin *p = NULL;
	char *cause = NULL;

	if (plugin_load(&st->cp, &p, &cause) != 0)
		fail_msg("load %s: %s", st->path, cause);
	assert_non_null(p);
	assert_ptr_equal(p->p_conf, &st->cp);
	if (plugin_init(p, CONF, worker, &cause) != 0)
		fail_msg("init %s: %s", st->path, cause);
	assert_null(cause);
	assert_int_equal(p->p_inited, 1);
	return p;
}

/* plugin_load must refuse with exactly this message, after the
 * "FILE:LINE: plugin "NAME": " every loader refusal starts with. */
static inline void
load_refused(struct stanza *st, const char *want)
{
	struct plugin *p = NULL;
	char *cause = NULL, full[4096];

	snprintf(full, sizeof(full), "%s:%d: plugin \"%s\": %s",
	    st->cp.file != NULL ? st->cp.file : "(config)", st->cp.line,
	    st->cp.name, want);
	assert_int_equal(plugin_load(&st->cp, &p, &cause), -1);
	assert_null(p);
	assert_non_null(cause);
	assert_string_equal(cause, full);
	free(cause);
}

/* Load succeeds, init fails with exactly this text. */
static inline void
init_refused(struct stanza *st, const char *want)
{
	struct plugin *p = NULL;
	char *cause = NULL;

	if (plugin_load(&st->cp, &p, &cause) != 0)
		fail_msg("load %s: %s", st->path, cause);
	assert_int_equal(plugin_init(p, CONF, 0, &cause), -1);
	assert_int_equal(p->p_inited, 0);
	assert_null(p->p_ctx);
	assert_non_null(cause);
	assert_string_equal(cause, want);
	free(cause);
	plugin_unload(&p);
	assert_null(p);
}

/* The message for a test plugin: "DIR/FILE: TEXT". */
static inline const char *
msg(const char *file, const char *text)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s/%s: %s", TEST_PLUGIN_DIR, file, text);
	return buf;
}

#endif /* PLUGIN_UTIL_H */
