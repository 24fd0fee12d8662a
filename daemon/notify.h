/*
 * systemd integration for the supervisor: readiness and status messages
 * (sd_notify) and socket activation (LISTEN_FDS).  The notifications use
 * libsystemd when configure found it and are no-ops otherwise; LISTEN_FDS
 * is read by hand in every build (a binary upgrade passes sockets that way).
 */
#ifndef WEFTD_NOTIFY_H
#define WEFTD_NOTIFY_H

#include <stdint.h>

/* Send one notification ("READY=1", "STATUS=...", ...).  No-op outside
 * systemd (no NOTIFY_SOCKET). */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* RELOADING=1 with MONOTONIC_USEC (required by systemd >= 253). */
void notify_reloading(void);

/*
 * A binary upgrade's new supervisor (pid) is ready: make it the unit's
 * main process (MAINPID=), wait until systemd has taken that in (the old
 * main process may exit right after), and say nothing more from here.
 */
void notify_mainpid(long pid);

/* The watchdog interval systemd asked for, in ms; 0 = none. */
uint64_t notify_watchdog_ms(void);

/*
 * Sockets passed by systemd (LISTEN_FDS), with their FileDescriptorName
 * ("" if unnamed).  Returns the count (0 if none) and sets *fds and
 * *names (caller frees both arrays and each name).  The environment is
 * cleared so workers do not see it.
 */
int notify_listen_fds(int **fds, char ***names);

/* Drop NOTIFY_SOCKET etc. from the environment (in workers). */
void notify_forget(void);

#endif /* WEFTD_NOTIFY_H */
