/*
 * The PROXY protocol header parser, versions 1 (a text line) and 2
 * (binary), told apart by their first byte.  Strict: whatever the
 * specification does not allow is refused, and refused as early as the
 * bytes so far show it, so that a client sending garbage is not waited
 * for.  It works on the reader's buffer as it fills, and looks at no byte
 * past the header: what follows is the handler's (or TLS's).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "proxy_proto.h"

static const char v1_sig[] = "PROXY ";
static const uint8_t v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a,
	0x51, 0x55, 0x49, 0x54, 0x0a };

/* The address block of each v2 family: none, IPv4, IPv6, UNIX. */
static const size_t v2_addr_len[4] = { 0, 12, 36, 216 };

static ssize_t
refuse(const char **why, const char *text)
{
	*why = text;
	return -EPROTO;
}

/* ---- Version 1 ---------------------------------------------------------- */

/* Copy the field at *p (up to the next space or the end) into out as a
 * string, and step over it and one space; -1 if empty or too long. */
static int
v1_field(const char **p, const char *end, char *out, size_t size)
{
	const char *s = *p;
	size_t n;

	while (*p < end && **p != ' ')
		(*p)++;
	n = (size_t)(*p - s);
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	if (*p < end)
		(*p)++;
	return 0;
}

/* A decimal port: 0 to 65535, no sign, no leading zero. */
static int
v1_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '0' && s[1] != '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = htons((uint16_t)v);
	return 0;
}

/* "SRC DST SPORT DPORT" of a TCP4 (af AF_INET) or TCP6 line. */
static int
v1_addrs(const char *p, const char *end, int af, struct weft__pp_hdr *h)
{
	char f[4][INET6_ADDRSTRLEN];
	struct sockaddr_in *s4 = (void *)&h->src, *d4 = (void *)&h->dst;
	struct sockaddr_in6 *s6 = (void *)&h->src, *d6 = (void *)&h->dst;
	int i;

	for (i = 0; i < 4; i++)
		if (v1_field(&p, end, f[i], sizeof(f[i])) != 0)
			return -1;
	/* Exactly four fields, single spaces, nothing after the last. */
	if (p != end || end[-1] == ' ')
		return -1;
	if (af == AF_INET) {
		s4->sin_family = d4->sin_family = AF_INET;
		if (inet_pton(AF_INET, f[0], &s4->sin_addr) != 1 ||
		    inet_pton(AF_INET, f[1], &d4->sin_addr) != 1 ||
		    v1_port(f[2], &s4->sin_port) != 0 ||
		    v1_port(f[3], &d4->sin_port) != 0)
			return -1;
	} else {
		s6->sin6_family = d6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, f[0], &s6->sin6_addr) != 1 ||
		    inet_pton(AF_INET6, f[1], &d6->sin6_addr) != 1 ||
		    v1_port(f[2], &s6->sin6_port) != 0 ||
		    v1_port(f[3], &d6->sin6_port) != 0)
			return -1;
	}
	h->has_addrs = 1;
	return 0;
}

static ssize_t
v1_parse(const char *b, size_t len, struct weft__pp_hdr *h, const char **why)
{
	const char *p, *end;
	char proto[8];
	size_t i;

	if (memcmp(b, v1_sig, len < 6 ? len : 6) != 0)
		return refuse(why, "bad v1 signature");
	for (i = 0; i < len && i < WEFT__PP_V1_MAX; i++) {
		if (b[i] == '\r') {
			if (i + 1 >= WEFT__PP_V1_MAX)
				break;
			if (i + 1 == len)
				return 0;
			if (b[i + 1] != '\n')
				return refuse(why,
				    "v1 line has a CR without LF");
			break;
		}
		if (b[i] == '\n')
			return refuse(why, "v1 line ends without CR");
		if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e)
			return refuse(why, "v1 line has a control character");
	}
	if (i + 1 >= WEFT__PP_V1_MAX)
		return refuse(why, "v1 line longer than 107 bytes");
	if (i == len)
		return 0;
	h->version = 1;
	h->command = "PROXY";
	p = b + 6;
	end = b + i; /* at the CR */
	if (v1_field(&p, end, proto, sizeof(proto)) != 0)
		return refuse(why, "bad v1 protocol");
	if (strcmp(proto, "UNKNOWN") == 0) {
		/* The sender could not tell: the rest is to be ignored. */
		h->command = "UNKNOWN";
		return (ssize_t)(i + 2);
	}
	if (strcmp(proto, "TCP4") != 0 && strcmp(proto, "TCP6") != 0)
		return refuse(why, "bad v1 protocol");
	if (p[-1] != ' ' ||
	    v1_addrs(p, end, proto[3] == '4' ? AF_INET : AF_INET6, h) != 0)
		return refuse(why, "bad v1 addresses");
	return (ssize_t)(i + 2);
}

/* ---- Version 2 ---------------------------------------------------------- */

/* CRC32C (Castagnoli, reflected), of buf with the 4 bytes at skip read
 * as zeroes: the checksum TLV's own value. */
