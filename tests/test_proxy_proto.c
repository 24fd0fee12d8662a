/*
 * The PROXY protocol: the header parser (lib/proxy_proto.c) on every
 * valid and malformed form, and the prelude weft_server_set_proxy_protocol
 * over real sockets (TCP and UNIX): the addresses and TLVs the handler
 * sees, the bytes after the header left to it, a header arriving a byte
 * at a time, and each refusal (malformed, truncated, late) closing the
 * connection without the handler, counted in proxy_protocol_errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_proto.h"

#define LOCALHOST "127.0.0.1"
#define LIT(s) s, sizeof(s) - 1

static const char v2sig[] = "\r\n\r\n\0\r\nQUIT\n";
static const uint8_t zero[64];

/* ---- Building headers --------------------------------------------------- */

struct hdr {
	uint8_t b[1024];
	size_t n;
};

static void
put(struct hdr *h, const void *p, size_t n)
{
	assert_true(h->n + n <= sizeof(h->b));
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

/* A v2 header's fixed part; v2_end fills in its length. */
static void
v2_start(struct hdr *h, uint8_t vercmd, uint8_t fam)
{
	h->n = 0;
	put(h, v2sig, 12);
	put(h, &vercmd, 1);
	put(h, &fam, 1);
	put(h, "\0\0", 2);
}

static void
v2_end(struct hdr *h)
{
	h->b[14] = (uint8_t)((h->n - 16) >> 8);
	h->b[15] = (uint8_t)(h->n - 16);
}

static void
tlv(struct hdr *h, uint8_t type, const void *v, size_t n)
{
	uint8_t t[3] = { type, (uint8_t)(n >> 8), (uint8_t)n };

	put(h, t, 3);
	put(h, v, n);
}

/* 192.0.2.1:56324 -> 198.51.100.2:443 */
static void
v2_inet(struct hdr *h)
{
	static const uint8_t a[12] = { 192, 0, 2, 1, 198, 51, 100, 2, 0xdc,
		0x04, 0x01, 0xbb };

	v2_start(h, 0x21, 0x11);
	put(h, a, sizeof(a));
}

/* The CRC32C of buf, bit by bit: checked against the standard's check
 * value, then used to make headers the parser must accept. */
static uint32_t
ref_crc32c(const uint8_t *buf, size_t n)
{
	uint32_t crc = 0xffffffffu;
	int k;

	while (n-- > 0) {
		crc ^= *buf++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

/* The test's full v2 header: IPv4, TLVs, a CRC32C over it all. */
static void
v2_full(struct hdr *h)
{
	static const uint8_t ssl[] = { 0x01, 0, 0, 0, 0, /* client, verify */
		0x21, 0, 7, 'T', 'L', 'S', 'v', '1', '.', '3', 0x22, 0, 4, 'a',
		'l', 'i', 'x', 0x23, 0, 6, 'A', 'E', 'S', '1', '2', '8' };
	size_t at;
	uint32_t crc;

	v2_inet(h);
	tlv(h, 0x01, LIT("h2"));
	tlv(h, 0x02, LIT("example.com"));
	tlv(h, 0x04, LIT("\0\0\0"));
	tlv(h, 0x05, LIT("id\x01\\"));
	tlv(h, 0x20, ssl, sizeof(ssl));
	tlv(h, 0xe0, LIT("custom"));
	at = h->n + 3;
	tlv(h, 0x03, LIT("\0\0\0\0"));
	v2_end(h);
	crc = ref_crc32c(h->b, h->n);
	h->b[at] = (uint8_t)(crc >> 24);
	h->b[at + 1] = (uint8_t)(crc >> 16);
	h->b[at + 2] = (uint8_t)(crc >> 8);
	h->b[at + 3] = (uint8_t)crc;
}

static void
fmt(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	assert_true(weft_sockaddr_format((const struct sockaddr *)ss,
			sizeof(*ss), buf, size) >= 0);
}

/* Parse b[0, n): every shorter prefix asks for more, the whole is a
 * header of n bytes (with trailing bytes after it, too). */
static void
parse_ok(const void *b, size_t n, struct weft__pp_hdr *h)
{
	static uint8_t more[2048];
	const char *why;
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(weft__pp_parse(b, i, h, &why), 0);
	memcpy(more, b, n);
	memcpy(more + n, "\x16\x03\x01trailing", 11);
	assert_int_equal(weft__pp_parse(more, n + 11, h, &why), (ssize_t)n);
	assert_int_equal(weft__pp_parse(b, n, h, &why), (ssize_t)n);
}

/* b[0, n) is refused, with no prefix taken for a whole header. */
static void
parse_bad(const void *b, size_t n, const char *what)
{
	struct weft__pp_hdr h;
	const char *why = NULL;
	ssize_t rc;
	size_t i;

	for (i = 0; i < n; i++)
		assert_true(weft__pp_parse(b, i, &h, &why) <= 0);
	rc = weft__pp_parse(b, n, &h, &why);
	if (rc != -EPROTO)
		fail_msg("%s: %zd, not -EPROTO", what, rc);
	assert_non_null(why);
}

/* ---- The parser --------------------------------------------------------- */

WT_TEST(crc32c_reference)
{
	assert_int_equal(ref_crc32c((const uint8_t *)"123456789", 9),
	    0xe3069283u);
}

WT_TEST(v1_tcp4_tcp6_unknown)
{
	static const char t4[] =
	    "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
	static const char t6[] = "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n";
	struct weft__pp_hdr h;
	char a[64];

	parse_ok(LIT(t4), &h);
	assert_int_equal(h.version, 1);
	assert_true(h.has_addrs);
	assert_string_equal(h.command, "PROXY");
	fmt(&h.src, a, sizeof(a));
	assert_string_equal(a, "192.0.2.1:56324");
	fmt(&h.dst, a, sizeof(a));
	assert_string_equal(a, "198.51.100.2:443");
	parse_ok(LIT(t6), &h);
	fmt(&h.src, a, sizeof(a));
	assert_string_equal(a, "[2001:db8::1]:0");
	fmt(&h.dst, a, sizeof(a));
	assert_string_equal(a, "[::1]:65535");
	parse_ok(LIT("PROXY UNKNOWN\r\n"), &h);
	assert_false(h.has_addrs);
	assert_string_equal(h.command, "UNKNOWN");
	parse_ok(LIT("PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n"), &h);
	assert_false(h.has_addrs);
}

/* 107 bytes is the longest line; 108 is refused as soon as it is sure. */
WT_TEST(v1_length_limit)
{
	char line[128];
	struct weft__pp_hdr h;
	const char *why;

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	parse_ok(line, 107, &h);
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 2);
	parse_bad(line, 108, "108 bytes");
	/* No CR among the first 106 bytes: refused without waiting. */
	assert_int_equal(weft__pp_parse(line, 105, &h, &why), 0);
	assert_int_equal(weft__pp_parse(line, 106, &h, &why), -EPROTO);
}

WT_TEST(v1_malformed)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n",
		"PROXY\r\n",
		"PROXYTCP4 1.2.3.4 1.2.3.5 1 2\r\n",
		"proxy TCP4 1.2.3.4 1.2.3.5 1 2\r\n",
		"PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
		"PROXY TCP4\r\n",
		"PROXY TCP4 \r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 1 2 3\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 1 2 \r\n",
		"PROXY TCP4 1.2.3.4  1.2.3.5 1 2\r\n",
		"PROXY TCP4 1.2.3 1.2.3.5 1 2\r\n",
		"PROXY TCP4 1.2.3.256 1.2.3.5 1 2\r\n",
		"PROXY TCP4 ::1 ::1 1 2\r\n",
		"PROXY TCP6 1.2.3.4 1.2.3.5 1 2\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 08 2\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 -1 2\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 1 2\rx\n",
		"PROXY TCP4 1.2.3.4\t1.2.3.5 1 2\r\n",
		"PROXY TCP4 1.2.3.4 1.2.3.5 1 2\x80\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i], strlen(bad[i]), bad[i]);
	parse_bad(LIT("PROXY TCP4 1.2.3.4\0 1.2.3.5 1 2\r\n"), "NUL");
}

WT_TEST(v2_families)
{
	static const uint8_t a6[36] = { 0x20, 0x01, 0x0d,
		0xb8, [15] = 1, [31] = 1, [32] = 0x12, 0x34, 0x00, 0x50 };
	uint8_t au[216] = { 0 };
	struct weft__pp_hdr h;
	struct hdr b;
	char a[128];

	v2_inet(&b);
	v2_end(&b);
	parse_ok(b.b, b.n, &h);
	assert_int_equal(h.version, 2);
	assert_true(h.has_addrs);
	fmt(&h.src, a, sizeof(a));
	assert_string_equal(a, "192.0.2.1:56324");
	fmt(&h.dst, a, sizeof(a));
	assert_string_equal(a, "198.51.100.2:443");
	assert_int_equal(h.tlv_len, 0);
	v2_start(&b, 0x21, 0x21); /* TCP over IPv6 */
	put(&b, a6, sizeof(a6));
	v2_end(&b);
	parse_ok(b.b, b.n, &h);
	fmt(&h.src, a, sizeof(a));
	assert_string_equal(a, "[2001:db8::1]:4660");
	fmt(&h.dst, a, sizeof(a));
	assert_string_equal(a, "[::1]:80");
	v2_start(&b, 0x21, 0x31); /* UNIX stream */
	memcpy(au, "/run/front.sock", 15);
	memset(au + 108, 'p', 108); /* a full path: no NUL */
	put(&b, au, sizeof(au));
	v2_end(&b);
	parse_ok(b.b, b.n, &h);
	assert_int_equal(h.src.ss_family, AF_UNIX);
	fmt(&h.src, a, sizeof(a));
	assert_string_equal(a, "/run/front.sock");
	fmt(&h.dst, a, sizeof(a));
	assert_int_equal(strlen(a), 108);
	v2_start(&b, 0x21, 0x12); /* UDP over IPv4: addresses all the same */
	put(&b, au, 12);
	v2_end(&b);
	parse_ok(b.b, b.n, &h);
	assert_true(h.has_addrs);
	/* AF_UNSPEC: the socket's addresses stay; TLVs may follow. */
	v2_start(&b, 0x21, 0x00);
	tlv(&b, 0x02, LIT("a.example"));
	v2_end(&b);
	parse_ok(b.b, b.n, &h);
	assert_false(h.has_addrs);
	assert_string_equal(h.command, "PROXY");
	assert_int_equal(h.tlv_len, 12);
	/* LOCAL: the block is skipped whatever its family says. */
	v2_start(&b, 0x20, 0x11);
	put(&b, au, 5);
	v2_end(&b);
	parse_ok(b.b, b.n, &h);
	assert_false(h.has_addrs);
	assert_string_equal(h.command, "LOCAL");
}

WT_TEST(v2_tlvs_and_crc)
{
	const uint8_t *p, *v;
	struct weft__pp_hdr h;
	struct hdr b;
	unsigned type, seen = 0;
	size_t n, len;

	v2_full(&b);
	parse_ok(b.b, b.n, &h);
	p = h.tlv;
	n = h.tlv_len;
	while (weft__pp_tlv_next(&p, &n, &type, &v, &len))
		seen |= 1u << (type & 31);
	assert_int_equal(n, 0);
	/* ALPN, authority, CRC32C, NOOP, unique id, SSL (0x20 & 31 = 0) and
	 * the custom 0xe0 (also 0). */
	assert_int_equal(seen, 0x3f);
	/* One bit off anywhere past the signature breaks the checksum. */
	b.b[20] ^= 1;
	parse_bad(b.b, b.n, "crc");
}

WT_TEST(v2_malformed)
{
	struct hdr b;

	v2_inet(&b);
	v2_end(&b);
	b.b[11] = 'X'; /* signature */
	parse_bad(b.b, b.n, "signature");
	v2_start(&b, 0x11, 0x11); /* version 1 in binary */
	parse_bad(b.b, 13, "version 1");
	v2_start(&b, 0x31, 0x11);
	parse_bad(b.b, 13, "version 3");
	v2_start(&b, 0x22, 0x11); /* command 2 */
	parse_bad(b.b, 13, "command");
	v2_start(&b, 0x21, 0x41); /* family 4 */
	parse_bad(b.b, 14, "family");
	v2_start(&b, 0x21, 0x13); /* protocol 3 */
	parse_bad(b.b, 14, "protocol");
	v2_start(&b, 0x21, 0x10); /* IPv4 of no protocol */
	parse_bad(b.b, 14, "unspec protocol");
	v2_start(&b, 0x21, 0x01);
	parse_bad(b.b, 14, "unspec family");
	v2_start(&b, 0x21, 0x11);
	put(&b, "\1\2\3\4\5\6\7\x8\x9\xa\xb", 11); /* IPv4 needs 12 */
	v2_end(&b);
	parse_bad(b.b, b.n, "short block");
	v2_start(&b, 0x21, 0x21);
	put(&b, zero, 35);
	v2_end(&b);
	parse_bad(b.b, b.n, "short v6 block");
	v2_inet(&b);
	put(&b, "\x01\x00", 2); /* a TLV cut in its length */
	v2_end(&b);
	parse_bad(b.b, b.n, "tlv head");
	v2_inet(&b);
	put(&b, "\x01\x00\x05h2", 5); /* longer than what is left */
	v2_end(&b);
	parse_bad(b.b, b.n, "tlv length");
	v2_inet(&b);
	tlv(&b, 0x20, "\x01\0\0\0", 4); /* SSL without its verify */
	v2_end(&b);
	parse_bad(b.b, b.n, "ssl short");
	v2_inet(&b);
	tlv(&b, 0x20, "\x01\0\0\0\0\x21\0\x09TLS", 11); /* sub-TLV overrun */
	v2_end(&b);
	parse_bad(b.b, b.n, "ssl sub");
	v2_inet(&b);
	tlv(&b, 0x03, "\0\0\0", 3); /* a CRC32C of 3 bytes */
	v2_end(&b);
	parse_bad(b.b, b.n, "crc length");
}

/* ---- The prelude over sockets ------------------------------------------- */

/* What the handler saw. */
struct seen {
	int handlers;
	int done;
	char line[64];
	char peer[128], sock[128], speer[128], ssock[128];
	char info[12][128];
};

static const char *const info_keys[12] = { "proxy_version", "proxy_command",
	"proxy_alpn", "proxy_authority", "proxy_unique_id", "proxy_ssl_client",
	"proxy_ssl_verify", "proxy_ssl_version", "proxy_ssl_cn",
	"proxy_ssl_cipher", "proxy_ssl_sig_alg", "family" };

static void
text(weft_writer_t *w, const char *key, char *buf, size_t size)
{
	if (weft_extra_info(w, key, buf, size) < 0)
		snprintf(buf, size, "-");
}

static void
handler(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct seen *s = arg;
	ssize_t n;
	int i;

	s->handlers++;
	n = weft_readline_copy(r, s->line, sizeof(s->line) - 1);
	s->line[n > 0 ? n : 0] = '\0';
	text(w, "peername", s->peer, sizeof(s->peer));
	text(w, "sockname", s->sock, sizeof(s->sock));
	text(w, "socket_peername", s->speer, sizeof(s->speer));
	text(w, "socket_sockname", s->ssock, sizeof(s->ssock));
	for (i = 0; i < 12; i++)
		text(w, info_keys[i], s->info[i], sizeof(s->info[i]));
	weft_write(w, "ok\n", 3);
	s->done = 1;
}

static int
wait_flag(const int *flag)
{
	int i;

	for (i = 0; i < 2000 && !*flag; i++)
		weft_sleep(5);
	return *flag;
}

static uint64_t
pp_errors(const weft_server_t *srv)
{
	weft_server_stats_t st;

	assert_int_equal(weft_server_stats(srv, &st, sizeof(st)), sizeof(st));
	return st.proxy_protocol_errors;
}

static weft_server_t *
server(struct seen *s, int timeout_ms)
{
	weft_server_t *srv = NULL;

	memset(s, 0, sizeof(*s));
	assert_int_equal(weft_start_server(handler, s, LOCALHOST, 0, NULL,
			     &srv),
	    0);
	assert_int_equal(weft_server_set_proxy_protocol(srv, timeout_ms), 0);
	return srv;
}

static void
server_done(weft_server_t **srv)
{
	assert_int_equal(weft_server_close(*srv), 0);
	assert_int_equal(weft_server_wait_closed(*srv), 0);
	weft_server_free(srv);
}

/* Send data in pieces of step bytes (0: at once), then read the reply:
 * "ok\n" if the handler ran, "" if the server closed first. */
static void
exchange(int port, const void *data, size_t n, size_t step, char *reply,
    size_t size)
{
	weft_reader_t *r;
	weft_writer_t *w;
	ssize_t got;
	size_t i;

	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r, &w),
	    0);
	for (i = 0; i < n; i += step) {
		if (step == 0)
			step = n;
		assert_int_equal(weft_write(w, (const char *)data + i,
				     n - i < step ? n - i : step),
		    0);
		if (step < n)
			weft_sleep(2); /* a segment each */
	}
	got = weft_readline_copy(r, reply, size - 1);
	reply[got > 0 ? got : 0] = '\0';
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
}

