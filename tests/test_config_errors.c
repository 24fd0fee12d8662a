/*
 * weftd's configuration, continued (tests/config_util.h): every kind
 * of mistake is reported as the exact "file:line: message" text, in both
 * syntaxes where it makes sense, all of them at once; includes, INI
 * quoting and long lines, log level names.
 */
#include "config_util.h"

/* ---- Errors: each in both syntaxes where it makes sense ----------------- */

WT_TEST(err_unknown_top_key)
{
	load_fails("e1.conf", "workers = 2;\nwrokers = 3;\n" CONF_PLUGIN,
	    "F:2: unknown key \"wrokers\" (did you mean \"workers\"?)");
	/* A prefix of a key, and the groups the front-end knows. */
	load_fails("e1b.conf", "shutdown = 5;\nlistne = ();\n" CONF_PLUGIN,
	    "F:1: unknown key \"shutdown\" (did you mean "
	    "\"shutdown_timeout\"?)\n"
	    "F:2: unknown key \"listne\" (did you mean \"listen\"?)");
	load_fails("e1.ini", "wrokers = 3\n" INI_PLUGIN,
	    "F:1: unknown key \"wrokers\" (did you mean \"workers\"?)");
}

WT_TEST(err_unknown_listener_key)
{
	load_fails("e2.conf",
	    CONF_PLUGIN
	    "listen = (\n"
	    "  { name = \"a\"; tcp = \"127.0.0.1:1\"; plugin = \"echo\";\n"
	    "    lmit = 5; } );\n",
	    "F:4: unknown key \"lmit\" in listener \"a\" (did you mean "
	    "\"limit\"?)");
	load_fails("e2.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:1\n"
		       "plugin = echo\nlmit = 5\n",
	    "F:6: unknown key \"lmit\" in listener \"a\" (did you mean "
	    "\"limit\"?)");
}

WT_TEST(err_unknown_plugin_key)
{
	load_fails("e3.conf",
	    "plugins = {\n  echo = { path = \"/e.so\"; pth = 1; };\n};\n",
	    "F:2: unknown key \"pth\" in plugin \"echo\" (did you mean "
	    "\"path\"?)");
	load_fails("e3.ini", "[plugins.echo]\npath = /e.so\npth = 1\n",
	    "F:3: unknown key \"pth\" in plugin \"echo\" (did you mean "
	    "\"path\"?)");
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
	load_fails("st.conf",
	    CONF_PLUGIN "listen = ( { tcp = \"127.0.0.1:1\"; plugin = "
			"\"echo\";\n  send_timeout = -1; } );\n",
	    "F:3: send_timeout: -1 is out of range: must be >= 0.001 and "
	    "<= 86400");
	load_fails("st.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:9\nplugin = echo\n"
		       "send_timeout = soon\n",
	    "F:6: send_timeout: expected a number");
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
	    "F:4: listener #1: plugin \"ecoh\" is not defined (did you mean "
	    "\"echo\"?)\n"
	    "F:5: listener #2: needs a plugin");
	load_fails("m.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:1\nplugin = ecoh\n",
	    "F:5: listener \"a\": plugin \"ecoh\" is not defined (did you "
	    "mean \"echo\"?)");
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
	    "F:3: syntax error\n"
	    "F:3:     user = ;\n"
	    "F:3:            ^\n"
	    "F:3: hint: a value is missing after '='");
	load_fails("s2.conf", "a = 1;\na = 2;\n",
	    "F:2: duplicate setting name");
}

