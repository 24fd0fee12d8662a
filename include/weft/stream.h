/*
 * weft — StreamReader and StreamWriter, after asyncio.
 *
 * A reader buffers bytes arriving from its transport (or fed by hand with
 * weft_feed_data) and hands them out through read, readline, readuntil and
 * readexactly.  A writer buffers outgoing bytes, sends what it can at once
 * and lets a fiber wait in weft_drain() until the buffer falls below its
 * low-water mark.  Semantics follow CPython 3.13's asyncio streams except
 * where the README's table of differences says otherwise.
 *
 * Calls that may wait must be made from a fiber (see fiber.h); they park
 * only the calling fiber.  Only one fiber may wait on a reader at a time:
 * a second one that would have to wait gets WEFT_EBUSY.
 *
 * Slices (weft_slice_t) returned by readline/readuntil/read_all point into
 * the reader's buffer: zero-copy, valid until the next call on that reader
 * (feeding data does not invalidate them).  No read call allocates unless
 * the buffer has to grow past its pooled size.
 */
#ifndef WEFT_STREAM_H
#define WEFT_STREAM_H

#include <stddef.h>
#include <sys/types.h>

#include <weft/errors.h>
#include <weft/version.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_reader weft_reader_t;
typedef struct weft_writer weft_writer_t;

/** A borrowed byte range. */
typedef struct weft_slice {
	const char *base;
	size_t len;
} weft_slice_t;

/** The default reader limit (asyncio's 2**16). */
#define WEFT_LIMIT_DEFAULT 65536

/** Default writer high- and low-water marks. */
#define WEFT_WRITE_HIGH_DEFAULT (64 * 1024)
#define WEFT_WRITE_LOW_DEFAULT (16 * 1024)

/**
 * The two calls a reader makes on its transport for flow control.  A
 * pause_reading that returns -ENOTSUP makes the reader forget the
 * transport and buffer without bound, as asyncio does on
 * NotImplementedError.
 */
typedef struct weft_transport_ops {
	int (*pause_reading)(void *ctx);
	int (*resume_reading)(void *ctx);
} weft_transport_ops_t;

/** Details of the last WEFT_ELIMIT or WEFT_EINCOMPLETE on a reader. */
typedef struct weft_read_error {
	int code;	  /* WEFT_ELIMIT, WEFT_EINCOMPLETE or 0 */
	int found;	  /* ELIMIT: 1 if the separator was in the buffer */
	size_t consumed;  /* ELIMIT: LimitOverrunError.consumed */
	size_t partial;	  /* EINCOMPLETE: length of the partial data */
	ssize_t expected; /* EINCOMPLETE: expected bytes, -1 = undefined */
} weft_read_error_t;

/* ---- Reader ---------------------------------------------------------- */

/**
 * Create a reader with no transport (asyncio's StreamReader()).  Pass
 * WEFT_LIMIT_DEFAULT for asyncio's default; limit <= 0 is -EINVAL, as is
 * a limit above 1 GiB (buffer offsets are 32-bit).  *out must be NULL on
 * entry.
 */
WEFT_EXTERN int weft_reader_new(ssize_t limit, weft_reader_t **out);

/** Free a reader made by weft_reader_new and set *rp to NULL. */
WEFT_EXTERN void weft_reader_free(weft_reader_t **rp);

/** Attach a transport for flow control; -EALREADY if one is set. */
WEFT_EXTERN int weft_reader_set_transport(weft_reader_t *r,
    const weft_transport_ops_t *ops, void *ctx);

/** 1 while the reader has asked its transport to pause. */
WEFT_EXTERN int weft_reader_paused(const weft_reader_t *r);

/** 1 while the reader still has a transport (see pause_reading). */
WEFT_EXTERN int weft_reader_has_transport(const weft_reader_t *r);

/** The reader's limit. */
WEFT_EXTERN size_t weft_reader_limit(const weft_reader_t *r);

/** A view of the unread buffer (no copy, nothing consumed). */
WEFT_EXTERN weft_slice_t weft_reader_buffer(const weft_reader_t *r);

/**
 * Append bytes to the buffer and wake a waiting fiber.  Empty data is a
 * no-op (after the EOF check).  Returns -EPIPE after weft_feed_eof.
 */
WEFT_EXTERN int weft_feed_data(weft_reader_t *r, const void *data, size_t len);

