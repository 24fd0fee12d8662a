/*
 * Fibers and their scheduler.
 *
 * The scheduler runs ready fibers from a libuv check handle, i.e. right
 * after the loop's poll phase, so a fiber woken by I/O runs in the same
 * loop iteration.  An idle handle is started while fibers are ready so
 * that poll does not block with work pending.  Fibers woken while the
 * scheduler runs go to the back of the queue and run on the next pass,
 * which gives asyncio's "one loop iteration" ordering.
 *
 * Where a fiber's frames live is stack.c's business, what it waits for
 * is waitq.c's; fiber_int.h says how the files fit together.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fiber_int.h"

#ifdef HAVE_VALGRIND_VALGRIND_H
/* memcheck.h comes in the same package (Debian: valgrind) as valgrind.h. */
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

struct weft__sched weft__S;

void
weft__assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "weft: assertion failed: %s (%s:%d)\n", expr, file,
	    line);
	abort();
}

/* ---- Run queue --------------------------------------------------------- */

/* While fibers are ready the idle handle is active, which only keeps
 * the loop's poll phase from blocking; the callback has nothing to do. */
static void
on_idle(uv_idle_t *h)
{
	(void)h;
}

static void
runq_push(weft_fiber_t *f)
{
	f->f_next = NULL;
	if (S.rq_tail != NULL)
		S.rq_tail->f_next = f;
	else
		S.rq_head = f;
	S.rq_tail = f;
	if (!S.in_check)
		uv_idle_start(&S.idle, on_idle);
}

static weft_fiber_t *
runq_pop(void)
{
	weft_fiber_t *f = S.rq_head;

	if (f != NULL) {
		S.rq_head = f->f_next;
		if (S.rq_head == NULL)
			S.rq_tail = NULL;
		f->f_next = NULL;
	}
	return f;
}

void
weft__sched_resume(weft_fiber_t *f, int code)
{
	f->f_wake = code;
	f->f_state = F_READY;
	runq_push(f);
}

/*
 * A fiber's struct lives at the top of its own stack mapping, in the page
 * the fiber touches first anyway: an idle connection's fiber then costs one
 * page and nothing more.  (A later shared-stack mode keeps the struct
 * elsewhere; nothing outside the fiber points into the stack proper.)
 */
static size_t
fiber_usable(const weft_fiber_t *f)
{
	if (f->f_shared)
		return (size_t)(S.sh_top - S.sh_map) - S.page;
	return (size_t)((const char *)f - f->f_map) - S.page;
}

static char *
fiber_stack_lo(const weft_fiber_t *f)
{
	return (f->f_shared ? S.sh_map : f->f_map) + S.page;
}

void
weft__fiber_release(weft_fiber_t *f)
{
	char *map = f->f_map;
	size_t map_size = f->f_map_size;

	S.nfibers--;
	if (f->f_timer != NULL) {
		weft__timer_put(f->f_timer);
		f->f_timer = NULL;
	}
	if (f->f_shared) {
		if (S.sh_owner == f)
			S.sh_owner = NULL;
		free(f->f_save);
		free(f);
		return;
	}
#ifdef HAVE_VALGRIND_VALGRIND_H
	VALGRIND_STACK_DEREGISTER(f->f_vg_id);
#endif
	if (f->f_carve != NULL)
		weft__carve_unref(f->f_carve);
	else
		weft__stack_put(map, map_size);
}

static void
fiber_run(weft_fiber_t *f)
{
	if (f->f_shared && weft__shared_swap_in(f) != 0) {
		/* No memory to save the resident fiber: try again later. */
		runq_push(f);
		return;
	}
	S.cur = f;
	f->f_state = F_RUNNING;
	f->f_ran = 1;
	asan_start(&S.main_fake, fiber_stack_lo(f), fiber_usable(f));
	ctx_switch(NULL, f);
	asan_finish(S.main_fake, NULL, NULL);
	S.cur = NULL;
	/* A finished fiber has left its stack for good: recycle it here,
	 * unless someone will join it (its struct is on that stack). */
	if (f->f_state == F_DONE && !f->f_joinable)
		weft__fiber_release(f);
}

