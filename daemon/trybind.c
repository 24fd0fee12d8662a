/*
 * The trial bind of `weftd -t` (trybind.h).  A configuration can be
 * right and still not start: another program holds a port.  Binding each
 * address once, and letting go at once, finds that before a start or a
 * reload does.  On a live system the addresses are held by the weftd
 * being checked for; that one is recognised by its control socket, and
 * then nothing is said: its command line names the same file, or its
 * control socket answers.
 */
#include "autoconf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "sock.h"
#include "trybind.h"
#include "util.h"

/* Lines to report, joined by '\n'. */
static void
add_line(char **text, const char *fmt, const char *file, int line,
    const char *lis, const char *what, const char *addr, const char *why)
{
	char *s = NULL;

	cause_set(&s, fmt, file, line, lis, what, addr, why);
	if (*text == NULL)
		*text = s;
	else {
		cause_set(text, "%s\n%s", *text, s);
		free(s);
	}
}

/* Is a weftd serving with control socket path?  It answers there, or
 * holds its lock (a socket this user may not connect to). */
static int
weftd_running(const char *path)
{
	struct sockaddr_un sun;
	char lock[4200];
	int fd, rc;

	if (sock_unix_addr(path, &sun) != 0)
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0)
		return 1;
	snprintf(lock, sizeof(lock), "%s.lock", path);
	if ((fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	rc = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return rc;
}

/* The config file a weftd command line names (NULL: the default one);
 * -1 if it is no supervisor's (-t, --dump, -s). */
static int
cmdline_conf(const char *args, size_t len, const char **conf)
{
	const char *a, *end = args + len;

	*conf = NULL;
	for (a = args + strlen(args) + 1; a < end; a += strlen(a) + 1) {
		if (strcmp(a, "-t") == 0 || strcmp(a, "--test") == 0 ||
		    strcmp(a, "--dump") == 0 || strncmp(a, "-s", 2) == 0 ||
		    strncmp(a, "--signal", 8) == 0)
			return -1;
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) &&
		    a + strlen(a) + 1 < end)
			*conf = a += strlen(a) + 1;
		else if (strncmp(a, "--config=", 9) == 0)
			*conf = a + 9;
		else if (strncmp(a, "-c", 2) == 0)
			*conf = a + 2;
	}
	return 0;
}

/* Is process pid a weftd supervisor (or worker) of config file real? */
static int
same_conf(const char *pid, const char *real)
{
	char path[300], buf[4096], cwd[PATH_MAX], full[2 * PATH_MAX];
	char res[PATH_MAX];
	const char *arg, *base, *conf;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* weftd is argv[0], or a later word under a wrapper (valgrind). */
	for (arg = buf;; arg += strlen(arg) + 1) {
		if (arg >= buf + n)
			return 0;
		base = strrchr(arg, '/') != NULL ? strrchr(arg, '/') + 1 : arg;
		if (strcmp(base, "weftd") == 0 || strcmp(base, "lt-weftd") == 0)
			break;
	}
	if (cmdline_conf(arg, (size_t)(buf + n - arg), &conf) != 0)
		return 0;
	if (conf == NULL)
		conf = SYSCONFDIR "/weft/weftd.conf";
	if (conf[0] != '/') {
		snprintf(path, sizeof(path), "/proc/%s/cwd", pid);
		if ((n = readlink(path, cwd, sizeof(cwd) - 1)) <= 0)
			return 0;
		cwd[n] = '\0';
		snprintf(full, sizeof(full), "%s/%s", cwd, conf);
		conf = full;
	}
	return realpath(conf, res) != NULL && strcmp(res, real) == 0;
}

/*
 * Is the weftd of config file (started with -c naming it) running?  Its
 * command line says, which any user may read, whatever control socket
 * it was told to use.
 */
static int
conf_running(const char *file)
{
	char real[PATH_MAX], self[32];
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (realpath(file, real) == NULL || (d = opendir("/proc")) == NULL)
		return 0;
	snprintf(self, sizeof(self), "%ld", (long)getpid());
	while (!found && (de = readdir(d)) != NULL)
		found = isdigit((unsigned char)de->d_name[0]) &&
		    strcmp(de->d_name, self) != 0 &&
		    same_conf(de->d_name, real);
	closedir(d);
	return found;
}