/* libconfig's bare "syntax error": the line, a caret, the usual cause. */
WT_TEST(err_conf_syntax_hints)
{
	load_fails("h1.conf",
	    CONF_PLUGIN "listen = (\n"
			"\t{ tcp = 127.0.0.1:80; plugin = \"echo\"; }\n);\n",
	    "F:3: syntax error\n"
	    "F:3:     \t{ tcp = 127.0.0.1:80; plugin = \"echo\"; }\n"
	    "F:3:     \t        ^\n"
	    "F:3: hint: an address (host:port) must be quoted: "
	    "tcp = \"127.0.0.1:80\";");
	load_fails("h2.conf", "user = nobody;\n",
	    "F:1: syntax error\n"
	    "F:1:     user = nobody;\n"
	    "F:1:            ^\n"
	    "F:1: hint: a string must be quoted: user = \"nobody\";");
	load_fails("h3.conf", "plugins = {\n  echo = { path = \"x\";\n};\n",
	    "F:4: syntax error at the end of the file\n"
	    "F:4: hint: the file ends inside the '{' opened at line 1: a '}' "
	    "is missing");
	load_fails("h4.conf", "listen = (\n  { tcp = \"1:2\"; }\n};\n",
	    "F:3: syntax error\n"
	    "F:3:     };\n"
	    "F:3:     ^\n"
	    "F:3: hint: '}' closes the '(' opened at line 1, which ends with "
	    "')'");
	load_fails("h5.conf", "workers == 2;\n",
	    "F:1: syntax error\n"
	    "F:1:     workers == 2;\n"
	    "F:1:             ^\n"
	    "F:1: hint: one '=' between a key and its value: key = value;");
	load_fails("h6.conf", "listen = ( { tcp = \"1:2\"; } { x = 1; } );\n",
	    "F:1: syntax error\n"
	    "F:1:     listen = ( { tcp = \"1:2\"; } { x = 1; } );\n"
	    "F:1:                                 ^\n"
	    "F:1: hint: missing ',' between the groups of a list: "
	    "( { ... }, { ... } )");
	load_fails("h7.conf", "{ \"workers\": 2 }\n",
	    "F:1: syntax error\n"
	    "F:1:     { \"workers\": 2 }\n"
	    "F:1:       ^\n"
	    "F:1: hint: keys are not quoted (this is not JSON): key = value;");
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

/* A worker with no listener exits at once; the file says why, whole. */
WT_TEST(err_no_listeners)
{
	load_fails("nl.conf", "workers = 1;\n" CONF_PLUGIN,
	    "F: no listeners: nothing to serve");
	load_fails("nl.ini", "workers = 1\n" INI_PLUGIN,
	    "F: no listeners: nothing to serve");
	load_fails("nl2.conf", "workers = 1;\n",
	    "F: no listeners: nothing to serve");
}

/* load_fails(), with the checks of what the file names on this system
 * that -t, the start and a reload make. */
static void
system_fails(const char *name, const char *text, const char *expect)
{
	char *p = put(name, text), *want = expand(expect, p);
	struct conf *c = NULL;
	char *cause = NULL;

	assert_int_equal(config_load_flags(p, CONF_LOAD_SYSTEM, &c, &cause),
	    -1);
	assert_null(c);
	assert_non_null(cause);
	assert_string_equal(cause, want);
	free(cause);
	free(want);
	/* The parse alone takes the file as it would be where it is for. */
	assert_int_equal(config_load(p, &c, &cause), 0);
	config_free(c);
	free(p);
}

WT_TEST(err_unknown_user_group)
{
	system_fails("ug.conf",
	    "user = \"no-such-weft-user\";\n"
	    "group = \"no-such-weft-group\";\n" CONF_PLUGIN
	    "listen = ( { tcp = \"127.0.0.1:1\"; plugin = \"echo\"; } );\n",
	    "F:1: user: no such user \"no-such-weft-user\"\n"
	    "F:2: group: no such group \"no-such-weft-group\"");
	system_fails("ug.ini",
	    "group = no-such-weft-group\nuser = no-such-weft-user\n" INI_PLUGIN
	    "[listen.a]\ntcp = 127.0.0.1:1\nplugin = echo\n",
	    "F:1: group: no such group \"no-such-weft-group\"\n"
	    "F:2: user: no such user \"no-such-weft-user\"");
}

WT_TEST(err_unix_dir_missing)
{
	system_fails("ud.conf",
	    CONF_PLUGIN "listen = (\n"
			"  { tcp = \"127.0.0.1:1\"; plugin = \"echo\"; },\n"
			"  { name = \"u\"; plugin = \"echo\";\n"
			"    unix = \"/nonexistent-weft-dir/s.sock\"; } );\n",
	    "F:4: listener \"u\": directory /nonexistent-weft-dir does not "
	    "exist");
	system_fails("ud.ini",
	    INI_PLUGIN "[listen.u]\nplugin = echo\n"
		       "unix = /nonexistent-weft-dir/s.sock\n",
	    "F:3: listener \"u\": directory /nonexistent-weft-dir does not "
	    "exist");
}

/* A plugin no listener uses is loaded for nothing: a warning at its
 * entry, and the file still loads. */
WT_TEST(warn_unused_plugin)
{
	struct conf *c;
	char *p, *want;

	p = put("up.conf",
	    "plugins = {\n  echo = { path = \"/p/echo.so\"; };\n"
	    "  lines = { path = \"/p/lines.so\"; };\n};\n"
	    "listen = ( { tcp = \":1\"; plugin = \"echo\"; } );\n");
	c = load_ok(p);
	want = expand("F:3: plugin \"lines\" is not used by any listener", p);
	assert_non_null(c->warnings);
	assert_string_equal(c->warnings, want);
	free(want);
	free(p);
	config_free(c);
	p = put("up.ini",
	    INI_PLUGIN "[plugins.lines]\npath = /p/lines.so\n"
		       "[listen.a]\ntcp = :1\nplugin = lines\n");
	c = load_ok(p);
	want = expand("F:1: plugin \"echo\" is not used by any listener", p);
	assert_non_null(c->warnings);
	assert_string_equal(c->warnings, want);
	free(want);
	free(p);
	config_free(c);
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

/* A listener is reported at its own file and line: trybind.c's messages
 * (weftd -t) name the included file the listener is in, not the main
 * one. */
WT_TEST(conf_include_listener_file)
{
	char *inc = put("inc-listen.conf",
	    "\n{ name = \"inc\"; tcp = \"127.0.0.1:1\";\n"
	    "  plugin = \"echo\"; }\n");
	char *top = put("main-listen.conf",
	    CONF_PLUGIN "listen = (\n"
			"  { name = \"top\"; tcp = \"127.0.0.1:2\"; "
			"plugin = \"echo\"; },\n"
			"@include \"inc-listen.conf\"\n);\n");
	struct conf *c = load_ok(top);

	assert_int_equal(c->nlisteners, 2);
	assert_string_equal(c->listeners[0].name, "top");
	assert_string_equal(c->listeners[0].file, top);
	assert_int_equal(c->listeners[0].line, 3);
	assert_string_equal(c->listeners[1].name, "inc");
	assert_string_equal(c->listeners[1].file, inc);
	assert_int_equal(c->listeners[1].line, 2);
	config_free(c);
	free(top);
	free(inc);
	/* INI has no include: its listeners are the file's. */
	top = put("listen-file.ini",
	    INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:1\nplugin = echo\n");
	c = load_ok(top);
	assert_string_equal(c->listeners[0].file, top);
	config_free(c);
	free(top);
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
