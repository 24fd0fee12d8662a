/*
 * fetcher: an out-of-tree weftd plugin that fetches over HTTP/1.0 on a
 * client's behalf, under three nested timeouts.
 *
 * The client sends one request per line, "HOST:PORT [PATH]" (PATH
 * defaults to "/"), and gets back either
 *	OK LEN\n	then the upstream's whole response, LEN bytes (status
 *			line, headers and body, as the upstream sent them), or
 *	ERR REASON\n	a timeout (naming the setting that ran out), a refused
 *			or failed connection, a bad request line, a response
 *			over max_response.
 * Then the next request; "quit" or EOF ends the connection.
 *
 * The timeouts nest as asyncio.timeout() blocks do: an inner one can
 * only shorten what is left of the outer one.
 *	idle_timeout	one whole request: waiting for its line, then
 *			serving it (default 30 s); the connection is closed
 *			when it runs out while waiting for a line
 *	fetch_timeout	the fetch: connect, send, read the response (10 s)
 *	connect_timeout	the connect alone (3 s)
 *	max_response	largest response relayed, bytes (default 1048576)
 *
 * Built with nothing but libweft's pkg-config file:
 *
 *	cc $(pkg-config --cflags --libs weft) -shared -fPIC -o fetcher.so fetcher.c
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/server.h>
#include <weft/stream.h>

struct fetcher {
	int64_t idle_ms, fetch_ms, connect_ms;
	int64_t max_response;
};

/* Which of the nested timeouts is the one in force. */
struct limit {
	const char *name;
	int64_t ms;
};

/* One request's target. */
struct target {
	char host[WEFT_HOST_MAX];
	int port;
	char path[1024];
};

/* A reply line; a failed write shows at the next drain. */
static void say(weft_writer_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(weft_writer_t *w, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	weft_write(w, buf, (size_t)n);
	weft_write(w, "\n", 1);
}

/*
 * Called first thing inside a WEFT_DEADLINE_SCOPE(ms) block, with the
 * deadline from before it: if the scope shortened it, the setting name
 * is now the one in force.
 */
static void
in_force(struct limit *lim, weft_deadline_t outer, const char *name, int64_t ms)
{
	if (outer == WEFT_DEADLINE_NONE || weft_deadline_get() < outer) {
		lim->name = name;
		lim->ms = ms;
	}
}

/* Connect within connect_timeout, inside what is left of the others. */
static int
upstream_connect(const struct fetcher *f, weft_writer_t *w,
    const struct target *t, struct limit lim, weft_reader_t **ur,
    weft_writer_t **uw)
{
	weft_stream_opts_t opts = { .limit = 65536 };
	weft_deadline_t outer = weft_deadline_get();
	int rc;

	WEFT_DEADLINE_SCOPE(f->connect_ms);
	in_force(&lim, outer, "connect_timeout", f->connect_ms);
	rc = weft_open_connection(t->host, t->port, &opts, ur, uw);
	if (rc == WEFT_ETIMEDOUT)
		say(w,
		    "ERR timeout: no connection to %s:%d within %s (%lld ms)",
		    t->host, t->port, lim.name, (long long)lim.ms);
	else if (rc != 0)
		say(w, "ERR cannot connect to %s:%d: %s", t->host, t->port,
		    weft_strerror(rc));
	return rc;
} /* the scope ends: the fetch's deadline is back */

/* Send the request, relay the whole response. */
static void
upstream_relay(const struct fetcher *f, weft_writer_t *w,
    const struct target *t, struct limit lim, weft_reader_t *ur,
    weft_writer_t *uw)
{
	weft_slice_t resp;
	char req[1400];
	int n, rc;

	n = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: weft-fetcher\r\n"
	    "Connection: close\r\n\r\n",
	    t->path, t->host, t->port);
	rc = weft_write(uw, req, (size_t)n);
	if (rc == 0)
		rc = weft_drain(uw);
	if (rc == 0)
		rc = weft_read_all(ur, (size_t)f->max_response, &resp);
	if (rc == 0) {
		say(w, "OK %zu", resp.len);
		weft_write(w, resp.base, resp.len);
	} else if (rc == WEFT_ETIMEDOUT)
		say(w,
		    "ERR timeout: no complete response from %s:%d "
		    "within %s (%lld ms)",
		    t->host, t->port, lim.name, (long long)lim.ms);
	else if (rc == WEFT_ELIMIT)
		say(w,
		    "ERR response from %s:%d is over max_response "
		    "(%lld bytes)",
		    t->host, t->port, (long long)f->max_response);
	else
		say(w, "ERR fetching from %s:%d: %s", t->host, t->port,
		    weft_strerror(rc));
}

