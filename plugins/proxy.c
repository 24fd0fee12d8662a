/*
 * proxy: forward each client connection to an upstream TCP or UNIX
 * address, bytes both ways, half-close included.
 *
 * Setting `upstream` (required): "host:port", "[v6addr]:port" or
 * "unix:/path".  It is parsed once in init; a missing or malformed value
 * fails init with the setting's line.
 *
 * Per client: connect to the upstream (the handler's fiber waits, the
 * worker does not); if that fails, the client is closed.  Then two pumps
 * move bytes, one per direction: the handler's own fiber carries
 * client -> upstream, a second fiber upstream -> client.  Each pump is
 * read_slice -> write -> drain, zero-copy on the read side.  A clean EOF
 * on one side becomes weft_write_eof on the other, so a client that shuts
 * down its write side still gets the upstream's whole answer.  An error
 * in either direction closes both connections, which ends the other pump
 * too.  When both directions are done the upstream connection is closed
 * and released and the handler returns, which closes the client.
 *
 * Setting `idle_timeout` (seconds, default 600, 0 = none), as nginx's
 * stream proxy_timeout: when no byte has moved in either direction for
 * that long, both connections are closed.  Each pump waits with a fiber
 * deadline; one that times out looks at the pair's last activity (either
 * direction) and waits again if the connection as a whole is not idle,
 * so a long download with a silent client is not cut.  A connection
 * stalled on a peer that does not read counts as idle too; a timed-out
 * pair is aborted (weft_abort), not closed, since a close would wait for
 * that peer to read what is queued.
 *
 * Setting `connect_timeout` (seconds, default 60, 0 = none), as nginx's
 * proxy_connect_timeout: the name lookup and the connect to the upstream
 * must be done within it, or the client is closed with a warning.
 * idle_timeout starts only once the upstream is connected, so without it
 * an upstream that drops SYNs held each client for the kernel's two
 * minutes of retries.
 *
 * TLS to the upstream (doc/plugins.md, "proxy"): `upstream_tls = true`
 * makes one client context in init, from `upstream_ca` (default: the
 * system trust store), `upstream_cert` and `upstream_key` (mTLS) and
 * `upstream_verify` (false only for tests); every upstream connect uses
 * it, with `upstream_server_name` as SNI and the name checked (default:
 * the upstream's host; "" neither).  connect_timeout covers the
 * handshake too.  TLS from the client is the listener's (weftd's `tls`):
 * the plugin sees plaintext either way.  TLS has no half-close
 * (doc/tls.md), so an EOF that cannot be passed on as one closes that
 * side with close_notify instead, as a proxy without half-close would.
 *
 * Warnings about a failing upstream (a refused connect, a failed
 * handshake with OpenSSL's reason) come once per client; the daemon's
 * logger rate-limits repeats (weftd(8), "Logging").
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/server.h>
#include <weft/stream.h>
#include <weft/tls.h>

#define PROXY_CHUNK (64 * 1024)
#define IDLE_DEFAULT 600
#define CONNECT_DEFAULT 60
#define TIMEOUT_MAX 86400
#define PROXY_HINT "expected host:port, [v6addr]:port or unix:/path"

struct proxy {
	char *x_addr; /* the setting as written, for log lines */
	char *x_host; /* TCP host, or NULL for UNIX */
	int x_port;
	char *x_path;		   /* UNIX path, or NULL for TCP */
	uint64_t x_idle_ms;	   /* idle_timeout; 0 = none */
	uint64_t x_connect_ms;	   /* connect_timeout; 0 = none */
	weft_tls_ctx_t *x_tls;	   /* upstream_tls: the client context */
	weft_stream_opts_t x_opts; /* the upstream connect's, with x_tls */
};

