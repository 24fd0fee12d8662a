/*
 * libFuzzer target: http-hello's request handling.
 *
 * plugins/http-hello.c is compiled into this file (#include), so its
 * static request-head parser can be called directly and its handler run
 * as weftd runs it, with no change to the plugin.
 *
 * Input layout:
 *   byte 0  the reader limit: 8 + 4 * b (8..964), or 65536 when b >= 0xf0
 *   byte 1  seed of the feed chunking
 *   rest    the bytes a client sends, then EOF
 *
 * Checks:
 *   1. parse_head on each CRLF CRLF-terminated piece of the input (the
 *      heads readuntil hands the handler when no request has a body), in
 *      an exactly sized heap copy so ASan sees any read past the head.
 *      Its result must agree with an independent reading of RFC 9112's
 *      grammar on what is easy to state: 1 only for a head of nothing but CRLFs; 0 only
 *      for CRLF-terminated lines without bare CR or LF, a request line
 *      "TOKEN SP TARGET SP HTTP/1.D", header lines "TOKEN:...", one Host
 *      for HTTP/1.1, q_head exactly for the method HEAD.
 *   2. The handler, on a fake connection inside weft_run, fed the input
 *      in random chunks (yielding between them) and then EOF: it must
 *      end, and what it wrote must be a sequence of the plugin's known
 *      responses (100 Continue, the 200 shapes with or without body, 400,
 *      431, 501) in which a closing one (400, 431, 501, "Connection:
 *      close") comes last, a 100 Continue is followed by a 200 or
 *      nothing, and no more 200s than the input has heads.
 *   3. The same input fed in one piece gives the same output byte for
 *      byte: chunking must not change what the server says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/stream.h>

#include "internal.h"

#include "../../plugins/http-hello.c"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hello *H;

static void __attribute__((noreturn))
fail(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	if (p != NULL)
		fprintf(stderr, "---\n%.*s\n---\n", (int)n, (const char *)p);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	weft_plugin_ctx_t *ctx = NULL;
	void *state = NULL;

	(void)argc;
	(void)argv;
	if (weft_plugin_ctx_new("http-hello", 1, 0, &ctx) != 0 ||
	    hello_init(ctx, &state) != 0)
		abort();
	weft_plugin_ctx_free(&ctx);
	H = state;
	return 0;
}

/* ---- 1. The head parser ---------------------------------------------- */

static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Does [p, p+n) read as "TOKEN SP TARGET SP HTTP/1.D"?  *minor, *head. */
static int
oracle_request_line(const uint8_t *p, size_t n, int *minor, int *head)
{
	size_t i = 0, m;

	while (i < n && tchar(p[i]))
		i++;
	m = i;
	if (m == 0 || i >= n || p[i] != ' ')
		return 0;
	*head = m == 4 && memcmp(p, "HEAD", 4) == 0;
	i++;
	if (i >= n || p[i] <= ' ' || p[i] >= 0x7f)
		return 0;
	while (i < n && p[i] > ' ' && p[i] < 0x7f)
		i++;
	if (i >= n || p[i] != ' ')
		return 0;
	i++;
	if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 || p[i + 7] < '0' ||
	    p[i + 7] > '9')
		return 0;
	*minor = p[i + 7] - '0';
	return 1;
}

static void
check_head(const uint8_t *head, size_t n)
{
	struct req q;
	const uint8_t *p, *eol, *end;
	size_t i;
	int rc, crlf_only, minor = -1, is_head = 0, hosts = 0, first = 1;
	char *copy;

	if ((copy = malloc(n)) == NULL)
		abort();
	memcpy(copy, head, n);
	/* The handler reads a request's first byte on its own (it ends the
	 * keep-alive wait), and the rest of the head with readuntil. */
	rc = parse_head(&q, (unsigned char)copy[0], copy + 1, n - 1);
	free(copy);

	crlf_only = 1;
	for (i = 0; i < n; i += 2)
		if (head[i] != '\r' || head[i + 1] != '\n')
			crlf_only = 0;
	if (n % 2 != 0)
		crlf_only = 0;
	if ((rc == 1) != crlf_only)
		fail("parse_head: 1 is for a head of nothing but CRLFs", head,
		    n);
	if (rc != 0)
		return;

	/* Accepted: check the grammar independently. */
	p = head;
	end = head + n - 2; /* drop the final empty line */
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	for (; p < end; p = eol + 2) {
		for (eol = p; eol < end && *eol != '\r' && *eol != '\n'; eol++)
			;
		if (eol + 1 >= end || eol[0] != '\r' || eol[1] != '\n')
			fail("parse_head accepted a bare CR or LF", head, n);
		if (first) {
			if (!oracle_request_line(p, (size_t)(eol - p), &minor,
				&is_head))
				fail("parse_head accepted a bad request line",
				    head, n);
			first = 0;
			continue;
		}
		for (i = 0; p + i < eol && tchar(p[i]); i++)
			;
		if (i == 0 || p + i == eol || p[i] != ':')
			fail("parse_head accepted a bad header line", head, n);
		if (i == 4 && strncasecmp((const char *)p, "host", 4) == 0)
			hosts++;
	}
	if (first)
		fail("parse_head accepted a head without a request line", head,
		    n);
	if (q.q_minor != minor || q.q_head != is_head)
		fail("parse_head: version or HEAD wrong", head, n);
	if (q.q_hosts != hosts || hosts > 1 || (minor >= 1 && hosts != 1))
		fail("parse_head: Host count wrong or not enforced", head, n);
	if (!q.q_has_len && q.q_len != 0)
		fail("parse_head: a length without Content-Length", head, n);
}

