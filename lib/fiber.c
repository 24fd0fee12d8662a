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
 * Stacks are mmap'd with a PROT_NONE guard page below them and kept in a
 * pool, so creating a fiber costs no syscall once the pool is warm.  The
 * pool gives its memory back lazily: stacks (and I/O buffers) that stay
 * pooled through a whole trim period have their pages released by a
 * timer (see on_trim), so the hot path pays no syscall for it.
 */
#include "autoconf.h"

#include <errno.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx.h"
#include "internal.h"

#if !WEFT__CTX_ASM
#include <ucontext.h>
#endif
#ifdef HAVE_VALGRIND_VALGRIND_H
/* memcheck.h comes in the same package (Debian: valgrind) as valgrind.h. */
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif
#ifdef WEFT_SANITIZERS
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

enum fiber_state {
	F_READY = 1,
	F_RUNNING,
	F_PARKED,
	F_DONE,
};

struct weft_fiber {
	void *f_sp;		/* saved context (stack pointer or ucontext) */
	char *f_map;		/* mapping: guard page, then the stack */
	size_t f_map_size;
	weft_fiber_fn f_fn;
	void *f_arg;
	const char *f_name;
	weft_fiber_t *f_next;	/* run queue, or the free list */
	weft_fiber_t *f_wprev;	/* wait queue links */
	weft_fiber_t *f_wnext;
	weft__wq_t *f_wq;	/* the queue it is parked on */
	uv_timer_t *f_timer;	/* deadline / sleep timer, lazily taken */
	uint64_t f_deadline;	/* loop time in ms; 0 = none */
	uint64_t f_wake_at;	/* sleep end; 0 = none */
	uint64_t f_timer_at;	/* when f_timer fires; 0 = not armed */
	weft_fiber_t *f_joiner;
	int f_wake;		/* result handed to the parked call */
	uint8_t f_state;
	uint8_t f_cancel;	/* cancel requested while not parked */
	uint8_t f_joinable;
	uint8_t f_ran;		/* has run at least once */
	uint8_t f_shared;	/* runs on the shared stack (copy-stack) */
	struct carve *f_carve;	/* its stack is shared with a carved object */
	char *f_save;		/* shared: its stack bytes while swapped out */
	uint32_t f_save_len;
	uint32_t f_save_cap;
#ifdef WEFT_SANITIZERS
	void *f_asan_fake;
#endif
#ifdef HAVE_VALGRIND_VALGRIND_H
	unsigned f_vg_id;
#endif
#if !WEFT__CTX_ASM
	ucontext_t f_uc;
#endif
};

#define STACK_POOL_MAX 256
#define TIMER_POOL_MAX 256
#define POOL_TRIM_DEFAULT_MS 5000

/*
 * The head of an object carved from the top of a fiber stack (see
 * weft__carve): it sits right below the object, and the mapping goes back
 * to the pool when both the object and the fiber are done with it.
 */
struct carve {
	char *c_map;
	size_t c_map_size;
	size_t c_size;		/* the object's size */
	unsigned c_refs;	/* the object, and the fiber once spawned */
} __attribute__((aligned(16)));

static struct {
	uv_loop_t *loop;
	uv_check_t check;
	uv_idle_t idle;
	weft_fiber_t *rq_head;
	weft_fiber_t *rq_tail;
	weft_fiber_t *cur;
	void *main_sp;
	size_t page;
	size_t stack_size;	/* usable bytes of new stacks */
	size_t nfibers;
	char **stacks;		/* pooled mappings of stack_size + page */
	size_t nstacks;
	/* Trimming: stacks[0 .. stacks_low) have not been taken since the
	 * last trim tick (the pool is LIFO, so they are its idle bottom), and
	 * stacks[0 .. ntrimmed) already had their pages released. */
	size_t stacks_low;
	size_t ntrimmed;
	uv_timer_t trim;
	int trim_armed;
	int trim_heap;		/* closed timers: malloc_trim next tick too */
	uv_timer_t **timers;
	size_t ntimers;
	size_t timers_low;	/* as stacks_low, for the timer pool */
	int attached;
	int in_check;
	uint64_t iter;		/* loop iterations seen (check phases) */
	const void *main_bottom;
	size_t main_size;
	void *main_fake;
	/* Shared-stack mode (libaco's copy-stack): every such fiber runs on
	 * one stack; the fiber occupying it is copied out (just the bytes it
	 * uses) when another needs it, and back in when it runs again. */
	int shared;		/* new fibers go on the shared stack */
	char *sh_map;		/* guard page + shared stack */
	size_t sh_map_size;
	char *sh_top;		/* 16-aligned top of the shared stack */
	weft_fiber_t *sh_owner;	/* whose frames are on it now */
#ifdef HAVE_VALGRIND_VALGRIND_H
	unsigned sh_vg_id;
#endif
#if !WEFT__CTX_ASM
	ucontext_t main_uc;
#endif
} S;

