/*
 * The supervisor: binds every listener, drops privileges, forks the
 * workers that share those sockets, and keeps them alive.  It runs no
 * plugin code and no libuv loop: a poll(2) loop over a signal self-pipe,
 * the workers' report pipes and the control socket is all it needs, and
 * it keeps fork() free of any inherited loop state.
 */
#ifndef WEFTD_SUPERVISOR_H
#define WEFTD_SUPERVISOR_H

#include "config.h"

/* Run the supervisor for c (read from conffile, which reloads read
 * again), with its control socket at ctl_path (NULL: the default);
 * never returns. */
void supervisor_main(struct conf *c, const char *conffile, const char *ctl_path)
    __attribute__((noreturn));

#endif /* WEFTD_SUPERVISOR_H */
