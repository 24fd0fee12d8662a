/*
 * The shipped proxy plugin with TLS, over loopback: origination to a
 * libweft TLS echo server (verified, the wrong name, an unknown CA, the
 * checks turned off, mTLS with and without a client certificate), TLS
 * termination (a TLS listener in front of the proxy, a plain upstream),
 * and the settings init refuses.  Certificates come from
 * tests/tls/mkcerts.sh at test time.  The plugin's warnings are caught
 * with a log sink.
 */
#include "plugins_net_util.h"

#include <weft/tls.h>

static char certdir[] = "/tmp/weft-proxy-tls.XXXXXX";
static char logbuf[16384];

/* The path of a file of certdir (a few at a time). */
static const char *
cert(const char *name)
{
	static char buf[8][256];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", certdir, name);
	return p;
}

static void
log_sink(int level, const char *msg)
{
	size_t n = strlen(logbuf);

	(void)level;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

/* A context from tests/tls's files: a server on stem's pair (and with
 * client_ca, requiring a client certificate), or a client trusting ca. */
static weft_tls_ctx_t *
ctx_make(int server, const char *stem, const char *ca)
{
	static char crt[256], key[256];
	weft_tls_cert_t c;
	weft_tls_opts_t o;
	weft_tls_ctx_t *ctx = NULL;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	o.server = server;
	if (stem != NULL) {
		snprintf(crt, sizeof(crt), "%s/%s.crt", certdir, stem);
		snprintf(key, sizeof(key), "%s/%s.key", certdir, stem);
		c.cert = crt;
		c.key = key;
		o.certs = &c;
		o.ncerts = 1;
	}
	if (ca != NULL) {
		o.ca_file = cert(ca);
		if (server)
			o.verify = WEFT_TLS_VERIFY_REQUIRED;
	}
	if (weft_tls_ctx_new(&o, &ctx) != 0)
		fail_msg("weft_tls_ctx_new: %s", weft_tls_error(NULL));
	return ctx;
}

/* ---- The TLS upstream ----------------------------------------------------- */

/* What the upstream saw of its last client. */
struct upstream {
	int conns;
	int ends;
	char sni[64];
	int peer_cert;
	int eof_clean;
};

/* Echo to EOF, noting the SNI, the client's certificate and its EOF. */
static void
h_upstream(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct upstream *u = arg;
	weft_tls_info_t info;
	weft_slice_t s;
	ssize_t n;

	u->conns++;
	memset(&info, 0, sizeof(info));
	if (weft_tls_info(w, &info, sizeof(info)) == 0) {
		snprintf(u->sni, sizeof(u->sni), "%s",
		    info.server_name != NULL ? info.server_name : "");
		u->peer_cert = weft_tls_peer_cert(w, NULL, 0) > 0;
	}
	while ((n = weft_read_slice(r, 65536, &s)) > 0)
		if (weft_write(w, s.base, s.len) != 0 || weft_drain(w) != 0)
			break;
	memset(&info, 0, sizeof(info));
	if (n == 0 && weft_tls_info(w, &info, sizeof(info)) == 0)
		u->eof_clean = info.eof_clean;
	u->ends++;
}

/* A TLS echo server on loopback with stem's certificate (and with ca,
 * one that requires a client certificate of that CA). */
static weft_server_t *
tls_upstream(const char *stem, const char *ca, struct upstream *u)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;

	memset(u, 0, sizeof(*u));
	memset(&opts, 0, sizeof(opts));
	opts.ssl = ctx_make(1, stem, ca);
	assert_int_equal(weft_start_server(h_upstream, u, LOCALHOST, 0, &opts,
			     &srv),
	    0);
	weft_tls_ctx_free(opts.ssl); /* the server holds its reference */
	return srv;
}

/* Wait (up to 10 s) for the upstream to see n connections end. */
static void
ends_wait(struct upstream *u, int n)
{
	int i;

	for (i = 0; i < 1000 && u->ends < n; i++)
		weft_sleep(10);
	assert_int_equal(u->ends, n);
}

/* The proxy with kv (NULL-terminated pairs) in front of "host:port". */
static struct plugin *
proxy_load(struct stanza *st, const char *host, int port, const char **kv)
{
	static char addr[128];

	snprintf(addr, sizeof(addr), "%s:%d", host, port);
	kv[0] = "upstream";
	kv[1] = addr;
	return load_with(st, "proxy", "proxy.so", kv);
}

/* Through the proxy at port: an echo, 1 MiB both ways, then the client's
 * half-close, which the proxy cannot pass on over TLS: it closes the
 * upstream with close_notify, and the client gets EOF. */
