/*
 * Streams over real sockets, continued (tests/net_util.h): connection
 * resets, UNIX sockets, wait_closed and close_clients, flushing on close
 * and write_eof, many small writes, reader flow control and a drain the
 * peer aborts.  Cases 132-140 of doc/semantics.md (S7) and beyond.
 */
#include "net_util.h"

/* ---- 132: connection reset ---------------------------------------------- */

/* Abort with SO_LINGER {1, 0}: the close sends a RST. */
static void
h_reset(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	struct linger lg = { 1, 0 };
	int fd;

	(void)r;
	s->started = 1;
	fd = weft_fileno(w);
	if (fd < 0)
		s->rc = fd;
	else if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
		s->rc = -errno;
	weft_close(w);
	s->done = 1;
}

WT_CASE(132_connection_reset)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[8];
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_reset, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), -ECONNRESET);
	assert_int_equal(s.rc, 0);
	assert_int_equal(weft_reader_exception(r), -ECONNRESET);
	assert_int_equal(weft_wait_closed(w), -ECONNRESET);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	assert_int_equal(weft_is_closing(w), 1);
	/* Sticky: the next read reports it again. */
	assert_int_equal(weft_read(r, buf, sizeof(buf)), -ECONNRESET);
	/* S2.2 of doc/semantics.md: after the connection is lost writes are
	 * dropped silently; the error shows at drain. */
	assert_int_equal(weft_write(w, "late", 4), 0);
	assert_int_equal(weft_writer_buffered(w), 0);
	assert_int_equal(weft_drain(w), -ECONNRESET);
	/* Once the owner has closed it, a write is WEFT_ECLOSED (S6.2 of
	 * doc/semantics.md). */
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_write(w, "late", 4), WEFT_ECLOSED);
	client_done(w);
	server_done(&srv);
}

/* ---- 133: UNIX sockets -------------------------------------------------- */

WT_CASE(133_unix_echo_names)
{
	struct hs s;
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	char path[128], buf[128];

	memset(&s, 0, sizeof(s));
	unix_path(path, sizeof(path), "names.sock");
	assert_int_equal(weft_start_unix_server(h_echo, &s, path, NULL, &srv),
	    0);
	assert_int_equal(weft_server_port(srv), 0);
	assert_int_equal(weft_server_is_serving(srv), 1);
	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w), 0);
	assert_int_equal(weft_write(w, "hello\n", 6), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "hello\n");

	/* Client: peername is the path, sockname is unnamed. */
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), (int)strlen(path));
	assert_string_equal(buf, path);
	assert_int_equal(weft_sockname(w, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_true(weft_extra_info(w, "family", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "AF_UNIX");
	assert_int_equal(weft_can_write_eof(w), 1);
	/* Server side: the other way round. */
	assert_string_equal(s.peer, "");
	assert_string_equal(s.sock, path);

	/* write_eof works on UNIX streams too. */
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	client_done(w);
	server_done(&srv);
	assert_int_equal(s.rc, 0);
}

WT_CASE(133_unix_path_removed_on_close)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	struct stat st;
	char path[128];

	unix_path(path, sizeof(path), "removed.sock");
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &srv),
	    0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	unix_echo_once(path);
	server_done(&srv);
	/* 3.13's cleanup_socket=True: the path is gone. */
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w),
	    -ENOENT);

	/* keep_socket (cleanup_socket=False) leaves it behind. */
	memset(&opts, 0, sizeof(opts));
	opts.keep_socket = 1;
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, &opts,
			     &srv),
	    0);
	server_done(&srv);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w),
	    -ECONNREFUSED);
	assert_int_equal(unlink(path), 0);
}

WT_CASE(133_unix_stale_socket_replaced)
{
	struct sockaddr_un sun;
	weft_server_t *srv = NULL;
	struct stat st;
	char path[128];
	int fd;

	unix_path(path, sizeof(path), "stale.sock");
	/* A socket file left by a process that died. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &srv),
	    0);
	unix_echo_once(path);
	server_done(&srv);
	assert_int_equal(lstat(path, &st), -1);
}

WT_CASE(133_unix_regular_file_in_use)
{
	weft_server_t *srv = NULL;
	struct stat st;
	char path[128];
	int fd;

	unix_path(path, sizeof(path), "regular");
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &srv),
	    -EADDRINUSE);
	assert_null(srv);
	/* The file is not ours: left alone. */
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
	assert_int_equal(unlink(path), 0);
}

/*
 * 3.13 removes the path on close only if it is still the socket the
 * server bound: a newer server that took the path over keeps it.
 */