void
weft__assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "weft: assertion failed: %s (%s:%d)\n", expr, file,
	    line);
	abort();
}

/* ---- Sanitizer hooks --------------------------------------------------- */

static inline void
asan_start(void **fake, const void *bottom, size_t size)
{
#ifdef WEFT_SANITIZERS
	__sanitizer_start_switch_fiber(fake, bottom, size);
#else
	(void)fake;
	(void)bottom;
	(void)size;
#endif
}

static inline void
asan_finish(void *fake, const void **bottom, size_t *size)
{
#ifdef WEFT_SANITIZERS
	__sanitizer_finish_switch_fiber(fake, bottom, size);
#else
	(void)fake;
	(void)bottom;
	(void)size;
#endif
}

/* ---- Context setup ----------------------------------------------------- */

#if WEFT__CTX_ASM
extern void weft__ctx_trampoline(void);

void *
weft__ctx_make(char *lo, size_t size, weft__ctx_fn fn, void *arg)
{
	uintptr_t top = ((uintptr_t)(lo + size)) & ~(uintptr_t)15;
#if defined(__x86_64__)
	uint64_t *sp = (uint64_t *)top - 8;
	uint32_t mxcsr;
	uint16_t fpucw;

	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));
	sp[0] = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
	sp[1] = 0;			  /* r15 */
	sp[2] = 0;			  /* r14 */
	sp[3] = (uint64_t)(uintptr_t)arg; /* r13 */
	sp[4] = (uint64_t)(uintptr_t)fn;  /* r12 */
	sp[5] = 0;			  /* rbx */
	sp[6] = 0;			  /* rbp */
	sp[7] = (uint64_t)(uintptr_t)weft__ctx_trampoline;
	return sp;
#elif defined(__aarch64__)
	uint64_t *sp = (uint64_t *)(top - 176);
	uint64_t fpcr;

	memset(sp, 0, 176);
	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	sp[0] = (uint64_t)(uintptr_t)fn;  /* x19 */
	sp[1] = (uint64_t)(uintptr_t)arg; /* x20 */
	sp[11] = (uint64_t)(uintptr_t)weft__ctx_trampoline; /* x30 */
	sp[20] = fpcr;
	return sp;
#endif
}
#endif

/* Switch from the running fiber (or the loop) to another context. */
static inline void
ctx_switch(weft_fiber_t *from, weft_fiber_t *to)
{
#if WEFT__CTX_ASM
	weft__ctx_switch(from != NULL ? &from->f_sp : &S.main_sp,
	    to != NULL ? to->f_sp : S.main_sp);
#else
	swapcontext(from != NULL ? &from->f_uc : &S.main_uc,
	    to != NULL ? &to->f_uc : &S.main_uc);
#endif
}

/* ---- Stacks ------------------------------------------------------------ */

/* The trim period in ms, 0 for never; UINT64_MAX: not set yet (weft_init
 * takes WEFT_POOL_TRIM_MS or the default).  Outside S, which a test's
 * weft__sched_forget wipes, so a setting made before weft_init holds. */
static uint64_t trim_ms = UINT64_MAX;

static char *
stack_get(size_t *map_size)
{
	size_t sz = S.stack_size + S.page;
	char *map;

	*map_size = sz;
	if (S.nstacks > 0) {
		/* One compare: the trim timer's bookkeeping. */
		if (--S.nstacks < S.stacks_low)
			S.stacks_low = S.nstacks;
		return S.stacks[S.nstacks];
	}
	map = mmap(NULL, sz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map, S.page, PROT_NONE) != 0) {
		munmap(map, sz);
		return NULL;
	}
	return map;
}