static void
on_check(uv_check_t *h)
{
	weft_fiber_t *last = S.rq_tail, *f;

	(void)h;
	S.in_check = 1;
	while ((f = runq_pop()) != NULL) {
		fiber_run(f);
		if (f == last)
			break;
	}
	S.in_check = 0;
	if (S.rq_head != NULL)
		uv_idle_start(&S.idle, on_idle);
	else
		uv_idle_stop(&S.idle);
}

/*
 * Big C libraries (OpenSSL needs up to 17 KiB for a handshake step) run
 * on the loop's own stack, below the frame the scheduler is parked in,
 * so that fiber stacks can stay small or shared.  The sanitizer is told
 * of both switches, as for a fiber's.
 */
/* How deep such a call may go: OpenSSL's deepest step is about 17 KiB. */
#define LOOP_STACK_USE (256 * 1024)

struct loop_call {
	void (*fn)(void *);
	void *arg;
	weft_fiber_t *f;
};

static void
loop_call_run(void *p)
{
	struct loop_call *lc = p;

	asan_finish(NULL, NULL, NULL);
	lc->fn(lc->arg);
	asan_start(NULL, fiber_stack_lo(lc->f), fiber_usable(lc->f));
}

void
weft__on_loop_stack(void (*fn)(void *), void *arg)
{
#if WEFT__CTX_ASM
	struct loop_call lc = { fn, arg, S.cur };
	void *save = NULL;
	uintptr_t sp;

	if (lc.f == NULL || S.main_sp == NULL) {
		fn(arg);
		return;
	}
	/* Below the parked scheduler's frame, past any red zone. */
	sp = ((uintptr_t)S.main_sp - 256) & ~(uintptr_t)15;
#ifdef HAVE_VALGRIND_VALGRIND_H
	/* memcheck marked what lies below the loop's stack pointer unusable
	 * when the loop last returned from there; a stack switch does not
	 * change that. */
	VALGRIND_MAKE_MEM_UNDEFINED((char *)sp - LOOP_STACK_USE,
	    LOOP_STACK_USE);
#endif
	asan_start(&save, S.main_bottom, S.main_size);
	weft__ctx_call(&lc, loop_call_run, (void *)sp);
	asan_finish(save, NULL, NULL);
#else
	fn(arg);
#endif
}

int
weft_yield(void)
{
	weft_fiber_t *f = S.cur;

	if (f == NULL)
		return WEFT_ENOTFIBER;
	if (f->f_cancel) {
		f->f_cancel = 0;
		return WEFT_ECANCELED;
	}
	f->f_state = F_READY;
	f->f_wake = 0;
	runq_push(f);
	return fiber_switch_out(f);
}

/* ---- Fiber lifecycle --------------------------------------------------- */

/* A fiber spawned by a fiber of a group is one of the group: a plugin's
 * background fibers are found and ended before its fini. */
static void
group_add(weft_fiber_t *f)
{
	struct weft_fiber_group *g;

	if (S.cur == NULL || (g = S.cur->f_group) == NULL)
		return;
	f->f_group = g;
	f->f_gmember = 1;
	f->f_gprev = NULL;
	f->f_gnext = g->g_head;
	if (g->g_head != NULL)
		g->g_head->f_gprev = f;
	g->g_head = f;
	g->g_count++;
}

static void
group_leave(weft_fiber_t *f)
{
	struct weft_fiber_group *g = f->f_group;
	weft_fiber_t *w;

	if (!f->f_gmember)
		return;
	if (f->f_gprev != NULL)
		f->f_gprev->f_gnext = f->f_gnext;
	else
		g->g_head = f->f_gnext;
	if (f->f_gnext != NULL)
		f->f_gnext->f_gprev = f->f_gprev;
	f->f_gprev = f->f_gnext = NULL;
	f->f_gmember = 0;
	f->f_group = NULL;
	g->g_count--;
	/* Every end, not just the last: the waiter cancels what the ended
	 * fiber may have spawned on its way out. */
	if ((w = g->g_waiter) != NULL && w->f_state == F_PARKED)
		weft__sched_resume(w, 0);
}

static void fiber_main(void *arg) __attribute__((noreturn));

