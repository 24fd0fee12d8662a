/*
 * metrics: weftd's metrics over HTTP, for Prometheus.  `GET /metrics`
 * (the `path` setting) answers the whole daemon's counters, every worker
 * summed, in the text exposition format 0.0.4, as weft_metrics_read()
 * gives them (doc/weftd.conf.md lists them).  HEAD gets the same head.
 * Any other path is a 404, any other method a 405.
 *
 * One request per connection: the response says "Connection: close",
 * which every scraper handles, and nothing of a client is kept between
 * two scrapes.  The request's head must fit the listener's limit (431
 * otherwise) and arrive within header_timeout (default 10 s, then the
 * connection closes: 408 if part of it came); the response must reach
 * the kernel within send_timeout (default 10 s), or the connection is
 * aborted.  After the response the connection is half-closed and what
 * the client still sends is read and dropped for a second at most, so
 * that unread input does not make the kernel reset the response away.
 *
 * A scrape allocates its response (a few kilobytes); it is not a hot
 * path.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/stream.h>

#define TIMEOUT_DEFAULT_MS 10000
#define TIMEOUT_MAX_MS (86400 * 1000)
#define LINGER_MS 1000
#define PATH_MAX_LEN 256

struct metrics {
	char m_path[PATH_MAX_LEN];
	uint64_t m_header_ms; /* 0: none */
	uint64_t m_send_ms;   /* 0: none */
	size_t m_hint;	      /* the largest text yet, for the first try */
};

static const char resp_400[] = "HTTP/1.1 400 Bad Request\r\n"
			       "Content-Length: 0\r\n"
			       "Connection: close\r\n\r\n";
static const char resp_404[] = "HTTP/1.1 404 Not Found\r\n"
			       "Content-Length: 0\r\n"
			       "Connection: close\r\n\r\n";
static const char resp_405[] = "HTTP/1.1 405 Method Not Allowed\r\n"
			       "Allow: GET, HEAD\r\n"
			       "Content-Length: 0\r\n"
			       "Connection: close\r\n\r\n";
static const char resp_408[] = "HTTP/1.1 408 Request Timeout\r\n"
			       "Content-Length: 0\r\n"
			       "Connection: close\r\n\r\n";
static const char resp_431[] =
    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n\r\n";
static const char resp_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
			       "Content-Length: 0\r\n"
			       "Connection: close\r\n\r\n";

/*
 * The request line of head: the method (GET or HEAD: *head says which)
 * and the target's path (without its query) must be what we serve.
 * Returns the response to send when it is not, NULL when it is.
 */
