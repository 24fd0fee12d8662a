/*
 * The transport seam (lib/transport.h): a server's prelude, the stored
 * peer and local addresses, the reason each connection ended, the
 * release hook of a connection's owner, and the fake transport driving
 * the writer through the same ops as a socket.
 *
 * As in test_net.c, each body runs on the first fiber of a fresh loop
 * (wt_run), handlers only record what they saw and the body asserts;
 * every test closes what it opened so the loop runs dry.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "harness.h"
#include "transport.h"

#define LOCALHOST "127.0.0.1"

/* What a prelude and a handler saw. */
struct ps {
	int preludes;  /* prelude runs */
	int handlers;  /* handler runs */
	int refuse;    /* the prelude returns -EPROTO */
	int done;      /* handler (or refused prelude) finished */
	int reason;    /* weft_close_reason after the handler's close */
	char line[64]; /* what the handler read */
	char peer[128];
	char sock[128];
	char peer_info[128];
	char family[16];
};

/* An owner that counts releases, as a server's release hook would. */
struct towner {
	weft__conn_owner_t o;
	int n;
	int reason;
};

/* ---- Helpers ------------------------------------------------------------ */

static uint64_t
server_accepted(const weft_server_t *srv)
{
	weft_server_stats_t st;

	assert_int_equal(weft_server_stats(srv, &st, sizeof(st)), sizeof(st));
	return st.accepted;
}

/* Wait (bounded, about 10 s) until *flag is set; returns it. */
static int
wait_flag(const int *flag)
{
	int i;

	for (i = 0; i < 2000 && !*flag; i++)
		weft_sleep(5);
	return *flag;
}

static void
town_release(weft__conn_owner_t *o, weft__conn_t *c, int reason)
{
	struct towner *t = WEFT__CONTAINER_OF(o, struct towner, o);

	(void)c;
	t->n++;
	t->reason = reason;
}

static void
town_init(struct towner *t)
{
	memset(t, 0, sizeof(*t));
	t->o.o_release = town_release;
}

static void
town_add(struct towner *t, weft_writer_t *w)
{
	assert_int_equal(weft__conn_set_owner(weft__conn_of_writer(w), &t->o),
	    0);
}

/* Release w and wait until its owner heard of it, once. */
static void
town_wait(struct towner *t, weft_writer_t *w, int reason)
{
	int n = t->n, i;

	weft_stream_free(w);
	for (i = 0; i < 2000 && t->n == n; i++)
		weft_sleep(5);
	assert_int_equal(t->n, n + 1);
	assert_int_equal(t->reason, reason);
	assert_int_equal(t->o.o_n, 0);
}

/* A socketpair whose one end is a weft connection; *peer the other. */
static void
pair_conn(ssize_t limit, weft_reader_t **r, weft_writer_t **w, int *peer)
{
	weft_stream_opts_t opts;
	int sv[2];

	memset(&opts, 0, sizeof(opts));
	opts.limit = limit;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(weft_open_connection_fd(sv[0], &opts, r, w), 0);
	*peer = sv[1];
}

