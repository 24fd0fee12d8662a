/*
 * Fiber stacks and the pools behind them.
 *
 * Stacks are mmap'd with a PROT_NONE guard page below them and kept in a
 * pool, so creating a fiber costs no syscall once the pool is warm.  The
 * pool gives its memory back lazily: stacks, fiber timers (and I/O
 * buffers, pool.c) that stay pooled through a whole trim period have
 * their pages released by a timer (see on_trim), so the hot path pays no
 * syscall for it.  Shared-stack mode keeps one stack for all its fibers
 * and copies each fiber's frames in and out of it (weft__shared_swap_in).
 */
#include "autoconf.h"

#include <errno.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiber_int.h"

#ifdef HAVE_VALGRIND_VALGRIND_H
/* memcheck.h comes in the same package (Debian: valgrind) as valgrind.h. */
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

#define STACK_POOL_MAX 256
#define TIMER_POOL_MAX 256
#define POOL_TRIM_DEFAULT_MS 5000

/* The trim period in ms, 0 for never; UINT64_MAX: not set yet (weft_init
 * takes WEFT_POOL_TRIM_MS or the default).  Outside S, which a test's
 * weft__sched_forget wipes, so a setting made before weft_init holds. */
static uint64_t trim_ms = UINT64_MAX;

/* ---- Stacks ------------------------------------------------------------ */

char *
weft__stack_get(size_t *map_size)
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

void
weft__stack_put(char *map, size_t map_size)
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

/* ---- Objects carved from a stack --------------------------------------- */

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
	if ((map = weft__stack_get(&map_size)) == NULL)
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
weft__carve_unref(struct carve *h)
{
	if (--h->c_refs == 0)
		weft__stack_put(h->c_map, h->c_map_size);
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
	weft__carve_unref(h);
}

/* ---- The shared stack -------------------------------------------------- */

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

#if WEFT__CTX_ASM
int
weft__shared_stack_init(void)
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
#endif

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

int
weft__shared_swap_in(weft_fiber_t *f)
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
	ASAN_UNPOISON_MEMORY_REGION(S.sh_map + S.page, S.sh_map_size - S.page);
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

/* ---- Fiber timers ------------------------------------------------------ */

static void
free_handle_cb(uv_handle_t *h)
{
	free(h);
}

uv_timer_t *
weft__timer_get(void)
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

void
weft__timer_put(uv_timer_t *t)
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

/* ---- Trimming the pools ------------------------------------------------ */

static void on_trim(uv_timer_t *t);

/* Fold what weft__stack_get saw into ntrimmed, and start a new period. */
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

/* Release the pages of the stacks pooled through a whole period (all:
 * of every pooled stack); returns how many. */
static size_t
trim_stacks(int all)
{
	size_t i, lo, n = 0;

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
	return n;
}

/* Close the timers pooled through a whole period (all: every pooled
 * one); returns how many. */
static size_t
trim_timers(int all)
{
	size_t i, k;

	k = all ? S.ntimers : S.timers_low;
	for (i = 0; i < k; i++)
		uv_close((uv_handle_t *)S.timers[i], free_handle_cb);
	if (k > 0)
		memmove(S.timers, S.timers + k,
		    (S.ntimers - k) * sizeof(*S.timers));
	S.ntimers -= k;
	S.timers_low = S.ntimers;
	return k;
}

/*
 * Release what stayed pooled through a whole period (all: everything
 * pooled).  The pages of such stacks go back to the kernel
 * (MADV_DONTNEED: they read as zeros when next touched, a page fault
 * each, as a new mapping's would, but no mmap), such buffers go back to
 * malloc, and malloc gives its free pages back.  A pooled stack holds
 * nothing, not even a carved object (a stack is pooled only once that
 * is done with too), so all of it goes.  How many stacks stay pooled is
 * capped by STACK_POOL_MAX: weft__stack_put unmaps the rest.
 */
void
weft__pool_trim(int all)
{
	size_t n;
	int heap = S.trim_heap;

	n = trim_stacks(all);
	n += weft__buf_trim(all);
	/* Pooled timers are small, but each was malloc'd while its
	 * connection was busy, between that connection's buffers: one left
	 * live pins a page that malloc_trim could give back otherwise.
	 * Closed handles are freed in the loop's close phase, after this:
	 * the next tick trims the heap for them. */
	S.trim_heap = trim_timers(all) > 0;
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
	weft__pool_trim(0);
	/* Again while something pooled is not trimmed yet. */
	if (S.nstacks > S.ntrimmed || weft__buf_pooled() > 0 || S.ntimers > 0 ||
	    S.trim_heap)
		weft__pool_trim_arm();
}

void
weft__pool_stats(size_t *stacks, size_t *trimmed, size_t *bufs, size_t *timers)
{
	if (timers != NULL)
		*timers = S.ntimers;
	if (stacks != NULL)
		*stacks = S.nstacks;
	if (trimmed != NULL)
		*trimmed = S.ntrimmed < S.stacks_low ? S.ntrimmed
						     : S.stacks_low;
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

/* ---- Setup and teardown ------------------------------------------------ */

void
weft__pools_init(uv_loop_t *loop)
{
	const char *e;
	char *end;
	unsigned long long v;

	uv_timer_init(loop, &S.trim);
	uv_unref((uv_handle_t *)&S.trim);
	S.trim_armed = 0;
	weft__buf_set_pooled_hook(weft__pool_trim_arm);
	if (trim_ms != UINT64_MAX)
		return;
	trim_ms = POOL_TRIM_DEFAULT_MS;
	e = getenv("WEFT_POOL_TRIM_MS");
	if (e != NULL && *e != '\0') {
		errno = 0;
		v = strtoull(e, &end, 10);
		/* A bad value is ignored: the default is safe. */
		if (errno == 0 && *end == '\0' && v < UINT64_MAX)
			trim_ms = v;
	}
}

void
weft__pools_fini(void)
{
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
}