static void
stack_put(char *map, size_t map_size)
{
	if (map_size == S.stack_size + S.page && S.nstacks < STACK_POOL_MAX) {
		if (S.stacks == NULL)
			S.stacks = calloc(STACK_POOL_MAX, sizeof(*S.stacks));
		if (S.stacks != NULL) {
			S.stacks[S.nstacks++] = map;
			if (!S.trim_armed)
				weft__pool_trim_arm();
			return;
		}
	}
	munmap(map, map_size);
}

/* ---- Trimming the pools ------------------------------------------------ */

static void on_trim(uv_timer_t *t);
static void free_handle_cb(uv_handle_t *h);

/* Fold what stack_get saw into ntrimmed, and start a new period. */
static void
trim_period(void)
{
	if (S.ntrimmed > S.stacks_low)
		S.ntrimmed = S.stacks_low;
	S.stacks_low = S.nstacks;
	S.timers_low = S.ntimers;
}

/*
 * Called when something is pooled and no trim tick is due: one tick
 * trim_ms from now, for what stays pooled from now until then.  The
 * timer is unreferenced, so it never keeps the loop alive, and it keeps
 * ticking only while the pools hold something not yet trimmed: an idle
 * process wakes for it once or twice, then no more.
 */
void
weft__pool_trim_arm(void)
{
	if (!S.attached || S.trim_armed || trim_ms == 0 ||
	    trim_ms == UINT64_MAX)
		return;
	trim_period();
	weft__buf_trim_period();
	S.trim_armed = 1;
	uv_timer_start(&S.trim, on_trim, trim_ms, 0);
}

/*
 * Release what stayed pooled through a whole period (all: everything
 * pooled).  The pages of such stacks go back to the kernel
 * (MADV_DONTNEED: they read as zeros when next touched, a page fault
 * each, as a new mapping's would, but no mmap), such buffers go back to
 * malloc, and malloc gives its free pages back.  A pooled stack holds
 * nothing, not even a carved object (a stack is pooled only once that
 * is done with too), so all of it goes.  How many stacks stay pooled is
 * capped by STACK_POOL_MAX: stack_put unmaps the rest.
 */
static void
trim(int all)
{
	size_t i, lo, k, n = 0;
	int heap = S.trim_heap;

	if (S.ntrimmed > S.stacks_low)
		S.ntrimmed = S.stacks_low;
	lo = all ? S.nstacks : S.stacks_low;
	for (i = S.ntrimmed; i < lo; i++) {
		/* Memcheck keeps its own view of these bytes; every reuse
		 * marks what it uses as undefined first (fiber_on_stack,
		 * weft__carve), which zeros are. */
		if (madvise(S.stacks[i] + S.page, S.stack_size,
		    MADV_DONTNEED) == 0)
			n++;
	}
	if (lo > S.ntrimmed)
		S.ntrimmed = lo;
	S.stacks_low = S.nstacks;
	n += weft__buf_trim(all);
	/* Pooled timers are small, but each was malloc'd while its
	 * connection was busy, between that connection's buffers: one left
	 * live pins a page that malloc_trim could give back otherwise. */
	k = all ? S.ntimers : S.timers_low;
	for (i = 0; i < k; i++)
		uv_close((uv_handle_t *)S.timers[i], free_handle_cb);
	if (k > 0)
		memmove(S.timers, S.timers + k,
		    (S.ntimers - k) * sizeof(*S.timers));
	S.ntimers -= k;
	S.timers_low = S.ntimers;
	/* Closed handles are freed in the loop's close phase, after this:
	 * the next tick trims the heap for them. */
	S.trim_heap = k > 0;
#ifdef HAVE_MALLOC_TRIM
	/* Once the pools have gone idle, so has most of the heap that the
	 * connections used (a callback-mode connection, libuv's requests):
	 * without this glibc keeps what it does not find at the top of the
	 * heap. */
	if (n > 0 || heap)
		(void)malloc_trim(0);
#else
	(void)heap;
#endif
}

static void
on_trim(uv_timer_t *t)
{
	(void)t;
	S.trim_armed = 0;
	trim(0);
	/* Again while something pooled is not trimmed yet. */
	if (S.nstacks > S.ntrimmed || weft__buf_pooled() > 0 ||
	    S.ntimers > 0 || S.trim_heap)
		weft__pool_trim_arm();
}

void
weft__pool_trim(int all)
{
	trim(all);
}

