/*
 * The plugin loader and the settings API: good plugins load and init
 * (the test plugin "good" and the four shipped ones), each deliberately
 * broken plugin is refused with its exact message, and settings errors
 * come out as "file:line: plugin NAME: message" lines.
 *
 * struct conf_plugin values are built by hand, as the config parser would
 * build them; nothing here needs a loop or a network.  This program links
 * the shared libweft, the copy the plugins link too.
 */
#include "plugin_util.h"

/*
 * The loader's dlopen calls land here first (the program's own symbol
 * wins over libc's).  With swap_from set, the next load first renames
 * that directory aside and swap_to into its place, as someone who can
 * rename an ancestor directory would between the loader's checks and its
 * dlopen.  A probe (RTLD_NOLOAD) loads nothing and does not trigger it.
 */
static char swap_from[256], swap_to[256], swap_aside[256];
static int swaps;

void *dlopen(const char *, int);

void *
dlopen(const char *file, int flags)
{
	static void *(*real)(const char *, int);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "dlopen");
	if (swap_from[0] != '\0' && (flags & RTLD_NOLOAD) == 0) {
		if (rename(swap_from, swap_aside) == 0 &&
		    rename(swap_to, swap_from) == 0)
			swaps++;
		swap_from[0] = '\0';
	}
	return real(file, flags);
}

/* ---- Good plugins ------------------------------------------------------- */

WT_TEST(good_defaults)
{
	struct stanza st;
	struct plugin *p;
	struct good_state *g;
	int fini = 0;

	stanza_init(&st, "good", TEST_PLUGIN_DIR, "good.so", 3);
	p = load_ok(&st, 0);
	assert_string_equal(p->p_desc->name, "good");
	assert_int_equal(p->p_desc->abi_major, WEFT_PLUGIN_ABI_MAJOR);
	g = p->p_state;
	assert_string_equal(g->g_greeting, "hello");
	assert_int_equal(g->g_count, 1);
	assert_int_equal(g->g_flag, 0);
	assert_true(g->g_ratio == 0.5);
	assert_string_equal(g->g_name, "good");
	g->g_fini_seen = &fini;
	plugin_unload(&p);
	assert_null(p);
	assert_int_equal(fini, 1);
}

/* libconfig gives typed values. */
WT_TEST(good_typed_settings)
{
	struct stanza st;
	struct plugin *p;
	struct good_state *g;

	stanza_init(&st, "good", TEST_PLUGIN_DIR, "good.so", 3);
	stanza_set(&st, "greeting", "hi there", CONF_T_STR, 4);
	stanza_set(&st, "count", "-42", CONF_T_INT, 5);
	stanza_set(&st, "flag", "true", CONF_T_BOOL, 6);
	stanza_set(&st, "ratio", "2.5", CONF_T_FLOAT, 7);
	p = load_ok(&st, 3);
	g = p->p_state;
	assert_string_equal(g->g_greeting, "hi there");
	assert_int_equal(g->g_count, -42);
	assert_int_equal(g->g_flag, 1);
	assert_true(g->g_ratio == 2.5);
	assert_int_equal(g->g_worker, 3);
	plugin_unload(&p);
}

/* INI gives every value as a string; the getters convert. */
WT_TEST(good_ini_strings_convert)
{
	struct stanza st;
	struct plugin *p;
	struct good_state *g;

	stanza_init(&st, "good", TEST_PLUGIN_DIR, "good.so", 3);
	stanza_set(&st, "greeting", "hi", CONF_T_STR, 4);
	stanza_set(&st, "count", "42", CONF_T_STR, 5);
	stanza_set(&st, "flag", "yes", CONF_T_STR, 6);
	stanza_set(&st, "ratio", "1e3", CONF_T_STR, 7);
	p = load_ok(&st, 0);
	g = p->p_state;
	assert_int_equal(g->g_count, 42);
	assert_int_equal(g->g_flag, 1);
	assert_true(g->g_ratio == 1000.0);
	plugin_unload(&p);
}

