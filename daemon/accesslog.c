/*
 * The worker's half of the access log: one line per connection, made in
 * the server's on-close hook (weft_server_set_on_close) into a buffer of
 * its listener's target, and written from a timer, or when the buffer
 * fills, with writes that do not block: the file (or FIFO, or pipe) was
 * opened O_NONBLOCK, journald's socket is sent to with MSG_DONTWAIT.  A
 * target that cannot keep up costs lines, counted as dropped and logged,
 * never a wait of the loop.  A listener without access_log has no hook:
 * no line is made, no clock read.
 *
 *   time=2026-01-02T03:04:05.678Z listener=web plugin=echo
 *   peer=192.0.2.1:40000 duration_ms=12 bytes_in=5 bytes_out=5 reason=eof
 *   [tls=TLSv1.3 sni=example.com]
 *
 * Values that are empty or hold a space, a quote, a backslash or a
 * control character are quoted, with \" \\ and \xHH inside.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <weft/tls.h>

#include "accesslog.h"
#include "log.h"
#include "util.h"

#define BUF_SIZE (64 * 1024)
#define LINE_MAX_LEN 2048
#define FLUSH_MS 100
#define WARN_MS 5000

enum { T_FD, T_STDERR, T_JOURNAL };

struct target {
	int fd;
	int kind; /* T_* */
	char *buf;
	size_t len;
	unsigned long long dropped, reported;
};

struct alog {
	struct target t;
	const char *listener; /* its name, or its address */
	const char *plugin;
	const char *path; /* as configured, for messages */
	int tls;
};

static struct {
	struct alog *v; /* one per listener; t.buf NULL: none */
	size_t n;
	uv_timer_t timer;
	uv_poll_t poll;
	int sock;
	int live;
	uint64_t warned; /* loop ms of the last dropped warning */
	time_t sec;	 /* the second stamp[] was made for */
	char stamp[24];	 /* "2026-01-02T03:04:05." */
} A;

/* ---- Writing --------------------------------------------------------- */

