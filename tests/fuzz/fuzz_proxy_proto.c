/*
 * libFuzzer target: the PROXY protocol header parser (lib/proxy_proto.c)
 * and the prelude built on it (lib/proxy_prelude.c).
 *
 * Input layout:
 *   byte 0  seed of the feed chunking (0: one piece)
 *   rest    the bytes a client sends, then EOF
 *
 * Checks:
 *   1. weft__pp_parse on an exactly sized heap copy, so that ASan sees
 *      any read past the input.  A header (n > 0) is self-delimiting: the
 *      same n from its own n bytes and with a byte more, 0 ("more") from
 *      every shorter prefix; a v1 line is at most 107 bytes, starts
 *      "PROXY " and ends in CRLF, and a TCP4 one reads back byte for byte
 *      from the parsed addresses; a v2 header is 16 bytes plus its length
 *      field, and its TLVs walk to exactly their end.  A refusal carries
 *      a reason and no byte appended undoes it.  "More" is only for
 *      inputs shorter than the longest header.
 *   2. The prelude on a fake connection inside weft_run, fed the input in
 *      chunks (yielding between them) and then EOF: it accepts exactly
 *      when the parser found a header, leaves the reader exactly the
 *      bytes after it, reports the header's source as the peer, counts
 *      one error for any other non-empty input, and every extra info key
 *      it adds reads back as printable ASCII.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/server.h>
#include <weft/stream.h>

#include "internal.h"
#include "proxy_proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char value[300 * 1024]; /* an escaped TLV: 4 x 65535 at most */

static const char *const keys[] = { "proxy_version", "proxy_command",
	"proxy_alpn", "proxy_authority", "proxy_unique_id", "proxy_netns",
	"proxy_ssl_client", "proxy_ssl_verify", "proxy_ssl_version",
	"proxy_ssl_cn", "proxy_ssl_cipher", "proxy_ssl_sig_alg",
	"proxy_ssl_key_alg" };

static void __attribute__((noreturn))
fail(const char *what, const uint8_t *p, size_t n)
{
	size_t i;

	fprintf(stderr, "fuzz_proxy_proto: %s\n---\n", what);
	for (i = 0; i < n && i < 256; i++)
		fprintf(stderr, "%02x%s", p[i], i % 32 == 31 ? "\n" : " ");
	fprintf(stderr, "\n---\n");
	abort();
}

static void
quiet(int level, const char *msg)
{
	(void)level;
	(void)msg;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	weft_log_set_sink(quiet); /* every refusal logs a line */
	return 0;
}

/* weft__pp_parse on an exactly sized copy of p[0, n). */
static ssize_t
parse(const uint8_t *p, size_t n, struct weft__pp_hdr *h, const char **why)
{
	uint8_t *copy = malloc(n > 0 ? n : 1);
	ssize_t rc;

	if (copy == NULL)
		abort();
	memcpy(copy, p, n);
	rc = weft__pp_parse(copy, n, h, why);
	/* What it points at must be inside the input: move it to p. */
	if (rc > 0 && h->tlv != NULL)
		h->tlv = p + (h->tlv - copy);
	free(copy);
	return rc;
}

/* A TCP4 line is canonical (inet_pton takes only plain dotted quads, the
 * ports no leading zero): it reads back from what was parsed. */
static void
check_tcp4(const uint8_t *p, size_t n, const struct weft__pp_hdr *h)
{
	const struct sockaddr_in *s = (const void *)&h->src;
	const struct sockaddr_in *d = (const void *)&h->dst;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], line[128];
	int k;

	inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
	inet_ntop(AF_INET, &d->sin_addr, b, sizeof(b));
	k = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", a, b,
	    ntohs(s->sin_port), ntohs(d->sin_port));
	if ((size_t)k != n || memcmp(line, p, n) != 0)
		fail("a TCP4 line that does not read back", p, n);
}

static void
check_header(const uint8_t *p, size_t n, const struct weft__pp_hdr *h)
{
	const uint8_t *t = h->tlv, *v;
	size_t left = h->tlv_len, len;
	char buf[300];
	unsigned type;

	if (h->version == 1) {
		if (n > WEFT__PP_V1_MAX || memcmp(p, "PROXY ", 6) != 0 ||
		    p[n - 2] != '\r' || p[n - 1] != '\n' || h->tlv_len != 0)
			fail("a bad v1 line accepted", p, n);
		if (h->has_addrs && h->src.ss_family == AF_INET)
			check_tcp4(p, n, h);
	} else if (h->version != 2 || n < WEFT__PP_V2_HEAD ||
	    n != WEFT__PP_V2_HEAD + ((size_t)p[14] << 8 | p[15])) {
		fail("a v2 header of the wrong length accepted", p, n);
	}
	if (h->tlv_len > 0 && (t < p || t + h->tlv_len > p + n))
		fail("TLVs outside the header", p, n);
	while (weft__pp_tlv_next(&t, &left, &type, &v, &len))
		;
	if (left != 0)
		fail("TLVs that do not walk to their end", p, n);
	if (h->has_addrs &&
	    (weft_sockaddr_format((const struct sockaddr *)&h->src,
		 sizeof(h->src), buf, sizeof(buf)) < 0 ||
		weft_sockaddr_format((const struct sockaddr *)&h->dst,
		    sizeof(h->dst), buf, sizeof(buf)) < 0))
		fail("addresses that do not format", p, n);
}