WT_CASE(prelude_v1_then_data)
{
	static struct seen s;
	static const char msg[] =
	    "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello\n";
	weft_server_t *srv = server(&s, 0);
	char reply[16], own[64];

	exchange(weft_server_port(srv), LIT(msg), 0, reply, sizeof(reply));
	assert_string_equal(reply, "ok\n");
	assert_true(wait_flag(&s.done));
	assert_string_equal(s.line, "hello\n");
	assert_string_equal(s.peer, "192.0.2.1:56324");
	assert_string_equal(s.sock, "198.51.100.2:443");
	assert_memory_equal(s.speer, "127.0.0.1:", 10);
	snprintf(own, sizeof(own), "127.0.0.1:%d", weft_server_port(srv));
	assert_string_equal(s.ssock, own);
	assert_string_equal(s.info[0], "1");
	assert_string_equal(s.info[1], "PROXY");
	assert_string_equal(s.info[2], "-"); /* no TLVs in v1 */
	assert_int_equal(pp_errors(srv), 0);
	server_done(&srv);
}

WT_CASE(prelude_v1_tcp6_and_unknown)
{
	static struct seen s;
	weft_server_t *srv = server(&s, 0);
	char reply[16];

	exchange(weft_server_port(srv),
	    LIT("PROXY TCP6 2001:db8::7 2001:db8::8 1000 2000\r\nsix\n"), 0,
	    reply, sizeof(reply));
	assert_true(wait_flag(&s.done));
	assert_string_equal(s.line, "six\n");
	assert_string_equal(s.peer, "[2001:db8::7]:1000");
	assert_string_equal(s.sock, "[2001:db8::8]:2000");
	assert_string_equal(s.info[11], "AF_INET6");
	s.done = 0;
	exchange(weft_server_port(srv), LIT("PROXY UNKNOWN\r\nunk\n"), 0, reply,
	    sizeof(reply));
	assert_true(wait_flag(&s.done));
	assert_string_equal(s.line, "unk\n");
	/* UNKNOWN keeps the socket's own addresses. */
	assert_string_equal(s.peer, s.speer);
	assert_string_equal(s.sock, s.ssock);
	assert_string_equal(s.info[1], "UNKNOWN");
	assert_int_equal(s.handlers, 2);
	server_done(&srv);
}

