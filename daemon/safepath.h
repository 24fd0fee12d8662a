/*
 * Opening a file root writes to, in a directory chain nobody else
 * controls.  Used for the -L log file (log.c) and the access log files
 * (accesslog_open.c); the plugin loader (loader.c) has its own walk,
 * which also follows symlinks its owner made.
 */
#ifndef WEFTD_SAFEPATH_H
#define WEFTD_SAFEPATH_H

#include <sys/types.h>

/*
 * Open the directory path's last component is in, walked from "/" one
 * component at a time with openat(O_NOFOLLOW) (a relative path is taken
 * from the current directory's real path), each directory checked
 * through the fd opened: it must not be a symlink, must be owned by root,
 * by this process's user or by `also` ((uid_t)-1: nobody else), and may
 * be writable by group or others only if it is sticky (/tmp).  So nobody
 * else can swap a directory on the way, or the file in it.
 *
 * Returns the directory's fd (O_PATH, O_CLOEXEC: for openat) and sets
 * *base to the last component (in path), or returns -1 with *cause
 * (malloc'd) naming path and the directory at fault.
 */
int safepath_parent(const char *path, uid_t also, const char **base,
    char **cause);

/* safepath_open_append's flags. */
#define SAFEPATH_FIFO 0x1     /* a FIFO will do too */
#define SAFEPATH_NONBLOCK 0x2 /* the fd stays O_NONBLOCK */

/*
 * Open path for appending, created 0640 if need be, as root may: in a
 * directory safepath_parent walked, never through a symlink
 * (O_NOFOLLOW), and only if what was opened is a regular file with one
 * link (or a FIFO, with SAFEPATH_FIFO) owned by root, by this process's
 * user or by `also`.  A planted link, FIFO or device cannot become it.
 * The open itself does not block (O_NONBLOCK: a FIFO without a reader
 * fails with ENXIO instead); the fd is then made blocking again unless
 * SAFEPATH_NONBLOCK.
 *
 * Returns the fd (O_CLOEXEC), or -1 with *cause (malloc'd) "path: why".
 */
int safepath_open_append(const char *path, uid_t also, int flags, char **cause);

#endif /* WEFTD_SAFEPATH_H */
