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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/server.h>
#include <weft/stream.h>

#define PROXY_CHUNK (64 * 1024)
#define PROXY_HINT "expected host:port, [v6addr]:port or unix:/path"

struct proxy {
	char *x_addr;	/* the setting as written, for log lines */
	char *x_host;	/* TCP host, or NULL for UNIX */
	int x_port;
	char *x_path;	/* UNIX path, or NULL for TCP */
};

/* One direction. */
struct pump {
	weft_reader_t *u_from;
	weft_writer_t *u_to;
	weft_writer_t *u_from_w;  /* the writer of u_from's connection */
	int u_failed;
};

static void
pump_run(struct pump *u)
{
	weft_slice_t s;
	ssize_t n;

	while ((n = weft_read_slice(u->u_from, PROXY_CHUNK, &s)) > 0) {
		if (weft_write(u->u_to, s.base, s.len) != 0 ||
		    weft_drain(u->u_to) != 0) {
			n = -1;
			break;
		}
	}
	if (n == 0) {
		/* EOF: pass the half-close on; the other direction goes on. */
		weft_write_eof(u->u_to);
		return;
	}
	/* A reset, a write to a gone peer, a cancellation: tear both
	 * connections down.  Closing makes the other pump's read see EOF
	 * and its writes fail, so it ends as well. */
	u->u_failed = 1;
	weft_close(u->u_to);
	weft_close(u->u_from_w);
}

static void
pump_fiber(void *arg)
{
	pump_run(arg);
}

static void
proxy_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	const struct proxy *x = state;
	weft_reader_t *ur = NULL;
	weft_writer_t *uw = NULL;
	struct pump *pp, *up, *down;
	weft_fiber_t *f = NULL;
	int rc;

	if (x->x_path != NULL)
		rc = weft_open_unix_connection(x->x_path, NULL, &ur, &uw);
	else
		rc = weft_open_connection(x->x_host, x->x_port, NULL, &ur, &uw);
	if (rc != 0) {
		weft_log(WEFT_LOG_WARNING, "proxy: upstream %s: %s",
		    x->x_addr, weft_strerror(rc));
		return;
	}
	/* The pumps live on the heap, not on this fiber's stack: the other
	 * fiber uses one, and with fiber_stacks = shared a parked fiber's
	 * stack is not where its address says. */
	if ((pp = calloc(2, sizeof(*pp))) == NULL) {
		weft_stream_free(uw);
		return;
	}
	up = &pp[0];
	down = &pp[1];
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
	weft_close(uw);
	if (!up->u_failed && !down->u_failed)
		weft_wait_closed(uw);	/* flush the last bytes upstream */
	weft_stream_free(uw);
	free(pp);
}

/* Parse "unix:/path", "[v6]:port" or "host:port"; 0 or -1. */
static int
parse_upstream(struct proxy *x, const char *s)
{
	const char *colon, *host, *end;
	size_t hlen;
	char *pend;
	long port;

	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] == '\0' ||
		    strlen(s + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return -1;
		return (x->x_path = strdup(s + 5)) == NULL ? -1 : 0;
	}
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1;
	} else {
		/* A bare IPv6 address would be ambiguous: brackets only. */
		if ((colon = strchr(s, ':')) == NULL ||
		    strchr(colon + 1, ':') != NULL)
			return -1;
		host = s;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || colon[1] < '0' || colon[1] > '9')
		return -1;
	port = strtol(colon + 1, &pend, 10);
	if (*pend != '\0' || port < 1 || port > 65535)
		return -1;
	if ((x->x_host = strndup(host, hlen)) == NULL)
		return -1;
	x->x_port = (int)port;
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
	free(x);
}

static int
proxy_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct proxy *x;
	const char *up;

	up = weft_setting_str(ctx, "upstream", NULL);
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
	*state = x;
	return 0;
}

WEFT_PLUGIN(proxy,
    .init = proxy_init,
    .client_connected = proxy_client,
    .fini = proxy_fini);
