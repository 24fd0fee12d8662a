/*
 * The libuv stream transport: TCP sockets, UNIX sockets, and pipes, FIFOs
 * and character devices (a pty) under a reader/writer pair.
 *
 * Reads land directly in the reader's buffer (no copy).  Writes try the
 * socket first (uv_try_write) and only buffer what it did not take, so an
 * echo costs one read and one write syscall, as bare libuv does.
 *
 * The send timeout costs nothing while the kernel takes every write: only
 * a connection with queued output (a write state) is watched, on one list
 * and one timer of the loop, both idle while nothing is queued.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport.h"

struct weft__wstate {
	uv_write_t req;
	weft__conn_t *conn;
	char *fly; /* handed to libuv */
	size_t fly_len;
	size_t fly_cap;
	char *pend; /* accumulating behind it */
	size_t pend_len;
	size_t pend_cap;
	struct weft__wstate *next; /* free list */
	/* On the send-timeout watch (sendq) while on_sendq: */
	struct weft__wstate *qprev;
	struct weft__wstate *qnext;
	uint64_t progress; /* loop ms the kernel last took bytes */
	size_t seen;	   /* the handle's write_queue_size then */
	int ms;		   /* the owner's send timeout */
	int on_sendq;
};

static struct weft__wstate *free_wstates;
static size_t nfree_wstates;

static void sendq_add(struct weft__wstate *st);
static void sendq_del(struct weft__wstate *st);

static void
wbuf_free(char *buf, size_t cap)
{
	if (cap == WEFT__BUF_SIZE)
		weft__buf_put(buf);
	else
		free(buf);
}

static struct weft__wstate *
wstate_get(weft__conn_t *c)
{
	struct weft__wstate *st = free_wstates;

	if (st != NULL) {
		free_wstates = st->next;
		nfree_wstates--;
	} else if ((st = malloc(sizeof(*st))) == NULL) {
		return NULL;
	}
	memset(st, 0, sizeof(*st));
	st->conn = c;
	c->c_w.w_st = st;
	sendq_add(st);
	return st;
}

static void
wstate_put(weft__conn_t *c)
{
	struct weft__wstate *st = c->c_w.w_st;

	if (st == NULL)
		return;
	c->c_w.w_st = NULL;
	sendq_del(st);
	if (st->fly != NULL)
		wbuf_free(st->fly, st->fly_cap);
	if (st->pend != NULL)
		wbuf_free(st->pend, st->pend_cap);
	if (nfree_wstates < 64) {
		st->next = free_wstates;
		free_wstates = st;
		nfree_wstates++;
	} else {
		free(st);
	}
}

static int
queued(const weft__conn_t *c)
{
	const struct weft__wstate *st = c->c_w.w_st;

	return st != NULL && (st->fly_len > 0 || st->pend_len > 0);
}

static int
usable(const weft__conn_t *c)
{
	return c->c_handle_live && !c->c_handle_closing;
}

/* ---- The send timeout -------------------------------------------------- */

static struct weft__wstate *sendq; /* watched write states */
static uv_timer_t *send_timer;	   /* pooled; taken while sendq is not empty */
static uint64_t send_due;	   /* when it fires, loop ms; 0: not armed */

static void on_send_timer(uv_timer_t *t);

static void
send_arm(uint64_t at)
{
	uint64_t now = uv_now(weft_loop());

	if (send_timer == NULL) {
		if ((send_timer = weft__timer_get()) == NULL)
			return; /* no memory: checked at the next arm */
		/* The queued writes keep the loop alive, not their watch. */
		uv_unref((uv_handle_t *)send_timer);
		send_due = 0;
	}
	if (send_due != 0 && send_due <= at)
		return;
	send_due = at > now ? at : now;
	uv_timer_start(send_timer, on_send_timer, send_due - now, 0);
}

