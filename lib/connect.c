/*
 * Client connections: weft_open_connection and friends over the libuv
 * stream transport (weft_open_connection_fd also over pipes), and the
 * name resolution they and servers share.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport.h"

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
	int gai; /* u.gai is the request */
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

/* A connection that never got going: closed, freed, reason error. */
static void
conn_discard(weft__conn_t *c)
{
	c->c_owner_done = 1;
	weft__conn_reason(c, WEFT_CLOSE_ERROR);
	weft__uv_close(c);
	weft__conn_maybe_free(c);
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

/* ssl=: the handshake comes before the streams are handed over; on
 * failure c is released. */
static int
tls_maybe(weft__conn_t *c, const weft_stream_opts_t *opts, const char *host)
{
	const char *name;
	int rc;

	if (opts == NULL || opts->ssl == NULL)
		return 0;
	name = opts->server_hostname != NULL ? opts->server_hostname : host;
	rc = weft__tls_start(c, opts->ssl, name, opts->ssl_handshake_timeout_ms,
	    NULL);
	if (rc != 0)
		weft_stream_free(&c->c_w);
	else
		weft__tls_set_shutdown(c, opts->ssl_shutdown_timeout_ms);
	return rc;
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
	if ((rc = weft__uv_start(c)) != 0)
		goto fail;
	return 0;
fail:
	conn_discard(c);
	return rc;
}

int
weft_open_connection(const char *host, int port, const weft_stream_opts_t *opts,
    weft_reader_t **r, weft_writer_t **w)
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
		if ((c = weft__conn_new(&weft__transport_tcp, limit)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		c->c_nodelay = opts == NULL || !opts->no_delay_off;
		weft__uv_init(c);
		rc = connect_one(c, ai->ai_addr, NULL);
		if (rc == 0 && (rc = tls_maybe(c, opts, host)) != 0)
			break;
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
	if ((c = weft__conn_new(&weft__transport_unix, limit)) == NULL)
		return -ENOMEM;
	weft__uv_init(c);
	if ((rc = connect_one(c, NULL, path)) != 0 ||
	    (rc = tls_maybe(c, opts, NULL)) != 0)
		return rc;
	*r = &c->c_r;
	*w = &c->c_w;
	return 0;
}

/*
 * 0 if fd is a pipe, a FIFO or a character device epoll can watch, with
 * its fcntl(F_GETFL) flags in *flags.  Else -EPERM, epoll_ctl(2)'s answer
 * for a regular file, a directory or /dev/null: asked here, because
 * libuv's loop would abort on it later.
 */
static int
pipe_check(int fd, int *flags)
{
	struct epoll_event ev;
	struct stat st;
	int ep, rc = 0;

	if (fstat(fd, &st) != 0 || (*flags = fcntl(fd, F_GETFL)) == -1)
		return -errno;
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return -EPERM;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -errno;
	memset(&ev, 0, sizeof(ev));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		rc = -errno;
	close(ep);
	return rc;
}

/* weft_open_connection_fd on what is not a socket; fd is weft's. */
static int
open_pipe(int fd, size_t limit, const weft_stream_opts_t *opts,
    weft_reader_t **r, weft_writer_t **w)
{
	weft__conn_t *c;
	int rc, flags = 0;

	/* TLS needs a socket, or at least one fd both ways. */
	rc = opts != NULL && opts->ssl != NULL ? -ENOTSUP
					       : pipe_check(fd, &flags);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	if ((c = weft__conn_new(weft__uv_pipe_transport(flags), limit)) ==
	    NULL) {
		close(fd);
		return -ENOMEM;
	}
	if ((rc = weft__uv_open_pipe(c, fd)) != 0) {
		conn_discard(c);
		return rc;
	}
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
	if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0) {
		if (errno == ENOTSOCK)
			return open_pipe(fd, limit, opts, r, w);
		rc = -errno;
	}
	if (rc == 0 && type != SOCK_STREAM)
		rc = -EPROTOTYPE;
	if (rc == 0 && getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		rc = -errno;
	if (rc != 0) {
		close(fd);
		return rc;
	}
	c = weft__conn_new(ss.ss_family == AF_UNIX ? &weft__transport_unix
						   : &weft__transport_tcp,
	    limit);
	if (c == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if (ss.ss_family != AF_UNIX)
		c->c_nodelay = opts == NULL || !opts->no_delay_off;
	if ((rc = weft__uv_open(c, fd)) == 0)
		rc = weft__uv_start(c);
	if (rc != 0) {
		conn_discard(c);
		return rc;
	}
	if ((rc = tls_maybe(c, opts, NULL)) != 0)
		return rc;
	*r = &c->c_r;
	*w = &c->c_w;
	return 0;
}
