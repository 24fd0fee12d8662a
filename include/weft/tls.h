/*
 * weft — TLS: asyncio's ssl=, server_hostname, start_tls and the TLS
 * extra info, over OpenSSL 3.
 *
 * A context (weft_tls_ctx_t) holds what is shared by many connections:
 * certificates and keys, trust, ALPN, versions, ciphers, session cache
 * and ticket keys.  It is passed as opts.ssl to weft_open_connection*
 * and weft_start_server* (see server.h), or to weft_start_tls.  A server
 * runs its handler only after the handshake succeeded, so the peer's
 * certificate, SNI and ALPN are known on the handler's first line.
 */
#ifndef WEFT_TLS_H
#define WEFT_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <weft/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_tls_ctx weft_tls_ctx_t;

/** opts.ssl = WEFT_SSL_DEFAULT is asyncio's ssl=True: a client context
 * verifying against the system trust store. */
#define WEFT_SSL_DEFAULT ((weft_tls_ctx_t *)1)

/** How a context checks the peer's certificate. */
typedef enum weft_tls_verify {
	WEFT_TLS_VERIFY_DEFAULT = 0, /* client: required; server: none */
	WEFT_TLS_VERIFY_NONE,	     /* ask for nothing, check nothing */
	WEFT_TLS_VERIFY_OPTIONAL,    /* server: ask; a bad one still fails */
	WEFT_TLS_VERIFY_REQUIRED     /* no valid certificate, no handshake */
} weft_tls_verify_t;

/** A certificate chain and its key, as PEM files or PEM text in memory. */
typedef struct weft_tls_cert {
	const char *cert;     /* path of the PEM chain, leaf first */
	const char *key;      /* path of the PEM private key */
	const char *cert_pem; /* or the chain itself (cert == NULL) */
	size_t cert_pem_len;
	const char *key_pem; /* or the key itself (key == NULL) */
	size_t key_pem_len;
} weft_tls_cert_t;

/** More certificates, chosen by the SNI name of the ClientHello. */
typedef struct weft_tls_sni {
	const char *const *names; /* exact names or "*.example.com" */
	size_t nnames;
	weft_tls_cert_t cert;
} weft_tls_sni_t;

/**
 * Ticket keys, as nginx rotates them: tickets are made with the current
 * key and accepted with any of the three.  The context reads them where
 * they are at each ticket, so a process sharing them (weftd's shared
 * memory) may rotate them in place.
 */
typedef struct weft_tls_ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
} weft_tls_ticket_key_t;

enum { WEFT_TLS_TICKET_PREV = 0, WEFT_TLS_TICKET_CUR, WEFT_TLS_TICKET_NEXT };

/** Options of a context; a zeroed struct is a verifying client. */
typedef struct weft_tls_opts {
	int server; /* 1: a server context (certs required) */
	/* Certificate/key pairs: an ECDSA and an RSA pair may both be
	 * given, the handshake picks what the client supports. */
	const weft_tls_cert_t *certs;
	size_t ncerts;
	const weft_tls_sni_t *sni;
	size_t nsni;
	/* Whom to trust: the client's trust store (NULL: the system's,
	 * honouring SSL_CERT_FILE and SSL_CERT_DIR) or the CA a server
	 * checks client certificates against. */
	const char *ca_file;
	const char *ca_dir;
	weft_tls_verify_t verify;
	/* Comma-separated ALPN protocols in preference order ("h2,http/1.1");
	 * a server with no overlap with the client sends a fatal alert. */
	const char *alpn;
	/* "TLSv1.2", "TLSv1.3" or both, space or comma separated; NULL is
	 * TLS 1.2 and 1.3. */
	const char *protocols;
	const char *ciphers;	  /* TLS 1.2 list, OpenSSL syntax */
	const char *ciphersuites; /* TLS 1.3 list */
	const char *groups;	  /* NULL: X25519:P-256 */
	int no_session_tickets;	  /* server: no tickets (a cache only) */
	/* Server: tickets from these three keys (see above); NULL: keys
	 * of this context alone. */
	const weft_tls_ticket_key_t *ticket_keys;
	/* Server: the session id context (several profiles in one process
	 * must not resume each other's sessions); NULL: a default. */
	const char *session_id_context;
} weft_tls_opts_t;

/**
 * Make a context.  0, or WEFT_ETLS with the reason (the file and
 * OpenSSL's text) in weft_tls_error(NULL); -ENOMEM; -EINVAL.
 */
WEFT_EXTERN int weft_tls_ctx_new(const weft_tls_opts_t *opts,
    weft_tls_ctx_t **out);

/** Drop a reference (each connection holds one while it lives). */
WEFT_EXTERN void weft_tls_ctx_free(weft_tls_ctx_t *ctx);

/** Take a reference. */
WEFT_EXTERN weft_tls_ctx_t *weft_tls_ctx_ref(weft_tls_ctx_t *ctx);

/** The OpenSSL SSL_CTX, for what these options do not cover. */
WEFT_EXTERN void *weft_tls_ctx_ossl(weft_tls_ctx_t *ctx);

/**
 * Why the last TLS call failed: for w, its handshake or record error
 * ("certificate verify failed: certificate has expired"); for NULL, the
 * last weft_tls_ctx_new of this thread.  "" if none.  Never NULL.
 */
WEFT_EXTERN const char *weft_tls_error(const weft_writer_t *w);

/** What a TLS connection negotiated (weft_tls_info). */
typedef struct weft_tls_info {
	const char *version;	 /* "TLSv1.3" */
	const char *cipher;	 /* "TLS_AES_128_GCM_SHA256" */
	const char *alpn;	 /* "" if none */
	const char *server_name; /* SNI sent (client) or received (server) */
	int session_reused;
	long verify_result; /* X509_V_OK (0) or the verify error */
	int eof_clean;	    /* the peer's EOF came with close_notify */
	int peer_cert;	    /* the peer sent a certificate */
	void *ssl;	    /* the OpenSSL SSL object */
} weft_tls_info_t;

/**
 * Fill the first size bytes of *info (pass sizeof *info); the strings
 * live as long as the connection.  -ENOENT on a connection without TLS.
 */
WEFT_EXTERN int weft_tls_info(const weft_writer_t *w, weft_tls_info_t *info,
    size_t size);

/**
 * The peer's certificate as DER: the length, or -ENOENT if none,
 * -ENOBUFS if size is short (buf may be NULL to ask the length).
 */
WEFT_EXTERN int weft_tls_peer_cert(const weft_writer_t *w, void *buf,
    size_t size);

/**
 * asyncio's start_tls: upgrade a plain connection in place.  Waits for
 * what was written to drain, then for the handshake; bytes the reader
 * already holds are the first TLS bytes.  A server context makes this
 * side the server.  opts gives server_hostname and the handshake
 * timeout.  0, WEFT_ETLS, WEFT_ETLSVERIFY, -ECONNABORTED (timeout).
 */
WEFT_EXTERN int weft_start_tls(weft_writer_t *w, weft_tls_ctx_t *ctx,
    const char *server_hostname, int handshake_timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_TLS_H */