/* The full v2 header, sent a byte at a time, then the data. */
WT_CASE(prelude_v2_tlvs_byte_by_byte)
{
	static struct seen s;
	static struct hdr b;
	weft_server_t *srv = server(&s, 0);
	char reply[16];

	v2_full(&b);
	put(&b, LIT("after\n"));
	exchange(weft_server_port(srv), b.b, b.n, 1, reply, sizeof(reply));
	assert_string_equal(reply, "ok\n");
	assert_true(wait_flag(&s.done));
	assert_string_equal(s.line, "after\n");
	assert_string_equal(s.peer, "192.0.2.1:56324");
	assert_string_equal(s.sock, "198.51.100.2:443");
	assert_string_equal(s.info[0], "2");
	assert_string_equal(s.info[1], "PROXY");
	assert_string_equal(s.info[2], "h2");
	assert_string_equal(s.info[3], "example.com");
	assert_string_equal(s.info[4], "id\\x01\\x5c");
	assert_string_equal(s.info[5], "1");
	assert_string_equal(s.info[6], "0");
	assert_string_equal(s.info[7], "TLSv1.3");
	assert_string_equal(s.info[8], "alix");
	assert_string_equal(s.info[9], "AES128");
	assert_string_equal(s.info[10], "-");
	assert_int_equal(pp_errors(srv), 0);
	server_done(&srv);
}

