/*
 * Logging for every weftd process.  One line per message, written with a
 * single write(2) so lines of concurrent workers never interleave.  When
 * stderr is connected to the journal (JOURNAL_STREAM matches stderr's
 * device and inode) each line starts with a "<N>" syslog priority, which
 * journald turns into the entry's priority, and carries no timestamp.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "log.h"

static char role[32] = "weftd";
static char *logfile;	/* --log-file, reopened on SIGUSR1 */
static uid_t log_owner = 0; /* besides root and us: the service user */
static int level = WEFT_LOG_INFO;
static int journal = -1; /* unknown until the first line */

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
	return snprintf(buf, size, "weftd[%ld]: %s: %s: ", (long)getpid(),
	    role, level_name(lvl));
}

static void
vlog(int lvl, const char *errstr, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = 0;
	int k, saved = errno;

	if (lvl > level)
		return;
	k = log_prefix(lvl, line, sizeof(line));
	if (k > 0)
		n = (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1;
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (k > 0)
		n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
	if (errstr != NULL && n < sizeof(line) - 1) {
		k = snprintf(line + n, sizeof(line) - n, ": %s", errstr);
		if (k > 0)
			n += (size_t)k < sizeof(line) - n ? (size_t)k
							  : sizeof(line) - n - 1;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
	errno = saved;
}

void
log_msg(int lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, NULL, fmt, ap);
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
	weft_log_set_sink(weft_sink);
}

void
log_setlevel(int lvl)
{
	level = lvl;
}

int
log_getlevel(void)
{
	return level;
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
 * planted in the log directory, a FIFO or a device must not become it.
 * O_NOFOLLOW refuses a symlink as the last component; O_NONBLOCK keeps a
 * FIFO from blocking the open; what was opened must then be a regular
 * file with one link, owned by root, by us or by the service user.
 */
static int
log_open(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY | O_NONBLOCK, 0640);
	if (fd < 0) {
		if (errno == ELOOP)
			log_warnx("log file %s: is a symbolic link, refusing "
				  "to follow it", path);
		else
			log_warn("cannot open log file %s", path);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		log_warn("log file %s: fstat", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		log_warnx("log file %s: not a regular file with a single link, "
			  "refusing it", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid() &&
	    st.st_uid != log_owner) {
		log_warnx("log file %s: owned by uid %ld, not by root or the "
			  "service user, refusing it", path, (long)st.st_uid);
		close(fd);
		return -1;
	}
	(void)fcntl(fd, F_SETFL, O_APPEND);
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
		vlog(lvl, e, fmt, ap);                                         \
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
	vlog(WEFT_LOG_ERR, e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(WEFT_LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_lines(int lvl, const char *text)
{
	const char *p = text, *nl;

	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		log_msg(lvl, "%.*s", nl != NULL ? (int)(nl - p) : (int)strlen(p),
		    p);
		p = nl != NULL ? nl + 1 : NULL;
	}
}