/* ---- 2. The handler on a fake connection ------------------------------- */

struct job {
	const uint8_t *data;
	size_t size;
	ssize_t limit;
	uint32_t seed; /* 0: one piece */
	char *out;
	size_t outlen;
	int done; /* the handler returned */
	weft_reader_t *r;
	weft_writer_t *w;
};

static void
handler_fiber(void *arg)
{
	struct job *j = arg;

	hello_client(j->r, j->w, H);
	j->done = 1;
}

static uint32_t
next(uint32_t *s)
{
	/* xorshift32 */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static int
job_main(void *arg)
{
	struct job *j = arg;
	weft_fiber_t *f = NULL;
	weft_slice_t out;
	size_t off = 0, k;
	uint32_t s = j->seed;

	j->r = NULL;
	j->w = NULL;
	if (weft__fake_pair(j->limit, &j->r, &j->w) != 0 ||
	    weft_spawn(handler_fiber, j, &f) != 0)
		abort();
	while (off < j->size) {
		k = j->size - off;
		if (s != 0) {
			/* Mostly small pieces, now and then a big one. */
			k = next(&s) % 8 == 0 ? next(&s) % 512 : next(&s) % 16;
			k = k == 0 ? 1 : k;
			if (k > j->size - off)
				k = j->size - off;
		}
		if (weft_feed_data(j->r, j->data + off, k) != 0)
			abort();
		off += k;
		weft_yield();
	}
	weft_feed_eof(j->r);
	weft_join(f);
	out = weft__fake_written(j->w);
	if ((j->out = malloc(out.len + 1)) == NULL)
		abort();
	if (out.len > 0)
		memcpy(j->out, out.base, out.len);
	j->outlen = out.len;
	weft__fake_free(j->w);
	return 0;
}

static int
match(const char *p, size_t n, const char *resp, size_t len)
{
	return n >= len && memcmp(p, resp, len) == 0;
}

/* The output as a sequence of the plugin's responses. */
static void
check_output(const struct job *j)
{
	const char *p = j->out, *end = j->out + j->outlen;
	size_t n, heads = 0, oks = 0, i;
	int last_closes = 0, after_100 = 0, k;
	const struct resp *rp;

	for (i = 0; i + 4 <= j->size; i++)
		if (memcmp(j->data + i, "\r\n\r\n", 4) == 0)
			heads++;
	while (p < end) {
		n = (size_t)(end - p);
		if (last_closes)
			fail("a response after a closing one",
			    (const uint8_t *)j->out, j->outlen);
		if (match(p, n, resp_100, sizeof(resp_100) - 1)) {
			if (after_100)
				fail("two 100 Continue in a row",
				    (const uint8_t *)j->out, j->outlen);
			p += sizeof(resp_100) - 1;
			after_100 = 1;
			continue;
		}
		for (k = 0; k < RESP_N; k++) {
			rp = &H->h_resp[k];
			if (match(p, n, rp->r_buf, rp->r_len)) {
				p += rp->r_len;
				break;
			}
			if (match(p, n, rp->r_buf, rp->r_head)) {
				p += rp->r_head;
				break;
			}
		}
		if (k < RESP_N) {
			oks++;
			after_100 = 0;
			last_closes = k == RESP_CLOSE;
			continue;
		}
		if (after_100)
			fail("100 Continue not followed by a 200",
			    (const uint8_t *)j->out, j->outlen);
		if (match(p, n, resp_400, sizeof(resp_400) - 1))
			p += sizeof(resp_400) - 1;
		else if (match(p, n, resp_431, sizeof(resp_431) - 1))
			p += sizeof(resp_431) - 1;
		else if (match(p, n, resp_501, sizeof(resp_501) - 1))
			p += sizeof(resp_501) - 1;
		else
			fail("not a known response", (const uint8_t *)p, n);
		last_closes = 1;
	}
	if (oks > heads)
		fail("more 200s than request heads", (const uint8_t *)j->out,
		    j->outlen);
}

static void
run_job(struct job *j)
{
	if (weft_run(job_main, j) != 0)
		abort();
	if (!j->done)
		fail("the handler did not end after EOF", j->data, j->size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job a, b;
	size_t i, start;

	if (size < 2)
		return 0;
	memset(&a, 0, sizeof(a));
	a.limit = data[0] >= 0xf0 ? WEFT_LIMIT_DEFAULT : 8 + 4 * data[0];
	a.seed = 0x9e3779b9u ^ ((uint32_t)data[1] << 8) ^ (uint32_t)size;
	a.data = data + 2;
	a.size = size - 2;
	b = a;
	b.seed = 0;

	/* The heads readuntil would hand out if no request had a body. */
	for (i = 0, start = 0; i + 4 <= a.size; i++)
		if (memcmp(a.data + i, "\r\n\r\n", 4) == 0) {
			check_head(a.data + start, i + 4 - start);
			start = i + 4;
			i += 3;
		}

	run_job(&a);
	check_output(&a);
	run_job(&b);
	if (a.outlen != b.outlen || memcmp(a.out, b.out, a.outlen) != 0) {
		fprintf(stderr, "fuzz_http: chunked:\n%.*s\n", (int)a.outlen,
		    a.out);
		fail("output depends on the chunking; in one piece",
		    (const uint8_t *)b.out, b.outlen);
	}
	free(a.out);
	free(b.out);
	return 0;
}