/* Watch a connection that has output queued, if its owner bounds it. */
static void
sendq_add(struct weft__wstate *st)
{
	const weft__conn_owner_t *o = st->conn->c_owner;

	if (o == NULL || o->o_send_ms <= 0)
		return;
	st->ms = o->o_send_ms;
	st->progress = uv_now(weft_loop());
	st->on_sendq = 1;
	st->qprev = NULL;
	st->qnext = sendq;
	if (sendq != NULL)
		sendq->qprev = st;
	sendq = st;
	send_arm(st->progress + (uint64_t)st->ms);
}

static void
sendq_del(struct weft__wstate *st)
{
	if (!st->on_sendq)
		return;
	st->on_sendq = 0;
	if (st->qprev != NULL)
		st->qprev->qnext = st->qnext;
	else
		sendq = st->qnext;
	if (st->qnext != NULL)
		st->qnext->qprev = st->qprev;
	if (sendq == NULL && send_timer != NULL) {
		/* Nothing to watch: the timer goes back to the pool. */
		weft__timer_put(send_timer);
		send_timer = NULL;
		send_due = 0;
	}
}

/*
 * Abort the watched connections whose output made no progress for their
 * timeout.  Progress is a completed write (on_write stamps it) or a
 * partial one seen here (the handle's queue shrank).  The next check is
 * at the earliest deadline, but not sooner than an eighth of the
 * shortest timeout: many slow connections cost a few scans per timeout.
 */
static void
on_send_timer(uv_timer_t *t)
{
	uint64_t now = uv_now(weft_loop()), next, due, slack;
	struct weft__wstate *st;
	size_t left;

	(void)t;
	send_due = 0;
again:
	next = 0;
	slack = UINT64_MAX;
	for (st = sendq; st != NULL; st = st->qnext) {
		left = st->conn->c_h.s.write_queue_size;
		if (left != st->seen) {
			st->seen = left;
			st->progress = now;
		}
		if (now - st->progress >= (uint64_t)st->ms) {
			/* Aborting may run callbacks that change the list:
			 * start over (the others are not due again). */
			sendq_del(st);
			weft__conn_send_timeout(st->conn);
			goto again;
		}
		due = st->progress + (uint64_t)st->ms;
		if (next == 0 || due < next)
			next = due;
		if ((uint64_t)st->ms / 8 < slack)
			slack = (uint64_t)st->ms / 8;
	}
	if (sendq != NULL)
		send_arm(next > now + slack ? next : now + slack);
}

/* ---- Handle lifecycle -------------------------------------------------- */

static void
on_close(uv_handle_t *h)
{
	weft__conn_t *c = h->data;

	c->c_handle_live = 0;
	c->c_handle_closing = 0;
	weft__conn_lost(c, 0);
	wstate_put(c);
	weft__conn_maybe_free(c);
}

void
weft__uv_close(weft__conn_t *c)
{
	if (!usable(c))
		return;
	c->c_handle_closing = 1;
	c->c_w.w_closing = 1;
	uv_close(&c->c_h.h, on_close);
}

void
weft__uv_init(weft__conn_t *c)
{
	if (c->c_tr->t_base == &weft__transport_tcp)
		uv_tcp_init(weft_loop(), &c->c_h.tcp);
	else
		uv_pipe_init(weft_loop(), &c->c_h.pipe, 0);
	c->c_h.h.data = c;
	c->c_handle_live = 1;
}

int
weft__uv_open(weft__conn_t *c, int fd)
{
	int rc;

	weft__uv_init(c);
	if (c->c_tr->t_base == &weft__transport_tcp)
		rc = uv_tcp_open(&c->c_h.tcp, fd);
	else
		rc = uv_pipe_open(&c->c_h.pipe, fd);
	if (rc != 0)
		close(fd); /* the handle did not take it */
	return rc;
}

/* ---- Reading ----------------------------------------------------------- */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	weft__conn_t *c = h->data;
	char *base;
	size_t len;

	(void)suggested;
	if ((c->c_tr->t_rx_reserve != NULL
		    ? c->c_tr->t_rx_reserve(c, &base, &len)
		    : weft__reader_reserve(&c->c_r, &base, &len)) != 0) {
		buf->base = NULL;
		buf->len = 0;
		return;
	}
	buf->base = base;
	buf->len = len;
}

static int pipe_addr(const weft__conn_t *c, int peer, struct sockaddr *sa,
    socklen_t *len);

