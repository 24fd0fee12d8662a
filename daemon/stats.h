/*
 * Every counter weftd publishes, listed once.  The list generates the
 * counters a worker shares with the supervisor (its sums and each
 * listener's), the supervisor's sums over the workers, the columns of
 * `weftd -s status`, the totals of its first line and of systemd's
 * STATUS=, and the metrics of the daemon-wide page (metrics.h) that the
 * `metrics` plugin and `weftd -s status --json` read.  A new counter is
 * one line here (and, for a worker's, a field of libweft's
 * WEFT_SERVER_STATS_MAP that counts it).
 *
 * X(name, source, width, total, metric, labels, help):
 *   name    its field of weft_server_stats_t (WORKER and LISTENER), its
 *           column in `weftd -s status` and its key in the JSON;
 *   source  WORKER: a column of the status table; each worker publishes
 *           it per listener and summed over its listeners at every
 *           heartbeat; LISTENER: the same, without a column; DAEMON:
 *           as LISTENER, but counted by the worker's own code, not by
 *           libweft's server (worker.c's stats_publish sets it); SLOT:
 *           the supervisor keeps it per worker slot (a column only);
 *   width   its column's width (0: the last column, not padded);
 *   total   the words after its sum over every worker in the status line
 *           and in STATUS= ("3 connection(s)"), or NULL for none;
 *   metric  its Prometheus name, or NULL: not exported (rows of one
 *           metric follow each other; the first one's help is its HELP);
 *   labels  the labels it adds to `listener` ("" for none);
 *   help    the metric's HELP text.
 * A metric whose name ends in _total is a counter, any other a gauge.
 */
#ifndef WEFTD_STATS_H
#define WEFTD_STATS_H

#include <stdint.h>
#include <stdio.h>

#include <weft/server.h>

#define WEFTD_STATS(X)                                                         \
	X(accepted, WORKER, 10, NULL, "weftd_connections_accepted_total", "",  \
	    "Connections accepted.")                                           \
	X(active, WORKER, 8, "connection(s)", "weftd_connections_active", "",  \
	    "Client connections open now.")                                    \
	X(restarts, SLOT, 8, NULL, NULL, "", "")                               \
	X(emfile_pauses, WORKER, 13, NULL, NULL, "", "")                       \
	X(tls_handshakes, WORKER, 14, NULL, "weftd_tls_handshakes_total",      \
	    "result=\"ok\"",                                                   \
	    "TLS handshakes by result; ok counts the resumed ones too.")       \
	X(tls_resumed, WORKER, 11, NULL, "weftd_tls_handshakes_total",         \
	    "result=\"resumed\"", "")                                          \
	X(tls_failed, WORKER, 10, NULL, "weftd_tls_handshakes_total",          \
	    "result=\"failed\"", "")                                           \
	X(tls_timeouts, WORKER, 12, NULL, "weftd_tls_handshakes_total",        \
	    "result=\"timeout\"", "")                                          \
	X(send_timeouts, WORKER, 0, NULL, NULL, "", "")                        \
	X(tls_failed_verify, LISTENER, 0, NULL, NULL, "", "")                  \
	X(tls_failed_closed, LISTENER, 0, NULL, NULL, "", "")                  \
	X(closed_eof, LISTENER, 0, NULL, "weftd_connections_closed_total",     \
	    "reason=\"eof\"", "Connections closed, by reason.")                \
	X(closed_reset, LISTENER, 0, NULL, "weftd_connections_closed_total",   \
	    "reason=\"reset\"", "")                                            \
	X(closed_timeout, LISTENER, 0, NULL, "weftd_connections_closed_total", \
	    "reason=\"timeout\"", "")                                          \
	X(closed_abort, LISTENER, 0, NULL, "weftd_connections_closed_total",   \
	    "reason=\"abort\"", "")                                            \
	X(closed_limit, LISTENER, 0, NULL, "weftd_connections_closed_total",   \
	    "reason=\"limit\"", "")                                            \
	X(closed_shutdown, LISTENER, 0, NULL,                                  \
	    "weftd_connections_closed_total", "reason=\"shutdown\"", "")       \
	X(closed_error, LISTENER, 0, NULL, "weftd_connections_closed_total",   \
	    "reason=\"error\"", "")                                            \
	X(bytes_in, LISTENER, 0, NULL, "weftd_bytes_received_total", "",       \
	    "Bytes received from clients.")                                    \
	X(bytes_out, LISTENER, 0, NULL, "weftd_bytes_sent_total", "",          \
	    "Bytes sent to clients.")                                          \
	X(proxy_protocol_errors, LISTENER, 0, NULL,                            \
	    "weftd_proxy_protocol_errors_total", "",                           \
	    "Connections closed for a bad or missing PROXY header.")           \
	X(access_log_dropped, DAEMON, 0, NULL,                                 \
	    "weftd_access_log_dropped_total", "",                              \
	    "Access log lines dropped because their target did not keep up.")

