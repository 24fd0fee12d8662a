/*
 * The code stats.h's list of counters generates.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "stats.h"

const char *const stats_names[STATS_N] = {
#define X(name, src, width, total, metric, labels, help) #name,
	WEFTD_STATS(X)
#undef X
};

void
stats_from_server(volatile uint64_t *out, const weft_server_stats_t *ss)
{
#define X(name, src, width, total, metric, labels, help)                       \
	STATS_IF_SRV_##src(out[STAT_##name] = ss->name;)
	WEFTD_STATS(X)
#undef X
}

void
stats_add(struct stats_sum *sum, const struct worker_stats *ws)
{
	size_t k;

	for (k = 0; k < STATS_N; k++)
		sum->v[k] += ws->sum[k];
}

void
stats_print_titles(FILE *fp)
{
#define X(name, src, width, total, metric, labels, help)                       \
	STATS_IF_##src(fprintf(fp, " %-*s", width, #name);)                    \
	    STATS_IF_SLOT_##src(fprintf(fp, " %-*s", width, #name);)
	WEFTD_STATS(X)
#undef X
}

void
stats_print_columns(FILE *fp, const struct worker_stats *ws,
    const struct slot_stats *ss)
{
#define X(name, src, width, total, metric, labels, help)                       \
	STATS_IF_##src(fprintf(fp, " %-*llu", width,                           \
	    (unsigned long long)ws->sum[STAT_##name]);)                        \
	    STATS_IF_SLOT_##src(fprintf(fp, " %-*llu", width,                  \
		(unsigned long long)ss->name);)
	WEFTD_STATS(X)
#undef X
}

void
stats_format_totals(char *buf, size_t size, const struct stats_sum *sum)
{
	const char *label;
	size_t n;

#define X(name, src, width, total, metric, labels, help)                       \
	STATS_IF_PUB_##src(if ((label = total) != NULL &&                      \
	    (n = strlen(buf)) < size) snprintf(buf + n, size - n, ", %llu %s", \
	    (unsigned long long)sum->v[STAT_##name], label);)
	WEFTD_STATS(X)
#undef X
}
