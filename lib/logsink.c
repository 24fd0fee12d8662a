/*
 * weft_log(): the library's and plugins' way to log.  A host (weftd)
 * installs a sink; without one, lines go to stderr.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>

#include <weft/plugin.h>

static weft_log_sink_fn sink;

void
weft_log_set_sink(weft_log_sink_fn fn)
{
	sink = fn;
}

void
weft_log(int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sink != NULL)
		sink(level, msg);
	else
		fprintf(stderr, "weft: %s\n", msg);
}
