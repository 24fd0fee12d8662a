/*
 * The worker role: what the supervisor (procs.c) gives a forked worker
 * and what the worker tells it back, and the plugin check that `weftd -t`
 * and the reload probe run in a process of their own.
 */
#ifndef WEFTD_WORKER_H
#define WEFTD_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include <weft/tls.h>

#include "config.h"
#include "stats.h"

/* Messages a worker writes to the supervisor over its report pipe.
 * One byte each; bump nothing, they are only ever appended. */
#define REPORT_READY 'R'

/* Exit status of a worker that could not boot (plugin load/init). */
#define WORKER_EXIT_BOOT 3

/* What a forked worker is given. */
struct worker_args {
	const struct conf *conf;
	int index; /* slot in its generation, 0-based */
	int generation;
	const int *fds;		    /* one listening fd per conf listener */
	int *alog_fds;		    /* one access log per listener, or < 0 */
	int report_fd;		    /* the worker's end of the report socket */
	struct worker_stats *stats; /* shared with the supervisor */
	struct balance *balance;    /* its generation's loads (balance.h) */
	pid_t supervisor;	    /* its death stops the worker (SIGTERM) */
	/* The TLS ticket keys every worker shares (tickets.h), read-only. */
	const weft_tls_ticket_key_t *tickets;
};

/* Run a worker; never returns. */
void worker_main(const struct worker_args *a) __attribute__((noreturn));

/*
 * Load and init every plugin of c in this process, on a throwaway loop,
 * then fini and unload them, and make every TLS profile's context from
 * the PEM text read (tls_files.h): `weftd -t` and the reload probe.
 * Errors are logged; returns 0 if all succeeded.
 */
int worker_check_plugins(const struct conf *c);

/* The same, each error's lines also written to errfd, '\n'-terminated
 * (the reload probe's report to the supervisor). */
int worker_check_plugins_fd(const struct conf *c, int errfd);

/* How often a worker ticks its heartbeat under config c. */
uint64_t heartbeat_tick_ms(const struct conf *c);

/* Milliseconds on CLOCK_MONOTONIC (shared by all processes). */
uint64_t weftd_now_ms(void);

#endif /* WEFTD_WORKER_H */