static void
sin_make(struct sockaddr_in *sin, const char *ip, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

/* ---- Prelude ------------------------------------------------------------ */

/*
 * A prelude in the shape of a PROXY header: "FROM <ipv4> <port>\n" sets
 * the peer, and the local address becomes [::1]:8443.
 */
static int
from_prelude(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct ps *s = arg;
	struct sockaddr_in6 local;
	struct sockaddr_in peer;
	char line[64], ip[32];
	ssize_t n;
	int port;

	s->preludes++;
	if ((n = weft_readline_copy(r, line, sizeof(line) - 1)) <= 0)
		return -EPROTO;
	line[n] = '\0';
	if (s->refuse || sscanf(line, "FROM %31s %d", ip, &port) != 2) {
		s->done = 1;
		return -EPROTO;
	}
	sin_make(&peer, ip, port);
	memset(&local, 0, sizeof(local));
	local.sin6_family = AF_INET6;
	local.sin6_addr = in6addr_loopback;
	local.sin6_port = htons(8443);
	return weft_conn_set_addrs(w, (struct sockaddr *)&peer,
	    (struct sockaddr *)&local);
}

static void
record_handler(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct ps *s = arg;
	ssize_t n;

	s->handlers++;
	n = weft_readline_copy(r, s->line, sizeof(s->line) - 1);
	if (n >= 0)
		s->line[n] = '\0';
	if (weft_peername(w, s->peer, sizeof(s->peer)) < 0)
		strcpy(s->peer, "?");
	if (weft_sockname(w, s->sock, sizeof(s->sock)) < 0)
		strcpy(s->sock, "?");
	if (weft_extra_info(w, "peername", s->peer_info, sizeof(s->peer_info)) <
	    0)
		strcpy(s->peer_info, "?");
	if (weft_extra_info(w, "family", s->family, sizeof(s->family)) < 0)
		strcpy(s->family, "?");
	weft_write(w, "ok\n", 3);
	/* Read to the client's EOF, so the close reason is EOF. */
	while (weft_read(r, s->line + 32, 16) > 0)
		;
	weft_close(w);
	s->reason = weft_close_reason(w);
	s->done = 1;
}

WT_CASE(prelude_sets_peer)
{
	weft_server_t *srv = NULL;
	weft_reader_t *r;
	weft_writer_t *w;
	static struct ps s; /* off the stack, which shared mode moves */
	char buf[16];
	ssize_t n;
	int port;

	memset(&s, 0, sizeof(s));
	assert_int_equal(weft_start_server(record_handler, &s, LOCALHOST, 0,
			     NULL, &srv),
	    0);
	assert_int_equal(weft_server_set_prelude(srv, from_prelude, &s), 0);
	port = weft_server_port(srv);
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r, &w),
	    0);
	assert_int_equal(weft_write(w, "FROM 10.1.2.3 4567\nhello\n", 25), 0);
	n = weft_readline_copy(r, buf, sizeof(buf));
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "ok\n", 3);
	assert_int_equal(weft_write_eof(w), 0);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.preludes, 1);
	assert_int_equal(s.handlers, 1);
	/* The handler saw the bytes after the prelude's line, and the
	 * prelude's addresses. */
	assert_string_equal(s.line, "hello\n");
	assert_string_equal(s.peer, "10.1.2.3:4567");
	assert_string_equal(s.peer_info, "10.1.2.3:4567");
	assert_string_equal(s.sock, "[::1]:8443");
	assert_string_equal(s.family, "AF_INET6");
	assert_int_equal(s.reason, WEFT_CLOSE_EOF);
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

WT_CASE(prelude_refuses)
{
	weft_server_t *srv = NULL;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	static struct ps s; /* off the stack, which shared mode moves */
	int port;

	memset(&s, 0, sizeof(s));
	s.refuse = 1;
	assert_int_equal(weft_start_server(record_handler, &s, LOCALHOST, 0,
			     NULL, &srv),
	    0);
	assert_int_equal(weft_server_set_prelude(srv, from_prelude, &s), 0);
	port = weft_server_port(srv);
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r, &w),
	    0);
	/* Only the header: unread bytes would make the close a reset. */
	assert_int_equal(weft_write(w, "FROM 10.1.2.3 4567\n", 19), 0);
	/* The server closes without a word: EOF, nothing read. */
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	assert_int_equal(all.len, 0);
	assert_int_equal(s.preludes, 1);
	assert_int_equal(s.handlers, 0);
	assert_int_equal(server_accepted(srv), 1);
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	assert_int_equal(weft_server_connections(srv), 0);
	weft_server_free(&srv);
}

/*
 * weft_server_stats fills as much of the struct as the caller says it
 * knows (a program built against an older, shorter list), and no more.
 */
WT_CASE(server_stats)
{
	static struct ps s;
	weft_server_t *srv = NULL;
	weft_server_stats_t st;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t all;
	uint64_t big[sizeof(st) / sizeof(uint64_t) + 2];
	int port, i;

	memset(&s, 0, sizeof(s));
	s.refuse = 1;
	assert_int_equal(weft_start_server(record_handler, &s, LOCALHOST, 0,
			     NULL, &srv),
	    0);
	assert_int_equal(weft_server_set_prelude(srv, from_prelude, &s), 0);
	port = weft_server_port(srv);
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, &r, &w),
	    0);
	assert_int_equal(weft_write(w, "FROM 10.1.2.3 4567\n", 19), 0);
	assert_int_equal(weft_read_all(r, 0, &all), 0);
	for (i = 0; i < 400 && weft_server_connections(srv) > 0; i++)
		weft_sleep(5);
	/* Only the first counter asked for: the rest is left alone. */
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(weft_server_stats(srv, &st, sizeof(uint64_t)),
	    sizeof(uint64_t));
	assert_int_equal(st.accepted, 1);
	assert_true(st.active == UINT64_MAX);
	assert_true(st.emfile_pauses == UINT64_MAX);
	/* All of them. */
	assert_int_equal(weft_server_stats(srv, &st, sizeof(st)), sizeof(st));
	assert_int_equal(st.accepted, 1);
	assert_int_equal(st.active, 0);
	assert_int_equal(st.emfile_pauses, 0);
	/* A caller with a longer struct gets what this library has. */
	memset(big, 0xee, sizeof(big));
	assert_int_equal(weft_server_stats(srv, (weft_server_stats_t *)big,
			     sizeof(big)),
	    sizeof(st));
	assert_int_equal(((unsigned char *)big)[sizeof(st)], 0xee);
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

