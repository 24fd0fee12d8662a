/* Fibers: spawning, yielding, sleeping, cancel, deadlines, join. */
#include <alloca.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "harness.h"

static int order[16];
static int norder;

static void
note(void *arg)
{
	order[norder++] = (int)(intptr_t)arg;
	weft_yield();
	order[norder++] = 10 + (int)(intptr_t)arg;
}

static void
body_spawn_order(void *arg)
{
	weft_fiber_t *a = NULL, *b = NULL;

	(void)arg;
	norder = 0;
	assert_int_equal(weft_spawn(note, (void *)1, &a), 0);
	assert_int_equal(weft_spawn(note, (void *)2, &b), 0);
	assert_int_equal(norder, 0); /* spawn never runs the fiber inline */
	assert_int_equal(weft_join(a), 0);
	assert_int_equal(weft_join(b), 0);
	assert_int_equal(norder, 4);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 11);
	assert_int_equal(order[3], 12);
}

WT_TEST(spawn_order)
{
	wt_run(body_spawn_order, NULL);
}

static void
sleeper(void *arg)
{
	int *rc = arg;

	*rc = weft_sleep(10000);
}

WT_CASE(cancel)
{
	weft_fiber_t *f = NULL;
	int rc = 1;

	assert_int_equal(weft_spawn(sleeper, &rc, &f), 0);
	weft_yield();
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(rc, WEFT_ECANCELED);
}

WT_CASE(cancel_before_park)
{
	weft_fiber_t *f = NULL;
	int rc = 1;

	assert_int_equal(weft_spawn(sleeper, &rc, &f), 0);
	/* Not started yet: the cancel is remembered for its first wait. */
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_int_equal(rc, WEFT_ECANCELED);
}

WT_CASE(deadline)
{
	assert_int_equal(weft_deadline_set(20), 0);
	assert_int_equal(weft_sleep(10000), WEFT_ETIMEDOUT);
	/* Still expired: every later wait fails at once. */
	assert_int_equal(weft_sleep(1), WEFT_ETIMEDOUT);
	weft_deadline_clear();
	assert_int_equal(weft_sleep(1), 0);
}

/*
 * Fiber timers are lazy: a wait that ends before its deadline leaves the
 * timer running for the next wait.  Whatever that timer was armed for, a
 * later wait must time out at its own deadline: not at the stale timer's
 * time when its deadline is later, and not after it when it is earlier.
 * Waits are woken early by joining a fiber that only yields.  The bounds
 * are far from the expected times, so that a slow machine cannot fail
 * the test; only a timer armed for the wrong wait can.
 */
static void
yielder(void *arg)
{
	(void)arg;
	weft_yield();
	weft_yield();
}

static void
early_wake(void)
{
	weft_fiber_t *f = NULL;

	assert_int_equal(weft_spawn(yielder, NULL, &f), 0);
	assert_int_equal(weft_join(f), 0);
}

static uint64_t
loop_ms(void)
{
	uv_update_time(weft_loop());
	return uv_now(weft_loop());
}

WT_CASE(deadline_lazy_timer)
{
	uint64_t t0;

	/* A timer left armed 60 s out; then a 50 ms deadline must still
	 * fire at 50 ms, long before the stale timer or the sleep end. */
	assert_int_equal(weft_deadline_set(60000), 0);
	early_wake();
	t0 = loop_ms();
	/* It replaces the earlier deadline, which it returns. */
	assert_int_not_equal(weft_deadline_set(50), WEFT_DEADLINE_NONE);
	assert_int_equal(weft_sleep(60000), WEFT_ETIMEDOUT);
	assert_true(loop_ms() - t0 >= 50);
	assert_true(loop_ms() - t0 < 30000);

	/* A timer left armed 20 ms out; then a 300 ms deadline: the stale
	 * timer fires first and must re-arm, not time the wait out. */
	assert_int_not_equal(weft_deadline_set(20), WEFT_DEADLINE_NONE);
	early_wake();
	t0 = loop_ms();
	assert_int_not_equal(weft_deadline_set(300), WEFT_DEADLINE_NONE);
	assert_int_equal(weft_sleep(60000), WEFT_ETIMEDOUT);
	assert_true(loop_ms() - t0 >= 300);
	assert_true(loop_ms() - t0 < 30000);

	/* A stale timer and no deadline: a wait is not cut short. */
	assert_int_not_equal(weft_deadline_set(10), WEFT_DEADLINE_NONE);
	early_wake();
	weft_deadline_clear();
	t0 = loop_ms();
	assert_int_equal(weft_sleep(100), 0);
	assert_true(loop_ms() - t0 >= 100);
}

