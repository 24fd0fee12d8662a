/*
 * http-hello: a minimal HTTP/1.1 keep-alive responder.  Every well-formed
 * request gets "200 OK" with the same fixed text/plain body, the
 * `body` setting (default "Hello, world!\n"); HEAD gets the same head and
 * no body.  Useful as a benchmark target and as an example of a real
 * protocol handler on weft's reader: weft_readuntil for the head,
 * weft_read_slice for a request body, fiber deadlines for timeouts.
 *
 * What it does with a request:
 *   - The head (request line and headers, up to the blank line) must fit
 *     the listener's limit, or the answer is 431 and the connection
 *     closes.
 *   - Request line METHOD SP TARGET SP HTTP/1.x; anything else (and a
 *     malformed header, a folded header line, a bad or conflicting
 *     Content-Length, an HTTP/1.1 request without exactly one Host) is a
 *     400 Bad Request, and the connection closes.
 *   - Content-Length: the body is read and thrown away ("Expect:
 *     100-continue" gets its interim response first).
 *   - Transfer-Encoding (chunked or any other): 501 Not Implemented, and
 *     the connection closes.  Decoding chunked bodies is out of scope for
 *     a fixed responder, and closing keeps a request we could not frame
 *     from being read as the next one.
 *   - "Connection: close", HTTP/1.0 without "Connection: keep-alive", or
 *     keepalive_timeout = 0: the connection closes after the response.
 *     Otherwise it stays open for the next request; pipelined requests
 *     are answered in order.
 *   - Any method gets 200: this is a fixed responder, not a router.
 *   - Every error close (431, 400, 501, 408) is a lingering close: after
 *     the response, write-EOF, then what the client still sends is read
 *     and dropped until it closes too, for 2 s at most, so that the
 *     kernel does not reset the connection (and destroy the response)
 *     over unread input.
 *
 * Timeouts, as nginx's client_header_timeout, keepalive_timeout,
 * client_body_timeout and send_timeout (settings in seconds; see
 * doc/plugins.md):
 *   - header_timeout (default 60, 0 = none): the first request's head
 *     must be complete within it of the accept; a later request's head
 *     within it of that request's first byte.  Late: 408 Request Timeout
 *     and a lingering close.  A connection that sends nothing at all
 *     within it of the accept is closed without a response.
 *   - keepalive_timeout (default 75, 0 = no keep-alive: every response
 *     says "Connection: close"): how long a kept-alive connection may wait
 *     for the first byte of its next request; then it closes silently.
 *   - body_timeout (default 60, 0 = none): the longest wait between two
 *     reads of a request body, not for the whole body.  Late: 408 and a
 *     lingering close.
 *   - send_timeout (default 60, 0 = none): the longest time a response
 *     may make no progress into the kernel (the client does not read).
 *     Then the connection is aborted: what is still queued is dropped,
 *     since a close would wait for it to flush, holding the descriptor
 *     for as long as the client stalls.  Each response is handed to the
 *     kernel in full before the next request is read (water marks 0), so
 *     no response outlives its handler in weft's buffer either.
 * All are fiber deadlines (weft_deadline_set): a store per request, no
 * allocation, and the fiber timer behind them is lazy (lib/waitq.c), so a
 * keep-alive request does not start or stop it.  A
 * response that the kernel takes at once sets no deadline at all.
 *
 * Responses are formatted once in init; a request costs no allocation,
 * and the head is parsed in place in the reader's buffer (zero-copy).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/stream.h>

#define HELLO_BODY_DEFAULT "Hello, world!\n"

/* The three shapes of a 200 response. */
enum {
	RESP_KEEP,   /* HTTP/1.1 keep-alive: no Connection header */
	RESP_KEEP10, /* HTTP/1.0 keep-alive: "Connection: keep-alive" */
	RESP_CLOSE,  /* "Connection: close" */
	RESP_N
};

struct resp {
	char *r_buf;   /* head and body */
	size_t r_head; /* length of the head (HEAD sends only this) */
	size_t r_len;  /* head and body */
};

struct hello {
	struct resp h_resp[RESP_N];
	uint64_t h_header_ms;	 /* header_timeout; 0 = none */
	uint64_t h_keepalive_ms; /* keepalive_timeout; 0 = no keep-alive */
	uint64_t h_body_ms;	 /* body_timeout; 0 = none */
	uint64_t h_send_ms;	 /* send_timeout; 0 = none */
};

/* The settings' defaults, nginx's client_header_timeout,
 * keepalive_timeout, client_body_timeout and send_timeout, and the most
 * any accepts (weftd's own timeouts stop at a day too). */
