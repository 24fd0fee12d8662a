/*
 * Control socket plumbing shared by the supervisor (listening side) and
 * `weftd -s` (client side).  The supervisor's command handling lives in
 * supervisor.c, next to the state it reports and changes.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

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
control_listen(const char *path, char **cause)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd;

	if (fill_addr(path, &sun) != 0) {
		if (asprintf(cause, "%s: path too long", path) < 0)
			*cause = NULL;
		return -1;
	}
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* left by an earlier run */
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
	if (asprintf(cause, "control socket %s: %s", path, strerror(errno)) <
	    0)
		*cause = NULL;
	if (fd >= 0)
		close(fd);
	return -1;
}

int
control_client(const char *path, const char *cmd)
{
	struct sockaddr_un sun;
	char buf[4096];
	int fd, ok = -1;
	size_t len;
	ssize_t n;

	if (fill_addr(path, &sun) != 0) {
		fprintf(stderr, "weftd: %s: path too long\n", path);
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
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	fflush(stdout);
	if (ok < 0) {
		fprintf(stderr, "weftd: no reply from the supervisor\n");
		return 1;
	}
	return ok ? 0 : 1;
}