/* One fetch within fetch_timeout, inside what is left of idle_timeout. */
static void
fetch(const struct fetcher *f, weft_writer_t *w, const struct target *t,
    struct limit lim)
{
	weft_reader_t *ur;
	weft_writer_t *uw;
	weft_deadline_t outer = weft_deadline_get();

	WEFT_DEADLINE_SCOPE(f->fetch_ms);
	in_force(&lim, outer, "fetch_timeout", f->fetch_ms);
	if (upstream_connect(f, w, t, lim, &ur, &uw) != 0)
		return;
	upstream_relay(f, w, t, lim, ur, uw);
	weft_stream_free(uw); /* closes the upstream connection */
}

/* "HOST:PORT [PATH]" into t; 0, or -1 after an ERR line. */
static int
parse_request(weft_writer_t *w, weft_slice_t line, struct target *t)
{
	char text[WEFT_HOST_MAX + 1100], msg[128] = "", *sp;
	size_t len = line.len;

	while (len > 0 &&
	    (line.base[len - 1] == '\n' || line.base[len - 1] == '\r'))
		len--;
	if (len >= sizeof(text)) {
		say(w, "ERR request line too long");
		return -1;
	}
	memcpy(text, line.base, len);
	text[len] = '\0';
	snprintf(t->path, sizeof(t->path), "/");
	if ((sp = strchr(text, ' ')) != NULL) {
		*sp++ = '\0';
		if (*sp != '/' || strlen(sp) >= sizeof(t->path) ||
		    strpbrk(sp, " \t\r") != NULL) {
			say(w, "ERR bad path: want /... without blanks");
			return -1;
		}
		snprintf(t->path, sizeof(t->path), "%s", sp);
	}
	if (weft_hostport_parse(text, t->host, sizeof(t->host), &t->port, msg,
		sizeof(msg)) != 0 ||
	    t->host[0] == '\0' || t->port == 0) {
		say(w, "ERR bad request: want HOST:PORT [PATH]%s%s",
		    msg[0] != '\0' ? ": " : "", msg);
		return -1;
	}
	return 0;
}

/* "quit", with or without "\r\n". */
static int
is_quit(weft_slice_t line)
{
	size_t len = line.len;

	while (len > 0 &&
	    (line.base[len - 1] == '\n' || line.base[len - 1] == '\r'))
		len--;
	return len == 4 && memcmp(line.base, "quit", 4) == 0;
}

static void
fetcher_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	const struct fetcher *f = state;
	struct limit idle = { "idle_timeout", f->idle_ms };
	struct target t;
	weft_slice_t line;
	int rc;

	for (;;) {
		/* Each request gets idle_timeout, its line and its fetch. */
		weft_deadline_set((uint64_t)f->idle_ms);
		rc = weft_readline(r, &line);
		if (rc == WEFT_ETIMEDOUT) {
			say(w, "ERR idle for %lld ms: closing",
			    (long long)f->idle_ms);
			break;
		}
		if (rc == WEFT_ELIMIT) {
			say(w, "ERR request line too long");
			continue;
		}
		if (rc != 0 || line.len == 0 || is_quit(line))
			break;
		t.host[0] = '\0';
		if (parse_request(w, line, &t) == 0)
			fetch(f, w, &t, idle);
		if (weft_drain(w) != 0)
			break;
	}
	weft_deadline_clear();
}

static int
fetcher_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct fetcher *f;
	int64_t idle = weft_setting_ms(ctx, "idle_timeout", 30000);
	int64_t fetch = weft_setting_ms(ctx, "fetch_timeout", 10000);
	int64_t conn = weft_setting_ms(ctx, "connect_timeout", 3000);
	int64_t max = weft_setting_int(ctx, "max_response", 1048576);

	if (idle < 1)
		return weft_plugin_error(ctx, "idle_timeout", "must be > 0");
	if (fetch < 1)
		return weft_plugin_error(ctx, "fetch_timeout", "must be > 0");
	if (conn < 1)
		return weft_plugin_error(ctx, "connect_timeout", "must be > 0");
	if (max < 1 || max > (int64_t)1 << 30)
		return weft_plugin_error(ctx, "max_response",
		    "must be 1 to 1073741824, not %lld", (long long)max);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -ENOMEM;
	f->idle_ms = idle;
	f->fetch_ms = fetch;
	f->connect_ms = conn;
	f->max_response = max;
	*state = f;
	return 0;
}

static void
fetcher_fini(void *state)
{
	free(state);
}

WEFT_PLUGIN(fetcher, .init = fetcher_init, .client_connected = fetcher_client,
    .fini = fetcher_fini);
