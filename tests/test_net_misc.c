/*
 * Streams over real sockets, continued (tests/net_util.h): name
 * resolution, bind errors and options, many clients, weft_stream_free,
 * giving up on waiting calls, a large echo, socketpairs and IPv6.
 */
#include "net_util.h"

/* ---- Name resolution, bind errors, options ------------------------------ */

/* "localhost" goes through getaddrinfo; every address is tried. */
WT_CASE(open_connection_localhost)
{
	weft_server_t *srv;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	int port;

	port = start_tcp(h_echo, NULL, &srv);
	assert_int_equal(weft_open_connection("localhost", port, NULL, &r, &w),
	    0);
	assert_int_equal(weft_write(w, "lo\n", 3), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "lo\n");
	client_done(w);
	server_done(&srv);
}

WT_CASE(start_server_addr_in_use)
{
	weft_stream_opts_t opts;
	weft_server_t *srv, *srv2 = NULL, *srv3 = NULL;
	int port;

	port = start_tcp(h_echo, NULL, &srv);
	assert_int_equal(weft_start_server(h_echo, NULL, LOCALHOST, port, NULL,
			     &srv2),
	    -EADDRINUSE);
	assert_null(srv2);
	server_done(&srv);

	/* reuse_port: two listeners share a port. */
	memset(&opts, 0, sizeof(opts));
	opts.reuse_port = 1;
	assert_int_equal(weft_start_server(h_echo, NULL, LOCALHOST, 0, &opts,
			     &srv2),
	    0);
	port = weft_server_port(srv2);
	assert_int_equal(weft_start_server(h_echo, NULL, LOCALHOST, port, &opts,
			     &srv3),
	    0);
	assert_int_equal(weft_server_port(srv3), port);
	server_done(&srv2);
	server_done(&srv3);
}

WT_CASE(unix_mode)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	struct stat st;
	char path[128];

	unix_path(path, sizeof(path), "mode.sock");
	memset(&opts, 0, sizeof(opts));
	opts.unix_mode = 0600;
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, &opts,
			     &srv),
	    0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unix_echo_once(path);
	server_done(&srv);
}

/* ---- Many clients at once ----------------------------------------------- */

#define NCLIENTS 64

struct client {
	int port;
	int idx;
	int rc;
	int done;
};

static void
client_fiber(void *arg)
{
	struct client *cl = arg;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	char buf[32];
	int n;

	cl->rc = weft_open_connection(LOCALHOST, cl->port, NULL, &r, &w);
	if (cl->rc != 0) {
		cl->done = 1;
		return;
	}
	n = snprintf(buf, sizeof(buf), "client %d\n", cl->idx);
	weft_write(w, buf, (size_t)n);
	cl->rc = weft_readline(r, &line);
	if (cl->rc == 0 &&
	    (line.len != (size_t)n || memcmp(line.base, buf, (size_t)n) != 0))
		cl->rc = -EBADMSG;
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	cl->done = 1;
}

WT_CASE(many_clients)
{
	struct client cl[NCLIENTS];
	weft_fiber_t *f[NCLIENTS];
	struct hs s;
	weft_server_t *srv;
	int i, port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo, &s, &srv);
	for (i = 0; i < NCLIENTS; i++) {
		cl[i].port = port;
		cl[i].idx = i;
		cl[i].rc = 1;
		cl[i].done = 0;
		assert_int_equal(weft_spawn(client_fiber, &cl[i], &f[i]), 0);
	}
	for (i = 0; i < NCLIENTS; i++) {
		assert_int_equal(weft_join(f[i]), 0);
		assert_int_equal(cl[i].rc, 0);
	}
	server_done(&srv);
	assert_int_equal(s.nconn, NCLIENTS);
}

/* ---- weft_stream_free aborts ------------------------------------------- */

WT_CASE(stream_free_aborts)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_true(wait_flag(&s.started));
	/* Released while open and idle: the peer sees the end. */
	weft_stream_free(w);
	assert_true(wait_flag(&s.done));
	assert_true(s.rc == 0 || s.rc == -ECONNRESET);
	server_done(&srv);
}

/* ---- Giving up on waiting calls ----------------------------------------- */

struct opener {
	const char *host;
	int port;
	uint64_t deadline; /* ms, 0 = none */
	int rc;
	weft_reader_t *r;
	weft_writer_t *w;
};

static void
open_fiber(void *arg)
{
	struct opener *o = arg;

	if (o->deadline != 0)
		weft_deadline_set(o->deadline);
	o->rc = weft_open_connection(o->host, o->port, NULL, &o->r, &o->w);
	weft_deadline_clear();
}

/*
 * A cancelled open_connection returns WEFT_ECANCELED and leaves nothing
 * behind: the pending libuv request (name lookup or connect) finishes
 * later on its own.  LeakSanitizer checks the "nothing" part.
 */
