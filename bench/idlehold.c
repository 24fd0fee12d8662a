/*
 * idlehold: open N connections, have each answered once, hold them idle,
 * and on SIGUSR1 check that every one still answers; for bench/run.sh's
 * memory-per-idle-connection rows.
 *
 * usage: idlehold HOST:PORT N [SRCADDRS [SIZE [INFLIGHT [TIMEOUT]]]]
 *
 * Each socket is bound to a source address 127.0.0.1 .. 127.0.0.SRCADDRS
 * (8) in turn, with IP_BIND_ADDRESS_NO_PORT, so N may exceed the
 * ephemeral port range of one source address (100 000 connections to one
 * port need at least four).  SRCADDRS may also be a range FIRST-LAST,
 * 127.0.0.FIRST .. 127.0.0.LAST, so that several idlehold processes
 * (each under its own RLIMIT_NOFILE) use addresses of their own.  At most INFLIGHT (256) connections are
 * connecting or waiting for their first echo at a time, which keeps the
 * server's listen backlog from overflowing.  Each connection sends SIZE
 * (64) bytes, the last one '\n' (so readline servers answer too), and
 * reads the whole echo back.
 *
 * Output on stdout, flushed line by line:
 *   held A of N  errors E  secs S         once the first pass is over
 * then it waits (at most TIMEOUT seconds, 600) for SIGUSR1, which sends
 * the message once more on every held connection and prints
 *   again A2 of N  errors E2  secs S2
 * and exits, closing everything.  SIGTERM or SIGINT exit at once.
 * The exit status is 0 if every connection answered both times.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
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

enum { C_NONE, C_CONNECTING, C_READING, C_IDLE, C_DEAD };

struct conn {
	int fd;
	unsigned char state;
	unsigned short sent;
	unsigned short got;
};

static volatile sig_atomic_t got_usr1, got_term;
static struct sockaddr_in dst;
static struct conn *cs;
static size_t size = 64;
static char msg[4096];
static char buf[65536];
static int ep;

static void
on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
set_events(unsigned idx, uint32_t events, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u32 = idx;
	epoll_ctl(ep, op, cs[idx].fd, &ev);
}

static void
kill_conn(unsigned idx)
{
	if (cs[idx].fd >= 0)
		close(cs[idx].fd);
	cs[idx].fd = -1;
	cs[idx].state = C_DEAD;
}

static int src_first = 1;

static int
open_conn(unsigned idx, int nsrc)
{
	struct sockaddr_in src;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000000u + (unsigned)src_first +
	    idx % (unsigned)nsrc);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 &&
		errno != EINPROGRESS)) {
		int e = errno;

		close(fd);
		return -e;
	}
	cs[idx].fd = fd;
	cs[idx].state = C_CONNECTING;
	cs[idx].sent = 0;
	cs[idx].got = 0;
	set_events(idx, EPOLLOUT, EPOLL_CTL_ADD);
	return 0;
}

/* Write what is left of the message; 1 when all of it is out, 0 if more
 * is to go, -1 on error. */
static int
push(unsigned idx)
{
	struct conn *c = &cs[idx];
	ssize_t r;

	while (c->sent < size) {
		r = write(c->fd, msg + c->sent, size - c->sent);
		if (r > 0)
			c->sent = (unsigned short)(c->sent + r);
		else if (r < 0 && errno == EAGAIN)
			return 0;
		else
			return -1;
	}
	return 1;
}

/* Handle one event of a connection in pass 1 or 2; returns 1 when it
 * has been answered, -1 when it failed, 2 when an answered one has gone
 * since, 0 otherwise. */
static int
step(unsigned idx, uint32_t events)
{
	struct conn *c = &cs[idx];
	ssize_t r;
	int rc;

	if (c->state == C_CONNECTING) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr != 0)
			return -1;
		if ((rc = push(idx)) < 0)
			return -1;
		if (rc == 1) {
			c->state = C_READING;
			set_events(idx, EPOLLIN, EPOLL_CTL_MOD);
		}
		return 0;
	}
	if (c->state == C_IDLE && (events & (EPOLLHUP | EPOLLERR)))
		return 2; /* an answered connection died while idle */
	if (c->state != C_READING)
		return 0;
	if (c->sent < size) {
		if ((rc = push(idx)) < 0)
			return -1;
		if (rc == 1)
			set_events(idx, EPOLLIN, EPOLL_CTL_MOD);
		if (!(events & EPOLLIN))
			return 0;
	}
	for (;;) {
		r = read(c->fd, buf, sizeof(buf));
		if (r > 0) {
			c->got = (unsigned short)(c->got + r);
			if (c->got >= size) {
				c->state = C_IDLE;
				/* Idle: no events wanted until pass 2. */
				set_events(idx, 0, EPOLL_CTL_MOD);
				return 1;
			}
			continue;
		}
		if (r < 0 && errno == EAGAIN)
			return 0;
		return -1;
	}
}