void
weft__pool_stats(size_t *stacks, size_t *trimmed, size_t *bufs,
    size_t *timers)
{
	if (timers != NULL)
		*timers = S.ntimers;
	if (stacks != NULL)
		*stacks = S.nstacks;
	if (trimmed != NULL)
		*trimmed = S.ntrimmed < S.stacks_low ? S.ntrimmed :
		    S.stacks_low;
	if (bufs != NULL)
		*bufs = weft__buf_pooled();
}

uint64_t
weft_pool_trim_set(uint64_t ms)
{
	uint64_t old = trim_ms == UINT64_MAX ? POOL_TRIM_DEFAULT_MS : trim_ms;

	trim_ms = ms == UINT64_MAX ? UINT64_MAX - 1 : ms;
	if (ms == 0 && S.trim_armed) {
		uv_timer_stop(&S.trim);
		S.trim_armed = 0;
	}
	return old;
}

static void
carve_unref(struct carve *h)
{
	if (--h->c_refs == 0)
		stack_put(h->c_map, h->c_map_size);
}

/* ---- Timers ------------------------------------------------------------ */

static int arm_timer(weft_fiber_t *f);

/*
 * A fiber's timer is lazy: a wait that ends before the timer is due leaves
 * it running, and the next wait reuses it when it is due no later than
 * that wait's deadline.  A keep-alive loop that sets a deadline for each
 * request then starts the timer once per deadline period rather than
 * starting and stopping it on every wait (two heap operations each, about
 * a sixth of a keep-alive request's instructions).  So when it fires,
 * what it was armed for may have moved: nothing is due (it stops), or a
 * later deadline is (it is armed again).
 */
static void
on_fiber_timer(uv_timer_t *t)
{
	weft_fiber_t *f = t->data;
	uint64_t now = uv_now(S.loop);

	if (f == NULL)
		return;
	f->f_timer_at = 0;
	if (f->f_state != F_PARKED)
		return;
	if (f->f_deadline != 0 && now >= f->f_deadline)
		weft__wake(f, WEFT_ETIMEDOUT);
	else if (f->f_wake_at != 0 && now >= f->f_wake_at)
		weft__wake(f, 0);
	else
		(void)arm_timer(f);
}

static uv_timer_t *
timer_get(void)
{
	uv_timer_t *t;

	if (S.ntimers > 0) {
		if (--S.ntimers < S.timers_low)
			S.timers_low = S.ntimers;
		return S.timers[S.ntimers];
	}
	t = malloc(sizeof(*t));
	if (t == NULL)
		return NULL;
	uv_timer_init(S.loop, t);
	return t;
}

static void
free_handle_cb(uv_handle_t *h)
{
	free(h);
}

