/*
 * What tls_ctx.c keeps in a context beyond the SSL_CTX (x_priv), shared
 * with tls_cb.c, whose OpenSSL callbacks read it during handshakes.
 */
#ifndef WEFT_TLS_CTX_INT_H
#define WEFT_TLS_CTX_INT_H

#include <weft/tls.h>

#include "tls_int.h"

#pragma GCC visibility push(hidden)

/* A certificate chain and its key. */
struct weft__tls_pair {
	X509 *p_x509;
	EVP_PKEY *p_key;
	STACK_OF(X509) * p_chain; /* after the leaf */
};

/* A certificate chosen by the ClientHello's SNI name. */
struct weft__tls_sni {
	char **s_names; /* exact names, or "*.example.com" */
	size_t s_nnames;
	struct weft__tls_pair s_pair;
};

struct weft__tls_priv {
	struct weft__tls_sni *p_sni;
	size_t p_nsni;
	unsigned char *p_alpn; /* the server's ALPN list, wire format */
	size_t p_alpnlen;
	const weft_tls_ticket_key_t *p_keys; /* opts.ticket_keys, or NULL */
	EVP_CIPHER *p_aes;		     /* tickets: AES-256-CBC */
};

/*
 * Install a server's callbacks (SNI, ALPN, ticket keys from opts) or a
 * client's ALPN list on ctx.  0, or a negative code with the reason in
 * err.
 */
int weft__tls_cb_server(weft_tls_ctx_t *ctx, const weft_tls_opts_t *opts,
    char *err, size_t errsize);
int weft__tls_cb_client(weft_tls_ctx_t *ctx, const weft_tls_opts_t *opts,
    char *err, size_t errsize);

#pragma GCC visibility pop

#endif /* WEFT_TLS_CTX_INT_H */
