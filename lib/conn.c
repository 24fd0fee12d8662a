/*
 * Connections: the libuv transport under a reader/writer pair, client
 * connections (open_connection and friends) and the fake transport the
 * unit tests use.
 *
 * Reads land directly in the reader's buffer (no copy).  Writes try the
 * socket first (uv_try_write) and only buffer what it did not take, so an
 * echo costs one read and one write syscall, as bare libuv does.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

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
};

static struct weft__wstate *free_wstates;
static size_t nfree_wstates;

static void on_close(uv_handle_t *h);

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
	return st;
}

static void
wstate_put(weft__conn_t *c)
{
	struct weft__wstate *st = c->c_w.w_st;

	if (st == NULL)
		return;
	c->c_w.w_st = NULL;
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

/* ---- Lifecycle --------------------------------------------------------- */

static int tr_pause(void *ctx);
static int tr_resume(void *ctx);
static const weft_transport_ops_t conn_ops = { tr_pause, tr_resume };

size_t
weft__conn_size(int kind)
{
	if (kind == WEFT__CONN_TCP)
		return offsetof(weft__conn_t, c_h) + sizeof(uv_tcp_t);
	return sizeof(weft__conn_t); /* fake and UNIX connections */
}

weft__conn_t *
weft__conn_new(int kind, size_t limit)
{
	void *mem;

	if ((mem = malloc(weft__conn_size(kind))) == NULL)
		return NULL;
	return weft__conn_init(mem, kind, limit, 0);
}

weft__conn_t *
weft__conn_init(void *mem, int kind, size_t limit, int carved)
{
	weft__conn_t *c = mem;

	memset(c, 0, weft__conn_size(kind));
	c->c_carved = (uint16_t)(carved != 0);
	weft__reader_init(&c->c_r, limit);
	c->c_w.w_high = WEFT_WRITE_HIGH_DEFAULT;
	c->c_w.w_low = WEFT_WRITE_LOW_DEFAULT;
	c->c_kind = (uint8_t)kind;
	c->c_nodelay = 1;
	if (kind != WEFT__CONN_FAKE)
		weft_reader_set_transport(&c->c_r, &conn_ops, c);
	return c;
}

void
weft__conn_maybe_free(weft__conn_t *c)
{
	if (!c->c_owner_done || c->c_handle_live)
		return;
	weft__reader_gone(&c->c_r);
	if (c->c_srv != NULL)
		weft__server_conn_gone(c->c_srv, c);
	weft__reader_destroy(&c->c_r);
	wstate_put(c);
	if (c->c_carved)
		weft__carve_put(c);
	else
		free(c);
}

void
weft__conn_close_handle(weft__conn_t *c)
{
	if (!c->c_handle_live || c->c_handle_closing)
		return;
	c->c_handle_closing = 1;
	c->c_w.w_closing = 1;
	uv_close(&c->c_h.h, on_close);
}

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
weft__conn_fatal(weft__conn_t *c, int err)
{
	weft__conn_lost(c, err);
	weft__conn_close_handle(c);
}

/* ---- Reading ----------------------------------------------------------- */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	weft__conn_t *c = h->data;
	char *base;
	size_t len;

	(void)suggested;
	if (weft__reader_reserve(&c->c_r, &base, &len) != 0) {
		buf->base = NULL;
		buf->len = 0;
		return;
	}
	buf->base = base;
	buf->len = len;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	weft__conn_t *c = s->data;

	(void)buf;
	if (nread > 0) {
		weft__reader_commit(&c->c_r, (size_t)nread);
		return;
	}
	weft__reader_commit(&c->c_r, 0);
	if (nread == 0)
		return;
	if (nread == UV_EOF) {
		/* Half-open: the writer stays usable (eof_received -> True). */
		weft_feed_eof(&c->c_r);
		return;
	}
	weft__conn_fatal(c, (int)nread);
}

static int
tr_pause(void *ctx)
{
	weft__conn_t *c = ctx;

	if (c->c_handle_live && !c->c_handle_closing)
		uv_read_stop(&c->c_h.s);
	return 0;
}

