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
	/* Deliver bytes into c->c_r (weft__reader_reserve/commit), or stop
	 * for a while: the reader's pause/resume_reading.  NULL for a
	 * transport fed by hand, whose reader then has no transport. */
	void (*t_read_start)(weft__conn_t *c);
	void (*t_read_stop)(weft__conn_t *c);
	/* Send bufs or queue what the peer did not take yet; a failure
	 * after the bytes were accepted goes to weft__conn_fatal. */
	int (*t_write)(weft__conn_t *c, const weft_slice_t *bufs, size_t n);
	/* Half-close once the queued bytes are out. */
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
};

/* The libuv stream transports (transport_uv.c): TCP and UNIX/pipe. */
extern const weft__transport_t weft__transport_tcp;
extern const weft__transport_t weft__transport_unix;
/* The fake transport of the unit tests (transport_fake.c). */
extern const weft__transport_t weft__transport_fake;

/* Initialise c's libuv handle (a TCP or pipe handle, per c->c_tr). */
void weft__uv_init(weft__conn_t *c);
/* Initialise c's handle over fd, a connected stream socket; on failure
 * fd is closed and the handle is still to be closed (weft__uv_close). */
int weft__uv_open(weft__conn_t *c, int fd);
/* Start reading from c's initialised, connected handle. */
int weft__uv_start(weft__conn_t *c);
/* Close c's handle now (no flush); a no-op if it is closing. */
void weft__uv_close(weft__conn_t *c);

/* The port of an AF_INET/AF_INET6 address, 0 for others. */
int weft__addr_port(const struct sockaddr *sa);
/* Drop c's stored addresses. */
void weft__addr_free(weft__conn_t *c);

#endif /* WEFT_TRANSPORT_H */