static uint32_t
crc32c(const uint8_t *buf, size_t len, size_t skip)
{
	uint32_t crc = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		crc ^= i >= skip && i < skip + 4 ? 0 : buf[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

int
weft__pp_tlv_next(const uint8_t **p, size_t *n, unsigned *type,
    const uint8_t **val, size_t *len)
{
	size_t l;

	if (*n < 3)
		return 0;
	l = (size_t)(*p)[1] << 8 | (*p)[2];
	*type = (*p)[0];
	*val = *p + 3;
	*len = l;
	*p += 3 + l;
	*n -= 3 + l;
	return 1;
}

/* Check the TLV list [p, p + n) of the header hdr[0, hlen); ssl: inside
 * an SSL TLV, whose sub-TLVs have no CRC32C and no SSL of their own. */
static int
v2_tlvs(const uint8_t *p, size_t n, const uint8_t *hdr, size_t hlen, int ssl,
    const char **why)
{
	size_t l;

	while (n > 0) {
		if (n < 3 || (l = (size_t)p[1] << 8 | p[2]) > n - 3) {
			*why = "v2 TLV overruns the header";
			return -1;
		}
		if (!ssl && p[0] == WEFT__PP2_CRC32C &&
		    (l != 4 ||
			crc32c(hdr, hlen, (size_t)(p + 3 - hdr)) !=
			    ((uint32_t)p[3] << 24 | (uint32_t)p[4] << 16 |
				(uint32_t)p[5] << 8 | p[6]))) {
			*why = "v2 CRC32C does not match";
			return -1;
		}
		if (!ssl && p[0] == WEFT__PP2_SSL &&
		    (l < 5 || v2_tlvs(p + 8, l - 5, hdr, hlen, 1, why) != 0)) {
			if (l < 5)
				*why = "v2 SSL TLV too short";
			return -1;
		}
		p += 3 + l;
		n -= 3 + l;
	}
	return 0;
}

/* The source and destination of family fam (1 IPv4, 2 IPv6, 3 UNIX)
 * from the address block a. */
static void
v2_addrs(const uint8_t *a, int fam, struct weft__pp_hdr *h)
{
	struct sockaddr_in *s4 = (void *)&h->src, *d4 = (void *)&h->dst;
	struct sockaddr_in6 *s6 = (void *)&h->src, *d6 = (void *)&h->dst;
	struct sockaddr_un *su = (void *)&h->src, *du = (void *)&h->dst;

	h->has_addrs = 1;
	if (fam == 1) {
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		memcpy(&d4->sin_port, a + 10, 2);
	} else if (fam == 2) {
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		memcpy(&d6->sin6_port, a + 34, 2);
	} else {
		/* 108 bytes each, NUL-padded; sun_path has room for all. */
		su->sun_family = du->sun_family = AF_UNIX;
		memcpy(su->sun_path, a, 108);
		memcpy(du->sun_path, a + 108, 108);
	}
}

static ssize_t
v2_parse(const uint8_t *b, size_t len, struct weft__pp_hdr *h, const char **why)
{
	size_t hlen, alen;
	int fam;

	if (memcmp(b, v2_sig, len < 12 ? len : 12) != 0)
		return refuse(why, "bad v2 signature");
	if (len > 12 && b[12] >> 4 != 2)
		return refuse(why, "unknown version");
	if (len > 12 && (b[12] & 0xf) > 1)
		return refuse(why, "unknown v2 command");
	/* TCP or UDP over IPv4, IPv6 or UNIX, or all unspecified; the
	 * family of a LOCAL header is to be ignored. */
	if (len > 13 && (b[12] & 0xf) == 1 && b[13] != 0 &&
	    ((b[13] >> 4) < 1 || (b[13] >> 4) > 3 || (b[13] & 0xf) < 1 ||
		(b[13] & 0xf) > 2))
		return refuse(why, "bad v2 address family");
	if (len < WEFT__PP_V2_HEAD)
		return 0;
	hlen = WEFT__PP_V2_HEAD + ((size_t)b[14] << 8 | b[15]);
	if (len < hlen)
		return 0;
	h->version = 2;
	if ((b[12] & 0xf) == 0) {
		/* A health check of the proxy's own: the block is ignored. */
		h->command = "LOCAL";
		return (ssize_t)hlen;
	}
	h->command = "PROXY";
	fam = b[13] >> 4;
	alen = v2_addr_len[fam];
	if (hlen - WEFT__PP_V2_HEAD < alen)
		return refuse(why, "v2 address block shorter than its family");
	if (fam != 0)
		v2_addrs(b + WEFT__PP_V2_HEAD, fam, h);
	h->tlv = b + WEFT__PP_V2_HEAD + alen;
	h->tlv_len = hlen - WEFT__PP_V2_HEAD - alen;
	if (v2_tlvs(h->tlv, h->tlv_len, b, hlen, 0, why) != 0)
		return -EPROTO;
	return (ssize_t)hlen;
}

ssize_t
weft__pp_parse(const void *buf, size_t len, struct weft__pp_hdr *h,
    const char **why)
{
	const uint8_t *b = buf;

	memset(h, 0, sizeof(*h));
	*why = NULL;
	if (len == 0)
		return 0;
	if (b[0] == v2_sig[0])
		return v2_parse(b, len, h, why);
	if (b[0] == (uint8_t)v1_sig[0])
		return v1_parse(buf, len, h, why);
	return refuse(why, "no PROXY header signature");
}