static void
echo_through(int port, struct upstream *u)
{
	weft_reader_t *r;
	weft_writer_t *w;
	int ends = u->ends;

	connect_tcp(port, &r, &w);
	send_str(w, "ping\n");
	expect(r, "ping\n");
	roundtrip_big(r, w, sizeof(big));
	assert_int_equal(weft_write_eof(w), 0);
	expect_eof(r);
	client_done(w);
	ends_wait(u, ends + 1);
	assert_int_equal(u->eof_clean, 1);
}

/* Through the proxy at port: the client is closed without a byte of the
 * upstream's, and the proxy's warning has want in it. */
static void
refused_through(int port, const char *want)
{
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	const char *p;
	int rc, i;

	logbuf[0] = '\0';
	connect_tcp(port, &r, &w);
	/* Sent before the proxy may have closed: the write may fail. */
	(void)weft_write(w, "ping\n", 5);
	rc = weft_read_all(r, 0, &all);
	if (rc != 0 && rc != -ECONNRESET)
		fail_msg("expected the proxy to close: %s", weft_err_name(rc));
	if (rc == 0 && all.len != 0)
		fail_msg("expected nothing, got \"%.*s\"", (int)all.len,
		    all.base);
	client_done(w);
	/* The warning comes as the handler ends, maybe after our EOF. */
	for (i = 0; i < 500 && strstr(logbuf, want) == NULL; i++)
		weft_sleep(10);
	if (strstr(logbuf, want) == NULL)
		fail_msg("no warning with \"%s\" in:\n%s", want, logbuf);
	/* Once for this client. */
	for (i = 0, p = logbuf; (p = strstr(p, "proxy: upstream ")) != NULL;
	     i++, p++)
		;
	assert_int_equal(i, 1);
}

/* Verified against the test CA: by IP address (no SNI) and by name. */
WT_CASE(proxy_tls_origination)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	const char *kv[7] = { NULL, NULL, "upstream_tls", "true", "upstream_ca",
		cert("ca.crt"), NULL };

	up = tls_upstream("server", NULL, &u);
	p = proxy_load(&st, LOCALHOST, weft_server_port(up), kv);
	echo_through(serve(p, 0, &srv), &u);
	assert_string_equal(u.sni, ""); /* no SNI for an address */
	assert_int_equal(u.peer_cert, 0);
	server_done(&srv);
	plugin_unload(&p);

	p = proxy_load(&st, "localhost", weft_server_port(up), kv);
	echo_through(serve(p, 0, &srv), &u);
	assert_string_equal(u.sni, "localhost");
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

/* A certificate for another name: refused, with OpenSSL's reason; the
 * name given by upstream_server_name, or none with "", is accepted. */
WT_CASE(proxy_tls_wrong_name)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	const char *kv[9] = { NULL, NULL, "upstream_tls", "true", "upstream_ca",
		cert("ca.crt"), NULL, NULL, NULL };
	int port;

	weft_log_set_sink(log_sink);
	up = tls_upstream("other", NULL, &u);
	port = weft_server_port(up);
	p = proxy_load(&st, "localhost", port, kv);
	refused_through(serve(p, 0, &srv), "TLS handshake failed: ");
	assert_non_null(strstr(logbuf, "proxy: upstream localhost:"));
	assert_non_null(strstr(logbuf, "hostname mismatch"));
	server_done(&srv);
	plugin_unload(&p);
	p = proxy_load(&st, LOCALHOST, port, kv);
	refused_through(serve(p, 0, &srv), "IP address mismatch");
	server_done(&srv);
	plugin_unload(&p);
	assert_int_equal(u.conns, 0); /* no handler ran upstream */

	kv[6] = "upstream_server_name";
	kv[7] = "other.example";
	p = proxy_load(&st, LOCALHOST, port, kv);
	echo_through(serve(p, 0, &srv), &u);
	assert_string_equal(u.sni, "other.example");
	server_done(&srv);
	plugin_unload(&p);
	kv[7] = "";
	p = proxy_load(&st, "localhost", port, kv);
	echo_through(serve(p, 0, &srv), &u);
	assert_string_equal(u.sni, "");
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

/* A CA the proxy does not trust (another one, or the system's store):
 * refused; with upstream_verify = false, served. */
WT_CASE(proxy_tls_unknown_ca)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	const char *kv[9] = { NULL, NULL, "upstream_tls", "true", "upstream_ca",
		cert("ca2.crt"), NULL, NULL, NULL };
	int port;

	weft_log_set_sink(log_sink);
	up = tls_upstream("server", NULL, &u);
	port = weft_server_port(up);
	p = proxy_load(&st, "localhost", port, kv);
	refused_through(serve(p, 0, &srv),
	    "TLS handshake failed: certificate verify failed");
	server_done(&srv);
	plugin_unload(&p);
	kv[4] = NULL; /* the system's trust store */
	p = proxy_load(&st, "localhost", port, kv);
	refused_through(serve(p, 0, &srv),
	    "TLS handshake failed: certificate verify failed");
	server_done(&srv);
	plugin_unload(&p);
	assert_int_equal(u.conns, 0);

	logbuf[0] = '\0';
	kv[4] = "upstream_ca";
	kv[6] = "upstream_verify";
	kv[7] = "false";
	p = proxy_load(&st, "localhost", port, kv);
	assert_non_null(strstr(logbuf, "upstream_verify = false"));
	echo_through(serve(p, 0, &srv), &u);
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

