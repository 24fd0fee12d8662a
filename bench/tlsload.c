/*
 * tlsload: the TLS load generator of bench/run.sh, one thread, epoll and
 * OpenSSL, the same for every server so that only the server changes
 * from row to row.
 *
 * usage: tlsload HOST:PORT MODE PROTO CONNS SECONDS [SIZE [CERT]]
 *
 * MODE
 *   full    CONNS clients, each in a loop: connect, full handshake, one
 *           exchange, close_notify, close.  A handshake that resumed is
 *           an error here.
 *   resume  the same, each handshake offering the last session ticket
 *           the client got (one priming full handshake first, not
 *           counted); a handshake that did not resume is counted as
 *           not_resumed, and the exit status says so.
 *   keep    CONNS connections, each handshaken once, then exchanges back
 *           to back on every connection for SECONDS.
 *   idle    CONNS connections (at most 256 handshaking at a time), each
 *           handshaken and answered once, then held; prints "held A of
 *           N ..." and waits (at most SECONDS) for SIGUSR1, which makes
 *           every held connection exchange once more, prints "again A2 of
 *           N ..." and exits.
 * PROTO, what one exchange is
 *   echo    send SIZE bytes (1024), read SIZE bytes back
 *   http    send "GET / HTTP/1.1", read one response; a status other than
 *           200 is an error
 *   greet   send nothing, read at least one byte (a server that speaks
 *           first, such as nginx stream's return)
 * CERT: if given, the certificate every handshake must present.
 *
 * The client offers only TLS 1.3, TLS_AES_128_GCM_SHA256 and X25519, so a
 * server with other settings fails the handshake and is counted as an
 * error.  Clients close with close_notify and then a reset (SO_LINGER 0),
 * so that thousands of short connections leave no TIME_WAIT entries to
 * slow the rows after them.
 *
 * Output, one line on stdout (modes full, resume, keep):
 *   handshakes H resumed R not_resumed X requests Q errors E secs S
 *   rate V p99_us P
 * where rate is handshakes per second for full and resume and requests
 * per second for keep, and p99_us is the 99th percentile of one whole
 * connection (full, resume) or one exchange (keep).  The exit status is
 * 0 only if there were no errors and no handshake that failed to resume.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

enum { M_FULL, M_RESUME, M_KEEP, M_IDLE };
enum { P_ECHO, P_HTTP, P_GREET };
enum { S_CONNECTING, S_HANDSHAKE, S_SEND, S_RECV, S_IDLE, S_DEAD };

#define HEADMAX 2048
#define INFLIGHT 256
#define LATMAX (1u << 22)

struct conn {
	int fd;
	SSL *ssl;
	unsigned char state;
	uint32_t events;    /* what epoll is asked for */
	size_t got;	    /* bytes of the answer so far */
	size_t want;	    /* bytes of the whole answer, once known */
	size_t hlen;	    /* http: bytes in head */
	double t0;	    /* start of the connection or of the exchange */
	char head[HEADMAX]; /* http: the response head, as it comes */
};

static int mode, proto;
static struct sockaddr_in dst;
static SSL_CTX *ctx;
static SSL_SESSION *sess; /* resume: the ticket to offer */
static X509 *want_cert;
static struct conn *cs;
static unsigned nconns;
static size_t size = 1024;
static char *msg;
static size_t msglen;
static char rbuf[65536];
static int ep;
static int running = 1; /* full, resume, keep: start new work */
static unsigned long handshakes, resumed, not_resumed, requests, errors;
static unsigned long answered; /* idle: exchanges done this pass */
static float *lat;
static size_t nlat;
static volatile sig_atomic_t got_usr1, got_term;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

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

static void
want_events(unsigned i, uint32_t ev)
{
	struct epoll_event e;
	struct conn *c = &cs[i];

	if (c->events == ev)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.u32 = i;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

/* Close with close_notify when the session is up (so the client's copy
 * of the session stays resumable), then reset. */
static void
drop(unsigned i, int clean)
{
	struct conn *c = &cs[i];
	struct linger lg = { 1, 0 };

	if (c->ssl != NULL) {
		if (clean)
			SSL_shutdown(c->ssl);
		else
			SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c->fd);
	}
	c->fd = -1;
	c->state = S_DEAD;
}

static int
open_conn(unsigned i)
{
	struct conn *c = &cs[i];
	struct epoll_event e;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		drop(i, 0);
		return -1;
	}
	if (mode == M_RESUME && sess != NULL)
		SSL_set_session(c->ssl, sess);
	c->state = S_CONNECTING;
	c->t0 = now();
	memset(&e, 0, sizeof(e));
	e.events = c->events = EPOLLOUT;
	e.data.u32 = i;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
	return 0;
}

