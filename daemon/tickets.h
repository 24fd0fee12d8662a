/*
 * TLS session ticket keys, shared by every worker of every generation:
 * three of them (previous, current, next, weft/tls.h) in memory the
 * supervisor maps shared before it forks anything, made with
 * getrandom(2), and rotated every tls_ticket_rotation seconds as nginx
 * rotates its own (previous <- current <- next, and a new next).  A
 * ticket one worker made is opened by any other, and by the next
 * generation's workers after a reload.  Workers see the page read-only.
 * The supervisor only moves bytes: it calls no OpenSSL function.
 */
#ifndef WEFTD_TICKETS_H
#define WEFTD_TICKETS_H

#include <stdint.h>

#include <weft/tls.h>

struct tickets {
	weft_tls_ticket_key_t *keys; /* [WEFT_TLS_TICKET_PREV..NEXT] */
	uint64_t rotated;	     /* CLOCK_MONOTONIC ms */
};

/* Map the keys and fill all three. */
void tickets_init(struct tickets *t, uint64_t now);

/* Rotate if `rotation` seconds have passed since the last one. */
void tickets_tick(struct tickets *t, uint64_t now, double rotation);

/* In a worker just forked: the keys, read-only. */
void tickets_readonly(struct tickets *t);

/* In the probe: no keys at all. */
void tickets_unmap(struct tickets *t);

#endif /* WEFTD_TICKETS_H */
