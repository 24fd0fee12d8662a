/*
 * Server accept control: max_connections (closed at once when full,
 * accepting paused past 7/8), accept batching, and running out of file
 * descriptors (pause with backoff, recover when fds free up, no spin).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "harness.h"

/* Echo until EOF. */
static void
echo(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	weft_slice_t s;

	(void)arg;
	while (weft_read_slice(r, 65536, &s) > 0) {
		weft_write(w, s.base, s.len);
		if (weft_drain(w) != 0)
			break;
	}
}

/* A blocking client socket (the test body is a fiber, so plain blocking
 * calls would stall the loop: use them only with the server elsewhere, or
 * with non-blocking probes as below). */
static int
tcp_connect_nb(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait (letting the loop run) until fd has n bytes or EOF/error. */
static ssize_t
fiber_recv(int fd, char *buf, size_t n, int ms)
{
	size_t got = 0;
	ssize_t r;

	while (got < n && ms > 0) {
		r = recv(fd, buf + got, n - got, 0);
		if (r == 0)
			return (ssize_t)got;
		if (r < 0 && errno != EAGAIN)
			return -errno;
		if (r > 0)
			got += (size_t)r;
		else {
			weft_sleep(5);
			ms -= 5;
		}
	}
	return (ssize_t)got;
}

static int
fiber_send(int fd, const char *s)
{
	int tries;

	for (tries = 0; tries < 200; tries++) {
		if (send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s))
			return 0;
		weft_sleep(5);
	}
	return -1;
}

WT_CASE(max_connections_pause)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	int fds[8], i, port, held;
	char buf[8];

	memset(&opts, 0, sizeof(opts));
	opts.max_connections = 8; /* 7/8 of it: accepting pauses at 7 */
	assert_int_equal(weft_start_server(echo, NULL, "127.0.0.1", 0, &opts,
			     &srv),
	    0);
	port = weft_server_port(srv);
	for (i = 0; i < 7; i++) {
		fds[i] = tcp_connect_nb(port);
		assert_true(fds[i] >= 0);
		assert_int_equal(fiber_send(fds[i], "a"), 0);
		assert_int_equal(fiber_recv(fds[i], buf, 1, 2000), 1);
	}
	assert_int_equal(weft_server_connections(srv), 7);
	/* The 8th waits in the queue: not accepted, not refused. */
	held = tcp_connect_nb(port);
	assert_true(held >= 0);
	assert_int_equal(fiber_send(held, "b"), 0);
	assert_int_equal(fiber_recv(held, buf, 1, 300), 0);
	assert_int_equal(weft_server_connections(srv), 7);
	/* One leaves: the held one is taken and served. */
	close(fds[0]);
	assert_int_equal(fiber_recv(held, buf, 1, 3000), 1);
	assert_int_equal(buf[0], 'b');
	close(held);
	for (i = 1; i < 7; i++)
		close(fds[i]);
	weft_server_close(srv);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

/* An accept gate: asked before each accept, told of each close. */
static struct {
	int hold, asked, closed;
} G;

static int
gate(weft_server_t *srv, int accepting, void *arg)
{
	(void)srv;
	assert_ptr_equal(arg, &G);
	if (!accepting) {
		G.closed++;
		return 0;
	}
	G.asked++;
	return G.hold;
}