/** Mark end of stream and wake a waiting fiber.  Idempotent. */
WEFT_EXTERN void weft_feed_eof(weft_reader_t *r);

/** 1 when EOF was fed and the buffer is empty. */
WEFT_EXTERN int weft_at_eof(const weft_reader_t *r);

/** The stored error code, 0 if none. */
WEFT_EXTERN int weft_reader_exception(const weft_reader_t *r);

/**
 * Store an error (0 clears it).  It is sticky: every later read returns
 * it, even with data buffered.  A waiting read returns it at once.
 */
WEFT_EXTERN void weft_reader_set_exception(weft_reader_t *r, int err);

/** Details of the last WEFT_ELIMIT/WEFT_EINCOMPLETE; returns info->code. */
WEFT_EXTERN int weft_reader_last_error(const weft_reader_t *r,
    weft_read_error_t *info);

/**
 * CPython's message for the last WEFT_ELIMIT/WEFT_EINCOMPLETE, e.g.
 * "Separator is found, but chunk is longer than limit" or "18 bytes read
 * on a total of 36 expected bytes", written into buf.  Returns buf.
 */
WEFT_EXTERN const char *weft_reader_error_message(const weft_reader_t *r,
    char *buf, size_t size);

/**
 * Read up to n bytes into buf, waiting once if the buffer is empty.
 * Returns the count, 0 at EOF or when n == 0, or a negative code.
 */
WEFT_EXTERN ssize_t weft_read(weft_reader_t *r, void *buf, size_t n);

/**
 * Zero-copy weft_read: like weft_read(r, ..., n) but instead of copying,
 * *out points at up to n buffered bytes (valid until the next call on the
 * reader).  Returns the count, 0 at EOF, or a negative code.  The fastest
 * way to echo or forward bytes: no copy into a stack buffer.
 */
WEFT_EXTERN ssize_t weft_read_slice(weft_reader_t *r, size_t n,
    weft_slice_t *out);

/**
 * asyncio's read(-1): wait for EOF and return everything in *out.
 * WEFT_ELIMIT (nothing returned, the data discarded) once more than max
 * bytes (0 = unbounded) would be returned.  On an error the data
 * collected so far is lost, as in CPython.
 */
WEFT_EXTERN int weft_read_all(weft_reader_t *r, size_t max, weft_slice_t *out);

/**
 * Read one line ending in '\n' (the slice includes it).  At EOF the
 * partial last line is returned, and an empty slice at EOF with nothing
 * buffered.  An over-limit line is discarded as CPython does and
 * WEFT_ELIMIT returned.
 */
WEFT_EXTERN int weft_readline(weft_reader_t *r, weft_slice_t *out);

/**
 * Read up to and including sep.  WEFT_ELIMIT leaves the buffer alone;
 * WEFT_EINCOMPLETE returns the partial data in *out and clears the
 * buffer; an empty separator is -EINVAL.
 */
WEFT_EXTERN int weft_readuntil(weft_reader_t *r, const void *sep, size_t seplen,
    weft_slice_t *out);

/**
 * The 3.13 tuple form: stop at whichever separator ends first (the
 * shortest on a tie).  nseps == 0 or an empty member is -EINVAL.
 */
WEFT_EXTERN int weft_readuntil_any(weft_reader_t *r, const weft_slice_t *seps,
    size_t nseps, weft_slice_t *out);

/**
 * Read exactly n bytes into buf.  n < 0 is -EINVAL.  At EOF first, the
 * partial bytes are copied to buf, *got is set (if not NULL) and
 * WEFT_EINCOMPLETE returned.  Returns 0 on success.
 */
WEFT_EXTERN int weft_readexactly(weft_reader_t *r, void *buf, ssize_t n,
    size_t *got);

/**
 * Copying readline: copies the line into buf (not NUL-terminated) and
 * returns its length.  -ENOBUFS (nothing consumed) if it does not fit.
 */
WEFT_EXTERN ssize_t weft_readline_copy(weft_reader_t *r, void *buf,
    size_t size);

/* ---- Callback style ------------------------------------------------ */

/**
 * A reader callback: status 0 when new bytes are buffered or EOF arrived
 * (weft_at_eof tells), < 0 when the connection failed, and WEFT_ECLOSED
 * once, last, when the connection is released: r and its writer must not
 * be used after that call returns (a writer held with weft_writer_hold
 * stays valid until released).
 */
typedef void (*weft_read_cb)(weft_reader_t *r, int status, void *arg);