/* journald's native protocol: one datagram per line. */
static ssize_t
journal_send(struct target *t)
{
	static const char head[] = "PRIORITY=6\nSYSLOG_IDENTIFIER=weftd\n"
				   "MESSAGE=";
	struct iovec iov[3];
	struct msghdr mh;
	char *p = t->buf, *nl;
	size_t done = 0;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 3;
	while (done < t->len && (nl = memchr(p, '\n', t->len - done))) {
		iov[0].iov_base = (void *)head;
		iov[0].iov_len = sizeof(head) - 1;
		iov[1].iov_base = p;
		iov[1].iov_len = (size_t)(nl - p);
		iov[2].iov_base = (void *)"\n";
		iov[2].iov_len = 1;
		if (sendmsg(t->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			return done > 0 ? (ssize_t)done : -1;
		done += (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	return (ssize_t)done;
}

/* fd 2 when it is a file or the journal's stream socket. */
static ssize_t
stderr_send(struct target *t)
{
	ssize_t n = send(STDERR_FILENO, t->buf, t->len,
	    MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0 && errno == ENOTSOCK)
		n = write(STDERR_FILENO, t->buf, t->len);
	return n;
}

/* Write what t holds, as much as goes without waiting. */
static void
flush(struct target *t)
{
	ssize_t n;

	if (t->len == 0)
		return;
	if (t->kind == T_JOURNAL)
		n = journal_send(t);
	else if (t->kind == T_STDERR)
		n = stderr_send(t);
	else
		n = write(t->fd, t->buf, t->len);
	if (n <= 0)
		return; /* EAGAIN (or worse): what comes next is dropped */
	memmove(t->buf, t->buf + n, t->len - (size_t)n);
	t->len -= (size_t)n;
}

static void
warn_dropped(void)
{
	uint64_t now = uv_now(A.timer.loop);
	struct alog *a;
	size_t i;

	if (A.warned != 0 && now - A.warned < WARN_MS)
		return;
	for (i = 0; i < A.n; i++) {
		a = &A.v[i];
		if (a->t.buf == NULL || a->t.dropped == a->t.reported)
			continue;
		log_warnx("access log %s: %llu line(s) dropped (%llu in all): "
			  "it does not keep up",
		    a->path, a->t.dropped - a->t.reported, a->t.dropped);
		a->t.reported = a->t.dropped;
		A.warned = now;
	}
}

static void
on_flush(uv_timer_t *h)
{
	size_t i;

	(void)h;
	for (i = 0; i < A.n; i++)
		if (A.v[i].t.buf != NULL)
			flush(&A.v[i].t);
	warn_dropped();
}

/* Room for n bytes, flushing first if need be; NULL: the line is
 * dropped. */
static char *
reserve(struct target *t, size_t n)
{
	if (BUF_SIZE - t->len < n)
		flush(t);
	if (BUF_SIZE - t->len < n) {
		t->dropped++;
		return NULL;
	}
	return t->buf + t->len;
}

/* ---- Formatting ------------------------------------------------------ */

/* snprintf at p, kept within end; returns the new end. */
static char *
catf(char *p, char *end, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p, (size_t)(end - p), fmt, ap);
	va_end(ap);
	if (n < 0)
		return p;
	return (size_t)n < (size_t)(end - p) ? p + n : end - 1;
}

/* " key=value", quoted if need be; returns the new end (within end). */
static char *
put(char *p, char *end, const char *key, const char *v)
{
	const char *s;
	int quote = *v == '\0';

	for (s = v; *s != '\0' && !quote; s++)
		if (*s == ' ' || *s == '"' || *s == '\\' || *s == '=' ||
		    (unsigned char)*s < 0x20 || *s == 0x7f)
			quote = 1;
	p = catf(p, end, " %s=%s", key, quote ? "\"" : "");
	for (s = v; *s != '\0' && end - p > 6; s++) {
		if (*s == '"' || *s == '\\') {
			*p++ = '\\';
			*p++ = *s;
		} else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			p = catf(p, end, "\\x%02x", (unsigned char)*s);
		else
			*p++ = *s;
	}
	if (quote && end - p > 1)
		*p++ = '"';
	return p;
}

/* "time=...Z": the date part made once a second. */
static char *
put_time(char *p, char *end)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != A.sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(A.stamp, sizeof(A.stamp), "%Y-%m-%dT%H:%M:%S.", &tm);
		A.sec = ts.tv_sec;
	}
	return catf(p, end, "time=%s%03ldZ", A.stamp, ts.tv_nsec / 1000000);
}

static const char *
reason_name(int reason)
{
	static const char *const names[] = { "eof", "eof", "eof", "reset",
		"timeout", "abort", "limit", "shutdown", "error" };

	return reason >= 0 && reason <= WEFT_CLOSE_ERROR ? names[reason]
							 : "error";
}

void
alog_on_close(weft_writer_t *w, const weft_conn_stats_t *st, void *arg)
{
	struct alog *a = arg;
	char line[LINE_MAX_LEN], peer[256], *p = line, *end = line + 1024;
	weft_tls_info_t ti;
	char *dst;

	p = put_time(p, end);
	p = put(p, end, "listener", a->listener);
	p = put(p, end, "plugin", a->plugin);
	if (weft_peername(w, peer, sizeof(peer)) < 0)
		peer[0] = '\0';
	p = put(p, end, "peer", peer);
	p = catf(p, end,
	    " duration_ms=%llu bytes_in=%llu bytes_out=%llu reason=%s",
	    (unsigned long long)st->duration_ms,
	    (unsigned long long)st->bytes_in, (unsigned long long)st->bytes_out,
	    reason_name(st->reason));
	if (a->tls) {
		end = line + sizeof(line) - 1;
		memset(&ti, 0, sizeof(ti));
		if (weft_tls_info(w, &ti, sizeof(ti)) == 0) {
			p = put(p, end, "tls", ti.version ? ti.version : "-");
			p = put(p, end, "sni",
			    ti.server_name && *ti.server_name ? ti.server_name
							      : "-");
		} else
			p = catf(p, end, " tls=- sni=-");
	}
	*p++ = '\n';
	if ((dst = reserve(&a->t, (size_t)(p - line))) == NULL)
		return;
	memcpy(dst, line, (size_t)(p - line));
	a->t.len += (size_t)(p - line);
}

/* ---- Reopened files (SIGUSR1) ---------------------------------------- */

/* Take a file for listener i: what the old one holds goes there first. */
static void
take(size_t i, int fd)
{
	struct alog *a;

	if (i >= A.n || (a = &A.v[i])->t.buf == NULL || a->t.kind != T_FD) {
		close(fd);
		return;
	}
	flush(&a->t);
	close(a->t.fd);
	a->t.fd = fd;
}

static void
on_sock(uv_poll_t *h, int status, int events)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(64 * sizeof(int))];
	} cm;
	unsigned short idx[64];
	char msg[1 + sizeof(idx)];
	struct cmsghdr *ch;
	struct msghdr mh;
	struct iovec iov = { msg, sizeof(msg) };
	int fds[64];
	size_t k, n = 0;
	ssize_t r;

	(void)events;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	r = status < 0 ? -1
		       : recvmsg(A.sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			uv_poll_stop(h); /* the supervisor is gone */
		return;
	}
	for (ch = CMSG_FIRSTHDR(&mh); ch != NULL; ch = CMSG_NXTHDR(&mh, ch))
		if (ch->cmsg_level == SOL_SOCKET &&
		    ch->cmsg_type == SCM_RIGHTS) {
			n = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(ch), n * sizeof(int));
		}
	memcpy(idx, msg + 1, sizeof(idx));
	for (k = 0; k < n; k++) {
		if (msg[0] == ALOG_MSG_REOPEN &&
		    1 + (k + 1) * sizeof(*idx) <= (size_t)r)
			take(idx[k], fds[k]);
		else
			close(fds[k]);
	}
}