/* v2 LOCAL (a health check) keeps the socket's addresses; v2 over a
 * UNIX listener carries UNIX addresses. */
WT_CASE(prelude_v2_local_and_unix)
{
	static struct seen s;
	static struct hdr b;
	weft_server_t *srv = server(&s, 0);
	weft_reader_t *r;
	weft_writer_t *w;
	char reply[16], path[64];
	uint8_t au[216] = { 0 };

	v2_start(&b, 0x20, 0x00);
	v2_end(&b);
	put(&b, LIT("check\n"));
	exchange(weft_server_port(srv), b.b, b.n, 0, reply, sizeof(reply));
	assert_true(wait_flag(&s.done));
	assert_string_equal(s.line, "check\n");
	assert_string_equal(s.peer, s.speer);
	assert_string_equal(s.info[1], "LOCAL");
	server_done(&srv);

	memset(&s, 0, sizeof(s));
	snprintf(path, sizeof(path), "/tmp/weft-pp-%ld.sock", (long)getpid());
	assert_int_equal(weft_start_unix_server(handler, &s, path, NULL, &srv),
	    0);
	assert_int_equal(weft_server_set_proxy_protocol(srv, 0), 0);
	v2_start(&b, 0x21, 0x31);
	memcpy(au, "/run/client.sock", 16);
	memcpy(au + 108, "/run/haproxy.sock", 17);
	put(&b, au, sizeof(au));
	v2_end(&b);
	put(&b, LIT("unix\n"));
	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w), 0);
	assert_int_equal(weft_write(w, b.b, b.n), 0);
	assert_int_equal(weft_readline_copy(r, reply, sizeof(reply)), 3);
	assert_true(wait_flag(&s.done));
	assert_string_equal(s.line, "unix\n");
	assert_string_equal(s.peer, "/run/client.sock");
	assert_string_equal(s.sock, "/run/haproxy.sock");
	assert_string_equal(s.ssock, path);
	assert_string_equal(s.info[11], "AF_UNIX");
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	server_done(&srv);
}

