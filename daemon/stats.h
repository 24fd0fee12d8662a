/*
 * Every counter weftd publishes, listed once.  The list generates the
 * stats a worker shares with the supervisor, each worker's sum over its
 * servers, the supervisor's sum over the workers, the columns of
 * `weftd -s status` and the totals of its first line and of systemd's
 * STATUS=.  A new counter is one line here (and, for a worker's, a field
 * of libweft's WEFT_SERVER_STATS_MAP that counts it).
 *
 * X(name, source, field, width, total):
 *   name    its field, and its column in `weftd -s status` (in this order);
 *   source  WORKER: each worker adds up that field of weft_server_stats()
 *           over its servers at every heartbeat and publishes the sum in
 *           shared memory; SLOT: the supervisor keeps it per worker slot
 *           (field unused);
 *   width   its column's width (0: the last column, not padded);
 *   total   the words after its sum over every worker in the status line
 *           and in STATUS= ("3 connection(s)"), or NULL for none
 *           (WORKER counters only).
 */
#ifndef WEFTD_STATS_H
#define WEFTD_STATS_H

#include <stdint.h>
#include <stdio.h>

#define WEFTD_STATS(X)                                                         \
	X(accepted, WORKER, accepted, 10, NULL)                                \
	X(active, WORKER, active, 8, "connection(s)")                          \
	X(restarts, SLOT, none, 8, NULL)                                       \
	X(emfile_pauses, WORKER, emfile_pauses, 13, NULL)                      \
	X(tls_handshakes, WORKER, tls_handshakes, 14, NULL)                    \
	X(tls_resumed, WORKER, tls_resumed, 11, NULL)                          \
	X(tls_failed, WORKER, tls_failed, 10, NULL)                            \
	X(tls_timeouts, WORKER, tls_timeouts, 12, NULL)                        \
	X(send_timeouts, WORKER, send_timeouts, 0, NULL)

/*
 * A TLS listener's own counters, shown per listener by `weftd -s
 * status`: X(field of weft_server_stats_t).
 */
#define STATS_TLS_MAP(X)                                                       \
	X(tls_handshakes)                                                      \
	X(tls_resumed)                                                         \
	X(tls_failed)                                                          \
	X(tls_timeouts) X(tls_failed_verify) X(tls_failed_closed)
#define STATS_TLS_N 6
#define STATS_TLS_LISTENERS 64

/* STATS_IF_<source>(x): x for a worker's counter, nothing for a slot's;
 * STATS_IF_NOT_<source>(x): the other way round. */
#define STATS_IF_WORKER(x) x
#define STATS_IF_SLOT(x)
#define STATS_IF_NOT_WORKER(x)
#define STATS_IF_NOT_SLOT(x) x

/*
 * What each worker publishes in memory shared with the supervisor: the
 * heartbeat the supervisor watches, and its WORKER counters.  Written by
 * one worker, read by the supervisor; word-sized fields, so torn reads
 * cannot happen on the platforms we build for.  Each is a page of its
 * own, so that a worker can be left with its own entry mapped and no
 * other (with larger pages, a few share one).
 */
struct __attribute__((aligned(4096))) worker_stats {
	volatile uint64_t heartbeat; /* CLOCK_MONOTONIC ms; 0 = not watched */
#define X(name, src, get, width, total) STATS_IF_##src(volatile uint64_t name;)
	WEFTD_STATS(X)
#undef X
	/* The TLS counters of each of the first STATS_TLS_LISTENERS
	 * listeners of the worker's generation, in STATS_TLS_MAP order. */
	volatile uint64_t tls[STATS_TLS_LISTENERS][STATS_TLS_N];
};

/* The WORKER counters, summed (over a worker's servers, or over every
 * worker). */
struct stats_sum {
#define X(name, src, get, width, total) STATS_IF_##src(uint64_t name;)
	WEFTD_STATS(X)
#undef X
};

/* The SLOT counters of one worker slot, kept by the supervisor. */
struct slot_stats {
#define X(name, src, get, width, total) STATS_IF_NOT_##src(uint64_t name;)
	WEFTD_STATS(X)
#undef X
};

/* A worker: publish its sum (the supervisor reads it at any time). */
void stats_publish(struct worker_stats *ws, const struct stats_sum *sum);

/* sum += what ws publishes. */
void stats_add(struct stats_sum *sum, const struct worker_stats *ws);

/* The counters' column titles and one worker's columns, each column
 * after a space, as `weftd -s status` prints them. */
void stats_print_titles(FILE *fp);
void stats_print_columns(FILE *fp, const struct worker_stats *ws,
    const struct slot_stats *ss);

/* The totals (", 3 connection(s)"), appended to the string in buf. */
void stats_format_totals(char *buf, size_t size, const struct stats_sum *sum);

#endif /* WEFTD_STATS_H */
