/*
 * What the TLS test programs share: the certificates tests/tls/mkcerts.sh
 * makes once per program into a temporary directory, contexts made from
 * them, and a handshake between a client and a server SSL made by
 * weft__tls_ssl_new, wired to each other by two memory BIOs (in the tests
 * only: the library runs TLS over its own transport).  Include it after
 * harness.h, and call tls_util_setup() first in main.
 */
#ifndef WEFT_TEST_TLS_UTIL_H
#define WEFT_TEST_TLS_UTIL_H

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls_int.h"

static char certdir[] = "/tmp/weft-tls.XXXXXX";
static pid_t parent;

/* The path of a file of certdir (a few at a time). */
static WT_UNUSED const char *
cert(const char *name)
{
	static char buf[8][256];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", certdir, name);
	return p;
}

static WT_UNUSED char *
slurp(const char *name, size_t *len)
{
	FILE *f = fopen(cert(name), "r");
	char *buf = calloc(1, 8192); /* NUL-terminated: callers strlen it */

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 8191, f);
	fclose(f);
	return buf;
}

static WT_UNUSED weft_tls_ctx_t *
ctx_ok(const weft_tls_opts_t *opts)
{
	weft_tls_ctx_t *ctx = NULL;
	int rc = weft_tls_ctx_new(opts, &ctx);

	if (rc != 0)
		fail_msg("weft_tls_ctx_new: %s: %s", weft_err_name(rc),
		    weft_tls_error(NULL));
	assert_string_equal(weft_tls_error(NULL), "");
	assert_int_equal(ERR_peek_error(), 0); /* nothing left behind */
	return ctx;
}

/* A server context on one pair of files, with more options in *o. */
static WT_UNUSED weft_tls_ctx_t *
server(const char *stem, weft_tls_opts_t *o)
{
	static char crt[256], key[256];
	static weft_tls_cert_t c;
	weft_tls_opts_t z = { 0 };

	snprintf(crt, sizeof(crt), "%s/%s.crt", certdir, stem);
	snprintf(key, sizeof(key), "%s/%s.key", certdir, stem);
	c.cert = crt;
	c.key = key;
	if (o == NULL)
		o = &z;
	o->server = 1;
	if (o->certs == NULL) {
		o->certs = &c;
		o->ncerts = 1;
	}
	return ctx_ok(o);
}

/* A client trusting ca.crt, or *o. */
static WT_UNUSED weft_tls_ctx_t *
client(weft_tls_opts_t *o)
{
	weft_tls_opts_t z = { 0 };

	if (o == NULL)
		o = &z;
	if (o->ca_file == NULL)
		o->ca_file = cert("ca.crt");
	return ctx_ok(o);
}

/* ---- A handshake over memory BIOs --------------------------------------- */

struct hs {
	SSL *c, *s;
	int crc, src; /* 0, a weft error, or 1: never finished */
	char cwhy[256], swhy[256];
};

/* One handshake step of a side; 1 once it finished or failed. */
static WT_UNUSED int
step(SSL *ssl, int *rc, char *why)
{
	int r = SSL_do_handshake(ssl), e;

	if (r == 1) {
		*rc = 0;
		return 1;
	}
	e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	*rc = weft__tls_reason(ssl, why, 256);
	return 1;
}

