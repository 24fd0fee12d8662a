/*
 * weftd's configuration: TLS profiles (tls = { NAME = { ... }; } and
 * [tls.NAME], their SNI entries, a listener's tls key) in both syntaxes,
 * their defaults, identical dumps, and every mistake as its exact
 * "file:line: message" (tests/config_util.h).
 */
#include "config_util.h"

#define CONF_TLS                                                                  \
	CONF_PLUGIN                                                               \
	"tls = {\n"                                                               \
	"  site = {\n"                                                            \
	"    cert = \"/etc/weft/site.crt\";\n"                                    \
	"    key = \"/etc/weft/site.key\";\n"                                     \
	"    alpn = [ \"h2\", \"http/1.1\" ];\n"                                  \
	"    client_ca = \"/etc/weft/ca.pem\";\n"                                 \
	"    verify_client = \"optional\";\n"                                     \
	"    protocols = [ \"TLSv1.3\" ];\n"                                      \
	"    ciphers = \"ECDHE+AESGCM\";\n"                                       \
	"    ciphersuites = \"TLS_AES_128_GCM_SHA256\";\n"                        \
	"    handshake_timeout = 2.5;\n"                                          \
	"    session_tickets = false;\n"                                          \
	"    sni = ( { names = [ \"a.example\", \"*.b.example\" ];\n"             \
	"              cert = \"/etc/weft/a.crt\"; key = \"/etc/weft/a.key\"; "   \
	"},\n"                                                                    \
	"            { names = [ \"c.example\" ];\n"                              \
	"              cert = \"/etc/weft/c.crt\"; key = \"/etc/weft/c.key\"; "   \
	"} );\n"                                                                  \
	"  };\n"                                                                  \
	"  plain = { cert = \"/etc/weft/p.crt\"; key = \"/etc/weft/p.key\"; };\n" \
	"};\n"                                                                    \
	"listen = (\n"                                                            \
	"  { name = \"https\"; tcp = \"0.0.0.0:443\"; plugin = \"echo\";\n"       \
	"    tls = \"site\"; },\n"                                                \
	"  { name = \"p\"; tcp = \"0.0.0.0:444\"; plugin = \"echo\";\n"           \
	"    tls = \"plain\"; },\n"                                               \
	"  { name = \"clear\"; tcp = \"0.0.0.0:80\"; plugin = \"echo\"; } );\n"

#define INI_TLS                                                                \
	INI_PLUGIN                                                             \
	"[tls.site]\n"                                                         \
	"cert = /etc/weft/site.crt\n"                                          \
	"key = /etc/weft/site.key\n"                                           \
	"alpn = h2, http/1.1\n"                                                \
	"client_ca = /etc/weft/ca.pem\n"                                       \
	"verify_client = optional\n"                                           \
	"protocols = TLSv1.3\n"                                                \
	"ciphers = ECDHE+AESGCM\n"                                             \
	"ciphersuites = TLS_AES_128_GCM_SHA256\n"                              \
	"handshake_timeout = 2.5\n"                                            \
	"session_tickets = false\n"                                            \
	"[tls.site.sni.a]\n"                                                   \
	"names = a.example *.b.example\n"                                      \
	"cert = /etc/weft/a.crt\n"                                             \
	"key = /etc/weft/a.key\n"                                              \
	"[tls.site.sni.c]\n"                                                   \
	"names = c.example\n"                                                  \
	"cert = /etc/weft/c.crt\n"                                             \
	"key = /etc/weft/c.key\n"                                              \
	"[tls.plain]\n"                                                        \
	"cert = /etc/weft/p.crt\n"                                             \
	"key = /etc/weft/p.key\n"                                              \
	"[listen.https]\n"                                                     \
	"tcp = 0.0.0.0:443\n"                                                  \
	"plugin = echo\n"                                                      \
	"tls = site\n"                                                         \
	"[listen.p]\n"                                                         \
	"tcp = 0.0.0.0:444\n"                                                  \
	"plugin = echo\n"                                                      \
	"tls = plain\n"                                                        \
	"[listen.clear]\n"                                                     \
	"tcp = 0.0.0.0:80\n"                                                   \
	"plugin = echo\n"