/* One direction. */
struct pump {
	weft_reader_t *u_from;
	weft_writer_t *u_to;
	weft_writer_t *u_from_w; /* the writer of u_from's connection */
	uint64_t *u_last;	 /* last activity of the pair, ms */
	uint64_t u_idle_ms;
	int u_failed;
	int u_timedout; /* ended by idle_timeout */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	/* Coarse is enough for a timeout in seconds, and the cheapest. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * After a wait timed out: 1 if the pair has been idle for idle_timeout
 * (give up), else 0 with a new deadline at the pair's last activity
 * plus idle_timeout (wait again).
 */
static int
pump_idle(struct pump *u)
{
	uint64_t now = now_ms(), idle = now - *u->u_last;

	if (idle >= u->u_idle_ms)
		return 1;
	weft_deadline_set(u->u_idle_ms - idle);
	return 0;
}

static ssize_t
pump_read(struct pump *u, weft_slice_t *s)
{
	ssize_t n;

	while ((n = weft_read_slice(u->u_from, PROXY_CHUNK, s)) ==
		WEFT_ETIMEDOUT &&
	    !pump_idle(u))
		;
	return n;
}

static int
pump_drain(struct pump *u)
{
	int rc;

	while ((rc = weft_drain(u->u_to)) == WEFT_ETIMEDOUT && !pump_idle(u))
		;
	return rc;
}

static void
pump_run(struct pump *u)
{
	weft_slice_t s;
	ssize_t n;
	int rc = 0;

	if (u->u_idle_ms != 0)
		weft_deadline_set(u->u_idle_ms);
	while ((n = pump_read(u, &s)) > 0) {
		/* A coarse vDSO clock read and a store.  The deadline is not
		 * moved here: when it passes, pump_idle looks at this time and
		 * sets the next one, so a busy pair costs nothing more. */
		if (u->u_idle_ms != 0)
			*u->u_last = now_ms();
		if (weft_write(u->u_to, s.base, s.len) != 0 ||
		    (rc = pump_drain(u)) != 0) {
			/* A drain stalled for idle_timeout is a timeout too:
			 * abort, for a close would wait for that flush. */
			n = rc == WEFT_ETIMEDOUT ? WEFT_ETIMEDOUT : -1;
			break;
		}
	}
	if (n == 0) {
		/* EOF: pass the half-close on; the other direction goes on.
		 * A TLS side cannot half-close: close it (close_notify), which
		 * ends the other direction as well. */
		if (weft_can_write_eof(u->u_to))
			weft_write_eof(u->u_to);
		else
			weft_close(u->u_to);
		weft_deadline_clear();
		return;
	}
	u->u_timedout = n == WEFT_ETIMEDOUT;
	weft_deadline_clear();
	/* A reset, a write to a gone peer, a cancellation: tear both
	 * connections down.  Closing makes the other pump's read see EOF
	 * and its writes fail, so it ends as well.  After idle_timeout,
	 * abort: the pair may be stalled on a peer that does not read, and
	 * a close would wait for it to take what is queued. */
	u->u_failed = 1;
	if (u->u_timedout) {
		weft_abort(u->u_to);
		weft_abort(u->u_from_w);
	} else {
		weft_close(u->u_to);
		weft_close(u->u_from_w);
	}
}

static void
pump_fiber(void *arg)
{
	pump_run(arg);
}

/* Say once why this client's upstream connection failed. */
static void
connect_failed(const struct proxy *x, int rc)
{
	const char *why;

	if (rc == WEFT_ETIMEDOUT) {
		weft_log(WEFT_LOG_WARNING,
		    "proxy: upstream %s: not connected "
		    "within connect_timeout (%llu ms)",
		    x->x_addr, (unsigned long long)x->x_connect_ms);
		return;
	}
	/* OpenSSL's reason (or "the handshake timed out") is the thread's
	 * last TLS error, this handshake's: nothing ran in between. */
	if (rc == WEFT_ETLS || rc == WEFT_ETLSVERIFY ||
	    (rc == -ECONNABORTED && x->x_tls != NULL)) {
		why = weft_tls_error(NULL);
		weft_log(WEFT_LOG_WARNING,
		    "proxy: upstream %s: TLS handshake failed: %s", x->x_addr,
		    why[0] != '\0' ? why : weft_strerror(rc));
	} else
		weft_log(WEFT_LOG_WARNING, "proxy: upstream %s: %s", x->x_addr,
		    weft_strerror(rc));
}

static void
proxy_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	const struct proxy *x = state;
	weft_reader_t *ur = NULL;
	weft_writer_t *uw = NULL;
	struct pump *pp, *up, *down;
	weft_fiber_t *f = NULL;
	uint64_t *last;
	int rc;