/* Each malformed header: closed, the handler never runs, counted. */
WT_CASE(prelude_refusals)
{
	static struct seen s;
	static struct hdr b;
	weft_server_t *srv = server(&s, 0);
	int port = weft_server_port(srv);
	uint64_t n = 0;
	char reply[16];

	exchange(port, LIT("GET / HTTP/1.0\r\n\r\n"), 0, reply, sizeof(reply));
	assert_string_equal(reply, "");
	assert_int_equal(pp_errors(srv), ++n);
	exchange(port, LIT("PROXY TCP4 1.2.3.4 1.2.3.5 1 2 3\r\nx\n"), 0, reply,
	    sizeof(reply));
	assert_int_equal(pp_errors(srv), ++n);
	memset(b.b, 'x', 200);
	memcpy(b.b, "PROXY UNKNOWN ", 14);
	exchange(port, b.b, 200, 0, reply, sizeof(reply));
	assert_int_equal(pp_errors(srv), ++n);
	v2_start(&b, 0x31, 0x11);
	exchange(port, b.b, b.n, 0, reply, sizeof(reply));
	assert_int_equal(pp_errors(srv), ++n);
	v2_start(&b, 0x2f, 0x11);
	exchange(port, b.b, b.n, 0, reply, sizeof(reply));
	assert_int_equal(pp_errors(srv), ++n);
	v2_start(&b, 0x21, 0x51);
	exchange(port, b.b, b.n, 0, reply, sizeof(reply));
	assert_int_equal(pp_errors(srv), ++n);
	v2_start(&b, 0x21, 0x21);
	put(&b, zero, 20);
	v2_end(&b);
	exchange(port, b.b, b.n, 0, reply, sizeof(reply));
	assert_int_equal(pp_errors(srv), ++n);
	v2_full(&b);
	b.b[31] ^= 0x20; /* "H2": the CRC32C no longer matches */
	exchange(port, b.b, b.n, 3, reply, sizeof(reply));
	assert_int_equal(pp_errors(srv), ++n);
	assert_int_equal(s.handlers, 0);
	server_done(&srv);
}

