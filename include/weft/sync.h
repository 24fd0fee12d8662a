/*
 * weft — synchronisation between fibers: asyncio's Event and Queue.
 *
 * Every call that waits does so like the other waiting calls (see
 * weft/fiber.h): it returns WEFT_ECANCELED when the fiber is cancelled,
 * WEFT_ETIMEDOUT when its deadline passes and WEFT_ENOTFIBER when it
 * would have to wait outside a fiber.  A call that returns such an error
 * has consumed nothing: a get took no item, a put added none.  Waiters
 * are served in the order they started waiting.  Nothing is allocated
 * after weft_event_new and weft_queue_new.
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include <stddef.h>

#include <weft/errors.h>
#include <weft/version.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_event weft_event_t;

/** Create an event, not set.  Returns 0 or -ENOMEM. */
WEFT_EXTERN int weft_event_new(weft_event_t **out);

/**
 * Free an event (NULL is ignored); the fibers waiting on it return
 * WEFT_ECLOSED.
 */
WEFT_EXTERN void weft_event_free(weft_event_t *e);

/** Set the event: every waiting fiber wakes, and it stays set. */
WEFT_EXTERN void weft_event_set(weft_event_t *e);

/** Clear the event: later waits wait again. */
WEFT_EXTERN void weft_event_clear(weft_event_t *e);

/** 1 when the event is set, else 0. */
WEFT_EXTERN int weft_event_is_set(const weft_event_t *e);

/**
 * Wait until the event is set: 0 at once if it is, else when
 * weft_event_set is called; WEFT_ECLOSED when the event is freed
 * meanwhile (the caller must not use it then).
 */
WEFT_EXTERN int weft_event_wait(weft_event_t *e);

/** A bounded first-in first-out queue of pointers. */
typedef struct weft_queue weft_queue_t;

/**
 * Create a queue holding at most maxsize items.  Returns 0, -EINVAL when
 * maxsize is 0, or -ENOMEM.
 */
WEFT_EXTERN int weft_queue_new(size_t maxsize, weft_queue_t **out);

/**
 * Free a queue (NULL is ignored); the items still in it are not freed,
 * and the fibers waiting on it return WEFT_ECLOSED.
 */
WEFT_EXTERN void weft_queue_free(weft_queue_t *q);

/**
 * Append item, waiting while the queue is full.  Returns 0, or
 * WEFT_ECLOSED once the queue is closed.
 */
WEFT_EXTERN int weft_queue_put(weft_queue_t *q, void *item);

/** Append item if there is room: 0, -EAGAIN when full, WEFT_ECLOSED. */
WEFT_EXTERN int weft_queue_put_nowait(weft_queue_t *q, void *item);

/**
 * Take the oldest item into *item, waiting while the queue is empty.
 * Returns 0, or WEFT_ECLOSED once the queue is closed and empty.
 */
WEFT_EXTERN int weft_queue_get(weft_queue_t *q, void **item);

/**
 * Take the oldest item if there is one: 0, -EAGAIN when empty,
 * WEFT_ECLOSED when closed and empty.
 */
WEFT_EXTERN int weft_queue_get_nowait(weft_queue_t *q, void **item);

/**
 * Close the queue (asyncio's Queue.shutdown()): from then on puts return
 * WEFT_ECLOSED and gets return the items left, then WEFT_ECLOSED; every
 * waiting fiber wakes.
 */
WEFT_EXTERN void weft_queue_close(weft_queue_t *q);

/** Number of items in the queue. */
WEFT_EXTERN size_t weft_queue_len(const weft_queue_t *q);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_SYNC_H */
