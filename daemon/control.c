/*
 * Control socket plumbing shared by the supervisor (listening side) and
 * `weftd -s` (client side).  What the commands do is the supervisor's
 * (supervisor.c, next to the state they report and change).
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "sock.h"
#include "util.h"

const char *
control_default_path(void)
{
	static char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *rd = getenv("RUNTIME_DIRECTORY");

	/* systemd's RuntimeDirectory=weft sets it (possibly a list). */
	if (rd != NULL && rd[0] != '\0') {
		snprintf(path, sizeof(path), "%.*s/weftd.sock",
		    (int)strcspn(rd, ":"), rd);
		return path;
	}
	return "/run/weft/weftd.sock";
}

int
control_lock(const char *path, char **cause)
{
	char lpath[4096], buf[32];
	struct stat st;
	ssize_t n;
	long pid;
	int fd, len;

	if (snprintf(lpath, sizeof(lpath), "%s.lock", path) >=
	    (int)sizeof(lpath)) {
		cause_set(cause, "%s.lock: path too long", path);
		return -1;
	}
	/* The directory may be writable by the service's group: no
	 * symlink is followed, and only a plain file of ours is used. */
	fd = open(lpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
	    0644);
	if (fd < 0) {
		cause_set(cause, "%s: %s", lpath, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != 0 && st.st_uid != geteuid())) {
		close(fd);
		cause_set(cause,
		    "%s: not a regular file of root or of "
		    "this user (refused)",
		    lpath);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			close(fd);
			cause_set(cause, "%s: %s", lpath, strerror(errno));
			return -1;
		}
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		pid = strtol(buf, NULL, 10);
		close(fd);
		cause_set(cause,
		    "another weftd (pid %ld) is running with "
		    "control socket %s (%s is locked)",
		    pid, path, lpath);
		return -2;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		close(fd);
		cause_set(cause, "%s: %s", lpath, strerror(errno));
		return -1;
	}
	return fd;
}

int
control_listen(const char *path, char **cause)
{
	struct conf_listener l;
	struct sock_how how = { "control socket ", 1, "" };

	/* Created 0600 from the start: no window where others could
	 * connect. */
	memset(&l, 0, sizeof(l));
	l.kind = CONF_LISTEN_UNIX;
	l.address = l.path = (char *)path;
	l.mode = 0600;
	l.uid = (uid_t)-1;
	l.gid = (gid_t)-1;
	l.backlog = 16;
	return sock_listen(&l, &how, cause);
}

void
control_reply(struct ctl_client *cl, const char *text)
{
	size_t len = strlen(text);

	(void)!send(cl->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	control_drop(cl);
}

void
control_send(struct ctl_client *cl, const char *buf, size_t size)
{
	(void)!send(cl->fd, buf, size, MSG_NOSIGNAL);
	control_drop(cl);
}

void
control_drop(struct ctl_client *cl)
{
	close(cl->fd);
	cl->fd = 0;
	cl->waiting = 0;
}

void
control_reply_waiting(struct ctl_server *cs, int what, const char *text)
{
	size_t k;

	for (k = 0; k < CTL_CLIENTS; k++)
		if (cs->cl[k].fd > 0 && cs->cl[k].waiting == what)
			control_reply(&cs->cl[k], text);
}

/*
 * The socket is 0600, but a mode is all that keeps others out, and a
 * socket's mode is easily loosened (by hand, by a wrong RuntimeDirectory
 * setting): the peer itself must be root, the user that started us (who
 * owns the socket) or `user`.  Others are closed unanswered.
 */
static int
peer_allowed(const struct ctl_server *cs, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	size_t k;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		log_warn("control connection: SO_PEERCRED");
		return 0;
	}
	for (k = 0; k < sizeof(cs->uids) / sizeof(cs->uids[0]); k++)
		if (cr.uid == cs->uids[k])
			return 1;
	log_warnx("control connection from pid %ld, uid %ld refused: only "
		  "root, the user weftd was started as (uid %ld) and the "
		  "service user may use it",
	    (long)cr.pid, (long)cr.uid, (long)cs->uids[1]);
	return 0;
}