WT_CASE(133_unix_close_keeps_replaced_path)
{
	weft_server_t *old = NULL, *new = NULL;
	struct stat st;
	char path[128];

	unix_path(path, sizeof(path), "replaced.sock");
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &old),
	    0);
	/* The path is a socket file: a new server replaces it. */
	assert_int_equal(weft_start_unix_server(h_echo, NULL, path, NULL, &new),
	    0);
	server_done(&old);
	assert_int_equal(lstat(path, &st), 0);
	unix_echo_once(path);
	server_done(&new);
	assert_int_equal(lstat(path, &st), -1);
}

/* ---- 139: wait_closed is cancellation-safe (Q3 fixed) ------------------- */

WT_CASE(139_wait_closed_cancel_safe)
{
	struct waiter a, b;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_fiber_t *fa = NULL, *fb = NULL;
	int port;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	port = start_tcp(h_echo, NULL, &srv);
	connect_tcp(port, &r, &w);
	a.w = b.w = w;
	assert_int_equal(weft_spawn(wait_closed_fiber, &a, &fa), 0);
	assert_int_equal(weft_spawn(wait_closed_fiber, &b, &fb), 0);
	settle();
	assert_int_equal(a.done, 0);
	assert_int_equal(b.done, 0);

	assert_int_equal(weft_cancel(fa), 0);
	assert_int_equal(weft_join(fa), 0);
	assert_int_equal(a.rc, WEFT_ECANCELED);
	/* Only the cancelled caller saw it. */
	settle();
	assert_int_equal(b.done, 0);

	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_join(fb), 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(weft_wait_closed(w), 0);
	weft_stream_free(w);
	server_done(&srv);
}

/* ---- 140: close_clients ------------------------------------------------- */

WT_CASE(140_close_clients)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	int port;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_true(wait_flag(&s.started));
	assert_int_equal(weft_server_connections(srv), 1);

	assert_int_equal(weft_server_close(srv), 0);
	weft_server_close_clients(srv);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	assert_int_equal(weft_server_connections(srv), 0);
	assert_int_equal(s.done, 1);
	assert_int_equal(s.rc, 0); /* the handler's read saw EOF */
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_int_equal(all.len, 0);
	assert_int_equal(weft_at_eof(r), 1);
	client_done(w);
	weft_server_free(&srv);
}

/* ---- Close flushes, write_eof flushes ----------------------------------- */

#define FLUSH_LEN (4 * 1024 * 1024)

/* Write a lot, then return at once: weft's close must flush it all. */
static void
h_write_and_return(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	unsigned char *p;
	size_t i;

	(void)r;
	s->started = 1;
	if ((p = malloc(FLUSH_LEN)) == NULL) {
		s->rc = -ENOMEM;
		s->done = 1;
		return;
	}
	for (i = 0; i < FLUSH_LEN; i++)
		p[i] = pattern(i);
	s->rc = weft_write(w, p, FLUSH_LEN);
	free(p);
	s->done = 1;
}

/* Read everything up to EOF into s->total/s->bad; returns the last rc. */
static ssize_t
count_to_eof(weft_reader_t *r, struct hs *s)
{
	ssize_t n, i;

	while ((n = weft_read(r, iobuf, sizeof(iobuf))) > 0) {
		for (i = 0; i < n; i++)
			if ((unsigned char)iobuf[i] != pattern(s->total + i))
				s->bad++;
		s->total += (size_t)n;
	}
	return n;
}

WT_CASE(close_flushes_buffered_data)
{
	struct hs s, got;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&got, 0, sizeof(got));
	port = start_tcp(h_write_and_return, &s, &srv);
	connect_tcp(port, &r, &w);
	/* Let the handler return (and close) before anything is read. */
	assert_true(wait_flag(&s.done));
	weft_sleep(50);
	assert_int_equal(s.rc, 0);
	assert_int_equal(count_to_eof(r, &got), 0);
	assert_int_equal(got.total, FLUSH_LEN);
	assert_int_equal(got.bad, 0);
	assert_int_equal(weft_reader_exception(r), 0);
	client_done(w);
	server_done(&srv);
}

/* Count what arrives until EOF, then report the count as a line. */
static void
h_count(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	char line[32];
	int n;

	s->started = 1;
	s->rc = (int)count_to_eof(r, s);
	n = snprintf(line, sizeof(line), "%zu\n", s->total);
	weft_write(w, line, (size_t)n);
	s->done = 1;
}

WT_CASE(write_eof_flushes_buffered_data)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	unsigned char *p;
	size_t i;
	int port;

	memset(&s, 0, sizeof(s));
	assert_non_null(p = malloc(FLUSH_LEN));
	for (i = 0; i < FLUSH_LEN; i++)
		p[i] = pattern(i);
	port = start_tcp(h_count, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, p, FLUSH_LEN), 0);
	free(p);
	/* No drain: the shutdown must wait for the buffered bytes. */
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_write(w, "x", 1), -EPIPE);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "4194304\n");
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.bad, 0);
	client_done(w);
	server_done(&srv);
}

