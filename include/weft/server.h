/*
 * weft — connections and servers: open_connection and start_server.
 *
 * Each accepted connection gets a fresh reader and writer and its own
 * fiber running the client callback.  When the callback returns, weft
 * closes the connection (flushing what was written) and releases the
 * reader and writer; asyncio leaves it open, weft does not.
 */
#ifndef WEFT_SERVER_H
#define WEFT_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

#include <weft/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_server weft_server_t;

/** The handler of one client connection; runs on its own fiber. */
typedef void (*weft_client_cb)(weft_reader_t *r, weft_writer_t *w, void *arg);

/**
 * A step run on the connection's fiber before the handler: it may read
 * (a PROXY header, a TLS handshake) and set the addresses.  Non-zero
 * closes the connection without running the handler.
 */
typedef int (*weft_prelude_cb)(weft_reader_t *r, weft_writer_t *w, void *arg);

/** Options; a zeroed struct (or NULL) means asyncio's defaults. */
typedef struct weft_stream_opts {
	ssize_t limit;	  /* reader limit; 0 = 65536, < 0 = -EINVAL */
	int backlog;	  /* listen backlog; 0 = 100 */
	int reuse_port;	  /* set SO_REUSEPORT before bind */
	int unix_mode;	  /* chmod a UNIX socket to this mode; 0 = leave */
	int keep_socket;  /* do not unlink the UNIX socket path on close */
	int no_delay_off; /* leave Nagle on (TCP_NODELAY is set by default) */
	/* Servers only: */
	int accept_batch; /* accepts per loop wakeup per listener; 0 = 16 */
	/* Live connections at most; past it new ones are closed at once, and
	 * past 7/8 of it the server stops accepting until it drops below, so
	 * that sibling processes on the same socket take the load.  0 = no
	 * limit. */
	size_t max_connections;
	/* The client callback runs on the loop's stack, not on a fiber, and
	 * the connection stays open when it returns: it sets up callbacks
	 * with weft_read_start (see stream.h) and closes with weft_close. */
	int callback_mode;
	/* TLS (weft/tls.h), asyncio's ssl= keywords.  A weft_tls_ctx_t, or
	 * WEFT_SSL_DEFAULT for ssl=True; NULL: plain. */
	struct weft_tls_ctx *ssl;
	/* Client: the name sent as SNI and checked against the certificate;
	 * NULL: the host connected to (no SNI for an IP literal); "": neither
	 * SNI nor a name check. */
	const char *server_hostname;
	int ssl_handshake_timeout_ms; /* 0 = 60 s */
	int ssl_shutdown_timeout_ms;  /* 0 = 30 s */
	/* Servers: a connection whose queued output makes no progress (the
	 * kernel takes no byte of it) for this long is aborted, close reason
	 * WEFT_CLOSE_TIMEOUT, counted in the stats' send_timeouts; waits on
	 * it get -ETIMEDOUT.  It bounds the flush after the handler returns
	 * too.  0 = 60 s, < 0 = none. */
	int send_timeout_ms;
} weft_stream_opts_t;

/**
 * Connect to host:port (names resolved with getaddrinfo, every address
 * tried in turn).  On success *r and *w are set; release them with
 * weft_stream_free.  -ECONNREFUSED etc. on failure.  Waits.
 */
WEFT_EXTERN int weft_open_connection(const char *host, int port,
    const weft_stream_opts_t *opts, weft_reader_t **r, weft_writer_t **w);

/** Connect to a UNIX socket path.  Waits. */
WEFT_EXTERN int weft_open_unix_connection(const char *path,
    const weft_stream_opts_t *opts, weft_reader_t **r, weft_writer_t **w);