/* Truncated (the peer closes mid-header) and late (the timeout) headers
 * are refused and counted; a connection that sends nothing and closes
 * (a port probe) is closed without a count. */
WT_CASE(prelude_truncated_and_timeout)
{
	static struct seen s, s2;
	static struct hdr b;
	weft_server_t *srv = server(&s, 0);
	int port = weft_server_port(srv);
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	int i;

	v2_full(&b);
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r, &w),
	    0);
	assert_int_equal(weft_write(w, b.b, 20), 0);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_int_equal(all.len, 0);
	weft_stream_free(w);
	assert_int_equal(pp_errors(srv), 1);

	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r, &w),
	    0);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	weft_stream_free(w);
	for (i = 0; i < 400 && weft_server_connections(srv) > 0; i++)
		weft_sleep(5);
	assert_int_equal(pp_errors(srv), 1);
	assert_int_equal(s.handlers, 0);
	server_done(&srv);

	/* Half a v1 line, and then silence: the server gives up. */
	srv = server(&s2, 100);
	port = weft_server_port(srv);
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r, &w),
	    0);
	assert_int_equal(weft_write(w, LIT("PROXY TCP4 1.2.")), 0);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_int_equal(all.len, 0);
	weft_stream_free(w);
	assert_int_equal(pp_errors(srv), 1);
	assert_int_equal(s2.handlers, 0);
	server_done(&srv);
}

WT_CASE(prelude_callback_mode_refused)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	static struct seen s;

	memset(&opts, 0, sizeof(opts));
	opts.callback_mode = 1;
	assert_int_equal(weft_start_server(handler, &s, LOCALHOST, 0, &opts,
			     &srv),
	    0);
	assert_int_equal(weft_server_set_proxy_protocol(srv, 0), -EINVAL);
	server_done(&srv);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
