/*
 * weftd's configuration: both syntaxes (libconfig .conf, INI .ini) into
 * one model.  The shipped files load and dump byte-identically; defaults
 * and address forms come out as documented; and every kind of mistake is
 * reported as the exact "file:line: message" text, all of them at once.
 *
 * Test files are written to a private mkdtemp directory.  An expected
 * error text is written with "F:" standing for "<that file's path>:".
 */
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

static char *
path_of(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
	return p;
}

/* Write a test file into tmpdir and return its path (caller frees). */
static char *
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
static char *
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

static struct conf *
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

static struct conf *
load_text_ok(const char *name, const char *text)
{
	char *p = put(name, text);
	struct conf *c = load_ok(p);

	free(p);
	return c;
}

/* Loading name (holding text) must fail with exactly expect. */
static void
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

static char *
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

/* ---- The shipped files -------------------------------------------------- */

WT_TEST(shipped_conf_loads)
{
	struct conf *c = load_ok(SRCDIR "/conf/weftd.conf");
	const struct conf_plugin *p;

	assert_int_equal(c->workers, 2);
	assert_string_equal(c->user, "weft");
	assert_int_equal(c->nplugins, 4);
	assert_int_equal(c->nlisteners, 5);
	assert_non_null(p = config_plugin(c, "http_hello"));
	assert_string_equal(p->name, "http-hello");
	assert_string_equal(p->abspath, PLUGINDIR "/http-hello.so");
	assert_int_equal(p->nsettings, 1);
	assert_string_equal(p->settings[0].value, "Hello from weft!\n");
	assert_int_equal(p->settings[0].type, CONF_T_STR);
	assert_int_equal(c->listeners[1].kind, CONF_LISTEN_UNIX);
	assert_int_equal(c->listeners[1].mode, 0660);
	config_free(c);
}

WT_TEST(shipped_ini_loads)
{
	struct conf *c = load_ok(SRCDIR "/conf/weftd.ini");

	assert_int_equal(c->workers, 2);
	assert_int_equal(c->nplugins, 4);
	assert_int_equal(c->nlisteners, 5);
	assert_string_equal(c->listeners[3].name, "http");
	assert_int_equal(c->listeners[3].reuse_port, 1);
	assert_int_equal(c->listeners[3].backlog, 1024);
	assert_int_equal(c->listeners[3].max_connections, 10000);
	config_free(c);
}

WT_TEST(shipped_dumps_identical)
{
	struct conf *a = load_ok(SRCDIR "/conf/weftd.conf");
	struct conf *b = load_ok(SRCDIR "/conf/weftd.ini");
	char *da = dump(a), *db = dump(b);

	assert_string_equal(da, db);
	/* Spot checks of the normalised form. */
	assert_non_null(strstr(da, "\nmode = 0660\n"));
	assert_non_null(strstr(da, "\ntcp = *:8080\n"));
	assert_non_null(strstr(da, "\ntcp = [::1]:7001\n"));
	assert_non_null(strstr(da, "\nbody = \"Hello from weft!\\n\"\n"));
	free(da);
	free(db);
	config_free(a);
	config_free(b);
}

WT_TEST(dev_conf_loads)
{
	struct conf *c = load_ok(SRCDIR "/conf/weftd-dev.conf");
	char *cwd = getcwd(NULL, 0), *want;

	/* plugin_dir is relative to the directory weftd runs in. */
	assert_true(asprintf(&want, "%s/_build/plugins/.libs/echo.so", cwd) >
	    0);
	assert_string_equal(config_plugin(c, "echo")->abspath, want);
	assert_int_equal(c->nlisteners, 4);
	assert_string_equal(c->listeners[3].path, "_build/weftd-echo.sock");
	free(want);
	free(cwd);
	config_free(c);
}

/* ---- Defaults, addresses, paths ----------------------------------------- */

static void
check_defaults(struct conf *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	const struct conf_listener *l = &c->listeners[0];

	assert_int_equal(c->workers, n < 1 ? 1 : n > 1024 ? 1024 : n);
	assert_null(c->user);
	assert_null(c->group);
	assert_int_equal(c->log_level, WEFT_LOG_INFO);
	assert_true(c->shutdown_timeout == 30.0);
	assert_true(c->worker_timeout == 30.0);
	assert_int_equal(c->fiber_stack, 65536);
	assert_string_equal(c->plugin_dir, PLUGINDIR);
	assert_int_equal(l->kind, CONF_LISTEN_TCP);
	assert_string_equal(l->host, "127.0.0.1");
	assert_int_equal(l->port, 7000);
	assert_int_equal(l->limit, 65536);
	assert_int_equal(l->backlog, 511);
	assert_int_equal(l->mode, -1);
	assert_null(l->owner);
	assert_null(l->group);
	assert_true(l->uid == (uid_t)-1);
	assert_true(l->gid == (gid_t)-1);
	assert_int_equal(l->reuse_port, 0);
	assert_int_equal(l->max_connections, 0);
	assert_string_equal(l->plugin, "echo");
}

WT_TEST(defaults)
{
	struct conf *a, *b;
	char *da, *db;

	a = load_text_ok("def.conf",
	    CONF_PLUGIN
	    "listen = ( { tcp = \"127.0.0.1:7000\"; plugin = \"echo\"; } );\n");
	b = load_text_ok("def.ini",
	    INI_PLUGIN "[listen.x]\ntcp = 127.0.0.1:7000\nplugin = echo\n");
	check_defaults(a);
	check_defaults(b);
	assert_string_equal(a->listeners[0].name, "");
	assert_string_equal(b->listeners[0].name, "x");
	/* Unnamed (libconfig) and named listeners differ only in name. */
	da = dump(a);
	db = dump(b);
	assert_non_null(strstr(da, "\n[listen #1]\ntcp = 127.0.0.1:7000\n"));
	assert_non_null(strstr(db, "\n[listen.x]\ntcp = 127.0.0.1:7000\n"));
	assert_string_equal(strstr(da, "\ntcp"), strstr(db, "\ntcp"));
	free(da);
	free(db);
	config_free(a);
	config_free(b);
}