WT_CASE(accept_gate)
{
	weft_server_t *srv = NULL;
	int fd, i;
	char buf[8];

	assert_int_equal(weft_start_server(echo, NULL, "127.0.0.1", 0, NULL,
			     &srv),
	    0);
	assert_int_equal(weft_server_set_accept_gate(srv, gate, &G), 0);
	G.hold = 1;
	fd = tcp_connect_nb(weft_server_port(srv));
	assert_true(fd >= 0);
	assert_int_equal(fiber_send(fd, "g"), 0);
	for (i = 0; i < 400 && G.asked == 0; i++)
		weft_sleep(5);
	/* Held: asked once, the listener no longer polled, nothing served. */
	assert_int_equal(G.asked, 1);
	assert_int_equal(fiber_recv(fd, buf, 1, 100), 0);
	assert_int_equal(G.asked, 1);
	assert_int_equal(weft_server_connections(srv), 0);
	G.hold = 0;
	weft_server_accept_resume(srv);
	assert_int_equal(fiber_recv(fd, buf, 1, 3000), 1);
	assert_int_equal(buf[0], 'g');
	assert_true(G.asked >= 2); /* and before the next try */
	assert_int_equal(G.closed, 0);
	close(fd);
	for (i = 0; i < 400 && G.closed == 0; i++)
		weft_sleep(5);
	assert_int_equal(G.closed, 1);
	weft_server_close(srv);
	weft_server_accept_resume(srv); /* closed: nothing to do */
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

WT_CASE(max_connections_full)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	int fds[4], i, port, extra;
	char buf[8];

	memset(&opts, 0, sizeof(opts));
	opts.max_connections = 4; /* 7/8 of 4 rounds to 4: full == high */
	assert_int_equal(weft_start_server(echo, NULL, "127.0.0.1", 0, &opts,
			     &srv),
	    0);
	port = weft_server_port(srv);
	for (i = 0; i < 4; i++) {
		fds[i] = tcp_connect_nb(port);
		assert_int_equal(fiber_send(fds[i], "a"), 0);
		assert_int_equal(fiber_recv(fds[i], buf, 1, 2000), 1);
	}
	/* Past max_connections: closed at once (EOF or reset). */
	extra = tcp_connect_nb(port);
	fiber_send(extra, "z");
	assert_true(fiber_recv(extra, buf, 1, 3000) <= 0);
	assert_int_equal(weft_server_connections(srv), 4);
	close(extra);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	weft_server_close(srv);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

WT_CASE(accept_batch)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	int fds[100], i, port;
	char buf[8];

	memset(&opts, 0, sizeof(opts));
	opts.accept_batch = 1;
	assert_int_equal(weft_start_server(echo, NULL, "127.0.0.1", 0, &opts,
			     &srv),
	    0);
	port = weft_server_port(srv);
	/* A burst larger than the batch: every connection is still taken,
	 * a few per loop wakeup. */
	for (i = 0; i < 100; i++)
		fds[i] = tcp_connect_nb(port);
	for (i = 0; i < 100; i++) {
		assert_int_equal(fiber_send(fds[i], "q"), 0);
		assert_int_equal(fiber_recv(fds[i], buf, 1, 3000), 1);
		close(fds[i]);
	}
	weft_server_close(srv);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

/* ---- Out of file descriptors (server in a child process) -------------- */

static int emfile_port_pipe[2];
static int emfile_stop_pipe[2];

static int
emfile_server_main(void *arg)
{
	weft_server_t *srv = NULL;
	weft_server_stats_t st;
	unsigned long pauses;
	int port, i;

	(void)arg;
	if (weft_start_server(echo, NULL, "127.0.0.1", 0, NULL, &srv) != 0)
		return 1;
	port = weft_server_port(srv);
	(void)!write(emfile_port_pipe[1], &port, sizeof(port));
	/* Serve until the test says stop (or 30 s), then report how often
	 * accepting paused. */
	fcntl(emfile_stop_pipe[0], F_SETFL, O_NONBLOCK);
	for (i = 0; i < 600; i++) {
		char b;

		if (read(emfile_stop_pipe[0], &b, 1) == 1)
			break;
		weft_sleep(50);
	}
	memset(&st, 0, sizeof(st));
	(void)weft_server_stats(srv, &st, sizeof(st));
	pauses = (unsigned long)st.emfile_pauses;
	(void)!write(emfile_port_pipe[1], &pauses, sizeof(pauses));
	weft_server_close(srv);
	weft_server_abort_clients(srv);
	weft_server_wait_closed(srv);
	weft_server_free(&srv);
	return 0;
}

WT_TEST(emfile_pause_and_recover)
{
	struct rlimit rl = { 24, 24 };
	struct rusage ru;
	unsigned long pauses = 0;
	int fds[40], i, port = 0, status, n = 0, fd;
	char buf[4];
	pid_t pid;

	assert_int_equal(pipe(emfile_port_pipe), 0);
	assert_int_equal(pipe(emfile_stop_pipe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		weft__sched_forget();
		setrlimit(RLIMIT_NOFILE, &rl);
		_exit(weft_run(emfile_server_main, NULL));
	}
	assert_int_equal(read(emfile_port_pipe[0], &port, sizeof(port)),
	    sizeof(port));
	/* More clients than the server has fds: some must wait. */
	for (i = 0; i < 40; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET,
			.sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sin,
				     sizeof(sin)),
		    0);
	}
	usleep(500 * 1000);
	/* Every client goes away: the server's fds free up. */
	for (i = 0; i < 40; i++)
		close(fds[i]);
	n = 10;
	/* And a brand-new client too. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in sin = { .sin_family = AF_INET,
			.sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct timeval tv = { 5, 0 };
		assert_int_equal(connect(fd, (struct sockaddr *)&sin,
				     sizeof(sin)),
		    0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		/* A client that arrives once fds are free is served, after
		 * at most one backoff (1.6 s): recovery. */
		assert_int_equal(send(fd, "n", 1, MSG_NOSIGNAL), 1);
		assert_int_equal(recv(fd, buf, 1, 0), 1);
		assert_int_equal(buf[0], 'n');
	}
	assert_int_equal(n, 10);
	assert_int_equal(write(emfile_stop_pipe[1], "x", 1), 1);
	assert_int_equal(read(emfile_port_pipe[0], &pauses, sizeof(pauses)),
	    sizeof(pauses));
	assert_true(pauses >= 1);
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	/* No spin: the server used far less CPU than its 5 s of life. */
	getrusage(RUSAGE_CHILDREN, &ru);
	assert_true(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec < 2);
}

