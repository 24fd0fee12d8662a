/*
 * Load-aware accept (balance.h).  On a shared listening socket the kernel
 * wakes every worker polling it, and the same one tends to win each race
 * (the first one woken, on an idle CPU): with clients arriving a few
 * milliseconds apart, most long-lived connections end up in one worker.
 *
 * So before each accept a worker compares its connection count with the
 * least-loaded live sibling's: above it by more than a slack (1, or a
 * sixteenth of the smaller count), it stops polling that socket for a
 * millisecond and leaves the client to the siblings, who were woken too.
 * It sits out only while they make progress: if the client is still
 * queued after PATIENCE_MS in which no sibling accepted anything, they are
 * busy or stuck, and it takes clients itself until they take one again.  No worker is ever
 * held for long, nothing is sticky, and a dead worker holds nobody: its
 * slot is cleared when it is reaped, and a heartbeat older than stale_ms
 * (a blocked loop) is not counted.  A worker that has not started yet has
 * no heartbeat either.
 */
#include "autoconf.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "balance.h"
#include "log.h"

#define RETRY_MS 1     /* how long a loaded worker sits a client out */
#define PATIENCE_MS 50 /* ...while its siblings take none, at most */

static struct {
	struct balance *b;
	struct balance_slot *own;
	weft_server_t **srvs;
	size_t n;
	uint64_t stale_ms;
	uv_timer_t retry;
	int held; /* a gated server is not polling */
	/* Sitting clients out, since `since`, when the siblings had
	 * accepted `seen` in all; given up on them (none taken in
	 * PATIENCE_MS) when they had accepted gave_up_seen. */
	int waiting;
	uint64_t seen, since;
	int gave_up;
	uint64_t gave_up_seen;
} B;

/* The supervisor's tables, one per live generation: a child keeps at
 * most its own. */
#define MAX_TABLES 64
static struct balance *tables[MAX_TABLES];

struct balance *
balance_new(void)
{
	struct balance *b;
	size_t i;

	for (i = 0; i < MAX_TABLES && tables[i] != NULL; i++)
		;
	if (i == MAX_TABLES) /* a HUP storm: those workers go unbalanced */
		return NULL;
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		fatal("mmap");
	tables[i] = b;
	return b;
}

void
balance_free(struct balance *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < MAX_TABLES; i++)
		if (tables[i] == b)
			tables[i] = NULL;
	munmap(b, sizeof(*b));
}

void
balance_keep_only(struct balance *keep)
{
	size_t i;

	for (i = 0; i < MAX_TABLES; i++)
		if (tables[i] != NULL && tables[i] != keep) {
			munmap(tables[i], sizeof(*tables[i]));
			tables[i] = NULL;
		}
}

void
balance_clear(struct balance *b, int slot)
{
	if (b == NULL || slot < 0 || slot >= BALANCE_SLOTS)
		return;
	memset((void *)&b->s[slot], 0, sizeof(b->s[slot]));
	if ((uint32_t)slot >= b->nslots)
		b->nslots = (uint32_t)slot + 1;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Publish this worker's count and what it has accepted. */
static uint64_t
publish(void)
{
	weft_server_stats_t st;
	uint64_t active = 0, accepted = 0;
	size_t i;

	for (i = 0; i < B.n; i++) {
		/* accepted and active come first: copy no more. */
		(void)weft_server_stats(B.srvs[i], &st,
		    offsetof(weft_server_stats_t, active) + sizeof(st.active));
		accepted += st.accepted;
		active += st.active;
	}
	B.own->active = active;
	B.own->accepted = accepted;
	return active;
}

static void
on_retry(uv_timer_t *t)
{
	size_t i;

	(void)t;
	B.held = 0;
	/* Only the gated ones hold; for the others this does nothing. */
	for (i = 0; i < B.n; i++)
		weft_server_accept_resume(B.srvs[i]);
}

/* A sibling that counts: one whose heartbeat is fresh. */
static int
live(const struct balance_slot *s, uint64_t now)
{
	uint64_t beat = s->beat;

	return s != B.own && beat != 0 &&
	    !(now > beat && now - beat > B.stale_ms);
}

/*
 * 1: sit this client out.  Above the least-loaded live sibling's count
 * plus the slack, a worker waits as long as the siblings below it (those
 * that would take the client) go on accepting, and PATIENCE_MS after the
 * last client they took; then it takes clients itself, at once, until
 * they take one again.
 */
static int
verdict(uint64_t own)
{
	const struct balance_slot *s;
	uint64_t now = now_ms(), min = UINT64_MAX, seen = 0, slack;
	uint32_t i, n = B.b->nslots;

	if (n > BALANCE_SLOTS)
		n = BALANCE_SLOTS;
	for (i = 0; i < n; i++)
		if (live(s = &B.b->s[i], now) && s->active < min)
			min = s->active;
	if (min == UINT64_MAX) /* alone */
		return 0;
	slack = min / 16 > 1 ? min / 16 : 1;
	if (own <= min + slack) {
		B.waiting = 0;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (live(s = &B.b->s[i], now) && s->active + slack < own)
			seen += s->accepted;
	/* Given up on them, and they have taken nothing since: stuck. */
	if (B.gave_up && seen == B.gave_up_seen)
		return 0;
	B.gave_up = 0;
	if (!B.waiting || seen != B.seen) { /* they are taking clients */
		B.waiting = 1;
		B.seen = seen;
		B.since = now;
		return 1;
	}
	if (now - B.since < PATIENCE_MS)
		return 1;
	B.waiting = 0;
	B.gave_up = 1;
	B.gave_up_seen = seen;
	return 0;
}

static int
gate(weft_server_t *srv, int accepting, void *arg)
{
	uint64_t own;

	(void)srv;
	if (B.own == NULL) /* stopping */
		return 0;
	own = publish();
	if (!accepting || arg == NULL)
		return 0;
	if (!verdict(own)) {
		/* Counted before the accept, so that a sibling looking
		 * meanwhile does not see one too few (an EAGAIN's extra one
		 * goes at the next count). */
		B.own->active = own + 1;
		return 0;
	}
	if (!B.held) {
		B.held = 1;
		uv_timer_start(&B.retry, on_retry, RETRY_MS, 0);
	}
	return 1;
}

void
balance_start(uv_loop_t *loop, struct balance *b, int slot,
    weft_server_t **srvs, const int *gated, size_t n, uint64_t stale_ms)
{
	size_t i;

	if (b == NULL || slot < 0 || slot >= BALANCE_SLOTS)
		return;
	B.b = b;
	B.own = &b->s[slot];
	B.srvs = srvs;
	B.n = n;
	B.stale_ms = stale_ms;
	/* Referenced: while it runs, a held listener is not polled, and a
	 * worker with no connection left would have nothing else keeping
	 * its loop running. */
	uv_timer_init(loop, &B.retry);
	/* Counts first, then the heartbeat that makes them count. */
	publish();
	B.own->beat = now_ms();
	/* Every server publishes its closes; only the gated ones hold. */
	for (i = 0; i < n; i++)
		weft_server_set_accept_gate(srvs[i], gate,
		    gated[i] ? &B : NULL);
}

void
balance_tick(void)
{
	if (B.own == NULL)
		return;
	publish();
	B.own->beat = now_ms();
}

void
balance_stop(void)
{
	if (B.own == NULL)
		return;
	B.own->beat = 0;
	/* A respawned worker may take the slot while this one drains. */
	B.own = NULL;
	uv_timer_stop(&B.retry);
	on_retry(&B.retry);
}