static int
tr_resume(void *ctx)
{
	weft__conn_t *c = ctx;

	if (c->c_handle_live && !c->c_handle_closing && !c->c_w.w_closing &&
	    !c->c_r.r_eof)
		uv_read_start(&c->c_h.s, on_alloc, on_read);
	return 0;
}

int
weft__conn_start(weft__conn_t *c)
{
	c->c_h.h.data = c;
	if (c->c_kind == WEFT__CONN_TCP && c->c_nodelay)
		uv_tcp_nodelay(&c->c_h.tcp, 1);
	return uv_read_start(&c->c_h.s, on_alloc, on_read);
}

/* ---- Writing ----------------------------------------------------------- */

size_t
weft__conn_buffered(const weft__conn_t *c)
{
	const struct weft__wstate *st = c->c_w.w_st;

	if (st == NULL || c->c_kind == WEFT__CONN_FAKE)
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
		st->pend = ncap == WEFT__BUF_SIZE ? weft__buf_get() : malloc(ncap);
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

static void
do_shutdown(weft__conn_t *c);

static void
write_idle(weft__conn_t *c)
{
	/* Everything is in the kernel: hold no buffers while idle. */
	wstate_put(c);
	if (c->c_shutdown_on_flush)
		do_shutdown(c);
	if (c->c_close_on_flush)
		weft__conn_close_handle(c);
}

static void
on_write(uv_write_t *req, int status)
{
	struct weft__wstate *st = req->data;
	weft__conn_t *c = st->conn;

	st->fly_len = 0;
	if (status < 0) {
		if (status != UV_ECANCELED)
			weft__conn_fatal(c, status);
		return;
	}
	if (st->pend_len > 0)
		start_write(c);
	else
		write_idle(c);
	if (c->c_w.w_paused && weft__conn_buffered(c) <= c->c_w.w_low)
		weft__writer_resume(&c->c_w);
}

int
weft__conn_write(weft__conn_t *c, const weft_slice_t *bufs, size_t n)
{
	struct weft__wstate *st = c->c_w.w_st;
	uv_buf_t ub[16] = { { 0 } };
	size_t i, skip = 0, nub;
	int rc, w;

	if (c->c_kind == WEFT__CONN_FAKE) {
		if (st == NULL && (st = wstate_get(c)) == NULL)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			if ((rc = pend_append(st, bufs[i].base, bufs[i].len)) != 0)
				return rc;
		return 0;
	}
	if (!c->c_handle_live || c->c_handle_closing)
		return 0;
	if (st == NULL || (st->fly_len == 0 && st->pend_len == 0)) {
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
	if (!c->c_handle_live || c->c_handle_closing)
		return;
	if ((req = malloc(sizeof(*req))) == NULL)
		return;
	if (uv_shutdown(req, &c->c_h.s, on_shutdown) != 0)
		free(req);
}

void
weft__conn_write_eof(weft__conn_t *c)
{
	struct weft__wstate *st = c->c_w.w_st;

	if (c->c_kind == WEFT__CONN_FAKE)
		return;
	if (st != NULL && (st->fly_len > 0 || st->pend_len > 0))
		c->c_shutdown_on_flush = 1;
	else
		do_shutdown(c);
}

void
weft__conn_close(weft__conn_t *c)
{
	struct weft__wstate *st = c->c_w.w_st;

	if (c->c_kind == WEFT__CONN_FAKE) {
		weft__conn_lost(c, 0);
		return;
	}
	if (!c->c_handle_live || c->c_handle_closing)
		return;
	uv_read_stop(&c->c_h.s);
	if (st != NULL && (st->fly_len > 0 || st->pend_len > 0))
		c->c_close_on_flush = 1;
	else
		weft__conn_close_handle(c);
}

void
weft_stream_free(weft_writer_t *w)
{
	weft__conn_t *c;

	if (w == NULL)
		return;
	c = weft__conn_of_writer(w);
	if (c->c_server_owned || c->c_owner_done)
		return;
	c->c_owner_done = 1;
	if (c->c_kind == WEFT__CONN_FAKE) {
		weft__conn_maybe_free(c);
		return;
	}
	/* Abort: whatever is still queued is dropped. */
	weft__conn_close_handle(c);
	weft__conn_maybe_free(c);
}

/* ---- Addresses --------------------------------------------------------- */

static int
format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
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

static int
conn_name(const weft_writer_t *w, int peer, char *buf, size_t size)
{
	const weft__conn_t *c = weft__conn_of_writer(w);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uv_os_fd_t fd;
	int rc;

	if (c->c_kind == WEFT__CONN_FAKE)
		return -ENOTSUP;
	if (!c->c_handle_live || c->c_handle_closing ||
	    uv_fileno(&c->c_h.h, &fd) != 0)
		return WEFT_ECLOSED;
	memset(&ss, 0, sizeof(ss));
	rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		  : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc != 0)
		return -errno;
	return format_addr((struct sockaddr *)&ss, len, buf, size);
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
	uv_os_fd_t fd;

	if (c->c_kind == WEFT__CONN_FAKE)
		return -ENOTSUP;
	if (!c->c_handle_live || c->c_handle_closing ||
	    uv_fileno(&c->c_h.h, &fd) != 0)
		return WEFT_ECLOSED;
	return fd;
}

int
weft_extra_info(const weft_writer_t *w, const char *key, char *buf,
    size_t size)
{
	const weft__conn_t *c = weft__conn_of_writer(w);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *fam;
	int fd, n;

	if (strcmp(key, "peername") == 0)
		return weft_peername(w, buf, size);
	if (strcmp(key, "sockname") == 0)
		return weft_sockname(w, buf, size);
	if (strcmp(key, "socket") == 0 || strcmp(key, "fileno") == 0) {
		if ((fd = weft_fileno(w)) < 0)
			return fd;
		n = snprintf(buf, size, "%d", fd);
		return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
	}
	if (strcmp(key, "family") == 0) {
		if ((fd = weft_fileno(w)) < 0)
			return fd;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
			return -errno;
		fam = ss.ss_family == AF_INET ? "AF_INET"
		    : ss.ss_family == AF_INET6 ? "AF_INET6"
		    : ss.ss_family == AF_UNIX  ? "AF_UNIX"
					       : "AF_UNSPEC";
		n = snprintf(buf, size, "%s", fam);
		return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
	}
	(void)c;
	return -ENOENT;
}

/* ---- Fake transport (unit tests) -------------------------------------- */

int
weft__fake_pair(ssize_t limit, weft_reader_t **r, weft_writer_t **w)
{
	weft__conn_t *c;

	if (limit <= 0)
		return -EINVAL;
	if ((c = weft__conn_new(WEFT__CONN_FAKE, (size_t)limit)) == NULL)
		return -ENOMEM;
	*r = &c->c_r;
	*w = &c->c_w;
	return 0;
}

weft_slice_t
weft__fake_written(weft_writer_t *w)
{
	weft_slice_t s = { "", 0 };

	if (w->w_st != NULL && w->w_st->pend != NULL) {
		s.base = w->w_st->pend;
		s.len = w->w_st->pend_len;
	}
	return s;
}

void
weft__fake_free(weft_writer_t *w)
{
	weft__conn_t *c = weft__conn_of_writer(w);

	c->c_owner_done = 1;
	weft__conn_maybe_free(c);
}

/* ---- Client connections ------------------------------------------------ */

/*
 * A pending libuv request a fiber waits on.  It lives on the heap: if the
 * fiber gives up (cancel, deadline), the request still completes later
 * and the callback frees it.
 */
struct op {
	union {
		uv_getaddrinfo_t gai;
		uv_connect_t conn;
	} u;
	weft__wq_t wq;
	struct addrinfo *res;
	int status;
	int done;
	int abandoned;
	int gai;	/* u.gai is the request */
};

/*
 * Wait for op to complete.  On WEFT_ECANCELED/WEFT_ETIMEDOUT the caller
 * must not touch op again: if the request is still pending its callback
 * frees op; if it completed while the cancel was on its way (the fiber
 * was already runnable), the callback has run and op is freed here.
 */
static int
op_wait(struct op *op)
{
	int rc = 0;

	while (!op->done) {
		if ((rc = weft__park(&op->wq)) < 0) {
			if (op->done) {
				if (op->res != NULL)
					uv_freeaddrinfo(op->res);
				free(op);
			} else {
				op->abandoned = 1;
				/* A lookup still queued for libuv's thread
				 * pool (4 threads by default) is taken off
				 * it: nobody waits for its answer, and
				 * there it would hold up the lookups of
				 * other connections.  One already running
				 * cannot be stopped.  Either way on_gai
				 * frees op. */
				if (op->gai)
					(void)uv_cancel((uv_req_t *)&op->u.gai);
			}
			return rc;
		}
	}
	return 0;
}

static void
on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct op *op = req->data;

	if (op->abandoned) {
		if (res != NULL)
			uv_freeaddrinfo(res);
		free(op);
		return;
	}
	op->status = status;
	op->res = res;
	op->done = 1;
	weft__wake_one(&op->wq, 0);
}

