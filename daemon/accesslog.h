/*
 * The access log (a listener's access_log key): one line per connection
 * as it ends, written by the worker that served it into a buffer flushed
 * without ever blocking the loop (accesslog.c).  The targets are opened
 * by the supervisor, which runs as root, and handed to the workers, which
 * do not (accesslog_open.c): at fork, and again on SIGUSR1 over the
 * worker's report socket.
 */
#ifndef WEFTD_ACCESSLOG_H
#define WEFTD_ACCESSLOG_H

#include <stddef.h>

#include <uv.h>
#include <weft/server.h>

#include "config.h"

/* The message on a worker's report socket that carries reopened files. */
#define ALOG_MSG_REOPEN 'L'

/* ---- Supervisor (accesslog_open.c) ---- */

/*
 * Open the target of each of c's listeners with an access_log into
 * fds[i] (-1 for none, or one that cannot be opened: logged).  A file is
 * opened as the log file is (safepath.h: no symlink, no directory
 * another user controls); it must be a regular file with one link or a
 * FIFO, owned by root, by us or by c's user.  "stderr" is a descriptor of
 * our stderr that does not block; "journal" a datagram socket to
 * journald.
 */
void alog_open(const struct conf *c, int *fds);

/* 1 if one of c's listeners logs to a file: its workers' report pipe
 * must be a socket, to hand them the file reopened. */
int alog_files(const struct conf *c);

/* Close what alog_open opened. */
void alog_close(const struct conf *c, int *fds);

/* SIGUSR1: open c's files again and send them to the worker on sock. */
void alog_send_reopened(const struct conf *c, int sock);

/* The same for every live worker of pt. */
struct procs;
void alog_reopen_all(struct procs *pt);

/* ---- Worker (accesslog.c) ---- */

/* Take fds (alog_open's, one per listener; kept) and listen on sock for
 * reopened files. */
void alog_start(uv_loop_t *loop, const struct conf *c, int *fds, int sock);

/* The weft_server_set_on_close argument of listener i, NULL without an
 * access log. */
void *alog_of(size_t i);

/* The hook: format the connection's line into its buffer. */
void alog_on_close(weft_writer_t *w, const weft_conn_stats_t *st, void *arg);

/* Write what is buffered (best effort) and stop the timers. */
void alog_stop(void);

/* Lines of listener i dropped so far because its target could not keep
 * up. */
unsigned long long alog_dropped(size_t i);

#endif /* WEFTD_ACCESSLOG_H */
