/*
 * Every refusal of the plugin loader reads "FILE:LINE: plugin "NAME": ..."
 * with the config line that asked for the plugin, and says what the
 * dynamic linker's jargon means; a relative path not found names the
 * plugin_dir it was looked up in; a failed init is not also blamed for
 * the settings it did not read; a mistyped setting gets "did you mean".
 * The hint functions (daemon/hints.c) are checked on their own too.
 */
#include "autoconf.h"

#include <ftw.h>

#include "plugin_util.h"

#include "hints.h"

static char tmp[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void)
{
	strcpy(tmp, "/tmp/weft-plugin-errors-XXXXXX");
	return mkdtemp(tmp) == NULL || chmod(tmp, 0755) != 0 ? -1 : 0;
}

static int
teardown(void)
{
	return nftw(tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write n bytes of text as tmp/name, mode 0644. */
static void
put_file(const char *name, const char *text, size_t n)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0644), 0);
}

/* Copy the build's file from TEST_PLUGIN_DIR into tmp. */
static void
copy_in(const char *from, const char *to)
{
	char src[512], buf[65536];
	FILE *in;
	size_t n;

	snprintf(src, sizeof(src), "%s/%s", TEST_PLUGIN_DIR, from);
	assert_non_null(in = fopen(src, "rb"));
	n = fread(buf, 1, sizeof(buf), in);
	assert_true(n > 0 && n < sizeof(buf));
	fclose(in);
	put_file(to, buf, n);
}

/* plugin_load refuses; the cause (the caller frees it). */
static char *
refused(struct stanza *st)
{
	struct plugin *p = NULL;
	char *cause = NULL;

	assert_int_equal(plugin_load(&st->cp, &p, &cause), -1);
	assert_null(p);
	assert_non_null(cause);
	return cause;
}

WT_TEST(missing_relative_file_names_plugin_dir)
{
	struct stanza st;
	char want[1024];

	stanza_init(&st, "nope", TEST_PLUGIN_DIR, "nope.so", 7);
	snprintf(want, sizeof(want),
	    "%s/nope.so: No such file or directory (\"nope.so\" is relative: "
	    "looked up in plugin_dir %s)",
	    TEST_PLUGIN_DIR, TEST_PLUGIN_DIR);
	load_refused(&st, want);
	/* An absolute path was looked up nowhere else. */
	st.cp.path = st.path;
	snprintf(want, sizeof(want), "%s/nope.so: No such file or directory",
	    TEST_PLUGIN_DIR);
	load_refused(&st, want);
	/* The stanza's own file: an @include's, not the main one's. */
	st.cp.file = (char *)"conf.d/more.conf";
	st.cp.line = 3;
	load_refused(&st, want);
}

WT_TEST(not_a_shared_library)
{
	static const char *const files[] = { "text.so", "short.so",
		"object.so" };
	static const char text[] = "this is not a library, but a long enough "
				   "text to hold an ELF header, which it is "
				   "not either\n";
	static const char *const raw[] = { "invalid ELF header",
		"file too short", "only ET_DYN and ET_EXEC can be loaded" };
	struct stanza st;
	char want[2048], *cause;
	size_t i;

	put_file("text.so", text, strlen(text));
	put_file("short.so", "\177ELF", 4);
	copy_in("good.o", "object.so");
	for (i = 0; i < 3; i++) {
		stanza_init(&st, "good", tmp, files[i], 4);
		cause = refused(&st);
		snprintf(want, sizeof(want),
		    "weftd.conf:4: plugin \"good\": %s: not a shared library: "
		    "build it with -shared -fPIC (dlopen: %s: ",
		    st.path, st.path);
		if (strncmp(cause, want, strlen(want)) != 0 ||
		    strstr(cause, raw[i]) == NULL)
			fail_msg("%s: got \"%s\"", files[i], cause);
		free(cause);
	}
}

WT_TEST(undefined_symbol_named)
{
	struct stanza st;
	char want[2048], *cause;

	stanza_init(&st, "unresolved", TEST_PLUGIN_DIR, "unresolved.so", 9);
	cause = refused(&st);
	snprintf(want, sizeof(want),
	    "weftd.conf:9: plugin \"unresolved\": %s: the plugin uses "
	    "weft_test_no_such_function, which nothing loaded defines: link "
	    "the library that has it (-l...) or define the function (a "
	    "typo? a source file left out?) (dlopen: %s: undefined symbol: "
	    "weft_test_no_such_function",
	    st.path, st.path);
	if (strncmp(cause, want, strlen(want)) != 0)
		fail_msg("got \"%s\"", cause);
	free(cause);
}

WT_TEST(descriptor_refusals_name_the_line)
{
	struct stanza st;
	char *cause;

	stanza_init(&st, "no-desc", TEST_PLUGIN_DIR, "no-desc.so", 12);
	cause = refused(&st);
	assert_true(strncmp(cause, "weftd.conf:12: plugin \"no-desc\": ",
			strlen("weftd.conf:12: plugin \"no-desc\": ")) == 0);
	free(cause);
	stanza_init(&st, "good", TEST_PLUGIN_DIR, "good.so", 2);
	st.cp.path = NULL;
	st.cp.abspath = NULL;
	load_refused(&st, "no path");
}