static void
record(double t0)
{
	if (lat != NULL && nlat < LATMAX)
		lat[nlat++] = (float)((now() - t0) * 1e6);
}

/* Why a run fails, said for the first few errors only. */
static void
complain(const char *why)
{
	if (errors < 5)
		fprintf(stderr, "tlsload: %s\n", why);
}

/* The handshake is done: is it the one this mode expects? */
static int
check_handshake(struct conn *c)
{
	X509 *peer = SSL_get0_peer_certificate(c->ssl);

	if (want_cert != NULL && (peer == NULL || X509_cmp(peer, want_cert))) {
		complain("the server's certificate is not the one given");
		return -1;
	}
	handshakes++;
	if (SSL_session_reused(c->ssl)) {
		resumed++;
		if (mode != M_RESUME) {
			complain("a full handshake resumed");
			return -1;
		}
	} else if (mode == M_RESUME && sess != NULL)
		not_resumed++;
	return 0;
}

/* Bytes of an http answer: 1 when it is complete, 0 if more is to come,
 * -1 when it is not a 200 with a Content-Length. */
static int
http_take(struct conn *c, const char *p, size_t n)
{
	char *end, *cl;

	if (c->want != 0) {
		c->got += n;
		return c->got >= c->want;
	}
	if (c->hlen + n >= HEADMAX)
		return -1;
	memcpy(c->head + c->hlen, p, n);
	c->hlen += n;
	c->head[c->hlen] = '\0';
	if ((end = strstr(c->head, "\r\n\r\n")) == NULL)
		return 0;
	if (strncmp(c->head, "HTTP/1.1 200 ", 13) != 0)
		return -1;
	for (cl = c->head; (cl = strchr(cl, '\n')) != NULL && cl < end;)
		if (strncasecmp(++cl, "content-length:", 15) == 0)
			break;
	if (cl == NULL || cl >= end)
		return -1;
	c->want = (size_t)(end + 4 - c->head) + strtoul(cl + 15, NULL, 10);
	c->got = c->hlen;
	return c->got >= c->want;
}

static int
take(struct conn *c, const char *p, size_t n)
{
	switch (proto) {
	case P_HTTP:
		return http_take(c, p, n);
	case P_GREET:
		return 1;
	default:
		c->got += n;
		if (c->got > size)
			return -1;
		return c->got == size;
	}
}

static void
begin_exchange(struct conn *c)
{
	c->got = c->want = c->hlen = 0;
	c->state = msglen > 0 ? S_SEND : S_RECV;
	if (mode == M_KEEP)
		c->t0 = now();
}

/* An exchange is over; what the connection does next. */
static int
exchange_done(unsigned i)
{
	struct conn *c = &cs[i];
	SSL_SESSION *s;

	requests++;
	if (mode == M_KEEP) {
		record(c->t0);
		if (!running) {
			c->state = S_IDLE;
			return 0;
		}
		begin_exchange(c);
		return 1;
	}
	if (mode == M_IDLE) {
		answered++;
		c->state = S_IDLE;
		want_events(i, 0);
		return 0;
	}
	/* full, resume: the ticket came before the answer; keep the newest. */
	if (mode == M_RESUME && (s = SSL_get1_session(c->ssl)) != NULL) {
		if (SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(sess);
			sess = s;
		} else
			SSL_SESSION_free(s);
	}
	record(c->t0);
	drop(i, 1);
	if (running && open_conn(i) != 0)
		errors++;
	return 0;
}

/* Run one SSL call's outcome: 1 to go on, 0 to wait, -1 on error. */
static int
ssl_wait(unsigned i, int r)
{
	switch (SSL_get_error(cs[i].ssl, r)) {
	case SSL_ERROR_WANT_READ:
		want_events(i, EPOLLIN);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		want_events(i, EPOLLOUT);
		return 0;
	default:
		return -1;
	}
}