/*
 * In fiber mode an accepted connection lives on its handler's stack
 * (weft__carve), not on the heap; with shared stacks it cannot, and goes
 * on the heap.  Either way it serves, and everything is released: the
 * handler returns before the client closes (the connection outlives the
 * fiber) or after (the fiber outlives nothing).
 */
static int carved_seen[2];

static void
echo_note_carved(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	carved_seen[weft__conn_of_reader(r)->c_carved]++;
	if (arg != NULL) { /* answer once and return at once */
		char c;

		if (weft_read(r, &c, 1) == 1)
			weft_write(w, &c, 1);
		return;
	}
	echo(r, w, NULL);
}

static void
carved_round(int shared, int early_return)
{
	weft_server_t *srv = NULL;
	int fds[20], i, port, old;
	char buf[1];

	old = weft_fiber_stacks_shared(shared);
	assert_int_equal(weft_start_server(echo_note_carved,
			     early_return ? (void *)1 : NULL, "127.0.0.1", 0,
			     NULL, &srv),
	    0);
	port = weft_server_port(srv);
	for (i = 0; i < 20; i++) {
		fds[i] = tcp_connect_nb(port);
		assert_true(fds[i] >= 0);
		assert_int_equal(fiber_send(fds[i], "x"), 0);
		assert_int_equal(fiber_recv(fds[i], buf, 1, 3000), 1);
		assert_int_equal(buf[0], 'x');
	}
	for (i = 0; i < 20; i++)
		close(fds[i]);
	weft_server_close(srv);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	assert_int_equal(weft_server_connections(srv), 0);
	weft_server_free(&srv);
	weft_fiber_stacks_shared(old);
}

static void
body_conn_carved(void *arg)
{
	(void)arg;
	memset(carved_seen, 0, sizeof(carved_seen));
	carved_round(0, 0);
	carved_round(0, 1);
	assert_int_equal(carved_seen[1], 40);
	assert_int_equal(carved_seen[0], 0);
	if (weft_fiber_stacks_shared(0) == -ENOTSUP)
		return; /* no shared stacks in this build */
	carved_round(1, 0);
	assert_int_equal(carved_seen[0], 20);
}

WT_TEST(conn_carved)
{
	wt_run(body_conn_carved, NULL);
	assert_int_equal(weft_fiber_count(), 0);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	WT_TIMEOUT(120);
	return wt_run_cases(argc, argv);
}
