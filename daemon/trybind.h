/*
 * `weftd -t`'s trial bind: would the listeners of a config bind now?
 */
#ifndef WEFTD_TRYBIND_H
#define WEFTD_TRYBIND_H

#include "config.h"

/*
 * Bind each TCP listener of c (port 0 and sockets systemd passes are
 * skipped) and look whether each UNIX listener's path is a live socket.
 * An address in use is an error ("file:line: listener "NAME": tcp ADDR:
 * address already in use") unless the weftd of this config runs (ctl,
 * its control socket, answers or is locked): then it is that weftd's.
 * A port this process may not bind (EACCES) is a warning that it could
 * not be checked.  Returns the number of errors; *errors and *warnings
 * (NULL if none) are '\n'-joined lines the caller frees.
 */
int trybind_check(const struct conf *c, const char *ctl, char **errors,
    char **warnings);

#endif /* WEFTD_TRYBIND_H */
