/*
 * weftd's small shared helpers (util.h).  Running out of memory while
 * setting up leaves nothing sensible to do: weftd stops, naming it.
 *
 * The bottom of the daemon's files: nothing here calls another of them,
 * not even log.c (whose fatal() would need memory to format, and whose
 * log_open() uses safepath.c, which uses these), so any file may use it
 * without a call cycle.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* What fatal() would say, without the logger: stderr is the log file or
 * the journal's stream either way. */
static void __attribute__((noreturn)) nomem(void)
{
	static const char msg[] = "weftd: out of memory\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	exit(1);
}

void
cause_set(char **cause, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		nomem();
	va_end(ap);
	*cause = s;
}

void *
xmalloc(size_t size)
{
	void *p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		nomem();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		nomem();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		nomem();
	return p;
}
