/*
 * Pool of fixed-size I/O buffers shared by every reader and writer of the
 * process.  A reader holds a buffer only while it has unread data, so an
 * idle connection costs no buffer at all, and busy ones reuse the same few
 * cache-warm buffers instead of calling malloc per read.
 */
#include "autoconf.h"

#include "internal.h"

#define POOL_MAX 64

static char *pool[POOL_MAX];
static size_t npool;

char *
weft__buf_get(void)
{
	if (npool > 0)
		return pool[--npool];
	return malloc(WEFT__BUF_SIZE);
}

void
weft__buf_put(char *buf)
{
	if (buf == NULL)
		return;
	if (npool < POOL_MAX)
		pool[npool++] = buf;
	else
		free(buf);
}

void
weft__pool_fini(void)
{
	while (npool > 0)
		free(pool[--npool]);
}