/* Take a connection as far as it goes without blocking; -1 on error. */
static int
advance(unsigned i)
{
	struct conn *c = &cs[i];
	int r, soerr = 0;
	socklen_t sl = sizeof(soerr);

	for (;;) {
		switch (c->state) {
		case S_CONNECTING:
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			if (soerr != 0) {
				complain(strerror(soerr));
				return -1;
			}
			c->state = S_HANDSHAKE;
			break;
		case S_HANDSHAKE:
			if ((r = SSL_connect(c->ssl)) != 1)
				return ssl_wait(i, r);
			if (check_handshake(c) != 0)
				return -1;
			begin_exchange(c);
			break;
		case S_SEND:
			if ((r = SSL_write(c->ssl, msg, (int)msglen)) <= 0)
				return ssl_wait(i, r);
			c->state = S_RECV;
			break;
		case S_RECV:
			if ((r = SSL_read(c->ssl, rbuf, sizeof(rbuf))) <= 0)
				return ssl_wait(i, r);
			if ((r = take(c, rbuf, (size_t)r)) < 0) {
				complain("a wrong answer");
				return -1;
			}
			if (r == 1 && exchange_done(i) == 0)
				return 0;
			break;
		default:
			return 0;
		}
	}
}

static void
fail(unsigned i)
{
	unsigned long e;

	if ((e = ERR_peek_last_error()) != 0 &&
	    ERR_reason_error_string(e) != NULL)
		complain(ERR_reason_error_string(e));
	ERR_clear_error();
	errors++;
	drop(i, 0);
	if (running && (mode == M_FULL || mode == M_RESUME) &&
	    open_conn(i) != 0)
		errors++;
}

static void
poll_once(int ms)
{
	struct epoll_event evs[256];
	int k, j;

	k = epoll_wait(ep, evs, 256, ms);
	for (j = 0; j < k; j++) {
		unsigned i = evs[j].data.u32;

		if (cs[i].state == S_DEAD)
			continue;
		if (cs[i].state == S_IDLE) {
			if (evs[j].events & (EPOLLHUP | EPOLLERR | EPOLLIN))
				fail(i); /* a held connection went away */
			continue;
		}
		if (advance(i) < 0)
			fail(i);
	}
}

