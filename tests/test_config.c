/*
 * weftd's configuration: both syntaxes (libconfig .conf, INI .ini) into
 * one model.  The shipped files load and dump byte-identically; defaults
 * and address forms come out as documented.  Every kind of mistake is
 * in tests/test_config_errors.c, the bugs fuzzing found in
 * tests/test_config_fuzz.c, the helpers in tests/config_util.h.
 *
 * Test files are written to a private mkdtemp directory.  An expected
 * error text is written with "F:" standing for "<that file's path>:".
 */
#include "config_util.h"

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
	assert_true(l->send_timeout == 60.0);
	assert_int_equal(l->proxy_protocol, 0);
	assert_true(l->proxy_protocol_timeout == 5.0);
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

/* accept_balance: on unless turned off, the same in both syntaxes. */
WT_TEST(accept_balance_key)
{
	struct conf *a, *b, *d;
	char *da, *db, *dd;

	d = load_text_ok("bal0.conf",
	    CONF_PLUGIN "listen = ( { tcp = \"127.0.0.1:1\"; plugin = "
			"\"echo\"; } );\n");
	a = load_text_ok("bal.conf",
	    "accept_balance = false;\n" CONF_PLUGIN
	    "listen = ( { tcp = \"127.0.0.1:1\"; plugin = \"echo\"; } );\n");
	b = load_text_ok("bal.ini",
	    "accept_balance = no\n" INI_PLUGIN
	    "[listen.x]\ntcp = 127.0.0.1:1\nplugin = echo\n");
	assert_int_equal(d->accept_balance, 1);
	assert_int_equal(a->accept_balance, 0);
	assert_int_equal(b->accept_balance, 0);
	dd = dump(d);
	da = dump(a);
	db = dump(b);
	assert_non_null(strstr(dd, "\naccept_balance = true\n"));
	assert_non_null(strstr(da, "\naccept_balance = false\n"));
	assert_non_null(strstr(db, "\naccept_balance = false\n"));
	load_fails("bal1.conf", "accept_balance = 3;\n",
	    "F:1: accept_balance: expected a boolean (true or false)");
	free(da);
	free(db);
	free(dd);
	config_free(a);
	config_free(b);
	config_free(d);
}

/* A listener's send_timeout: seconds, 0 for none, in both syntaxes. */
WT_TEST(listener_send_timeout)
{
	struct conf *a, *b;
	char *da, *db;

	a = load_text_ok("st.conf",
	    CONF_PLUGIN
	    "listen = ( { name = \"a\"; tcp = \"127.0.0.1:1\"; plugin = "
	    "\"echo\"; send_timeout = 0.3; },\n"
	    "  { name = \"b\"; tcp = \"127.0.0.1:2\"; plugin = \"echo\"; "
	    "send_timeout = 0; },\n"
	    "  { name = \"c\"; tcp = \"127.0.0.1:3\"; plugin = \"echo\"; "
	    "send_timeout = 90; } );\n");
	b = load_text_ok("st.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:1\nplugin = echo\n"
		       "send_timeout = 0.3\n"
		       "[listen.b]\ntcp = 127.0.0.1:2\nplugin = echo\n"
		       "send_timeout = 0\n"
		       "[listen.c]\ntcp = 127.0.0.1:3\nplugin = echo\n"
		       "send_timeout = 90\n");
	assert_true(a->listeners[0].send_timeout == 0.3);
	assert_true(a->listeners[1].send_timeout == 0);
	assert_true(a->listeners[2].send_timeout == 90);
	da = dump(a);
	db = dump(b);
	assert_string_equal(da, db);
	assert_non_null(strstr(da, "\nsend_timeout = 0.3\n"));
	assert_non_null(strstr(da, "\nsend_timeout = 0\n"));
	assert_non_null(strstr(da, "\nsend_timeout = 90\n"));
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

/* ---- PROXY protocol ------------------------------------------------------ */

WT_TEST(proxy_protocol_keys)
{
	struct conf *a, *b;
	char *da, *db;

	a = load_text_ok("pp.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { name = \"a\"; tcp = \":1\"; proxy_protocol = true;\n"
	    "    proxy_protocol_timeout = 0.25; plugin = \"echo\"; },\n"
	    "  { name = \"b\"; unix = \"/b\"; proxy_protocol = true; "
	    "plugin = \"echo\"; },\n"
	    "  { name = \"c\"; tcp = \":2\"; plugin = \"echo\"; } );\n");
	b = load_text_ok("pp.ini",
	    INI_PLUGIN "[listen.a]\ntcp = :1\nproxy_protocol = yes\n"
		       "proxy_protocol_timeout = 0.25\nplugin = echo\n"
		       "[listen.b]\nunix = /b\nproxy_protocol = true\n"
		       "plugin = echo\n[listen.c]\ntcp = :2\nplugin = echo\n");
	assert_int_equal(a->listeners[0].proxy_protocol, 1);
	assert_true(a->listeners[0].proxy_protocol_timeout == 0.25);
	assert_int_equal(a->listeners[1].proxy_protocol, 1);
	assert_true(a->listeners[1].proxy_protocol_timeout == 5.0);
	assert_int_equal(a->listeners[2].proxy_protocol, 0);
	da = dump(a);
	db = dump(b);
	assert_string_equal(da, db);
	assert_non_null(strstr(da,
	    "send_timeout = 60\nproxy_protocol = true\n"
	    "proxy_protocol_timeout = 0.25\n\n[listen.b]"));
	assert_non_null(strstr(da,
	    "proxy_protocol = true\nproxy_protocol_timeout = 5\n"));
	/* The last listener's section ends the dump. */
	assert_non_null(strstr(da,
	    "[listen.c]\ntcp = *:2\nplugin = echo\nlimit = 65536\n"));
	assert_non_null(strstr(da, "\nproxy_protocol = false\n"));
	free(da);
	free(db);
	config_free(a);
	config_free(b);
}

WT_TEST(err_proxy_protocol)
{
	load_fails("pp-e.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { tcp = \":1\"; proxy_protocol = \"on\"; plugin = \"echo\"; },\n"
	    "  { tcp = \":2\"; proxy_protocol = true; plugin = \"echo\";\n"
	    "    proxy_protocol_timeout = 0; },\n"
	    "  { tcp = \":3\"; proxy_protocol_timeout = 3; plugin = \"echo\"; }"
	    " );\n",
	    "F:3: proxy_protocol: expected a boolean (true or false)\n"
	    "F:5: proxy_protocol_timeout: 0 is out of range: must be >= 0.001 "
	    "and <= 86400\n"
	    "F:6: listener #3: proxy_protocol_timeout needs proxy_protocol = "
	    "true");
	load_fails("pp-e.ini",
	    INI_PLUGIN "[listen.t]\ntcp = :1\nproxy_protocol = false\n"
		       "proxy_protocol_timeout = 1\nplugin = echo\n",
	    "F:6: listener \"t\": proxy_protocol_timeout needs "
	    "proxy_protocol = true");
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