int
main(int argc, char **argv)
{
	unsigned long n, opened = 0, answered = 0, errs = 0, pending;
	unsigned long answered2 = 0, errs2 = 0;
	struct epoll_event evs[512];
	struct sigaction sa;
	double t0, deadline, timeout = 600;
	int nsrc = 8, inflight = 256, k, j, rc, firsterr = 0;
	char host[64], *p;
	unsigned long i;

	if (argc < 3) {
		fprintf(stderr,
		    "usage: idlehold HOST:PORT N [SRCADDRS [SIZE "
		    "[INFLIGHT [TIMEOUT]]]]\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%s", argv[1]);
	if ((p = strrchr(host, ':')) == NULL) {
		fprintf(stderr, "idlehold: expected HOST:PORT\n");
		return 2;
	}
	*p++ = '\0';
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(p));
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
		fprintf(stderr, "idlehold: bad IPv4 address %s\n", host);
		return 2;
	}
	n = strtoul(argv[2], NULL, 10);
	if (argc > 3) {
		if ((p = strchr(argv[3], '-')) != NULL) {
			src_first = atoi(argv[3]);
			nsrc = atoi(p + 1) - src_first + 1;
		} else {
			nsrc = atoi(argv[3]);
		}
	}
	if (argc > 4)
		size = (size_t)atol(argv[4]);
	if (argc > 5)
		inflight = atoi(argv[5]);
	if (argc > 6)
		timeout = atof(argv[6]);
	if (n < 1 || src_first < 1 || nsrc < 1 || src_first + nsrc > 255 ||
	    size < 1 || size > sizeof(msg) || inflight < 1) {
		fprintf(stderr, "idlehold: bad arguments\n");
		return 2;
	}
	memset(msg, 'x', size);
	msg[size - 1] = '\n';

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((cs = calloc(n, sizeof(*cs))) == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("idlehold");
		return 1;
	}
	for (i = 0; i < n; i++)
		cs[i].fd = -1;

	/* Pass 1: open and have each answered once, INFLIGHT at a time. */
	t0 = now();
	deadline = t0 + timeout;
	pending = 0;
	while (!got_term && now() < deadline) {
		while (opened < n && pending < (unsigned long)inflight) {
			rc = open_conn((unsigned)opened, nsrc);
			if (rc != 0) {
				if (firsterr == 0) {
					firsterr = -rc;
					fprintf(stderr,
					    "idlehold: connection "
					    "%lu: %s\n",
					    opened, strerror(-rc));
				}
				cs[opened].state = C_DEAD;
				errs++;
			} else {
				pending++;
			}
			opened++;
		}
		if (pending == 0 && opened >= n)
			break;
		k = epoll_wait(ep, evs, 512, 100);
		for (j = 0; j < k; j++) {
			unsigned idx = evs[j].data.u32;

			rc = step(idx, evs[j].events);
			if (rc == 0)
				continue;
			if (rc == 2) {
				kill_conn(idx);
				answered--;
				errs++;
				continue;
			}
			pending--;
			if (rc > 0) {
				answered++;
			} else {
				kill_conn(idx);
				errs++;
			}
		}
	}
	printf("held %lu of %lu  errors %lu  secs %.1f\n", answered, n,
	    errs + (n - opened) + pending, now() - t0);
	fflush(stdout);

	/* Hold until told. */
	while (!got_usr1 && !got_term && now() < deadline)
		usleep(20000);
	if (!got_usr1)
		return answered == n ? 0 : 1;

	/* Pass 2: every held connection sends again and must be answered. */
	t0 = now();
	deadline = t0 + 120;
	pending = 0;
	for (i = 0; i < n; i++) {
		if (cs[i].state != C_IDLE)
			continue;
		cs[i].state = C_READING;
		cs[i].sent = 0;
		cs[i].got = 0;
		rc = push((unsigned)i);
		if (rc < 0) {
			kill_conn((unsigned)i);
			errs2++;
			continue;
		}
		set_events((unsigned)i, rc == 1 ? EPOLLIN : EPOLLIN | EPOLLOUT,
		    EPOLL_CTL_MOD);
		pending++;
	}
	while (pending > 0 && !got_term && now() < deadline) {
		k = epoll_wait(ep, evs, 512, 100);
		for (j = 0; j < k; j++) {
			unsigned idx = evs[j].data.u32;

			rc = step(idx, evs[j].events);
			if (rc == 0)
				continue;
			if (rc == 2) {
				kill_conn(idx);
				answered2--;
				errs2++;
				continue;
			}
			pending--;
			if (rc > 0) {
				answered2++;
			} else {
				kill_conn(idx);
				errs2++;
			}
		}
	}
	printf("again %lu of %lu  errors %lu  secs %.1f\n", answered2, n,
	    errs2 + pending, now() - t0);
	fflush(stdout);
	return answered == n && answered2 == n ? 0 : 1;
}