static int counter;

static void
bump(void *arg)
{
	(void)arg;
	weft_yield();
	counter++;
}

static void
body_many(void *arg)
{
	int i;

	(void)arg;
	counter = 0;
	for (i = 0; i < 10000; i++)
		assert_int_equal(weft_spawn(bump, NULL, NULL), 0);
	while (counter < 10000)
		weft_sleep(1);
	assert_int_equal(counter, 10000);
}

WT_TEST(many_fibers)
{
	wt_run(body_many, NULL);
	/* 10000 fibers ran and every one was released. */
	assert_int_equal(weft_fiber_count(), 0);
}

static int
main_ret(void *arg)
{
	(void)arg;
	return 42;
}

WT_TEST(run_returns_main_result)
{
	weft__sched_forget();
	assert_int_equal(weft_run(main_ret, NULL), 42);
}

WT_TEST(outside_fiber)
{
	assert_int_equal(weft_yield(), WEFT_ENOTFIBER);
	assert_int_equal(weft_sleep(1), WEFT_ENOTFIBER);
	assert_null(weft_current());
}

WT_TEST(errors)
{
	assert_string_equal(weft_err_name(WEFT_ELIMIT), "WEFT_ELIMIT");
	assert_string_equal(weft_err_name(-ECONNRESET), "ECONNRESET");
	assert_string_equal(weft_strerror(WEFT_EBUSY),
	    "another fiber is already waiting on this reader");
	assert_string_equal(weft_strerror(-ECONNREFUSED),
	    strerror(ECONNREFUSED));
}

static void
reader_fiber(void *arg)
{
	weft_reader_t *r = arg;
	char buf[8];

	/* Woken by the feed, then cancelled before it ran: the cancel wins
	 * and the data stays in the buffer. */
	assert_int_equal(weft_read(r, buf, sizeof(buf)), WEFT_ECANCELED);
}

WT_CASE(cancel_after_wake)
{
	weft_reader_t *r = NULL;
	weft_fiber_t *f = NULL;

	assert_int_equal(weft_reader_new(WEFT_LIMIT_DEFAULT, &r), 0);
	assert_int_equal(weft_spawn(reader_fiber, r, &f), 0);
	weft_yield(); /* the reader parks */
	assert_int_equal(weft_feed_data(r, "abc", 3), 0);
	assert_int_equal(weft_cancel(f), 0);
	assert_int_equal(weft_join(f), 0);
	assert_buffer(r, "abc");
	weft_reader_free(&r);
}

/* ---- Shared-stack mode ------------------------------------------------ */

static long *shared_results;

static void
shared_worker(void *arg)
{
	int id = (int)(intptr_t)arg, i, k;
	unsigned char pattern[700];
	long sum = 0;

	/* Locals must survive being copied out and back in. */
	for (i = 0; i < (int)sizeof(pattern); i++)
		pattern[i] = (unsigned char)(id * 7 + i);
	for (k = 0; k < 10; k++) {
		weft_yield();
		for (i = 0; i < (int)sizeof(pattern); i++)
			if (pattern[i] != (unsigned char)(id * 7 + i))
				sum = -1000000;
	}
	for (i = 0; i < (int)sizeof(pattern); i++)
		sum += pattern[i];
	shared_results[id] = sum;
}

static void
body_shared(void *arg)
{
	weft_fiber_t *f[100];
	long want;
	int i, j;

	(void)arg;
	shared_results = calloc(100, sizeof(long));
	for (i = 0; i < 100; i++)
		assert_int_equal(weft_spawn(shared_worker, (void *)(intptr_t)i,
				     &f[i]),
		    0);
	for (i = 0; i < 100; i++)
		assert_int_equal(weft_join(f[i]), 0);
	for (i = 0; i < 100; i++) {
		want = 0;
		for (j = 0; j < 700; j++)
			want += (unsigned char)(i * 7 + j);
		assert_int_equal(shared_results[i], want);
	}
	free(shared_results);
}

WT_TEST(shared_stack_locals)
{
	weft__sched_forget();
	weft_fiber_stacks_shared(1);
	wt_run(body_shared, NULL);
	weft_fiber_stacks_shared(0);
	assert_int_equal(weft_fiber_count(), 0);
}

