/*
 * Servers: the accept path that gives every client its own connection
 * and fiber, max_connections, the EMFILE pause, closing and stats.  The
 * listening sockets are bound in listen.c.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "proxy_proto.h"
#include "transport.h"

#define MAX_LISTENERS 16

enum listener_state {
	L_ACTIVE = 0, /* polled for connections */
	L_HELD,	      /* not polled: the server is near max_connections */
	L_EMFILE,     /* not polled: out of fds, waiting for the backoff */
	L_GATED,      /* not polled: the accept gate said so */
};

/*
 * A listening socket.  weft accepts itself (accept4 on a polled socket)
 * rather than through uv_listen: libuv 1.44 accepts until EAGAIN in one
 * go, and when the process runs out of fds it accepts and closes every
 * pending client.  Here a wakeup takes at most s_accept_batch clients,
 * and out of fds the socket is simply not polled for a while, so clients
 * wait in the kernel's queue instead of being dropped.
 */
struct listener {
	uv_poll_t l_poll;
	struct weft_server *l_srv;
	int l_fd;
	const weft__transport_t *l_tr; /* of the connections it accepts */
	int l_state;		       /* enum listener_state */
	size_t l_idx;		       /* slot in s_ls */
};

struct weft_server {
	weft_client_cb s_cb;
	void *s_arg;
	weft_prelude_cb s_prelude; /* runs before s_cb, or NULL */
	void *s_prelude_arg;
	weft_tls_ctx_t *s_tls; /* handshake after the prelude, or NULL */
	int s_tls_ms[2];       /* handshake, shutdown timeouts; 0: default */
	uint64_t s_tls_n[6];   /* see weft__tls_accept */
	struct weft__pp_conf s_pp; /* weft_server_set_proxy_protocol's */
	size_t s_limit;
	int s_nodelay;
	int s_cbmode;
	int s_backlog;
	int s_accept_batch;
	size_t s_max_conns;
	struct listener *s_ls[MAX_LISTENERS];
	size_t s_nls;		    /* listeners created */
	size_t s_nlive;		    /* listeners not yet closed */
	weft__conn_owner_t s_owner; /* its live connections */
	unsigned long s_accepted;
	weft__wq_t s_waitq;
	char *s_path;	  /* UNIX path to unlink on close */
	dev_t s_path_dev; /* the socket file bound there */
	ino_t s_path_ino;
	uv_timer_t s_emfile_timer; /* ends an out-of-fds pause */
	uint64_t s_emfile_logged;  /* last warning, loop ms */
	unsigned long s_emfile_pauses;
	int s_emfile_backoff; /* ms */
	int s_timer_live;     /* s_emfile_timer not closed yet */
	/* Asked before each accept, told of each close; or NULL. */
	weft_accept_gate_cb s_gate;
	void *s_gate_arg;
	uint8_t s_closed;
	uint8_t s_freed;   /* weft_server_free called with work pending */
	uint8_t s_forever; /* a fiber waits in weft_server_serve_forever */
};

static void server_maybe_release(weft_server_t *srv);
static void on_listener_close(uv_handle_t *h);

static weft_server_t *
server_of(const weft__conn_t *c)
{
	return WEFT__CONTAINER_OF(c->c_owner, weft_server_t, s_owner);
}

/* ---- Accepting --------------------------------------------------------- */

/* The prelude's verdict: 0 to run the handler.  Out of line, so that its
 * frame is gone when the handler parks (a parked fiber's depth is what a
 * shared-stack connection keeps a copy of). */
static __attribute__((noinline)) int
run_prelude(weft__conn_t *c, weft_server_t *srv)
{
	if (srv->s_prelude(&c->c_r, &c->c_w, srv->s_prelude_arg) == 0)
		return 0;
	/* Refused (a bad header, a failed handshake), unless the client
	 * went away or was too slow: that says more. */
	if (!c->c_timedout && !c->c_r.r_eof)
		weft__conn_reason(c, WEFT_CLOSE_ERROR);
	return -1;
}

static void
conn_fiber(void *arg)
{
	weft__conn_t *c = arg;
	weft_server_t *srv = server_of(c);

	if ((srv->s_prelude == NULL || run_prelude(c, srv) == 0) &&
	    (srv->s_tls == NULL ||
		weft__tls_accept(c, srv->s_tls, srv->s_tls_ms, srv->s_tls_n) ==
		    0))
		srv->s_cb(&c->c_r, &c->c_w, srv->s_arg);
	weft_deadline_clear(); /* one the handler left must not cut this short */
	/* A handler that returns closes its connection. */
	weft_close(&c->c_w);
	c->c_owner_done = 1;
	weft__conn_maybe_free(c);
}

