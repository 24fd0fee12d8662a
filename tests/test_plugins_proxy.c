/*
 * The shipped proxy plugin over loopback (tests/plugins_net_util.h):
 * TCP and UNIX upstreams, an upstream that is down, and its connect and
 * idle timeouts.
 */
#include "plugins_net_util.h"

/* ---- proxy -------------------------------------------------------------- */

/* The upstream: echo to EOF, then one more line after the client's
 * half-close, then close. */
struct upstream {
	int conns;
	int saw_eof;
};

static void
h_upstream(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct upstream *u = arg;
	weft_slice_t s;
	ssize_t n;

	u->conns++;
	while ((n = weft_read_slice(r, 65536, &s)) > 0)
		if (weft_write(w, s.base, s.len) != 0 || weft_drain(w) != 0)
			return;
	if (n == 0) {
		u->saw_eof++;
		weft_write(w, "bye\n", 4);
	}
}

/* Through the proxy at port: echo, 1 MiB both ways, half-close. */
static void
proxy_session(int port, struct upstream *u)
{
	weft_reader_t *r;
	weft_writer_t *w;
	int eofs = u->saw_eof;

	connect_tcp(port, &r, &w);
	send_str(w, "ping\n");
	expect(r, "ping\n");
	roundtrip_big(r, w, sizeof(big));
	/* Half-close: our EOF reaches the upstream, which still answers;
	 * its close then reaches us. */
	send_str(w, "abc");
	assert_int_equal(weft_write_eof(w), 0);
	expect(r, "abc");
	expect(r, "bye\n");
	expect_eof(r);
	assert_int_equal(u->saw_eof, eofs + 1);
	client_done(w);

	/* A client that sends nothing and shuts down at once. */
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write_eof(w), 0);
	expect(r, "bye\n");
	expect_eof(r);
	assert_int_equal(u->saw_eof, eofs + 2);
	client_done(w);
}

WT_CASE(proxy_tcp)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	char addr[64];
	int port;

	memset(&u, 0, sizeof(u));
	up = NULL;
	assert_int_equal(weft_start_server(h_upstream, &u, LOCALHOST, 0, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, weft_server_port(up));
	p = load(&st, "proxy", "proxy.so", "upstream", addr);
	port = serve(p, 0, &srv);
	proxy_session(port, &u);
	assert_int_equal(u.conns, 2);
	server_done(&srv);
	server_done(&up);
	plugin_unload(&p);
}

WT_CASE(proxy_unix)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	char path[128], addr[160];
	int port;

	memset(&u, 0, sizeof(u));
	snprintf(path, sizeof(path), "%s/up.sock", tmpdir);
	up = NULL;
	assert_int_equal(weft_start_unix_server(h_upstream, &u, path, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	p = load(&st, "proxy", "proxy.so", "upstream", addr);
	port = serve(p, 0, &srv);
	proxy_session(port, &u);
	server_done(&srv);
	server_done(&up);
	plugin_unload(&p);
}

/* Nothing listens upstream: the client is closed. */
WT_CASE(proxy_upstream_down)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *gone, *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	char addr[128];
	int port, rc;

	/* A port that was just free: bind, note it, close. */
	gone = NULL;
	assert_int_equal(weft_start_server(h_upstream, NULL, LOCALHOST, 0, NULL,
			     &gone),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST,
	    weft_server_port(gone));
	server_done(&gone);
	p = load(&st, "proxy", "proxy.so", "upstream", addr);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	rc = weft_read_all(r, 0, &all);
	assert_true(rc == 0 || rc == -ECONNRESET);
	if (rc == 0)
		assert_int_equal(all.len, 0);
	client_done(w);

	/* Same for a UNIX path with nothing behind it. */
	server_done(&srv);
	plugin_unload(&p);
	snprintf(addr, sizeof(addr), "unix:%s/nobody.sock", tmpdir);
	p = load(&st, "proxy", "proxy.so", "upstream", addr);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	rc = weft_read_all(r, 0, &all);
	assert_true(rc == 0 || rc == -ECONNRESET);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
}

/* An upstream that speaks first: six ticks 100 ms apart, then close. */
static void
h_ticker(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	int i;

	(void)r;
	(void)arg;
	for (i = 0; i < 6; i++) {
		weft_sleep(100);
		if (weft_write(w, "t\n", 2) != 0 || weft_drain(w) != 0)
			return;
	}
}

/* idle_timeout: a pair with no byte moving either way is closed; bytes in
 * one direction only keep it open. */
