/*
 * Shared by the configuration test programs (tests/test_config*.c):
 * helpers writing and parsing test files, and the private directory
 * made before the first case and removed after the last.  Static inline
 * so that a program may leave some unused.
 */
#ifndef CONFIG_UTIL_H
#define CONFIG_UTIL_H

#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/plugin.h>

#include "config.h"
#include "harness.h"

#ifndef SRCDIR
#error "SRCDIR must point at the source tree"
#endif

static char tmpdir[64];

/* ---- Helpers ------------------------------------------------------------ */

static inline char *
path_of(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
	return p;
}

/* Write a test file into tmpdir and return its path (caller frees). */
static inline char *
put(const char *name, const char *text)
{
	char *p = path_of(name);
	FILE *fp;

	assert_non_null(fp = fopen(p, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return p;
}

/* Expand "F:" at the start of each line to "<path>:". */
static inline char *
expand(const char *expect, const char *path)
{
	char *out, *w;
	const char *p;
	size_t n = strlen(expect) + 1, lines = 1;

	for (p = expect; *p != '\0'; p++)
		lines += *p == '\n';
	assert_non_null(out = w = malloc(n + lines * strlen(path)));
	for (p = expect; *p != '\0';) {
		if ((p == expect || p[-1] == '\n') &&
		    strncmp(p, "F:", 2) == 0) {
			w = stpcpy(w, path);
			p++; /* keep the ':' */
			continue;
		}
		*w++ = *p++;
	}
	*w = '\0';
	return out;
}

static inline struct conf *
load_ok(const char *path)
{
	struct conf *c = NULL;
	char *cause = NULL;

	if (config_load(path, &c, &cause) != 0) {
		print_error("unexpected config errors:\n%s\n", cause);
		free(cause);
		fail();
	}
	assert_non_null(c);
	return c;
}

static inline struct conf *
load_text_ok(const char *name, const char *text)
{
	char *p = put(name, text);
	struct conf *c = load_ok(p);

	free(p);
	return c;
}

/* Loading name (holding text) must fail with exactly expect. */
static inline void
load_fails(const char *name, const char *text, const char *expect)
{
	char *p = put(name, text), *want = expand(expect, p);
	struct conf *c = NULL;
	char *cause = NULL;

	assert_int_equal(config_load(p, &c, &cause), -1);
	assert_null(c);
	assert_non_null(cause);
	assert_string_equal(cause, want);
	free(cause);
	free(want);
	free(p);
}

static inline char *
dump(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	assert_non_null(fp = open_memstream(&buf, &len));
	config_dump(c, fp);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

/* A plugin stanza both syntaxes can lean on. */
#define CONF_PLUGIN "plugins = { echo = { path = \"/p/echo.so\"; }; };\n"
#define INI_PLUGIN "[plugins.echo]\npath = /p/echo.so\n"

/* ---- Setup -------------------------------------------------------------- */

static inline int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline int
setup(void)
{
	strcpy(tmpdir, "/tmp/weft-config-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static inline int
teardown(void)
{
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#endif /* CONFIG_UTIL_H */