WT_TEST(tcp_address_forms)
{
	static const char ini[] = INI_PLUGIN
	    "[listen.v6]\ntcp = [::1]:7000\nplugin = echo\n"
	    "[listen.star]\ntcp = *:7001\nplugin = echo\n"
	    "[listen.colon]\ntcp = :7002\nplugin = echo\n"
	    "[listen.name]\ntcp = localhost:7003\nplugin = echo\n"
	    "[listen.e1]\ntcp = 127.0.0.1:0\nplugin = echo\n"
	    "[listen.e2]\ntcp = 127.0.0.1:0\nplugin = echo\n"
	    "[listen.any6]\ntcp = [::]:7004\nplugin = echo\n";
	struct conf *c = load_text_ok("addr.ini", ini);
	char *d;

	assert_string_equal(c->listeners[0].host, "::1");
	assert_int_equal(c->listeners[0].port, 7000);
	assert_string_equal(c->listeners[0].address, "[::1]:7000");
	assert_string_equal(c->listeners[1].host, "");
	assert_int_equal(c->listeners[1].port, 7001);
	assert_string_equal(c->listeners[2].host, "");
	assert_int_equal(c->listeners[2].port, 7002);
	assert_string_equal(c->listeners[3].host, "localhost");
	/* Port 0 (ephemeral) twice is not a duplicate. */
	assert_int_equal(c->listeners[4].port, 0);
	assert_int_equal(c->listeners[5].port, 0);
	assert_string_equal(c->listeners[6].host, "::");
	d = dump(c);
	/* "*:port" and ":port" normalise alike. */
	assert_non_null(strstr(d, "[listen.colon]\ntcp = *:7002\n"));
	assert_non_null(strstr(d, "[listen.any6]\ntcp = [::]:7004\n"));
	free(d);
	config_free(c);
}

WT_TEST(plugin_paths)
{
	struct conf *c;
	char *cwd = getcwd(NULL, 0), *want;

	c = load_text_ok("paths.conf",
	    "plugin_dir = \"/opt/weft//plugins/\";\n"
	    "plugins = {\n"
	    "  a = { path = \"a.so\"; };\n"
	    "  b = { path = \"/abs/./b.so\"; };\n"
	    "  c = { path = \"./sub/c.so\"; };\n"
	    "};\n"
	    "listen = ( { unix = \"rel.sock\"; plugin = \"a\"; } );\n");
	assert_string_equal(c->plugin_dir, "/opt/weft/plugins");
	assert_string_equal(config_plugin(c, "a")->abspath,
	    "/opt/weft/plugins/a.so");
	assert_string_equal(config_plugin(c, "b")->abspath, "/abs/b.so");
	assert_string_equal(config_plugin(c, "c")->abspath,
	    "/opt/weft/plugins/sub/c.so");
	assert_string_equal(config_plugin(c, "a")->path, "a.so");
	/* UNIX paths stay as written: relative to where weftd binds. */
	assert_string_equal(c->listeners[0].path, "rel.sock");
	config_free(c);

	c = load_text_ok("relpd.ini",
	    "plugin_dir = build/.libs\n"
	    "[plugins.a]\npath = a.so\n"
	    "[listen.a]\nunix = a.sock\nplugin = a\n");
	assert_true(asprintf(&want, "%s/build/.libs/a.so", cwd) > 0);
	assert_string_equal(config_plugin(c, "a")->abspath, want);
	free(want);
	free(cwd);
	config_free(c);
}

WT_TEST(values_and_types)
{
	struct conf *a, *b;
	const struct conf_plugin *p;

	a = load_text_ok("types.conf",
	    "workers = 3; log_level = \"debug\"; shutdown_timeout = 2.5;\n"
	    "worker_timeout = 10; fiber_stack = 16384;\n"
	    "plugins = { x-y = { path = \"/p/x.so\"; settings = {\n"
	    "  s = \"hi\"; i = 42; b = true; f = 0.1; }; }; };\n"
	    "listen = ( { unix = \"/tmp/a.sock\"; mode = 384; plugin = "
	    "\"x_y\"; limit = 1073741824; backlog = 1; } );\n");
	b = load_text_ok("types.ini",
	    "workers = \"3\"\nlog_level = debug\nshutdown_timeout = 2.5\n"
	    "worker_timeout = 10\nfiber_stack = 16384\n"
	    "[plugins.x-y]\npath = /p/x.so\n"
	    "[plugins.x-y.settings]\ns = \"hi\"\ni = 42\nb = true\nf = 0.1\n"
	    "[listen.1]\nunix = /tmp/a.sock\nmode = 600\nplugin = x_y\n"
	    "limit = 1073741824\nbacklog = 1 ; a comment\n");
	assert_int_equal(a->workers, 3);
	assert_int_equal(b->workers, 3);
	assert_int_equal(a->log_level, WEFT_LOG_DEBUG);
	assert_true(a->shutdown_timeout == 2.5 && b->shutdown_timeout == 2.5);
	assert_int_equal(a->listeners[0].mode, 0600);
	assert_int_equal(b->listeners[0].mode, 0600);
	assert_int_equal(b->listeners[0].backlog, 1);
	p = config_plugin(a, "x-y");
	assert_int_equal(p->settings[1].type, CONF_T_INT);
	assert_string_equal(p->settings[1].value, "42");
	assert_int_equal(p->settings[2].type, CONF_T_BOOL);
	assert_string_equal(p->settings[2].value, "true");
	assert_int_equal(p->settings[3].type, CONF_T_FLOAT);
	assert_string_equal(p->settings[3].value, "0.1");
	assert_int_equal(p->settings[3].line, 4);
	p = config_plugin(b, "x-y");
	assert_int_equal(p->settings[1].type, CONF_T_STR);
	assert_string_equal(p->settings[0].value, "hi");
	assert_int_equal(p->settings[0].line, 9);
	/* The listener's name in INI is the section suffix, digits too. */
	assert_string_equal(b->listeners[0].name, "1");
	config_free(a);
	config_free(b);
}