#define HEADER_TIMEOUT_DEFAULT 60
#define KEEPALIVE_TIMEOUT_DEFAULT 75
#define BODY_TIMEOUT_DEFAULT 60
#define SEND_TIMEOUT_DEFAULT 60
#define TIMEOUT_MAX 86400

/* One parsed request head. */
struct req {
	int q_head;	 /* method is HEAD */
	int q_minor;	 /* HTTP/1.<minor> */
	int q_close;	 /* Connection: close */
	int q_keepalive; /* Connection: keep-alive */
	int q_te;	 /* Transfer-Encoding present */
	int q_continue;	 /* Expect: 100-continue */
	int q_hosts;	 /* number of Host headers */
	int q_has_len;	 /* Content-Length present */
	uint64_t q_len;	 /* Content-Length */
};

#define ERR_RESPONSE(status, text)                                             \
	"HTTP/1.1 " status "\r\n"                                              \
	"Content-Type: text/plain\r\n"                                         \
	"Content-Length: " #text "\r\n"                                        \
	"Connection: close\r\n"                                                \
	"\r\n"

static const char resp_400[] = ERR_RESPONSE("400 Bad Request",
    12) "Bad Request\n";
static const char resp_431[] =
    ERR_RESPONSE("431 Request Header Fields Too Large",
	32) "Request Header Fields Too Large\n";
static const char resp_501[] = ERR_RESPONSE("501 Not Implemented",
    16) "Not Implemented\n";
static const char resp_408[] = ERR_RESPONSE("408 Request Timeout",
    16) "Request Timeout\n";
static const char resp_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* RFC 9110 tchar. */
static int
is_tchar(unsigned char c)
{
	/* RFC 9110 tchar, one bit per byte: ALPHA, DIGIT and
	 * !#$%&'*+-.^_`|~.  A table, because every byte of a method and
	 * of each header name goes through here. */
	static const uint32_t tchar[8] = {
		0x00000000,
		0x03ff6cfa,
		0xc7fffffe,
		0x57ffffff,
		0,
		0,
		0,
		0,
	};

	return (tchar[c >> 5] >> (c & 31)) & 1;
}

/* Case-insensitive compare of [p, p+n) with a lowercase literal. */
static int
token_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

/* Scan a Connection header value: comma-separated tokens. */
static void
parse_connection(struct req *q, const char *v, size_t n)
{
	size_t i = 0, start, end;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (token_eq(v + start, end - start, "close"))
			q->q_close = 1;
		else if (token_eq(v + start, end - start, "keep-alive"))
			q->q_keepalive = 1;
	}
}

/* 1*DIGIT into *out; -1 if empty, not all digits, or absurdly large. */
static int
parse_length(const char *v, size_t n, uint64_t *out)
{
	uint64_t len = 0;
	size_t i;

	if (n == 0 || n > 18) /* 18 digits cannot overflow */
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		len = len * 10 + (uint64_t)(v[i] - '0');
	}
	*out = len;
	return 0;
}