/* Does systemd pass the socket of listener l (LISTEN_FDNAMES, or an
 * unnamed one, which may be any)? */
static int
activated(const struct conf_listener *l)
{
	const char *names = getenv("LISTEN_FDNAMES"), *p;
	size_t n;

	if (getenv("LISTEN_FDS") == NULL)
		return 0;
	if (names == NULL)
		return 1;
	for (p = names; *p != '\0'; p += n + (p[n] == ':')) {
		n = strcspn(p, ":");
		if (n == 0 || (n == 7 && strncmp(p, "unknown", 7) == 0) ||
		    (strlen(l->name) == n && strncmp(p, l->name, n) == 0))
			return 1;
	}
	return 0;
}

/* Bind l's address once: 0, or an errno. */
static int
try_tcp(const struct conf_listener *l)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	int fd, one = 1, error = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", l->port);
	/* A name that does not resolve is the start's to report. */
	if (getaddrinfo(l->host[0] != '\0' ? l->host : NULL, port, &hints,
		&res) != 0)
		return 0;
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		error = errno;
	else {
		/* As sock.c binds: a port in TIME_WAIT is free. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
			error = errno;
		close(fd);
	}
	freeaddrinfo(res);
	return error;
}

/* Is l's path a socket something accepts on? */
static int
unix_live(const struct conf_listener *l)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (sock_unix_addr(l->path, &sun) != 0 || lstat(l->path, &st) != 0 ||
	    !S_ISSOCK(st.st_mode))
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

int
trybind_check(const struct conf *c, const char *ctl, char **errors,
    char **warnings)
{
	const struct conf_listener *l;
	char nb[300];
	int nerr = 0, running = -1, error;
	size_t i;

	*errors = *warnings = NULL;
	for (i = 0; i < c->nlisteners; i++) {
		l = &c->listeners[i];
		if (activated(l) ||
		    (l->kind == CONF_LISTEN_TCP && l->port == 0))
			continue;
		if (l->name != NULL && l->name[0] != '\0')
			snprintf(nb, sizeof(nb), "listener \"%s\"", l->name);
		else
			snprintf(nb, sizeof(nb), "listener #%zu", i + 1);
		error = l->kind == CONF_LISTEN_TCP ? try_tcp(l)
		    : unix_live(l)		   ? EADDRINUSE
						   : 0;
		if (error == EACCES || error == EPERM) {
			add_line(warnings,
			    "%s:%d: %s: %s %s: could not check whether it is "
			    "free: %s (run -t as root to check it)",
			    l->file, l->line, nb, "tcp", l->address,
			    strerror(error));
			continue;
		}
		if (error == 0)
			continue;
		if (error == EADDRINUSE && running < 0)
			running = conf_running(c->file) ||
			    weftd_running(ctl != NULL ? ctl
				    : c->control_socket != NULL
				    ? c->control_socket
				    : control_default_path());
		if (error == EADDRINUSE && running)
			continue;
		/* A unit's ExecStartPre is not passed the sockets of its
		 * .socket unit, which holds them: only a warning there. */
		if (error == EADDRINUSE && getenv("INVOCATION_ID") != NULL) {
			add_line(warnings, "%s:%d: %s: %s %s: %s", l->file,
			    l->line, nb,
			    l->kind == CONF_LISTEN_TCP ? "tcp" : "unix",
			    l->kind == CONF_LISTEN_TCP ? l->address : l->path,
			    "in use (by a systemd socket unit, or another "
			    "program: the start will say)");
			continue;
		}
		add_line(errors, "%s:%d: %s: %s %s: %s", l->file, l->line, nb,
		    l->kind == CONF_LISTEN_TCP ? "tcp" : "unix",
		    l->kind == CONF_LISTEN_TCP ? l->address : l->path,
		    error == EADDRINUSE ? "address already in use"
					: strerror(error));
		nerr++;
	}
	return nerr;
}
