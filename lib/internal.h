/*
 * libweft internals shared between lib/ files and the unit tests.
 * Nothing here is installed or exported from libweft.so; tests link the
 * static convenience library to reach it.
 */
#ifndef WEFT_INTERNAL_H
#define WEFT_INTERNAL_H

#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include <weft/weft.h>

#define WEFT__CONTAINER_OF(p, type, field)                                     \
	((type *)(void *)((char *)(p)-offsetof(type, field)))

/* Invariants stay checked in release builds: a broken one is a bug to
 * stop at, not to serve on. */
#define WEFT__ASSERT(cond)                                                     \
	do {                                                                   \
		if (!(cond))                                                   \
			weft__assert_fail(#cond, __FILE__, __LINE__);          \
	} while (0)

void weft__assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));

/* ---- Wait queues ------------------------------------------------------ */

/*
 * A list of parked fibers.  It lives in the object being waited on (a
 * reader, a writer, a connection attempt), never on a fiber's stack, so a
 * parked fiber's stack can later be moved (shared-stack mode).
 */
typedef struct weft__wq {
	weft_fiber_t *head;
	weft_fiber_t *tail;
} weft__wq_t;

/*
 * Park the running fiber on q (NULL: on nothing, only a wake by pointer
 * resumes it).  Returns the code given to weft__wake, or WEFT_ECANCELED /
 * WEFT_ETIMEDOUT (the fiber is then already off q), or WEFT_ENOTFIBER.
 */
int weft__park(weft__wq_t *q);

/*
 * After weft__park returned: the code the fiber was woken with, even when
 * a cancel replaced its result before it ran (so that a waiter that was
 * handed something by a wake can pass it on), or 1 when nothing woke it
 * (the park returned at once).
 */
int weft__park_woke(void);

/*
 * An object that lives in the top bytes of a fiber stack: a server's
 * connection goes in the page its parked handler touches anyway, instead
 * of on the heap.  weft__carve returns size bytes (64-aligned) on a fresh
 * stack, or NULL (shared stacks, no scheduler, too big, no memory: use
 * the heap); weft__carve_spawn starts a fiber on the rest of that stack
 * (it cannot fail); weft__carve_put ends the object.  The stack is
 * recycled when both the object and the fiber are done.
 */
void *weft__carve(size_t size);
void weft__carve_spawn(void *obj, weft_fiber_fn fn, void *arg);
void weft__carve_put(void *obj);

/* Call fn(arg) on the loop's stack, also from a fiber (whose stack may
 * be too small for it); fn must not wait. */
void weft__on_loop_stack(void (*fn)(void *), void *arg);

/* Set the running fiber's deadline to at (loop ms, 0 = none) and return
 * the one it had: a library wait bounded inside a caller's deadline. */
uint64_t weft__deadline_swap(uint64_t at);

/* Test harness: drop a scheduler abandoned by a failed assertion. */
void weft__sched_forget(void);

/* Make f runnable with result code; no-op unless f is parked. */
void weft__wake(weft_fiber_t *f, int code);

/* Wake every fiber on q with code. */
void weft__wake_all(weft__wq_t *q, int code);

/* Wake the first fiber on q; returns 1 if there was one. */
int weft__wake_one(weft__wq_t *q, int code);

/* 1 when q is empty. */
static inline int
weft__wq_empty(const weft__wq_t *q)
{
	return q->head == NULL;
}

/* ---- Pools ------------------------------------------------------------- */

/* Per-loop pool of 64 KiB I/O buffers: no malloc per read or write. */
#define WEFT__BUF_SIZE (64 * 1024)
char *weft__buf_get(void);
void weft__buf_put(char *buf);
void weft__pool_fini(void);
/* Free the pooled buffers that were not taken since the last call (all of
 * them if `all`); returns how many were freed.  The fiber pool's trim
 * timer calls it (see stack.c). */
size_t weft__buf_trim(int all);
void weft__buf_trim_period(void);
size_t weft__buf_pooled(void);
/* Called each time a buffer is pooled (the trimmer arms its timer). */
void weft__buf_set_pooled_hook(void (*fn)(void));
/* Something was pooled: make sure a trim tick is due (cheap when one is). */
void weft__pool_trim_arm(void);
/* Trim the fiber-stack, buffer and timer pools now, as the idle timer
 * would; `all`: as if everything pooled had been idle a whole period.
 * And what is pooled: stacks, of which trimmed (pages released), buffers
 * and fiber timers. */
void weft__pool_trim(int all);
void weft__pool_stats(size_t *stacks, size_t *trimmed, size_t *bufs,
    size_t *timers);

/* ---- Readers ----------------------------------------------------------- */

