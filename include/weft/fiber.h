/*
 * weft — fibers: stackful coroutines on a libuv loop.
 *
 * One scheduler per process (per thread, strictly), attached to one libuv
 * loop.  A fiber runs until it calls something that would wait (a read
 * with no data, weft_sleep(), weft_drain() above the high-water mark...);
 * that call parks the fiber and the loop goes on.  Nothing blocks the
 * process.  A parked fiber is resumed from the loop's check phase, after
 * the I/O that woke it.
 *
 * Every call that waits returns 0 (or a count) on success, WEFT_ECANCELED
 * when weft_cancel() hit the fiber, WEFT_ETIMEDOUT when the fiber's
 * deadline passed, and WEFT_ENOTFIBER when called outside any fiber.
 */
#ifndef WEFT_FIBER_H
#define WEFT_FIBER_H

#include <stddef.h>
#include <stdint.h>

#include <weft/errors.h>
#include <weft/version.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

typedef struct weft_fiber weft_fiber_t;

/** A fiber's body.  When it returns the fiber ends. */
typedef void (*weft_fiber_fn)(void *arg);

/** A standalone program's first fiber; its result is weft_run()'s. */
typedef int (*weft_main_fn)(void *arg);

/** Default virtual stack size of a new fiber (bytes). */
#define WEFT_FIBER_STACK_DEFAULT (64 * 1024)

/**
 * Create a fresh libuv loop, run main(arg) as the first fiber and run the
 * loop until no handle is left.  Returns main's result, or a negative
 * code when the loop could not be set up.  The loop is closed on return.
 */
WEFT_EXTERN int weft_run(weft_main_fn main, void *arg);

/**
 * Attach weft's scheduler to an existing loop, for programs that own
 * their loop (weftd's workers do).  Installs the stack-overflow reporter.
 * Returns 0, -EALREADY if a scheduler is attached, or -errno.
 */
WEFT_EXTERN int weft_init(struct uv_loop_s *loop);

/**
 * Detach the scheduler.  Fibers still parked are abandoned; call it once
 * the loop has stopped.  Frees pooled stacks and buffers.
 */
WEFT_EXTERN void weft_fini(void);

/** The loop the scheduler runs on (NULL before weft_init/weft_run). */
WEFT_EXTERN struct uv_loop_s *weft_loop(void);

/**
 * Start fn(arg) on a new fiber.  It first runs on the next scheduler
 * pass, never inside this call.  If out is not NULL the fiber is
 * joinable: it stays allocated after it ends until weft_join() is called
 * on it.  Otherwise it is released when it ends.
 */
WEFT_EXTERN int weft_spawn(weft_fiber_fn fn, void *arg, weft_fiber_t **out);

/** Wait for a joinable fiber to end and release it.  Returns 0. */
WEFT_EXTERN int weft_join(weft_fiber_t *f);

/** The running fiber, or NULL on the loop's own stack. */
WEFT_EXTERN weft_fiber_t *weft_current(void);

/** Name a fiber (the stack-overflow report uses it).  Not copied. */
WEFT_EXTERN void weft_fiber_set_name(weft_fiber_t *f, const char *name);

/** A fiber's name ("fiber" unless set). */
WEFT_EXTERN const char *weft_fiber_name(const weft_fiber_t *f);

/** Let every other runnable fiber run once, then continue. */
WEFT_EXTERN int weft_yield(void);

/** Park the running fiber for ms milliseconds. */
WEFT_EXTERN int weft_sleep(uint64_t ms);

/**
 * Cancel a fiber: the waiting call it is parked in returns
 * WEFT_ECANCELED, even if what it waited for has just happened but the
 * fiber has not run since (as in asyncio; the call then consumes
 * nothing).  A fiber that is running or has not started yet gets
 * WEFT_ECANCELED from its next waiting call.  Returns 0, or -EINVAL for
 * an ended fiber.
 */
WEFT_EXTERN int weft_cancel(weft_fiber_t *f);

/**
 * A fiber's deadline: loop time in ms (uv_now), WEFT_DEADLINE_NONE for
 * none.  What weft_deadline_set and weft_deadline_push return, for
 * weft_deadline_restore.
 */
