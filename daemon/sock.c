/*
 * The one binder (sock.h).  The supervisor binds before it drops
 * privileges, so every listener of the first generation, a port below
 * 1024 included, is bound as whoever started it.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"
#include "util.h"

int
sock_unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/*
 * Make room for a new UNIX socket at path: 0 if nothing is there or it was
 * a socket nothing listens on (connect(2) refused; it is removed).  -2
 * with *cause if a process listens on it (the message names its pid), -1
 * with *cause if it is not a socket or cannot be checked.
 */
static int
clear_stale(const char *path, char **cause)
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
		cause_set(cause, "%s: exists and is not a socket", path);
		return -1;
	}
	if (sock_unix_addr(path, &sun) != 0) {
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

		if (rc == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0 &&
		    cr.pid > 0)
			snprintf(who, sizeof(who), " (pid %ld)", (long)cr.pid);
		close(fd);
		cause_set(cause,
		    "%s: in use: a running process%s listens "
		    "on it (another weftd?); not replacing it",
		    path, who);
		return -2;
	}
	close(fd);
	if (error != ECONNREFUSED) {
		cause_set(cause,
		    "%s: cannot tell whether it is in use: "
		    "%s",
		    path, strerror(error));
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		cause_set(cause,
		    "%s: cannot remove the stale "
		    "socket: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/* "owner weft, group www-data" for messages. */
static void
owner_text(const struct conf_listener *l, uid_t uid, gid_t gid, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", uid != (uid_t)-1 ? "owner " : "",
	    uid != (uid_t)-1 ? l->owner : "",
	    uid != (uid_t)-1 && gid != (gid_t)-1 ? ", " : "",
	    gid != (gid_t)-1 ? "group " : "", gid != (gid_t)-1 ? l->group : "");
}

/*
 * At startup the supervisor still runs as whoever started it, root in
 * production, so any owner works.  After dropping privileges it
 * is `user` and can only give a file to itself and to its own groups, so
 * on a reload a socket that needs another owner cannot be made: that is
 * an error, which fails the reload, and the message says why.
 *
 * The path is in a directory others may write to (the shipped runtime
 * directory is writable by the service's group), so whatever is there
 * now may have been put there in place of the socket.  Nothing is done
 * by path: an O_PATH|O_NOFOLLOW open takes what is there without
 * following a symlink, and only a socket is changed, through that fd.
 */
int
sock_unix_attrs(const struct conf_listener *l, int mode, uid_t uid, gid_t gid,
    const char *run_as, char **cause)
{
	char what[600], hint[640] = "", proc[64];
	struct stat st;
	int fd, error;

	if ((fd = open(l->path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		error = errno;
		snprintf(what, sizeof(what), "its mode or owner");
		goto fail;
	}
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		close(fd);
		cause_set(cause,
		    "%s: is no longer a socket (replaced by "
		    "someone else?): not changing its mode or owner",
		    l->path);
		return -1;
	}
	/* fchmod() fails on an O_PATH fd and fchmodat() has no
	 * AT_EMPTY_PATH before Linux 6.6; /proc/self/fd/N names the inode
	 * the fd holds, not the path. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (mode >= 0 && chmod(proc, (mode_t)mode) != 0) {
		error = errno;
		close(fd);
		snprintf(what, sizeof(what), "mode %04o", (unsigned)mode);
		goto fail;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) {
		error = errno;
		close(fd);
		owner_text(l, uid, gid, what, sizeof(what));
		goto fail;
	}
	close(fd);
	return 0;
fail:
	if (error == EPERM && run_as[0] != '\0')
		snprintf(hint, sizeof(hint),
		    " (the supervisor runs as %s since "
		    "it dropped privileges; restart weftd to apply this)",
		    run_as);
	else if (error == EPERM && geteuid() != 0)
		snprintf(hint, sizeof(hint),
		    " (weftd runs neither as root nor "
		    "with CAP_CHOWN)");
	cause_set(cause, "%s: cannot set %s: %s%s", l->path, what,
	    strerror(error), hint);
	return -1;
}

/* Resolve a TCP listener's address; -1 with *cause. */
static int
tcp_addr(const struct conf_listener *l, const struct sock_how *how,
    struct addrinfo **res, char **cause)
{
	struct addrinfo hints;
	char port[16];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", l->port);
	rc = getaddrinfo(l->host[0] != '\0' ? l->host : NULL, port, &hints,
	    res);
	if (rc != 0) {
		cause_set(cause, "%s%s: %s", how->what, l->address,
		    gai_strerror(rc));
		return -1;
	}
	return 0;
}

/* SO_REUSEADDR, SO_REUSEPORT if asked for, IPV6_V6ONLY; -1 on failure. */
static int
tcp_options(int fd, int family, int reuse_port)
{
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Set before bind: Debian 12's libuv has no UV_TCP_REUSEPORT. */
	if (reuse_port &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	return 0;
}

int
sock_listen(const struct conf_listener *l, const struct sock_how *how,
    char **cause)
{
	int un = l->kind == CONF_LISTEN_UNIX, fd = -1, rc;
	const char *name = un ? l->path : l->address;
	struct addrinfo *res = NULL;
	struct sockaddr_un sun;
	mode_t old = 0;

	if (un && sock_unix_addr(l->path, &sun) != 0) {
		cause_set(cause, "%s%s: path too long", how->what, name);
		return -1;
	}
	/* A socket left by an earlier run is ours to replace; a live one
	 * (another weftd's) or any other file is not. */
	if (un && (rc = clear_stale(l->path, cause)) != 0)
		return rc;
	if (!un && tcp_addr(l, how, &res, cause) != 0)
		return -1;
	fd = socket(un ? AF_UNIX : res->ai_family,
	    SOCK_STREAM | SOCK_CLOEXEC | (how->nonblock ? SOCK_NONBLOCK : 0),
	    0);
	if (fd < 0 ||
	    (!un && tcp_options(fd, res->ai_family, l->reuse_port) != 0))
		goto fail;
	/* bind() creates the file 0777 & ~umask: the mode is right from
	 * the start, with no chmod by path someone could redirect between
	 * bind() and chmod() (one thread: the umask is ours alone). */
	if (un && l->mode >= 0)
		old = umask(~(mode_t)l->mode & 0777);
	rc = un ? bind(fd, (struct sockaddr *)&sun, sizeof(sun))
		: bind(fd, res->ai_addr, res->ai_addrlen);
	if (un && l->mode >= 0)
		umask(old);
	if (rc != 0)
		goto fail;
	/* Before listen(): nobody connects while it has the wrong owner. */
	if (un && (l->uid != (uid_t)-1 || l->gid != (gid_t)-1) &&
	    sock_unix_attrs(l, -1, l->uid, l->gid, how->run_as, cause) != 0) {
		close(fd);
		unlink(l->path);
		return -1;
	}
	if (listen(fd, l->backlog) != 0)
		goto fail;
	if (res != NULL)
		freeaddrinfo(res);
	return fd;
fail:
	cause_set(cause, "%s%s: %s", how->what, name, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return -1;
}