/* ---- Many small writes, both directions backed up ----------------------- */

#define NLINES 100000

/* Small kernel buffers (no autotuning), so that backlogs show in weft. */
static void
small_socket_buffers(weft_writer_t *w)
{
	int fd = weft_fileno(w), sz = 16384;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static void
h_echo_lines_small(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	small_socket_buffers(w);
	h_echo_lines(r, w, arg);
}

WT_CASE(many_small_writes_in_order)
{
	struct hs s;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	char buf[16];
	int i, n, port, bad = 0;

	memset(&s, 0, sizeof(s));
	port = start_tcp(h_echo_lines_small, &s, &srv);
	connect_tcp(port, &r, &w);
	small_socket_buffers(w);
	/* Nothing is read meanwhile: once the kernel buffers are full the
	 * server's replies back up, it stops reading and the rest queues
	 * in this writer, small write by small write. */
	for (i = 0; i < NLINES; i++) {
		n = snprintf(buf, sizeof(buf), "%07d\n", i);
		assert_int_equal(weft_write(w, buf, (size_t)n), 0);
	}
	assert_true(weft_writer_buffered(w) > 65536);
	for (i = 0; i < NLINES; i++) {
		if (weft_readline(r, &line) != 0 || line.len != 8) {
			bad++;
			break;
		}
		snprintf(buf, sizeof(buf), "%07d\n", i);
		if (memcmp(line.base, buf, 8) != 0)
			bad++;
	}
	assert_int_equal(bad, 0);
	assert_int_equal(weft_drain(w), 0);
	client_done(w);
	server_done(&srv);
	assert_int_equal(s.rc, 0);
}

/* ---- Reader flow control on a real socket ------------------------------- */

WT_CASE(reader_flow_control_small_limit)
{
	weft_stream_opts_t opts;
	struct hs s, got;
	weft_server_t *srv;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	int port;

	memset(&s, 0, sizeof(s));
	memset(&got, 0, sizeof(got));
	memset(&opts, 0, sizeof(opts));
	opts.limit = 1024;
	port = start_tcp(h_write_and_return, &s, &srv);
	assert_int_equal(weft_open_connection(LOCALHOST, port, &opts, &r, &w),
	    0);
	/* The reader pauses the transport past 2*limit... */
	assert_true(wait_flag(&s.done));
	weft_sleep(20);
	assert_int_equal(weft_reader_paused(r), 1);
	assert_true(weft_reader_buffer(r).len > 2048);
	assert_true(weft_reader_buffer(r).len < FLUSH_LEN);
	/* ...and resumes it as it is read: everything arrives. */
	assert_int_equal(count_to_eof(r, &got), 0);
	assert_int_equal(got.total, FLUSH_LEN);
	assert_int_equal(got.bad, 0);
	client_done(w);
	server_done(&srv);
}

/* ---- The peer aborts while a drain waits -------------------------------- */

/* Wait for the go, then abort with a RST without reading anything. */
static void
h_abort_on_go(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	struct linger lg = { 1, 0 };
	int fd;

	(void)r;
	s->started = 1;
	wait_flag(&s->go);
	if ((fd = weft_fileno(w)) >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	weft_close(w);
	s->done = 1;
}

WT_CASE(drain_peer_abort)
{
	struct hs s;
	struct waiter wt;
	weft_server_t *srv;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_fiber_t *f = NULL;
	unsigned char *p;
	int port, rc;

	memset(&s, 0, sizeof(s));
	memset(&wt, 0, sizeof(wt));
	assert_non_null(p = calloc(1, BIG));
	port = start_tcp(h_abort_on_go, &s, &srv);
	connect_tcp(port, &r, &w);
	assert_int_equal(weft_write(w, p, BIG), 0);
	free(p);
	wt.w = w;
	assert_int_equal(weft_spawn(drain_fiber, &wt, &f), 0);
	settle();
	assert_int_equal(wt.done, 0);
	s.go = 1;
	assert_int_equal(weft_join(f), 0);
	/* asyncio's own test accepts any of these. */
	rc = wt.rc;
	assert_true(rc == -ECONNRESET || rc == -EPIPE || rc == -ECONNABORTED);
	assert_int_equal(weft_reader_exception(r), rc);
	assert_int_equal(weft_wait_closed(w), rc);
	assert_int_equal(weft_is_closing(w), 1);
	assert_int_equal(weft_writer_buffered(w), 0);
	client_done(w);
	server_done(&srv);
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