/*
 * A reserve fd, closed while the process is out of descriptors so that
 * the work in flight (a proxy's upstream connect, a log file) still has
 * one to use; reopened when accepting resumes.
 */
static int reserve_fd = -1;

static void
reserve_acquire(void)
{
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
reserve_release(void)
{
	if (reserve_fd >= 0) {
		close(reserve_fd);
		reserve_fd = -1;
	}
}

static int
load_high(const weft_server_t *srv)
{
	return srv->s_max_conns != 0 &&
	    srv->s_owner.o_n >= srv->s_max_conns - srv->s_max_conns / 8;
}

static void on_readable(uv_poll_t *h, int status, int events);

static void
listener_poll(struct listener *l, int on)
{
	if (on) {
		l->l_state = L_ACTIVE;
		uv_poll_start(&l->l_poll, UV_READABLE, on_readable);
	} else {
		uv_poll_stop(&l->l_poll);
	}
}

/*
 * Wrap an accepted fd in a connection and start its fiber.  In fiber mode
 * the connection lives at the top of its handler's stack, in the page the
 * parked handler touches anyway: an idle connection costs that page, not
 * that page plus a heap block (see weft__carve).
 */
static void
serve(struct listener *l, int fd)
{
	weft_server_t *srv = l->l_srv;
	weft__conn_t *c;
	void *mem = NULL;

	if (!srv->s_cbmode)
		mem = weft__carve(weft__conn_size(l->l_tr));
	if (mem != NULL)
		c = weft__conn_init(mem, l->l_tr, srv->s_limit, 1);
	else
		c = weft__conn_new(l->l_tr, srv->s_limit);
	if (c == NULL) {
		close(fd);
		return;
	}
	c->c_nodelay = (uint32_t)srv->s_nodelay;
	c->c_server_owned = 1;
	if (weft__uv_open(c, fd) != 0 || weft__uv_start(c) != 0 ||
	    weft__conn_set_owner(c, &srv->s_owner) != 0)
		goto fail;
	srv->s_accepted++;
	if (srv->s_cbmode) {
		/* No fiber: the handler sets up its callbacks and returns;
		 * the connection lives until it is closed. */
		srv->s_cb(&c->c_r, &c->c_w, srv->s_arg);
		c->c_owner_done = 1;
		weft__conn_maybe_free(c);
		return;
	}
	if (c->c_carved) {
		weft__carve_spawn(c, conn_fiber, c);
		return;
	}
	if (weft_spawn(conn_fiber, c, NULL) != 0) {
		c->c_owner_done = 1;
		weft__conn_reason(c, WEFT_CLOSE_ERROR);
		weft__uv_close(c);
	}
	return;
fail:
	c->c_owner_done = 1;
	weft__conn_reason(c, WEFT_CLOSE_ERROR);
	weft__uv_close(c);
}

static void
on_emfile_timer(uv_timer_t *t)
{
	weft_server_t *srv = WEFT__CONTAINER_OF(t, weft_server_t,
	    s_emfile_timer);
	size_t i;

	reserve_acquire();
	for (i = 0; i < srv->s_nls; i++)
		if (srv->s_ls[i] != NULL && srv->s_ls[i]->l_state == L_EMFILE)
			listener_poll(srv->s_ls[i], 1);
}

/*
 * Out of file descriptors: stop polling the socket for a backoff (100 ms
 * doubling to 1.6 s) so clients wait in the kernel's queue; warn at most
 * once a second; never spin on a socket we cannot accept from.
 */
static void
emfile_pause(struct listener *l)
{
	weft_server_t *srv = l->l_srv;
	uint64_t now = uv_now(weft_loop());

	srv->s_emfile_pauses++;
	if (srv->s_emfile_backoff == 0)
		srv->s_emfile_backoff = 100;
	else if (srv->s_emfile_backoff < 1600)
		srv->s_emfile_backoff *= 2;
	if (srv->s_emfile_logged == 0 || now - srv->s_emfile_logged >= 1000) {
		weft_log(WEFT_LOG_WARNING,
		    "accept: out of file descriptors; pausing accepts for %d "
		    "ms (%lu pause(s) so far)",
		    srv->s_emfile_backoff, srv->s_emfile_pauses);
		srv->s_emfile_logged = now;
	}
	reserve_release();
	listener_poll(l, 0);
	l->l_state = L_EMFILE;
	uv_timer_start(&srv->s_emfile_timer, on_emfile_timer,
	    (uint64_t)srv->s_emfile_backoff, 0);
}

static void
on_readable(uv_poll_t *h, int status, int events)
{
	struct listener *l = h->data;
	weft_server_t *srv = l->l_srv;
	int n, fd;

	(void)events;
	if (status < 0)
		return;
	for (n = 0; n < srv->s_accept_batch && !srv->s_closed; n++) {
		if (load_high(srv) &&
		    !(srv->s_max_conns != 0 &&
			srv->s_owner.o_n >= srv->s_max_conns)) {
			/* Past 7/8 of max_connections: stop accepting so
			 * sibling processes on this socket take the load. */
			listener_poll(l, 0);
			l->l_state = L_HELD;
			return;
		}
		if (srv->s_gate != NULL &&
		    srv->s_gate(srv, 1, srv->s_gate_arg)) {
			listener_poll(l, 0);
			l->l_state = L_GATED;
			return;
		}
		fd = accept4(l->l_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				emfile_pause(l);
			/* EAGAIN: drained.  Anything else: try next time. */
			return;
		}
		srv->s_emfile_backoff = 0; /* fds are back: start over */
		if (srv->s_max_conns != 0 &&
		    srv->s_owner.o_n >= srv->s_max_conns) {
			/* Full: closed at once. */
			close(fd);
			continue;
		}
		serve(l, fd);
	}
}

size_t
weft_server_stats(const weft_server_t *srv, weft_server_stats_t *st,
    size_t size)
{
	weft_server_stats_t all = { 0 }; /* one not kept here reads 0 */

	all.accepted = srv->s_accepted;
	all.active = srv->s_owner.o_n;
	all.emfile_pauses = srv->s_emfile_pauses;
	all.tls_handshakes = srv->s_tls_n[0];
	all.tls_resumed = srv->s_tls_n[1];
	all.tls_failed = srv->s_tls_n[2];
	all.tls_timeouts = srv->s_tls_n[3];
	all.tls_failed_verify = srv->s_tls_n[4];
	all.tls_failed_closed = srv->s_tls_n[5];
	all.send_timeouts = srv->s_owner.o_send_timeouts;
	all.proxy_protocol_errors = srv->s_pp.errors;
	return weft__owner_stats(&srv->s_owner, &all, st, size);
}

/* The release hook of the connections it accepted (see conn.c). */
static void
server_release(weft__conn_owner_t *o, weft__conn_t *c, int reason)
{
	weft_server_t *srv = WEFT__CONTAINER_OF(o, weft_server_t, s_owner);
	size_t i;

	(void)c;
	(void)reason; /* counted by weft__owner_end (conn_end.c) */
	if (srv->s_gate != NULL)
		(void)srv->s_gate(srv, 0, srv->s_gate_arg);
	if (!srv->s_closed && srv->s_max_conns != 0 && !load_high(srv))
		for (i = 0; i < srv->s_nls; i++)
			if (srv->s_ls[i] != NULL &&
			    srv->s_ls[i]->l_state == L_HELD)
				listener_poll(srv->s_ls[i], 1);
	weft__wake_all(&srv->s_waitq, 0);
	server_maybe_release(srv);
}

/* ---- Setup ------------------------------------------------------------- */

int
weft__server_new(weft_client_cb cb, void *arg, const weft_stream_opts_t *opts,
    weft_server_t **out)
{
	weft_server_t *srv;

	if (cb == NULL)
		return -EINVAL;
	if (opts != NULL &&
	    (opts->limit < 0 || (size_t)opts->limit > WEFT__LIMIT_MAX))
		return -EINVAL;
	if (weft_loop() == NULL)
		return WEFT_ENOTFIBER;
	/* A server's context has certificates: ssl=True is a client's.  A
	 * callback-mode handler has no fiber to wait for the handshake. */
	if (opts != NULL && opts->ssl != NULL &&
	    (opts->ssl == WEFT_SSL_DEFAULT || opts->callback_mode))
		return opts->callback_mode ? -ENOTSUP : -EINVAL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return -ENOMEM;
	if (opts != NULL && opts->ssl != NULL) {
		srv->s_tls = weft_tls_ctx_ref(opts->ssl);
		srv->s_tls_ms[0] = opts->ssl_handshake_timeout_ms;
		srv->s_tls_ms[1] = opts->ssl_shutdown_timeout_ms;
	}
	srv->s_cb = cb;
	srv->s_arg = arg;
	srv->s_owner.o_release = server_release;
	srv->s_limit = opts != NULL && opts->limit > 0 ? (size_t)opts->limit
						       : WEFT_LIMIT_DEFAULT;
	srv->s_nodelay = opts == NULL || !opts->no_delay_off;
	srv->s_backlog = opts != NULL && opts->backlog > 0 ? opts->backlog
							   : 100;
	srv->s_accept_batch = opts != NULL && opts->accept_batch > 0
	    ? opts->accept_batch
	    : 16;
	srv->s_max_conns = opts != NULL ? opts->max_connections : 0;
	srv->s_cbmode = opts != NULL && opts->callback_mode;
	srv->s_owner.o_send_ms = opts == NULL || opts->send_timeout_ms == 0
	    ? 60000
	    : opts->send_timeout_ms > 0 ? opts->send_timeout_ms
					: 0;
	uv_timer_init(weft_loop(), &srv->s_emfile_timer);
	srv->s_timer_live = 1;
	reserve_acquire();
	*out = srv;
	return 0;
}

static void
on_listener_close(uv_handle_t *h)
{
	struct listener *l = h->data;
	weft_server_t *srv = l->l_srv;

	close(l->l_fd);
	srv->s_ls[l->l_idx] = NULL;
	free(l);
	srv->s_nlive--;
	weft__wake_all(&srv->s_waitq, 0);
	server_maybe_release(srv);
}

int
weft__listener_add(weft_server_t *srv, int fd, const weft__transport_t *tr,
    int backlog)
{
	struct listener *l;
	int rc;

	if (srv->s_nls == MAX_LISTENERS) {
		close(fd);
		return -EMFILE;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if (listen(fd, backlog) != 0) {
		rc = -errno;
		close(fd);
		free(l);
		return rc;
	}
	l->l_srv = srv;
	l->l_tr = tr;
	l->l_fd = fd;
	if ((rc = uv_poll_init_socket(weft_loop(), &l->l_poll, fd)) != 0) {
		close(fd);
		free(l);
		return rc;
	}
	l->l_poll.data = l;
	l->l_idx = srv->s_nls;
	srv->s_ls[srv->s_nls++] = l;
	srv->s_nlive++;
	listener_poll(l, 1);
	return 0;
}

void
weft__server_unlink_on_close(weft_server_t *srv, const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		srv->s_path = strdup(path);
		srv->s_path_dev = st.st_dev;
		srv->s_path_ino = st.st_ino;
	}
}

/* ---- Closing ----------------------------------------------------------- */

static void
on_timer_close(uv_handle_t *h)
{
	weft_server_t *srv = WEFT__CONTAINER_OF(h, weft_server_t,
	    s_emfile_timer);

	srv->s_timer_live = 0;
	weft__wake_all(&srv->s_waitq, 0);
	server_maybe_release(srv);
}

int
weft_server_close(weft_server_t *srv)
{
	struct stat st;
	size_t i;

	if (srv->s_closed)
		return 0;
	srv->s_closed = 1;
	for (i = 0; i < srv->s_nls; i++)
		if (srv->s_ls[i] != NULL)
			uv_close((uv_handle_t *)&srv->s_ls[i]->l_poll,
			    on_listener_close);
	uv_close((uv_handle_t *)&srv->s_emfile_timer, on_timer_close);
	if (srv->s_path != NULL) {
		/* As 3.13 does: only if the path is still our socket, not
		 * one a newer server put there meanwhile. */
		if (lstat(srv->s_path, &st) == 0 &&
		    st.st_dev == srv->s_path_dev &&
		    st.st_ino == srv->s_path_ino)
			unlink(srv->s_path);
		free(srv->s_path);
		srv->s_path = NULL;
	}
	weft__wake_all(&srv->s_waitq, 0);
	return 0;
}

/*
 * Each live connection, newest first.  Closing one frees it only later
 * (its handle closes asynchronously), but a callback-mode handler called
 * meanwhile may close others: the bound is checked every time.
 */
#define FOREACH_CONN(srv, i, c)                                                \
	for ((i) = (srv)->s_owner.o_n; (i)-- > 0;)                             \
		if ((i) < (srv)->s_owner.o_n &&                                \
		    ((c) = (srv)->s_owner.o_conns[(i)]) != NULL)

void
weft_server_close_clients(weft_server_t *srv)
{
	weft__conn_t *c;
	uint32_t i;

	FOREACH_CONN(srv, i, c)
	{
		weft__conn_reason(c, WEFT_CLOSE_SHUTDOWN);
		weft_close(&c->c_w);
	}
}

int
weft_server_is_serving(const weft_server_t *srv)
{
	return !srv->s_closed && srv->s_nls > 0;
}

static int
server_done(const weft_server_t *srv)
{
	return srv->s_closed && srv->s_nlive == 0 && srv->s_owner.o_n == 0 &&
	    !srv->s_timer_live;
}

int
weft_server_wait_closed(weft_server_t *srv)
{
	int rc;

	while (!server_done(srv))
		if ((rc = weft__park(&srv->s_waitq)) < 0)
			return rc;
	return 0;
}

int
weft_server_serve_forever(weft_server_t *srv)
{
	int rc = 0;

	/* asyncio raises RuntimeError for both: "is closed" and "is
	 * already being awaited on serve_forever()" (doc/semantics.md S4.3,
	 * case 125). */
	if (srv->s_closed)
		return WEFT_ECLOSED;
	if (srv->s_forever)
		return WEFT_EBUSY;
	srv->s_forever = 1;
	while (!srv->s_closed) {
		if ((rc = weft__park(&srv->s_waitq)) < 0) {
			if (rc == WEFT_ECANCELED)
				weft_server_close(srv);
			break;
		}
	}
	srv->s_forever = 0;
	return rc < 0 ? rc : 0;
}

size_t
weft_server_sockets(const weft_server_t *srv, int *fds, size_t n)
{
	size_t i, k = 0;

	if (srv->s_closed)
		return 0;
	for (i = 0; i < srv->s_nls; i++) {
		if (srv->s_ls[i] == NULL)
			continue;
		if (k < n && fds != NULL)
			fds[k] = srv->s_ls[i]->l_fd;
		k++;
	}
	return k;
}

int
weft_server_port(const weft_server_t *srv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	size_t i;
	int port;

	/* Closed listeners are freed (on_listener_close): no port left. */
	if (srv->s_closed)
		return 0;
	for (i = 0; i < srv->s_nls; i++) {
		if (srv->s_ls[i] == NULL ||
		    srv->s_ls[i]->l_tr != &weft__transport_tcp)
			continue;
		len = sizeof(ss);
		if (getsockname(srv->s_ls[i]->l_fd, (struct sockaddr *)&ss,
			&len) != 0)
			continue;
		if ((port = weft__addr_port((struct sockaddr *)&ss)) != 0)
			return port;
	}
	return 0;
}

size_t
weft_server_connections(const weft_server_t *srv)
{
	return srv->s_owner.o_n;
}

static void
server_maybe_release(weft_server_t *srv)
{
	if (srv->s_freed && server_done(srv)) {
		weft__owner_fini(&srv->s_owner);
		if (srv->s_tls != NULL)
			weft_tls_ctx_free(srv->s_tls);
		free(srv);
	}
}

void
weft_server_free(weft_server_t **srvp)
{
	weft_server_t *srv;

	if (srvp == NULL || (srv = *srvp) == NULL)
		return;
	*srvp = NULL;
	weft_server_close(srv);
	/* Listeners close asynchronously and live connections keep a
	 * pointer to their server: release it when the last one is gone. */
	srv->s_freed = 1;
	server_maybe_release(srv);
}

void
weft_server_abort_clients(weft_server_t *srv)
{
	weft__conn_t *c;
	uint32_t i;

	FOREACH_CONN(srv, i, c)
	{
		weft__conn_reason(c, WEFT_CLOSE_SHUTDOWN);
		weft__conn_fatal(c, -ECONNABORTED);
	}
}

int
weft_server_set_on_close(weft_server_t *srv, weft_close_cb fn, void *arg)
{
	return weft__owner_set_on_close(&srv->s_owner, fn, arg);
}

int
weft_server_set_prelude(weft_server_t *srv, weft_prelude_cb fn, void *arg)
{
	/* A prelude waits for bytes: it needs the fiber a callback-mode
	 * handler does not have. */
	if (srv->s_cbmode)
		return -EINVAL;
	srv->s_prelude = fn;
	srv->s_prelude_arg = arg;
	return 0;
}

int
weft_server_set_proxy_protocol(weft_server_t *srv, int timeout_ms)
{
	srv->s_pp.timeout_ms = timeout_ms;
	return weft_server_set_prelude(srv, weft__pp_prelude, &srv->s_pp);
}

int
weft_server_set_accept_gate(weft_server_t *srv, weft_accept_gate_cb fn,
    void *arg)
{
	srv->s_gate = fn;
	srv->s_gate_arg = arg;
	return 0;
}

void
weft_server_accept_resume(weft_server_t *srv)
{
	size_t i;

	if (srv->s_closed)
		return;
	for (i = 0; i < srv->s_nls; i++)
		if (srv->s_ls[i] != NULL && srv->s_ls[i]->l_state == L_GATED)
			listener_poll(srv->s_ls[i], 1);
}
