/*
 * Control socket plumbing shared by the supervisor (listening side) and
 * `weftd -s` (client side).  The supervisor's command handling lives in
 * supervisor.c, next to the state it reports and changes.
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

static int
fill_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

int
control_clear_stale(const char *path, char **cause)
{
	struct sockaddr_un sun;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct stat st;
	int fd, rc, error;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		cause_set(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Never remove what is not a socket: a file or a symlink put there
	 * is somebody else's. */
	if (!S_ISSOCK(st.st_mode)) {
		cause_set(cause, "%s: exists and is not a socket",
		    path);
		return -1;
	}
	if (fill_addr(path, &sun) != 0) {
		cause_set(cause, "%s: path too long", path);
		return -1;
	}
	/* Only a socket nobody listens on is left over from an earlier run.
	 * Non-blocking: a full backlog (EAGAIN) also means live. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		cause_set(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	error = errno;
	if (rc == 0 || error == EAGAIN) {
		char who[64] = "";

		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr,
		    &crlen) == 0 && cr.pid > 0)
			snprintf(who, sizeof(who), " (pid %ld)", (long)cr.pid);
		close(fd);
		cause_set(cause, "%s: in use: a running process%s listens "
		    "on it (another weftd?); not replacing it", path, who);
		return -2;
	}
	close(fd);
	if (error != ECONNREFUSED) {
		cause_set(cause, "%s: cannot tell whether it is in use: "
		    "%s", path, strerror(error));
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		cause_set(cause, "%s: cannot remove the stale "
		    "socket: %s", path, strerror(errno));
		return -1;
	}
	return 0;
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
		cause_set(cause, "%s: not a regular file of root or of "
		    "this user (refused)", lpath);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			close(fd);
			cause_set(cause, "%s: %s", lpath,
			    strerror(errno));
			return -1;
		}
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		pid = strtol(buf, NULL, 10);
		close(fd);
		cause_set(cause, "another weftd (pid %ld) is running with "
		    "control socket %s (%s is locked)", pid, path, lpath);
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
	struct sockaddr_un sun;
	mode_t old;
	int fd, rc;

	if (fill_addr(path, &sun) != 0) {
		cause_set(cause, "control socket %s: path too long",
		    path);
		return -1;
	}
	if ((rc = control_clear_stale(path, cause)) != 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* Created 0600 from the start: no window where others could
	 * connect. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (listen(fd, 16) != 0)
		goto fail;
	return fd;
fail:
	cause_set(cause, "control socket %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Terminal control sequences in a reply stay out of the terminal. */
static void
print_clean(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		putchar(ch == '\n' || ch == '\t' || (ch < 0x80 && isprint(ch))
			? ch
			: '?');
	}
}

int
control_client(const char *path, const char *cmd)
{
	struct sockaddr_un sun;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct stat st;
	char buf[4096];
	int fd, ok = -1;
	size_t len;
	ssize_t n;

	memset(&cr, 0, sizeof(cr));
	if (fill_addr(path, &sun) != 0) {
		fprintf(stderr, "weftd: %s: path too long\n", path);
		return 1;
	}
	/*
	 * Whoever may write the directory may put their own socket there:
	 * talk only to a socket of root or of the user running this, and
	 * only to a process that runs (ran listen(2)) as root or as the
	 * socket's owner.  The supervisor binds its control socket before
	 * it drops privileges, so both are whoever started it.
	 */
	if (lstat(path, &st) != 0) {
		fprintf(stderr, "weftd: cannot reach the supervisor at %s: "
				"%s\n",
		    path, strerror(errno));
		return 1;
	}
	if (!S_ISSOCK(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid())) {
		fprintf(stderr, "weftd: %s: %s uid %ld, not by root or by "
				"this user: not the supervisor's, refusing to "
				"use it\n",
		    path, S_ISSOCK(st.st_mode) ? "socket owned by" :
		    "not a socket, owned by", (long)st.st_uid);
		return 1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "weftd: cannot reach the supervisor at %s: "
				"%s\n",
		    path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 ||
	    (cr.uid != 0 && cr.uid != st.st_uid)) {
		fprintf(stderr, "weftd: %s: the process answering (pid %ld, "
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
	/* Read until the supervisor closes: a reload replies only when it
	 * has finished, however long that takes. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (ok < 0)
			ok = n >= 2 && memcmp(buf, "OK", 2) == 0;
		print_clean(buf, (size_t)n);
	}
	close(fd);
	fflush(stdout);
	if (ok < 0) {
		fprintf(stderr, "weftd: no reply from the supervisor\n");
		return 1;
	}
	return ok ? 0 : 1;
}