struct weft_reader {
	char *r_buf;  /* NULL while empty: idle readers hold no buffer */
	char *r_lent; /* old buffer kept while a slice into it is lent */
	const weft_transport_ops_t *r_ops;
	void *r_ctx;
	union {
		weft__wq_t r_wq; /* fiber mode: at most one waiter */
		struct {	 /* callback mode (r_cbmode) */
			weft_read_cb cb;
			void *arg;
		} r_cbk;
	};
	/* 32-bit offsets keep an idle connection small; the limit is capped
	 * at WEFT__LIMIT_MAX so a paused buffer stays far below 4 GiB. */
	uint32_t r_cap;	 /* size of r_buf */
	uint32_t r_head; /* first unread byte */
	uint32_t r_tail; /* end of data */
	uint32_t r_pin;	 /* start of the lent slice; == r_head if none */
	uint32_t r_limit;
	uint32_t r_taken;  /* consumed, mod 2^32; Q1 in doc/semantics.md */
	int32_t r_exc;	   /* stored error, 0 none */
	uint32_t r_errval; /* last ELIMIT consumed / EINCOMPLETE partial */
	int32_t r_errexpected;
	uint8_t r_eof : 1;
	uint8_t r_paused : 1;
	uint8_t r_standalone : 1; /* made by weft_reader_new */
	uint8_t r_errfound : 1;
	uint8_t r_errcode : 2; /* 1 ELIMIT, 2 EINCOMPLETE */
	uint8_t r_cbmode : 1;  /* weft_read_start: reads never wait */
	uint8_t r_incb : 1;    /* inside the read callback */
};

/* Largest reader limit: 2*limit plus a read must fit 32-bit offsets. */
#define WEFT__LIMIT_MAX (1u << 30)

void weft__reader_init(weft_reader_t *r, size_t limit);
void weft__reader_destroy(weft_reader_t *r);

/* Space for a transport to read into, then the count it read. */
int weft__reader_reserve(weft_reader_t *r, char **base, size_t *len);
void weft__reader_commit(weft_reader_t *r, size_t n);
/* Callback mode: the final WEFT_ECLOSED callback before the free. */
void weft__reader_gone(weft_reader_t *r);
/* Return the buffer to the pool if nothing is buffered or lent. */
void weft__reader_trim(weft_reader_t *r);

/* ---- Writers and connections ------------------------------------------ */

struct weft__wstate; /* write buffers + uv_write_t, only while writing */
typedef struct weft__transport weft__transport_t; /* see transport.h */

struct weft_writer {
	struct weft__wstate *w_st;
	/* Fibers in drain() and wait_closed() share one queue: both wake on
	 * connection_lost; wait_closed() loops past a resume_writing wake.
	 * A callback-mode writer keeps its drain callback there instead. */
	union {
		weft__wq_t w_wq;
		struct {
			weft_write_cb cb;
			void *arg;
		} w_cbk;
	};
	uint32_t w_high;
	uint32_t w_low;
	int32_t w_lost_err;
	uint8_t w_paused : 1;  /* protocol paused: buffered > high */
	uint8_t w_eof : 1;     /* write_eof called */
	uint8_t w_closing : 1; /* close called or transport closing */
	uint8_t
	    w_closed : 1;   /* weft_close called (not just a lost transport) */
	uint8_t w_lost : 1; /* connection_lost happened */
	uint8_t w_cbmode : 1; /* weft_drain_start: drain never waits */
};

typedef struct weft__conn weft__conn_t;

/*
 * Who releases a connection: a server registers itself on the
 * connections it accepts, so that conn.c need not know servers.  The
 * owner's table lists its live connections (c_slot is the index), and
 * o_release runs once per connection, as it is freed, with the reason
 * it ended (enum weft_close_reason).  o_release may free the owner.
 */
typedef struct weft__conn_owner {
	void (*o_release)(struct weft__conn_owner *o, weft__conn_t *c,
	    int reason);
	weft__conn_t **o_conns;
	uint32_t o_n;
	uint32_t o_cap;
	/* Abort a connection whose queued output makes no progress for
	 * this long (0: never), and how many were (transport_uv.c). */
	int o_send_ms;
	uint64_t o_send_timeouts;
} weft__conn_owner_t;

/* Stored peer and local addresses (addr.c): filled on first query or by
 * weft_conn_set_addrs, so an idle connection holds only the pointer. */
struct weft__addrs;

/*
 * One allocation per connection, sized to its transport (t_size): the
 * transport's state (a uv handle) comes last so a TCP connection does
 * not pay for the larger uv_pipe_t, and a fake one pays for none.  408
 * bytes for TCP on x86-64.
 */
