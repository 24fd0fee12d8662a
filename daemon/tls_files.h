/*
 * The TLS profiles' certificates and keys, read by the supervisor into
 * the configuration model (struct conf_pem) at start, by `weftd -t` and
 * on every reload: the probe and the workers, forked from it, get the
 * PEM text and never open a key file.  No OpenSSL here: whether the
 * text is a certificate and a matching key is the probe's to find out
 * (worker_check_plugins).
 */
#ifndef WEFTD_TLS_FILES_H
#define WEFTD_TLS_FILES_H

#include <sys/types.h>

#include "config.h"

/*
 * Read every cert and key of c's profiles.  Each file is opened once,
 * through a directory chain nobody but root, this process's user or
 * `also` ((uid_t)-1: nobody else) can change (safepath.h), a symbolic
 * link followed only where such a chain holds it, and read from the fd
 * whose fstat says it is a regular file.  With CAP_DAC_READ_SEARCH
 * permitted (privs.h), it is raised around each open.  0, or -1 with
 * *cause: one "file:line: tls profile "NAME": ..." line per failure.
 */
int tls_files_read(struct conf *c, uid_t also, char **cause);

/* The uid `also` is for c: its `user`'s, or (uid_t)-1. */
uid_t tls_files_owner(const struct conf *c);

#endif /* WEFTD_TLS_FILES_H */