int
weft__resolve(const char *host, int port, int passive, struct addrinfo **res)
{
	struct addrinfo hints;
	struct op *op;
	char service[16];
	int rc;

	if (port < 0 || port > 65535)
		return -EINVAL;
	snprintf(service, sizeof(service), "%d", port);
	if (host != NULL && host[0] == '\0')
		host = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	/* Numeric addresses (and the wildcard) need no DNS: resolve them
	 * here instead of waking libuv's thread pool. */
	if (host == NULL) {
		rc = getaddrinfo(NULL, service, &hints, res);
		return rc == 0 ? 0 : -EADDRNOTAVAIL;
	}
	hints.ai_flags |= AI_NUMERICHOST;
	rc = getaddrinfo(host, service, &hints, res);
	if (rc == 0)
		return 0;
	if (rc != EAI_NONAME)
		return -EADDRNOTAVAIL;
	hints.ai_flags &= ~AI_NUMERICHOST;
	if (weft_current() == NULL)
		return WEFT_ENOTFIBER;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return -ENOMEM;
	op->u.gai.data = op;
	op->gai = 1;
	rc = uv_getaddrinfo(weft_loop(), &op->u.gai, on_gai, host, service,
	    &hints);
	if (rc != 0) {
		free(op);
		return rc;
	}
	if ((rc = op_wait(op)) < 0)
		return rc;
	rc = op->status;
	*res = op->res;
	free(op);
	if (rc != 0)
		return rc == UV_EAI_NONAME ? -EADDRNOTAVAIL : rc;
	return 0;
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct op *op = req->data;

	if (op->abandoned) {
		free(op);
		return;
	}
	op->status = status;
	op->done = 1;
	weft__wake_one(&op->wq, 0);
}