WT_TEST(dump_same_from_both)
{
	struct conf *a, *b;
	char *da, *db;

	a = load_text_ok("same.conf",
	    "workers = 4; user = \"u\"; log_level = \"notice\";\n"
	    "plugins = { z = { path = \"/z.so\"; settings = { n = 7; "
	    "t = \"a b\"; on = false; }; };\n"
	    "  a = { path = \"/a.so\"; }; };\n"
	    "listen = ( { name = \"l\"; tcp = \"[::1]:1\"; plugin = \"z\"; "
	    "reuse_port = true; },\n"
	    "  { name = \"m\"; unix = \"/s\"; mode = \"0600\"; plugin = "
	    "\"a\"; max_connections = 5; } );\n");
	b = load_text_ok("same.ini",
	    "log_level = notice\nuser = u\nworkers = 4\n"
	    "[plugins.z.settings]\nt = a b\nn = 7\non = false\n"
	    "[plugins.a]\npath = /a.so\n[plugins.z]\npath = /z.so\n"
	    "[listen.l]\nplugin = z\ntcp = [::1]:1\nreuse_port = yes\n"
	    "[listen.m]\nunix = /s\nmode = 0600\nplugin = a\n"
	    "max_connections = 5\n");
	da = dump(a);
	db = dump(b);
	assert_string_equal(da, db);
	/* Plugins sorted by name, settings by key. */
	assert_true(strstr(da, "[plugins.a]") < strstr(da, "[plugins.z]"));
	assert_non_null(strstr(da,
	    "[plugins.z.settings]\nn = 7\non = false\n"
	    "t = a b\n"));
	free(da);
	free(db);
	config_free(a);
	config_free(b);
}

/* ---- UNIX socket owner and group ----------------------------------------- */

WT_TEST(unix_owner_group)
{
	struct conf *a, *b;
	char *da, *db;

	/* Names are looked up when the file is read; ids are taken as they
	 * are, even without a name (4242), as chown(1) does.  root exists
	 * everywhere, as user and group 0. */
	a = load_text_ok("own.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { name = \"a\"; unix = \"/a.sock\"; owner = \"root\"; "
	    "group = 4242; mode = \"0660\"; plugin = \"echo\"; },\n"
	    "  { name = \"b\"; unix = \"/b.sock\"; group = \"root\"; "
	    "plugin = \"echo\"; } );\n");
	b = load_text_ok("own.ini",
	    INI_PLUGIN
	    "[listen.a]\nunix = /a.sock\nowner = root\ngroup = 4242\n"
	    "mode = 0660\nplugin = echo\n"
	    "[listen.b]\nunix = /b.sock\ngroup = root\nplugin = echo\n");
	assert_string_equal(a->listeners[0].owner, "root");
	assert_true(a->listeners[0].uid == 0);
	assert_string_equal(a->listeners[0].group, "4242");
	assert_true(a->listeners[0].gid == 4242);
	assert_null(a->listeners[1].owner);
	assert_true(a->listeners[1].uid == (uid_t)-1);
	assert_true(a->listeners[1].gid == 0);
	assert_true(b->listeners[0].uid == 0 && b->listeners[0].gid == 4242);
	assert_true(b->listeners[1].uid == (uid_t)-1);
	da = dump(a);
	db = dump(b);
	assert_string_equal(da, db);
	assert_non_null(strstr(da,
	    "[listen.a]\nunix = /a.sock\nmode = 0660\n"
	    "owner = root\ngroup = 4242\nplugin = echo\n"));
	assert_non_null(strstr(da,
	    "[listen.b]\nunix = /b.sock\nmode = (none)\n"
	    "owner = (none)\ngroup = root\nplugin = echo\n"));
	/* A TCP listener has no file to own: nothing is dumped for it. */
	free(da);
	free(db);
	config_free(a);
	config_free(b);
}

WT_TEST(err_owner_group)
{
	load_fails("own-e.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { unix = \"/a\"; owner = \"no-such-user-weft\"; plugin = \"echo\";"
	    " },\n"
	    "  { unix = \"/b\"; group = \"no-such-group-weft\"; "
	    "plugin = \"echo\"; },\n"
	    "  { tcp = \":1\"; owner = \"root\";\n"
	    "    group = \"root\"; plugin = \"echo\"; },\n"
	    "  { unix = \"/c\"; owner = -1; group = 4294967295L; "
	    "plugin = \"echo\"; },\n"
	    "  { unix = \"/d\"; owner = true; group = \"\"; plugin = \"echo\"; }"
	    " );\n",
	    "F:3: owner: unknown user \"no-such-user-weft\"\n"
	    "F:4: group: unknown group \"no-such-group-weft\"\n"
	    "F:5: listener #3: owner is only for unix listeners\n"
	    "F:6: listener #3: group is only for unix listeners\n"
	    "F:7: owner: -1 is out of range 0..4294967294\n"
	    "F:7: group: 4294967295 is out of range 0..4294967294\n"
	    "F:8: owner: expected a user name or id\n"
	    "F:8: group: must not be empty");
	load_fails("own-e.ini",
	    INI_PLUGIN "[listen.a]\nunix = /a\nowner = root\nowner = 0\n"
		       "group = no-such-group-weft\nplugin = echo\n"
		       "[listen.t]\ntcp = :1\ngroup = 0\nplugin = echo\n",
	    "F:6: owner: given twice (first at line 5)\n"
	    "F:7: group: unknown group \"no-such-group-weft\"\n"
	    "F:11: listener \"t\": group is only for unix listeners");
}

/* ---- Errors: each in both syntaxes where it makes sense ----------------- */

WT_TEST(err_unknown_top_key)
{
	load_fails("e1.conf", "workers = 2;\nwrokers = 3;\n" CONF_PLUGIN,
	    "F:2: unknown key \"wrokers\"");
	load_fails("e1.ini", "wrokers = 3\n" INI_PLUGIN,
	    "F:1: unknown key \"wrokers\"");
}

WT_TEST(err_unknown_listener_key)
{
	load_fails("e2.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { name = \"a\"; tcp = \"127.0.0.1:1\"; plugin = \"echo\";\n"
	    "    lmit = 5; } );\n",
	    "F:4: unknown key \"lmit\" in listener \"a\"");
	load_fails("e2.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:1\n"
		       "plugin = echo\nlmit = 5\n",
	    "F:6: unknown key \"lmit\" in listener \"a\"");
}

WT_TEST(err_unknown_plugin_key)
{
	load_fails("e3.conf",
	    "plugins = {\n  echo = { path = \"/e.so\"; pth = 1; };\n};\n",
	    "F:2: unknown key \"pth\" in plugin \"echo\"");
	load_fails("e3.ini", "[plugins.echo]\npath = /e.so\npth = 1\n",
	    "F:3: unknown key \"pth\" in plugin \"echo\"");
}