/* Two instances of one .so (RTLD_LOCAL, refcounted by the dynamic
 * linker) load and unload independently. */
WT_TEST(good_twice)
{
	struct stanza st;
	struct plugin *a, *b;

	stanza_init(&st, "good", TEST_PLUGIN_DIR, "good.so", 3);
	a = load_ok(&st, 0);
	b = load_ok(&st, 1);
	assert_ptr_not_equal(a->p_state, b->p_state);
	plugin_unload(&a);
	assert_int_equal(((struct good_state *)b->p_state)->g_worker, 1);
	plugin_unload(&b);
	plugin_unload(&b); /* NULL is fine */
}

WT_TEST(shipped_plugins_load)
{
	struct stanza st;
	struct plugin *p;

	stanza_init(&st, "echo", PLUGIN_BUILD_DIR, "echo.so", 1);
	p = load_ok(&st, 0);
	assert_string_equal(p->p_desc->name, "echo");
	assert_non_null(p->p_desc->client_connected);
	plugin_unload(&p);

	stanza_init(&st, "lines", PLUGIN_BUILD_DIR, "lines.so", 1);
	p = load_ok(&st, 0);
	assert_string_equal(p->p_desc->name, "lines");
	plugin_unload(&p);

	/* The descriptor says http_hello; '-' and '_' are the same. */
	stanza_init(&st, "http-hello", PLUGIN_BUILD_DIR, "http-hello.so", 1);
	stanza_set(&st, "body", "hi\n", CONF_T_STR, 2);
	p = load_ok(&st, 0);
	assert_string_equal(p->p_desc->name, "http_hello");
	plugin_unload(&p);
	stanza_init(&st, "http_hello", PLUGIN_BUILD_DIR, "http-hello.so", 1);
	p = load_ok(&st, 0);
	plugin_unload(&p);

	stanza_init(&st, "proxy", PLUGIN_BUILD_DIR, "proxy.so", 1);
	stanza_set(&st, "upstream", "127.0.0.1:7000", CONF_T_STR, 2);
	p = load_ok(&st, 0);
	assert_string_equal(p->p_desc->name, "proxy");
	plugin_unload(&p);
}

/* Shipped plugins export nothing but their descriptor. */
WT_TEST(shipped_export_only_descriptor)
{
	struct stanza st;
	struct plugin *p;

	stanza_init(&st, "echo", PLUGIN_BUILD_DIR, "echo.so", 1);
	p = load_ok(&st, 0);
	assert_non_null(dlsym(p->p_dl, "weft_plugin_desc"));
	assert_null(dlsym(p->p_dl, "echo_client"));
	plugin_unload(&p);
}

WT_TEST(proxy_upstream_forms)
{
	static const char *const good[] = {
		"127.0.0.1:7000",
		"[::1]:7000",
		"localhost:80",
		"unix:/run/weft/up.sock",
		"unix:relative.sock",
		"h:65535",
	};
	struct stanza st;
	struct plugin *p;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		stanza_init(&st, "proxy", PLUGIN_BUILD_DIR, "proxy.so", 1);
		stanza_set(&st, "upstream", good[i], CONF_T_STR, 2);
		p = load_ok(&st, 0);
		plugin_unload(&p);
	}
}

WT_TEST(proxy_without_upstream_fails)
{
	struct stanza st;

	stanza_init(&st, "proxy", PLUGIN_BUILD_DIR, "proxy.so", 12);
	init_refused(&st,
	    CONF ":12: plugin \"proxy\": setting 'upstream': "
		 "required (expected host:port, [v6addr]:port or unix:/path)");
}

