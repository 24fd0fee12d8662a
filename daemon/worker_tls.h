/*
 * The TLS contexts of a generation, one per profile, made in each of its
 * workers (and in the reload probe and `weftd -t`, which only check that
 * they can be made) from the PEM text the supervisor read
 * (tls_files.h).  The context is libweft's (weft/tls.h): this is the
 * daemon's only way to OpenSSL.
 */
#ifndef WEFTD_WORKER_TLS_H
#define WEFTD_WORKER_TLS_H

#include <weft/tls.h>

#include "config.h"

struct worker_tls;

/*
 * A context for every profile of c, tickets from keys (NULL: each
 * context its own).  0 and *out, or -1 with *cause: one "file:line: tls
 * profile "NAME": reason" line per profile that failed, OpenSSL's reason
 * (weft_tls_error).
 */
int worker_tls_new(const struct conf *c, const weft_tls_ticket_key_t *keys,
    struct worker_tls **out, char **cause);

/* The context of profile i (conf_listener.tls_index). */
weft_tls_ctx_t *worker_tls_ctx(const struct worker_tls *wt, int i);

/* Drop the contexts (connections still open hold references). */
void worker_tls_free(struct worker_tls *wt);

#endif /* WEFTD_WORKER_TLS_H */
