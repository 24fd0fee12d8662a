/*
 * safepath_parent(): the directory chain of a file root opens, checked
 * through the fds walked (safepath.h).  Checking by path and opening the
 * path afterwards would be a race: whoever can rename a directory on the
 * way swaps in another tree in between.  safepath_open_append(): the
 * file in it, checked through the fd opened, for the same reason.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safepath.h"
#include "util.h"

/* The directory dirfd is (named where) may hold what root writes?  0, or
 * -1 with *cause set. */
static int
dir_safe(int dirfd, const char *path, const char *where, uid_t also,
    char **cause)
{
	struct stat st;

	if (fstat(dirfd, &st) != 0) {
		cause_set(cause, "%s: directory %s: %s", path, where,
		    strerror(errno));
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st.st_mode & S_ISVTX) == 0) {
		cause_set(cause,
		    "%s: directory %s is writable by %s and not "
		    "sticky (mode %04o), refusing it",
		    path, where,
		    (st.st_mode & S_IWOTH) ? "others" : "its group",
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != also) {
		cause_set(cause,
		    "%s: directory %s is owned by uid %u, not by "
		    "root or the service user, refusing it",
		    path, where, (unsigned)st.st_uid);
		return -1;
	}
	return 0;
}

/* The absolute form of path, malloc'd, or NULL with *cause set. */
static char *
absolute(const char *path, char **cause)
{
	char cwd[PATH_MAX], *abs;
	size_t n;

	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		cause_set(cause, "%s: cannot get the current directory: %s",
		    path, strerror(errno));
		return NULL;
	}
	n = strlen(cwd) + strlen(path) + 2;
	abs = xmalloc(n);
	memcpy(abs, cwd, strlen(cwd));
	abs[strlen(cwd)] = '/';
	memcpy(abs + strlen(cwd) + 1, path, strlen(path) + 1);
	return abs;
}

/* Step from dirfd (the directory where names) into its entry name; the
 * new fd, or -1 with *cause set. */
static int
step(int dirfd, const char *path, const char *where, const char *name,
    char **cause)
{
	struct stat st;
	int fd;

	fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		cause_set(cause,
		    "%s: %s%s%s is a symbolic link, refusing to "
		    "follow it",
		    path, where, strcmp(where, "/") == 0 ? "" : "/", name);
	else
		cause_set(cause, "%s: %s%s%s: %s", path, where,
		    strcmp(where, "/") == 0 ? "" : "/", name, strerror(errno));
	return -1;
}

int
safepath_parent(const char *path, uid_t also, const char **base, char **cause)
{
	char *abs, *name, *next, *where;
	size_t wlen;
	int dirfd, fd;

	if (*path == '\0' || path[strlen(path) - 1] == '/') {
		cause_set(cause, "%s: %s", path, strerror(EISDIR));
		return -1;
	}
	if ((abs = absolute(path, cause)) == NULL)
		return -1;
	/* where: the part of abs walked so far, for messages. */
	where = xcalloc(1, strlen(abs) + 2);
	strcpy(where, "/");
	if ((dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		cause_set(cause, "%s: /: %s", path, strerror(errno));
		goto fail;
	}
	for (name = abs;; name = next) {
		while (*name == '/')
			name++;
		if ((next = strchr(name, '/')) == NULL)
			break; /* name is the file's */
		*next++ = '\0';
		if (dir_safe(dirfd, path, where, also, cause) != 0)
			goto fail;
		if (strcmp(name, ".") == 0)
			continue;
		if ((fd = step(dirfd, path, where, name, cause)) < 0)
			goto fail;
		close(dirfd);
		dirfd = fd;
		wlen = strlen(where);
		if (wlen > 1)
			where[wlen++] = '/';
		strcpy(where + wlen, name);
	}
	if (dir_safe(dirfd, path, where, also, cause) != 0)
		goto fail;
	*base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	free(abs);
	free(where);
	return dirfd;
fail:
	if (dirfd >= 0)
		close(dirfd);
	free(abs);
	free(where);
	return -1;
}

/* What fd was opened on is what the caller may append to?  0, or -1
 * with *cause set. */
static int
file_safe(int fd, const char *path, uid_t also, int flags, char **cause)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		cause_set(cause, "%s: fstat: %s", path, strerror(errno));
		return -1;
	}
	if (!(S_ISREG(st.st_mode) && st.st_nlink == 1) &&
	    !((flags & SAFEPATH_FIFO) && S_ISFIFO(st.st_mode))) {
		cause_set(cause,
		    "%s: not a regular file with a single link%s, "
		    "refusing it",
		    path, (flags & SAFEPATH_FIFO) ? " or a FIFO" : "");
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != also) {
		cause_set(cause,
		    "%s: owned by uid %ld, not by root or the service "
		    "user, refusing it",
		    path, (long)st.st_uid);
		return -1;
	}
	return 0;
}

int
safepath_open_append(const char *path, uid_t also, int flags, char **cause)
{
	const char *base;
	int fd, dirfd;

	/* The directories on the way first: whoever could swap one would
	 * choose the file. */
	if ((dirfd = safepath_parent(path, also, &base, cause)) < 0)
		return -1;
	fd = openat(dirfd, base,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
		O_NONBLOCK,
	    0640);
	close(dirfd);
	if (fd < 0) {
		if (errno == ELOOP)
			cause_set(cause,
			    "%s: is a symbolic link, refusing to follow it",
			    path);
		else
			cause_set(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (file_safe(fd, path, also, flags, cause) != 0) {
		close(fd);
		return -1;
	}
	if ((flags & SAFEPATH_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, O_APPEND);
	return fd;
}