/**
 * Callback style, for handlers that run without a fiber (a plugin flagged
 * WEFT_PLUGIN_CALLBACK, or any code on the loop's own stack): cb is
 * called on the loop's stack as data arrives.  From then on the read
 * calls of this reader never wait: where they would, they return -EAGAIN
 * and consume nothing, so the callback returns and is called again with
 * more data.  If bytes are already buffered, cb is called before this
 * returns.  Costs no fiber and no stack: the leanest way to hold many
 * mostly-idle connections.
 */
WEFT_EXTERN int weft_read_start(weft_reader_t *r, weft_read_cb cb, void *arg);

/**
 * Stop the callbacks and stop reading from the socket (backpressure);
 * weft_read_start resumes.  Data already buffered stays.
 */
WEFT_EXTERN int weft_read_stop(weft_reader_t *r);

/** A writer callback: status 0 once the buffer is at or below low water. */
typedef void (*weft_write_cb)(weft_writer_t *w, int status, void *arg);

/**
 * Callback style for the writer: weft_drain never waits (it returns
 * -EAGAIN above the high-water mark) and cb is called once the buffer
 * drains to the low-water mark, or with the error when the connection is
 * lost.  Pair it with weft_read_stop/start for backpressure.
 */
WEFT_EXTERN int weft_drain_start(weft_writer_t *w, weft_write_cb cb, void *arg);

/* ---- Writer ---------------------------------------------------------- */

/**
 * Queue bytes: what the socket takes now is sent at once, the rest is
 * buffered; never waits.  Empty data is a no-op.  -EPIPE after
 * weft_write_eof, WEFT_ECLOSED after weft_close, -EBADF on a read-only
 * pipe (weft_open_connection_fd).  After the connection was lost the
 * bytes are dropped silently (the error shows at drain).
 */
WEFT_EXTERN int weft_write(weft_writer_t *w, const void *data, size_t len);

/** writelines(): queue several buffers in order. */
WEFT_EXTERN int weft_writev(weft_writer_t *w, const weft_slice_t *bufs,
    size_t nbufs);

/**
 * Wait until the write buffer is at or below the low-water mark.  Returns
 * at once (without yielding) while it is below the high-water mark.
 * Returns the reader's stored error if any, -ECONNRESET once the
 * connection is lost or closed (-ETIMEDOUT after a server's send
 * timeout).  Several fibers may drain at once.
 */
WEFT_EXTERN int weft_drain(weft_writer_t *w);

/**
 * Shut down the write side once buffered data is sent.  Idempotent.  On
 * the write end of a pipe it closes the descriptor (drain is then
 * -ECONNRESET, as after a close).
 */
WEFT_EXTERN int weft_write_eof(weft_writer_t *w);

/**
 * 1: weft_write_eof is supported (TCP and UNIX streams, the write end of
 * a pipe); 0 over TLS, for a pipe's read end and for a descriptor open
 * both ways that is not a socket (a pty).
 */
WEFT_EXTERN int weft_can_write_eof(const weft_writer_t *w);

/**
 * Close the connection after the buffered data is sent.  Idempotent;
 * never waits; any fiber may call it.  Nothing more is read: reads then
 * return the remaining data and EOF, and a read or drain the owner is
 * waiting in ends at once (the drain with -ECONNRESET), not when the
 * flush is done.
 */
WEFT_EXTERN int weft_close(weft_writer_t *w);

/**
 * Abort the connection now, asyncio's transport.abort(): bytes still
 * buffered are dropped and the socket is closed at once; waiting reads
 * and drains return -ECONNABORTED.  Where weft_close would wait for the
 * buffer to flush for as long as a peer that stopped reading keeps it
 * full, this frees the descriptor: the way out after a send timeout.
 * Idempotent; never waits.  A server's connection is still released
 * when its handler returns.
 */
WEFT_EXTERN int weft_abort(weft_writer_t *w);

/**
 * Keep w's memory valid after its connection ends, so that another fiber
 * may write to it however soon the handler returns; returns w.  Any fiber
 * may then write, drain, close or abort w; once the connection is gone
 * weft_write returns WEFT_ECLOSED, weft_drain -ECONNRESET, weft_close
 * and weft_abort do nothing, weft_is_closing is 1 and weft_wait_closed
 * returns at once.  Reads stay the owner's.  Each hold needs one
 * weft_writer_release; never waits or allocates.
 */
