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

/* ---- The filter (tls.c) and its setup (tls_start.c) ------------------ */

enum tls_state {
	S_HANDSHAKE = 1,
	S_OPEN,
	S_LINGER, /* close_notify sent: waiting for the peer's */
	S_DONE,	  /* handed to the plain transport's close or abort */
	S_FAILED, /* handshake failed */
};

struct weft__tls {
	SSL *s_ssl;
	weft_tls_ctx_t *s_ctx;
	weft__conn_t *s_conn;
	const weft__transport_t *s_plain;
	char *s_rx; /* ciphertext read, not yet given to OpenSSL */
	uint32_t s_rx_head;
	uint32_t s_rx_tail;
	weft__wq_t s_wq; /* fibers waiting for the handshake */
	uv_timer_t s_timer;
	uint64_t s_ku_window; /* KeyUpdate/renegotiation counting */
	uint32_t s_ku_count;
	int s_err; /* handshake or record error */
	uint32_t s_shutdown_ms;
	uint64_t s_close_at; /* loop ms of our close_notify */
	uint8_t s_state;
	uint8_t s_sock_eof : 1;	  /* the plain transport read EOF */
	uint8_t s_bio_eof : 1;	  /* ... and OpenSSL was told */
	uint8_t s_eof_clean : 1;  /* the peer's EOF came with close_notify */
	uint8_t s_paused : 1;	  /* the reader wants no more plaintext */
	uint8_t s_rx_stopped : 1; /* plain reads stopped: s_rx is full */
	uint8_t s_in_pump : 1;	  /* OpenSSL is working on it */
	uint8_t s_timer_live : 1; /* s_timer initialised, not closed */
	uint8_t s_flood : 1;	  /* too many KeyUpdates */
	uint8_t s_lingering : 1;  /* s_timer is the linger's */
	char s_alpn[256];
	char s_errtext[192];
};

/* The filter's BIO method, made once. */
BIO_METHOD *weft__tls_bio(void);
/* Let OpenSSL work on what was read (on the loop's stack), then settle
 * flow control; t's connection may be freed by the time it returns. */
void weft__tls_pump(struct weft__tls *t);
/* Set what weft_tls_error(NULL) says: the thread's last failure, of a
 * context or of a handshake its caller cannot ask any more. */
void weft__tls_error_set(const char *text);
const char *weft__tls_error_get(void);
/* The TLS extra info keys (the transport's t_info). */
int weft__tls_info_key(const weft__conn_t *c, const char *key, char *buf,
    size_t size);

#pragma GCC visibility pop

#endif /* WEFT_TLS_INT_H */
