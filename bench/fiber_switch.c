/*
 * Microbenchmark: what a fiber switch costs, measured through the public
 * API only.
 *
 * usage: fiber_switch [N [FIBERS]]	(default 10000000 yields, 100 fibers)
 *
 * Two measurements:
 *
 * 1. Ping-pong: two fibers call weft_yield() N times between them.  A
 *    yield puts the fiber at the back of the run queue and switches to
 *    the scheduler, which runs the other fiber; every scheduler pass is
 *    one libuv loop iteration (idle, prepare, a zero-timeout poll, check).
 *    "yield round trip" is the time from one fiber's yield until it runs
 *    again: the other fiber's turn plus one loop iteration.
 *
 * 2. Many fibers (FIBERS of them) yield N times in all.  One scheduler
 *    pass now runs every fiber once, so the loop iteration is shared by
 *    FIBERS yields and what remains per yield is two context switches
 *    (fiber to scheduler, scheduler to the next fiber) plus the run-queue
 *    work.  Half of it is the derived cost of one switch.
 *
 * Output: one "key value" line per figure, for bench/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft/weft.h>

struct bench {
	uint64_t n;	    /* yields in all */
	uint64_t per_fiber; /* yields each fiber makes */
	size_t nfibers;
	int failed;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The arg is the shared struct bench; it lives on main()'s own stack. */
static void
yielder(void *arg)
{
	struct bench *b = arg;
	uint64_t i;

	for (i = 0; i < b->per_fiber; i++) {
		if (weft_yield() != 0) {
			b->failed = 1;
			return;
		}
	}
}

/* Run nfibers yielders of per_fiber yields each; returns elapsed ns. */
static uint64_t
run_yielders(struct bench *b, size_t nfibers, uint64_t per_fiber)
{
	weft_fiber_t **f;
	uint64_t t0, t1;
	size_t i;

	if ((f = calloc(nfibers, sizeof(*f))) == NULL) {
		b->failed = 1;
		return 1;
	}
	b->per_fiber = per_fiber;
	for (i = 0; i < nfibers; i++) {
		if (weft_spawn(yielder, b, &f[i]) != 0) {
			b->failed = 1;
			nfibers = i;
			break;
		}
	}
	t0 = now_ns();
	for (i = 0; i < nfibers; i++)
		weft_join(f[i]);
	t1 = now_ns();
	free(f);
	return t1 - t0;
}

static int
bench_main(void *arg)
{
	struct bench *b = arg;
	uint64_t ns, total, per_fiber;
	double yield, round_trip, switch_ns;

	/* Warm up: stacks, pools, page faults. */
	run_yielders(b, 2, 10000);

	/* 1. Two fibers ping-pong. */
	per_fiber = b->n / 2;
	ns = run_yielders(b, 2, per_fiber);
	yield = (double)ns / (double)(2 * per_fiber);
	printf("pingpong_yields %llu\n", (unsigned long long)(2 * per_fiber));
	printf("pingpong_yield_ns %.1f\n", yield);
	round_trip = 2 * yield;
	printf("pingpong_round_trip_ns %.1f\n", round_trip);

	/* 2. Many fibers: the loop iteration is amortised. */
	per_fiber = b->n / b->nfibers;
	total = per_fiber * b->nfibers;
	ns = run_yielders(b, b->nfibers, per_fiber);
	yield = (double)ns / (double)total;
	switch_ns = yield / 2;
	printf("many_fibers %zu\n", b->nfibers);
	printf("many_yield_ns %.1f\n", yield);
	printf("switch_ns %.1f\n", switch_ns);
	/* A ping-pong round trip is four switches and one loop iteration. */
	printf("loop_iteration_ns %.1f\n", round_trip - 4 * switch_ns);
	return b->failed ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	struct bench b;
	int rc;

	b.n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	b.nfibers = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 100;
	b.per_fiber = 0;
	b.failed = 0;
	if (b.n < 2 || b.nfibers < 2 || b.nfibers > b.n) {
		fprintf(stderr, "usage: fiber_switch [N [FIBERS]]\n");
		return 2;
	}
	rc = weft_run(bench_main, &b);
	if (rc < 0) {
		fprintf(stderr, "fiber_switch: %s\n", weft_strerror(rc));
		return 1;
	}
	return rc;
}