WT_TEST(proxy_bad_upstream_fails)
{
	static const char *const bad[] = {
		"nocolon",
		"host:",
		"host:0",
		"host:65536",
		"host:80x",
		":80",
		"::1:80",
		"[::1]80",
		"[::1",
		"unix:",
		"host:-1",
	};
	struct stanza st;
	char want[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		stanza_init(&st, "proxy", PLUGIN_BUILD_DIR, "proxy.so", 12);
		stanza_set(&st, "upstream", bad[i], CONF_T_STR, 14);
		snprintf(want, sizeof(want),
		    CONF ":14: plugin \"proxy\": "
			 "setting 'upstream': bad address '%s' (expected "
			 "host:port, [v6addr]:port or unix:/path)",
		    bad[i]);
		init_refused(&st, want);
	}
}

/* ---- Refused plugins ---------------------------------------------------- */

WT_TEST(refuse_bad_abi_major)
{
	struct stanza st;

	stanza_init(&st, "bad-abi-major", TEST_PLUGIN_DIR, "bad-abi-major.so",
	    1);
	load_refused(&st,
	    msg("bad-abi-major.so", "ABI major 2, weftd expects 1"));
}

WT_TEST(refuse_newer_minor)
{
	struct stanza st;

	stanza_init(&st, "newer-minor", TEST_PLUGIN_DIR, "newer-minor.so", 1);
	load_refused(&st,
	    msg("newer-minor.so", "built for ABI 1.99, weftd has 1.4"));
}

/* ABI 1.2 (TLS), 1.3 (the stop hook) and 1.4 (metrics) are additions:
 * plugins built for 1.0 and 1.1 load, as do the shipped ones, built for
 * 1.4. */
WT_TEST(older_minors_load)
{
	static const char *const so[] = { "older-minor-0.so",
		"older-minor-1.so" };
	struct stanza st;
	struct plugin *p;
	unsigned i;

	assert_int_equal(WEFT_PLUGIN_ABI_MINOR, 4);
	assert_true(WEFT_PLUGIN_ABI_AT_LEAST(1, 4));
	assert_false(WEFT_PLUGIN_ABI_AT_LEAST(1, 5));
	for (i = 0; i < 2; i++) {
		stanza_init(&st, "older-minor", TEST_PLUGIN_DIR, so[i], 1);
		p = load_ok(&st, 0);
		assert_int_equal(p->p_desc->abi_minor, i);
		plugin_unload(&p);
	}
	stanza_init(&st, "proxy", PLUGIN_BUILD_DIR, "proxy.so", 1);
	stanza_set(&st, "upstream", "127.0.0.1:7000", CONF_T_STR, 2);
	p = load_ok(&st, 0);
	assert_int_equal(p->p_desc->abi_minor, 4);
	plugin_unload(&p);
}

WT_TEST(refuse_no_descriptor)
{
	struct stanza st;

	stanza_init(&st, "no-desc", TEST_PLUGIN_DIR, "no-desc.so", 1);
	load_refused(&st,
	    msg("no-desc.so",
		"no weft_plugin_desc symbol (not a weft plugin?)"));
}

WT_TEST(refuse_small_size)
{
	struct stanza st;
	char text[128];

	/* 80 on LP64 (x86-64, aarch64). */
	if (sizeof(void *) == 8)
		assert_int_equal(WEFT_PLUGIN_DESC_MIN_SIZE, 80);
	snprintf(text, sizeof(text),
	    "descriptor size 8, expected at least "
	    "%zu",
	    WEFT_PLUGIN_DESC_MIN_SIZE);
	stanza_init(&st, "small-size", TEST_PLUGIN_DIR, "small-size.so", 1);
	load_refused(&st, msg("small-size.so", text));
}

WT_TEST(refuse_bad_magic)
{
	struct stanza st;

	stanza_init(&st, "bad-magic", TEST_PLUGIN_DIR, "bad-magic.so", 1);
	load_refused(&st,
	    msg("bad-magic.so",
		"bad descriptor magic "
		"0xdeadbeef, expected 0x57454654 (not a weft plugin?)"));
}

/*
 * The config names an instance, the descriptor the plugin's type: they
 * need not match, and one file serves several instances, loaded once,
 * each with its own settings and state.
 */