WT_TEST(err_wrong_type)
{
	load_fails("e4.conf", "workers = \"x\";\n",
	    "F:1: workers: expected an integer");
	load_fails("e4.ini", "\nworkers = x\n",
	    "F:2: workers: expected an integer");
	load_fails("e4b.conf",
	    "user = 5;\nfiber_stack = 1.5;\n"
	    "shutdown_timeout = \"soon\";\n" CONF_PLUGIN
	    "listen = ( { tcp = 7; unix = \"/x\"; plugin = \"echo\"; "
	    "reuse_port = \"yes\"; } );\n",
	    "F:1: user: expected a string\n"
	    "F:2: fiber_stack: expected an integer\n"
	    "F:3: shutdown_timeout: expected a number\n"
	    "F:5: tcp: expected a string\n"
	    "F:5: reuse_port: expected a boolean (true or false)\n"
	    "F:5: listener #1: has both tcp and unix (one address per "
	    "listener)");
	load_fails("e4b.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:9\n"
		       "plugin = echo\nreuse_port = maybe\n",
	    "F:6: reuse_port: expected a boolean (true or false)");
}

WT_TEST(err_ranges)
{
	load_fails("r.conf",
	    "workers = 0;\nfiber_stack = 1024;\n"
	    "worker_timeout = 0;\n" CONF_PLUGIN
	    "listen = ( { tcp = \"127.0.0.1:1\"; plugin = \"echo\"; "
	    "limit = 0; backlog = 65536; max_connections = -1; } );\n",
	    "F:1: workers: 0 is out of range 1..1024\n"
	    "F:2: fiber_stack: 1024 is out of range 16384..67108864\n"
	    "F:3: worker_timeout: 0 is out of range: must be >= 1 and "
	    "<= 86400\n"
	    "F:5: limit: 0 is out of range 1..1073741824\n"
	    "F:5: backlog: 65536 is out of range 1..65535\n"
	    "F:5: max_connections: -1 is out of range 0..2147483647");
	load_fails("r.ini", "workers = 1025\nshutdown_timeout = -1\n",
	    "F:1: workers: 1025 is out of range 1..1024\n"
	    "F:2: shutdown_timeout: -1 is out of range: must be > 0 and "
	    "<= 86400");
}

/*
 * A worker_timeout shorter than the heartbeat can show is an error in
 * both syntaxes, naming the minimum: accepted, it had every worker killed
 * by SIGABRT as soon as it was ready, forever.
 */
WT_TEST(err_worker_timeout_min)
{
	load_fails("wt.conf",
	    "\nworker_timeout = 0.005;\n" CONF_PLUGIN
	    "listen = ( { tcp = \"127.0.0.1:1\"; plugin = \"echo\"; } );\n",
	    "F:2: worker_timeout: 0.005 is out of range: must be >= 1 and "
	    "<= 86400");
	load_fails("wt.ini", "workers = 1\nworker_timeout = 0.5\n",
	    "F:2: worker_timeout: 0.5 is out of range: must be >= 1 and "
	    "<= 86400");
	load_fails("wt2.ini", "worker_timeout = 86401\n",
	    "F:1: worker_timeout: 86401 is out of range: must be >= 1 and "
	    "<= 86400");
}

WT_TEST(err_address_no_port)
{
	load_fails("a1.conf",
	    CONF_PLUGIN
	    "listen = ( { tcp = \"127.0.0.1\"; plugin = \"echo\"; } );\n",
	    "F:2: tcp: \"127.0.0.1\": expected host:port");
	load_fails("a1.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:\nplugin = echo\n",
	    "F:4: tcp: \"127.0.0.1:\": missing port");
}

WT_TEST(err_address_port_range)
{
	load_fails("a2.conf",
	    CONF_PLUGIN
	    "listen = ( { tcp = \"127.0.0.1:70000\"; plugin = \"echo\"; } );\n",
	    "F:2: tcp: \"127.0.0.1:70000\": port 70000 is out of range "
	    "0..65535");
	load_fails("a2.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:http\nplugin = echo\n",
	    "F:4: tcp: \"127.0.0.1:http\": bad port \"http\"");
}

WT_TEST(err_address_v6)
{
	load_fails("a3.conf",
	    CONF_PLUGIN "listen = ( { tcp = \"[::1\"; plugin = \"echo\"; },\n"
			"  { tcp = \"::1:80\"; plugin = \"echo\"; },\n"
			"  { tcp = \"[::g]:80\"; plugin = \"echo\"; },\n"
			"  { tcp = \"[::1]80\"; plugin = \"echo\"; } );\n",
	    "F:2: tcp: \"[::1\": missing ']'\n"
	    "F:3: tcp: \"::1:80\": an IPv6 address needs brackets: "
	    "[address]:port\n"
	    "F:4: tcp: \"[::g]:80\": bad IPv6 address \"::g\"\n"
	    "F:5: tcp: \"[::1]80\": expected [address]:port");
	load_fails("a3.ini",
	    INI_PLUGIN "[listen.a]\ntcp = [::1\nplugin = echo\n"
		       "[listen.b]\ntcp = 300.1.1.1:80\nplugin = echo\n",
	    "F:4: tcp: \"[::1\": missing ']'\n"
	    "F:7: tcp: \"300.1.1.1:80\": bad IPv4 address \"300.1.1.1\"");
}

WT_TEST(err_duplicate_tcp)
{
	load_fails("d1.conf",
	    CONF_PLUGIN "listen = (\n"
			"  { name = \"a\"; tcp = \"127.0.0.1:7000\";\n"
			"    plugin = \"echo\"; },\n"
			"  { name = \"b\"; tcp = \"127.0.0.1:7000\";\n"
			"    plugin = \"echo\"; },\n"
			"  { tcp = \":7001\"; plugin = \"echo\"; },\n"
			"  { tcp = \"*:7001\"; plugin = \"echo\"; } );\n",
	    "F:5: listener \"b\": tcp 127.0.0.1:7000 already used by "
	    "listener \"a\" at line 3\n"
	    "F:8: listener #4: tcp *:7001 already used by listener #3 at "
	    "line 7");
	load_fails("d1.ini",
	    INI_PLUGIN "[listen.a]\ntcp = [::1]:7000\nplugin = echo\n"
		       "[listen.b]\ntcp = [::1]:7000\nplugin = echo\n",
	    "F:7: listener \"b\": tcp [::1]:7000 already used by "
	    "listener \"a\" at line 4");
}

WT_TEST(err_duplicate_unix)
{
	load_fails("d2.conf",
	    CONF_PLUGIN "listen = (\n"
			"  { unix = \"/run/a.sock\"; plugin = \"echo\"; },\n"
			"  { unix = \"/run/a.sock\"; plugin = \"echo\"; } );\n",
	    "F:4: listener #2: unix /run/a.sock already used by listener #1 "
	    "at line 3");
	load_fails("d2.ini",
	    INI_PLUGIN "[listen.a]\nunix = a.sock\nplugin = echo\n"
		       "[listen.b]\nunix = ./a.sock\nplugin = echo\n",
	    "F:7: listener \"b\": unix ./a.sock already used by listener "
	    "\"a\" at line 4");
}

