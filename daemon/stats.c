/*
 * The code stats.h's list of counters generates.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "stats.h"

void
stats_publish(struct worker_stats *ws, const struct stats_sum *sum)
{
#define X(name, src, get, width, total) STATS_IF_##src(ws->name = sum->name;)
	WEFTD_STATS(X)
#undef X
}

void
stats_add(struct stats_sum *sum, const struct worker_stats *ws)
{
#define X(name, src, get, width, total) STATS_IF_##src(sum->name += ws->name;)
	WEFTD_STATS(X)
#undef X
}

void
stats_print_titles(FILE *fp)
{
#define X(name, src, get, width, total) fprintf(fp, " %-*s", width, #name);
	WEFTD_STATS(X)
#undef X
}

void
stats_print_columns(FILE *fp, const struct worker_stats *ws,
    const struct slot_stats *ss)
{
#define X(name, src, get, width, total)                                        \
	STATS_IF_##src(fprintf(fp, " %-*llu", width,                           \
	    (unsigned long long)ws->name);) STATS_IF_NOT_##src(fprintf(fp,     \
	    " %-*llu", width, (unsigned long long)ss->name);)
	WEFTD_STATS(X)
#undef X
}

void
stats_format_totals(char *buf, size_t size, const struct stats_sum *sum)
{
	size_t n;
	const char *label;

#define X(name, src, get, width, total)                                        \
	STATS_IF_##src(if ((label = total) != NULL &&                          \
	    (n = strlen(buf)) < size) snprintf(buf + n, size - n, ", %llu %s", \
	    (unsigned long long)sum->name, label);)
	WEFTD_STATS(X)
#undef X
}
