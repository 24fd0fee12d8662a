/*
 * Load-aware accept on the shared listening sockets (doc/architecture.md,
 * "Balanced accept").  Every worker of a generation maps the same small
 * table and writes its own slot: its connection count, what it has
 * accepted so far and a heartbeat.  Before each accept, a worker holding
 * more than the least-loaded live sibling plus a slack sits the client
 * out for a millisecond, as long as its siblings are taking clients.
 */
#ifndef WEFTD_BALANCE_H
#define WEFTD_BALANCE_H

#include <stdint.h>

#include <uv.h>
#include <weft/weft.h>

#define BALANCE_SLOTS 1024 /* MAX_WORKERS */

/* One worker slot, a cache line of its own: only its worker writes it
 * (the supervisor clears it when the slot's worker is spawned or
 * reaped). */
struct __attribute__((aligned(64))) balance_slot {
	volatile uint64_t beat;	    /* CLOCK_MONOTONIC ms; 0: not accepting */
	volatile uint64_t active;   /* its connections, every listener */
	volatile uint64_t accepted; /* ever, its siblings watch it grow */
};

/* A generation's table, in memory shared with its workers. */
struct balance {
	volatile uint32_t nslots; /* slots ever spawned: those to look at */
	struct balance_slot s[BALANCE_SLOTS];
};

/* The supervisor: map a generation's table, unmap it. */
struct balance *balance_new(void);
void balance_free(struct balance *b);

/* A child just forked: unmap every generation's table but keep's (NULL:
 * all of them). */
void balance_keep_only(struct balance *keep);

/* The supervisor: slot's worker is being spawned, or was reaped. */
void balance_clear(struct balance *b, int slot);

/*
 * A worker, once its servers are up: gate those of srvs[0..n-1] whose
 * gated[] is set (the shared sockets), count the connections of all of
 * them, publish in slot of b; stale_ms is how old a sibling's heartbeat
 * may be before it is no longer counted.
 */
void balance_start(uv_loop_t *loop, struct balance *b, int slot,
    weft_server_t **srvs, const int *gated, size_t n, uint64_t stale_ms);

/* A worker's heartbeat: publish, and let held listeners look again. */
void balance_tick(void);

/* A worker stopping: it accepts no more, so it counts for nobody. */
void balance_stop(void);

#endif /* WEFTD_BALANCE_H */
