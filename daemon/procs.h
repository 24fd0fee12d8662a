/*
 * The supervisor's process table: the workers of every generation, each
 * in a slot of its generation (forked, watched through its report pipe
 * and its heartbeat, signalled, reaped and respawned with a backoff),
 * and the reload probe, forked the same way.
 */
#ifndef WEFTD_PROCS_H
#define WEFTD_PROCS_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "listeners.h"
#include "metrics.h"
#include "stats.h"
#include "tickets.h"

#define MAX_WORKERS 1024
#define MAX_PROCS (3 * MAX_WORKERS)

/* A worker slot of a generation: what outlives its processes. */
struct slot {
	int backoff_ms;
	int boot_failures;    /* in a row */
	uint64_t respawn_at;  /* 0 = nothing scheduled */
	struct slot_stats st; /* for `weftd -s status` */
};

/* A generation: one config, its listeners and its worker slots. */
struct gen {
	int id;
	struct conf *conf;
	struct lset ls;
	int nslots;
	int draining;	    /* asked to stop: never respawned */
	int on_trial;	    /* a reload's: a worker that dies before it
				 * is ready fails the whole generation */
	struct slot *slots; /* MAX_WORKERS of them */
	struct gen *older;  /* the next draining generation */
	/* Its workers' loads, shared with them (balance.h). */
	struct balance *bal;
};

struct proc {
	pid_t pid; /* 0: a free entry */
	struct gen *gen;
	int slot;
	int pipe; /* read end of the report pipe, -1 closed */
	int ready;
	int stopping; /* we sent TERM/KILL: its exit is expected */
	uint64_t started;
	uint64_t abort_at; /* SIGABRT sent (heartbeat), 0 = no */
};

struct procs {
	struct proc v[MAX_PROCS];
	struct worker_stats *stats; /* shared with the workers, like v */
	struct listeners *L;	    /* the sockets a slot's worker gets */
	struct tickets tickets;	    /* the TLS ticket keys, shared too */
	struct metrics metrics;	    /* the daemon-wide page, read-only */
};

/* What the reaping of a worker asks of the supervisor. */
enum proc_exit {
	PROC_EXIT_OK,	      /* nothing more (respawn scheduled, or not) */
	PROC_EXIT_GEN_FAILED, /* an on_trial generation failed */
	PROC_EXIT_GIVE_UP,    /* a slot keeps failing to boot: stop */
};

/* Map the shared stats. */
void procs_init(struct procs *pt, struct listeners *L);

/* Start the worker of g's slot (or schedule a later try). */
void procs_spawn(struct procs *pt, struct gen *g, int slot);

/*
 * Fork the reload probe: c's plugins loaded and initialised in a process
 * holding nothing of the supervisor's.  Returns its pid, -1 (logged) if
 * fork fails; *errfd is where its error lines can be read once it has
 * exited (-1: nowhere), for the caller to close.
 */
pid_t procs_probe(struct procs *pt, struct conf *c, int *errfd);

struct proc *procs_find(struct procs *pt, pid_t pid);

/*
 * p ended with status: log why, free its entry, and unless that was
 * expected or respawn is 0, schedule its slot's next worker.  why (size
 * bytes) says why for PROC_EXIT_GIVE_UP.
 */
enum proc_exit procs_reaped(struct procs *pt, struct proc *p, int status,
    int respawn, char *why, size_t size);

/* Send sig to the workers of g (NULL: every worker); with stop, their
 * exit is expected. */
void procs_signal(struct procs *pt, const struct gen *g, int sig, int stop);

/* SIGTTIN (delta 1) and SIGTTOU (-1): one worker more or less in g. */
void procs_resize(struct procs *pt, struct gen *g, int delta);

/* Live workers of g (NULL: every one); *ready (may be NULL) of them
 * ready. */
int procs_count(const struct procs *pt, const struct gen *g, int *ready);

/* Fork the workers of g whose respawn is due; *next: the earliest one
 * still to come (unchanged if none is sooner). */
void procs_respawn_due(struct procs *pt, struct gen *g, uint64_t now,
    uint64_t *next);

/* Abort (then kill) a worker whose heartbeat stopped. */
void procs_check_heartbeats(struct procs *pt, uint64_t now);

/* Has every serving worker ticked lately?  (systemd's watchdog.) */
int procs_alive(const struct procs *pt, uint64_t now);

/* The report pipes to poll: pfds and, for each, its index in pt->v.
 * Returns how many. */
int procs_pollfds(const struct procs *pt, struct pollfd *pfds, int *idx);

/* Read the reports of the pipes poll found ready. */
void procs_read_reports(struct procs *pt, const struct pollfd *pfds,
    const int *idx, int n);

/* The WORKER counters summed over every worker. */
void procs_sum(const struct procs *pt, struct stats_sum *sum);

/* The table of `weftd -s status`: titles, then a line per worker. */
void procs_print(const struct procs *pt, FILE *fp, uint64_t now);

/* Then, if g has TLS listeners, their counters summed over g's live
 * workers: a line per listener. */
void procs_print_tls(const struct procs *pt, const struct gen *g, FILE *fp);

/* Then, if g has listeners with an access log, the lines each dropped
 * (summed the same way) and its target: a line per listener. */
void procs_print_alog(const struct procs *pt, const struct gen *g, FILE *fp);

#endif /* WEFTD_PROCS_H */