/* Recurse until the guard page stops us; volatile defeats tail calls. */
static volatile int depth_limit = 1 << 30;

static int
deep(int n)
{
	volatile char pad[512];

	pad[0] = (char)n;
	pad[511] = (char)n;
	if (n >= depth_limit)
		return 0;
	return deep(n + 1) + pad[0] + pad[511];
}

static void
overflow_fiber(void *arg)
{
	(void)arg;
	weft_fiber_set_name(weft_current(), "deep-recursion");
	deep(0);
}

static int
overflow_main(void *arg)
{
	(void)arg;
	weft_spawn(overflow_fiber, NULL, NULL);
	return 0;
}

/*
 * Overflow a fiber in a child process (private or shared stacks) and
 * collect what it wrote to stderr; *status is its wait status.
 */
static void
overflow_child(int shared, char *buf, size_t size, int *status)
{
	int fds[2];
	ssize_t n, len = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Child: overflow a fiber; it must die by SIGSEGV. */
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		weft__sched_forget();
		weft_fiber_stack_size_set(32 * 1024);
		weft_fiber_stacks_shared(shared);
		weft_run(overflow_main, NULL);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + len, size - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, status, 0), pid);
}

WT_TEST(stack_overflow_reported)
{
	char buf[4096];
	int status;

	overflow_child(0, buf, sizeof(buf), &status);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_non_null(strstr(buf,
	    "weft: fiber stack overflow in fiber 'deep-recursion'"));
}

WT_TEST(shared_stack_overflow)
{
	char buf[4096];
	int status;

	overflow_child(1, buf, sizeof(buf), &status);
	assert_true(WIFSIGNALED(status));
	assert_non_null(strstr(buf,
	    "weft: fiber stack overflow in fiber 'deep-recursion'"));
}

/*
 * Carved objects (a server's connection on its handler's stack): the
 * stack goes back to the pool only once both the object and the fiber
 * are done, in either order.  The pool is LIFO, so "recycled" shows as
 * the next carve returning the same address.
 */
static int carve_done;

static void
carve_fiber(void *arg)
{
	char *obj = arg;

	obj[0]++;
	weft_yield(); /* the object may be put meanwhile: no more use */
	weft_yield();
	carve_done = 1;
}

static void
carve_finish(void)
{
	while (!carve_done)
		weft_yield();
}

static void
body_carve(void *arg)
{
	char *a, *b, *c;

	(void)arg;
	/* The object ends first, its fiber still running. */
	a = weft__carve(256);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % 64, 0);
	memset(a, 0, 256);
	carve_done = 0;
	weft__carve_spawn(a, carve_fiber, a);
	weft_yield();
	assert_int_equal(a[0], 1);
	b = weft__carve(256); /* not spawned: put alone recycles it */
	assert_ptr_not_equal(b, a);
	weft__carve_put(b);
	c = weft__carve(256);
	assert_ptr_equal(c, b);
	weft__carve_put(c);
	weft__carve_put(a); /* a's fiber still holds the stack */
	c = weft__carve(256);
	assert_ptr_equal(c, b); /* not a's */
	weft__carve_put(c);
	carve_finish();
	c = weft__carve(256); /* the fiber ended: now it is back */
	assert_ptr_equal(c, a);

	/* The fiber ends first, the object lives on. */
	memset(c, 0, 256);
	carve_done = 0;
	weft__carve_spawn(c, carve_fiber, c);
	carve_finish();
	assert_int_equal(c[0], 1); /* still ours to read */
	b = weft__carve(256);
	assert_ptr_not_equal(b, c);
	weft__carve_put(b);
	weft__carve_put(c);
	b = weft__carve(256);
	assert_ptr_equal(b, c);
	weft__carve_put(b);

	/* Too big for the page the fiber shares with it: heap instead. */
	assert_null(weft__carve(16 * 1024));
}

WT_TEST(carve)
{
	wt_run(body_carve, NULL);
	assert_int_equal(weft_fiber_count(), 0);
}

/*
 * Trimming the pools: a pooled stack's pages go back to the kernel (seen
 * with mincore), the stack stays pooled and works as before, the pool
 * stays capped, and the idle timer does it by itself without keeping the
 * loop alive.
 */
#define TOUCH (32 * 1024)

