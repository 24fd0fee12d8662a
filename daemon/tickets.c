/*
 * TLS session ticket keys (tickets.h).
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "log.h"
#include "tickets.h"

#define KEYS_SIZE 4096 /* one page: three keys fit */

static void
fill(weft_tls_ticket_key_t *k)
{
	unsigned char *p = (unsigned char *)k;
	size_t off = 0;
	ssize_t n;

	while (off < sizeof(*k)) {
		n = getrandom(p + off, sizeof(*k) - off, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal("getrandom");
		off += (size_t)n;
	}
}

void
tickets_init(struct tickets *t, uint64_t now)
{
	int i;

	t->keys = mmap(NULL, KEYS_SIZE, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->keys == MAP_FAILED)
		fatal("mmap");
	for (i = WEFT_TLS_TICKET_PREV; i <= WEFT_TLS_TICKET_NEXT; i++)
		fill(&t->keys[i]);
	t->rotated = now;
}

/*
 * Workers read the keys while they move.  In this order every state a
 * worker can see makes tickets with a key that the others accept: the
 * current one is the old current or the old next, both of which stay
 * among the three; a ticket read in the middle of one key's copy names
 * no key and is only a full handshake.
 */
void
tickets_tick(struct tickets *t, uint64_t now, double rotation)
{
	weft_tls_ticket_key_t *k = t->keys;

	if (k == NULL || now - t->rotated < (uint64_t)(rotation * 1000))
		return;
	k[WEFT_TLS_TICKET_PREV] = k[WEFT_TLS_TICKET_CUR];
	k[WEFT_TLS_TICKET_CUR] = k[WEFT_TLS_TICKET_NEXT];
	fill(&k[WEFT_TLS_TICKET_NEXT]);
	t->rotated = now;
	log_debug("TLS ticket keys rotated");
}

void
tickets_readonly(struct tickets *t)
{
	if (t->keys != NULL && mprotect(t->keys, KEYS_SIZE, PROT_READ) != 0)
		fatal("mprotect");
}

void
tickets_unmap(struct tickets *t)
{
	if (t->keys != NULL)
		munmap(t->keys, KEYS_SIZE);
	t->keys = NULL;
}