WT_TEST(instances)
{
	struct stanza st, sa, sb;
	struct plugin *p, *a, *b;
	struct good_state *ga, *gb;

	stanza_init(&st, "wrong-name", TEST_PLUGIN_DIR, "wrong-name.so", 1);
	p = load_ok(&st, 0);
	assert_string_equal(p->p_desc->name, "foo");
	plugin_unload(&p);

	stanza_init(&sa, "api-a", TEST_PLUGIN_DIR, "good.so", 1);
	stanza_set(&sa, "greeting", "from a", CONF_T_STR, 2);
	stanza_init(&sb, "api-b", TEST_PLUGIN_DIR, "good.so", 5);
	stanza_set(&sb, "count", "7", CONF_T_INT, 6);
	a = load_ok(&sa, 0);
	b = load_ok(&sb, 0);
	assert_ptr_equal(a->p_dl, b->p_dl);
	assert_int_equal(a->p_fd, b->p_fd);
	assert_ptr_equal(a->p_desc, b->p_desc);
	ga = a->p_state;
	gb = b->p_state;
	assert_ptr_not_equal(ga, gb);
	assert_string_equal(ga->g_name, "api-a");
	assert_string_equal(gb->g_name, "api-b");
	assert_string_equal(ga->g_greeting, "from a");
	assert_string_equal(gb->g_greeting, "hello");
	assert_int_equal(ga->g_count, 1);
	assert_int_equal(gb->g_count, 7);
	/* The file stays loaded while an instance uses it. */
	plugin_unload(&a);
	assert_non_null(dlsym(b->p_dl, WEFT_PLUGIN_SYMBOL));
	assert_string_equal(b->p_desc->name, "good");
	plugin_unload(&b);
}

/* RTLD_NOW: the missing symbol is found at load, with dlerror's text. */
WT_TEST(refuse_unresolved)
{
	struct stanza st;
	struct plugin *p = NULL;
	char *cause = NULL;

	stanza_init(&st, "unresolved", TEST_PLUGIN_DIR, "unresolved.so", 1);
	assert_int_equal(plugin_load(&st.cp, &p, &cause), -1);
	assert_null(p);
	assert_non_null(cause);
	assert_non_null(strstr(cause, st.path));
	assert_non_null(strstr(cause, "undefined symbol"));
	assert_non_null(strstr(cause, "weft_test_no_such_function"));
	free(cause);
}

WT_TEST(refuse_missing_file)
{
	struct stanza st;
	struct plugin *p = NULL;
	char *cause = NULL;

	stanza_init(&st, "nope", TEST_PLUGIN_DIR, "nope.so", 1);
	assert_int_equal(plugin_load(&st.cp, &p, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, st.path));
	assert_non_null(strstr(cause, "No such file"));
	free(cause);
}

/* Copy src to dst (a fresh file, mode 0644); 0 or -1. */
static int
copy_file(const char *src, const char *dst)
{
	char buf[65536];
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	size_t n;
	int rc = 0;

	if (in == NULL || out == NULL)
		rc = -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in != NULL)
		fclose(in);
	if (out != NULL && fclose(out) != 0)
		rc = -1;
	return rc == 0 ? chmod(dst, 0644) : -1;
}