typedef uint64_t weft_deadline_t;

/** No deadline. */
#define WEFT_DEADLINE_NONE ((weft_deadline_t)0)

/**
 * Give the running fiber a deadline ms milliseconds from now, replacing
 * any: from then on every call that would wait returns WEFT_ETIMEDOUT
 * until the deadline is cleared or restored.  The C form of
 * asyncio.wait_for / asyncio.timeout.  Returns the previous deadline;
 * outside a fiber it does nothing and returns WEFT_DEADLINE_NONE.
 */
WEFT_EXTERN weft_deadline_t weft_deadline_set(uint64_t ms);

/** Clear the running fiber's deadline. */
WEFT_EXTERN void weft_deadline_clear(void);

/** The running fiber's deadline, WEFT_DEADLINE_NONE if none or outside a
 * fiber. */
WEFT_EXTERN weft_deadline_t weft_deadline_get(void);

/**
 * Put back the deadline that weft_deadline_set or weft_deadline_push
 * returned, exactly (WEFT_DEADLINE_NONE clears it).
 */
WEFT_EXTERN void weft_deadline_restore(weft_deadline_t prev);

/**
 * Tighten the running fiber's deadline to ms milliseconds from now unless
 * the current one is earlier (asyncio.timeout() inside another), and
 * return the previous one for weft_deadline_restore.  Outside a fiber it
 * does nothing and returns WEFT_DEADLINE_NONE.
 */
WEFT_EXTERN weft_deadline_t weft_deadline_push(uint64_t ms);

/* WEFT_DEADLINE_SCOPE's end: not to be called directly. */
static inline void
weft__deadline_scope_end(weft_deadline_t *prev)
{
	weft_deadline_restore(*prev);
}

#define WEFT__DEADLINE_CAT2(a, b) a##b
#define WEFT__DEADLINE_CAT(a, b) WEFT__DEADLINE_CAT2(a, b)

/**
 * weft_deadline_push(ms) for the rest of the enclosing block: the
 * previous deadline is restored when the block is left, however it is
 * left (return, break, goto; GCC and Clang's cleanup attribute).  A
 * statement, placed where a declaration may go.
 */
#define WEFT_DEADLINE_SCOPE(ms)                                                \
	weft_deadline_t WEFT__DEADLINE_CAT(weft__deadline_scope_, __COUNTER__) \
	    __attribute__((cleanup(weft__deadline_scope_end),                  \
		unused)) = weft_deadline_push(ms)

/**
 * Set the stack size (bytes, rounded up to pages, at least 16 KiB) of
 * fibers spawned from now on.  Returns the previous value.
 */
WEFT_EXTERN size_t weft_fiber_stack_size_set(size_t size);

/**
 * Shared-stack mode (libaco's copy-stack model) for fibers spawned from
 * now on: they all run on one stack, and a parked fiber keeps only the
 * bytes of stack it uses (typically a few hundred) instead of a 4 KiB
 * page.  The price is a memcpy of those bytes when fibers take turns, and
 * one rule: no pointer into a fiber's stack may be used by anyone else
 * while that fiber is parked (pass heap memory between fibers).  Returns
 * the previous setting, or -ENOTSUP where only ucontext is available.
 */
WEFT_EXTERN int weft_fiber_stacks_shared(int on);

/**
 * Set the trim period of the fiber-stack and I/O-buffer pools, in ms:
 * pooled stacks and buffers that nobody took for a whole period give
 * their memory back (a stack's pages are released, it stays pooled; a
 * buffer is freed; then malloc_trim(3)), between one and two periods
 * after the load went away.  A timer does it, which never keeps the loop
 * alive and stops once there is nothing left to trim.  0 turns trimming
 * off.  The default is 5000, or the environment variable
 * WEFT_POOL_TRIM_MS (decimal ms) if set when weft_init first runs and
 * this was not called before.  Returns the previous value.
 */
WEFT_EXTERN uint64_t weft_pool_trim_set(uint64_t ms);

/** Number of live fibers (diagnostics, tests). */
WEFT_EXTERN size_t weft_fiber_count(void);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_FIBER_H */