static void
body_proxy_idle(void *arg)
{
	struct upstream u;
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char addr[64];
	const char *kv[5] = { "upstream", addr, "idle_timeout", "0.3", NULL };
	double t0;
	int port, i;

	(void)arg;
	memset(&u, 0, sizeof(u));
	up = NULL;
	assert_int_equal(weft_start_server(h_upstream, &u, LOCALHOST, 0, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, weft_server_port(up));
	p = load_with(&st, "proxy", "proxy.so", kv);
	port = serve(p, 0, &srv);
	/* Exchanges 150 ms apart, 750 ms in all, then silence: closed, not
	 * before the timeout. */
	connect_tcp(port, &r, &w);
	for (i = 0; i < 5; i++) {
		weft_sleep(150);
		send_str(w, "ping\n");
		expect(r, "ping\n");
	}
	t0 = now_ms();
	expect_eof(r);
	assert_true(now_ms() - t0 >= 200);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);

	/* A silent client while the upstream talks for 600 ms: every tick
	 * arrives, then the upstream's close. */
	up = NULL;
	assert_int_equal(weft_start_server(h_ticker, NULL, LOCALHOST, 0, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, weft_server_port(up));
	p = load_with(&st, "proxy", "proxy.so", kv);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	for (i = 0; i < 6; i++)
		expect(r, "t\n");
	expect_eof(r);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

/*
 * A listener that answers no SYN: listen(0) and never accept, then two
 * connects.  The first fills the accept queue; Linux drops SYNs to a
 * listener whose queue is full, so the second, and every connect after
 * it, waits in SYN-SENT through the kernel's retries (about two
 * minutes).  fds[0] is the listener, fds[1..2] the fillers.
 */
static int
black_hole(int fds[3])
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fds[0] = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fds[0], (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fds[0], 0), 0);
	assert_int_equal(getsockname(fds[0], (struct sockaddr *)&sin, &len), 0);
	for (i = 1; i <= 2; i++) {
		assert_true((fds[i] = socket(AF_INET,
				 SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0);
		if (connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)) != 0)
			assert_int_equal(errno, EINPROGRESS);
		weft_sleep(50); /* let the first handshake land */
	}
	return ntohs(sin.sin_port);
}

/* connect_timeout: an upstream that never answers the SYN.  With a 1 s
 * timeout the client is closed; before, it waited out the kernel's two
 * minutes of SYN retries.  The test's wait has a bound of its own. */
static void
body_proxy_connect_timeout(void *arg)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	char addr[64];
	const char *kv[5] = { "upstream", addr, "connect_timeout", "1", NULL };
	double t0;
	int fds[3], port, rc, i;

	(void)arg;
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, black_hole(fds));
	p = load_with(&st, "proxy", "proxy.so", kv);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	t0 = now_ms();
	assert_int_equal(weft_deadline_set(20000), 0);
	rc = weft_read_all(r, 0, &all);
	weft_deadline_clear();
	if (rc != 0 && rc != -ECONNRESET)
		fail_msg("expected the proxy to close: %s", weft_err_name(rc));
	assert_true(now_ms() - t0 >= 900);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
	for (i = 0; i < 3; i++)
		close(fds[i]);
}

WT_TEST(proxy_connect_timeout)
{
	static const char *const neg[] = { "upstream", "127.0.0.1:1",
		"connect_timeout", "-1", NULL };
	static const char *const word[] = { "upstream", "127.0.0.1:1",
		"connect_timeout", "later", NULL };

	wt_run(body_proxy_connect_timeout, NULL);
	refused("proxy", "proxy.so", neg,
	    "test.conf:3: plugin \"proxy\": setting 'connect_timeout': expected "
	    "a duration of 0 or more seconds, got '-1'");
	refused("proxy", "proxy.so", word,
	    "test.conf:3: plugin \"proxy\": setting 'connect_timeout': expected "
	    "a number, got 'later'");
}

/* An upstream that sends 8 MiB at once, then waits for the client. */
static void
h_flood(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	char *p;
	weft_slice_t s;

	(void)arg;
	if ((p = calloc(1, 8 << 20)) == NULL)
		return;
	(void)weft_write(w, p, 8 << 20);
	free(p);
	while (weft_read_slice(r, 65536, &s) > 0)
		;
}

/* idle_timeout with a client that does not read: the pair is stalled,
 * so idle, and both connections go, where a close would have waited for
 * the client to read what the proxy had queued for it. */
static void
body_proxy_idle_stalled(void *arg)
{
	struct stanza st;
	struct plugin *p;
	weft_server_t *up, *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char addr[64];
	const char *kv[5] = { "upstream", addr, "idle_timeout", "0.5", NULL };
	int port, i, rcvbuf = 4096;

	(void)arg;
	up = NULL;
	assert_int_equal(weft_start_server(h_flood, NULL, LOCALHOST, 0, NULL,
			     &up),
	    0);
	snprintf(addr, sizeof(addr), "%s:%d", LOCALHOST, weft_server_port(up));
	p = load_with(&st, "proxy", "proxy.so", kv);
	port = serve(p, 0, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(setsockopt(weft_fileno(w), SOL_SOCKET, SO_RCVBUF,
			     &rcvbuf, sizeof(rcvbuf)),
	    0);
	send_str(w, "go\n");
	/* Up to 20 s (slow builds) for the proxy to let go. */
	for (i = 0; i < 400 &&
	     (weft_server_connections(srv) > 0 ||
		 weft_server_connections(up) > 0);
	     i++)
		weft_sleep(50);
	assert_int_equal(weft_server_connections(srv), 0);
	assert_int_equal(weft_server_connections(up), 0);
	client_done(w);
	server_done(&srv);
	plugin_unload(&p);
	server_done(&up);
}

WT_TEST(proxy_idle_timeout)
{
	static const char *const neg[] = { "upstream", "127.0.0.1:1",
		"idle_timeout", "-1", NULL };

	wt_run(body_proxy_idle, NULL);
	wt_run(body_proxy_idle_stalled, NULL);
	refused("proxy", "proxy.so", neg,
	    "test.conf:3: plugin \"proxy\": setting 'idle_timeout': expected a "
	    "duration of 0 or more seconds, got '-1'");
}

int
main(int argc, char **argv)
{
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-plugnet-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	WT_TIMEOUT(120);
	rc = wt_run_cases(argc, argv);
	rmdir(tmpdir);
	return rc;
}