/* A pty's master reads EIO once the last fd of its slave closed: that is
 * its EOF.  (The pipe transports are the ones with pipe_addr.) */
static int
eio_is_eof(const weft__conn_t *c)
{
	return c->c_tr->t_addr == pipe_addr;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	weft__conn_t *c = s->data;

	(void)buf;
	if (c->c_tr->t_rx_commit != NULL) {
		c->c_tr->t_rx_commit(c, nread);
		return;
	}
	if (nread > 0) {
		weft__reader_commit(&c->c_r, (size_t)nread);
		return;
	}
	weft__reader_commit(&c->c_r, 0);
	if (nread == 0)
		return;
	if (nread == UV_EOF || (nread == UV_EIO && eio_is_eof(c))) {
		/* Half-open: the writer stays usable (eof_received -> True). */
		weft_feed_eof(&c->c_r);
		return;
	}
	weft__conn_fatal(c, (int)nread);
}

static void
uv_read_pause(weft__conn_t *c)
{
	if (usable(c))
		uv_read_stop(&c->c_h.s);
}

static void
uv_read_resume(weft__conn_t *c)
{
	if (usable(c) && !c->c_w.w_closing && !c->c_r.r_eof)
		uv_read_start(&c->c_h.s, on_alloc, on_read);
}

int
weft__uv_start(weft__conn_t *c)
{
	if (c->c_tr->t_base == &weft__transport_tcp && c->c_nodelay)
		uv_tcp_nodelay(&c->c_h.tcp, 1);
	return uv_read_start(&c->c_h.s, on_alloc, on_read);
}

/* ---- Writing ----------------------------------------------------------- */

static size_t
uv_buffered(const weft__conn_t *c)
{
	const struct weft__wstate *st = c->c_w.w_st;

	if (st == NULL)
		return 0;
	return c->c_h.s.write_queue_size + st->pend_len;
}

static int
pend_append(struct weft__wstate *st, const char *p, size_t n)
{
	size_t ncap;
	char *nb;

	if (st->pend == NULL) {
		ncap = n <= WEFT__BUF_SIZE ? WEFT__BUF_SIZE : n;
		st->pend = ncap == WEFT__BUF_SIZE ? weft__buf_get()
						  : malloc(ncap);
		if (st->pend == NULL)
			return -ENOMEM;
		st->pend_cap = ncap;
		st->pend_len = 0;
	} else if (st->pend_cap - st->pend_len < n) {
		ncap = st->pend_cap * 2;
		if (ncap < st->pend_len + n)
			ncap = st->pend_len + n;
		if ((nb = malloc(ncap)) == NULL)
			return -ENOMEM;
		memcpy(nb, st->pend, st->pend_len);
		wbuf_free(st->pend, st->pend_cap);
		st->pend = nb;
		st->pend_cap = ncap;
	}
	memcpy(st->pend + st->pend_len, p, n);
	st->pend_len += n;
	return 0;
}

static void on_write(uv_write_t *req, int status);

static void
start_write(weft__conn_t *c)
{
	struct weft__wstate *st = c->c_w.w_st;
	char *tb;
	size_t tc;
	uv_buf_t b;
	int rc;

	/* Swap: the accumulated bytes fly, the old fly buffer (if any)
	 * becomes the next accumulation buffer. */
	tb = st->fly;
	tc = st->fly_cap;
	st->fly = st->pend;
	st->fly_cap = st->pend_cap;
	st->fly_len = st->pend_len;
	st->pend = tb;
	st->pend_cap = tc;
	st->pend_len = 0;
	b = uv_buf_init(st->fly, (unsigned)st->fly_len);
	st->req.data = st;
	if ((rc = uv_write(&st->req, &c->c_h.s, &b, 1, on_write)) != 0) {
		st->fly_len = 0;
		weft__conn_fatal(c, rc);
	}
}

static void do_shutdown(weft__conn_t *c);

static void
write_idle(weft__conn_t *c)
{
	/* Everything is in the kernel: hold no buffers while idle. */
	wstate_put(c);
	if (c->c_shutdown_on_flush)
		do_shutdown(c);
	if (c->c_close_on_flush)
		weft__uv_close(c);
}

