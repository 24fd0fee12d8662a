/*
 * weft_open_connection_fd over descriptors that are not sockets: pipes,
 * FIFOs and a pty (asyncio's connect_read_pipe and connect_write_pipe),
 * and the files epoll cannot watch, which it refuses.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* posix_openpt, ptsname, cfmakeraw */
#endif
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>

#include "harness.h"

#define PIPE_BIG (1024 * 1024) /* well above a 64 KiB pipe buffer */

static char tmpdir[64];
static char *big; /* the pattern PIPE_BIG bytes long, never on a stack */

static void
fill_big(void)
{
	size_t i;

	if (big != NULL)
		return;
	assert_non_null(big = malloc(PIPE_BIG));
	for (i = 0; i < PIPE_BIG; i++)
		big[i] = (char)('a' + (i * 7 + i / 4096) % 26);
}

/* Open fd as a connection, asserting success. */
static void
open_fd(int fd, weft_reader_t **r, weft_writer_t **w)
{
	*r = NULL;
	*w = NULL;
	assert_int_equal(weft_open_connection_fd(fd, NULL, r, w), 0);
	assert_non_null(*r);
	assert_non_null(*w);
}

static void
done(weft_writer_t *w)
{
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_wait_closed(w), 0);
	weft_stream_free(w);
}