/* An upstream that requires a client certificate: the proxy's, from
 * upstream_cert and upstream_key, is taken; without one the upstream
 * ends the connection (in TLS 1.3 after the proxy's handshake, at the
 * first read) and the proxy says why. */
WT_CASE(proxy_tls_mtls)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	const char *kv[11] = { NULL, NULL, "upstream_tls", "true",
		"upstream_ca", cert("ca.crt"), "upstream_cert",
		cert("client.crt"), "upstream_key", cert("client.key"), NULL };

	weft_log_set_sink(log_sink);
	up = tls_upstream("server", "ca.crt", &u);
	p = proxy_load(&st, "localhost", weft_server_port(up), kv);
	echo_through(serve(p, 0, &srv), &u);
	assert_int_equal(u.peer_cert, 1);
	server_done(&srv);
	plugin_unload(&p);

	kv[6] = NULL;
	p = proxy_load(&st, "localhost", weft_server_port(up), kv);
	refused_through(serve(p, 0, &srv), "certificate required");
	assert_non_null(strstr(logbuf, "proxy: upstream localhost:"));
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

/* An upstream that takes the connection and never answers. */
static void
h_silent(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	weft_slice_t s;

	(void)w;
	(void)arg;
	while (weft_read_slice(r, 65536, &s) > 0)
		;
}

/* connect_timeout covers the handshake: an upstream that never answers
 * the ClientHello holds the client no longer than that. */
WT_CASE(proxy_tls_handshake_timeout)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *up = NULL, *srv;
	const char *kv[7] = { NULL, NULL, "upstream_tls", "true",
		"connect_timeout", "0.5", NULL };

	weft_log_set_sink(log_sink);
	assert_int_equal(weft_start_server(h_silent, NULL, LOCALHOST, 0, NULL,
			     &up),
	    0);
	p = proxy_load(&st, LOCALHOST, weft_server_port(up), kv);
	assert_int_equal(weft_deadline_set(20000), 0); /* the test's bound */
	refused_through(serve(p, 0, &srv),
	    "not connected within connect_timeout (500 ms)");
	weft_deadline_clear();
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

/* ---- TLS termination ------------------------------------------------------ */

/* A plain upstream: "hi\n" first, then echo line by line; "quit\n" gets
 * "bye\n" and a close, EOF (noted) gets "eof\n". */
static void
h_plain(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct upstream *u = arg;
	weft_slice_t line;
	int rc;

	u->conns++;
	weft_write(w, "hi\n", 3);
	while ((rc = weft_readline(r, &line)) == 0 && line.len > 0) {
		if (line.len == 5 && memcmp(line.base, "quit\n", 5) == 0) {
			weft_write(w, "bye\n", 4);
			break;
		}
		if (weft_write(w, line.base, line.len) != 0 ||
		    weft_drain(w) != 0)
			break;
	}
	if (rc == 0 && line.len == 0) {
		u->eof_clean = 1; /* here: the EOF came */
		weft_write(w, "eof\n", 4);
	}
	u->ends++;
}

/* A TLS listener with the proxy as its handler, a plain upstream: the
 * proxy sees plaintext.  The client's close_notify reaches the upstream
 * as a half-close; the upstream's last line and close reach the client,
 * closed with close_notify. */
