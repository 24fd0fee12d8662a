/*
 * Logging for every weftd process.  One line per message, written with a
 * single write(2) so lines of concurrent workers never interleave.  When
 * stderr is connected to the journal (JOURNAL_STREAM matches stderr's
 * device and inode) each line starts with a "<N>" syslog priority, which
 * journald turns into the entry's priority, and carries no timestamp.
 *
 * A worker's repeats are rate-limited, as the kernel's printk_ratelimit
 * and journald's RateLimitBurst do: a flood (a proxy logging every failed
 * upstream connect, thousands a second) would otherwise fill the disk
 * and drown everything else.  See rl_admit.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "log.h"
#include "safepath.h"

static char role[32] = "weftd";
static char *logfile;	    /* --log-file, reopened on SIGUSR1 */
static uid_t log_owner = 0; /* besides root and us: the service user */
static int level = WEFT_LOG_INFO;
static int journal = -1; /* unknown until the first line */

/*
 * The rate limiter.  A message's key is a hash of its text with the
 * digits left out, so that lines differing only in a port, a pid or a
 * count ("upstream 10.0.0.1:80: Connection refused" for every client)
 * are one key, whatever the caller: weftd's own log_* calls and every
 * weft_log() of libweft and the plugins pass through vlog.  Each key may
 * log RL_BURST lines per RL_WINDOW_MS; the rest of its window is counted
 * and dropped, and once the window is over the next line logged (of any
 * key) is preceded by one "suppressed N similar messages" line for it.
 *
 * The table is fixed (no allocation), direct-mapped by hash: a key that
 * takes the slot of another reports the other's suppressed count first,
 * so no count is lost, and many distinct messages at once can only make
 * the limiter forget a key, never drop a line it should have let
 * through.  Per process; not thread-safe, as nothing logs off the main
 * thread; not used from signal handlers (worker.c's SIGABRT report
 * writes its own line).  The cost of a line: a clock read (vDSO) and a
 * hash of its text.
 */
#define RL_SLOTS 64
#define RL_TEXT 120

struct rl_slot {
	uint32_t hash; /* 0: free */
	int lvl;
	unsigned count;	     /* lines seen in this window */
	unsigned suppressed; /* of them, dropped */
	uint64_t start;	     /* the window's start, ms */
	char text[RL_TEXT];  /* its first line, for the summary */
};

static struct rl_slot rl[RL_SLOTS];
/*
 * Only workers are limited (log_procinit).  Floods come from clients,
 * and only workers serve them: libweft's and the plugins' weft_log()
 * run there.  The supervisor's lines are its own events, each of which
 * matters (every reload's "reload complete", every "worker N ready"),
 * and its restart backoff already paces them.
 */
static int rl_on;
static unsigned rl_burst = 10;
static uint64_t rl_window = 5000;
/* When the earliest window with suppressed lines ends. */
static uint64_t rl_due = UINT64_MAX;

static const char *
level_name(int lvl)
{
	switch (lvl) {
	case WEFT_LOG_ERR:
		return "error";
	case WEFT_LOG_WARNING:
		return "warning";
	case WEFT_LOG_NOTICE:
		return "notice";
	case WEFT_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

int
log_prefix(int lvl, char *buf, size_t size)
{
	if (journal < 0)
		journal = stderr_is_journal();
	if (journal)
		return snprintf(buf, size, "<%d>%s: ", lvl, role);
	return snprintf(buf, size, "weftd[%ld]: %s: %s: ", (long)getpid(), role,
	    level_name(lvl));
}

static uint64_t
rl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a of the text without its digits, and of the level; never 0. */
static uint32_t
rl_hash(int lvl, const char *p, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)lvl;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			continue;
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	}
	return h != 0 ? h : 1;
}

/* Report a slot's suppressed lines, and free it. */
static void
rl_report(struct rl_slot *sl)
{
	char pfx[128], line[512];
	int k;

	if (sl->suppressed > 0) {
		if (log_prefix(sl->lvl, pfx, sizeof(pfx)) < 0)
			pfx[0] = '\0';
		k = snprintf(line, sizeof(line) - 1,
		    "%ssuppressed %u similar messages (more than %u in %llu "
		    "ms): %s",
		    pfx, sl->suppressed, rl_burst,
		    (unsigned long long)rl_window, sl->text);
		if (k > 0) {
			if ((size_t)k > sizeof(line) - 2)
				k = (int)sizeof(line) - 2;
			line[k++] = '\n';
			(void)!write(STDERR_FILENO, line, (size_t)k);
		}
	}
	sl->hash = 0;
	sl->count = sl->suppressed = 0;
}

/* Report every window with suppressed lines that is over. */
static void
rl_flush_due(uint64_t now)
{
	struct rl_slot *sl;
	size_t i;

	if (now < rl_due)
		return;
	rl_due = UINT64_MAX;
	for (i = 0; i < RL_SLOTS; i++) {
		sl = &rl[i];
		if (sl->suppressed == 0)
			continue;
		if (now - sl->start >= rl_window)
			rl_report(sl);
		else if (sl->start + rl_window < rl_due)
			rl_due = sl->start + rl_window;
	}
}