/* Each counter's index in the arrays below (SLOT ones are unused). */
enum {
#define X(name, src, width, total, metric, labels, help) STAT_##name,
	WEFTD_STATS(X)
#undef X
	    STATS_N
};

/* The listeners of a generation whose counters a worker publishes one
 * by one (its sums count them all). */
#define STATS_LISTENERS 64

/* STATS_IF_<source>(x): x for a status column kept by the workers;
 * STATS_IF_PUB_<source>(x): x for a counter the workers publish;
 * STATS_IF_SRV_<source>(x): x for one libweft's server counts;
 * STATS_IF_SLOT_<source>(x): x for a slot's. */
#define STATS_IF_WORKER(x) x
#define STATS_IF_LISTENER(x)
#define STATS_IF_DAEMON(x)
#define STATS_IF_SLOT(x)
#define STATS_IF_PUB_WORKER(x) x
#define STATS_IF_PUB_LISTENER(x) x
#define STATS_IF_PUB_DAEMON(x) x
#define STATS_IF_PUB_SLOT(x)
#define STATS_IF_SRV_WORKER(x) x
#define STATS_IF_SRV_LISTENER(x) x
#define STATS_IF_SRV_DAEMON(x)
#define STATS_IF_SRV_SLOT(x)
#define STATS_IF_SLOT_WORKER(x)
#define STATS_IF_SLOT_LISTENER(x)
#define STATS_IF_SLOT_DAEMON(x)
#define STATS_IF_SLOT_SLOT(x) x

/* One set of published counters, indexed by STAT_*. */
typedef uint64_t stats_vec[STATS_N];

/*
 * What each worker publishes in memory shared with the supervisor: the
 * heartbeat the supervisor watches, its counters summed over its
 * listeners and those of each of its generation's first STATS_LISTENERS
 * listeners.  Written by one worker, read by the supervisor; word-sized
 * fields, so torn reads cannot happen on the platforms we build for.
 * Each is a whole number of pages, so that a worker can be left with
 * its own entry mapped and no other.
 */
struct __attribute__((aligned(4096))) worker_stats {
	volatile uint64_t heartbeat; /* CLOCK_MONOTONIC ms; 0 = not watched */
	volatile stats_vec sum;
	volatile stats_vec listener[STATS_LISTENERS];
};

/* The published counters, summed (over a worker's servers, or over
 * every worker). */
struct stats_sum {
	stats_vec v;
};

/* The SLOT counters of one worker slot, kept by the supervisor. */
struct slot_stats {
#define X(name, src, width, total, metric, labels, help)                       \
	STATS_IF_SLOT_##src(uint64_t name;)
	WEFTD_STATS(X)
#undef X
};

/* Each counter's name, by STAT_* index. */
extern const char *const stats_names[STATS_N];

/* The published counters of a server's stats (the DAEMON ones are
 * left as they are). */
void stats_from_server(volatile uint64_t *out, const weft_server_stats_t *ss);

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