/* One header field line (no CRLF).  0, or -1 for a malformed one. */
static int
parse_header(struct req *q, const char *p, size_t n)
{
	const char *v;
	size_t i, k, vn;
	uint64_t len;
	unsigned char c;

	for (i = 0; i < n && is_tchar((unsigned char)p[i]); i++)
		;
	/* An empty name, a space before the colon and obs-fold (a line
	 * starting with a blank) all end up here. */
	if (i == 0 || i == n || p[i] != ':')
		return -1;
	v = p + i + 1;
	vn = n - i - 1;
	while (vn > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	for (k = 0; k < vn; k++) {
		c = (unsigned char)v[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	if (token_eq(p, i, "content-length")) {
		if (parse_length(v, vn, &len) != 0)
			return -1;
		if (q->q_has_len && len != q->q_len)
			return -1;
		q->q_has_len = 1;
		q->q_len = len;
	} else if (token_eq(p, i, "transfer-encoding")) {
		q->q_te = 1;
	} else if (token_eq(p, i, "connection")) {
		parse_connection(q, v, vn);
	} else if (token_eq(p, i, "host")) {
		q->q_hosts++;
	} else if (token_eq(p, i, "expect")) {
		if (token_eq(v, vn, "100-continue"))
			q->q_continue = 1;
	}
	return 0;
}

/* The request line: its first byte c, then [p, p+n).  0, or -1 for
 * anything but METHOD SP TARGET SP HTTP/1.x. */
static int
parse_request_line(struct req *q, int c, const char *p, size_t n)
{
	size_t i = 0;

	if (!is_tchar((unsigned char)c))
		return -1;
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == n || p[i] != ' ')
		return -1;
	/* The method is c and p[0..i); HEAD is case-sensitive. */
	q->q_head = c == 'H' && i == 3 && memcmp(p, "EAD", 3) == 0;
	i++;
	if (i == n || p[i] <= 0x20 || p[i] >= 0x7f)
		return -1;
	while (i < n && p[i] > 0x20 && p[i] < 0x7f)
		i++;
	if (i == n || p[i] != ' ')
		return -1;
	i++;
	if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 || p[i + 7] < '0' ||
	    p[i + 7] > '9')
		return -1;
	q->q_minor = p[i + 7] - '0';
	return 0;
}

/*
 * Parse a request head: its first byte c, which was read on its own (it
 * ends the wait for a request), then [p, p+n), which ends in CRLF CRLF.
 * Returns 0, 1 for a head of nothing but empty lines (ignored, RFC 9112
 * section 2.2), or -1 if malformed.
 */
static int
parse_head(struct req *q, int c, const char *p, size_t n)
{
	const char *eol;
	size_t len;
	int first = 1;

	memset(q, 0, sizeof(*q));
	/* Drop the final empty line: what is left is CRLF-terminated lines
	 * (c being the first byte of the first of them). */
	n -= 2;
	/* Skip empty lines, moving c to the next line's first byte. */
	while (c == '\r') {
		if (n == 0 || p[0] != '\n')
			return -1; /* a bare CR */
		if (n == 1)
			return 1;
		c = (unsigned char)p[1];
		p += 2;
		n -= 2;
	}
	/* The request line needs its CRLF in [p, p+n). */
	if (n == 0)
		return -1;
	while (n > 0) {
		eol = memchr(p, '\r', n);
		/* Every line ends in CRLF; a bare CR or LF inside one is
		 * refused rather than guessed at. */
		if (eol == NULL || (size_t)(eol - p) + 1 >= n || eol[1] != '\n')
			return -1;
		len = (size_t)(eol - p);
		if (memchr(p, '\n', len) != NULL)
			return -1;
		if (first ? parse_request_line(q, c, p, len) != 0
			  : parse_header(q, p, len) != 0)
			return -1;
		first = 0;
		p += len + 2;
		n -= len + 2;
	}
	/* HTTP/1.1 requires exactly one Host (RFC 9112 section 3.2). */
	if (q->q_minor >= 1 && q->q_hosts != 1)
		return -1;
	if (q->q_hosts > 1)
		return -1;
	return 0;
}

/*
 * Read and drop n body bytes, zero-copy; 0, or a negative code
 * (WEFT_ETIMEDOUT: body_timeout passed between two reads).  The deadline
 * is set again before each read, so that it bounds each wait, as nginx's
 * client_body_timeout does, and a slow but steady upload goes through.
 */
static int
discard_body(const struct hello *h, weft_reader_t *r, uint64_t n)
{
	weft_slice_t s;
	ssize_t k;

	while (n > 0) {
		if (h->h_body_ms != 0)
			weft_deadline_set(h->h_body_ms);
		k = weft_read_slice(r, n < 65536 ? (size_t)n : 65536, &s);
		if (k <= 0) {
			weft_deadline_clear();
			return k == 0 ? WEFT_EINCOMPLETE : (int)k;
		}
		n -= (uint64_t)k;
	}
	weft_deadline_clear();
	return 0;
}

/*
 * Wait until everything written is in the kernel (the water marks are 0:
 * see hello_client).  With send_timeout, the wait is cut into quarters of
 * it; at the end of each, progress is whether the queue shrank.  After
 * send_timeout without any, the client is not reading: abort the
 * connection (weft_close would wait for the queue to flush) and return
 * WEFT_ETIMEDOUT.  So it ends between send_timeout and 1.25 times it
 * after the last progress.  Nothing queued: no deadline, no wait.
 */
static int
flush(const struct hello *h, weft_writer_t *w)
{
	uint64_t step, stalled = 0;
	size_t was, left;
	int rc;

	if (h->h_send_ms == 0 || (was = weft_writer_buffered(w)) == 0)
		return weft_drain(w);
	step = h->h_send_ms >= 4 ? h->h_send_ms / 4 : 1;
	for (;;) {
		weft_deadline_set(step);
		rc = weft_drain(w);
		weft_deadline_clear();
		if (rc != WEFT_ETIMEDOUT)
			return rc;
		if ((left = weft_writer_buffered(w)) < was) {
			was = left;
			stalled = 0;
		} else if ((stalled += step) >= h->h_send_ms) {
			weft_abort(w);
			return WEFT_ETIMEDOUT;
		}
	}
}

/* How long an error response waits for the client to stop sending. */
#define LINGER_MS 2000

/*
 * An error response, then a lingering close.  The request was not read to
 * its end, and closing a socket with unread input makes the kernel send a
 * reset, which can destroy the response before the client reads it (a
 * client still sending a huge head never sees its 431).  So: send the
 * response, half-close, and read and drop what still comes, until the
 * client closes too or LINGER_MS have passed.
 */
static void
send_static(const struct hello *h, weft_reader_t *r, weft_writer_t *w,
    const char *resp, size_t len)
{
	weft_slice_t s;

	/* Small, but the queue may hold earlier pipelined responses that a
	 * client does not read: send_timeout bounds this wait too. */
	if (weft_write(w, resp, len) != 0 || flush(h, w) != 0)
		return;
	if (weft_write_eof(w) != 0)
		return;
	weft_deadline_set(LINGER_MS);
	while (weft_read_slice(r, 65536, &s) > 0)
		;
	weft_deadline_clear();
}

/*
 * The request's body, if it has one: "100 Continue" first when the client
 * asked for it, then read and dropped.  0, or -1 when the connection is
 * done (a stalled body got its 408).
 */
static int
hello_body(const struct hello *h, weft_reader_t *r, weft_writer_t *w,
    const struct req *q)
{
	int rc;

	if (!q->q_has_len || q->q_len == 0)
		return 0;
	if (q->q_continue && q->q_minor >= 1 &&
	    weft_write(w, resp_100, sizeof(resp_100) - 1) != 0)
		return -1;
	rc = discard_body(h, r, q->q_len);
	if (rc == WEFT_ETIMEDOUT)
		send_static(h, r, w, resp_408, sizeof(resp_408) - 1);
	return rc == 0 ? 0 : -1;
}

/* The response to q, flushed: 1 to keep the connection alive, 0 to close
 * it (asked for, or after an error). */
static int
hello_respond(const struct hello *h, weft_writer_t *w, const struct req *q)
{
	const struct resp *rp;
	int keep;

	if (q->q_close || (q->q_minor == 0 && !q->q_keepalive) ||
	    h->h_keepalive_ms == 0) {
		rp = &h->h_resp[RESP_CLOSE];
		keep = 0;
	} else {
		rp = &h->h_resp[q->q_minor == 0 ? RESP_KEEP10 : RESP_KEEP];
		keep = 1;
	}
	if (weft_write(w, rp->r_buf, q->q_head ? rp->r_head : rp->r_len) != 0)
		return 0;
	if (flush(h, w) != 0)
		return 0;
	return keep;
}

static void
hello_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	const struct hello *h = state;
	weft_slice_t head, first;
	struct req q;
	int rc, prc, c, idle = 0;

	/* Every wait for the client to read is a flush to the kernel (see
	 * flush): with water marks of 0, a drain returns once nothing is
	 * left in weft's buffer, so a connection never closes with a
	 * response still queued there, where no timeout would reach it. */
	weft_writer_set_limits(w, 0, 0);
	/* The first request's head is due within header_timeout of the
	 * accept, as in nginx: that also bounds a connection that never
	 * sends a byte. */
	if (h->h_header_ms != 0)
		weft_deadline_set(h->h_header_ms);
	for (;;) {
		/* The request's first byte is read on its own: it ends the
		 * keep-alive wait, and it is where a later request's
		 * header_timeout starts.  When the wait ends in the deadline,
		 * nothing of a request has come: close without a word. */
		if (weft_read_slice(r, 1, &first) <= 0)
			return; /* EOF, a timeout or an error */
		c = (unsigned char)first.base[0];
		if (idle) {
			idle = 0;
			if (h->h_header_ms != 0)
				weft_deadline_set(h->h_header_ms);
			else
				weft_deadline_clear();
		}
		rc = weft_readuntil(r, "\r\n\r\n", 4, &head);
		prc = rc == 0 ? parse_head(&q, c, head.base, head.len) : 0;
		/* Empty lines before a request are part of its wait for a
		 * head: the deadline stays as it is. */
		if (prc == 1)
			continue;
		/* The body and the response have deadlines of their own,
		 * and the error responses below must not meet an expired
		 * one. */
		weft_deadline_clear();
		if (rc == WEFT_ETIMEDOUT) {
			send_static(h, r, w, resp_408, sizeof(resp_408) - 1);
			return;
		}
		if (rc == WEFT_ELIMIT) {
			send_static(h, r, w, resp_431, sizeof(resp_431) - 1);
			return;
		}
		if (rc != 0)
			return; /* EOF (maybe mid-head) or an error */
		if (prc != 0) {
			send_static(h, r, w, resp_400, sizeof(resp_400) - 1);
			return;
		}
		if (q.q_te) {
			send_static(h, r, w, resp_501, sizeof(resp_501) - 1);
			return;
		}
		/* The head slice is not used past this point: reading the
		 * body may reuse its bytes. */
		if (hello_body(h, r, w, &q) != 0 ||
		    hello_respond(h, w, &q) != 1)
			return;
		/* Keep-alive: the next request's first byte is due within
		 * keepalive_timeout. */
		weft_deadline_set(h->h_keepalive_ms);
		idle = 1;
	}
}

