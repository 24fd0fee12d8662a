/*
 * Declarations shared by weftd's process roles: the supervisor (binds
 * listeners, forks and watches workers), the workers (run plugins) and the
 * checks (`weftd -t`, the reload probe).
 */
#ifndef WEFTD_WEFTD_H
#define WEFTD_WEFTD_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* Messages a worker writes to the supervisor over its report pipe.
 * One byte each; bump nothing, they are only ever appended. */
#define REPORT_READY 'R'

/* Exit status of a worker that could not boot (plugin load/init). */
#define WORKER_EXIT_BOOT 3

/* What each worker publishes in memory shared with the supervisor: the
 * heartbeat the supervisor watches, and the figures `weftd -s status`
 * prints.  Written by one worker, read by the supervisor; word-sized
 * fields, so torn reads cannot happen on the platforms we build for.
 * Each is a page of its own, so that a worker can be left with its own
 * entry mapped and no other (with larger pages, a few share one). */
struct __attribute__((aligned(4096))) worker_stats {
	volatile uint64_t heartbeat; /* CLOCK_MONOTONIC ms; 0 = not watched */
	volatile uint64_t accepted;
	volatile uint64_t active;
	volatile uint64_t emfile_pauses;
};

/* What a forked worker is given. */
struct worker_args {
	const struct conf *conf;
	int index;		/* slot in its generation, 0-based */
	int generation;
	const int *fds;		/* one listening fd per conf listener */
	int report_fd;		/* write end of the report pipe */
	struct worker_stats *stats;	/* shared with the supervisor */
	pid_t supervisor;	/* its death stops the worker (SIGTERM) */
};

/* Run a worker; never returns. */
void worker_main(const struct worker_args *a) __attribute__((noreturn));

/*
 * Load and init every plugin of c in this process, on a throwaway loop,
 * then fini and unload them: `weftd -t` and the reload probe.  Errors are
 * logged; returns 0 if all succeeded.
 */
int worker_check_plugins(const struct conf *c);

/* Run the supervisor; never returns. */
void supervisor_main(struct conf *c, const char *conffile,
    const char *ctl_path) __attribute__((noreturn));

/* How often a worker ticks its heartbeat under config c. */
uint64_t heartbeat_tick_ms(const struct conf *c);

/* Milliseconds on CLOCK_MONOTONIC (shared by all processes). */
uint64_t weftd_now_ms(void);

#endif /* WEFTD_WEFTD_H */