/* Texts glibc gives for what a test cannot easily build. */
WT_TEST(dlopen_hints)
{
	char *cause = NULL;

	hint_dlopen("/p/x.so",
	    "libfoo.so.3: cannot open shared object file: No such file or "
	    "directory",
	    &cause);
	assert_string_equal(cause,
	    "/p/x.so: needs the library libfoo.so.3, which the dynamic "
	    "linker cannot find: install it, or run ldconfig if it is in a "
	    "directory of /etc/ld.so.conf (dlopen: libfoo.so.3: cannot open "
	    "shared object file: No such file or directory)");
	free(cause);
	hint_dlopen("/p/x.so", "/p/x.so: wrong ELF class: ELFCLASS32", &cause);
	assert_string_equal(cause,
	    "/p/x.so: built for another architecture than this weftd's "
	    "(dlopen: /p/x.so: wrong ELF class: ELFCLASS32)");
	free(cause);
	hint_dlopen("/p/x.so",
	    "/p/x.so: cannot open shared object file: No such file or "
	    "directory",
	    &cause);
	assert_string_equal(cause,
	    "/p/x.so: not loadable here: built for another architecture? "
	    "(dlopen: /p/x.so: cannot open shared object file: No such file "
	    "or directory)");
	free(cause);
	hint_dlopen("/p/x.so", "/p/x.so: something new", &cause);
	assert_string_equal(cause, "/p/x.so: something new");
	free(cause);
}

WT_TEST(closest)
{
	static const char *const keys[] = { "workers", "user", "group",
		"shutdown_timeout", "plugin_dir", "fiber-stack" };
	char buf[128];

	assert_string_equal(hint_closest("wrokers", keys, 6), "workers");
	assert_string_equal(hint_closest("usr", keys, 6), "user");
	assert_string_equal(hint_closest("shutdown", keys, 6),
	    "shutdown_timeout");
	assert_string_equal(hint_closest("fiber_stak", keys, 6), "fiber-stack");
	assert_string_equal(hint_closest("PLUGIN-DIR", keys, 6), "plugin_dir");
	assert_null(hint_closest("listeners", keys, 6));
	assert_null(hint_closest("workers", keys, 6));
	assert_null(hint_closest("ab", keys, 6));
	assert_string_equal(hint_did_you_mean("gruop", keys, 6, buf,
				sizeof(buf)),
	    " (did you mean \"group\"?)");
	assert_string_equal(hint_did_you_mean("zzz", keys, 6, buf, sizeof(buf)),
	    "");
}

/* init failed: the settings it never read are not called unknown. */
WT_TEST(failed_init_not_blamed_for_unread)
{
	struct stanza st;

	stanza_init(&st, "init-fails", TEST_PLUGIN_DIR, "init-fails.so", 3);
	stanza_set(&st, "port", "80", CONF_T_INT, 10);
	stanza_set(&st, "database", "main", CONF_T_STR, 11);
	init_refused(&st,
	    CONF ":3: plugin \"init-fails\": cannot start: no database\n" CONF
		 ":10: plugin \"init-fails\": setting 'port': port 80 is "
		 "reserved");
	/* Silent: the report says it failed, and nothing else. */
	stanza_init(&st, "init-silent", TEST_PLUGIN_DIR, "init-silent.so", 2);
	stanza_set(&st, "extra", "x", CONF_T_STR, 3);
	stanza_set(&st, "colour", "blue", CONF_T_STR, 4);
	init_refused(&st,
	    CONF ":2: plugin \"init-silent\": init failed (Permission "
		 "denied)");
}

/* A setting close to one init asked for and did not find. */
WT_TEST(setting_did_you_mean)
{
	struct stanza st;

	stanza_init(&st, "init-silent", TEST_PLUGIN_DIR, "init-silent.so", 2);
	stanza_set(&st, "upstrem", "127.0.0.1:1", CONF_T_STR, 3);
	stanza_set(&st, "colour", "blue", CONF_T_STR, 4);
	init_refused(&st,
	    CONF ":2: plugin \"init-silent\": init failed (Permission "
		 "denied)\n" CONF
		 ":3: plugin \"init-silent\": unknown setting 'upstrem' (did "
		 "you mean 'upstream'?)");
	/* init succeeded: every unread one is reported. */
	stanza_init(&st, "init-silent", TEST_PLUGIN_DIR, "init-silent.so", 2);
	stanza_set(&st, "upstream", "127.0.0.1:1", CONF_T_STR, 3);
	stanza_set(&st, "timout", "5", CONF_T_INT, 4);
	stanza_set(&st, "colour", "blue", CONF_T_STR, 5);
	init_refused(&st,
	    CONF ":4: plugin \"init-silent\": unknown setting 'timout' (did "
		 "you mean 'timeout'?)\n" CONF
		 ":5: plugin \"init-silent\": unknown setting 'colour'");
}

int
main(int argc, char **argv)
{
	int rc;

	WT_TIMEOUT(60);
	if (setup() != 0)
		return 1;
	rc = wt_run_cases(argc, argv);
	teardown();
	return rc;
}
