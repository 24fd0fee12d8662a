/*
 * The PROXY protocol (versions 1 and 2): the header parser
 * (proxy_proto.c), which reads nothing and allocates nothing, and the
 * server prelude built on it (proxy_prelude.c).
 */
#ifndef WEFT_PROXY_PROTO_H
#define WEFT_PROXY_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <weft/stream.h>

/* The longest v1 header, "\r\n" included. */
#define WEFT__PP_V1_MAX 107
/* The fixed part of a v2 header: signature, version/command, family,
 * length. */
#define WEFT__PP_V2_HEAD 16

/* v2 TLV types (the ones given names as extra info, and the checked
 * CRC32C). */
enum {
	WEFT__PP2_ALPN = 0x01,
	WEFT__PP2_AUTHORITY = 0x02,
	WEFT__PP2_CRC32C = 0x03,
	WEFT__PP2_NOOP = 0x04,
	WEFT__PP2_UNIQUE_ID = 0x05,
	WEFT__PP2_SSL = 0x20,
	WEFT__PP2_SSL_VERSION = 0x21,
	WEFT__PP2_SSL_CN = 0x22,
	WEFT__PP2_SSL_CIPHER = 0x23,
	WEFT__PP2_SSL_SIG_ALG = 0x24,
	WEFT__PP2_SSL_KEY_ALG = 0x25,
	WEFT__PP2_NETNS = 0x30,
};

/* A parsed header.  tlv points into the buffer that was parsed. */
struct weft__pp_hdr {
	int version;	     /* 1 or 2 */
	int has_addrs;	     /* 0: keep the socket's (LOCAL, UNKNOWN, UNSPEC) */
	const char *command; /* "PROXY", "LOCAL" or "UNKNOWN" */
	struct sockaddr_storage src, dst;
	const uint8_t *tlv; /* v2 PROXY: its TLVs, already checked */
	size_t tlv_len;
};

/*
 * Parse the header at the start of buf[0, len): its length (> 0) once
 * it is complete, 0 while len bytes are a valid start of one, -EPROTO
 * (*why says what is wrong) as soon as they cannot be.  Never looks
 * past the header.
 */
ssize_t weft__pp_parse(const void *buf, size_t len, struct weft__pp_hdr *h,
    const char **why);

/*
 * The next of a checked TLV list [*p, *p + *n): 1 with its type and
 * value, advancing *p and *n; 0 at the end.
 */
int weft__pp_tlv_next(const uint8_t **p, size_t *n, unsigned *type,
    const uint8_t **val, size_t *len);

/* A server's PROXY protocol prelude: its timeout and its failures. */
struct weft__pp_conf {
	int timeout_ms; /* 0: 5 s */
	uint64_t errors;
};

/* The prelude (weft_prelude_cb); arg is the server's weft__pp_conf. */
int weft__pp_prelude(weft_reader_t *r, weft_writer_t *w, void *arg);

#endif /* WEFT_PROXY_PROTO_H */