static void
on_write(uv_write_t *req, int status)
{
	struct weft__wstate *st = req->data;
	weft__conn_t *c = st->conn;

	st->fly_len = 0;
	st->progress = uv_now(weft_loop());
	if (status < 0) {
		if (status != UV_ECANCELED)
			weft__conn_fatal(c, status);
		return;
	}
	if (st->pend_len > 0)
		start_write(c);
	else
		write_idle(c);
	if (c->c_w.w_paused && uv_buffered(c) <= c->c_w.w_low)
		weft__writer_resume(&c->c_w);
}

/* Queue bufs behind the first skip bytes, which the kernel took. */
static int
queue_rest(weft__conn_t *c, const weft_slice_t *bufs, size_t n, size_t skip)
{
	struct weft__wstate *st = c->c_w.w_st;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (skip >= bufs[i].len) {
			skip -= bufs[i].len;
			continue;
		}
		if (st == NULL && (st = wstate_get(c)) == NULL)
			return -ENOMEM;
		if ((rc = pend_append(st, bufs[i].base + skip,
			 bufs[i].len - skip)) != 0)
			return rc;
		skip = 0;
	}
	if (st != NULL && st->fly_len == 0 && st->pend_len > 0)
		start_write(c);
	return 0;
}

static int
uv_write_bufs(weft__conn_t *c, const weft_slice_t *bufs, size_t n)
{
	uv_buf_t ub[16] = { { 0 } };
	size_t i, skip = 0, nub;
	int w;

	if (!usable(c))
		return 0;
	if (!queued(c)) {
		/* Nothing queued: give the kernel what it takes right now. */
		nub = n < 16 ? n : 16;
		for (i = 0; i < nub; i++)
			ub[i] = uv_buf_init((char *)bufs[i].base,
			    (unsigned)bufs[i].len);
		w = uv_try_write(&c->c_h.s, ub, (unsigned)nub);
		if (w < 0 && w != UV_EAGAIN) {
			weft__conn_fatal(c, w);
			return 0;
		}
		skip = w > 0 ? (size_t)w : 0;
	}
	return queue_rest(c, bufs, n, skip);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

static void
do_shutdown(weft__conn_t *c)
{
	uv_shutdown_t *req;

	c->c_shutdown_on_flush = 0;
	if (!usable(c))
		return;
	if ((req = malloc(sizeof(*req))) == NULL)
		return;
	if (uv_shutdown(req, &c->c_h.s, on_shutdown) != 0)
		free(req);
}

static void
uv_write_eof(weft__conn_t *c)
{
	if (queued(c))
		c->c_shutdown_on_flush = 1;
	else
		do_shutdown(c);
}

static void
uv_close_soft(weft__conn_t *c)
{
	if (!usable(c))
		return;
	uv_read_stop(&c->c_h.s);
	if (queued(c))
		c->c_close_on_flush = 1;
	else
		weft__uv_close(c);
}

/* ---- The rest of the ops ----------------------------------------------- */

static int
uv_busy(const weft__conn_t *c)
{
	return c->c_handle_live;
}

static int
uv_fileno_of(const weft__conn_t *c)
{
	uv_os_fd_t fd;

	if (!usable(c) || uv_fileno(&c->c_h.h, &fd) != 0)
		return WEFT_ECLOSED;
	return fd;
}

static int
uv_addr(const weft__conn_t *c, int peer, struct sockaddr *sa, socklen_t *len)
{
	int fd, rc;

	if ((fd = uv_fileno_of(c)) < 0)
		return fd;
	rc = peer ? getpeername(fd, sa, len) : getsockname(fd, sa, len);
	return rc != 0 ? -errno : 0;
}

const weft__transport_t weft__transport_tcp = {
	.t_name = "tcp",
	.t_base = &weft__transport_tcp,
	.t_size = offsetof(weft__conn_t, c_h) + sizeof(uv_tcp_t),
	.t_read_start = uv_read_resume,
	.t_read_stop = uv_read_pause,
	.t_write = uv_write_bufs,
	.t_write_eof = uv_write_eof,
	.t_close = uv_close_soft,
	.t_abort = weft__uv_close,
	.t_buffered = uv_buffered,
	.t_busy = uv_busy,
	.t_fileno = uv_fileno_of,
	.t_addr = uv_addr,
	.t_destroy = wstate_put,
};

const weft__transport_t weft__transport_unix = {
	.t_name = "unix",
	.t_base = &weft__transport_unix,
	.t_size = offsetof(weft__conn_t, c_h) + sizeof(uv_pipe_t),
	.t_read_start = uv_read_resume,
	.t_read_stop = uv_read_pause,
	.t_write = uv_write_bufs,
	.t_write_eof = uv_write_eof,
	.t_close = uv_close_soft,
	.t_abort = weft__uv_close,
	.t_buffered = uv_buffered,
	.t_busy = uv_busy,
	.t_fileno = uv_fileno_of,
	.t_addr = uv_addr,
	.t_destroy = wstate_put,
};

/* ---- Pipes, FIFOs and character devices -------------------------------- */

/* A read-only fd: refused here, so that the reading goes on. */
static int
pipe_write_refused(weft__conn_t *c, const weft_slice_t *bufs, size_t n)
{
	(void)c;
	(void)bufs;
	(void)n;
	return -EBADF;
}

static int
pipe_addr(const weft__conn_t *c, int peer, struct sockaddr *sa, socklen_t *len)
{
	(void)c;
	(void)peer;
	(void)sa;
	(void)len;
	return -ENOENT;
}

/* Extra info "family": a character device (a pty) is "chr", a pipe or
 * a FIFO "pipe". */
static int
pipe_info(const weft__conn_t *c, const char *key, char *buf, size_t size)
{
	struct stat st;
	int fd, n;

	if (strcmp(key, "family") != 0)
		return -ENOENT;
	if ((fd = uv_fileno_of(c)) < 0)
		return fd;
	if (fstat(fd, &st) != 0)
		return -errno;
	n = snprintf(buf, size, "%s", S_ISCHR(st.st_mode) ? "chr" : "pipe");
	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}

/* No shutdown(2) on a pipe: the write end's EOF is its close, which
 * loses nothing, there being no read side.  An fd open both ways (a
 * pty) has no half-close. */
#define PIPE_OPS(write, write_eof)                                             \
	.t_name = "pipe",                                                      \
	.t_size = offsetof(weft__conn_t, c_h) + sizeof(uv_pipe_t),             \
	.t_read_start = uv_read_resume, .t_read_stop = uv_read_pause,          \
	.t_write = write, .t_write_eof = write_eof, .t_close = uv_close_soft,  \
	.t_abort = weft__uv_close, .t_buffered = uv_buffered,                  \
	.t_busy = uv_busy, .t_fileno = uv_fileno_of, .t_addr = pipe_addr,      \
	.t_destroy = wstate_put, .t_info = pipe_info

static const weft__transport_t transport_pipe_r = {
	.t_base = &transport_pipe_r,
	PIPE_OPS(pipe_write_refused, NULL),
};
static const weft__transport_t transport_pipe_w = {
	.t_base = &transport_pipe_w,
	PIPE_OPS(uv_write_bufs, uv_close_soft),
};
static const weft__transport_t transport_pipe_rw = {
	.t_base = &transport_pipe_rw,
	PIPE_OPS(uv_write_bufs, NULL),
};

const weft__transport_t *
weft__uv_pipe_transport(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return &transport_pipe_r;
	case O_WRONLY:
		return &transport_pipe_w;
	default:
		return &transport_pipe_rw;
	}
}

int
weft__uv_open_pipe(weft__conn_t *c, int fd)
{
	int rc;

	if ((rc = weft__uv_open(c, fd)) != 0)
		return rc;
	if (uv_is_readable(&c->c_h.s))
		return uv_read_start(&c->c_h.s, on_alloc, on_read);
	/* A write end: nothing will ever come in. */
	weft_feed_eof(&c->c_r);
	return 0;
}