static const char *
check_request(const struct metrics *m, const char *p, size_t n, int *head)
{
	const char *sp1, *sp2, *end, *q;
	size_t mlen, tlen;

	end = memchr(p, '\r', n);
	if (end == NULL || (sp1 = memchr(p, ' ', (size_t)(end - p))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) == NULL ||
	    (size_t)(end - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return resp_400;
	mlen = (size_t)(sp1 - p);
	*head = mlen == 4 && memcmp(p, "HEAD", 4) == 0;
	if (!(mlen == 3 && memcmp(p, "GET", 3) == 0) && !*head)
		return resp_405;
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	tlen = (size_t)((q != NULL ? q : sp2) - sp1 - 1);
	if (tlen != strlen(m->m_path) || memcmp(sp1 + 1, m->m_path, tlen) != 0)
		return resp_404;
	return NULL;
}

/* Hand what is queued to the kernel within send_timeout, or abort. */
static int
flush(const struct metrics *m, weft_writer_t *w)
{
	int rc;

	if (m->m_send_ms != 0)
		weft_deadline_set(m->m_send_ms);
	rc = weft_drain(w);
	weft_deadline_clear();
	if (rc == WEFT_ETIMEDOUT)
		weft_abort(w);
	return rc;
}

/* Send len bytes of resp, then a lingering close. */
static void
send_close(const struct metrics *m, weft_reader_t *r, weft_writer_t *w,
    const char *resp, size_t len)
{
	weft_slice_t s;

	if (weft_write(w, resp, len) != 0 || flush(m, w) != 0 ||
	    weft_write_eof(w) != 0)
		return;
	weft_deadline_set(LINGER_MS);
	while (weft_read_slice(r, 65536, &s) > 0)
		;
	weft_deadline_clear();
}

/* The 200 response: head and the metrics' text in one buffer (NULL if
 * there is none); *len its length, *hlen its head's. */
static char *
build_response(struct metrics *m, size_t *len, size_t *hlen)
{
	char head[160], *buf = NULL, *more;
	size_t size = m->m_hint + 4096;
	ssize_t n;
	int h, tries;

	for (tries = 0; tries < 4; tries++) {
		if ((more = realloc(buf, size + sizeof(head))) == NULL)
			break;
		buf = more;
		n = weft_metrics_read(WEFT_METRICS_PROMETHEUS,
		    buf + sizeof(head), size);
		if (n < 0)
			break;
		if ((size_t)n < size) {
			if ((size_t)n > m->m_hint)
				m->m_hint = (size_t)n;
			h = snprintf(head, sizeof(head),
			    "HTTP/1.1 200 OK\r\n"
			    "Content-Type: text/plain; version=0.0.4; "
			    "charset=utf-8\r\n"
			    "Content-Length: %zu\r\n"
			    "Connection: close\r\n\r\n",
			    (size_t)n);
			/* The head goes right before the text. */
			memcpy(buf + sizeof(head) - (size_t)h, head, (size_t)h);
			memmove(buf, buf + sizeof(head) - (size_t)h,
			    (size_t)h + (size_t)n);
			*hlen = (size_t)h;
			*len = (size_t)h + (size_t)n;
			return buf;
		}
		size = (size_t)n + 4096;
	}
	free(buf);
	return NULL;
}

static void
metrics_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	struct metrics *m = state;
	weft_slice_t s;
	const char *err;
	char *resp;
	size_t len, hlen;
	int rc, head = 0;

	weft_writer_set_limits(w, 0, 0);
	if (m->m_header_ms != 0)
		weft_deadline_set(m->m_header_ms);
	rc = weft_readuntil(r, "\r\n\r\n", 4, &s);
	weft_deadline_clear();
	if (rc == WEFT_ETIMEDOUT && weft_reader_buffer(r).len > 0)
		err = resp_408;
	else if (rc == WEFT_ELIMIT)
		err = resp_431;
	else if (rc != 0)
		return; /* EOF, silence or an error: nobody to answer */
	else
		err = check_request(m, s.base, s.len, &head);
	if (err == NULL && (resp = build_response(m, &len, &hlen)) != NULL) {
		send_close(m, r, w, resp, head ? hlen : len);
		free(resp);
		return;
	}
	if (err == NULL)
		err = resp_503;
	send_close(m, r, w, err, strlen(err));
}

static int
metrics_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct metrics *m;
	const char *path;
	int64_t header, send;
	int bad = 0;

	path = weft_setting_str(ctx, "path", "/metrics");
	header = weft_setting_ms(ctx, "header_timeout", TIMEOUT_DEFAULT_MS);
	send = weft_setting_ms(ctx, "send_timeout", TIMEOUT_DEFAULT_MS);
	if (path[0] != '/' || strlen(path) >= PATH_MAX_LEN ||
	    strpbrk(path, " ?#\r\n\t") != NULL)
		bad = weft_plugin_error(ctx, "path",
		    "must start with / and have no space, ? or # (at most %d "
		    "bytes)",
		    PATH_MAX_LEN - 1);
	if (header > TIMEOUT_MAX_MS)
		bad = weft_plugin_error(ctx, "header_timeout",
		    "must be from 0 (no timeout) to 86400 seconds");
	if (send > TIMEOUT_MAX_MS)
		bad = weft_plugin_error(ctx, "send_timeout",
		    "must be from 0 (no timeout) to 86400 seconds");
	if (bad != 0)
		return bad;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return weft_plugin_error(ctx, NULL, "out of memory");
	snprintf(m->m_path, sizeof(m->m_path), "%s", path);
	m->m_header_ms = (uint64_t)header;
	m->m_send_ms = (uint64_t)send;
	*state = m;
	return 0;
}

static void
metrics_fini(void *state)
{
	free(state);
}

WEFT_PLUGIN(metrics, .init = metrics_init, .client_connected = metrics_client,
    .fini = metrics_fini);