/**
 * The sock= form and asyncio's connect_read_pipe/connect_write_pipe: wrap
 * fd, a connected stream socket (TCP or UNIX, e.g. one end of a
 * socketpair), a pipe or FIFO end, or a character device epoll can watch
 * (a pty, a tty).  weft takes ownership of fd: every failure closes it
 * too.  For a descriptor that is not a socket: a read-only one's writer
 * refuses writes (-EBADF); a write-only one's reader is at EOF at once,
 * and weft_write_eof closes it, which is the other end's EOF; one open
 * both ways (a pty) has no weft_write_eof (-ENOTSUP); the EIO a pty
 * reads once its other side has closed is EOF; there are no addresses
 * (weft_peername is -ENOENT).  fd is made non-blocking, which whoever
 * shares its open file description (a forked child, a shell) sees too.
 * -EPERM for what epoll refuses (a regular file, a directory,
 * /dev/null), -EPROTOTYPE for a socket that is not a stream, -ENOTSUP
 * for opts->ssl on a descriptor that is not a socket.
 */
WEFT_EXTERN int weft_open_connection_fd(int fd, const weft_stream_opts_t *opts,
    weft_reader_t **r, weft_writer_t **w);

/**
 * Listen on host:port (NULL or "" = all interfaces; one socket per
 * resolved address; port 0 = ephemeral) and run cb on a new fiber for
 * every client.  Waits (name resolution).
 */
WEFT_EXTERN int weft_start_server(weft_client_cb cb, void *arg,
    const char *host, int port, const weft_stream_opts_t *opts,
    weft_server_t **out);

/**
 * Listen on a UNIX socket path.  A stale socket file is removed first; a
 * regular file there is -EADDRINUSE.  The path is removed on close.
 */
WEFT_EXTERN int weft_start_unix_server(weft_client_cb cb, void *arg,
    const char *path, const weft_stream_opts_t *opts, weft_server_t **out);

/** Serve on an already bound (listening or not) socket; takes the fd. */
WEFT_EXTERN int weft_start_server_fd(weft_client_cb cb, void *arg, int fd,
    const weft_stream_opts_t *opts, weft_server_t **out);

/**
 * Run fn before the handler on every connection accepted from now on
 * (set it before the caller next waits to cover them all); NULL removes
 * it.  -EINVAL for a callback-mode server, whose handlers have no fiber.
 */
WEFT_EXTERN int weft_server_set_prelude(weft_server_t *srv, weft_prelude_cb fn,
    void *arg);

/**
 * An accept gate: asked (accepting = 1) before each accept on the
 * server's listeners, a nonzero return leaves the client in the kernel's
 * queue and stops polling them until weft_server_accept_resume(); told
 * (accepting = 0, return ignored) each time one of its connections ends.
 */
typedef int (*weft_accept_gate_cb)(weft_server_t *srv, int accepting,
    void *arg);

/** Set (or, with NULL, remove) the server's accept gate; 0. */
WEFT_EXTERN int weft_server_set_accept_gate(weft_server_t *srv,
    weft_accept_gate_cb fn, void *arg);

/**
 * Poll again the listeners the gate held, unless max_connections or a
 * lack of file descriptors holds them too.
 */
WEFT_EXTERN void weft_server_accept_resume(weft_server_t *srv);

/**
 * Set the connection's peer and local addresses (either may be NULL to
 * keep it) as weft_peername, weft_sockname and weft_extra_info report
 * them: a PROXY header's addresses.  -EAFNOSUPPORT unless AF_INET,
 * AF_INET6 or AF_UNIX; -ENOMEM.
 */
WEFT_EXTERN int weft_conn_set_addrs(weft_writer_t *w,
    const struct sockaddr *peer, const struct sockaddr *local);

