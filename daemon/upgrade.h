/*
 * Binary upgrade (SIGUSR2, `weftd -s upgrade`): the supervisor forks and
 * execs the weftd binary it was started from, handing over its listening
 * sockets the way systemd's socket activation does (LISTEN_FDS,
 * LISTEN_PID, LISTEN_FDNAMES), with its control socket, its lock file
 * and a readiness pipe named in WEFTD_UPGRADE.  The new supervisor loads
 * the config, starts its own generation and writes "OK" on the pipe once
 * every worker is ready ("ERR reason" if it cannot start); then the old
 * one hands the systemd main PID over, gives up its paths and drains as
 * a graceful stop does.  If the new one fails, or is not ready in time,
 * the old one kills it and goes on serving.
 *
 * The new supervisor is forked twice, so that it is not the old one's
 * child but the reaper's (systemd, or init): systemd watches a main PID
 * it is the parent of, and one that is not would be "alien" to it (a
 * stop would not wait for it to drain).  So the old supervisor learns
 * of the new one's end by its pipe, not by waitpid().
 */
#ifndef WEFTD_UPGRADE_H
#define WEFTD_UPGRADE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "listeners.h"

/* How long a new supervisor may take to become ready. */
#define UPGRADE_TIMEOUT_MS 60000

/* The old supervisor's side of an upgrade under way. */
struct upgrade {
	pid_t pid;	   /* the new supervisor, 0: none */
	int fd;		   /* its end of the readiness pipe */
	uint64_t deadline; /* killed if not ready by then */
	char reply[512];   /* what it wrote so far */
	size_t rlen;
};

/* Where an upgrade is at. */
enum upgrade_state {
	UPGRADE_RUNNING,
	UPGRADE_FAILED, /* msg says why; the old supervisor serves on */
	UPGRADE_DONE,	/* the new supervisor serves */
};

/*
 * At the very start of main: record the binary's path (argv[0], made
 * absolute, symlinks resolved) and the command line to exec it with; if
 * this process is a new supervisor (WEFTD_UPGRADE), take the descriptors
 * its old one passed.
 */
void upgrade_record(int argc, char **argv);

/* ---- The old supervisor ---- */

/*
 * Fork and exec the recorded binary, passing cur's listening sockets,
 * the control socket ctl_fd and the lock lock_fd (-1: none).  0 once it
 * runs, -1 with *cause if it could not be started.
 */
int upgrade_start(struct upgrade *U, const struct lset *cur, int ctl_fd,
    int lock_fd, char **cause);

/* Has the new supervisor answered, failed or run out of time? */
enum upgrade_state upgrade_check(struct upgrade *U, uint64_t now, char *msg,
    size_t size);

/* Stopping: kill a new supervisor not ready yet; 1 if there was one. */
int upgrade_cancel(struct upgrade *U);

/* ---- The new supervisor ---- */

/* The old supervisor's pid if this one was started by an upgrade and has
 * not reported ready (it may have reported its failure), else 0. */
pid_t upgrade_child_pending(void);

/* Turn the sockets the old supervisor passed into L->inherited, which the
 * first generation takes its listeners from. */
void upgrade_child_take(struct listeners *L);

/* After the first generation is bound: close what it did not take
 * (never removing a path: the old supervisor still serves on it). */
void upgrade_child_release(struct listeners *L);

/* The inherited control socket and lock file, or -1. */
int upgrade_child_ctl(void);
int upgrade_child_lock(void);

/* Report ready (every worker of the first generation is), or failure,
 * to the old supervisor; no-ops outside an upgrade, or once said. */
void upgrade_child_ready(void);
void upgrade_child_fail(const char *why);

/* `weftd -s status`: the binary running and where it came from. */
void upgrade_status(FILE *fp);

#endif /* WEFTD_UPGRADE_H */