static WT_UNUSED void
hs_run(struct hs *h, weft_tls_ctx_t *cctx, const char *host,
    weft_tls_ctx_t *sctx, SSL_SESSION *sess)
{
	BIO *c2s = BIO_new(BIO_s_mem()), *s2c = BIO_new(BIO_s_mem());
	char err[256];
	int cdone = 0, sdone = 0, i;
	unsigned char b;

	memset(h, 0, sizeof(*h));
	h->crc = h->src = 1;
	assert_non_null(h->c = weft__tls_ssl_new(cctx, host, err, sizeof(err)));
	assert_non_null(h->s = weft__tls_ssl_new(sctx, NULL, err, sizeof(err)));
	if (sess != NULL)
		assert_int_equal(SSL_set_session(h->c, sess), 1);
	BIO_up_ref(c2s);
	BIO_up_ref(s2c);
	SSL_set_bio(h->c, s2c, c2s);
	SSL_set_bio(h->s, c2s, s2c);
	for (i = 0; i < 20 && !(cdone && sdone); i++) {
		if (!cdone)
			cdone = step(h->c, &h->crc, h->cwhy);
		if (!sdone)
			sdone = step(h->s, &h->src, h->swhy);
	}
	/* TLS 1.3: the client takes the tickets sent after the handshake. */
	if (h->crc == 0 && h->src == 0)
		assert_int_equal(SSL_read(h->c, &b, 1), -1);
	ERR_clear_error();
}

/*
 * A session freed without a close_notify sent would be marked not
 * resumable by OpenSSL: these handshakes end as if it had been.
 */
static WT_UNUSED void
hs_free(struct hs *h)
{
	if (h->crc == 0 && h->src == 0) {
		SSL_set_shutdown(h->c, SSL_SENT_SHUTDOWN);
		SSL_set_shutdown(h->s, SSL_SENT_SHUTDOWN);
	}
	SSL_free(h->c);
	SSL_free(h->s);
}

/* The CN of the certificate ssl's peer sent. */
static WT_UNUSED const char *
peer_cn(SSL *ssl)
{
	static char cn[128];
	X509 *x = SSL_get0_peer_certificate(ssl);

	assert_non_null(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
	    sizeof(cn));
	return cn;
}

/* A handshake that must succeed; the server's ALPN choice ("" if none). */
static WT_UNUSED const char *
hs_ok(struct hs *h, weft_tls_ctx_t *cctx, const char *host,
    weft_tls_ctx_t *sctx, SSL_SESSION *sess)
{
	static char alpn[64];
	const unsigned char *p;
	unsigned n;

	hs_run(h, cctx, host, sctx, sess);
	if (h->crc != 0 || h->src != 0)
		fail_msg("handshake: client %d (%s), server %d (%s)", h->crc,
		    h->cwhy, h->src, h->swhy);
	assert_int_equal(SSL_get_verify_result(h->c), X509_V_OK);
	SSL_get0_alpn_selected(h->s, &p, &n);
	snprintf(alpn, sizeof(alpn), "%.*s", (int)n, (const char *)p);
	return alpn;
}

/* A handshake the client refuses: the reason it gives. */
static WT_UNUSED const char *
hs_client_fails(weft_tls_ctx_t *cctx, const char *host, weft_tls_ctx_t *sctx,
    int code)
{
	static char why[256];
	struct hs h;

	hs_run(&h, cctx, host, sctx, NULL);
	assert_int_equal(h.crc, code);
	assert_int_not_equal(h.src, 0);
	snprintf(why, sizeof(why), "%s", h.cwhy);
	hs_free(&h);
	return why;
}

/* A client context presenting stem.crt. */
static WT_UNUSED weft_tls_ctx_t *
client_with(const char *stem)
{
	static weft_tls_cert_t c;
	static char crt[256], key[256];
	weft_tls_opts_t o = { 0 };

	snprintf(crt, sizeof(crt), "%s/%s.crt", certdir, stem);
	snprintf(key, sizeof(key), "%s/%s.key", certdir, stem);
	c.cert = crt;
	c.key = key;
	o.certs = &c;
	o.ncerts = 1;
	return client(&o);
}

static void
cleanup(void)
{
	char cmd[300];

	if (getpid() != parent)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", certdir);
}

/* Make the certificates; they are removed when the program ends. */
static WT_UNUSED void
tls_util_setup(void)
{
	char cmd[600];

	if (mkdtemp(certdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	parent = getpid();
	atexit(cleanup);
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", MKCERTS, certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "%s failed\n", cmd);
		exit(1);
	}
}

#endif /* WEFT_TEST_TLS_UTIL_H */
