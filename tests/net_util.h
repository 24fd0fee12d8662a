/*
 * Shared by the test programs of streams over real sockets
 * (tests/test_net*.c): what a server handler saw, the helpers and the
 * handlers.  One copy per program; the functions are static inline so
 * that a program may leave some unused.
 */
#ifndef NET_UTIL_H
#define NET_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "harness.h"

#define LOCALHOST "127.0.0.1"
#define BIG (16 * 1024 * 1024)

/* What a server handler saw; the test body asserts on it. */
struct hs {
	int started; /* handler entered */
	int done;    /* handler about to return */
	int go;	     /* set by the body to let the handler go on */
	int rc;	     /* last result the handler got */
	int nconn;   /* handlers run */
	weft_reader_t *r;
	weft_writer_t *w;
	void *arg;
	weft_fiber_t *fiber;
	size_t total;	/* bytes received */
	size_t bad;	/* bytes that did not match the pattern */
	char data[256]; /* what the handler read */
	size_t len;
	char peer[128];
	char sock[128];
};

static char tmpdir[64];
static char iobuf[WEFT__BUF_SIZE]; /* never on a 64 KiB fiber stack */

/* ---- Helpers ------------------------------------------------------------ */

/* Let other fibers run a few times: "one or two loop iterations". */
static inline void
settle(void)
{
	int i;

	for (i = 0; i < 3; i++)
		weft_yield();
}

/* Wait (bounded, about 10 s) until *flag is set; returns it. */
static inline int
wait_flag(const int *flag)
{
	int i;

	for (i = 0; i < 2000 && !*flag; i++)
		weft_sleep(5);
	return *flag;
}

static inline void
unix_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static inline int
start_tcp(weft_client_cb cb, void *arg, weft_server_t **srv)
{
	int rc;

	*srv = NULL;
	rc = weft_start_server(cb, arg, LOCALHOST, 0, NULL, srv);
	assert_int_equal(rc, 0);
	assert_true(weft_server_port(*srv) > 0);
	return weft_server_port(*srv);
}

static inline void
connect_tcp(int port, weft_reader_t **r, weft_writer_t **w)
{
	*r = NULL;
	*w = NULL;
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, r, w), 0);
	assert_non_null(*r);
	assert_non_null(*w);
}

/* Close a client connection, wait for it and release it. */
static inline void
client_done(weft_writer_t *w)
{
	assert_int_equal(weft_close(w), 0);
	weft_wait_closed(w);
	weft_stream_free(w);
}

/* Close a server, wait for its connections to end and free it. */
static inline void
server_done(weft_server_t **srv)
{
	assert_int_equal(weft_server_close(*srv), 0);
	assert_int_equal(weft_server_wait_closed(*srv), 0);
	weft_server_free(srv);
	assert_null(*srv);
}

static inline void
record_names(struct hs *s, weft_writer_t *w)
{
	if (weft_peername(w, s->peer, sizeof(s->peer)) < 0)
		strcpy(s->peer, "?");
	if (weft_sockname(w, s->sock, sizeof(s->sock)) < 0)
		strcpy(s->sock, "?");
}

/* A fiber running one waiting call, so the body can see it pending. */
struct waiter {
	weft_writer_t *w;
	weft_server_t *srv;
	int rc;
	int done;
};

static inline void
wait_closed_fiber(void *arg)
{
	struct waiter *wt = arg;

	wt->rc = weft_wait_closed(wt->w);
	wt->done = 1;
}

static inline void
drain_fiber(void *arg)
{
	struct waiter *wt = arg;

	wt->rc = weft_drain(wt->w);
	wt->done = 1;
}

static inline void
serve_forever_fiber(void *arg)
{
	struct waiter *wt = arg;

	wt->rc = weft_server_serve_forever(wt->srv);
	wt->done = 1;
}

static inline void
server_wait_closed_fiber(void *arg)
{
	struct waiter *wt = arg;

	wt->rc = weft_server_wait_closed(wt->srv);
	wt->done = 1;
}

/* ---- Handlers ----------------------------------------------------------- */

/* Echo bytes until EOF or an error. */
static inline void
h_echo(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	ssize_t n;

	if (s != NULL) {
		s->started = 1;
		s->nconn++;
		record_names(s, w);
	}
	while ((n = weft_read(r, iobuf, sizeof(iobuf))) > 0) {
		if (weft_write(w, iobuf, (size_t)n) != 0 || weft_drain(w) != 0)
			break;
	}
	if (s != NULL) {
		s->rc = (int)n;
		s->done = 1;
	}
}

/* Echo one line, then return (which closes the connection). */
static inline void
h_echo_line(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t line;

	s->started = 1;
	s->rc = weft_readline(r, &line);
	if (s->rc == 0) {
		weft_write(w, line.base, line.len);
		s->rc = weft_drain(w);
	}
	s->done = 1;
}

/* The byte at offset i of a patterned payload. */
static inline unsigned char
pattern(size_t i)
{
	return (unsigned char)(i % 251);
}

/* Read nothing until told to, then count and check everything. */
static inline void
h_slow(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	ssize_t n, i;

	(void)w;
	s->started = 1;
	wait_flag(&s->go);
	while ((n = weft_read(r, iobuf, sizeof(iobuf))) > 0) {
		for (i = 0; i < n; i++)
			if ((unsigned char)iobuf[i] != pattern(s->total + i))
				s->bad++;
		s->total += (size_t)n;
	}
	s->rc = (int)n;
	s->done = 1;
}

static inline void
h_echo_lines(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct hs *s = arg;
	weft_slice_t line;

	s->started = 1;
	while ((s->rc = weft_readline(r, &line)) == 0 && line.len > 0) {
		weft_write(w, line.base, line.len);
		if ((s->rc = weft_drain(w)) != 0)
			break;
	}
	s->done = 1;
}

/* Echo one line over a fresh connection to a UNIX server. */
static inline void
unix_echo_once(const char *path)
{
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;

	assert_int_equal(weft_open_unix_connection(path, NULL, &r, &w), 0);
	assert_int_equal(weft_write(w, "u\n", 2), 0);
	assert_int_equal(weft_readline(r, &line), 0);
	assert_slice_equal(line, "u\n");
	client_done(w);
}

#endif /* NET_UTIL_H */