static char *touched; /* the bytes the last toucher wrote, on its stack */

/* Write TOUCH bytes of the fiber's stack (alloca: on the stack proper
 * even where ASan moves locals to a fake stack), then check them. */
static void
toucher(void *arg)
{
	unsigned char seed = (unsigned char)(uintptr_t)arg;
	char *p = alloca(TOUCH);
	size_t i;

	touched = p;
	for (i = 0; i < TOUCH; i++)
		p[i] = (char)(seed + i * 7);
	weft_yield();
	for (i = 0; i < TOUCH; i++)
		assert_int_equal((unsigned char)p[i],
		    (unsigned char)(seed + i * 7));
}

/* Resident pages among the whole pages of [p, p + len). */
static size_t
resident(const char *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 0, i;
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
	unsigned char vec[TOUCH / 4096 + 2];

	assert_true(hi > lo && (hi - lo) / page <= sizeof(vec));
	assert_int_equal(mincore((void *)lo, hi - lo, vec), 0);
	for (i = 0; i < (hi - lo) / page; i++)
		n += vec[i] & 1;
	return n;
}

static void
run_toucher(unsigned char seed)
{
	weft_fiber_t *f = NULL;

	assert_int_equal(weft_spawn(toucher, (void *)(uintptr_t)seed, &f), 0);
	assert_int_equal(weft_join(f), 0);
}

static void
nap(void *arg)
{
	(void)arg;
	assert_int_equal(weft_sleep(1), 0);
}

static void
run_sleeper(void)
{
	weft_fiber_t *f = NULL;

	assert_int_equal(weft_spawn(nap, NULL, &f), 0);
	assert_int_equal(weft_join(f), 0);
}

static void
body_pool_trim(void *arg)
{
	size_t stacks, trimmed, bufs, pages = TOUCH / 4096 - 1;
	char *first, *obj;
	int old = weft_fiber_stacks_shared(0);

	(void)arg;
	weft__pool_trim(1);
	run_toucher(1);
	first = touched;
	weft__pool_stats(&stacks, &trimmed, NULL, NULL);
	assert_true(stacks >= 1);
	assert_int_equal(trimmed, stacks - 1);
	assert_true(resident(first, TOUCH) >= pages);

	/* Not idle a whole period yet: a tick keeps it. */
	weft__pool_trim(0);
	weft__pool_stats(NULL, &trimmed, NULL, NULL);
	assert_int_equal(trimmed, stacks - 1);
	assert_true(resident(first, TOUCH) >= pages);
	/* Idle through the next period: its pages go. */
	weft__pool_trim(0);
	weft__pool_stats(&stacks, &trimmed, NULL, NULL);
	assert_int_equal(trimmed, stacks);
	assert_int_equal(resident(first, TOUCH), 0);

	/* Still pooled, and a fiber runs on it as before (the pool is
	 * LIFO: the same stack, the same bytes). */
	run_toucher(2);
	assert_ptr_equal(touched, first);
	weft__pool_stats(NULL, &trimmed, NULL, NULL);
	assert_true(trimmed < stacks); /* taken: no longer counted */

	/* A carve on a trimmed stack, and a fiber under the object. */
	weft__pool_trim(1);
	assert_int_equal(resident(first, TOUCH), 0);
	obj = weft__carve(256);
	assert_non_null(obj);
	assert_true(obj > first && obj < first + 64 * 1024);
	memset(obj, 0x5a, 256);
	carve_done = 0;
	weft__carve_spawn(obj, carve_fiber, obj);
	carve_finish();
	assert_int_equal((unsigned char)obj[0], 0x5b);
	assert_int_equal((unsigned char)obj[255], 0x5a);
	weft__carve_put(obj);

	/* Buffers: one taken since the last tick stays, the other goes;
	 * the next tick frees the rest. */
	{
		char *b1 = weft__buf_get(), *b2 = weft__buf_get(), *b;

		assert_non_null(b1);
		assert_non_null(b2);
		weft__pool_trim(1);
		weft__buf_put(b1);
		weft__buf_put(b2);
		weft__pool_trim(0);
		weft__pool_stats(NULL, NULL, &bufs, NULL);
		assert_int_equal(bufs, 2);
		b = weft__buf_get();
		memset(b, 1, WEFT__BUF_SIZE);
		weft__buf_put(b);
		weft__pool_trim(0);
		weft__pool_stats(NULL, NULL, &bufs, NULL);
		assert_int_equal(bufs, 1);
		weft__pool_trim(0);
		weft__pool_stats(NULL, NULL, &bufs, NULL);
		assert_int_equal(bufs, 0);
	}

	/* Timers: a fiber's pooled one is closed by a trim of everything,
	 * and a sleep afterwards takes a new one. */
	{
		size_t timers;

		run_sleeper();
		weft__pool_stats(NULL, NULL, NULL, &timers);
		assert_true(timers >= 1);
		weft__pool_trim(1);
		weft__pool_stats(NULL, NULL, NULL, &timers);
		assert_int_equal(timers, 0);
		run_sleeper();
		weft__pool_stats(NULL, NULL, NULL, &timers);
		assert_int_equal(timers, 1);
	}
	weft_fiber_stacks_shared(old);
}