WT_CASE(cancel_open_connection)
{
	struct opener o;
	weft_server_t *srv;
	weft_fiber_t *f = NULL;
	int port;

	port = start_tcp(h_echo, NULL, &srv);

	/* Cancelled before it runs: it gives up in the name lookup. */
	memset(&o, 0, sizeof(o));
	o.host = "localhost";
	o.port = port;
	assert_int_equal(weft_spawn(open_fiber, &o, &f), 0);
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(o.rc, WEFT_ECANCELED);
	assert_null(o.w);

	/* Cancelled while the connect is in flight. */
	memset(&o, 0, sizeof(o));
	o.host = LOCALHOST;
	o.port = port;
	assert_int_equal(weft_spawn(open_fiber, &o, &f), 0);
	weft_yield(); /* it runs up to the connect and parks */
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(o.rc, WEFT_ECANCELED);
	assert_null(o.w);
	server_done(&srv);
}

/*
 * A name lookup given up on (deadline) while it still waits for libuv's
 * thread pool is taken off the pool's queue, instead of running there
 * later for nobody and holding up the lookups of other connections.
 * main() makes the pool one thread; a blocker occupies it, three lookups
 * time out behind it, and then only the blocker may be left pending on
 * the loop: the cancelled lookups have been called back already.
 *
 * The lookups are started only once the blocker runs.  Queued behind it
 * is not enough: libuv's uv_cancel() of a queued lookup (as in
 * test_cancel_open_connection) leaves the pool's "run slow I/O" marker
 * in its queue until the pool thread next wakes, and a lookup queued
 * before that runs at the marker's place, ahead of the blocker.
 */
static int pool_pipe[2] = { -1, -1 };
static int pool_blocked_done;
static atomic_int pool_block_started;

static void
pool_block(uv_work_t *req)
{
	struct pollfd pfd = { pool_pipe[0], POLLIN, 0 };

	int i;

	(void)req;
	atomic_store(&pool_block_started, 1);
	/* Bounded, in case of a bug; a signal (valgrind sends its own)
	 * must not end the block early and let the lookups run. */
	for (i = 0; i < 200; i++)
		if (poll(&pfd, 1, 100) != 0 &&
		    (pfd.revents != 0 || errno != EINTR))
			break;
}

static void
pool_block_done(uv_work_t *req, int status)
{
	(void)req;
	(void)status;
	pool_blocked_done = 1;
}

WT_CASE(lookup_cancel_dequeues)
{
	static uv_work_t blocker;
	struct opener o[3];
	weft_fiber_t *f[3];
	unsigned before;
	int i;

	assert_int_equal(pipe(pool_pipe), 0);
	pool_blocked_done = 0;
	atomic_store(&pool_block_started, 0);
	before = weft_loop()->active_reqs.count;
	assert_int_equal(uv_queue_work(weft_loop(), &blocker, pool_block,
			     pool_block_done),
	    0);
	for (i = 0; i < 2000 && !atomic_load(&pool_block_started); i++)
		weft_sleep(5);
	assert_true(atomic_load(&pool_block_started));
	for (i = 0; i < 3; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		o[i].host = "localhost";
		o[i].port = 9;
		o[i].deadline = 50;
		f[i] = NULL;
		assert_int_equal(weft_spawn(open_fiber, &o[i], &f[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(weft_join(f[i]), 0);
		assert_int_equal(o[i].rc, WEFT_ETIMEDOUT);
	}
	weft_sleep(50);
	/* Only the blocker: the three lookups are no longer queued. */
	assert_int_equal(weft_loop()->active_reqs.count, before + 1);
	assert_int_equal(write(pool_pipe[1], "x", 1), 1);
	assert_true(wait_flag(&pool_blocked_done));
	close(pool_pipe[0]);
	close(pool_pipe[1]);
}

/* A drain that times out leaves the writer usable; a later one works. */
WT_CASE(drain_deadline)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	unsigned char *p;
	char c;
	int port;

	memset(&s, 0, sizeof(s));
	assert_non_null(p = malloc(BIG));
	memset(p, 0, BIG);
	port = start_tcp(h_slow, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, p, BIG), 0);
	free(p);
	assert_int_equal(weft_deadline_set(50), 0);
	assert_int_equal(weft_drain(w), WEFT_ETIMEDOUT);
	weft_deadline_clear();
	assert_true(weft_writer_buffered(w) > 65536);
	s.go = 1;
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read(r, &c, 1), 0);
	assert_int_equal(s.total, BIG);
	client_done(w);
	server_done(&srv);
}

/*
 * weft_abort: a handler whose peer does not read queues more than the
 * kernel takes, then aborts.  The queued bytes are dropped and the socket
 * closed at once: the peer gets less than was written, then the end,
 * where weft_close would have held the connection until it read it all.
 */