static void
timer_put(uv_timer_t *t)
{
	uv_timer_stop(t);
	uv_ref((uv_handle_t *)t);
	t->data = NULL;
	if (S.ntimers < TIMER_POOL_MAX) {
		if (S.timers == NULL)
			S.timers = calloc(TIMER_POOL_MAX, sizeof(*S.timers));
		if (S.timers != NULL) {
			S.timers[S.ntimers++] = t;
			if (!S.trim_armed)
				weft__pool_trim_arm();
			return;
		}
	}
	uv_close((uv_handle_t *)t, free_handle_cb);
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

static void
fiber_release(weft_fiber_t *f)
{
	char *map = f->f_map;
	size_t map_size = f->f_map_size;

	S.nfibers--;
	if (f->f_timer != NULL) {
		timer_put(f->f_timer);
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
		carve_unref(f->f_carve);
	else
		stack_put(map, map_size);
}

/* A plain copy ASan does not check: stack bytes include frame redzones. */
#ifdef WEFT_SANITIZERS
__attribute__((no_sanitize("address")))
#endif
static void
stack_copy(char *dst, const char *src, size_t n)
{
	volatile char *d = dst;

	while (n-- > 0)
		*d++ = *src++;
}

/* Put f's frames on the shared stack, moving the current owner's out. */
static int
shared_swap_in(weft_fiber_t *f)
{
	weft_fiber_t *o = S.sh_owner;
	size_t len;
	char *nb;

	if (o == f)
		return 0;
	if (o != NULL && o->f_state != F_DONE) {
		len = (size_t)(S.sh_top - (char *)o->f_sp);
		if (len > o->f_save_cap) {
			/* Round up so a growing handler does not realloc on
			 * every swap. */
			size_t cap = (len + 255) & ~(size_t)255;

			if ((nb = realloc(o->f_save, cap)) == NULL)
				return -ENOMEM;
			o->f_save = nb;
			o->f_save_cap = (uint32_t)cap;
		}
		stack_copy(o->f_save, (char *)o->f_sp, len);
		o->f_save_len = (uint32_t)len;
	}
#ifdef WEFT_SANITIZERS
	ASAN_UNPOISON_MEMORY_REGION(S.sh_map + S.page,
	    S.sh_map_size - S.page);
#endif
#ifdef HAVE_VALGRIND_VALGRIND_H
	/* Memcheck made the bytes below the last owner's stack pointer
	 * unaddressable as its frames returned; f's frames go back there.
	 * Addressable is all they need: the copy brings their definedness. */
	VALGRIND_MAKE_MEM_UNDEFINED(S.sh_top - f->f_save_len, f->f_save_len);
#endif
	stack_copy(S.sh_top - f->f_save_len, f->f_save, f->f_save_len);
	S.sh_owner = f;
	return 0;
}

static void
fiber_run(weft_fiber_t *f)
{
	if (f->f_shared && shared_swap_in(f) != 0) {
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
		fiber_release(f);
}

static void
on_check(uv_check_t *h)
{
	weft_fiber_t *last = S.rq_tail, *f;

	(void)h;
	S.iter++;
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

/* ---- Fiber lifecycle --------------------------------------------------- */

static void fiber_main(void *arg) __attribute__((noreturn));

static void
fiber_main(void *arg)
{
	weft_fiber_t *f = arg;

	asan_finish(NULL, &S.main_bottom, &S.main_size);
	f->f_fn(f->f_arg);
	f->f_state = F_DONE;
	if (f->f_joiner != NULL)
		weft__wake(f->f_joiner, 0);
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
static int
shared_stack_init(void)
{
	size_t sz = S.stack_size + S.page;

	if (S.sh_map != NULL)
		return 0;
	S.sh_map = mmap(NULL, sz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (S.sh_map == MAP_FAILED) {
		S.sh_map = NULL;
		return -ENOMEM;
	}
	if (mprotect(S.sh_map, S.page, PROT_NONE) != 0) {
		munmap(S.sh_map, sz);
		S.sh_map = NULL;
		return -ENOMEM;
	}
	S.sh_map_size = sz;
	S.sh_top = (char *)((uintptr_t)(S.sh_map + sz) & ~(uintptr_t)15);
#ifdef HAVE_VALGRIND_VALGRIND_H
	S.sh_vg_id = VALGRIND_STACK_REGISTER(S.sh_map + S.page, S.sh_top);
#endif
	return 0;
}

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

	if (shared_stack_init() != 0)
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
	if ((map = stack_get(&map_size)) == NULL)
		return -ENOMEM;
	f = fiber_on_stack(map, map_size, map + map_size);
#if WEFT__CTX_ASM
ready:
#endif
	fiber_ready(f, fn, arg, out);
	return 0;
}

void *
weft__carve(size_t size)
{
	struct carve *h;
	size_t map_size;
	char *map, *obj;

	/* The object shares the page the parked fiber touches anyway, so
	 * it must leave most of that page to the fiber. */
	if (!S.attached || S.shared || size > S.page / 4)
		return NULL;
	if ((map = stack_get(&map_size)) == NULL)
		return NULL;
	obj = (char *)((uintptr_t)(map + map_size - size) & ~(uintptr_t)63);
	h = (struct carve *)(void *)obj - 1;
	/* What was an earlier fiber's frames is plain memory now (the
	 * fiber's part below is made so by fiber_on_stack). */
#ifdef WEFT_SANITIZERS
	ASAN_UNPOISON_MEMORY_REGION(h, (size_t)(map + map_size - (char *)h));
#endif
#ifdef HAVE_VALGRIND_VALGRIND_H
	VALGRIND_MAKE_MEM_UNDEFINED(h, (size_t)(map + map_size - (char *)h));
#endif
	h->c_map = map;
	h->c_map_size = map_size;
	h->c_size = size;
	h->c_refs = 1;
	return obj;
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

void
weft__carve_put(void *obj)
{
	struct carve *h = (struct carve *)obj - 1;

#ifdef WEFT_SANITIZERS
	/* A use of the object after this is caught as it would be on the
	 * heap; the next fiber on this stack unpoisons it. */
	ASAN_POISON_MEMORY_REGION(obj, h->c_size);
#endif
	carve_unref(h);
}

int
weft_fiber_stacks_shared(int on)
{
	int old = S.shared;

#if WEFT__CTX_ASM
	S.shared = on != 0;
	return old;
#else
	(void)on;
	return on ? -ENOTSUP : old;
#endif
}

int
weft_join(weft_fiber_t *f)
{
	int rc;

	if (f == NULL || !f->f_joinable)
		return -EINVAL;
	while (f->f_state != F_DONE) {
		if (S.cur == NULL)
			return WEFT_ENOTFIBER;
		f->f_joiner = S.cur;
		rc = weft__park(NULL);
		f->f_joiner = NULL;
		if (rc < 0 && f->f_state != F_DONE)
			return rc;
	}
	fiber_release(f);
	return 0;
}

uint64_t
weft__loop_iter(void)
{
	return S.iter;
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

size_t
weft_fiber_stack_size_set(size_t size)
{
	size_t old = S.stack_size;
	size_t page = S.page != 0 ? S.page : (size_t)sysconf(_SC_PAGESIZE);

	if (size < 16 * 1024)
		size = 16 * 1024;
	size = (size + page - 1) & ~(page - 1);
	if (size != S.stack_size && S.sh_map == NULL) {
		/* Pooled stacks of the old size are no longer handed out. */
		while (S.nstacks > 0)
			munmap(S.stacks[--S.nstacks], S.stack_size + page);
		S.stacks_low = S.ntrimmed = 0;
		S.stack_size = size;
	}
	return old;
}

/* ---- Waiting ----------------------------------------------------------- */

static void
wq_append(weft__wq_t *q, weft_fiber_t *f)
{
	f->f_wq = q;
	f->f_wnext = NULL;
	f->f_wprev = q->tail;
	if (q->tail != NULL)
		q->tail->f_wnext = f;
	else
		q->head = f;
	q->tail = f;
}

static void
wq_remove(weft__wq_t *q, weft_fiber_t *f)
{
	if (f->f_wprev != NULL)
		f->f_wprev->f_wnext = f->f_wnext;
	else
		q->head = f->f_wnext;
	if (f->f_wnext != NULL)
		f->f_wnext->f_wprev = f->f_wprev;
	else
		q->tail = f->f_wprev;
	f->f_wq = NULL;
	f->f_wprev = f->f_wnext = NULL;
}

/*
 * Make sure f's timer fires no later than its deadline or sleep end.  A
 * timer left running by an earlier wait (see on_fiber_timer) that is due
 * in time is kept.  Without anything due it may still run; it is then
 * unreferenced, so that it alone does not keep the loop alive.
 */
static int
arm_timer(weft_fiber_t *f)
{
	uint64_t now = uv_now(S.loop), at = 0;

	if (f->f_deadline != 0)
		at = f->f_deadline;
	if (f->f_wake_at != 0 && (at == 0 || f->f_wake_at < at))
		at = f->f_wake_at;
	if (at == 0) {
		if (f->f_timer_at != 0)
			uv_unref((uv_handle_t *)f->f_timer);
		return 0;
	}
	if (f->f_timer_at != 0 && f->f_timer_at <= at) {
		uv_ref((uv_handle_t *)f->f_timer);
		return 0;
	}
	if (f->f_timer == NULL && (f->f_timer = timer_get()) == NULL)
		return -ENOMEM;
	f->f_timer->data = f;
	uv_ref((uv_handle_t *)f->f_timer);
	uv_timer_start(f->f_timer, on_fiber_timer, at > now ? at - now : 0, 0);
	f->f_timer_at = at > now ? at : now;
	return 0;
}

static inline void **
fake_slot(weft_fiber_t *f)
{
#ifdef WEFT_SANITIZERS
	return &f->f_asan_fake;
#else
	(void)f;
	return NULL;
#endif
}

int
weft__park(weft__wq_t *q)
{
	weft_fiber_t *f = S.cur;
	int rc;

	if (f == NULL)
		return WEFT_ENOTFIBER;
	if (f->f_cancel) {
		f->f_cancel = 0;
		return WEFT_ECANCELED;
	}
	if (f->f_deadline != 0 && uv_now(S.loop) >= f->f_deadline)
		return WEFT_ETIMEDOUT;
	if ((rc = arm_timer(f)) < 0)
		return rc;
	if (q != NULL)
		wq_append(q, f);
	f->f_state = F_PARKED;
	f->f_wake = 0;
	asan_start(fake_slot(f), S.main_bottom, S.main_size);
	ctx_switch(f, NULL);
#ifdef WEFT_SANITIZERS
	asan_finish(f->f_asan_fake, NULL, NULL);
#endif
	return f->f_wake;
}

void
weft__wake(weft_fiber_t *f, int code)
{
	if (f == NULL || f->f_state != F_PARKED)
		return;
	if (f->f_wq != NULL)
		wq_remove(f->f_wq, f);
	f->f_wake = code;
	f->f_state = F_READY;
	runq_push(f);
}

void
weft__wake_all(weft__wq_t *q, int code)
{
	while (q->head != NULL)
		weft__wake(q->head, code);
}

int
weft__wake_one(weft__wq_t *q, int code)
{
	if (q->head == NULL)
		return 0;
	weft__wake(q->head, code);
	return 1;
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
	asan_start(fake_slot(f), S.main_bottom, S.main_size);
	ctx_switch(f, NULL);
#ifdef WEFT_SANITIZERS
	asan_finish(f->f_asan_fake, NULL, NULL);
#endif
	return f->f_wake;
}

int
weft_sleep(uint64_t ms)
{
	weft_fiber_t *f = S.cur;
	int rc;

	if (f == NULL)
		return WEFT_ENOTFIBER;
	uv_update_time(S.loop); /* from now, as weft_deadline_set */
	f->f_wake_at = uv_now(S.loop) + (ms != 0 ? ms : 0);
	if (f->f_wake_at == 0)
		f->f_wake_at = 1;
	rc = weft__park(NULL);
	f->f_wake_at = 0;
	return rc;
}

int
weft_cancel(weft_fiber_t *f)
{
	if (f == NULL || f->f_state == F_DONE || f->f_state == 0)
		return -EINVAL;
	if (f->f_state == F_PARKED)
		weft__wake(f, WEFT_ECANCELED);
	else if (f->f_state == F_READY && f->f_ran)
		/* Woken but not resumed yet: as in asyncio, the cancel wins
		 * over the result, and the call it was in consumes nothing. */
		f->f_wake = WEFT_ECANCELED;
	else
		f->f_cancel = 1;
	return 0;
}

int
weft_deadline_set(uint64_t ms)
{
	if (S.cur == NULL)
		return WEFT_ENOTFIBER;
	/* From now, not from the start of this loop iteration: a fiber that
	 * has run for a while would otherwise get a deadline that much too
	 * early.  One vDSO clock read (libuv's fast clock). */
	uv_update_time(S.loop);
	S.cur->f_deadline = uv_now(S.loop) + ms;
	if (S.cur->f_deadline == 0)
		S.cur->f_deadline = 1;
	return 0;
}

void
weft_deadline_clear(void)
{
	if (S.cur != NULL)
		S.cur->f_deadline = 0;
}

/* ---- Stack overflow reporting ------------------------------------------ */

static struct sigaction old_segv;
static char *altstack;

/* Append s to buf[*n..size), async-signal-safe. */
static void
cat_str(char *buf, size_t *n, size_t size, const char *s)
{
	while (*s != '\0' && *n < size - 1)
		buf[(*n)++] = *s++;
}

static void
cat_hex(char *buf, size_t *n, size_t size, uintptr_t v)
{
	char tmp[2 + 2 * sizeof(v)];
	size_t k = sizeof(tmp);

	do {
		tmp[--k] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	tmp[--k] = 'x';
	tmp[--k] = '0';
	while (k < sizeof(tmp) && *n < size - 1)
		buf[(*n)++] = tmp[k++];
}

/*
 * SIGSEGV on the sigaltstack.  While a fiber runs, one line names it (a
 * handler fiber carries its plugin's name): "fiber stack overflow" when
 * the address is in or just below its guard page, "crash" otherwise.  The
 * line is built on this stack and written with one write(2), so it does
 * not interleave with other processes' lines.  Then the fault is left to
 * the default action (overflow) or to the handler that was there before
 * (a crash: a sanitizer's, or the default), by returning to the faulting
 * instruction.
 */
static void
on_segv(int sig, siginfo_t *si, void *uc)
{
	weft_fiber_t *f = S.cur;
	char *addr = si->si_addr;
	char line[256];
	size_t n = 0;
	ssize_t w;

	(void)uc;
	/* A frame larger than the guard can jump past it: allow 64 KiB. */
	char *guard = f == NULL ? NULL : f->f_shared ? S.sh_map : f->f_map;

	if (guard != NULL && addr < guard + S.page &&
	    addr + 64 * 1024 >= guard) {
		cat_str(line, &n, sizeof(line),
		    "weft: fiber stack overflow in fiber '");
		cat_str(line, &n, sizeof(line), f->f_name);
		cat_str(line, &n, sizeof(line), "'\n");
		w = write(STDERR_FILENO, line, n);
		(void)w;
		signal(sig, SIG_DFL);
		return;
	}
	if (f != NULL) {
		cat_str(line, &n, sizeof(line), "weft: crash in fiber '");
		cat_str(line, &n, sizeof(line), f->f_name);
		cat_str(line, &n, sizeof(line), "' (SIGSEGV at address ");
		cat_hex(line, &n, sizeof(line), (uintptr_t)addr);
		cat_str(line, &n, sizeof(line), ")\n");
		w = write(STDERR_FILENO, line, n);
		(void)w;
	}
	/* Not an overflow: let the previous handler (or the default) see
	 * it when the instruction faults again. */
	sigaction(sig, &old_segv, NULL);
}

static void
overflow_handler_install(void)
{
	struct sigaction sa;
	stack_t ss;
	size_t sz = 64 * 1024;

	if (altstack == NULL) {
		altstack = mmap(NULL, sz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (altstack == MAP_FAILED) {
			altstack = NULL;
			return;
		}
		memset(&ss, 0, sizeof(ss));
		ss.ss_sp = altstack;
		ss.ss_size = sz;
		if (sigaltstack(&ss, NULL) != 0)
			return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
}

/* ---- Attach / run ------------------------------------------------------ */

int
weft_init(uv_loop_t *loop)
{
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
	uv_timer_init(loop, &S.trim);
	uv_unref((uv_handle_t *)&S.trim);
	S.trim_armed = 0;
	if (trim_ms == UINT64_MAX) {
		const char *e = getenv("WEFT_POOL_TRIM_MS");
		char *end;
		unsigned long long v;

		trim_ms = POOL_TRIM_DEFAULT_MS;
		if (e != NULL && *e != '\0') {
			errno = 0;
			v = strtoull(e, &end, 10);
			/* A bad value is ignored: the default is safe. */
			if (errno == 0 && *end == '\0' && v < UINT64_MAX)
				trim_ms = v;
		}
	}
	S.attached = 1;
	overflow_handler_install();
	/* A write to a peer that has gone must fail with EPIPE, not kill
	 * the process; Python ignores SIGPIPE at startup for the same
	 * reason.  A handler the program installed itself is left alone. */
	{
		struct sigaction sa;

		if (sigaction(SIGPIPE, NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_DFL)
			signal(SIGPIPE, SIG_IGN);
	}
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
	uv_timer_stop(&S.trim);
	S.trim_armed = 0;
	if (!uv_is_closing((uv_handle_t *)&S.trim))
		uv_close((uv_handle_t *)&S.trim, NULL);
	while (S.ntimers > 0)
		uv_close((uv_handle_t *)S.timers[--S.ntimers], free_handle_cb);
	free(S.timers);
	S.timers = NULL;
	S.timers_low = 0;
	S.trim_heap = 0;
	while (S.nstacks > 0)
		munmap(S.stacks[--S.nstacks], S.stack_size + S.page);
	free(S.stacks);
	S.stacks = NULL;
	S.stacks_low = S.ntrimmed = 0;
	weft__pool_fini();
	if (S.sh_map != NULL) {
#ifdef HAVE_VALGRIND_VALGRIND_H
		VALGRIND_STACK_DEREGISTER(S.sh_vg_id);
#endif
		munmap(S.sh_map, S.sh_map_size);
		S.sh_map = NULL;
		S.sh_owner = NULL;
	}
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
