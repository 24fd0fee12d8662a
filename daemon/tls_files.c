/*
 * Reading TLS certificates and keys (tls_files.h).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"
#include "safepath.h"
#include "tls_files.h"
#include "util.h"

#define PEM_MAX (1024 * 1024) /* a chain, or a key: far less */
#define LINKS_MAX 8

/*
 * Open path for reading as tls_files.h says; the fd, or -1 with *cause.
 * A link is followed from the directory that holds it, itself checked.
 */
static int
open_checked(const char *path, uid_t also, char **cause)
{
	char *cur = xstrdup(path), *next, target[PATH_MAX];
	const char *base;
	int dirfd, fd = -1, n, links = 0, saved;
	ssize_t len;

	for (;;) {
		privs_read_any(1);
		dirfd = safepath_parent(cur, also, &base, cause);
		if (dirfd >= 0)
			fd = openat(dirfd, base,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
				O_CLOEXEC);
		saved = errno;
		len = fd < 0 && dirfd >= 0 && saved == ELOOP
		    ? readlinkat(dirfd, base, target, sizeof(target) - 1)
		    : -1;
		privs_read_any(0);
		if (dirfd >= 0)
			close(dirfd);
		if (dirfd < 0 || fd >= 0 || len < 0 || ++links > LINKS_MAX)
			break;
		target[len] = '\0';
		/* A relative target is relative to the link's directory. */
		n = target[0] == '/' || strrchr(cur, '/') == NULL
		    ? 0
		    : (int)(strrchr(cur, '/') - cur + 1);
		if (asprintf(&next, "%.*s%s", n, cur, target) < 0)
			fatal("asprintf");
		free(cur);
		cur = next;
	}
	if (dirfd >= 0 && fd < 0)
		cause_set(cause, "%s: %s", path,
		    links > LINKS_MAX ? "too many symbolic links"
				      : strerror(saved));
	free(cur);
	return fd;
}

/* All of path into *buf (NUL-terminated, not counted in *len). */
static int
read_pem(const char *path, uid_t also, char **buf, size_t *len, char **cause)
{
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open_checked(path, also, cause)) < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode) || st.st_size > PEM_MAX) {
		cause_set(cause, "%s: %s", path,
		    st.st_mode == 0	       ? strerror(errno)
			: !S_ISREG(st.st_mode) ? "not a regular file"
					       : "larger than 1 MiB");
		close(fd);
		return -1;
	}
	*buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, *buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cause_set(cause, "%s: %s", path,
			    n < 0 ? strerror(errno) : "shorter than it was");
			explicit_bzero(*buf, off);
			free(*buf);
			*buf = NULL;
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	(*buf)[off] = '\0';
	*len = off;
	return 0;
}

/* Append "where: tls profile "name": what" to *all. */
static void
add_error(char **all, const char *where, const char *name, const char *what,
    char *why)
{
	char *s = NULL;

	cause_set(&s, "%s%s%s: tls profile \"%s\": %s%s", *all ? *all : "",
	    *all ? "\n" : "", where, name, what, why);
	free(*all);
	free(why);
	*all = s;
}

static void
read_pair(const char *cert, const char *key, struct conf_pem *pem, uid_t also,
    const char *where, const char *name, const char *what, char **all)
{
	char *why = NULL;

	if (cert != NULL && pem->cert == NULL &&
	    read_pem(cert, also, &pem->cert, &pem->cert_len, &why) != 0)
		add_error(all, where, name, what, why);
	why = NULL;
	if (key != NULL && pem->key == NULL &&
	    read_pem(key, also, &pem->key, &pem->key_len, &why) != 0)
		add_error(all, where, name, what, why);
}

int
tls_files_read(struct conf *c, uid_t also, char **cause)
{
	struct conf_tls *t;
	char *all = NULL, what[32];
	size_t i, j;

	for (i = 0; i < c->ntls; i++) {
		t = &c->tls[i];
		read_pair(t->cert, t->key, &t->pem, also, t->where, t->name, "",
		    &all);
		for (j = 0; j < t->nsni; j++) {
			snprintf(what, sizeof(what), "sni #%zu: ", j + 1);
			read_pair(t->sni[j].cert, t->sni[j].key, &t->sni[j].pem,
			    also, t->sni[j].where, t->name, what, &all);
		}
	}
	if (all == NULL)
		return 0;
	if (cause != NULL)
		*cause = all;
	else
		free(all);
	return -1;
}

uid_t
tls_files_owner(const struct conf *c)
{
	struct passwd *pw;

	if (c->user != NULL && (pw = getpwnam(c->user)) != NULL)
		return pw->pw_uid;
	return (uid_t)-1;
}