WT_TEST(pool_trim)
{
	uint64_t old = weft_pool_trim_set(0); /* ticks by hand only */

	wt_run(body_pool_trim, NULL);
	weft_pool_trim_set(old);
	assert_int_equal(weft_fiber_count(), 0);
}

/* More fibers than the pool keeps: it stays at its cap, trimmed or not. */
static void
parked(void *arg)
{
	(void)arg;
	weft_yield();
}

static void
body_pool_cap(void *arg)
{
	weft_fiber_t *f[300];
	size_t i, stacks, trimmed;
	int old = weft_fiber_stacks_shared(0);

	(void)arg;
	for (i = 0; i < 300; i++)
		assert_int_equal(weft_spawn(parked, NULL, &f[i]), 0);
	for (i = 0; i < 300; i++)
		assert_int_equal(weft_join(f[i]), 0);
	weft__pool_stats(&stacks, NULL, NULL, NULL);
	assert_int_equal(stacks, 256);
	weft__pool_trim(1);
	weft__pool_stats(&stacks, &trimmed, NULL, NULL);
	assert_int_equal(stacks, 256);
	assert_int_equal(trimmed, 256);
	for (i = 0; i < 300; i++)
		assert_int_equal(weft_spawn(parked, NULL, &f[i]), 0);
	weft__pool_stats(&stacks, &trimmed, NULL, NULL);
	assert_int_equal(stacks, 0);
	assert_int_equal(trimmed, 0);
	for (i = 0; i < 300; i++)
		assert_int_equal(weft_join(f[i]), 0);
	weft__pool_stats(&stacks, NULL, NULL, NULL);
	assert_int_equal(stacks, 256);
	weft_fiber_stacks_shared(old);
}

WT_TEST(pool_cap)
{
	uint64_t old = weft_pool_trim_set(0);

	wt_run(body_pool_cap, NULL);
	weft_pool_trim_set(old);
}

/* Active timers that keep the loop alive (the body itself uses none). */
static void
count_ref_timers(uv_handle_t *h, void *arg)
{
	if (h->type == UV_TIMER && uv_is_active(h) && uv_has_ref(h))
		(*(int *)arg)++;
}

static void
body_pool_trim_timer(void *arg)
{
	size_t stacks, trimmed;
	char *first;
	int n = 0, i, old = weft_fiber_stacks_shared(0);

	(void)arg;
	run_toucher(3);
	first = touched;
	uv_walk(weft_loop(), count_ref_timers, &n);
	assert_int_equal(n, 0);
	/* The tick comes 50 ms after the stack was pooled; allow 10 s. */
	for (i = 0; i < 1000; i++) {
		weft__pool_stats(&stacks, &trimmed, NULL, NULL);
		if (stacks > 0 && trimmed == stacks)
			break;
		/* weft_sleep's own timer; the pool's is not counted above */
		assert_int_equal(weft_sleep(10), 0);
	}
	assert_true(stacks > 0);
	assert_int_equal(trimmed, stacks);
	assert_int_equal(resident(first, TOUCH), 0);
	weft_fiber_stacks_shared(old);
}

WT_TEST(pool_trim_timer)
{
	uint64_t old = weft_pool_trim_set(50);

	wt_run(body_pool_trim_timer, NULL);
	/* A trim period of an hour, with a stack pooled when the main fiber
	 * ends: weft_run still returns at once. */
	weft_pool_trim_set(3600 * 1000);
	wt_run(body_spawn_order, NULL);
	weft_pool_trim_set(old);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(120);
	return wt_run_cases(argc, argv);
}
