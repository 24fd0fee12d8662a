/*
 * systemd notifications and socket activation.  Only the supervisor (the
 * unit's main PID, NotifyAccess=main) talks to systemd.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"
#include "util.h"

void
notify_send(const char *fmt, ...)
{
#ifdef HAVE_SYSTEMD
	char msg[512];
	va_list ap;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sd_notify(0, msg) < 0)
		log_debug("sd_notify failed");
#endif
}

void
notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
		(unsigned long long)ts.tv_nsec / 1000ULL);
}

void
notify_mainpid(long pid)
{
#ifdef HAVE_SYSTEMD
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	/* NotifyAccess=main: only this process, main until now, may say
	 * so; systemd takes a pid of the unit's own cgroup. */
	if (sd_notifyf(0, "MAINPID=%ld", pid) < 0)
		log_warnx("sd_notify(MAINPID=%ld) failed", pid);
	else if (sd_notify_barrier(0, 5000000ULL) < 0)
		log_debug("sd_notify_barrier failed");
	unsetenv("NOTIFY_SOCKET");
#else
	(void)pid;
#endif
}

uint64_t
notify_watchdog_ms(void)
{
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec / 1000;
#endif
	return 0;
}

/*
 * Socket activation's protocol, read by hand in every build: libsystemd's
 * reader would be a second path for the same thing, and a binary upgrade
 * (daemon/upgrade.c) passes its listeners this way whether or not weftd
 * was built for systemd.  LISTEN_PID must be this process; the fds are
 * 3 .. 3+LISTEN_FDS-1, made close-on-exec as sd_listen_fds(1) does, and
 * systemd's name "unknown" means unnamed.
 */
int
notify_listen_fds(int **fds, char ***names)
{
	const char *e = getenv("LISTEN_PID"), *f = getenv("LISTEN_FDS");
	const char *nm = getenv("LISTEN_FDNAMES"), *p;
	char *end;
	long pid, n;
	size_t len;
	int i;

	*fds = NULL;
	*names = NULL;
	if (e == NULL || f == NULL)
		return 0;
	errno = 0;
	pid = strtol(e, &end, 10);
	if (errno != 0 || *end != '\0' || pid != (long)getpid())
		return 0;
	n = strtol(f, &end, 10);
	if (errno != 0 || *end != '\0' || n <= 0 || n > 4096)
		return 0;
	*fds = xcalloc((size_t)n, sizeof(int));
	*names = xcalloc((size_t)n + 1, sizeof(char *));
	for (i = 0, p = nm; i < n; i++) {
		(*fds)[i] = 3 + i;
		(void)fcntl(3 + i, F_SETFD, FD_CLOEXEC);
		len = p != NULL ? strcspn(p, ":") : 0;
		(*names)[i] = xcalloc(len + 1, 1);
		if (len > 0)
			memcpy((*names)[i], p, len);
		if (p != NULL)
			p = p[len] == ':' ? p + len + 1 : NULL;
		if (strcmp((*names)[i], "unknown") == 0)
			(*names)[i][0] = '\0';
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

void
notify_forget(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
}
