/*
 * shortconn: accept-rate load generator for bench/run.sh.
 *
 * usage: shortconn HOST:PORT CLIENTS SECONDS [MAXCONNS [SRCADDRS [SIZE]]]
 *
 * CLIENTS concurrent clients, each in a loop: connect, write SIZE bytes
 * (64; the last one is '\n', so line servers answer too), read the whole
 * echo, close.  Runs for SECONDS, or until MAXCONNS connections have
 * completed (0: no limit).  Each socket is bound to a source address
 * 127.0.0.1 .. 127.0.0.SRCADDRS (8) in turn, with IP_BIND_ADDRESS_NO_PORT,
 * so that ephemeral ports cannot run out.  Only for servers on
 * 127.0.0.0/8.
 *
 * Each socket closes with SO_LINGER 0 (a reset) once its echo is in: a
 * normal close leaves a TIME_WAIT entry per connection, and 100 000 of
 * them (a few seconds of this test) slow every later loopback test on the
 * machine for the next minute: lines 64 B went from 186k to 139k req/s
 * for weft and from 170k to 128k for bare libuv with 84 500 TIME_WAIT
 * sockets about.  The server's side of a cycle is unchanged: accept, read,
 * write, then a read that ends it (a reset instead of EOF).
 *
 * Output, one line:
 *   conns/s N  conns N  p50_us N  p99_us N  errors N
 * where a cycle (p50/p99) is connect to close, and an error is a failed
 * connect, a reset, or an EOF before the whole echo.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

struct client {
	int fd;
	int state; /* 0 connecting, 1 reading */
	size_t sent;
	size_t got;
	double t0;
};

static struct sockaddr_in dst;
static size_t size = 64;
static char msg[65536];
static char buf[65536];
static int nsrc = 8;
static unsigned long next_src;
static int ep;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Start a new connection for client c; 0 or -1. */
static int
start(struct client *c, unsigned idx)
{
	struct sockaddr_in src;
	struct epoll_event ev;
	struct linger abort_close = { 1, 0 };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close,
	    sizeof(abort_close));
	if (nsrc > 1) {
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001u +
		    (uint32_t)(next_src++ % (unsigned)nsrc));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			close(fd);
			return -1;
		}
	}
	c->fd = fd;
	c->state = 0;
	c->sent = 0;
	c->got = 0;
	c->t0 = now();
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		c->fd = -1;
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.u32 = idx;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long done = 0, errs = 0, maxconns = 0;
	size_t nlat = 0, latcap = 1u << 22;
	struct epoll_event evs[256], ev;
	struct client *cl;
	double secs, t_start, t_end, el, *lat;
	char host[64], *p;
	int n, i, j, k, live;

	if (argc < 4) {
		fprintf(stderr,
		    "usage: shortconn HOST:PORT CLIENTS SECONDS "
		    "[MAXCONNS [SRCADDRS [SIZE]]]\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%s", argv[1]);
	if ((p = strrchr(host, ':')) == NULL) {
		fprintf(stderr, "shortconn: expected HOST:PORT\n");
		return 2;
	}
	*p++ = '\0';
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(p));
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
		fprintf(stderr, "shortconn: bad IPv4 address %s\n", host);
		return 2;
	}
	n = atoi(argv[2]);
	secs = atof(argv[3]);
	if (argc > 4)
		maxconns = strtoul(argv[4], NULL, 10);
	if (argc > 5)
		nsrc = atoi(argv[5]);
	if (argc > 6)
		size = (size_t)atol(argv[6]);
	if (n < 1 || secs <= 0 || nsrc < 1 || nsrc > 254 || size < 1 ||
	    size > sizeof(msg)) {
		fprintf(stderr, "shortconn: bad arguments\n");
		return 2;
	}
	memset(msg, 'x', size);
	msg[size - 1] = '\n';
	if ((cl = calloc((size_t)n, sizeof(*cl))) == NULL ||
	    (lat = malloc(latcap * sizeof(*lat))) == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("shortconn");
		return 1;
	}
	t_start = now();
	t_end = t_start + secs;
	live = 0;
	for (i = 0; i < n; i++) {
		cl[i].fd = -1;
		if (maxconns != 0 && (unsigned long)i >= maxconns)
			continue;
		if (start(&cl[i], (unsigned)i) == 0)
			live++;
		else
			errs++;
	}
	while (live > 0 && now() < t_end) {
		k = epoll_wait(ep, evs, 256, 100);
		for (j = 0; j < k; j++) {
			struct client *c = &cl[evs[j].data.u32];
			unsigned idx = evs[j].data.u32;
			int fin = 0, bad = 0;
			ssize_t r;

			if (c->fd < 0)
				continue;
			if (c->state == 0) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr,
				    &sl);
				if (soerr != 0) {
					bad = 1;
				} else {
					r = write(c->fd, msg + c->sent,
					    size - c->sent);
					if (r > 0)
						c->sent += (size_t)r;
					else if (r < 0 && errno != EAGAIN)
						bad = 1;
					if (!bad && c->sent == size) {
						c->state = 1;
						memset(&ev, 0, sizeof(ev));
						ev.events = EPOLLIN;
						ev.data.u32 = idx;
						epoll_ctl(ep, EPOLL_CTL_MOD,
						    c->fd, &ev);
					}
				}
			} else {
				r = read(c->fd, buf, sizeof(buf));
				if (r > 0) {
					c->got += (size_t)r;
					if (c->got >= size)
						fin = 1;
				} else if (r == 0 ||
				    (errno != EAGAIN && errno != EINTR)) {
					bad = 1;
				}
			}
			if (!fin && !bad)
				continue;
			close(c->fd); /* epoll forgets it */
			c->fd = -1;
			live--;
			if (bad) {
				errs++;
			} else {
				done++;
				if (nlat < latcap)
					lat[nlat++] = (now() - c->t0) * 1e6;
			}
			if (maxconns != 0 &&
			    done + (unsigned long)live >= maxconns)
				continue;
			if (now() >= t_end)
				continue;
			if (start(c, idx) == 0)
				live++;
			else
				errs++;
		}
	}
	el = now() - t_start;
	qsort(lat, nlat, sizeof(*lat), cmpd);
	printf(
	    "conns/s %.0f  conns %lu  p50_us %.0f  p99_us %.0f  errors %lu\n",
	    (double)done / el, done, nlat ? lat[nlat / 2] : 0.0,
	    nlat ? lat[nlat * 99 / 100] : 0.0, errs);
	return 0;
}