void
control_accept(struct ctl_server *cs)
{
	size_t k;
	int fd;

	while ((fd = accept4(cs->fd, NULL, NULL,
		    SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (!peer_allowed(cs, fd)) {
			close(fd);
			continue;
		}
		for (k = 0; k < CTL_CLIENTS; k++)
			if (cs->cl[k].fd == 0)
				break;
		if (k == CTL_CLIENTS) {
			(void)!send(fd, "ERR busy\n", 9, MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		cs->cl[k].fd = fd;
		cs->cl[k].waiting = 0;
	}
}

int
control_read(struct ctl_client *cl, char *buf, size_t size)
{
	ssize_t n;

	n = read(cl->fd, buf, size - 1);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return 0;
		control_drop(cl); /* went away (what it waits for goes on) */
		return 0;
	}
	buf[n] = '\0';
	if (cl->waiting)
		return 0;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 1;
}

void
control_close(struct ctl_server *cs)
{
	size_t k;

	for (k = 0; k < CTL_CLIENTS; k++)
		if (cs->cl[k].fd > 0)
			control_reply(&cs->cl[k], "ERR stopped\n");
	if (cs->fd >= 0) {
		close(cs->fd);
		if (unlink(cs->path) != 0 && errno != ENOENT)
			log_notice("cannot remove control socket %s: %s",
			    cs->path, strerror(errno));
	}
}

/* Terminal control sequences in a reply stay out of the terminal. */
static void
print_clean(FILE *fp, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		putc(ch == '\n' || ch == '\t' || (ch < 0x80 && isprint(ch))
			? ch
			: '?',
		    fp);
	}
}

/*
 * Print a whole reply: its first line on stdout; after an "ERR" line the
 * lines that follow are the errors themselves ("file:line: ..." of a
 * failed reload), which go to stderr, as any error of weftd's does.
 */
static void
print_reply(const char *buf, size_t n, int body)
{
	const char *nl = memchr(buf, '\n', n);
	size_t first = nl != NULL ? (size_t)(nl - buf) + 1 : n;
	int err = n >= 3 && memcmp(buf, "ERR", 3) == 0;

	if (body && !err) /* the JSON alone, without its "OK" line */
		print_clean(stdout, buf + first, n - first);
	else
		print_clean(stdout, buf, err ? first : n);
	fflush(stdout);
	if (err && first < n)
		print_clean(stderr, buf + first, n - first);
}

/* Is path a socket of root, of this user or of the service user (the
 * supervisor binds it as whoever systemd starts it as: User=weft)?  -1
 * (said) if not. */
static int
socket_trusted(const char *path, uid_t service, struct stat *st)
{
	if (lstat(path, st) != 0) {
		fprintf(stderr,
		    "weftd: cannot reach the supervisor at %s: "
		    "%s\n",
		    path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st->st_mode) ||
	    (st->st_uid != 0 && st->st_uid != geteuid() &&
		st->st_uid != service)) {
		fprintf(stderr,
		    "weftd: %s: %s uid %ld, not by root, by "
		    "this user or by the service user: not the "
		    "supervisor's, refusing to use it\n",
		    path,
		    S_ISSOCK(st->st_mode) ? "socket owned by"
					  : "not a socket, owned by",
		    (long)st->st_uid);
		return -1;
	}
	return 0;
}

/*
 * Read the reply until the supervisor closes (a reload replies only when
 * it has finished, however long that takes) and print it: 1 if it says
 * OK, 0 if not, -1 if there was none.
 */
static int
read_reply(int fd, int body)
{
	char buf[4096], *reply = NULL, *more;
	size_t rlen = 0;
	ssize_t n;
	int ok = -1;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (ok < 0)
			ok = n >= 2 && memcmp(buf, "OK", 2) == 0;
		if ((more = realloc(reply, rlen + (size_t)n)) == NULL) {
			fprintf(stderr, "weftd: %s\n", strerror(ENOMEM));
			break;
		}
		reply = more;
		memcpy(reply + rlen, buf, (size_t)n);
		rlen += (size_t)n;
	}
	if (reply != NULL)
		print_reply(reply, rlen, body);
	free(reply);
	fflush(stdout);
	return ok;
}

int
control_client(const char *path, const char *cmd, uid_t service)
{
	struct sockaddr_un sun;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct stat st;
	char buf[4096];
	int fd, ok;
	size_t len;

	memset(&cr, 0, sizeof(cr));
	if (sock_unix_addr(path, &sun) != 0) {
		fprintf(stderr, "weftd: %s: path too long\n", path);
		return 1;
	}
	/*
	 * Whoever may write the directory may put their own socket there:
	 * talk only to a socket of root, of the user running this or of
	 * the service user, and only to a process that runs (ran
	 * listen(2)) as root or as the socket's owner.  The supervisor
	 * binds its control socket before it drops privileges, so both
	 * are whoever started it: root, or the service user under
	 * systemd's User=.
	 */
	if (socket_trusted(path, service, &st) != 0)
		return 1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr,
		    "weftd: cannot reach the supervisor at %s: "
		    "%s\n",
		    path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 ||
	    (cr.uid != 0 && cr.uid != st.st_uid)) {
		fprintf(stderr,
		    "weftd: %s: the process answering (pid %ld, "
		    "uid %ld) runs neither as root nor as the "
		    "socket's owner: not the supervisor, refusing "
		    "to use it\n",
		    path, (long)cr.pid, (long)cr.uid);
		close(fd);
		return 1;
	}
	/* One write: the supervisor acts on the first read. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(buf, sizeof(buf), "%s\n", cmd);
	len = strlen(buf);
	if (write(fd, buf, len) != (ssize_t)len) {
		fprintf(stderr, "weftd: %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	ok = read_reply(fd, strcmp(cmd, "status json") == 0);
	close(fd);
	if (ok < 0) {
		fprintf(stderr, "weftd: no reply from the supervisor\n");
		return 1;
	}
	return ok ? 0 : 1;
}