/* 1: write the line [p, p+n) at lvl (its text, without the prefix);
 * 0: it is one too many of its kind for now. */
static int
rl_admit(int lvl, const char *p, size_t n)
{
	struct rl_slot *sl;
	uint64_t now;
	uint32_t h;

	if (!rl_on || rl_burst == 0)
		return 1;
	now = rl_now();
	rl_flush_due(now);
	h = rl_hash(lvl, p, n);
	sl = &rl[h % RL_SLOTS];
	if (sl->hash != h || now - sl->start >= rl_window) {
		rl_report(sl); /* another key's, or the last window's */
		sl->hash = h;
		sl->lvl = lvl;
		sl->start = now;
		if (n >= sizeof(sl->text))
			n = sizeof(sl->text) - 1;
		memcpy(sl->text, p, n);
		sl->text[n] = '\0';
	}
	if (sl->count < rl_burst) {
		sl->count++;
		return 1;
	}
	if (sl->suppressed++ == 0 && sl->start + rl_window < rl_due)
		rl_due = sl->start + rl_window;
	return 0;
}

void
log_ratelimit(unsigned burst, unsigned window_ms)
{
	size_t i;

	/* Report what the old setting suppressed before it goes. */
	for (i = 0; i < RL_SLOTS; i++)
		rl_report(&rl[i]);
	rl_due = UINT64_MAX;
	rl_burst = burst;
	rl_window = window_ms > 0 ? window_ms : 1;
}

/* limited: 0 for lines that must all be written (a config error report,
 * a fatal error). */
static void
vlog(int lvl, int limited, const char *errstr, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = 0, text;
	int k, saved = errno;

	if (lvl > level)
		return;
	k = log_prefix(lvl, line, sizeof(line));
	if (k > 0)
		n = (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1;
	text = n;
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (k > 0)
		n += (size_t)k < sizeof(line) - n ? (size_t)k
						  : sizeof(line) - n - 1;
	if (errstr != NULL && n < sizeof(line) - 1) {
		k = snprintf(line + n, sizeof(line) - n, ": %s", errstr);
		if (k > 0)
			n += (size_t)k < sizeof(line) - n
			    ? (size_t)k
			    : sizeof(line) - n - 1;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (limited && !rl_admit(lvl, line + text, n - text)) {
		errno = saved;
		return;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
	errno = saved;
}

void
log_msg(int lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, 1, NULL, fmt, ap);
	va_end(ap);
}

/* weft_log() from libweft and plugins lands here inside weftd. */
static void
weft_sink(int lvl, const char *msg)
{
	log_msg(lvl, "%s", msg);
}

void
log_procinit(const char *r)
{
	snprintf(role, sizeof(role), "%s", r);
	rl_on = strncmp(r, "worker", 6) == 0;
	weft_log_set_sink(weft_sink);
}

void
log_setlevel(int lvl)
{
	level = lvl;
}

void
log_file_owner(uid_t uid)
{
	log_owner = uid;
}

int
log_file(const char *path)
{
	free(logfile);
	logfile = path != NULL ? strdup(path) : NULL;
	return log_reopen();
}

/*
 * Opened as root, and then stderr of every worker: a symlink or hard link
 * planted in the log directory, a FIFO or a device must not become it
 * (safepath.h).
 */
static int
log_open(const char *path)
{
	char *cause = NULL;
	int fd;

	if ((fd = safepath_open_append(path, log_owner, 0, &cause)) < 0) {
		log_warnx("log file %s", cause);
		free(cause);
	}
	return fd;
}

int
log_reopen(void)
{
	int fd;

	/* Everything is written to stderr; with a log file, stderr is that
	 * file, reopened here so that logrotate can move it away.  A file
	 * that is refused leaves stderr as it was. */
	journal = -1;
	if (logfile == NULL)
		return 0;
	if ((fd = log_open(logfile)) < 0)
		return -1;
	if (dup2(fd, STDERR_FILENO) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

#define LOG_FN(fn, lvl, witherr)                                               \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		const char *e = (witherr) ? strerror(errno) : NULL;            \
                                                                               \
		va_start(ap, fmt);                                             \
		vlog(lvl, 1, e, fmt, ap);                                      \
		va_end(ap);                                                    \
	}

LOG_FN(log_warn, WEFT_LOG_WARNING, 1)
LOG_FN(log_warnx, WEFT_LOG_WARNING, 0)
LOG_FN(log_notice, WEFT_LOG_NOTICE, 0)
LOG_FN(log_info, WEFT_LOG_INFO, 0)
LOG_FN(log_debug, WEFT_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);

	va_start(ap, fmt);
	vlog(WEFT_LOG_ERR, 0, e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(WEFT_LOG_ERR, 0, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* vlog for log_lines: a report is written whole, never rate-limited
 * (twenty config errors may differ only in their line numbers). */
static void
log_unlimited(int lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, 0, NULL, fmt, ap);
	va_end(ap);
}

void
log_lines(int lvl, const char *text)
{
	const char *p = text, *nl;

	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		log_unlimited(lvl, "%.*s",
		    nl != NULL ? (int)(nl - p) : (int)strlen(p), p);
		p = nl != NULL ? nl + 1 : NULL;
	}
}
