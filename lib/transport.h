/*
 * The transport seam: what moves bytes between a connection and the
 * outside world.  A connection holds a pointer to its transport's const
 * ops table (c_tr); the writer, the lifecycle code (conn.c) and the
 * address code (addr.c) call only these ops, so a new transport adds a
 * table and a file, not a branch in every function.
 *
 * A transport's per-connection state goes in the connection's tail
 * (c_h), sized by t_size: the libuv stream transport keeps its handle
 * there, the fake transport its record of written bytes.  A filter (a
 * TLS layer) wraps another transport by declaring t_size as the inner
 * one's plus its own state, kept behind the inner tail, and forwarding
 * to the inner ops: a plain connection does not pay for it.
 */
#ifndef WEFT_TRANSPORT_H
#define WEFT_TRANSPORT_H

#include <sys/socket.h>

#include "internal.h"

struct weft__transport {
	const char *t_name;
	size_t t_size; /* bytes of a connection on this transport */
	/* The transport that owns the handle: itself, or the one a filter
	 * (TLS) runs over. */
	const struct weft__transport *t_base;
	/* A filter's input: set, the base transport delivers what it reads
	 * here instead of into the reader (n: bytes read, or a UV_E* code,
	 * UV_EOF included).  NULL for a plain transport. */
	int (*t_rx_reserve)(weft__conn_t *c, char **base, size_t *len);
	void (*t_rx_commit)(weft__conn_t *c, ssize_t n);
	/* Deliver bytes into c->c_r (weft__reader_reserve/commit), or stop
	 * for a while: the reader's pause/resume_reading.  NULL for a
	 * transport fed by hand, whose reader then has no transport. */
	void (*t_read_start)(weft__conn_t *c);
	void (*t_read_stop)(weft__conn_t *c);
	/* Send bufs or queue what the peer did not take yet; a failure
	 * after the bytes were accepted goes to weft__conn_fatal. */
	int (*t_write)(weft__conn_t *c, const weft_slice_t *bufs, size_t n);
	/* Half-close once the queued bytes are out; NULL where a half-close
	 * cannot be sent (TLS): weft_write_eof is then -ENOTSUP. */
	void (*t_write_eof)(weft__conn_t *c);
	/* Close once the queued bytes are out; connection_lost(0) follows
	 * when the transport is gone. */
	void (*t_close)(weft__conn_t *c);
	/* Close now, dropping what is queued. */
	void (*t_abort)(weft__conn_t *c);
	/* Bytes written but not yet taken by the peer. */
	size_t (*t_buffered)(const weft__conn_t *c);
	/* 1 while the transport still holds c (a handle not closed yet):
	 * c is freed only after it lets go (weft__conn_maybe_free). */
	int (*t_busy)(const weft__conn_t *c);
	/* The descriptor, WEFT_ECLOSED once closed, -ENOTSUP if none. */
	int (*t_fileno)(const weft__conn_t *c);
	/* The peer (peer != 0) or local address, as getpeername(2). */
	int (*t_addr)(const weft__conn_t *c, int peer, struct sockaddr *sa,
	    socklen_t *len);
	/* Release per-connection buffers; c is about to be freed. */
	void (*t_destroy)(weft__conn_t *c);
	/* The filter's own extra info keys; NULL or -ENOENT: none. */
	int (*t_info)(const weft__conn_t *c, const char *key, char *buf,
	    size_t size);
};

/* The libuv stream transports (transport_uv.c): TCP and UNIX/pipe. */
extern const weft__transport_t weft__transport_tcp;
extern const weft__transport_t weft__transport_unix;
/* The fake transport of the unit tests (transport_fake.c). */
extern const weft__transport_t weft__transport_fake;
/* TLS over each of them (tls.c). */
extern const weft__transport_t weft__transport_tls_tcp;
extern const weft__transport_t weft__transport_tls_unix;
extern const weft__transport_t weft__transport_tls_fake;

/* Initialise c's libuv handle (a TCP or pipe handle, per c->c_tr->t_base). */
void weft__uv_init(weft__conn_t *c);
/* Initialise c's handle over fd, a connected stream socket; on failure
 * fd is closed and the handle is still to be closed (weft__uv_close). */
int weft__uv_open(weft__conn_t *c, int fd);
/* The transport of a pipe, FIFO or character device opened with flags
 * (fcntl(F_GETFL)): its access mode says which ends are there. */
const weft__transport_t *weft__uv_pipe_transport(int flags);
/* As weft__uv_open, for fd on such a transport; reading starts, or a
 * write-only fd's reader is at EOF at once. */
int weft__uv_open_pipe(weft__conn_t *c, int fd);
/* Start reading from c's initialised, connected handle. */
int weft__uv_start(weft__conn_t *c);
/* Close c's handle now (no flush); a no-op if it is closing. */
void weft__uv_close(weft__conn_t *c);

/* The port of an AF_INET/AF_INET6 address, 0 for others. */
int weft__addr_port(const struct sockaddr *sa);
/* Drop c's stored addresses (and its extension, already released). */
void weft__addr_free(weft__conn_t *c);
/* A filter's per-connection state, kept beside the stored addresses so
 * a plain connection pays nothing for it; set returns -ENOMEM.  The
 * addresses block (addr.c) starts with this head, so that the filter's
 * every op finds its state inline. */
struct weft__addrs_head {
	void *ext;
};
int weft__conn_set_ext(weft__conn_t *c, void *ext);

static inline void *
weft__conn_ext(const weft__conn_t *c)
{
	const struct weft__addrs_head *h = (const void *)c->c_addrs;

	return h != NULL ? h->ext : NULL;
}

/*
 * Put TLS on c (tls.c) and wait for the handshake, in ctx's role, on the
 * running fiber: host is the client's SNI and name to check; bytes the
 * reader holds are the first TLS bytes.  timeout_ms 0: 60 s.  0 (and
 * *resumed), or WEFT_ETLS, WEFT_ETLSVERIFY, -ECONNABORTED (timed out),
 * the transport's error; on failure c is closed or aborted.
 */
struct weft_tls_ctx;
int weft__tls_start(weft__conn_t *c, struct weft_tls_ctx *ctx, const char *host,
    int timeout_ms, int *resumed);

/* A server's handshake within ms[0] and its shutdown within ms[1] (0:
 * the defaults), counted in n: ok, resumed, failed, timed out, and of the
 * failed, refused certificates and peers that closed. */
int weft__tls_accept(weft__conn_t *c, struct weft_tls_ctx *ctx, const int ms[2],
    uint64_t n[6]);
/* Bound the wait for a flush at close to ms (0: 30 s, the default). */
void weft__tls_set_shutdown(weft__conn_t *c, int ms);

#endif /* WEFT_TRANSPORT_H */
