/*
 * The daemon-wide metrics page (metrics.h): the supervisor's sums, and
 * their Prometheus and JSON texts.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "procs.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* What a worker mapped read-only. */
static const struct metrics_page *worker_page;

/* Each counter's metric, by STAT_* index. */
static const struct {
	const char *metric, *labels, *help;
} rows[STATS_N] = {
#define X(name, src, width, total, metric, labels, help)                       \
	{ metric, labels, help },
	WEFTD_STATS(X)
#undef X
};

/* ---- The supervisor's side --------------------------------------------- */

/*
 * The fd a worker maps: the memfd itself once sealed against writable
 * mappings, else (an older kernel) a read-only opening of it, which
 * cannot be mapped or mprotected writable either.
 */
static int
readonly_fd(int fd)
{
	char path[64];

	if (fcntl(fd, F_ADD_SEALS,
		F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE) == 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

void
metrics_init(struct metrics *m)
{
	void *p;

	memset(m, 0, sizeof(*m));
	m->fd = m->ro_fd = -1;
	if ((m->fd = memfd_create("weftd-metrics",
		 MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0 ||
	    ftruncate(m->fd, sizeof(*m->page)) != 0 ||
	    (p = mmap(NULL, sizeof(*m->page), PROT_READ | PROT_WRITE,
		 MAP_SHARED, m->fd, 0)) == MAP_FAILED) {
		log_warn("metrics page");
		if (m->fd >= 0)
			close(m->fd);
		m->fd = -1;
		return;
	}
	m->page = p;
	if ((m->ro_fd = readonly_fd(m->fd)) < 0)
		log_warn("metrics page: no read-only mapping for the workers");
}

const char *
metrics_label(const struct conf_listener *l)
{
	return l->name[0] != '\0' ? l->name : l->address;
}

/* The index of label in m->retired, added if need be; -1 if full. */
static int
label_index(struct metrics *m, const char *label)
{
	size_t i;

	for (i = 0; i < m->nretired; i++)
		if (strncmp(m->retired[i].label, label,
			METRICS_LABEL_MAX - 1) == 0)
			return (int)i;
	if (m->nretired == METRICS_LISTENERS)
		return -1;
	snprintf(m->retired[i].label, METRICS_LABEL_MAX, "%s", label);
	m->nretired++;
	return (int)i;
}

void
metrics_retire(struct metrics *m, const struct conf *c,
    const struct worker_stats *ws)
{
	size_t i, k;
	int j;

	for (i = 0; i < c->nlisteners && i < STATS_LISTENERS; i++) {
		if ((j = label_index(m, metrics_label(&c->listeners[i]))) < 0)
			continue;
		for (k = 0; k < STATS_N; k++)
			if (k != STAT_active)
				m->retired[j].v[k] += ws->listener[i][k];
	}
}

/* Add a live worker's counters to the page being written. */
static void
page_add(struct metrics *m, const struct conf *c, const struct worker_stats *ws)
{
	struct metrics_page *pg = m->page;
	size_t i, k;
	int j;

	for (i = 0; i < c->nlisteners && i < STATS_LISTENERS; i++) {
		if ((j = label_index(m, metrics_label(&c->listeners[i]))) < 0)
			continue;
		if ((size_t)j >= pg->nlisteners) {
			/* A label new since this refresh began. */
			memcpy(&pg->l[j], &m->retired[j], sizeof(pg->l[j]));
			pg->nlisteners = (size_t)j + 1;
		}
		for (k = 0; k < STATS_N; k++)
			pg->l[j].v[k] += ws->listener[i][k];
	}
}

void
metrics_refresh(struct metrics *m, const struct procs *pt,
    const struct gen *cur)
{
	struct metrics_page *pg = m->page;
	size_t i;
	int k;

	if (pg == NULL)
		return;
	for (i = 0; i < cur->conf->nlisteners; i++)
		(void)label_index(m, metrics_label(&cur->conf->listeners[i]));
	__atomic_store_n(&pg->seq, pg->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	pg->generation = (uint64_t)cur->id;
	pg->workers = 0;
	for (k = 0; k < MAX_PROCS; k++)
		pg->workers += pt->v[k].pid > 0 && pt->v[k].gen == cur;
	pg->worker_restarts = m->worker_restarts;
	pg->reloads_ok = m->reloads_ok;
	pg->reloads_failed = m->reloads_failed;
	memcpy(pg->l, m->retired, m->nretired * sizeof(pg->l[0]));
	pg->nlisteners = m->nretired;
	for (k = 0; k < MAX_PROCS; k++)
		if (pt->v[k].pid > 0)
			page_add(m, pt->v[k].gen->conf, &pt->stats[k]);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&pg->seq, pg->seq + 1, __ATOMIC_RELAXED);
}

void
metrics_child(struct metrics *m, int ro)
{
	void *p = MAP_FAILED;

	if (m->page == NULL)
		return;
	if (ro && m->ro_fd >= 0)
		p = mmap(NULL, sizeof(*m->page), PROT_READ, MAP_SHARED,
		    m->ro_fd, 0);
	munmap(m->page, sizeof(*m->page));
	m->page = NULL;
	worker_page = p != MAP_FAILED ? p : NULL;
}

/* ---- The texts ---------------------------------------------------------- */

/* An output buffer that counts what does not fit. */
struct out {
	char *buf;
	size_t size, len;
};

static void __attribute__((format(printf, 2, 3)))
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->len < o->size ? o->buf + o->len : NULL,
	    o->len < o->size ? o->size - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

/* s, escaped for a Prometheus label value or a JSON string. */
static void
out_escaped(struct out *o, const char *s, size_t max, int json)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < max && s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		if (c == '\\' || c == '"')
			out_printf(o, "\\%c", c);
		else if (c == '\n')
			out_printf(o, "\\n");
		else if (json && c < 0x20)
			out_printf(o, "\\u%04x", c);
		else
			out_printf(o, "%c", c);
	}
}

static void
prom_head(struct out *o, const char *metric, const char *help)
{
	size_t n = strlen(metric);
	int counter = n > 6 && strcmp(metric + n - 6, "_total") == 0;

	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric,
	    counter ? "counter" : "gauge");
}

/* The listeners' families: each row's samples, rows of one metric
 * together. */
static void
prom_listeners(struct out *o, const struct metrics_page *pg, size_t nl)
{
	size_t i, j, k;

	for (i = 0; i < STATS_N; i = j) {
		for (j = i + 1; j < STATS_N && rows[j].metric != NULL &&
		     rows[i].metric != NULL &&
		     strcmp(rows[j].metric, rows[i].metric) == 0;
		     j++)
			;
		if (rows[i].metric == NULL)
			continue;
		prom_head(o, rows[i].metric, rows[i].help);
		for (k = 0; k < nl; k++) {
			for (size_t r = i; r < j; r++) {
				out_printf(o, "%s{listener=\"", rows[r].metric);
				out_escaped(o, pg->l[k].label,
				    METRICS_LABEL_MAX, 0);
				out_printf(o, "\"%s%s} %llu\n",
				    rows[r].labels[0] != '\0' ? "," : "",
				    rows[r].labels,
				    (unsigned long long)pg->l[k].v[r]);
			}
		}
	}
}

static void
prom(struct out *o, const struct metrics_page *pg, size_t nl)
{
	prom_head(o, "weftd_workers",
	    "Worker processes of the generation serving.");
	out_printf(o, "weftd_workers %llu\n", (unsigned long long)pg->workers);
	prom_head(o, "weftd_worker_restarts_total",
	    "Workers restarted after they ended unexpectedly.");
	out_printf(o, "weftd_worker_restarts_total %llu\n",
	    (unsigned long long)pg->worker_restarts);
	prom_head(o, "weftd_reloads_total", "Reloads, by result.");
	out_printf(o,
	    "weftd_reloads_total{result=\"ok\"} %llu\n"
	    "weftd_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)pg->reloads_ok,
	    (unsigned long long)pg->reloads_failed);
	prom_head(o, "weftd_generation",
	    "The configuration generation serving (1, then one more per "
	    "reload).");
	out_printf(o, "weftd_generation %llu\n",
	    (unsigned long long)pg->generation);
	prom_listeners(o, pg, nl);
}

static void
json(struct out *o, const struct metrics_page *pg, size_t nl)
{
	size_t i, k;

	out_printf(o,
	    "{\"generation\": %llu, \"workers\": %llu, "
	    "\"worker_restarts\": %llu, "
	    "\"reloads\": {\"ok\": %llu, \"failed\": %llu}, "
	    "\"listeners\": [",
	    (unsigned long long)pg->generation, (unsigned long long)pg->workers,
	    (unsigned long long)pg->worker_restarts,
	    (unsigned long long)pg->reloads_ok,
	    (unsigned long long)pg->reloads_failed);
	for (i = 0; i < nl; i++) {
		out_printf(o, "%s\n  {\"listener\": \"", i > 0 ? "," : "");
		out_escaped(o, pg->l[i].label, METRICS_LABEL_MAX, 1);
		out_printf(o, "\"");
		for (k = 0; k < STATS_N; k++)
			if (k != STAT_restarts)
				out_printf(o, ", \"%s\": %llu", stats_names[k],
				    (unsigned long long)pg->l[i].v[k]);
		out_printf(o, "}");
	}
	out_printf(o, "]}\n");
}

size_t
metrics_format(const struct metrics_page *pg, int format, char *buf,
    size_t size)
{
	struct out o = { buf, size, 0 };
	size_t nl = pg->nlisteners;

	if (nl > METRICS_LISTENERS)
		nl = METRICS_LISTENERS;
	if (size > 0)
		buf[0] = '\0';
	if (format == METRICS_JSON)
		json(&o, pg, nl);
	else
		prom(&o, pg, nl);
	return o.len;
}

ssize_t
metrics_read(int format, char *buf, size_t size)
{
	uint64_t seq;
	size_t n = 0;
	int tries;

	if (worker_page == NULL)
		return -ENOTSUP;
	/* The supervisor writes for microseconds at a time; it may be
	 * descheduled meanwhile, hence the yield, and a bound. */
	for (tries = 0; tries < 1000; tries++) {
		seq = __atomic_load_n(&worker_page->seq, __ATOMIC_ACQUIRE);
		if (seq & 1) {
			sched_yield();
			continue;
		}
		n = metrics_format(worker_page, format, buf, size);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&worker_page->seq, __ATOMIC_RELAXED) == seq)
			break;
	}
	return (ssize_t)n;
}