	/* The deadline covers the name lookup too: it is part of
	 * weft_open_connection. */
	if (x->x_connect_ms != 0)
		weft_deadline_set(x->x_connect_ms);
	if (x->x_path != NULL)
		rc = weft_open_unix_connection(x->x_path, &x->x_opts, &ur, &uw);
	else
		rc = weft_open_connection(x->x_host, x->x_port, &x->x_opts, &ur,
		    &uw);
	weft_deadline_clear();
	if (rc != 0) {
		connect_failed(x, rc);
		return;
	}
	/* The pumps live on the heap, not on this fiber's stack: the other
	 * fiber uses one, and with fiber_stacks = shared a parked fiber's
	 * stack is not where its address says. */
	if ((pp = calloc(1, 2 * sizeof(*pp) + sizeof(*last))) == NULL) {
		weft_stream_free(uw);
		return;
	}
	up = &pp[0];
	down = &pp[1];
	last = (uint64_t *)(void *)&pp[2];
	*last = now_ms();
	up->u_last = down->u_last = last;
	up->u_idle_ms = down->u_idle_ms = x->x_idle_ms;
	up->u_from = r;
	up->u_to = uw;
	up->u_from_w = w;
	down->u_from = ur;
	down->u_to = w;
	down->u_from_w = uw;
	if ((rc = weft_spawn(pump_fiber, down, &f)) != 0) {
		weft_log(WEFT_LOG_WARNING, "proxy: cannot start a fiber: %s",
		    weft_strerror(rc));
		weft_stream_free(uw);
		free(pp);
		return;
	}
	weft_fiber_set_name(f, "proxy-down");
	pump_run(up);
	/* The other pump uses both connections: it must end before we
	 * return.  A cancelled or timed-out join is retried after making
	 * sure it is on its way out. */
	while (weft_join(f) != 0) {
		weft_close(uw);
		weft_close(w);
		weft_cancel(f);
		weft_deadline_clear();
	}
	if (up->u_timedout || down->u_timedout)
		weft_log(WEFT_LOG_INFO, "proxy: idle for %llu ms, closing",
		    (unsigned long long)x->x_idle_ms);
	/* A TLS 1.3 client's handshake ends before the server has checked
	 * it: an upstream that refuses our certificate (or its absence)
	 * says so on the first read. */
	if (x->x_tls != NULL && (up->u_failed || down->u_failed) &&
	    weft_tls_error(uw)[0] != '\0')
		weft_log(WEFT_LOG_WARNING, "proxy: upstream %s: TLS: %s",
		    x->x_addr, weft_tls_error(uw));
	weft_close(uw);
	if (!up->u_failed && !down->u_failed)
		weft_wait_closed(uw); /* flush the last bytes upstream */
	weft_stream_free(uw);
	free(pp);
}

/*
 * Parse "unix:/path" or a TCP address (weft_hostport_parse's forms, but a
 * host and a port are needed to connect to); 0 or -1.
 */
static int
parse_upstream(struct proxy *x, const char *s)
{
	char host[WEFT_HOST_MAX];
	int port;

	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] == '\0' ||
		    strlen(s + 5) >=
			sizeof(((struct sockaddr_un *)0)->sun_path))
			return -1;
		return (x->x_path = strdup(s + 5)) == NULL ? -1 : 0;
	}
	if (weft_hostport_parse(s, host, sizeof(host), &port, NULL, 0) != 0 ||
	    host[0] == '\0' || port == 0)
		return -1;
	if ((x->x_host = strdup(host)) == NULL)
		return -1;
	x->x_port = port;
	return 0;
}

static void
proxy_fini(void *state)
{
	struct proxy *x = state;

	if (x == NULL)
		return;
	free(x->x_addr);
	free(x->x_host);
	free(x->x_path);
	weft_tls_ctx_free(x->x_tls);
	free(x);
}

/* The upstream_* TLS settings, read together (all must be read). */
struct proxy_tls {
	int tls, verify;
	const char *ca, *name, *cert, *key;
};

/*
 * Which setting a weft_tls_ctx_new reason is about: the one whose file
 * starts it.  With why NULL, the first TLS setting that is set.
 */
static const char *
tls_culprit(const struct proxy_tls *t, const char *why)
{
	const char *val[4] = { t->ca, t->cert, t->key, t->name };
	const char *key[5] = { "upstream_ca", "upstream_cert", "upstream_key",
		"upstream_server_name", "upstream_verify" };
	size_t i, n;

	for (i = 0; i < 4; i++) {
		if (val[i] == NULL)
			continue;
		if (why == NULL)
			return key[i];
		n = strlen(val[i]);
		if (i < 3 && strncmp(why, val[i], n) == 0 && why[n] == ':')
			return key[i];
	}
	return why == NULL && !t->verify ? key[4] : NULL;
}

