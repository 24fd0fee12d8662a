/*
 * Pool of fixed-size I/O buffers shared by every reader and writer of the
 * process.  A reader holds a buffer only while it has unread data, so an
 * idle connection costs no buffer at all, and busy ones reuse the same few
 * cache-warm buffers instead of calling malloc per read.  Buffers that
 * stay pooled through a whole idle period are freed (weft__buf_trim, from
 * the fiber pool's trim timer), so a burst of busy connections does not
 * leave its buffers resident for good.
 */
#include "autoconf.h"

#include <string.h>

#include "internal.h"

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/memcheck.h>
#define POOL_NOACCESS(p) VALGRIND_MAKE_MEM_NOACCESS((p), WEFT__BUF_SIZE)
#define POOL_UNDEFINED(p) VALGRIND_MAKE_MEM_UNDEFINED((p), WEFT__BUF_SIZE)
#else
#define POOL_NOACCESS(p) ((void)(p))
#define POOL_UNDEFINED(p) ((void)(p))
#endif

#define POOL_MAX 64

static char *pool[POOL_MAX];
static size_t npool;
/* The fewest buffers pooled since the last trim: pool[0 .. low) have not
 * been taken since, so they are the ones an idle period frees. */
static size_t low;
/* The trimmer's "something was pooled" hook (stack.c sets it): a pointer,
 * so the pool, the lower layer, does not call up into the trimmer. */
static void (*on_pooled)(void);

void
weft__buf_set_pooled_hook(void (*fn)(void))
{
	on_pooled = fn;
}

char *
weft__buf_get(void)
{
	char *buf;

	if (npool > 0) {
		/* To memcheck a reused buffer is as new as malloc's: its
		 * bytes from the last connection count as uninitialised. */
		buf = pool[--npool];
		if (npool < low)
			low = npool;
		POOL_UNDEFINED(buf);
		return buf;
	}
	return malloc(WEFT__BUF_SIZE);
}

void
weft__buf_put(char *buf)
{
	if (buf == NULL)
		return;
	if (npool < POOL_MAX) {
		/* A pooled buffer is freed memory to memcheck, so a reader or
		 * writer that still uses it after giving it back is caught
		 * as a use after free would be. */
		POOL_NOACCESS(buf);
		pool[npool++] = buf;
		if (on_pooled != NULL)
			on_pooled();
	} else
		free(buf);
}

size_t
weft__buf_trim(int all)
{
	size_t n = all ? npool : low, i;

	/* Freed rather than kept with their pages released: a buffer is
	 * heap memory, and malloc_trim (stack.c) gives the pages back once
	 * malloc has them. */
	for (i = 0; i < n; i++)
		free(pool[i]);
	memmove(pool, pool + n, (npool - n) * sizeof(*pool));
	npool -= n;
	low = npool;
	return n;
}

void
weft__buf_trim_period(void)
{
	low = npool;
}

size_t
weft__buf_pooled(void)
{
	return npool;
}

void
weft__pool_fini(void)
{
	while (npool > 0)
		free(pool[--npool]);
	low = 0;
}