static size_t
opts_limit(const weft_stream_opts_t *opts, int *err)
{
	*err = 0;
	if (opts == NULL || opts->limit == 0)
		return WEFT_LIMIT_DEFAULT;
	if (opts->limit < 0 || (size_t)opts->limit > WEFT__LIMIT_MAX) {
		*err = -EINVAL;
		return 0;
	}
	return (size_t)opts->limit;
}

/* Connect c's initialised handle; on failure c is released. */
static int
connect_one(weft__conn_t *c, const struct sockaddr *sa, const char *path)
{
	struct op *op;
	int rc;

	if ((op = calloc(1, sizeof(*op))) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	op->u.conn.data = op;
	if (path != NULL) {
		uv_pipe_connect(&op->u.conn, &c->c_h.pipe, path, on_connect);
	} else if ((rc = uv_tcp_connect(&op->u.conn, &c->c_h.tcp, sa,
			on_connect)) != 0) {
		free(op);
		goto fail;
	}
	if ((rc = op_wait(op)) < 0)
		goto fail; /* op is freed (see op_wait) */
	rc = op->status;
	free(op);
	if (rc != 0)
		goto fail;
	if ((rc = weft__conn_start(c)) != 0)
		goto fail;
	return 0;
fail:
	c->c_owner_done = 1;
	weft__conn_close_handle(c);
	weft__conn_maybe_free(c);
	return rc;
}

int
weft_open_connection(const char *host, int port,
    const weft_stream_opts_t *opts, weft_reader_t **r, weft_writer_t **w)
{
	struct addrinfo *res = NULL, *ai;
	weft__conn_t *c;
	size_t limit;
	int rc, err;

	limit = opts_limit(opts, &err);
	if (err != 0)
		return err;
	if (weft_current() == NULL)
		return WEFT_ENOTFIBER;
	if (host == NULL || host[0] == '\0')
		return -EINVAL;
	if ((rc = weft__resolve(host, port, 0, &res)) != 0)
		return rc;
	rc = -ECONNREFUSED;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((c = weft__conn_new(WEFT__CONN_TCP, limit)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		c->c_nodelay = opts == NULL || !opts->no_delay_off;
		uv_tcp_init(weft_loop(), &c->c_h.tcp);
		c->c_h.h.data = c;
		c->c_handle_live = 1;
		rc = connect_one(c, ai->ai_addr, NULL);
		if (rc == 0) {
			*r = &c->c_r;
			*w = &c->c_w;
			break;
		}
		if (rc == WEFT_ECANCELED || rc == WEFT_ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

int
weft_open_unix_connection(const char *path, const weft_stream_opts_t *opts,
    weft_reader_t **r, weft_writer_t **w)
{
	weft__conn_t *c;
	size_t limit;
	int rc, err;

	limit = opts_limit(opts, &err);
	if (err != 0)
		return err;
	if (weft_current() == NULL)
		return WEFT_ENOTFIBER;
	if (path == NULL || path[0] == '\0')
		return -EINVAL;
	if ((c = weft__conn_new(WEFT__CONN_UNIX, limit)) == NULL)
		return -ENOMEM;
	uv_pipe_init(weft_loop(), &c->c_h.pipe, 0);
	c->c_h.h.data = c;
	c->c_handle_live = 1;
	if ((rc = connect_one(c, NULL, path)) != 0)
		return rc;
	*r = &c->c_r;
	*w = &c->c_w;
	return 0;
}

int
weft_open_connection_fd(int fd, const weft_stream_opts_t *opts,
    weft_reader_t **r, weft_writer_t **w)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), tlen;
	weft__conn_t *c;
	size_t limit;
	int rc, err, type;

	/* weft owns fd from here on: every failure closes it. */
	limit = opts_limit(opts, &err);
	rc = err;
	if (rc == 0 && weft_loop() == NULL)
		rc = WEFT_ENOTFIBER;
	tlen = sizeof(type);
	if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0)
		rc = -errno;
	if (rc == 0 && type != SOCK_STREAM)
		rc = -EPROTOTYPE;
	if (rc == 0 && getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		rc = -errno;
	if (rc != 0) {
		close(fd);
		return rc;
	}
	c = weft__conn_new(ss.ss_family == AF_UNIX ? WEFT__CONN_UNIX
						   : WEFT__CONN_TCP,
	    limit);
	if (c == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if (c->c_kind == WEFT__CONN_UNIX) {
		uv_pipe_init(weft_loop(), &c->c_h.pipe, 0);
		rc = uv_pipe_open(&c->c_h.pipe, fd);
	} else {
		c->c_nodelay = opts == NULL || !opts->no_delay_off;
		uv_tcp_init(weft_loop(), &c->c_h.tcp);
		rc = uv_tcp_open(&c->c_h.tcp, fd);
	}
	c->c_h.h.data = c;
	c->c_handle_live = 1;
	if (rc != 0)
		close(fd); /* the handle did not take it */
	else
		rc = weft__conn_start(c);
	if (rc != 0) {
		c->c_owner_done = 1;
		weft__conn_close_handle(c);
		weft__conn_maybe_free(c);
		return rc;
	}
	*r = &c->c_r;
	*w = &c->c_w;
	return 0;
}