static void
hello_fini(void *state)
{
	struct hello *h = state;
	int i;

	if (h == NULL)
		return;
	for (i = 0; i < RESP_N; i++)
		free(h->h_resp[i].r_buf);
	free(h);
}

static int
hello_init(weft_plugin_ctx_t *ctx, void **state)
{
	static const char *const conn[RESP_N] = {
		"",
		"Connection: keep-alive\r\n",
		"Connection: close\r\n",
	};
	static const char fmt[] = "HTTP/1.1 200 OK\r\n"
				  "Content-Type: text/plain\r\n"
				  "Content-Length: %zu\r\n"
				  "%s"
				  "\r\n"
				  "%s";
	struct hello *h;
	struct resp *rp;
	const char *body;
	int64_t header, keepalive, body_to, send_to;
	size_t blen;
	int i, n, bad = 0;

	/* Every setting is read before any is judged: an early return
	 * would leave the rest reported as unknown. */
	body = weft_setting_str(ctx, "body", HELLO_BODY_DEFAULT);
	header = weft_setting_ms(ctx, "header_timeout",
	    HEADER_TIMEOUT_DEFAULT * 1000);
	keepalive = weft_setting_ms(ctx, "keepalive_timeout",
	    KEEPALIVE_TIMEOUT_DEFAULT * 1000);
	body_to = weft_setting_ms(ctx, "body_timeout",
	    BODY_TIMEOUT_DEFAULT * 1000);
	send_to = weft_setting_ms(ctx, "send_timeout",
	    SEND_TIMEOUT_DEFAULT * 1000);
	if (header > TIMEOUT_MAX * 1000)
		bad = weft_plugin_error(ctx, "header_timeout",
		    "must be from 0 (no timeout) to %g seconds, not %g",
		    (double)TIMEOUT_MAX, (double)header / 1000);
	if (keepalive > TIMEOUT_MAX * 1000)
		bad = weft_plugin_error(ctx, "keepalive_timeout",
		    "must be from 0 (no keep-alive) to %g seconds, not %g",
		    (double)TIMEOUT_MAX, (double)keepalive / 1000);
	if (body_to > TIMEOUT_MAX * 1000)
		bad = weft_plugin_error(ctx, "body_timeout",
		    "must be from 0 (no timeout) to %g seconds, not %g",
		    (double)TIMEOUT_MAX, (double)body_to / 1000);
	if (send_to > TIMEOUT_MAX * 1000)
		bad = weft_plugin_error(ctx, "send_timeout",
		    "must be from 0 (no timeout) to %g seconds, not %g",
		    (double)TIMEOUT_MAX, (double)send_to / 1000);
	if (bad != 0)
		return bad;
	blen = strlen(body);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->h_header_ms = (uint64_t)header;
	h->h_keepalive_ms = (uint64_t)keepalive;
	h->h_body_ms = (uint64_t)body_to;
	h->h_send_ms = (uint64_t)send_to;
	for (i = 0; i < RESP_N; i++) {
		rp = &h->h_resp[i];
		n = snprintf(NULL, 0, fmt, blen, conn[i], body);
		if (n < 0 || (rp->r_buf = malloc((size_t)n + 1)) == NULL) {
			hello_fini(h);
			return weft_plugin_error(ctx, NULL, "out of memory");
		}
		snprintf(rp->r_buf, (size_t)n + 1, fmt, blen, conn[i], body);
		rp->r_len = (size_t)n;
		rp->r_head = (size_t)n - blen;
	}
	*state = h;
	return 0;
}

WEFT_PLUGIN(http_hello, .init = hello_init, .client_connected = hello_client,
    .fini = hello_fini);