/**
 * Expect a PROXY protocol header, version 1 (text) or 2 (binary), told
 * apart by its signature, before anything else on every connection
 * accepted from now on, as HAProxy's accept-proxy does: a ready-made
 * prelude (it replaces any set by weft_server_set_prelude).  The header
 * must be complete within timeout_ms (0: 5 s).  weft_peername,
 * weft_sockname and weft_extra_info's "peername" and "sockname" then
 * report the header's addresses (a v2 LOCAL, a v1 UNKNOWN or an
 * AF_UNSPEC header keeps the socket's); the socket's own stay available
 * as extra info "socket_peername" and "socket_sockname".  Extra info
 * also has "proxy_version" ("1", "2"), "proxy_command" ("PROXY",
 * "LOCAL", "UNKNOWN") and the v2 TLVs: "proxy_alpn",
 * "proxy_authority", "proxy_unique_id", "proxy_netns", "proxy_ssl_client"
 * and "proxy_ssl_verify" (decimal), "proxy_ssl_version", "proxy_ssl_cn",
 * "proxy_ssl_cipher", "proxy_ssl_sig_alg", "proxy_ssl_key_alg", their
 * bytes outside printable ASCII (and '\\') written as \xHH.  A CRC32C
 * TLV is checked.  A malformed, truncated or late header closes the
 * connection without running the handler, counts in the stats'
 * proxy_protocol_errors and is logged (weft_log); the bytes after the
 * header are the handler's (or a TLS server's ClientHello).  -EINVAL for
 * a callback-mode server.
 */
WEFT_EXTERN int weft_server_set_proxy_protocol(weft_server_t *srv,
    int timeout_ms);

/**
 * Format an address as weft_peername does: "1.2.3.4:80", "[::1]:80", a
 * UNIX path, or "" for an unnamed one.  The length, -ENOBUFS if buf is
 * too small, -EAFNOSUPPORT for another family.
 */
WEFT_EXTERN int weft_sockaddr_format(const struct sockaddr *sa, socklen_t len,
    char *buf, size_t size);

/** Stop listening.  Live connections go on.  Idempotent. */
WEFT_EXTERN int weft_server_close(weft_server_t *srv);

/** Close every live client connection (asyncio's close_clients). */
WEFT_EXTERN void weft_server_close_clients(weft_server_t *srv);

/**
 * Abort every live client connection (asyncio's abort_clients): queued
 * output is dropped and the handlers' waiting calls fail with
 * -ECONNABORTED, so they return and their fibers end.
 */
WEFT_EXTERN void weft_server_abort_clients(weft_server_t *srv);

/** 1 while the server accepts connections. */
WEFT_EXTERN int weft_server_is_serving(const weft_server_t *srv);

/**
 * Wait until the server is closed and all its connections have ended
 * (3.12.1+ semantics).  Waits.
 */
WEFT_EXTERN int weft_server_wait_closed(weft_server_t *srv);

/**
 * serve_forever(): wait until the server is closed.  If the waiting fiber
 * is cancelled, the server is closed and WEFT_ECANCELED returned.
 * WEFT_ECLOSED at once on a closed server, WEFT_EBUSY while another
 * fiber is already in serve_forever (asyncio's RuntimeErrors).
 */
WEFT_EXTERN int weft_server_serve_forever(weft_server_t *srv);

/** Copy up to n listening fds into fds; returns how many there are. */
WEFT_EXTERN size_t weft_server_sockets(const weft_server_t *srv, int *fds,
    size_t n);

/** The bound port of the first TCP socket (0 for UNIX servers). */
WEFT_EXTERN int weft_server_port(const weft_server_t *srv);

/*
 * A server's counters, listed once: X(name, what it counts).  Each is a
 * uint64_t field of weft_server_stats_t, in this order.  New counters are
 * only ever appended, so a program built against an older header passes
 * a smaller size and gets the fields it knows.
 */