/* The one address formatter, as weft_peername and weftd's log use it. */
WT_TEST(sockaddr_format)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	struct sockaddr sa;
	char buf[64];

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons(8080);
	inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
	assert_int_equal(weft_sockaddr_format((struct sockaddr *)&in,
			     sizeof(in), buf, sizeof(buf)),
	    13);
	assert_string_equal(buf, "10.1.2.3:8080");
	assert_int_equal(weft_sockaddr_format((struct sockaddr *)&in,
			     sizeof(in), buf, 13),
	    -ENOBUFS);
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(443);
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	assert_int_equal(weft_sockaddr_format((struct sockaddr *)&in6,
			     sizeof(in6), buf, sizeof(buf)),
	    9);
	assert_string_equal(buf, "[::1]:443");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, "/run/x.sock");
	assert_int_equal(weft_sockaddr_format((struct sockaddr *)&un,
			     sizeof(un), buf, sizeof(buf)),
	    11);
	assert_string_equal(buf, "/run/x.sock");
	/* Unnamed: only the family. */
	assert_int_equal(weft_sockaddr_format((struct sockaddr *)&un,
			     sizeof(sa_family_t), buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "");
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_APPLETALK;
	assert_int_equal(weft_sockaddr_format(&sa, sizeof(sa), buf,
			     sizeof(buf)),
	    -EAFNOSUPPORT);
}

static void
noop_handler(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	(void)r;
	(void)w;
	(void)arg;
}

WT_CASE(prelude_callback_mode)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;

	memset(&opts, 0, sizeof(opts));
	opts.callback_mode = 1;
	assert_int_equal(weft_start_server(noop_handler, NULL, LOCALHOST, 0,
			     &opts, &srv),
	    0);
	assert_int_equal(weft_server_set_prelude(srv, from_prelude, NULL),
	    -EINVAL);
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	weft_server_free(&srv);
}

/* ---- Stored addresses --------------------------------------------------- */

WT_CASE(addrs_stored)
{
	struct sockaddr_in sin;
	weft_reader_t *r;
	weft_writer_t *w;
	weft__conn_t *c;
	char buf[64];
	int peer;

	pair_conn(0, &r, &w, &peer);
	c = weft__conn_of_writer(w);
	/* Nothing asked yet: nothing stored. */
	assert_null(c->c_addrs);
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), 0);
	assert_non_null(c->c_addrs);
	/* Once set, the stored address is what every query reports. */
	sin_make(&sin, "192.0.2.7", 80);
	assert_int_equal(weft_conn_set_addrs(w, (struct sockaddr *)&sin, NULL),
	    0);
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "192.0.2.7:80");
	assert_int_equal(weft_sockname(w, buf, sizeof(buf)), 0);
	assert_int_equal(weft_extra_info(w, "family", buf, sizeof(buf)), 7);
	assert_string_equal(buf, "AF_UNIX");
	sin.sin_family = AF_UNSPEC;
	assert_int_equal(weft_conn_set_addrs(w, (struct sockaddr *)&sin, NULL),
	    -EAFNOSUPPORT);
	/* Closed: the stored address is no longer reported. */
	weft_close(w);
	weft_wait_closed(w);
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), WEFT_ECLOSED);
	weft_stream_free(w);
	close(peer);
}

/* ---- Close reasons and the release hook --------------------------------- */

WT_CASE(reason_eof)
{
	static struct towner t;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[8];
	int peer;

	town_init(&t);
	pair_conn(0, &r, &w, &peer);
	town_add(&t, w);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_NONE);
	assert_int_equal(write(peer, "x", 1), 1);
	assert_int_equal(shutdown(peer, SHUT_WR), 0);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 1);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	weft_close(w);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_EOF);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(t.n, 0); /* not released before its owner is done */
	town_wait(&t, w, WEFT_CLOSE_EOF);
	close(peer);
	weft__owner_fini(&t.o);
}

WT_CASE(reason_local)
{
	static struct towner t;
	weft_reader_t *r;
	weft_writer_t *w;
	int peer;

	town_init(&t);
	pair_conn(0, &r, &w, &peer);
	town_add(&t, w);
	weft_close(w);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_LOCAL);
	/* A later abort does not overwrite the first cause. */
	weft_abort(w);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_LOCAL);
	town_wait(&t, w, WEFT_CLOSE_LOCAL);
	close(peer);
	weft__owner_fini(&t.o);
}

