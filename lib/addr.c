/*
 * Addresses: the one text form of a socket address, and the peer and
 * local addresses a connection stores (asked of its transport once, or
 * set by a server's prelude) behind weft_peername, weft_sockname and
 * weft_extra_info.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "transport.h"

/*
 * Both addresses in one block sized to them (two IPv4 addresses take 40
 * bytes), allocated when the first one is known: a connection nobody
 * asks about holds only the NULL pointer.  A prelude's extra info (a
 * PROXY header's TLVs) rides in the same block.
 */
struct weft__addrs {
	struct weft__addrs_head a_head; /* first: see transport.h */
	socklen_t a_plen;		/* 0: not known yet */
	socklen_t a_llen;
	uint32_t a_ilen; /* "key\0value\0" pairs after the addresses */
	char a_data[];	 /* the peer's a_plen bytes, the local ones, info */
};

int
weft_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf,
    size_t size)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		n = snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		n = snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)sa;
		size_t plen = len > offsetof(struct sockaddr_un, sun_path)
		    ? len - offsetof(struct sockaddr_un, sun_path)
		    : 0;
		plen = strnlen(un->sun_path, plen);
		n = snprintf(buf, size, "%.*s", (int)plen, un->sun_path);
		break;
	}
	default:
		return -EAFNOSUPPORT;
	}
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return n;
}

int
weft__addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
				 ->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
				 ->sin6_port);
	return 0;
}

/* The length of a caller's address, 0 for a family we do not store. */
static socklen_t
addr_len(const struct sockaddr *sa)
{
	const struct sockaddr_un *un = (const void *)sa;

	switch (sa->sa_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	case AF_UNIX:
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strnlen(un->sun_path, sizeof(un->sun_path)));
	default:
		return 0;
	}
}

/* Replace the stored peer and/or local address and/or info (NULL: keep
 * it). */
static int
addrs_store_info(weft__conn_t *c, const struct sockaddr *peer, socklen_t plen,
    const struct sockaddr *local, socklen_t llen, const char *info, size_t ilen)
{
	struct weft__addrs *old = c->c_addrs, *a;
	const void *p = peer, *l = local;

	if (peer == NULL && old != NULL) {
		p = old->a_data;
		plen = old->a_plen;
	}
	if (local == NULL && old != NULL) {
		l = old->a_data + old->a_plen;
		llen = old->a_llen;
	}
	if (info == NULL && old != NULL) {
		info = old->a_data + old->a_plen + old->a_llen;
		ilen = old->a_ilen;
	}
	if (p == NULL)
		plen = 0;
	if (l == NULL)
		llen = 0;
	if (info == NULL || ilen > UINT32_MAX)
		ilen = 0;
	if ((a = malloc(sizeof(*a) + plen + llen + ilen)) == NULL)
		return -ENOMEM;
	a->a_head.ext = old != NULL ? old->a_head.ext : NULL;
	a->a_plen = plen;
	a->a_llen = llen;
	a->a_ilen = (uint32_t)ilen;
	if (plen > 0)
		memcpy(a->a_data, p, plen);
	if (llen > 0)
		memcpy(a->a_data + plen, l, llen);
	if (ilen > 0)
		memcpy(a->a_data + plen + llen, info, ilen);
	free(old);
	c->c_addrs = a;
	return 0;
}

static int
addrs_store(weft__conn_t *c, const struct sockaddr *peer, socklen_t plen,
    const struct sockaddr *local, socklen_t llen)
{
	return addrs_store_info(c, peer, plen, local, llen, NULL, 0);
}

int
weft__conn_set_ext(weft__conn_t *c, void *ext)
{
	int rc;

	if (c->c_addrs == NULL && (rc = addrs_store(c, NULL, 0, NULL, 0)) != 0)
		return rc;
	c->c_addrs->a_head.ext = ext;
	return 0;
}

void
weft__addr_free(weft__conn_t *c)
{
	free(c->c_addrs);
	c->c_addrs = NULL;
}

/* c's peer or local address: stored, or asked of the transport once. */
static int
conn_addr(weft__conn_t *c, int peer, struct sockaddr_storage *ss,
    socklen_t *len)
{
	const struct weft__addrs *a = c->c_addrs;
	socklen_t n;
	int rc;

	/* Closed, it reports nothing, except to its owner's on-close hook,
	 * which is told the addresses it had. */
	if ((rc = c->c_tr->t_fileno(c)) == WEFT_ECLOSED &&
	    (c->c_owner == NULL || c->c_owner->o_ending != c))
		return rc;
	memset(ss, 0, sizeof(*ss));
	n = a == NULL ? 0 : peer ? a->a_plen : a->a_llen;
	if (n == 0 && rc == WEFT_ECLOSED)
		return rc;
	if (n > 0) {
		memcpy(ss, peer ? a->a_data : a->a_data + a->a_plen, n);
		*len = n;
		return 0;
	}
	*len = sizeof(*ss);
	rc = c->c_tr->t_addr(c, peer, (struct sockaddr *)ss, len);
	if (rc != 0)
		return rc;
	/* Not kept (no memory, or no length): asked again next time. */
	if (*len > 0)
		(void)addrs_store(c, peer ? (struct sockaddr *)ss : NULL, *len,
		    peer ? NULL : (struct sockaddr *)ss, *len);
	return 0;
}