/* Check the TLS settings and make the client context; 0 or an error
 * already reported. */
static int
tls_setup(weft_plugin_ctx_t *ctx, struct proxy *x, const struct proxy_tls *t)
{
	weft_tls_opts_t o;
	weft_tls_cert_t c;
	const char *why, *k;
	int rc;

	/* Set without upstream_tls, they would go unused over a plain
	 * connection the config's author thought was TLS. */
	if (!t->tls)
		return (k = tls_culprit(t, NULL)) != NULL
		    ? weft_plugin_error(ctx, k, "needs upstream_tls = true")
		    : 0;
	if ((t->cert == NULL) != (t->key == NULL))
		return weft_plugin_error(ctx,
		    t->cert == NULL ? "upstream_key" : "upstream_cert",
		    "upstream_cert and upstream_key go together");
	/* A UNIX path is no name to check the certificate against. */
	if (x->x_path != NULL && t->name == NULL && t->verify)
		return weft_plugin_error(ctx, "upstream_server_name",
		    "required with upstream_tls to a unix: upstream (the "
		    "name to check, or \"\" for none)");
	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	o.ca_file = t->ca;
	o.verify = t->verify ? WEFT_TLS_VERIFY_DEFAULT : WEFT_TLS_VERIFY_NONE;
	if (t->cert != NULL) {
		c.cert = t->cert;
		c.key = t->key;
		o.certs = &c;
		o.ncerts = 1;
	}
	if ((rc = weft_tls_ctx_new(&o, &x->x_tls)) != 0) {
		x->x_tls = NULL;
		why = weft_tls_error(NULL);
		return weft_plugin_error(ctx, tls_culprit(t, why), "%s",
		    why[0] != '\0' ? why : weft_strerror(rc));
	}
	if (!t->verify)
		weft_log(WEFT_LOG_WARNING,
		    "proxy: upstream %s: upstream_verify = false, its "
		    "certificate is not checked (for tests only)",
		    x->x_addr);
	x->x_opts.ssl = x->x_tls;
	x->x_opts.server_hostname = t->name;
	return 0;
}

static int
proxy_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct proxy *x;
	struct proxy_tls t;
	const char *up;
	int64_t idle, conn;
	int bad = 0;

	/* All read first: a setting not read counts as unknown. */
	up = weft_setting_str(ctx, "upstream", NULL);
	idle = weft_setting_ms(ctx, "idle_timeout", IDLE_DEFAULT * 1000);
	conn = weft_setting_ms(ctx, "connect_timeout", CONNECT_DEFAULT * 1000);
	t.tls = weft_setting_bool(ctx, "upstream_tls", 0);
	t.ca = weft_setting_str(ctx, "upstream_ca", NULL);
	t.name = weft_setting_str(ctx, "upstream_server_name", NULL);
	t.cert = weft_setting_str(ctx, "upstream_cert", NULL);
	t.key = weft_setting_str(ctx, "upstream_key", NULL);
	t.verify = weft_setting_bool(ctx, "upstream_verify", 1);
	if (idle > TIMEOUT_MAX * 1000)
		bad = weft_plugin_error(ctx, "idle_timeout",
		    "must be from 0 (no timeout) to %g seconds, not %g",
		    (double)TIMEOUT_MAX, (double)idle / 1000);
	if (conn > TIMEOUT_MAX * 1000)
		bad = weft_plugin_error(ctx, "connect_timeout",
		    "must be from 0 (no timeout) to %g seconds, not %g",
		    (double)TIMEOUT_MAX, (double)conn / 1000);
	if (bad != 0)
		return bad;
	if (up == NULL)
		return weft_plugin_error(ctx, "upstream",
		    "required (" PROXY_HINT ")");
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->x_addr = strdup(up)) == NULL) {
		free(x);
		return -ENOMEM;
	}
	if (parse_upstream(x, up) != 0) {
		proxy_fini(x);
		return weft_plugin_error(ctx, "upstream",
		    "bad address '%s' (" PROXY_HINT ")", up);
	}
	x->x_idle_ms = (uint64_t)idle;
	x->x_connect_ms = (uint64_t)conn;
	if ((bad = tls_setup(ctx, x, &t)) != 0) {
		proxy_fini(x);
		return bad;
	}
	*state = x;
	return 0;
}

WEFT_PLUGIN(proxy, .init = proxy_init, .client_connected = proxy_client,
    .fini = proxy_fini);
