/*
 * Capabilities the supervisor keeps after its privilege drop, and the
 * workers never have.  The one kept is CAP_DAC_READ_SEARCH, in the
 * permitted set only, raised into the effective set just around the
 * opens of TLS certificates and keys (tls_files.c), so that a key only
 * root can read is read again on a reload, by the supervisor, which
 * hands its bytes to the workers: a worker never opens a key file, and
 * holds no capability.
 */
#ifndef WEFTD_PRIVS_H
#define WEFTD_PRIVS_H

/* Before setuid() from root: keep the permitted set across it. */
void privs_keep_caps(void);

/*
 * After the drop (setuid() from root, or started unprivileged): every
 * capability goes from every set, but CAP_DAC_READ_SEARCH stays in the
 * permitted set if keep_read and it is there.  Returns 1 if it was
 * kept, 0 if nothing is held any more, -1 (errno) if capset failed.
 */
int privs_drop(int keep_read);

/* Raise (on) or lower CAP_DAC_READ_SEARCH in the effective set, if it
 * is permitted; nothing otherwise. */
void privs_read_any(int on);

/* In a child just forked, not root: drop every capability it
 * inherited. */
void privs_child_drop(void);

#endif /* WEFTD_PRIVS_H */
