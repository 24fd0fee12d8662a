/*
 * The PROXY protocol prelude (weft_server_set_proxy_protocol): on the
 * connection's fiber, before the handler and before a TLS handshake,
 * wait for a complete header in the reader's buffer, parse it where it
 * lies (proxy_proto.c), store its addresses and TLVs with the connection
 * and consume exactly the header.  Only servers that ask for it run
 * this: a plain server pays nothing.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <weft/plugin.h>

#include "proxy_proto.h"
#include "transport.h"

#define PP_TIMEOUT_MS 5000
#define INFO_INLINE 512 /* the extra info of most headers, on the stack */

/* The extra info being written, or only measured (b_p NULL). */
struct info {
	char *b_p;
	size_t b_n;
	size_t b_cap;
};

static void
info_put(struct info *b, const void *data, size_t len, int esc)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = data;
	char e[4] = { '\\', 'x', 0, 0 };
	size_t i, k;

	for (i = 0; i < len; i++) {
		/* Printable ASCII as is; a NUL would end the value. */
		k = esc && (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\\') ? 4 : 1;
		if (b->b_p != NULL && b->b_n + k <= b->b_cap) {
			if (k == 1) {
				b->b_p[b->b_n] = (char)s[i];
			} else {
				e[2] = hex[s[i] >> 4];
				e[3] = hex[s[i] & 0xf];
				memcpy(b->b_p + b->b_n, e, 4);
			}
		}
		b->b_n += k;
	}
}

static void
info_entry(struct info *b, const char *key, const void *val, size_t len)
{
	info_put(b, key, strlen(key) + 1, 0);
	info_put(b, val, len, 1);
	info_put(b, "", 1, 0);
}

static void
info_num(struct info *b, const char *key, unsigned long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lu", v);

	info_entry(b, key, num, (size_t)n);
}

static const char *
tlv_key(unsigned type)
{
	switch (type) {
	case WEFT__PP2_ALPN:
		return "proxy_alpn";
	case WEFT__PP2_AUTHORITY:
		return "proxy_authority";
	case WEFT__PP2_UNIQUE_ID:
		return "proxy_unique_id";
	case WEFT__PP2_SSL_VERSION:
		return "proxy_ssl_version";
	case WEFT__PP2_SSL_CN:
		return "proxy_ssl_cn";
	case WEFT__PP2_SSL_CIPHER:
		return "proxy_ssl_cipher";
	case WEFT__PP2_SSL_SIG_ALG:
		return "proxy_ssl_sig_alg";
	case WEFT__PP2_SSL_KEY_ALG:
		return "proxy_ssl_key_alg";
	case WEFT__PP2_NETNS:
		return "proxy_netns";
	default:
		return NULL; /* CRC32C (checked), NOOP, unknown: ignored */
	}
}

/* The entries of a TLV list; ssl: inside the SSL TLV. */
static void
info_tlvs(struct info *b, const uint8_t *p, size_t n, int ssl)
{
	const uint8_t *v;
	const char *key;
	unsigned type;
	size_t len;

	while (weft__pp_tlv_next(&p, &n, &type, &v, &len)) {
		if (type == WEFT__PP2_SSL && !ssl) {
			/* The parser checked it holds client and verify. */
			info_num(b, "proxy_ssl_client", v[0]);
			info_num(b, "proxy_ssl_verify",
			    (unsigned long)v[1] << 24 |
				(unsigned long)v[2] << 16 |
				(unsigned long)v[3] << 8 | v[4]);
			info_tlvs(b, v + 5, len - 5, 1);
		} else if ((key = tlv_key(type)) != NULL &&
		    (type >= WEFT__PP2_SSL_VERSION &&
			type <= WEFT__PP2_SSL_KEY_ALG) == ssl) {
			info_entry(b, key, v, len);
		}
	}
}

static void
info_build(struct info *b, const struct weft__pp_hdr *h)
{
	info_entry(b, "proxy_version", h->version == 1 ? "1" : "2", 1);
	info_entry(b, "proxy_command", h->command, strlen(h->command));
	info_tlvs(b, h->tlv, h->tlv_len, 0);
}

/* Store the header's addresses and extra info with the connection. */
static int
apply(weft_writer_t *w, const struct weft__pp_hdr *h)
{
	char small[INFO_INLINE];
	struct info b = { NULL, 0, 0 };
	int rc;

	info_build(&b, h);
	b.b_cap = b.b_n;
	b.b_p = b.b_cap <= sizeof(small) ? small : malloc(b.b_cap);
	if (b.b_p == NULL)
		return -ENOMEM;
	b.b_n = 0;
	info_build(&b, h);
	rc = weft__conn_set_proxied(weft__conn_of_writer(w),
	    h->has_addrs ? (const struct sockaddr *)&h->src : NULL,
	    h->has_addrs ? (const struct sockaddr *)&h->dst : NULL, b.b_p,
	    b.b_n);
	if (b.b_p != small)
		free(b.b_p);
	return rc;
}

/* Count and log a refused header; the caller closes the connection. */
static int
refused(struct weft__pp_conf *pc, weft_writer_t *w, const char *why)
{
	char peer[128], sock[128];

	pc->errors++;
	if (weft_extra_info(w, "socket_peername", peer, sizeof(peer)) <= 0)
		snprintf(peer, sizeof(peer), "?");
	if (weft_extra_info(w, "socket_sockname", sock, sizeof(sock)) <= 0)
		snprintf(sock, sizeof(sock), "?");
	weft_log(WEFT_LOG_WARNING,
	    "PROXY protocol: connection from %s to %s closed: %s", peer, sock,
	    why);
	return -1;
}

/* The wait for the rest of the header failed with rc, got bytes in. */
static int
wait_failed(struct weft__pp_conf *pc, weft_writer_t *w, int rc, size_t got,
    int ms)
{
	char why[96];

	if (rc == WEFT_ETIMEDOUT) {
		snprintf(why, sizeof(why),
		    "no complete header within %d ms (%zu byte(s) came)", ms,
		    got);
		return refused(pc, w, why);
	}
	/* Nothing sent (a port probe), or the server is closing. */
	if (got == 0 || rc == WEFT_ECANCELED || rc == -ECONNABORTED)
		return -1;
	snprintf(why, sizeof(why), "truncated header: %s after %zu byte(s)",
	    rc == WEFT_EINCOMPLETE ? "the peer closed"
				   : "the connection failed",
	    got);
	return refused(pc, w, why);
}

int
weft__pp_prelude(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct weft__pp_conf *pc = arg;
	int ms = pc->timeout_ms > 0 ? pc->timeout_ms : PP_TIMEOUT_MS;
	struct weft__pp_hdr h;
	weft_deadline_t prev;
	const char *why;
	weft_slice_t s;
	ssize_t n;
	int rc = 0;

	prev = weft_deadline_push((uint64_t)ms);
	for (;;) {
		s = weft_reader_buffer(r);
		if ((n = weft__pp_parse(s.base, s.len, &h, &why)) != 0 ||
		    (rc = weft__reader_more(r)) != 0)
			break;
	}
	weft_deadline_restore(prev);
	if (n < 0)
		return refused(pc, w, why);
	if (n == 0)
		return wait_failed(pc, w, rc, s.len, ms);
	if ((rc = apply(w, &h)) != 0)
		return rc;
	/* The header, and not a byte more: the rest is the handler's. */
	(void)weft_read_slice(r, (size_t)n, &s);
	return 0;
}