WT_TEST(err_duplicate_name)
{
	load_fails("d3.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { name = \"x\"; tcp = \"127.0.0.1:1\"; plugin = \"echo\"; },\n"
	    "  { name = \"x\";\n"
	    "    tcp = \"127.0.0.1:2\"; plugin = \"echo\"; } );\n",
	    "F:4: listener \"x\": name already used by the listener at "
	    "line 3");
	load_fails("d3.ini",
	    INI_PLUGIN "[listen.x]\ntcp = 127.0.0.1:1\nplugin = echo\n"
		       "[listen.x]\ntcp = 127.0.0.1:2\nplugin = echo\n",
	    "F:6: listener \"x\": name already used by the listener at "
	    "line 3");
}

WT_TEST(err_missing_plugin)
{
	load_fails("m.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { tcp = \"127.0.0.1:1\";\n    plugin = \"ecoh\"; },\n"
	    "  { tcp = \"127.0.0.1:2\"; } );\n",
	    "F:4: listener #1: plugin \"ecoh\" is not defined\n"
	    "F:5: listener #2: needs a plugin");
	load_fails("m.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:1\nplugin = ecoh\n",
	    "F:5: listener \"a\": plugin \"ecoh\" is not defined");
}

WT_TEST(err_tcp_and_unix)
{
	load_fails("b.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { tcp = \"127.0.0.1:1\"; unix = \"/a\"; plugin = \"echo\"; },\n"
	    "  { name = \"n\"; plugin = \"echo\"; } );\n",
	    "F:3: listener #1: has both tcp and unix (one address per "
	    "listener)\n"
	    "F:4: listener \"n\": needs tcp or unix");
	load_fails("b.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:1\n"
		       "unix = /a\nplugin = echo\n[listen.n]\nplugin = echo\n",
	    "F:3: listener \"a\": has both tcp and unix (one address per "
	    "listener)\n"
	    "F:7: listener \"n\": needs tcp or unix");
}

WT_TEST(err_plugin_without_path)
{
	load_fails("p.conf",
	    "plugins = {\n  echo = { settings = { a = 1; }; "
	    "};\n};\n",
	    "F:2: plugin \"echo\": missing path");
	/* A settings section alone makes a plugin too, still without path. */
	load_fails("p.ini", "[plugins.echo]\n\n[plugins.x.settings]\na = 1\n",
	    "F:1: plugin \"echo\": missing path\n"
	    "F:3: plugin \"x\": missing path");
}

WT_TEST(err_bad_mode)
{
	load_fails("mode.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { unix = \"/a\"; mode = \"rw\"; plugin = \"echo\"; },\n"
	    "  { unix = \"/b\"; mode = 660; plugin = \"echo\"; },\n"
	    "  { tcp = \":1\"; mode = \"0600\"; plugin = \"echo\"; } );\n",
	    "F:3: mode: \"rw\" is not an octal mode like \"0660\"\n"
	    "F:4: mode: 660 is out of range 0..0777 (write octal modes as a "
	    "string: \"0660\")\n"
	    "F:5: listener #3: mode is only for unix listeners");
	load_fails("mode.ini",
	    INI_PLUGIN "[listen.a]\nunix = /a\nmode = 1777\nplugin = echo\n",
	    "F:5: mode: \"1777\" is out of range 0..0777");
}

WT_TEST(err_bad_log_level)
{
	load_fails("l.conf", "log_level = \"loud\";\n",
	    "F:1: log_level: unknown level \"loud\" (use err, warning, "
	    "notice, info or debug)");
	load_fails("l.ini", "log_level = 7\n",
	    "F:1: log_level: unknown level \"7\" (use err, warning, "
	    "notice, info or debug)");
}

WT_TEST(err_conf_syntax)
{
	/* libconfig stops at its first error and names its own line. */
	load_fails("s.conf", "workers = 2;\n\nuser = ;\nbogus = 1;\n",
	    "F:3: syntax error");
	load_fails("s2.conf", "a = 1;\na = 2;\n",
	    "F:2: duplicate setting name");
}

WT_TEST(err_ini_syntax)
{
	load_fails("s.ini",
	    "workers = 2\njust some words\n[plugins.e\n"
	    "= 5\n[listen.a] junk\n",
	    "F:2: syntax error: expected \"key = value\" or \"[section]\", "
	    "not \"just some words\"\n"
	    "F:3: syntax error: missing ']' in section header\n"
	    "F:4: syntax error: missing key before '='\n"
	    "F:5: syntax error: text after ']'");
}

WT_TEST(err_ini_sections)
{
	load_fails("sec.ini",
	    "[server]\nx = 1\n[listen]\n[plugins.a.b]\n"
	    "path = /x\n[plugins.e]\npath = /e.so\n[plugins.e]\n"
	    "[listen.a]\nname = b\nworkers = 2\n",
	    "F:1: unknown section [server]\n"
	    "F:3: section [listen] needs a name: [listen.NAME]\n"
	    "F:4: bad plugin name \"a.b\" (letters, digits, '-' and '_')\n"
	    "F:8: plugin \"e\" defined twice (first at line 6)\n"
	    "F:9: listener \"a\": needs tcp or unix\n"
	    "F:9: listener \"a\": needs a plugin\n"
	    "F:10: name: in INI, a listener's name is its section's: "
	    "[listen.NAME]\n"
	    "F:11: unknown key \"workers\" in listener \"a\"");
}

WT_TEST(err_ini_duplicate_key)
{
	load_fails("dk.ini",
	    "workers = 2\nworkers = 3\n" INI_PLUGIN
	    "[plugins.echo.settings]\na = 1\na = 2\n",
	    "F:2: workers: given twice (first at line 1)\n"
	    "F:7: plugin \"echo\": setting \"a\" given twice (first at "
	    "line 6)");
}

WT_TEST(err_unix_path_too_long)
{
	char text[512], path[200];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text),
	    CONF_PLUGIN "listen = ( { unix = \"%s\"; plugin = \"echo\"; } );\n",
	    path);
	load_fails("long.conf", text,
	    "F:2: unix: path is 199 bytes, longer than the 107 a socket "
	    "address holds");
}