static void
check_site(const struct conf *c)
{
	const struct conf_tls *t, *p;

	assert_int_equal(c->ntls, 2);
	t = &c->tls[0];
	p = &c->tls[1];
	assert_string_equal(t->name, "site");
	assert_string_equal(t->cert, "/etc/weft/site.crt");
	assert_string_equal(t->key, "/etc/weft/site.key");
	assert_int_equal(t->nalpn, 2);
	assert_string_equal(t->alpn[0], "h2");
	assert_string_equal(t->alpn[1], "http/1.1");
	assert_string_equal(t->client_ca, "/etc/weft/ca.pem");
	assert_int_equal(t->verify_client, CONF_VERIFY_OPTIONAL);
	assert_int_equal(t->nprotocols, 1);
	assert_string_equal(t->protocols[0], "TLSv1.3");
	assert_string_equal(t->ciphers, "ECDHE+AESGCM");
	assert_string_equal(t->ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_true(t->handshake_timeout == 2.5);
	assert_int_equal(t->session_tickets, 0);
	assert_int_equal(t->nsni, 2);
	assert_int_equal(t->sni[0].nnames, 2);
	assert_string_equal(t->sni[0].names[1], "*.b.example");
	assert_string_equal(t->sni[1].names[0], "c.example");
	assert_string_equal(t->sni[1].key, "/etc/weft/c.key");
	assert_null(t->pem.cert); /* read by the supervisor, not here */
	/* The defaults. */
	assert_null(p->alpn);
	assert_null(p->client_ca);
	assert_int_equal(p->verify_client, CONF_VERIFY_NONE);
	assert_null(p->protocols);
	assert_null(p->ciphers);
	assert_true(p->handshake_timeout == 60.0);
	assert_int_equal(p->session_tickets, 1);
	assert_int_equal(p->nsni, 0);
	/* Listeners know their profile by name and by index. */
	assert_string_equal(c->listeners[0].tls, "site");
	assert_int_equal(c->listeners[0].tls_index, 0);
	assert_int_equal(c->listeners[1].tls_index, 1);
	assert_null(c->listeners[2].tls);
	assert_int_equal(c->listeners[2].tls_index, -1);
	assert_null(c->warnings);
	assert_true(c->tls_ticket_rotation == 3600.0);
}

WT_TEST(tls_both_syntaxes)
{
	struct conf *a = load_text_ok("tls.conf", CONF_TLS);
	struct conf *b = load_text_ok("tls.ini", INI_TLS);
	char *da, *db;

	check_site(a);
	check_site(b);
	da = dump(a);
	db = dump(b);
	assert_string_equal(da, db);
	assert_non_null(strstr(da,
	    "\n[tls.site]\ncert = /etc/weft/site.crt\n"
	    "key = /etc/weft/site.key\nalpn = h2, http/1.1\n"
	    "client_ca = /etc/weft/ca.pem\nverify_client = optional\n"
	    "protocols = TLSv1.3\nciphers = ECDHE+AESGCM\n"
	    "ciphersuites = TLS_AES_128_GCM_SHA256\n"
	    "handshake_timeout = 2.5\nsession_tickets = false\n"
	    "[tls.site.sni #1]\nnames = a.example, *.b.example\n"));
	assert_non_null(strstr(da, "\nmax_connections = 0\ntls = site\n"));
	assert_non_null(strstr(da, "\n[tls.plain]\n"));
	assert_non_null(strstr(da,
	    "protocols = (default)\nciphers = (default)\n"));
	assert_non_null(strstr(da, "\ntls_ticket_rotation = 3600\n"));
	free(da);
	free(db);
	config_free(a);
	config_free(b);
}

/* The issue's own example, word for word, and its INI twin. */
WT_TEST(tls_issue_example)
{
	struct conf *a, *b;
	char *da, *db;

	a = load_text_ok("ex.conf",
	    CONF_PLUGIN
	    "tls = { site = { cert = \"/etc/weft/site.crt\"; "
	    "key = \"/etc/weft/site.key\"; }; };\n"
	    "listen = ( { tcp = \"0.0.0.0:443\"; plugin = \"echo\"; "
	    "tls = \"site\"; } );\n");
	/* INI listeners are named by their section: compare with one. */
	b = load_text_ok("ex2.ini",
	    INI_PLUGIN "[tls.site]\ncert = /etc/weft/site.crt\n"
		       "key = /etc/weft/site.key\n[listen.s]\n"
		       "tcp = 0.0.0.0:443\nplugin = echo\ntls = site\n");
	assert_int_equal(a->listeners[0].tls_index, 0);
	assert_int_equal(b->listeners[0].tls_index, 0);
	da = dump(a);
	db = dump(b);
	assert_non_null(strstr(da, "[listen #1]\n"));
	assert_non_null(strstr(db, "[listen.s]\n"));
	/* Everything after the listener's header is the same. */
	assert_string_equal(strstr(da, "tcp = 0.0.0.0:443"),
	    strstr(db, "tcp = 0.0.0.0:443"));
	free(da);
	free(db);
	config_free(a);
	config_free(b);
}

WT_TEST(tls_relative_paths_and_ca_default)
{
	struct conf *c;
	char *cwd = getcwd(NULL, 0), *want;

	c = load_text_ok("rel.ini",
	    INI_PLUGIN "[tls.s]\ncert = c/s.crt\nkey = ./s.key\n"
		       "client_ca = ca.pem\nalpn = \"h2\"\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = s\n");
	assert_true(asprintf(&want, "%s/c/s.crt", cwd) > 0);
	assert_string_equal(c->tls[0].cert, want);
	free(want);
	assert_true(asprintf(&want, "%s/s.key", cwd) > 0);
	assert_string_equal(c->tls[0].key, want);
	free(want);
	/* A client CA without verify_client asks for a certificate. */
	assert_int_equal(c->tls[0].verify_client, CONF_VERIFY_REQUIRED);
	free(cwd);
	config_free(c);
}

WT_TEST(tls_unused_profile_warns)
{
	struct conf *c;
	char *p, *want;

	p = put("unused.conf",
	    CONF_PLUGIN "tls = {\n  a = { cert = \"/a\"; key = \"/k\"; };\n"
			"  b = { cert = \"/a\"; key = \"/k\"; };\n};\n"
			"listen = ( { tcp = \":1\"; plugin = \"echo\"; "
			"tls = \"b\"; } );\n");
	c = load_ok(p);
	want = expand("F:3: tls profile \"a\" is not used by any listener", p);
	assert_non_null(c->warnings);
	assert_string_equal(c->warnings, want);
	free(want);
	free(p);
	config_free(c);
}

/* ---- Errors ------------------------------------------------------------- */

WT_TEST(err_tls_unknown_profile)
{
	load_fails("t1.conf",
	    CONF_PLUGIN "tls = { site = { cert = \"/c\"; key = \"/k\"; }; };\n"
			"listen = ( { tcp = \":1\"; plugin = \"echo\";\n"
			"  tls = \"stie\"; } );\n",
	    "F:4: listener #1: tls profile \"stie\" is not defined");
	load_fails("t1.ini",
	    INI_PLUGIN "[tls.site]\ncert = /c\nkey = /k\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = stie\n",
	    "F:9: listener \"a\": tls profile \"stie\" is not defined");
}

WT_TEST(err_tls_missing_cert_key)
{
	load_fails("t2.conf",
	    CONF_PLUGIN "tls = {\n  site = { alpn = \"h2\"; };\n"
			"  k = { cert = \"/c\"; };\n};\n"
			"listen = ( { tcp = \":1\"; plugin = \"echo\"; "
			"tls = \"site\"; }, { tcp = \":2\"; plugin = \"echo\"; "
			"tls = \"k\"; } );\n",
	    "F:3: tls profile \"site\": missing cert\n"
	    "F:3: tls profile \"site\": missing key\n"
	    "F:4: tls profile \"k\": missing key");
	load_fails("t2.ini",
	    INI_PLUGIN "[tls.site]\nkey = /k\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = site\n",
	    "F:3: tls profile \"site\": missing cert");
}

WT_TEST(err_tls_unknown_key)
{
	load_fails("t3.conf",
	    CONF_PLUGIN "tls = { site = { cert = \"/c\"; key = \"/k\";\n"
			"  crt = \"/x\"; }; };\n"
			"listen = ( { tcp = \":1\"; plugin = \"echo\"; "
			"tls = \"site\"; } );\n",
	    "F:3: unknown key \"crt\" in tls profile \"site\"");
	load_fails("t3.ini",
	    INI_PLUGIN "[tls.site]\ncert = /c\nkey = /k\nsesion_tickets = no\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = site\n",
	    "F:6: unknown key \"sesion_tickets\" in tls profile \"site\"");
}

WT_TEST(err_tls_verify_client)
{
	load_fails("t4.conf",
	    CONF_PLUGIN
	    "tls = { site = { cert = \"/c\"; key = \"/k\";\n"
	    "  client_ca = \"/ca\"; verify_client = \"yes\"; }; };\n"
	    "listen = ( { tcp = \":1\"; plugin = \"echo\"; "
	    "tls = \"site\"; } );\n",
	    "F:3: verify_client: \"yes\" is not \"required\", \"optional\" "
	    "or \"none\"");
	load_fails("t4.ini",
	    INI_PLUGIN "[tls.site]\ncert = /c\nkey = /k\n"
		       "verify_client = required\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = site\n",
	    "F:6: tls profile \"site\": verify_client needs client_ca");
}

WT_TEST(err_tls_values)
{
	load_fails("t5.conf",
	    CONF_PLUGIN "tls = { site = { cert = \"/c\"; key = \"/k\";\n"
			"  protocols = [ \"SSLv3\" ];\n"
			"  alpn = [ 1, 2 ];\n"
			"  handshake_timeout = \"soon\";\n"
			"  session_tickets = \"maybe\";\n"
			"}; };\n"
			"listen = ( { tcp = \":1\"; plugin = \"echo\"; "
			"tls = \"site\"; } );\n",
	    "F:3: protocols: unknown protocol \"SSLv3\" (use TLSv1.2, "
	    "TLSv1.3)\n"
	    "F:4: alpn: expected a string\n"
	    "F:5: handshake_timeout: expected a number\n"
	    "F:6: session_tickets: expected a boolean (true or false)");
	load_fails("t5.ini",
	    INI_PLUGIN "[tls.site]\ncert = /c\nkey = /k\nalpn =\n"
		       "handshake_timeout = 0\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = site\n",
	    "F:6: alpn: must not be empty\n"
	    "F:7: handshake_timeout: 0 is out of range: must be > 0 and "
	    "<= 86400");
}

WT_TEST(err_tls_sni)
{
	load_fails("t6.conf",
	    CONF_PLUGIN
	    "tls = { site = { cert = \"/c\"; key = \"/k\";\n"
	    "  sni = ( { names = [ \"a\" ]; cert = \"/a\"; },\n"
	    "          { cert = \"/b\"; key = \"/b\"; nmes = 1; } );\n"
	    "}; };\n"
	    "listen = ( { tcp = \":1\"; plugin = \"echo\"; "
	    "tls = \"site\"; } );\n",
	    "F:3: tls profile \"site\": sni #1: missing key\n"
	    "F:4: unknown key \"nmes\" in sni #2 of tls profile \"site\"\n"
	    "F:4: tls profile \"site\": sni #2: missing names");
	load_fails("t6.ini",
	    INI_PLUGIN "[tls.other.sni.a]\nnames = x\n"
		       "[tls.site]\ncert = /c\nkey = /k\nsni = x\n"
		       "[tls.site.sni.a]\nnames = a\ncert = /a\nkey = /a\n"
		       "[tls.site.sni.a]\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = site\n",
	    "F:3: [tls.other.sni.a]: no [tls.other] above it\n"
	    "F:8: sni: in INI, write a [tls.NAME.sni.LABEL] section\n"
	    "F:13: section [tls.site.sni.a] given twice");
}

WT_TEST(err_tls_profiles)
{
	load_fails("t7.conf",
	    CONF_PLUGIN "tls = {\n  a = { cert = \"/c\"; key = \"/k\"; };\n"
			"  b = 5;\n};\n"
			"listen = ( { tcp = \":1\"; plugin = \"echo\"; "
			"tls = \"a\"; } );\n",
	    "F:4: tls profile \"b\": expected a group { cert = \"...\"; key = "
	    "\"...\"; }");
	load_fails("t7.ini",
	    INI_PLUGIN "[tls.a]\ncert = /c\nkey = /k\n[tls.a]\n[tls]\n"
		       "[tls.b!]\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = a\n",
	    "F:6: tls profile \"a\" defined twice (first at line 3)\n"
	    "F:7: section [tls] needs a name: [tls.NAME]\n"
	    "F:8: bad tls profile name \"b!\" (letters, digits, '-' and "
	    "'_')");
	load_fails("t8.conf", CONF_PLUGIN "tls = \"site\";\n",
	    "F:2: tls: expected a group: tls = { NAME = { cert = \"...\"; key "
	    "= \"...\"; }; };");
	load_fails("t8.ini", "tls = site\n" INI_PLUGIN,
	    "F:1: tls: in INI, write a [tls.NAME] section");
	load_fails("t9.ini",
	    INI_PLUGIN "[tls.a]\ncert = /c\ncert = /d\nkey = /k\n"
		       "[listen.a]\ntcp = :1\nplugin = echo\ntls = a\n",
	    "F:5: cert: given twice (first at line 4)");
}

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