void
weft__addr_keep_peer(weft__conn_t *c)
{
	struct sockaddr_storage ss;
	socklen_t len;

	(void)conn_addr(c, 1, &ss, &len);
}

int
weft__conn_set_proxied(weft__conn_t *c, const struct sockaddr *peer,
    const struct sockaddr *local, const char *info, size_t ilen)
{
	socklen_t plen = 0, llen = 0;

	if (peer != NULL && (plen = addr_len(peer)) == 0)
		return -EAFNOSUPPORT;
	if (local != NULL && (llen = addr_len(local)) == 0)
		return -EAFNOSUPPORT;
	if (peer == NULL && local == NULL && info == NULL)
		return 0;
	return addrs_store_info(c, peer, plen, local, llen, info, ilen);
}

int
weft_conn_set_addrs(weft_writer_t *w, const struct sockaddr *peer,
    const struct sockaddr *local)
{
	return weft__conn_set_proxied(weft__conn_of_writer(w), peer, local,
	    NULL, 0);
}

static int
conn_name(const weft_writer_t *w, int peer, char *buf, size_t size)
{
	/* Storing an address does not change what the caller sees. */
	weft__conn_t *c = weft__conn_of_writer(w);
	struct sockaddr_storage ss;
	socklen_t len;
	int rc;

	if ((rc = conn_addr(c, peer, &ss, &len)) != 0)
		return rc;
	return weft_sockaddr_format((struct sockaddr *)&ss, len, buf, size);
}

int
weft_peername(const weft_writer_t *w, char *buf, size_t size)
{
	return conn_name(w, 1, buf, size);
}

int
weft_sockname(const weft_writer_t *w, char *buf, size_t size)
{
	return conn_name(w, 0, buf, size);
}

int
weft_fileno(const weft_writer_t *w)
{
	const weft__conn_t *c = weft__conn_of_writer(w);

	return c->c_tr->t_fileno(c);
}

static int
put_text(char *buf, size_t size, const char *s)
{
	int n = snprintf(buf, size, "%s", s);

	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}

/* The socket's own address, whatever a prelude stored. */
static int
socket_name(const weft__conn_t *c, int peer, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc;

	if ((rc = c->c_tr->t_fileno(c)) == WEFT_ECLOSED)
		return rc;
	memset(&ss, 0, sizeof(ss));
	if ((rc = c->c_tr->t_addr(c, peer, (struct sockaddr *)&ss, &len)) != 0)
		return rc;
	return weft_sockaddr_format((struct sockaddr *)&ss, len, buf, size);
}

/* A key of the info a prelude stored. */
static int
info_get(const weft__conn_t *c, const char *key, char *buf, size_t size)
{
	const struct weft__addrs *a = c->c_addrs;
	const char *p, *end, *v;

	if (a == NULL)
		return -ENOENT;
	p = a->a_data + a->a_plen + a->a_llen;
	end = p + a->a_ilen;
	while (p < end) {
		v = p + strlen(p) + 1;
		if (strcmp(p, key) == 0)
			return put_text(buf, size, v);
		p = v + strlen(v) + 1;
	}
	return -ENOENT;
}

int
weft_extra_info(const weft_writer_t *w, const char *key, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const weft__conn_t *c;
	char num[16];
	int fd, rc;

	if (strcmp(key, "peername") == 0)
		return weft_peername(w, buf, size);
	if (strcmp(key, "sockname") == 0)
		return weft_sockname(w, buf, size);
	if (strcmp(key, "socket") == 0 || strcmp(key, "fileno") == 0) {
		if ((fd = weft_fileno(w)) < 0)
			return fd;
		snprintf(num, sizeof(num), "%d", fd);
		return put_text(buf, size, num);
	}
	if (strcmp(key, "family") == 0) {
		if ((fd = weft_fileno(w)) < 0)
			return fd;
		/* A transport without addresses (a pipe) names its own. */
		c = weft__conn_of_writer(w);
		if ((rc = conn_addr(weft__conn_of_writer(w), 0, &ss, &len)) ==
			-ENOENT &&
		    c->c_tr->t_info != NULL)
			return c->c_tr->t_info(c, key, buf, size);
		if (rc != 0)
			return rc;
		return put_text(buf, size,
		    ss.ss_family == AF_INET	   ? "AF_INET"
			: ss.ss_family == AF_INET6 ? "AF_INET6"
			: ss.ss_family == AF_UNIX  ? "AF_UNIX"
						   : "AF_UNSPEC");
	}
	c = weft__conn_of_writer(w);
	if (strcmp(key, "socket_peername") == 0 ||
	    strcmp(key, "socket_sockname") == 0)
		return socket_name(c, key[7] == 'p', buf, size);
	if ((rc = info_get(c, key, buf, size)) != -ENOENT)
		return rc;
	if (c->c_tr->t_info != NULL)
		return c->c_tr->t_info(c, key, buf, size);
	return -ENOENT;
}