WT_CASE(reason_reset)
{
	struct sockaddr_in sin;
	struct linger lg = { 1, 0 };
	socklen_t len = sizeof(sin);
	static struct towner t;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[8];
	int lfd, fd;

	town_init(&t);
	sin_make(&sin, LOCALHOST, 0);
	assert_true((lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(weft_open_connection(LOCALHOST, ntohs(sin.sin_port),
			     NULL, &r, &w),
	    0);
	town_add(&t, w);
	/* The kernel completed the handshake: accept does not block. */
	assert_true((fd = accept(lfd, NULL, NULL)) >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
	    0);
	close(fd); /* RST */
	assert_int_equal(weft_read(r, buf, sizeof(buf)), -ECONNRESET);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_RESET);
	town_wait(&t, w, WEFT_CLOSE_RESET);
	close(lfd);
	weft__owner_fini(&t.o);
}

WT_CASE(reason_timeout)
{
	static struct towner t;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[8];
	int peer;

	town_init(&t);
	pair_conn(0, &r, &w, &peer);
	town_add(&t, w);
	assert_int_equal(weft_deadline_set(20), 0);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), WEFT_ETIMEDOUT);
	weft_deadline_clear();
	/* Still open: a timeout is a reason only once it ends the
	 * connection, as a handler's weft_abort does. */
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_NONE);
	weft_abort(w);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_TIMEOUT);
	town_wait(&t, w, WEFT_CLOSE_TIMEOUT);
	close(peer);
	weft__owner_fini(&t.o);
}

/* A timeout the handler uses as a tick, reading on after it, is not why
 * the connection ends. */
WT_CASE(reason_timeout_tick)
{
	static struct towner t;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[8];
	int peer;

	town_init(&t);
	pair_conn(0, &r, &w, &peer);
	town_add(&t, w);
	assert_int_equal(weft_deadline_set(20), 0);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), WEFT_ETIMEDOUT);
	weft_deadline_clear();
	assert_int_equal(write(peer, "x", 1), 1);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 1);
	/* The last wait had bytes: an abort now is an abort. */
	weft_abort(w);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_ABORT);
	town_wait(&t, w, WEFT_CLOSE_ABORT);
	close(peer);
	weft__owner_fini(&t.o);
}

WT_CASE(reason_abort)
{
	static struct towner t;
	weft_reader_t *r;
	weft_writer_t *w;
	int peer;

	town_init(&t);
	pair_conn(0, &r, &w, &peer);
	town_add(&t, w);
	weft_abort(w);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_ABORT);
	assert_int_equal(weft_wait_closed(w), -ECONNABORTED);
	town_wait(&t, w, WEFT_CLOSE_ABORT);
	close(peer);

	/* weft_stream_free of an open connection aborts it too. */
	pair_conn(0, &r, &w, &peer);
	town_add(&t, w);
	town_wait(&t, w, WEFT_CLOSE_ABORT);
	assert_int_equal(t.n, 2);
	close(peer);
	weft__owner_fini(&t.o);
}

WT_CASE(reason_limit)
{
	static struct towner t;
	weft_reader_t *r;
	weft_writer_t *w;
	weft_slice_t line;
	int peer;

	town_init(&t);
	pair_conn(8, &r, &w, &peer);
	town_add(&t, w);
	assert_int_equal(write(peer, "0123456789abcdef\n", 17), 17);
	assert_int_equal(weft_readline(r, &line), WEFT_ELIMIT);
	weft_close(w);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_LIMIT);
	town_wait(&t, w, WEFT_CLOSE_LIMIT);
	close(peer);
	weft__owner_fini(&t.o);
}

/* A handler that waits for bytes that never come. */
static void
idle_handler(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct ps *s = arg;
	char buf[8];

	s->handlers++;
	(void)weft_read(r, buf, sizeof(buf));
	s->reason = weft_close_reason(w);
	s->done = 1;
}

WT_CASE(reason_shutdown)
{
	weft_server_t *srv = NULL;
	weft_reader_t *r;
	weft_writer_t *w;
	static struct ps s; /* off the stack, which shared mode moves */
	char buf[8];
	int i;

	memset(&s, 0, sizeof(s));
	assert_int_equal(weft_start_server(idle_handler, &s, LOCALHOST, 0, NULL,
			     &srv),
	    0);
	assert_int_equal(weft_open_connection(LOCALHOST, weft_server_port(srv),
			     NULL, &r, &w),
	    0);
	for (i = 0; i < 2000 && s.handlers == 0; i++)
		weft_sleep(5);
	assert_int_equal(s.handlers, 1);
	weft_server_abort_clients(srv);
	assert_true(wait_flag(&s.done));
	assert_int_equal(s.reason, WEFT_CLOSE_SHUTDOWN);
	assert_int_equal(weft_read(r, buf, sizeof(buf)), 0);
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	assert_int_equal(weft_server_close(srv), 0);
	assert_int_equal(weft_server_wait_closed(srv), 0);
	assert_int_equal(weft_server_connections(srv), 0);
	weft_server_free(&srv);
}