static void
h_write_abort(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	unsigned char *p;

	(void)r;
	s->started = 1;
	if ((p = calloc(1, BIG)) == NULL) {
		s->rc = -ENOMEM;
		s->done = 1;
		return;
	}
	s->rc = weft_write(w, p, BIG);
	free(p);
	s->len = weft_writer_buffered(w);
	if (s->rc == 0)
		s->rc = weft_abort(w);
	if (s->rc == 0 && weft_drain(w) != -ECONNABORTED)
		s->rc = -EPROTO;
	if (s->rc == 0 && weft_write(w, "x", 1) != WEFT_ECLOSED)
		s->rc = -EPROTO;
	if (s->rc == 0)
		s->rc = weft_abort(w); /* idempotent */
	s->done = 1;
}

WT_CASE(abort)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	size_t got = 0;
	ssize_t n;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_write_abort, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.rc, 0);
	assert_true(s.len > 0); /* something was still queued */
	/* The server's side is gone before we read a byte. */
	weft_sleep(50);
	while ((n = weft_read(r, iobuf, sizeof(iobuf))) > 0)
		got += (size_t)n;
	assert_true(n == 0 || n == -ECONNRESET);
	assert_true(got < BIG);
	client_done(w);
	server_done(&srv);
}

/* ---- Echo of a large payload -------------------------------------------- */

#define ECHO_LEN (1024 * 1024)

WT_CASE(echo_big_tcp)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	unsigned char *out, *in;
	size_t i, got = 0;
	char c;
	int port;

	memset(&s, 0, sizeof(s));
	assert_non_null(out = malloc(ECHO_LEN));
	assert_non_null(in = malloc(ECHO_LEN));
	for (i = 0; i < ECHO_LEN; i++)
		out[i] = pattern(i * 7);
	port = start_tcp(h_echo, &s, &srv);
	connect_tcp(port, &r, &w);
	/* Queue it all, then read the echo while it flows. */
	assert_int_equal(weft_write(w, out, ECHO_LEN), 0);
	assert_int_equal(weft_readexactly(r, in, ECHO_LEN, &got), 0);
	assert_int_equal(got, ECHO_LEN);
	assert_memory_equal(in, out, ECHO_LEN);
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read(r, &c, 1), 0);
	assert_int_equal(s.rc, 0);
	client_done(w);
	server_done(&srv);
	free(out);
	free(in);
}

/* ---- open_connection on a socketpair (the sock= form) ------------------- */

struct sp {
	int fd;
	int rc;
};

static void
send_abc(void *arg)
{
	struct sp *p = arg;

	p->rc = (int)send(p->fd, "abc", 3, 0);
}

WT_CASE(socketpair_open_connection_fd)
{
	struct sp p;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_fiber_t *f = NULL;
	char buf[100];
	int sv[2];
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(weft_open_connection_fd(sv[0], NULL, &r, &w), 0);
	/* loop.call_soon(wsock.send, b'abc') */
	p.fd = sv[1];
	p.rc = 0;
	assert_int_equal(weft_spawn(send_abc, &p, &f), 0);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(p.rc, 3);
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), 0);

	/* And back the other way. */
	assert_int_equal(weft_write(w, "xyz", 3), 0);
	assert_int_equal(weft_drain(w), 0);
	n = recv(sv[1], buf, sizeof(buf), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "xyz", 3);

	client_done(w); /* closes sv[0]: weft owns it */
	assert_int_equal(recv(sv[1], buf, sizeof(buf), 0), 0);
	close(sv[1]);
}

/* ---- IPv6 --------------------------------------------------------------- */

static void
body_ipv6(void *arg)
{
	struct hs s;
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	char buf[128], want[64];
	int port;

	(void)arg;
	memset(&s, 0, sizeof(s));
	assert_int_equal(weft_start_server(h_echo, &s, "::1", 0, NULL, &srv),
	    0);
	port = weft_server_port(srv);
	assert_true(port > 0);
	assert_int_equal(weft_open_connection("::1", port, NULL, &r, &w), 0);
	assert_int_equal(weft_write(w, "six\n", 4), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "six\n");
	snprintf(want, sizeof(want), "[::1]:%d", port);
	assert_true(weft_peername(w, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want);
	assert_string_equal(s.sock, want);
	assert_true(weft_extra_info(w, "family", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "AF_INET6");
	client_done(w);
	server_done(&srv);
}

/* 1 when this machine can bind [::1]. */
static int
have_ipv6_loopback(void)
{
	struct sockaddr_in6 sin6;
	int fd, ok;

	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

WT_TEST(ipv6_echo)
{
	if (!have_ipv6_loopback())
		skip();
	wt_run(body_ipv6, NULL);
}

int
main(int argc, char **argv)
{
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-net-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	WT_TIMEOUT(120);
	/* One thread in libuv's pool, which only name lookups use here:
	 * test_lookup_cancel_dequeues fills it with one job. */
	setenv("UV_THREADPOOL_SIZE", "1", 1);
	rc = wt_run_cases(argc, argv);
	rmdir(tmpdir);
	return rc;
}