/* A plugin file or directory others can write is refused, by name. */
WT_TEST(refuse_writable_by_others)
{
	char dir[] = "/tmp/weft-test-plugin-XXXXXX", src[512], want[1024];
	struct stanza st;
	struct plugin *p;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(src, sizeof(src), "%s/good.so", TEST_PLUGIN_DIR);
	stanza_init(&st, "good", dir, "good.so", 1);
	assert_int_equal(copy_file(src, st.path), 0);

	p = load_ok(&st, 0);
	plugin_unload(&p);

	assert_int_equal(chmod(st.path, 0666), 0);
	snprintf(want, sizeof(want),
	    "%s: refusing to load: the file is "
	    "writable by others (mode 0666)",
	    st.path);
	load_refused(&st, want);
	assert_int_equal(chmod(st.path, 0664), 0);
	snprintf(want, sizeof(want),
	    "%s: refusing to load: the file is "
	    "writable by its group (mode 0664)",
	    st.path);
	load_refused(&st, want);

	assert_int_equal(chmod(st.path, 0644), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	snprintf(want, sizeof(want),
	    "%s: refusing to load: its directory "
	    "%s is writable by others (mode 0777)",
	    st.path, dir);
	load_refused(&st, want);

	assert_int_equal(chmod(dir, 0755), 0);
	p = load_ok(&st, 0);
	plugin_unload(&p);
	unlink(st.path);
	rmdir(dir);
}

/* Make path a directory with this mode (mkdir, then chmod past umask). */
static void
dir_make(const char *path, mode_t mode)
{
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Copy test plugin `from` (in TEST_PLUGIN_DIR) to dir/to. */
static void
plant(const char *from, const char *dir, const char *to)
{
	char src[512], dst[1024];

	snprintf(src, sizeof(src), "%s/%s", TEST_PLUGIN_DIR, from);
	snprintf(dst, sizeof(dst), "%s/%s", dir, to);
	assert_int_equal(copy_file(src, dst), 0);
}

/* Does path exist? */
static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/*
 * The directory holding a checked plugin is swapped for another between
 * the checks and the load (what the dlopen hook above does).  The bytes
 * that were checked are the ones loaded: good's init runs, and the
 * planted copy's constructor never does.
 */
WT_TEST(swap_between_check_and_load)
{
	char base[] = "/tmp/weft-test-swap-XXXXXX", marker[256], f[512];
	struct stanza st;
	struct plugin *p;

	assert_non_null(mkdtemp(base));
	assert_int_equal(chmod(base, 0755), 0);
	snprintf(swap_from, sizeof(swap_from), "%s/plugins", base);
	snprintf(swap_to, sizeof(swap_to), "%s/planted", base);
	snprintf(swap_aside, sizeof(swap_aside), "%s/aside", base);
	snprintf(marker, sizeof(marker), "%s/planted-code-ran", base);
	dir_make(swap_from, 0755);
	dir_make(swap_to, 0755);
	plant("good.so", swap_from, "good.so");
	plant("marker.so", swap_to, "good.so");
	assert_int_equal(setenv("WEFT_TEST_MARKER", marker, 1), 0);
	stanza_init(&st, "good", swap_from, "good.so", 1);

	swaps = 0;
	p = load_ok(&st, 0);
	assert_int_equal(swaps, 1);
	assert_false(exists(marker));
	assert_non_null(p->p_desc->init);
	assert_int_equal(((struct good_state *)p->p_state)->g_count, 1);
	plugin_unload(&p);

	unsetenv("WEFT_TEST_MARKER");
	snprintf(f, sizeof(f), "%s/good.so", swap_aside);
	unlink(f);
	snprintf(f, sizeof(f), "%s/plugins/good.so", base);
	unlink(f);
	snprintf(f, sizeof(f), "%s/plugins", base);
	rmdir(f);
	rmdir(swap_aside);
	rmdir(base);
}

/*
 * A plugin rewritten in place (cp truncates and writes the same inode)
 * while loaded: the loaded one keeps the bytes it was loaded from, and
 * loading it again gets the new bytes, not the library already loaded
 * under that name.
 */
WT_TEST(rewritten_while_loaded)
{
	char dir[] = "/tmp/weft-test-rewrite-XXXXXX", marker[256];
	struct stanza st;
	struct plugin *a, *b = NULL;
	char *cause = NULL;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(marker, sizeof(marker), "%s/new-code-ran", dir);
	plant("good.so", dir, "good.so");
	stanza_init(&st, "good", dir, "good.so", 1);
	a = load_ok(&st, 3);

	plant("marker.so", dir, "good.so");
	assert_int_equal(setenv("WEFT_TEST_MARKER", marker, 1), 0);
	if (plugin_load(&st.cp, &b, &cause) != 0)
		fail_msg("load %s again: %s", st.path, cause);
	assert_true(exists(marker));
	assert_null(b->p_desc->init);
	assert_non_null(a->p_desc->init);
	assert_string_equal(a->p_desc->name, "good");
	assert_int_equal(((struct good_state *)a->p_state)->g_worker, 3);
	plugin_unload(&b);
	plugin_unload(&a);

	unsetenv("WEFT_TEST_MARKER");
	unlink(marker);
	unlink(st.path);
	rmdir(dir);
}

/* Several plugins loaded at once each get their own code (the copies
 * are loaded under names that could repeat). */
WT_TEST(distinct_plugins_loaded_together)
{
	struct stanza s1, s2, s3;
	struct plugin *a, *b, *c;

	stanza_init(&s1, "good", TEST_PLUGIN_DIR, "good.so", 1);
	stanza_init(&s2, "echo", PLUGIN_BUILD_DIR, "echo.so", 1);
	stanza_init(&s3, "lines", PLUGIN_BUILD_DIR, "lines.so", 1);
	a = load_ok(&s1, 0);
	b = load_ok(&s2, 0);
	plugin_unload(&a);
	c = load_ok(&s3, 0);
	a = load_ok(&s1, 0);
	assert_string_equal(a->p_desc->name, "good");
	assert_string_equal(b->p_desc->name, "echo");
	assert_string_equal(c->p_desc->name, "lines");
	plugin_unload(&b);
	plugin_unload(&c);
	plugin_unload(&a);
}

/*
 * Every directory on the way: owned by root or this uid, and writable by
 * others only if sticky.  Through symlinks, each directory walked is
 * checked, the one the file really is in as strictly as the one it is
 * named in.
 */
WT_TEST(refuse_unsafe_path)
{
	char base[] = "/tmp/weft-test-path-XXXXXX", mid[256], plug[384];
	char real[256], named[256], link[512], dlink[300], want[2048];
	struct stanza st;
	struct plugin *p;

	assert_non_null(mkdtemp(base));
	assert_int_equal(chmod(base, 0755), 0);
	snprintf(mid, sizeof(mid), "%s/mid", base);
	snprintf(plug, sizeof(plug), "%s/plugins", mid);
	dir_make(mid, 0775);
	dir_make(plug, 0755);
	plant("good.so", plug, "good.so");
	stanza_init(&st, "good", plug, "good.so", 1);
	snprintf(want, sizeof(want),
	    "%s: refusing to load: directory %s on "
	    "its path is writable by its group and not sticky (mode 0775)",
	    st.path, mid);
	load_refused(&st, want);
	assert_int_equal(chmod(mid, 01777), 0);
	p = load_ok(&st, 0);
	plugin_unload(&p);
	assert_int_equal(chmod(mid, 0755), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(mid, 4242, 4242), 0);
		snprintf(want, sizeof(want),
		    "%s: refusing to load: directory "
		    "%s on its path is owned by uid 4242, not root or uid 0 "
		    "(this weftd)",
		    st.path, mid);
		load_refused(&st, want);
		assert_int_equal(chown(mid, 0, 0), 0);
	}

	/* named/link.so -> ../real/good.so, and named/dir -> real */
	snprintf(real, sizeof(real), "%s/real", base);
	snprintf(named, sizeof(named), "%s/named", base);
	dir_make(real, 0755);
	dir_make(named, 0755);
	plant("good.so", real, "good.so");
	snprintf(link, sizeof(link), "%s/link.so", named);
	assert_int_equal(symlink("../real/good.so", link), 0);
	stanza_init(&st, "good", named, "link.so", 1);
	p = load_ok(&st, 0);
	plugin_unload(&p);
	assert_int_equal(chmod(real, 0777), 0);
	snprintf(want, sizeof(want),
	    "%s: refusing to load: its directory %s "
	    "is writable by others (mode 0777)",
	    st.path, real);
	load_refused(&st, want);
	snprintf(dlink, sizeof(dlink), "%s/dir", named);
	assert_int_equal(symlink(real, dlink), 0);
	stanza_init(&st, "good", dlink, "good.so", 1);
	snprintf(want, sizeof(want),
	    "%s: refusing to load: its directory %s "
	    "is writable by others (mode 0777)",
	    st.path, real);
	load_refused(&st, want);
	assert_int_equal(chmod(real, 0755), 0);
	p = load_ok(&st, 0);
	plugin_unload(&p);

	/* Not a regular file. */
	stanza_init(&st, "good", base, "real", 1);
	snprintf(want, sizeof(want), "%s/real: not a regular file", base);
	load_refused(&st, want);

	unlink(dlink);
	snprintf(link, sizeof(link), "%s/link.so", named);
	unlink(link);
	rmdir(named);
	snprintf(link, sizeof(link), "%s/good.so", real);
	unlink(link);
	rmdir(real);
	snprintf(link, sizeof(link), "%s/good.so", plug);
	unlink(link);
	rmdir(plug);
	rmdir(mid);
	rmdir(base);
}

WT_TEST(init_fails_with_messages)
{
	struct stanza st;

	stanza_init(&st, "init-fails", TEST_PLUGIN_DIR, "init-fails.so", 3);
	stanza_set(&st, "port", "80", CONF_T_INT, 10);
	/* Ordered by line: the stanza's message first. */
	init_refused(&st,
	    CONF ":3: plugin \"init-fails\": cannot start: no database\n" CONF
		 ":10: plugin \"init-fails\": setting 'port': port 80 is "
		 "reserved");
}

/* ---- Settings errors ---------------------------------------------------- */

WT_TEST(settings_type_errors_and_unknown)
{
	struct stanza st;

	stanza_init(&st, "good", TEST_PLUGIN_DIR, "good.so", 3);
	stanza_set(&st, "typo", "1", CONF_T_INT, 9);
	stanza_set(&st, "count", "abc", CONF_T_STR, 5);
	stanza_set(&st, "flag", "maybe", CONF_T_STR, 6);
	stanza_set(&st, "ratio", "fast", CONF_T_STR, 7);
	stanza_set(&st, "greeting", "ok", CONF_T_STR, 4);
	init_refused(&st,
	    CONF ":5: plugin \"good\": setting 'count': expected an integer, "
		 "got 'abc'\n" CONF
		 ":6: plugin \"good\": setting 'flag': expected a boolean "
		 "(true/false, yes/no, on/off, 1/0), got 'maybe'\n" CONF
		 ":7: plugin \"good\": setting 'ratio': expected a number, got "
		 "'fast'\n" CONF ":9: plugin \"good\": unknown setting 'typo'");
}

WT_TEST(settings_unknown_on_plugin_without_init)
{
	struct stanza st;

	stanza_init(&st, "echo", PLUGIN_BUILD_DIR, "echo.so", 20);
	stanza_set(&st, "limit", "10", CONF_T_INT, 21);
	init_refused(&st, CONF ":21: plugin \"echo\": unknown setting 'limit'");
	stanza_init(&st, "http-hello", PLUGIN_BUILD_DIR, "http-hello.so", 20);
	stanza_set(&st, "bodyy", "x", CONF_T_STR, 22);
	init_refused(&st,
	    CONF ":22: plugin \"http-hello\": unknown setting 'bodyy' "
		 "(did you mean 'body'?)");
}

WT_TEST(settings_int_range)
{
	struct stanza st;

	stanza_init(&st, "good", TEST_PLUGIN_DIR, "good.so", 3);
	stanza_set(&st, "count", "99999999999999999999", CONF_T_INT, 5);
	init_refused(&st,
	    CONF ":5: plugin \"good\": setting 'count': integer "
		 "out of range: '99999999999999999999'");
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
