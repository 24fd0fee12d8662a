/*
 * The supervisor's listening sockets: one binder for its TCP and UNIX
 * listeners and its control socket, and the care a UNIX socket's file
 * needs (a stale one replaced, a live one never; mode and owner set
 * through an fd, never by a path someone could redirect).
 */
#ifndef WEFTD_SOCK_H
#define WEFTD_SOCK_H

#include <sys/types.h>
#include <sys/un.h>

#include "config.h"

/* How sock_listen() listens, besides what the listener says. */
struct sock_how {
	const char *what;   /* before the address in messages, or "" */
	int nonblock;	    /* SOCK_NONBLOCK */
	const char *run_as; /* "user:group" privileges were dropped to,
				 * "" if they were not: named when a change
				 * of owner is refused */
};

/*
 * Listen on l's address (TCP, or a UNIX socket created with l's mode and
 * given l's owner and group before it listens).  A UNIX path may hold a
 * socket left by an earlier run, which is replaced; a live socket or any
 * other file is not.  Returns the fd (close-on-exec), or -1 with *cause,
 * or -2 with *cause if a process listens on the path.
 */
int sock_listen(const struct conf_listener *l, const struct sock_how *how,
    char **cause);

/*
 * Give the UNIX socket file of l a mode, an owner and a group (-1: leave
 * that one), through an fd that names the socket and nothing put in its
 * place.  -1 with *cause on failure.
 */
int sock_unix_attrs(const struct conf_listener *l, int mode, uid_t uid,
    gid_t gid, const char *run_as, char **cause);

/* Fill sun with path; -1 if it does not fit. */
int sock_unix_addr(const char *path, struct sockaddr_un *sun);

#endif /* WEFTD_SOCK_H */