/* ---- The fake transport ------------------------------------------------- */

WT_TEST(fake_drives_writer)
{
	weft_slice_t two[2] = { { "cd", 2 }, { "ef", 2 } };
	struct sockaddr_in sin;
	static struct towner t;
	weft_reader_t *r;
	weft_writer_t *w;
	char buf[32];

	town_init(&t);
	assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r, &w), 0);
	assert_ptr_equal(weft__conn_of_writer(w)->c_tr, &weft__transport_fake);
	/* Fed by hand: the reader has no transport to pause. */
	assert_int_equal(weft_reader_has_transport(r), 0);
	town_add(&t, w);
	assert_int_equal(weft_write(w, "ab", 2), 0);
	assert_int_equal(weft_writev(w, two, 2), 0);
	assert_slice_equal(weft__fake_written(w), "abcdef");
	assert_int_equal(weft_writer_buffered(w), 0);
	assert_int_equal(weft_drain(w), 0);
	assert_int_equal(weft_fileno(w), -ENOTSUP);
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), -ENOTSUP);
	/* Addresses a prelude sets are reported on any transport. */
	sin_make(&sin, "198.51.100.1", 1234);
	assert_int_equal(weft_conn_set_addrs(w, (struct sockaddr *)&sin, NULL),
	    0);
	assert_int_equal(weft_peername(w, buf, sizeof(buf)), 17);
	assert_string_equal(buf, "198.51.100.1:1234");
	assert_int_equal(weft_write_eof(w), 0);
	assert_int_equal(weft_write(w, "x", 1), -EPIPE);
	weft_feed_data(r, "in", 2);
	weft_feed_eof(r);
	assert_int_equal(weft_close(w), 0);
	assert_int_equal(weft_close_reason(w), WEFT_CLOSE_EOF);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(t.n, 0);
	weft__fake_free(w);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.reason, WEFT_CLOSE_EOF);
	weft__owner_fini(&t.o);
}

/*
 * An owner's table grows with a burst of connections and shrinks once
 * they are gone, so that a worker's memory returns to what it was
 * before the burst; survivors keep their slots consistent.
 */
WT_CASE(owner_table_shrinks)
{
	enum { N = 300 };
	static struct towner t;
	static weft_writer_t *ws[N];
	weft_reader_t *r;
	int i;

	town_init(&t);
	for (i = 0; i < N; i++) {
		assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &r,
				     &ws[i]),
		    0);
		town_add(&t, ws[i]);
	}
	assert_int_equal(t.o.o_n, N);
	assert_int_equal(t.o.o_cap, 512);
	/* From the front: each release moves the last entry into its slot. */
	for (i = 0; i < N - 2; i++) {
		weft_abort(ws[i]);
		weft__fake_free(ws[i]);
	}
	assert_int_equal(t.n, N - 2);
	assert_int_equal(t.o.o_n, 2);
	assert_int_equal(t.o.o_cap, 64);
	for (i = N - 2; i < N; i++) {
		weft__conn_t *c = weft__conn_of_writer(ws[i]);

		assert_ptr_equal(t.o.o_conns[c->c_slot], c);
		weft_abort(ws[i]);
		weft__fake_free(ws[i]);
	}
	assert_int_equal(t.n, N);
	assert_int_equal(t.o.o_n, 0);
	weft__owner_fini(&t.o);
}

/* ---- Sizes -------------------------------------------------------------- */

WT_TEST(conn_sizes)
{
	print_message("conn sizes: tcp %zu unix %zu fake %zu\n",
	    weft__conn_size(&weft__transport_tcp),
	    weft__conn_size(&weft__transport_unix),
	    weft__conn_size(&weft__transport_fake));
	/* The part before the transport's state: the ops pointer, owner
	 * and stored addresses took no room from an idle connection. */
	if (sizeof(void *) == 8)
		assert_true(offsetof(weft__conn_t, c_h) <= 160);
	assert_int_equal(weft__conn_size(&weft__transport_tcp),
	    offsetof(weft__conn_t, c_h) + sizeof(uv_tcp_t));
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(120);
	return wt_run_cases(argc, argv);
}