WT_CASE(proxy_tls_termination)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv = NULL;
	weft_stream_opts_t sopts, copts;
	weft_tls_info_t info;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	const char *kv[3] = { NULL, NULL, NULL };
	size_t i;

	memset(&u, 0, sizeof(u));
	up = NULL;
	assert_int_equal(weft_start_server(h_plain, &u, LOCALHOST, 0, NULL,
			     &up),
	    0);
	p = proxy_load(&st, LOCALHOST, weft_server_port(up), kv);
	memset(&sopts, 0, sizeof(sopts));
	sopts.ssl = ctx_make(1, "server", NULL);
	assert_int_equal(weft_start_server(p->p_desc->client_connected,
			     p->p_state, LOCALHOST, 0, &sopts, &srv),
	    0);
	memset(&copts, 0, sizeof(copts));
	copts.ssl = ctx_make(0, NULL, "ca.crt");
	copts.server_hostname = "localhost";
	assert_int_equal(weft_open_connection(LOCALHOST, weft_server_port(srv),
			     &copts, &r, &w),
	    0);
	expect(r, "hi\n");
	send_str(w, "ping\n");
	expect(r, "ping\n");
	for (i = 0; i < sizeof(big); i++) /* lines the upstream echoes */
		big[i] = i % 1024 == 1023 ? '\n' : (char)('a' + i % 26);
	assert_int_equal(weft_write(w, big, sizeof(big)), 0);
	assert_int_equal(weft_readexactly(r, back, sizeof(back), NULL), 0);
	assert_memory_equal(big, back, sizeof(big));
	/* A TLS client cannot half-close: it closes (close_notify). */
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	ends_wait(&u, 1);
	assert_int_equal(u.eof_clean, 1);

	/* The upstream ends first: its bytes, then a clean TLS EOF. */
	r = NULL;
	w = NULL;
	assert_int_equal(weft_open_connection(LOCALHOST, weft_server_port(srv),
			     &copts, &r, &w),
	    0);
	expect(r, "hi\n");
	send_str(w, "quit\n");
	expect(r, "bye\n");
	expect_eof(r);
	memset(&info, 0, sizeof(info));
	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	assert_int_equal(info.eof_clean, 1);
	client_done(w);
	ends_wait(&u, 2);
	server_done(&srv);
	server_done(&up);
	weft_tls_ctx_free(sopts.ssl);
	weft_tls_ctx_free(copts.ssl);
	plugin_unload(&p);
}

/* ---- Settings ------------------------------------------------------------- */

WT_TEST(proxy_tls_settings_refused)
{
	char want[512];
	const char *missing[] = { "upstream", "127.0.0.1:1", "upstream_tls",
		"true", "upstream_ca", "/nonexistent/ca.crt", NULL };
	const char *notpem[] = { "upstream", "127.0.0.1:1", "upstream_tls",
		"true", "upstream_ca", cert("server.key"), NULL };
	const char *badkey[] = { "upstream", "127.0.0.1:1", "upstream_tls",
		"true", "upstream_cert", cert("client.crt"), "upstream_key",
		cert("other.key"), NULL };
	static const char *const nokey[] = { "upstream", "127.0.0.1:1",
		"upstream_tls", "true", "upstream_cert", "/c.crt", NULL };
	static const char *const notls[] = { "upstream", "127.0.0.1:1",
		"upstream_ca", "/ca.crt", NULL };
	static const char *const noverify[] = { "upstream", "127.0.0.1:1",
		"upstream_verify", "false", NULL };
	static const char *const unixname[] = { "upstream", "unix:/up.sock",
		"upstream_tls", "true", NULL };
	static const char *const notbool[] = { "upstream", "127.0.0.1:1",
		"upstream_tls", "maybe", NULL };

	refused("proxy", "proxy.so", missing,
	    "test.conf:4: plugin \"proxy\": setting 'upstream_ca': "
	    "/nonexistent/ca.crt: no such file");
	snprintf(want, sizeof(want),
	    "test.conf:4: plugin \"proxy\": setting 'upstream_ca': %s: "
	    "no certificate or crl found",
	    cert("server.key"));
	refused("proxy", "proxy.so", notpem, want);
	snprintf(want, sizeof(want),
	    "test.conf:5: plugin \"proxy\": setting 'upstream_key': %s: "
	    "key values mismatch",
	    cert("other.key"));
	refused("proxy", "proxy.so", badkey, want);
	refused("proxy", "proxy.so", nokey,
	    "test.conf:4: plugin \"proxy\": setting 'upstream_cert': "
	    "upstream_cert and upstream_key go together");
	refused("proxy", "proxy.so", notls,
	    "test.conf:3: plugin \"proxy\": setting 'upstream_ca': needs "
	    "upstream_tls = true");
	refused("proxy", "proxy.so", noverify,
	    "test.conf:3: plugin \"proxy\": setting 'upstream_verify': needs "
	    "upstream_tls = true");
	refused("proxy", "proxy.so", unixname,
	    "test.conf:1: plugin \"proxy\": setting 'upstream_server_name': "
	    "required with upstream_tls to a unix: upstream (the name to "
	    "check, or \"\" for none)");
	refused("proxy", "proxy.so", notbool,
	    "test.conf:3: plugin \"proxy\": setting 'upstream_tls': expected a "
	    "boolean (true/false, yes/no, on/off, 1/0), got 'maybe'");
}

int
main(int argc, char **argv)
{
	char cmd[512];
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-plugnet-XXXXXX");
	if (mkdtemp(tmpdir) == NULL || mkdtemp(certdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", MKCERTS, certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "%s failed\n", cmd);
		return 1;
	}
	WT_TIMEOUT(120);
	rc = wt_run_cases(argc, argv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	if (system(cmd) != 0)
		rc = 1;
	rmdir(tmpdir);
	return rc;
}