struct weft__conn {
	struct weft_reader c_r;
	struct weft_writer c_w;
	const weft__transport_t *c_tr; /* its transport's ops */
	weft__conn_owner_t *c_owner;   /* releases it, or NULL */
	struct weft__addrs *c_addrs;   /* NULL until known */
	uint32_t c_slot;	       /* in c_owner->o_conns */
	uint32_t c_owner_done : 1;     /* handler returned / weft_stream_free */
	uint32_t c_server_owned : 1;   /* released by weft when handler ends */
	uint32_t c_carved : 1;	 /* lives on its fiber's stack (weft__carve) */
	uint32_t c_timedout : 1; /* its last read or drain wait timed out */
	uint32_t c_reason : 4;	 /* enum weft_close_reason, first one wins */
	/* Transport state, owned by transport_uv.c. */
	uint32_t c_handle_live : 1; /* uv handle initialised and not closed */
	uint32_t c_handle_closing : 1;
	uint32_t c_close_on_flush : 1;	  /* uv_close once the queue empties */
	uint32_t c_shutdown_on_flush : 1; /* uv_shutdown once queue empties */
	uint32_t c_nodelay : 1;
	/* Released while weft_writer_hold()s were out: c_tr is the closed
	 * transport, and the last weft_writer_release frees the memory. */
	uint32_t c_gone : 1;
	uint32_t c_holds : 18; /* weft_writer_hold()s not released yet */
	union {
		uv_handle_t h;
		uv_stream_t s;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} c_h; /* must stay last: allocated to t_size */
};

/* Allocate a connection on transport tr with a reader of limit. */
weft__conn_t *weft__conn_new(const weft__transport_t *tr, size_t limit);
/* Bytes a connection on tr takes. */
size_t weft__conn_size(const weft__transport_t *tr);
/* Set one up in mem (weft__conn_size bytes); carved: mem came from
 * weft__carve, and goes back with weft__carve_put. */
weft__conn_t *weft__conn_init(void *mem, const weft__transport_t *tr,
    size_t limit, int carved);
/* Record why c ends (enum weft_close_reason); the first reason sticks. */
void weft__conn_reason(weft__conn_t *c, int reason);
/* Its output made no progress for its owner's o_send_ms: aborted, lost
 * with -ETIMEDOUT, close reason TIMEOUT (also over a clean close's). */
void weft__conn_send_timeout(weft__conn_t *c);
/* A pooled loop timer (stack.c), stopped and referenced, and back. */
uv_timer_t *weft__timer_get(void);
void weft__timer_put(uv_timer_t *t);
/* asyncio's _force_close(err): lost with err, transport aborted. */
void weft__conn_fatal(weft__conn_t *c, int err);
/* Free c once its owner is done and its transport let go. */
void weft__conn_maybe_free(weft__conn_t *c);
/* Hand c to o; o_release will run when c is freed.  -ENOMEM. */
int weft__conn_set_owner(weft__conn_t *c, weft__conn_owner_t *o);
/* Free o's table once it has no connections left. */
void weft__owner_fini(weft__conn_owner_t *o);
/* A new server with no listener yet (server.c); -EINVAL, -ENOMEM,
 * WEFT_ENOTFIBER. */
int weft__server_new(weft_client_cb cb, void *arg,
    const weft_stream_opts_t *opts, weft_server_t **out);
/* Take a bound socket fd for srv, listen on it and start accepting
 * connections on transport tr; fd is closed on failure. */
int weft__listener_add(weft_server_t *srv, int fd, const weft__transport_t *tr,
    int backlog);
/* Remove the socket file bound at path when srv closes, if it is still
 * that file then. */
void weft__server_unlink_on_close(weft_server_t *srv, const char *path);
/* Resolve host:port; numeric hosts without the thread pool.  Waits. */
int weft__resolve(const char *host, int port, int passive,
    struct addrinfo **res);

static inline weft__conn_t *
weft__conn_of_reader(const weft_reader_t *r)
{
	return WEFT__CONTAINER_OF(r, weft__conn_t, c_r);
}

static inline weft__conn_t *
weft__conn_of_writer(const weft_writer_t *w)
{
	return WEFT__CONTAINER_OF(w, weft__conn_t, c_w);
}

/* Wait for bytes on r.  Whether a connection's last wait timed out is
 * kept: if the handler then ends it, that is why (a timeout a handler
 * uses as a tick and reads on after is forgotten at the next wait). */
static inline int
weft__reader_park(weft_reader_t *r)
{
	int rc = weft__park(&r->r_wq);

	if (!r->r_standalone)
		weft__conn_of_reader(r)->c_timedout = rc == WEFT_ETIMEDOUT;
	return rc;
}

/*
 * The protocol events, in asyncio's terms.  connection_lost(err): err 0
 * is a clean close (reader gets EOF), otherwise the reader stores err.
 */
void weft__conn_lost(weft__conn_t *c, int err);
void weft__writer_pause(weft_writer_t *w);
void weft__writer_resume(weft_writer_t *w);

/*
 * A fake connection for unit tests: a reader and writer with no socket.
 * Written bytes are recorded; the test drives pause/resume/lost by hand,
 * as CPython's tests do with a mock transport.
 */
int weft__fake_pair(ssize_t limit, weft_reader_t **r, weft_writer_t **w);
weft_slice_t weft__fake_written(weft_writer_t *w);
void weft__fake_free(weft_writer_t *w);
/* Bytes arriving on a fake connection (through its TLS filter, if it has
 * one, as a read would bring them); len 0 is the peer's EOF. */
void weft__fake_feed(weft_writer_t *w, const void *data, size_t len);
/* Forget what was written so far. */
void weft__fake_clear(weft_writer_t *w);

#endif /* WEFT_INTERNAL_H */
