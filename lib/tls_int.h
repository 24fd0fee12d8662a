/*
 * The seam between libweft's two TLS files and OpenSSL: tls_ctx.c makes
 * contexts and SSL objects and turns OpenSSL's errors into text; tls.c is
 * the TLS filter on a connection's transport (handshake, records, close).
 * Nothing else in libweft includes OpenSSL's headers.
 */
#ifndef WEFT_TLS_INT_H
#define WEFT_TLS_INT_H

#include <openssl/ssl.h>

#include "internal.h"

#pragma GCC visibility push(hidden)

struct weft_tls_ctx {
	SSL_CTX *x_ssl;
	unsigned x_refs;
	uint8_t x_server; /* made with opts.server */
	uint8_t x_verify; /* client: verify the peer (and its name) */
	/* The rest is tls_ctx.c's own: ticket keys, SNI contexts, ALPN. */
	void *x_priv;
};

/*
 * A new SSL object on ctx, in the role of ctx (server or client).  For a
 * client, host is what SNI sends and the certificate is checked against
 * ("" or NULL: neither; an IP literal: checked as an IP address, no
 * SNI).  NULL with a reason in err on failure.
 */
SSL *weft__tls_ssl_new(weft_tls_ctx_t *ctx, const char *host, char *err,
    size_t errsize);

/*
 * Why an SSL call failed, as text for weft_tls_error: the verify result
 * if the peer's certificate was refused (return WEFT_ETLSVERIFY), else
 * OpenSSL's error queue, which is emptied (return WEFT_ETLS).
 */
int weft__tls_reason(SSL *ssl, char *buf, size_t size);

/*
 * The process's ssl=True context (a verifying client), made on first use
 * and kept until the process ends: the caller takes its own reference as
 * for any context.  NULL with the code in *err (reason in
 * weft_tls_error(NULL)) if it cannot be made.
 */
weft_tls_ctx_t *weft__tls_ctx_default(int *err);

/*
 * weft_tls_error(w) for a connection: its handshake or record error, ""
 * if none; tls.c defines it (tls_ctx.c has a weak default returning "",
 * for programs that link no TLS connection code).
 */
const char *weft__tls_conn_error(const weft_writer_t *w);

#pragma GCC visibility pop

#endif /* WEFT_TLS_INT_H */