/* 1 when fd is closed (weft took it and let it go). */
static int
fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* What a connection with no addresses answers. */
static void
assert_no_addresses(weft_writer_t *w, const char *family)
{
	char buf[64], num[16];

	assert_int_equal(weft_peername(w, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(weft_sockname(w, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(weft_extra_info(w, "peername", buf, sizeof(buf)),
	    -ENOENT);
	assert_int_equal(weft_extra_info(w, "sockname", buf, sizeof(buf)),
	    -ENOENT);
	assert_int_equal(weft_extra_info(w, "family", buf, sizeof(buf)),
	    (int)strlen(family));
	assert_string_equal(buf, family);
	snprintf(num, sizeof(num), "%d", weft_fileno(w));
	assert_true(weft_extra_info(w, "fileno", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, num);
	assert_int_equal(weft_extra_info(w, "no-such-key", buf, sizeof(buf)),
	    -ENOENT);
}

/* ---- CPython's test_read_all_from_pipe_reader --------------------------- */

/* A child writes more than the pipe holds and exits; the reader reads
 * it all, then EOF. */
WT_CASE(read_all_from_pipe_reader)
{
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	size_t off;
	ssize_t n;
	pid_t pid;
	int p[2], st;

	fill_big();
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		for (off = 0; off < PIPE_BIG; off += (size_t)n)
			if ((n = write(p[1], big + off, PIPE_BIG - off)) <= 0)
				_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	close(p[1]);
	open_fd(p[0], &r, &w);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_int_equal(all.len, PIPE_BIG);
	assert_memory_equal(all.base, big, PIPE_BIG);
	assert_int_equal(weft_at_eof(r), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* A read end: nothing to write to, nothing to half-close. */
	assert_int_equal(weft_can_write_eof(w), 0);
	assert_int_equal(weft_write_eof(w), -ENOTSUP);
	assert_int_equal(weft_write(w, "x", 1), -EBADF);
	assert_no_addresses(w, "pipe");
	done(w);
	assert_true(fd_closed(p[0]));
}

/* ---- A writer on one end, a reader on the other ------------------------- */

struct feed {
	weft_writer_t *w;
	int rc;
};

/* Write the pattern in chunks with drains, then EOF. */
static void
feed_big(void *arg)
{
	struct feed *f = arg;
	size_t off, n;
	int rc = 0;

	for (off = 0; off < PIPE_BIG && rc == 0; off += n) {
		n = PIPE_BIG - off < 50000 ? PIPE_BIG - off : 50000;
		if ((rc = weft_write(f->w, big + off, n)) == 0)
			rc = weft_drain(f->w);
	}
	if (rc == 0)
		rc = weft_write_eof(f->w);
	f->rc = rc;
}

WT_CASE(pipe_writer_to_reader)
{
	weft_reader_t *r0, *r1;
	weft_writer_t *w0, *w1;
	weft_fiber_t *fib = NULL;
	struct feed f = { NULL, 1 };
	weft_slice_t all;
	char c;
	int p[2];

	fill_big();
	assert_int_equal(pipe(p), 0);
	open_fd(p[0], &r0, &w0);
	open_fd(p[1], &r1, &w1);
	/* The write end: EOF is closing it; its reader is at EOF at once. */
	assert_int_equal(weft_can_write_eof(w1), 1);
	assert_int_equal(weft_read(r1, &c, 1), 0);
	assert_int_equal(weft_at_eof(r1), 1);
	assert_no_addresses(w1, "pipe");

	f.w = w1;
	assert_int_equal(weft_spawn(feed_big, &f, &fib), 0);
	assert_int_equal(weft_read_all(r0, 0, &all), 0);
	assert_int_equal(all.len, PIPE_BIG);
	assert_memory_equal(all.base, big, PIPE_BIG);
	assert_int_equal(weft_join(fib), 0);
	assert_int_equal(f.rc, 0);
	/* write_eof closed the write end, cleanly. */
	assert_int_equal(weft_write(w1, "x", 1), -EPIPE);
	assert_int_equal(weft_wait_closed(w1), 0);
	assert_true(fd_closed(p[1]));
	done(w1);
	done(w0);
	assert_true(fd_closed(p[0]));
}

/* ---- readline and readexactly ------------------------------------------- */

WT_CASE(pipe_readline_readexactly)
{
	static const char text[] = "line one\nline two\nABCDEFGH";
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	char buf[16];
	size_t got;
	int p[2];

	assert_int_equal(pipe(p), 0);
	open_fd(p[0], &r, &w);
	assert_int_equal(write(p[1], text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(p[1]);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "line one\n");
	assert_int_equal(weft_readexactly(r, buf, 4, &got), 0);
	assert_memory_equal(buf, "line", 4);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, " two\n");
	assert_int_equal(weft_readexactly(r, buf, 8, &got), 0);
	assert_memory_equal(buf, "ABCDEFGH", 8);
	assert_int_equal(weft_readexactly(r, buf, 1, &got), WEFT_EINCOMPLETE);
	assert_int_equal(got, 0);
	assert_int_equal(weft_at_eof(r), 1);
	done(w);
}

/* ---- A FIFO ------------------------------------------------------------- */

WT_CASE(fifo)
{
	weft_reader_t *r0, *r1;
	weft_writer_t *w0, *w1;
	weft_slice_t line;
	char path[128], c;
	int fd0, fd1;

	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* The read end first, without waiting for a writer. */
	assert_true((fd0 = open(path, O_RDONLY | O_NONBLOCK)) >= 0);
	assert_true((fd1 = open(path, O_WRONLY)) >= 0);
	assert_int_equal(unlink(path), 0);
	open_fd(fd0, &r0, &w0);
	open_fd(fd1, &r1, &w1);
	assert_no_addresses(w0, "pipe");
	assert_no_addresses(w1, "pipe");
	assert_int_equal(weft_can_write_eof(w0), 0);
	assert_int_equal(weft_can_write_eof(w1), 1);

	assert_int_equal(weft_write(w1, "through\nthe fifo", 16), 0);
	assert_int_equal(weft_drain(w1), 0);
	assert_int_equal(weft_write_eof(w1), 0);
	assert_int_equal(weft_readline(r0, &line), 0);
	assert_slice_equal(line, "through\n");
	assert_int_equal(weft_readline(r0, &line), 0);
	assert_slice_equal(line, "the fifo");
	assert_int_equal(weft_read(r0, &c, 1), 0);
	assert_int_equal(weft_at_eof(r0), 1);
	done(w1);
	done(w0);
	assert_true(fd_closed(fd0));
	assert_true(fd_closed(fd1));
}

/* ---- A pty -------------------------------------------------------------- */

/* A pty pair in raw mode (no echo, no newline translation); 0 if this
 * machine has no ptys to give. */
static int
open_pty(int *master, int *slave)
{
	struct termios t;
	const char *name;

	if ((*master = posix_openpt(O_RDWR | O_NOCTTY)) < 0)
		return 0;
	if (grantpt(*master) != 0 || unlockpt(*master) != 0 ||
	    (name = ptsname(*master)) == NULL ||
	    (*slave = open(name, O_RDWR | O_NOCTTY)) < 0) {
		close(*master);
		return 0;
	}
	assert_int_equal(tcgetattr(*slave, &t), 0);
	cfmakeraw(&t);
	assert_int_equal(tcsetattr(*slave, TCSANOW, &t), 0);
	return 1;
}

WT_CASE(pty_master)
{
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	char buf[16], c;
	int m, s;

	if (!open_pty(&m, &s))
		skip();
	open_fd(m, &r, &w);
	assert_no_addresses(w, "chr");
	/* Both ways over one fd: closing it is no half-close. */
	assert_int_equal(weft_can_write_eof(w), 0);
	assert_int_equal(weft_write_eof(w), -ENOTSUP);

	assert_int_equal(weft_write(w, "ping", 4), 0);
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(read(s, buf, 4), 4); /* the slave blocks */
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(write(s, "pong\n", 5), 5);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "pong\n");
	/* The slave's last close: Linux says EIO, which is the pty's EOF. */
	close(s);
	assert_int_equal(weft_read(r, &c, 1), 0);
	assert_int_equal(weft_at_eof(r), 1);
	assert_int_equal(weft_reader_exception(r), 0);
	done(w);
	assert_true(fd_closed(m));
}

/* ---- What epoll cannot watch -------------------------------------------- */

static void
assert_refused(int fd)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;

	assert_int_equal(weft_open_connection_fd(fd, NULL, &r, &w), -EPERM);
	assert_null(r);
	assert_null(w);
	/* weft owns fd from the call on, failure included. */
	assert_true(fd_closed(fd));
}

WT_CASE(refused_fds)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/file-XXXXXX", tmpdir);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, "data", 4), 4);
	assert_refused(fd);

	assert_true((fd = open("/dev/null", O_RDWR)) >= 0);
	assert_refused(fd);

	assert_true((fd = open(tmpdir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_refused(fd);

	/* Not a descriptor at all: unchanged. */
	assert_int_equal(weft_open_connection_fd(fd, NULL, NULL, NULL), -EBADF);
}

/* TLS needs a socket both ways: refused, and fd let go. */
WT_CASE(pipe_refuses_tls)
{
	weft_stream_opts_t opts;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	int p[2];

	assert_int_equal(pipe(p), 0);
	memset(&opts, 0, sizeof(opts));
	opts.ssl = (void *)1; /* never looked at */
	assert_int_equal(weft_open_connection_fd(p[0], &opts, &r, &w),
	    -ENOTSUP);
	assert_null(w);
	assert_true(fd_closed(p[0]));
	close(p[1]);
}

int
main(int argc, char **argv)
{
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-pipe-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	WT_TIMEOUT(60);
	rc = wt_run_cases(argc, argv);
	rmdir(tmpdir);
	return rc;
}