static int
cmpf(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

static double
p99(void)
{
	if (nlat == 0)
		return 0;
	qsort(lat, nlat, sizeof(*lat), cmpf);
	return lat[(size_t)((double)nlat * 0.99)];
}

/* One full handshake and exchange on connection 0, to get a ticket. */
static int
prime(void)
{
	double end = now() + 10;

	running = 0; /* the priming connection is not reopened */
	if (open_conn(0) != 0)
		return -1;
	while (cs[0].state != S_DEAD && now() < end)
		poll_once(100);
	running = 1;
	if (cs[0].state != S_DEAD || errors != 0 || sess == NULL) {
		fprintf(stderr, "tlsload: no session ticket from the server\n");
		return -1;
	}
	handshakes = resumed = requests = 0;
	nlat = 0;
	return 0;
}

/* keep: every connection handshaken before the clock starts. */
static int
connect_all(void)
{
	unsigned i, live;
	double end = now() + 30;

	for (i = 0; i < nconns; i++)
		if (open_conn(i) != 0)
			return -1;
	for (;;) {
		for (live = 0, i = 0; i < nconns; i++)
			live += cs[i].state == S_CONNECTING ||
			    cs[i].state == S_HANDSHAKE;
		if (live == 0 || now() > end || errors != 0)
			break;
		poll_once(100);
	}
	return errors == 0 && handshakes == nconns ? 0 : -1;
}

static void
report(double secs)
{
	double n = (double)(mode == M_KEEP ? requests : handshakes);

	printf("handshakes %lu resumed %lu not_resumed %lu requests %lu "
	       "errors %lu secs %.2f rate %.0f p99_us %.0f\n",
	    handshakes, resumed, not_resumed, requests, errors, secs,
	    secs > 0 ? n / secs : 0, p99());
}

static void
run_load(double secs)
{
	double t0, end;
	unsigned i;

	if (mode == M_RESUME && prime() != 0) {
		errors++;
		report(0);
		return;
	}
	if (mode == M_KEEP) {
		if (connect_all() != 0) {
			fprintf(stderr, "tlsload: only %lu of %u handshakes\n",
			    handshakes, nconns);
			errors++;
		}
		requests = 0;
		nlat = 0;
	}
	t0 = now();
	end = t0 + secs;
	/* keep: the exchanges began with the handshakes; the count starts
	 * now. */
	for (i = 0; mode != M_KEEP && i < nconns; i++)
		if (open_conn(i) != 0)
			errors++;
	while (now() < end && !got_term)
		poll_once(50);
	report(now() - t0);
	running = 0;
}

static unsigned
busy(void)
{
	unsigned i, n = 0;

	for (i = 0; i < nconns; i++)
		n += cs[i].state != S_IDLE && cs[i].state != S_DEAD;
	return n;
}

static unsigned
held(void)
{
	unsigned i, n = 0;

	for (i = 0; i < nconns; i++)
		n += cs[i].state == S_IDLE;
	return n;
}

/* idle: open, handshake and answer every connection, at most INFLIGHT
 * under way at a time; returns how many are held. */
static unsigned
fill(void)
{
	unsigned next = 0, live = 0;
	double t0 = now(), limit = 120 + nconns / 50;

	running = 0; /* a connection that fails is not reopened */
	while (!got_term && now() - t0 < limit) {
		while (live < INFLIGHT && next < nconns) {
			if (open_conn(next) != 0) {
				errors++;
				cs[next].state = S_DEAD;
			}
			next++;
			live++;
		}
		poll_once(100);
		live = busy();
		if (live == 0 && next >= nconns)
			break;
	}
	return held();
}

static int
run_idle(double timeout)
{
	unsigned i, n, a;
	double t0 = now(), end;

	n = fill();
	printf("held %u of %u  errors %lu  secs %.2f\n", n, nconns, errors,
	    now() - t0);
	fflush(stdout);
	end = now() + timeout;
	while (!got_usr1 && !got_term && now() < end)
		poll_once(100);
	if (!got_usr1)
		return 1;
	t0 = now();
	for (i = 0; i < nconns; i++) {
		if (cs[i].state != S_IDLE)
			continue;
		begin_exchange(&cs[i]);
		if (advance(i) < 0)
			fail(i);
	}
	end = now() + 60;
	while (busy() > 0 && !got_term && now() < end)
		poll_once(100);
	a = held();
	printf("again %u of %u  errors %lu  secs %.2f\n", a, nconns, errors,
	    now() - t0);
	return a == nconns && n == nconns ? 0 : 1;
}

static SSL_CTX *
make_ctx(void)
{
	SSL_CTX *x;

	if ((x = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(x, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(x, TLS1_3_VERSION);
	SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(x, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_ciphersuites(x, "TLS_AES_128_GCM_SHA256") != 1 ||
	    SSL_CTX_set1_groups_list(x, "X25519") != 1) {
		SSL_CTX_free(x);
		return NULL;
	}
	return x;
}

static X509 *
load_cert(const char *path)
{
	FILE *f;
	X509 *x;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static int
parse(int argc, char **argv)
{
	static const char *modes[] = { "full", "resume", "keep", "idle" };
	static const char *protos[] = { "echo", "http", "greet" };
	char host[64], *colon;

	if (argc < 6 || strlen(argv[1]) >= sizeof(host))
		return -1;
	for (mode = 0; mode < 4 && strcmp(argv[2], modes[mode]); mode++)
		;
	for (proto = 0; proto < 3 && strcmp(argv[3], protos[proto]); proto++)
		;
	nconns = (unsigned)atoi(argv[4]);
	if (mode == 4 || proto == 3 || nconns == 0 || atof(argv[5]) <= 0)
		return -1;
	if (argc > 6 && (size = strtoul(argv[6], NULL, 10)) == 0)
		return -1;
	if (argc > 7 && (want_cert = load_cert(argv[7])) == NULL) {
		fprintf(stderr, "tlsload: cannot read %s\n", argv[7]);
		return -1;
	}
	strcpy(host, argv[1]);
	if ((colon = strchr(host, ':')) == NULL)
		return -1;
	*colon = '\0';
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &dst.sin_addr) == 1 ? 0 : -1;
}

static int
make_msg(void)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

	switch (proto) {
	case P_HTTP:
		msg = strdup(get);
		msglen = sizeof(get) - 1;
		break;
	case P_GREET:
		msg = strdup("");
		msglen = 0;
		break;
	default:
		if ((msg = malloc(size)) != NULL)
			memset(msg, 'x', size);
		msglen = size;
	}
	return msg == NULL ? -1 : 0;
}

int
main(int argc, char **argv)
{
	unsigned i;

	if (parse(argc, argv) != 0) {
		fprintf(stderr,
		    "usage: tlsload HOST:PORT full|resume|keep|idle "
		    "echo|http|greet CONNS SECONDS [SIZE [CERT]]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if ((ctx = make_ctx()) == NULL || make_msg() != 0 ||
	    (cs = calloc(nconns, sizeof(*cs))) == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		fprintf(stderr, "tlsload: cannot set up\n");
		return 1;
	}
	for (i = 0; i < nconns; i++) {
		cs[i].fd = -1;
		cs[i].state = S_DEAD;
	}
	if (mode == M_IDLE)
		return run_idle(atof(argv[5]));
	lat = malloc(LATMAX * sizeof(*lat));
	run_load(atof(argv[5]));
	return errors == 0 && not_resumed == 0 ? 0 : 1;
}