WT_TEST(err_settings_nested)
{
	load_fails("n.conf",
	    "plugins = { echo = { path = \"/e.so\";\n"
	    "  settings = { a = { b = 1; }; c = [1, 2]; }; };\n"
	    "  x = 5; };\n",
	    "F:2: plugin \"echo\": setting \"a\": groups and lists are not "
	    "supported in settings\n"
	    "F:2: plugin \"echo\": setting \"c\": groups and lists are not "
	    "supported in settings\n"
	    "F:3: plugin \"x\": expected a group { path = \"...\"; }");
	load_fails("n2.conf", "listen = { tcp = \":1\"; };\nplugins = 3;\n",
	    "F:1: listen: expected a list of groups: ( { ... }, { ... } )\n"
	    "F:2: plugins: expected a group: plugins = { NAME = { path = "
	    "\"...\"; }; };");
}

WT_TEST(err_same_plugin_name)
{
	load_fails("pn.conf",
	    "plugins = {\n  http-hello = { path = \"/a\"; };"
	    "\n  http_hello = { path = \"/b\"; };\n};\n",
	    "F:3: plugin \"http_hello\": same name as plugin \"http-hello\" "
	    "at line 2 ('-' and '_' are the same)");
}

WT_TEST(err_missing_file)
{
	struct conf *c = NULL;
	char *cause = NULL, *p = path_of("nope.conf"), *want;

	assert_int_equal(config_load(p, &c, &cause), -1);
	assert_true(asprintf(&want, "%s: %s", p, strerror(ENOENT)) > 0);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	free(p);
}

WT_TEST(err_multiple_all_reported)
{
	static const char conf[] =
	    "workers = \"two\";\n"		  /* 1 */
	    "colour = \"blue\";\n"		  /* 2 */
	    "log_level = \"chatty\";\n"		  /* 3 */
	    "plugins = {\n"			  /* 4 */
	    "  echo = { path = \"echo.so\"; };\n" /* 5 */
	    "  lines = { };\n"			  /* 6 */
	    "};\n"				  /* 7 */
	    "listen = (\n"			  /* 8 */
	    "  { name = \"a\"; tcp = \"127.0.0.1:7000\"; plugin = \"echo\"; "
	    "},\n" /* 9 */
	    "  { name = \"b\"; tcp = \"127.0.0.1:7000\"; plugin = \"nope\"; "
	    "},\n" /* 10 */
	    "  { name = \"a\"; unix = \"/x\"; plugin = \"echo\"; "
	    "limit = 0; }\n" /* 11 */
	    ");\n";
	static const char ini[] =
	    "workers = two\n"			     /* 1 */
	    "colour = blue\n"			     /* 2 */
	    "log_level = chatty\n"		     /* 3 */
	    "[plugins.echo]\n"			     /* 4 */
	    "path = echo.so\n"			     /* 5 */
	    "[plugins.lines]\n"			     /* 6 */
	    "[listen.a]\n"			     /* 7 */
	    "tcp = 127.0.0.1:7000\nplugin = echo\n"  /* 8, 9 */
	    "[listen.b]\n"			     /* 10 */
	    "tcp = 127.0.0.1:7000\nplugin = nope\n"  /* 11, 12 */
	    "[listen.a]\n"			     /* 13 */
	    "unix = /x\nplugin = echo\nlimit = 0\n"; /* 14-16 */
	char *p, *want;
	struct conf *c = NULL;
	char *cause = NULL, *s;
	int lines;

	load_fails("multi.conf", conf,
	    "F:1: workers: expected an integer\n"
	    "F:2: unknown key \"colour\"\n"
	    "F:3: log_level: unknown level \"chatty\" (use err, warning, "
	    "notice, info or debug)\n"
	    "F:6: plugin \"lines\": missing path\n"
	    "F:10: listener \"b\": plugin \"nope\" is not defined\n"
	    "F:10: listener \"b\": tcp 127.0.0.1:7000 already used by "
	    "listener \"a\" at line 9\n"
	    "F:11: limit: 0 is out of range 1..1073741824\n"
	    "F:11: listener \"a\": name already used by the listener at "
	    "line 9");
	load_fails("multi.ini", ini,
	    "F:1: workers: expected an integer\n"
	    "F:2: unknown key \"colour\"\n"
	    "F:3: log_level: unknown level \"chatty\" (use err, warning, "
	    "notice, info or debug)\n"
	    "F:6: plugin \"lines\": missing path\n"
	    "F:11: listener \"b\": tcp 127.0.0.1:7000 already used by "
	    "listener \"a\" at line 8\n"
	    "F:12: listener \"b\": plugin \"nope\" is not defined\n"
	    "F:13: listener \"a\": name already used by the listener at "
	    "line 7\n"
	    "F:16: limit: 0 is out of range 1..1073741824");

	/* Counted another way: one line of cause per error. */
	p = put("multi2.ini", ini);
	assert_int_equal(config_load(p, &c, &cause), -1);
	for (lines = 1, s = cause; *s != '\0'; s++)
		lines += *s == '\n';
	assert_int_equal(lines, 8);
	want = expand("F:1: workers: expected an integer", p);
	assert_memory_equal(cause, want, strlen(want));
	free(want);
	free(cause);
	free(p);
}

WT_TEST(conf_include)
{
	char *inc = put("inc-plugins.conf",
	    "plugins = {\n"
	    "  echo = { path = \"/e.so\"; bogus = 1; };\n};\n");
	char *top = put("main-inc.conf",
	    "@include \"inc-plugins.conf\"\n"
	    "workers = 0;\n"
	    "listen = ( { tcp = \":1\"; plugin = \"echo\"; } );\n");
	struct conf *c = NULL;
	char *cause = NULL, *want;

	/* @include is relative to the including file's directory, and an
	 * error in the included file names that file. */
	assert_int_equal(config_load(top, &c, &cause), -1);
	assert_true(
	    asprintf(&want,
		"%s:2: workers: 0 is out of range "
		"1..1024\n%s:2: unknown key \"bogus\" in plugin \"echo\"",
		top, inc) > 0);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	free(top);
	free(inc);
}

