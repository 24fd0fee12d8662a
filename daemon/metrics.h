/*
 * The daemon-wide metrics page.  A worker cannot read its siblings'
 * stats (procs.c leaves each one its own page only), so the supervisor,
 * which reads them all, publishes their sums per listener, plus its own
 * counters, in one more page: a memfd it keeps mapped writable and every
 * worker maps read-only.  The memfd is sealed against new writable
 * mappings (F_SEAL_FUTURE_WRITE), so a worker can neither map it
 * writable again nor mprotect its mapping.  The supervisor refreshes it
 * at each turn of its loop (100 ms at most), from what the workers
 * published at their last heartbeat (a second old at most, see
 * heartbeat_tick_ms): the page is at most about 1.1 s behind.
 *
 * Counters survive their workers: what a worker had counted when it
 * ended (a crash, a reload) is kept per listener label, so that the
 * _total metrics never go back.  A listener is labelled by its name, or
 * by its address when it has none; listeners of two generations with
 * the same label are one.
 */
#ifndef WEFTD_METRICS_H
#define WEFTD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "stats.h"

#define METRICS_LISTENERS 128 /* labels kept; more are not exported */
#define METRICS_LABEL_MAX 112

struct metrics_listener {
	char label[METRICS_LABEL_MAX];
	stats_vec v;
};

/* The shared page.  seq is odd while the supervisor writes: a reader
 * copies what it needs and starts again if seq moved. */
struct metrics_page {
	volatile uint64_t seq;
	uint64_t generation;
	uint64_t workers;
	uint64_t worker_restarts;
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	uint64_t nlisteners;
	struct metrics_listener l[METRICS_LISTENERS];
};

/* The supervisor's side. */
struct metrics {
	int fd;			   /* the memfd; -1: none */
	int ro_fd;		   /* what a worker maps (fd, or a read-only
				    * reopening of it) */
	struct metrics_page *page; /* mapped writable */
	/* What ended workers counted, per label (their active ones not). */
	struct metrics_listener retired[METRICS_LISTENERS];
	size_t nretired;
	uint64_t worker_restarts;
	uint64_t reloads_ok, reloads_failed;
};

struct procs;
struct gen;

/* The format of metrics_format. */
enum { METRICS_PROMETHEUS = 1, METRICS_JSON = 2 };

/* Create the page (logged if it cannot be: no metrics then). */
void metrics_init(struct metrics *m);

/* The label of listener l. */
const char *metrics_label(const struct conf_listener *l);

/* A worker of generation c ended, having published ws: keep what it
 * counted. */
void metrics_retire(struct metrics *m, const struct conf *c,
    const struct worker_stats *ws);

/* Publish the page anew from pt's live workers; cur is the generation
 * serving (its listeners come first). */
void metrics_refresh(struct metrics *m, const struct procs *pt,
    const struct gen *cur);

/* In a worker just forked: map the page read-only, unmap the writable
 * mapping.  In the reload probe (ro 0): unmap it only. */
void metrics_child(struct metrics *m, int ro);

/*
 * Write pg as Prometheus text (0.0.4) or JSON to buf (size bytes,
 * NUL-terminated if size > 0); returns the length of the whole text,
 * as snprintf does.
 */
size_t metrics_format(const struct metrics_page *pg, int format, char *buf,
    size_t size);

/* In a worker: the page as metrics_format writes it, read consistently
 * (weft_metrics_read's source, see weft/plugin.h); -ENOTSUP if the
 * worker has no page. */
ssize_t metrics_read(int format, char *buf, size_t size);

#endif /* WEFTD_METRICS_H */