/* ---- Setup ----------------------------------------------------------- */

static int
kind_of(const char *t, int fd)
{
	if (strcmp(t, "journal") == 0)
		return T_JOURNAL;
	return fd == -2 ? T_STDERR : T_FD;
}

void
alog_start(uv_loop_t *loop, const struct conf *c, int *fds, int sock)
{
	const struct conf_listener *l;
	struct alog *a;
	size_t i;

	A.n = c->nlisteners;
	A.v = xcalloc(A.n, sizeof(*A.v));
	for (i = 0; i < A.n; i++) {
		l = &c->listeners[i];
		if (l->access_log == NULL || fds[i] == -1)
			continue;
		a = &A.v[i];
		a->t.fd = fds[i];
		a->t.kind = kind_of(l->access_log, fds[i]);
		a->t.buf = xcalloc(1, BUF_SIZE);
		a->listener = l->name[0] != '\0' ? l->name : l->address;
		a->plugin = l->plugin;
		a->path = l->access_log;
		a->tls = l->tls != NULL;
		A.live = 1;
	}
	if (!A.live)
		return;
	uv_timer_init(loop, &A.timer);
	uv_timer_start(&A.timer, on_flush, FLUSH_MS, FLUSH_MS);
	uv_unref((uv_handle_t *)&A.timer);
	A.sock = sock;
	if (alog_files(c) && uv_poll_init(loop, &A.poll, sock) == 0) {
		uv_poll_start(&A.poll, UV_READABLE, on_sock);
		uv_unref((uv_handle_t *)&A.poll);
	}
}

void *
alog_of(size_t i)
{
	return i < A.n && A.v[i].t.buf != NULL ? &A.v[i] : NULL;
}

void
alog_stop(void)
{
	if (!A.live)
		return;
	on_flush(&A.timer);
	uv_close((uv_handle_t *)&A.timer, NULL);
	if (A.poll.loop != NULL)
		uv_close((uv_handle_t *)&A.poll, NULL);
	A.live = 0;
}

unsigned long long
alog_dropped(size_t i)
{
	return i < A.n ? A.v[i].t.dropped : 0;
}