#define WEFT_SERVER_STATS_MAP(X)                                               \
	X(accepted, "connections accepted since the server started")           \
	X(active, "client connections open now")                               \
	X(emfile_pauses,                                                       \
	    "times accepting paused because the process ran out of fds")       \
	X(tls_handshakes, "TLS handshakes completed")                          \
	X(tls_resumed, "TLS handshakes that resumed a session")                \
	X(tls_failed, "TLS handshakes that failed")                            \
	X(tls_timeouts, "TLS handshakes that timed out")                       \
	X(tls_failed_verify,                                                   \
	    "TLS handshakes that failed: the peer's certificate was refused")  \
	X(tls_failed_closed,                                                   \
	    "TLS handshakes that failed: the peer closed the connection")      \
	X(send_timeouts,                                                       \
	    "connections aborted: their output made no progress for "          \
	    "send_timeout_ms")                                                 \
	X(closed_eof, "connections closed in order, by either side")           \
	X(closed_reset, "connections reset by the peer")                       \
	X(closed_timeout, "connections ended after a read or drain timeout")   \
	X(closed_abort, "connections aborted")                                 \
	X(closed_limit, "connections closed after a read past the limit")      \
	X(closed_shutdown, "connections closed as the server shut down")       \
	X(closed_error,                                                        \
	    "connections ended by another error, or refused by the prelude")   \
	X(bytes_in, "plaintext bytes received, counted as they arrive")        \
	X(bytes_out, "plaintext bytes written, counted as they are written")   \
	X(proxy_protocol_errors,                                               \
	    "connections closed for a bad, truncated or late PROXY header")

/** A server's counters (see WEFT_SERVER_STATS_MAP). */
typedef struct weft_server_stats {
#define WEFT__SERVER_STAT(name, what) uint64_t name;
	WEFT_SERVER_STATS_MAP(WEFT__SERVER_STAT)
#undef WEFT__SERVER_STAT
} weft_server_stats_t;

/**
 * Fill the first size bytes of *st (pass sizeof *st) with the server's
 * counters; returns how many bytes were filled, the smaller of size and
 * this library's sizeof(weft_server_stats_t).
 */
WEFT_EXTERN size_t weft_server_stats(const weft_server_t *srv,
    weft_server_stats_t *st, size_t size);

/**
 * What went through one connection.  Bytes are plaintext: with TLS,
 * bytes_in counts what was decrypted into the reader (a prelude's reads
 * included, the handshake not) and bytes_out what weft_write and
 * weft_writev accepted before encryption; neither waits for the peer.
 */
typedef struct weft_conn_stats {
	uint64_t bytes_in;    /* received into the reader */
	uint64_t bytes_out;   /* accepted by weft_write/weft_writev */
	uint64_t start_ms;    /* the loop time it was set up (uv_now) */
	uint64_t duration_ms; /* from then until now (or its end) */
	int reason;	      /* weft_close_reason_t; NONE while open */
} weft_conn_stats_t;

/**
 * Fill the first size bytes of *st (pass sizeof *st) with the figures of
 * a connection a server accepted (a client's are 0); returns how many
 * bytes were filled.
 */
WEFT_EXTERN size_t weft_conn_stats(const weft_writer_t *w,
    weft_conn_stats_t *st, size_t size);

/**
 * Told that one of a server's connections ended; w stays valid until it
 * returns (weft_peername, weft_extra_info, weft_tls_info and
 * weft_close_reason answer as they did before the end), and must not be
 * written to or waited on.
 */
typedef void (*weft_close_cb)(weft_writer_t *w, const weft_conn_stats_t *st,
    void *arg);

/**
 * Call fn(w, st, arg) as each connection accepted from now on ends,
 * after its handler (or a refused prelude or handshake); NULL removes
 * it.  With fn set, each connection keeps its peer address from accept.
 */
WEFT_EXTERN int weft_server_set_on_close(weft_server_t *srv, weft_close_cb fn,
    void *arg);

/** Number of live client connections (the stats' active, without a copy). */
WEFT_EXTERN size_t weft_server_connections(const weft_server_t *srv);

/**
 * Free a server after weft_server_wait_closed (closes it first if
 * needed) and set *srvp to NULL.
 */
WEFT_EXTERN void weft_server_free(weft_server_t **srvp);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_SERVER_H */
