/*
 * weft_log(): the library's and plugins' way to log.  A host (weftd)
 * installs a sink; without one, lines go to stderr.  And
 * weft_metrics_read(): the host's metrics, from the source it installs.
 */
#include "autoconf.h"

#include <errno.h>
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

/* The host's metrics, for a plugin that serves them. */
static weft_metrics_fn metrics_source;

void
weft_metrics_set_source(weft_metrics_fn fn)
{
	metrics_source = fn;
}

ssize_t
weft_metrics_read(int format, char *buf, size_t size)
{
	if (format != WEFT_METRICS_PROMETHEUS && format != WEFT_METRICS_JSON)
		return -EINVAL;
	if (metrics_source == NULL)
		return -ENOTSUP;
	return metrics_source(format, buf, size);
}
