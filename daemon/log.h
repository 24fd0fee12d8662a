/*
 * weftd logging: one vocabulary for every process role.  Lines go to
 * stderr as "weftd[pid]: role: LEVEL: message", or with a "<N>" journald
 * priority prefix (and no timestamp) when stderr is the journal.
 */
#ifndef WEFTD_LOG_H
#define WEFTD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

/* Set the role shown in every line ("supervisor", "worker 3", "check");
 * a worker's lines are rate-limited (log_ratelimit). */
void log_procinit(const char *role);

/* Minimum level written (WEFT_LOG_*); also routes weft_log(). */
void log_setlevel(int level);

/* Send stderr (so every line) to path, or back to nothing special with
 * NULL; -1 if it cannot be opened or is refused: a symlink, not a regular
 * file, more than one link, or owned by someone other than root, this
 * process's user or log_file_owner(). */
int log_file(const char *path);

/* The service user, who may own the log file too. */
void log_file_owner(uid_t uid);

/* Reopen the log file (SIGUSR1, after logrotate moved it), with the same
 * checks; a refused file leaves the current one in place. */
int log_reopen(void);

/*
 * Write the prefix of a line at lvl into buf, as snprintf does; for code
 * that must build a line ahead of time (a signal handler).
 */
int log_prefix(int level, char *buf, size_t size);

/*
 * Rate limit, in workers (a role "worker ..."; see log_procinit): each
 * kind of message (its text without digits) may log burst lines per
 * window_ms, the rest are counted and reported in one "suppressed N
 * similar messages" line after the window.  The default is 10 per
 * 5000 ms; burst 0 turns the limit off.  log_lines and fatal are never
 * limited.
 */
void log_ratelimit(unsigned burst, unsigned window_ms);

/* A line at an explicit level (WEFT_LOG_*). */
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Log a multi-line text (e.g. every config error) one line each. */
void log_lines(int level, const char *text);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* WEFTD_LOG_H */
