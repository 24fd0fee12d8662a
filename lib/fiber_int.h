/*
 * What the fiber files share and nothing else sees: the fiber struct and
 * the scheduler's state.  The files form layers, each calling only files
 * below it, so no two of them call each other:
 *
 *	waitq.c		wait queues, timers, deadlines, sleep, join, cancel
 *	fiber.c		scheduler: run queue, spawn, yield, init and run
 *	crash.c		the SIGSEGV reporter (reads the state, calls no weft code)
 *	stack.c		stacks, the shared stack, the pools and their trimming
 *	ctx.c		a fresh context on a stack (with ctx_*.S)
 */
#ifndef WEFT_FIBER_INT_H
#define WEFT_FIBER_INT_H

#include "ctx.h"
#include "internal.h"

#if !WEFT__CTX_ASM
#include <ucontext.h>
#endif
#ifdef WEFT_SANITIZERS
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* Everything here stays inside libweft: direct calls and data access. */
#pragma GCC visibility push(hidden)

enum fiber_state {
	F_READY = 1,
	F_RUNNING,
	F_PARKED,
	F_DONE,
};

/*
 * The head of an object carved from the top of a fiber stack (see
 * weft__carve): it sits right below the object, and the mapping goes back
 * to the pool when both the object and the fiber are done with it.
 */
struct carve {
	char *c_map;
	size_t c_map_size;
	size_t c_size;	 /* the object's size */
	unsigned c_refs; /* the object, and the fiber once spawned */
} __attribute__((aligned(16)));

struct weft_fiber {
	void *f_sp;  /* saved context (stack pointer or ucontext) */
	char *f_map; /* mapping: guard page, then the stack */
	size_t f_map_size;
	weft_fiber_fn f_fn;
	void *f_arg;
	const char *f_name;
	weft_fiber_t *f_next;  /* run queue, or the free list */
	weft_fiber_t *f_wprev; /* wait queue links */
	weft_fiber_t *f_wnext;
	weft__wq_t *f_wq;    /* the queue it is parked on */
	uv_timer_t *f_timer; /* deadline / sleep timer, lazily taken */
	uint64_t f_deadline; /* loop time in ms; 0 = none */
	uint64_t f_wake_at;  /* sleep end; 0 = none */
	uint64_t f_timer_at; /* when f_timer fires; 0 = not armed */
	weft_fiber_t *f_joiner;
	int f_wake; /* result handed to the parked call */
	int f_woke; /* what woke it, kept when a cancel overrides f_wake */
	uint8_t f_state;
	uint8_t f_cancel; /* cancel requested while not parked */
	uint8_t f_joinable;
	uint8_t f_ran;	       /* has run at least once */
	uint8_t f_shared;      /* runs on the shared stack (copy-stack) */
	struct carve *f_carve; /* its stack is shared with a carved object */
	/* The group its spawns join (plugin.h), and its links in the group
	 * it belongs to, if f_gmember. */
	struct weft_fiber_group *f_group;
	weft_fiber_t *f_gprev;
	weft_fiber_t *f_gnext;
	uint8_t f_gmember;
	uint8_t f_gcancelled; /* the group's cancel has reached it */
	char *f_save;	      /* shared: its stack bytes while swapped out */
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

/*
 * A fiber group (weft_fiber_group_new, plugin.h): the fibers spawned by a
 * fiber whose f_group it is, and by theirs.  fiber.c adds a fiber at its
 * spawn and takes it out when its body returns; fiber_group.c cancels and
 * waits.
 */
struct weft_fiber_group {
	weft_fiber_t *g_head; /* members, newest first */
	size_t g_count;
	weft_fiber_t *g_waiter; /* parked in weft_fiber_group_cancel */
};

/*
 * The state of the fibers of the process, one struct so that a test's
 * weft__sched_forget wipes all of it.  Defined in fiber.c; the comments
 * say which file keeps each part.
 */
struct weft__sched {
	/* fiber.c: the loop and the run queue. */
	uv_loop_t *loop;
	uv_check_t check;
	uv_idle_t idle;
	weft_fiber_t *rq_head;
	weft_fiber_t *rq_tail;
	weft_fiber_t *cur;
	void *main_sp;
	size_t nfibers;
	int attached;
	int in_check;
	const void *main_bottom;
	size_t main_size;
	void *main_fake;
#if !WEFT__CTX_ASM
	ucontext_t main_uc;
#endif
	/* stack.c: stacks and the pools. */
	size_t page;
	size_t stack_size; /* usable bytes of new stacks */
	char **stacks;	   /* pooled mappings of stack_size + page */
	size_t nstacks;
	/* Trimming: stacks[0 .. stacks_low) have not been taken since the
	 * last trim tick (the pool is LIFO, so they are its idle bottom), and
	 * stacks[0 .. ntrimmed) already had their pages released. */
	size_t stacks_low;
	size_t ntrimmed;
	uv_timer_t trim;
	int trim_armed;
	int trim_heap; /* closed timers: malloc_trim next tick too */
	uv_timer_t **timers;
	size_t ntimers;
	size_t timers_low; /* as stacks_low, for the timer pool */
	/* Shared-stack mode (libaco's copy-stack): every such fiber runs on
	 * one stack; the fiber occupying it is copied out (just the bytes it
	 * uses) when another needs it, and back in when it runs again. */
	int shared;   /* new fibers go on the shared stack */
	char *sh_map; /* guard page + shared stack */
	size_t sh_map_size;
	char *sh_top;		/* 16-aligned top of the shared stack */
	weft_fiber_t *sh_owner; /* whose frames are on it now */
#ifdef HAVE_VALGRIND_VALGRIND_H
	unsigned sh_vg_id;
#endif
};

extern struct weft__sched weft__S;
#define S weft__S

/* ---- stack.c ----------------------------------------------------------- */

/* A stack mapping (guard page, then stack_size bytes), from the pool. */
char *weft__stack_get(size_t *map_size);
void weft__stack_put(char *map, size_t map_size);
/* The fiber is done with the stack it shares with a carved object. */
void weft__carve_unref(struct carve *h);
/* Map the shared stack if it is not yet. */
int weft__shared_stack_init(void);
/* Put f's frames on the shared stack, moving the current owner's out. */
int weft__shared_swap_in(weft_fiber_t *f);
/* A fiber's lazy timer, from the pool, and back. */
uv_timer_t *weft__timer_get(void);
void weft__timer_put(uv_timer_t *t);
/* weft_init / weft_fini: the trim timer, and emptying the pools. */
void weft__pools_init(uv_loop_t *loop);
void weft__pools_fini(void);

/* ---- crash.c ----------------------------------------------------------- */

void weft__crash_handler_install(void);

/* ---- fiber.c ----------------------------------------------------------- */

/* Make the parked f runnable with code; it is on no wait queue. */
void weft__sched_resume(weft_fiber_t *f, int code);
/* Give back what a finished fiber holds. */
void weft__fiber_release(weft_fiber_t *f);

#pragma GCC visibility pop

/* ---- Switching --------------------------------------------------------- */

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

/*
 * Leave the running fiber f for the loop, which resumes it later; returns
 * the code it is resumed with.
 */
static inline int
fiber_switch_out(weft_fiber_t *f)
{
	asan_start(fake_slot(f), S.main_bottom, S.main_size);
	ctx_switch(f, NULL);
#ifdef WEFT_SANITIZERS
	asan_finish(f->f_asan_fake, NULL, NULL);
#endif
	return f->f_wake;
}

#endif /* WEFT_FIBER_INT_H */