WEFT_EXTERN weft_writer_t *weft_writer_hold(weft_writer_t *w);

/**
 * Drop a hold: the last release of a writer whose connection has ended
 * frees it (without holds, the connection's end does).  NULL is ignored.
 */
WEFT_EXTERN void weft_writer_release(weft_writer_t *w);

/** 1 after weft_close, or once the transport is closing. */
WEFT_EXTERN int weft_is_closing(const weft_writer_t *w);

/**
 * Wait until the connection is closed.  Returns 0, or the error the
 * connection was lost with.  Cancelling it affects only the caller.
 */
WEFT_EXTERN int weft_wait_closed(weft_writer_t *w);

/**
 * Set the high/low water marks; -1 stands for asyncio's None (neither:
 * 64 KiB and 16 KiB; only low: high = 4*low; only high: low = high/4).
 * -EINVAL, changing nothing, unless high >= low >= 0 once filled in,
 * for any other negative value, and for a mark above UINT32_MAX
 * (including a 4*low that would be).
 */
WEFT_EXTERN int weft_writer_set_limits(weft_writer_t *w, ssize_t high,
    ssize_t low);

/** Current water marks. */
WEFT_EXTERN void weft_writer_get_limits(const weft_writer_t *w, size_t *low,
    size_t *high);

/** Bytes buffered and not yet handed to the kernel. */
WEFT_EXTERN size_t weft_writer_buffered(const weft_writer_t *w);

/** The reader of the same connection. */
WEFT_EXTERN weft_reader_t *weft_writer_reader(const weft_writer_t *w);

/** The socket's (or pipe's) fd, or WEFT_ECLOSED once closed. */
WEFT_EXTERN int weft_fileno(const weft_writer_t *w);

/**
 * Peer and local addresses as text: "127.0.0.1:8080", "[::1]:8080", a
 * UNIX path, or "" for an unnamed UNIX socket.  Returns the length or a
 * negative code (WEFT_ECLOSED once closed, -ENOBUFS if size is short,
 * -ENOENT for a pipe or a character device, which have no address).
 * They are asked of the socket once, or set by a server's prelude
 * (weft_conn_set_addrs), and stored with the connection.
 */
WEFT_EXTERN int weft_peername(const weft_writer_t *w, char *buf, size_t size);
WEFT_EXTERN int weft_sockname(const weft_writer_t *w, char *buf, size_t size);

/**
 * get_extra_info(): "peername", "sockname", "socket"/"fileno" (the fd in
 * decimal), "family" ("AF_INET", "AF_INET6", "AF_UNIX"; "pipe" for a
 * pipe or FIFO and "chr" for a character device, whose "peername" and
 * "sockname" are -ENOENT).  An unknown key is -ENOENT so the caller can
 * use its default.
 */
WEFT_EXTERN int weft_extra_info(const weft_writer_t *w, const char *key,
    char *buf, size_t size);

/** Why a connection ended, as weft_close_reason reports it. */
typedef enum weft_close_reason {
	WEFT_CLOSE_NONE = 0, /* still open */
	WEFT_CLOSE_EOF,	     /* closed after the peer's end of stream */
	WEFT_CLOSE_LOCAL,    /* closed by this side before the peer's EOF */
	WEFT_CLOSE_RESET,    /* the peer reset it (ECONNRESET, EPIPE) */
	WEFT_CLOSE_TIMEOUT,  /* after a read/drain timeout, or a send timeout */
	WEFT_CLOSE_ABORT,    /* weft_abort, weft_stream_free */
	WEFT_CLOSE_LIMIT,    /* closed after a read went past the limit */
	WEFT_CLOSE_SHUTDOWN, /* its server closed or aborted its clients */
	WEFT_CLOSE_ERROR     /* another transport error, or a refused prelude */
} weft_close_reason_t;

/**
 * Why the connection ended (weft_close_reason_t); WEFT_CLOSE_NONE while
 * it is open.  The first cause is kept: an abort after a reset is a reset.
 */
WEFT_EXTERN int weft_close_reason(const weft_writer_t *w);

/**
 * Release a client connection made by weft_open_connection*: aborts it if
 * still open; r and w must not be used afterwards (unless w is held:
 * see weft_writer_hold).  Connections handed to a server's handler are
 * released by weft when the handler returns; this call is then ignored.
 */
WEFT_EXTERN void weft_stream_free(weft_writer_t *w);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_STREAM_H */