WT_TEST(ini_quotes_and_comments)
{
	struct conf *c;
	const struct conf_plugin *p;

	c = load_text_ok("q.ini",
	    "\xEF\xBB\xBF; a comment\n"
	    "# another\n"
	    "user = \"weft\"\n"
	    "  group = staff ; inline comment\n"
	    "[plugins.echo]\npath: /p/echo.so\n"
	    "[plugins.echo.settings]\n"
	    "a = \"tab\\there\\n\"\n"
	    "b = \"  spaced  \"\n"
	    "c = no\"quotes\"inside\n"
	    "d = \"\\x41\\\\\"\n"
	    "[listen.a]\ntcp = 127.0.0.1:1\nplugin = echo\n");
	assert_string_equal(c->user, "weft");
	assert_string_equal(c->group, "staff");
	p = config_plugin(c, "echo");
	assert_string_equal(p->settings[0].value, "tab\there\n");
	assert_string_equal(p->settings[1].value, "  spaced  ");
	assert_string_equal(p->settings[2].value, "no\"quotes\"inside");
	assert_string_equal(p->settings[3].value, "A\\");
	config_free(c);
	load_fails("q2.ini", "user = \"a\\qb\"\ngroup = \"a ; b\"\n",
	    "F:1: user: bad escape in quoted value\n"
	    "F:2: group: unterminated quoted value (a ';' after a blank "
	    "starts a comment)");
}

WT_TEST(ini_long_line)
{
	struct conf *c = NULL;
	char text[1024], *cause = NULL, *p;

	/* inih's line buffer is fixed when it is built (200 on Debian): a
	 * longer line is an error, not silently split in two. */
	memset(text, 'x', sizeof(text));
	memcpy(text, "user = ", 7);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	p = put("long.ini", text);
	assert_int_equal(config_load(p, &c, &cause), -1);
	assert_non_null(strstr(cause,
	    ":1: line too long (inih takes at "
	    "most "));
	assert_null(strchr(cause, '\n'));
	free(cause);
	free(p);
}

WT_TEST(log_level_names)
{
	static const char *const names[] = { "err", "warning", "notice", "info",
		"debug" };
	int i;

	for (i = 0; i < 5; i++) {
		assert_int_equal(config_log_level(names[i]), WEFT_LOG_ERR + i);
		assert_string_equal(config_log_level_name(WEFT_LOG_ERR + i),
		    names[i]);
	}
	assert_int_equal(config_log_level("error"), WEFT_LOG_ERR);
	assert_int_equal(config_log_level("loud"), -1);
	assert_true(config_name_eq("http-hello", "http_hello"));
	assert_false(config_name_eq("http-hello", "http-hell"));
	assert_false(config_name_eq("echo", "echo2"));
}

/* ---- Bugs found by fuzzing (doc/fuzzing.md) ------------------------------ */

/*
 * Bug 4: libconfig's flex scanner exit()s the process when a read of an
 * @include target fails, as on a directory.  "" and "." name the including
 * file's directory.  The test process surviving is half the test.
 */
WT_TEST(include_not_regular)
{
	char *dir = path_of("conf.d"), *fifo = path_of("inc.fifo");
	char *inc, *top, *cause = NULL, *want;
	struct conf *c = NULL;

	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	load_fails("inc-dir.conf", "workers = 1;\n@include \"conf.d\"\n",
	    "F:2: @include \"conf.d\": not a regular file");
	load_fails("inc-empty.conf", "@include \"\"\n",
	    "F:1: @include \"\": not a regular file");
	load_fails("inc-dot.conf", "# a comment\n  @include \".\"\n",
	    "F:2: @include \".\": not a regular file");
	/* A FIFO would block libconfig: refused, and without waiting for
	 * a writer (the time limit set in main() would end a hang). */
	load_fails("inc-fifo.conf", "@include \"inc.fifo\"\n",
	    "F:1: @include \"inc.fifo\": not a regular file");
	/* Inside strings and comments it is no @include. */
	c = load_text_ok("inc-not.conf",
	    "// @include \".\"\n"
	    "/* @include \".\" */ # @include \".\"\n"
	    "user = \"\n@include \\\".\\\"\";\n");
	assert_string_equal(c->user, "\n@include \".\"");
	config_free(c);
	c = NULL;

	/* One level down, the error names the included file. */
	inc = put("inc-nested.conf", "workers = 1;\n\n@include \".\"\n");
	top = put("inc-top.conf", "@include \"inc-nested.conf\"\n");
	assert_int_equal(config_load(top, &c, &cause), -1);
	assert_null(c);
	assert_true(asprintf(&want, "%s:3: @include \".\": not a regular file",
			inc) > 0);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	free(top);
	free(inc);
	free(fifo);
	free(dir);
}

/*
 * /proc/self/mem is a regular file as far as stat(2) can tell, but reading
 * it at offset 0 fails (EIO): libconfig's scanner would exit() on it too.
 * libconfig joins the include directory and the name as text, so the path
 * climbs out of tmpdir (/tmp/weft-config-XXXXXX).
 */
WT_TEST(include_unreadable)
{
	struct conf *c = NULL;
	char *cause = NULL, *want;

	if (access("/proc/self/mem", R_OK) != 0)
		skip();
	assert_true(asprintf(&want,
			"F:1: @include \"../../proc/self/mem\": "
			"%s",
			strerror(EIO)) > 0);
	load_fails("inc-mem.conf", "@include \"../../proc/self/mem\"\n", want);
	free(want);

	/* The same for the file being loaded. */
	assert_int_equal(config_load("/proc/self/mem", &c, &cause), -1);
	assert_null(c);
	assert_true(asprintf(&want, "/proc/self/mem: %s", strerror(EIO)) > 0);
	assert_string_equal(cause, want);
	free(want);
	free(cause);

	/* A missing include is still libconfig's to report. */
	load_fails("inc-missing.conf", "\n@include \"no-such.conf\"\n",
	    "F:2: cannot open include file");
}

/*
 * A file replaced after weftd checked it and before libconfig opens it.
 * libconfig 1.5 fopen()s with mode "rt" (config.c uses "r"), and the
 * program's fopen comes before libc's: armed with swap_path, the first
 * "rt" open renames swap_with over swap_path, or with no swap_with puts
 * a directory there, then opens what it was asked to.  (Default
 * visibility: libconfig.so calls it through the dynamic symbol table.)
 */
static char swap_path[256], swap_with[256];

/*
 * Armed with after_path, the first fopen of that very path renames
 * after_with over it once it is open: someone swapping the file between
 * weftd's check of what it opened and the parse.
 */
static char after_path[256], after_with[256];

FILE *fopen(const char *, const char *) __attribute__((visibility("default")));