static void
fiber_main(void *arg)
{
	weft_fiber_t *f = arg;
	weft_fiber_t *j;

	asan_finish(NULL, &S.main_bottom, &S.main_size);
	f->f_fn(f->f_arg);
	group_leave(f);
	f->f_state = F_DONE;
	/* weft__wake, but without the wait queue: a joiner parks on none
	 * (weft_join). */
	if ((j = f->f_joiner) != NULL && j->f_state == F_PARKED)
		weft__sched_resume(j, 0);
	/* A NULL fake-stack slot tells ASan this stack is finished. */
	asan_start(NULL, S.main_bottom, S.main_size);
	ctx_switch(f, NULL);
	abort();
}

#if !WEFT__CTX_ASM
static void
fiber_main_uc(unsigned hi, unsigned lo)
{
	fiber_main((void *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

#if WEFT__CTX_ASM
/*
 * A new fiber on the shared stack: its first frame is built in a scratch
 * area with the same alignment and kept as its saved bytes.  The frame
 * holds no stack addresses, so it can be copied to the shared top.
 */
static int
shared_spawn(weft_fiber_t *f)
{
	char scratch[512] __attribute__((aligned(16)));
	char *sp;
	size_t len;

	if (weft__shared_stack_init() != 0)
		return -ENOMEM;
	sp = weft__ctx_make(scratch, sizeof(scratch), fiber_main, f);
	len = (size_t)(scratch + sizeof(scratch) - sp);
	if ((f->f_save = malloc(256)) == NULL)
		return -ENOMEM;
	f->f_save_cap = 256;
	memcpy(f->f_save, sp, len);
	f->f_save_len = (uint32_t)len;
	f->f_sp = S.sh_top - len;
	return 0;
}
#endif

/*
 * Lay a new fiber out on a private stack: its struct at the top (below
 * `top`, which is the mapping's end or a carved object's head), then its
 * frames down to the guard page.
 */
static weft_fiber_t *
fiber_on_stack(char *map, size_t map_size, char *top)
{
	weft_fiber_t *f;

	f = (weft_fiber_t *)(void *)((uintptr_t)(top - sizeof(*f)) &
	    ~(uintptr_t)63);
#ifdef WEFT_SANITIZERS
	ASAN_UNPOISON_MEMORY_REGION(map + S.page, (size_t)(top - map) - S.page);
#endif
#ifdef HAVE_VALGRIND_VALGRIND_H
	/* A stack from the pool may end lower than its last fiber's did (a
	 * carved object above it): memcheck made that fiber's returned frames
	 * unaddressable, and this fiber's struct and first frame go there. */
	VALGRIND_MAKE_MEM_UNDEFINED(map + S.page, (size_t)(top - map) - S.page);
#endif
	memset(f, 0, sizeof(*f));
	f->f_map = map;
	f->f_map_size = map_size;
#ifdef HAVE_VALGRIND_VALGRIND_H
	f->f_vg_id = VALGRIND_STACK_REGISTER(map + S.page, (char *)f);
#endif
#if WEFT__CTX_ASM
	f->f_sp = weft__ctx_make(map + S.page, fiber_usable(f), fiber_main, f);
#else
	getcontext(&f->f_uc);
	f->f_uc.uc_stack.ss_sp = map + S.page;
	f->f_uc.uc_stack.ss_size = fiber_usable(f);
	f->f_uc.uc_link = NULL;
	makecontext(&f->f_uc, (void (*)(void))fiber_main_uc, 2,
	    (unsigned)((uintptr_t)f >> 32), (unsigned)(uintptr_t)f);
#endif
	return f;
}

static void
fiber_ready(weft_fiber_t *f, weft_fiber_fn fn, void *arg, weft_fiber_t **out)
{
	f->f_fn = fn;
	f->f_arg = arg;
	f->f_name = "fiber";
	f->f_joinable = out != NULL;
	S.nfibers++;
	group_add(f);
	f->f_state = F_READY;
	runq_push(f);
	if (out != NULL)
		*out = f;
}

int
weft_spawn(weft_fiber_fn fn, void *arg, weft_fiber_t **out)
{
	weft_fiber_t *f;
	size_t map_size;
	char *map;

	if (!S.attached)
		return WEFT_ENOTFIBER;
	if (fn == NULL)
		return -EINVAL;
#if WEFT__CTX_ASM
	if (S.shared) {
		if ((f = calloc(1, sizeof(*f))) == NULL)
			return -ENOMEM;
		f->f_shared = 1;
		if (shared_spawn(f) != 0) {
			free(f->f_save);
			free(f);
			return -ENOMEM;
		}
		goto ready;
	}
#endif
	if ((map = weft__stack_get(&map_size)) == NULL)
		return -ENOMEM;
	f = fiber_on_stack(map, map_size, map + map_size);
#if WEFT__CTX_ASM
ready:
#endif
	fiber_ready(f, fn, arg, out);
	return 0;
}

void
weft__carve_spawn(void *obj, weft_fiber_fn fn, void *arg)
{
	struct carve *h = (struct carve *)obj - 1;
	weft_fiber_t *f;

	f = fiber_on_stack(h->c_map, h->c_map_size, (char *)h);
	f->f_carve = h;
	h->c_refs++;
	fiber_ready(f, fn, arg, NULL);
}

weft_fiber_t *
weft_current(void)
{
	return S.cur;
}

void
weft_fiber_set_name(weft_fiber_t *f, const char *name)
{
	if (f != NULL)
		f->f_name = name != NULL ? name : "fiber";
}

const char *
weft_fiber_name(const weft_fiber_t *f)
{
	return f != NULL ? f->f_name : "loop";
}

size_t
weft_fiber_count(void)
{
	return S.nfibers;
}

/* ---- Attach / run ------------------------------------------------------ */

int
weft_init(uv_loop_t *loop)
{
	struct sigaction sa;

	if (S.attached)
		return -EALREADY;
	if (loop == NULL)
		return -EINVAL;
	S.loop = loop;
	S.page = (size_t)sysconf(_SC_PAGESIZE);
	if (S.stack_size == 0)
		weft_fiber_stack_size_set(WEFT_FIBER_STACK_DEFAULT);
	uv_check_init(loop, &S.check);
	uv_check_start(&S.check, on_check);
	uv_unref((uv_handle_t *)&S.check);
	uv_idle_init(loop, &S.idle);
	weft__pools_init(loop);
	S.attached = 1;
	weft__crash_handler_install();
	/* A write to a peer that has gone must fail with EPIPE, not kill
	 * the process; Python ignores SIGPIPE at startup for the same
	 * reason.  A handler the program installed itself is left alone. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	return 0;
}

void
weft_fini(void)
{
	if (!S.attached)
		return;
	uv_check_stop(&S.check);
	uv_idle_stop(&S.idle);
	if (!uv_is_closing((uv_handle_t *)&S.check))
		uv_close((uv_handle_t *)&S.check, NULL);
	if (!uv_is_closing((uv_handle_t *)&S.idle))
		uv_close((uv_handle_t *)&S.idle, NULL);
	weft__pools_fini();
	S.rq_head = S.rq_tail = NULL;
	S.cur = NULL;
	S.loop = NULL;
	S.attached = 0;
}

uv_loop_t *
weft_loop(void)
{
	return S.loop;
}

struct run_main {
	weft_main_fn fn;
	void *arg;
	int rc;
};

static void
run_main_fiber(void *arg)
{
	struct run_main *m = arg;

	weft_fiber_set_name(weft_current(), "main");
	m->rc = m->fn(m->arg);
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int
weft_run(weft_main_fn main, void *arg)
{
	uv_loop_t loop;
	struct run_main m = { main, arg, 0 };
	int rc;

	if ((rc = uv_loop_init(&loop)) != 0)
		return rc;
	if ((rc = weft_init(&loop)) != 0) {
		uv_loop_close(&loop);
		return rc;
	}
	if ((rc = weft_spawn(run_main_fiber, &m, NULL)) != 0) {
		weft_fini();
		uv_loop_close(&loop);
		return rc;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	weft_fini();
	/* Handles the program left open (servers never closed, pooled
	 * timers) are closed here so the loop can be released. */
	uv_walk(&loop, close_walk_cb, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return m.rc;
}

/*
 * For the test harness only: a cmocka assertion that fails inside a fiber
 * longjmps out of it, leaving the scheduler attached to a dead loop.  This
 * forgets that state (leaking it) so the next test can start clean.
 */
void
weft__sched_forget(void)
{
	memset(&S, 0, sizeof(S));
}