static ssize_t
check_parse(const uint8_t *p, size_t n, struct weft__pp_hdr *h)
{
	struct weft__pp_hdr h2;
	const char *why = NULL, *why2;
	uint8_t *more;
	ssize_t rc, rc2;
	size_t i;

	rc = parse(p, n, h, &why);
	if (rc < 0 && (rc != -EPROTO || why == NULL))
		fail("a refusal without -EPROTO and a reason", p, n);
	if (rc > (ssize_t)n)
		fail("a header longer than the input", p, n);
	if (rc == 0 && n >= WEFT__PP_V2_HEAD + 65535)
		fail("more asked of an input longer than any header", p, n);
	if (rc == 0 && n > 0 && p[0] == 'P' && n >= WEFT__PP_V1_MAX)
		fail("more asked of a v1 line past 107 bytes", p, n);
	if ((more = malloc(n + 1)) == NULL)
		abort();
	memcpy(more, p, n);
	more[n] = n > 0 ? (uint8_t)(p[n - 1] + 1) : 'P';
	rc2 = weft__pp_parse(more, n + 1, &h2, &why2);
	free(more);
	if (rc < 0 && rc2 >= 0)
		fail("a refusal undone by one more byte", p, n);
	if (rc > 0 && rc2 != rc)
		fail("a header that depends on the byte after it", p, n);
	if (rc <= 0)
		return rc;
	if (parse(p, (size_t)rc, &h2, &why2) != rc)
		fail("a header that needs bytes past it", p, n);
	for (i = 0; i < (size_t)rc; i++)
		if (parse(p, i, &h2, &why2) != 0)
			fail("a prefix of a header not asking for more", p, i);
	check_header(p, (size_t)rc, h);
	return rc;
}

/* ---- 2. The prelude on a fake connection -------------------------------- */

struct job {
	const uint8_t *data;
	size_t size;
	uint32_t seed; /* 0: one piece */
	struct weft__pp_conf pc;
	int rc;
	int done;
	weft_reader_t *r;
	weft_writer_t *w;
};

static void
prelude_fiber(void *arg)
{
	struct job *j = arg;

	j->rc = weft__pp_prelude(j->r, j->w, &j->pc);
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
	size_t off = 0, k;
	uint32_t s = j->seed;

	if (weft__fake_pair(WEFT_LIMIT_DEFAULT, &j->r, &j->w) != 0 ||
	    weft_spawn(prelude_fiber, j, &f) != 0)
		abort();
	while (off < j->size) {
		k = j->size - off;
		if (s != 0) {
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
	return 0;
}

static void
check_info(const struct job *j, const struct weft__pp_hdr *h)
{
	char peer[300], want[300];
	size_t i, k;
	int rc;

	if (h->has_addrs) {
		if (weft_sockaddr_format((const struct sockaddr *)&h->src,
			sizeof(h->src), want, sizeof(want)) < 0 ||
		    weft_peername(j->w, peer, sizeof(peer)) < 0 ||
		    strcmp(peer, want) != 0)
			fail("the peer is not the header's source", j->data,
			    j->size);
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		rc = weft_extra_info(j->w, keys[i], value, sizeof(value));
		if (rc == -ENOENT)
			continue;
		if (rc < 0 || (size_t)rc != strlen(value))
			fail("an extra info key that does not read", j->data,
			    j->size);
		for (k = 0; k < (size_t)rc; k++)
			if (value[k] < 0x20 || value[k] > 0x7e)
				fail("extra info that is not printable",
				    j->data, j->size);
	}
}

static void
check_prelude(const uint8_t *p, size_t n, uint32_t seed, ssize_t want,
    const struct weft__pp_hdr *h)
{
	struct job j;
	weft_slice_t rest;

	memset(&j, 0, sizeof(j));
	j.data = p;
	j.size = n;
	j.seed = seed;
	if (weft_run(job_main, &j) != 0 || !j.done)
		fail("the prelude did not end after EOF", p, n);
	if ((j.rc == 0) != (want > 0))
		fail("the prelude and the parser disagree", p, n);
	if (j.pc.errors != (want > 0 || n == 0 ? 0u : 1u))
		fail("the prelude's error count is wrong", p, n);
	if (want > 0) {
		rest = weft_reader_buffer(j.r);
		if (rest.len != n - (size_t)want ||
		    memcmp(rest.base, p + want, rest.len) != 0)
			fail("the prelude took more or less than the header", p,
			    n);
		check_info(&j, h);
	}
	weft__fake_free(j.w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct weft__pp_hdr h;
	uint32_t seed;
	ssize_t rc;

	if (size < 1)
		return 0;
	seed = data[0] == 0 ? 0 : 0x9e3779b9u * data[0];
	data++;
	size--;
	rc = check_parse(data, size, &h);
	check_prelude(data, size, seed, rc, &h);
	return 0;
}