FILE *
fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);
	FILE *fp;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fopen");
	if (swap_path[0] != '\0' && strcmp(mode, "rt") == 0) {
		if (swap_with[0] != '\0')
			(void)rename(swap_with, swap_path);
		else if (unlink(swap_path) == 0)
			(void)mkdir(swap_path, 0755);
		swap_path[0] = swap_with[0] = '\0';
	}
	fp = real(path, mode);
	if (after_path[0] != '\0' && strcmp(path, after_path) == 0) {
		(void)rename(after_with, after_path);
		after_path[0] = after_with[0] = '\0';
	}
	return fp;
}

static void
swap_arm(const char *path, const char *with)
{
	snprintf(swap_path, sizeof(swap_path), "%s", path);
	snprintf(swap_with, sizeof(swap_with), "%s", with != NULL ? with : "");
}

/* libconfig parses the bytes that were checked, not what the paths hold
 * by the time it reads them. */
WT_TEST(include_swapped_after_check)
{
	char *inc, *other, *top;
	struct conf *c;
	pid_t pid;
	int status;

	inc = put("swap-inc.conf", "workers = 3;\n");
	other = put("swap-other.conf", "workers = 7;\n");
	top = put("swap-top.conf", "# top\n@include \"swap-inc.conf\"\n");
	swap_arm(inc, other);
	c = load_ok(top);
	assert_string_equal(swap_path, ""); /* the swap happened */
	assert_int_equal(c->workers, 3);
	config_free(c);
	free(other);

	/* The file being loaded itself. */
	other = put("swap-other.conf", "workers = 7;\n");
	free(top);
	top = put("swap-top.conf", "workers = 3;\n");
	swap_arm(top, other);
	c = load_ok(top);
	assert_string_equal(swap_path, "");
	assert_int_equal(c->workers, 3);
	config_free(c);

	/* A directory in its place would make libconfig's scanner exit()
	 * the process (the supervisor, on a reload): in a child. */
	free(top);
	free(inc);
	inc = put("swap-inc.conf", "workers = 3;\n");
	top = put("swap-top.conf", "@include \"swap-inc.conf\"\n");
	swap_arm(inc, NULL);
	fflush(NULL);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		c = NULL;
		status = config_load(top, &c, NULL) == 0 && c->workers == 3 &&
			swap_path[0] == '\0'
		    ? 0
		    : 1;
		/* Under valgrind a leak would be the child's exit status. */
		config_free(c);
		free(top);
		free(inc);
		free(other);
		_exit(status);
	}
	swap_path[0] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(rmdir(inc), 0);
	free(top);
	free(inc);
	free(other);
}

/*
 * The INI front-end parses the file config_load() opened and checked,
 * not what the path holds by the time it reads: a file renamed over the
 * path right after that open is not the one parsed (it used to reopen the
 * path).
 */
WT_TEST(ini_swapped_after_check)
{
	char *top, *other;
	struct conf *c;

	other = put("swap-other.ini", "workers = 7\n");
	top = put("swap-top.ini", "workers = 3\n");
	snprintf(after_path, sizeof(after_path), "%s", top);
	snprintf(after_with, sizeof(after_with), "%s", other);
	c = load_ok(top);
	assert_string_equal(after_path, ""); /* the swap happened */
	assert_int_equal(c->workers, 3);
	config_free(c);
	/* The path holds the other file now, and a new load reads it. */
	c = load_ok(top);
	assert_int_equal(c->workers, 7);
	config_free(c);
	free(top);
	free(other);
}

/* Bug 5: an all-digit host longer than parse_tcp's buffer overflowed it. */
WT_TEST(err_long_ipv4)
{
	char host[122], text[512], want[512];
	size_t i;

	memset(host, '1', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(text, sizeof(text),
	    CONF_PLUGIN
	    "listen = ( { tcp = \"%s:80\"; plugin = \"echo\"; } );\n",
	    host);
	snprintf(want, sizeof(want),
	    "F:2: tcp: \"%s:80\": bad IPv4 address "
	    "\"%s\"",
	    host, host);
	load_fails("long4.conf", text, want);
	snprintf(text, sizeof(text),
	    INI_PLUGIN "[listen.a]\ntcp = %s:80\nplugin = echo\n", host);
	snprintf(want, sizeof(want),
	    "F:4: tcp: \"%s:80\": bad IPv4 address "
	    "\"%s\"",
	    host, host);
	load_fails("long4.ini", text, want);
	/* Dotted, and as long: the same. */
	for (i = 0; i < sizeof(host) - 1; i++)
		host[i] = i % 2 == 0 ? '1' : '.';
	snprintf(text, sizeof(text),
	    CONF_PLUGIN
	    "listen = ( { tcp = \"%s:80\"; plugin = \"echo\"; } );\n",
	    host);
	snprintf(want, sizeof(want),
	    "F:2: tcp: \"%s:80\": bad IPv4 address "
	    "\"%s\"",
	    host, host);
	load_fails("long4d.conf", text, want);
}

/*
 * Bug 3: a value quoted in an error may hold a newline (a libconfig
 * string, an INI escape); written as is it would start a line that is no
 * "FILE:LINE: message".  Control characters but tab come out as C escapes.
 */
WT_TEST(err_control_chars_escaped)
{
	load_fails("ctl.conf",
	    "log_level = \"lo\\nud\\r\";\n" CONF_PLUGIN
	    "listen = ( { tcp = \"1\\n2:3\"; plugin = \"echo\"; } );\n",
	    "F:1: log_level: unknown level \"lo\\nud\\r\" (use err, warning, "
	    "notice, info or debug)\n"
	    "F:3: tcp: \"1\\n2:3\": bad host \"1\\n2\"");
	load_fails("ctl.ini",
	    "log_level = \"a\\x01\\tb\\x7f\"\n" INI_PLUGIN
	    "[listen.a]\ntcp = \"1\\n2:3\"\nplugin = echo\n",
	    "F:1: log_level: unknown level \"a\\x01\tb\\x7f\" (use err, "
	    "warning, notice, info or debug)\n"
	    "F:5: tcp: \"1\\n2:3\": bad host \"1\\n2\"");
}

/* ---- Setup -------------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void)
{
	strcpy(tmpdir, "/tmp/weft-config-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void)
{
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Every case writes its files in one directory, made before the first
 * and removed after the last. */
int
main(int argc, char **argv)
{
	int rc;

	if (setup() != 0) {
		perror("mkdtemp");
		return 1;
	}
	WT_TIMEOUT(60);
	rc = wt_run_cases(argc, argv);
	if (teardown() != 0)
		rc = 1;
	return rc;
}
