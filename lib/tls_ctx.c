/*
 * TLS contexts: weft_tls_opts_t turned into an OpenSSL SSL_CTX with
 * weft's defaults, the SSL objects tls.c runs on them, and OpenSSL's
 * errors as the text weft_tls_error returns.  The ClientHello, ALPN and
 * ticket callbacks are in tls_cb.c.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls_ctx_int.h"

/* The reason of this thread's last weft_tls_ctx_new failure. */
static __thread char ctx_err[256];

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static weft_tls_ctx_t *default_ctx;

static int set_err(int rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
set_err(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx_err, sizeof(ctx_err), fmt, ap);
	va_end(ap);
	return rc;
}

/* 1 for OpenSSL's "X lib" reasons, which only say a layer below failed. */
static int
is_wrapper(unsigned long e)
{
	int r = ERR_GET_REASON(e);

	return !ERR_SYSTEM_ERROR(e) && (r & ERR_RFLAG_COMMON) != 0 &&
	    (r & ~ERR_RFLAGS_MASK) < ERR_R_FATAL;
}

/*
 * OpenSSL's reason for the newest error in its queue that is not a mere
 * "X lib", which says what failed at the level of the call made (a
 * missing file is "no such file", not the fopen errno under it), with
 * the detail OpenSSL attached to it; the queue is emptied.
 */
static void
ossl_text(char *buf, size_t size)
{
	unsigned long e, best = 0;
	const char *data, *r;
	char detail[128] = "";
	int flags;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0)
		if (best == 0 || !is_wrapper(e)) {
			best = e;
			snprintf(detail, sizeof(detail), "%s",
			    (flags & ERR_TXT_STRING) ? data : "");
		}
	if (best == 0)
		snprintf(buf, size, "unknown error");
	else if ((r = ERR_reason_error_string(best)) == NULL)
		ERR_error_string_n(best, buf, size);
	else if (detail[0] != '\0')
		snprintf(buf, size, "%s (%s)", r, detail);
	else
		snprintf(buf, size, "%s", r);
	ERR_clear_error();
}

/* WEFT_ETLS with "what: OpenSSL's reason". */
static int
ossl_err(const char *what)
{
	char reason[160];

	ossl_text(reason, sizeof(reason));
	return set_err(WEFT_ETLS, "%s: %s", what, reason);
}

/* A key with a passphrase fails instead of prompting on the terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The PEM source of a chain or key: its file, or its bytes in memory. */
static BIO *
pem_open(const char *path, const char *pem, size_t len)
{
	if (path != NULL)
		return BIO_new_file(path, "r");
	return BIO_new_mem_buf(pem, (int)len);
}

/*
 * Read a chain (leaf first) from path or pem: the leaf in *x509, the
 * rest in *chain.  The end of the PEM is the one error expected.
 */
static int
chain_read(const char *label, const char *path, const char *pem, size_t len,
    X509 **x509, STACK_OF(X509) * *chain)
{
	BIO *bio;
	X509 *x;
	unsigned long e;

	if ((bio = pem_open(path, pem, len)) == NULL)
		return ossl_err(label);
	*x509 = PEM_read_bio_X509_AUX(bio, NULL, no_passphrase, NULL);
	if (*x509 == NULL || (*chain = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return ossl_err(label);
	}
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL)
		if (!sk_X509_push(*chain, x)) {
			X509_free(x);
			BIO_free(bio);
			return ossl_err(label);
		}
	BIO_free(bio);
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
	    ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
		return ossl_err(label);
	ERR_clear_error();
	return 0;
}

static int
key_read(const char *label, const char *path, const char *pem, size_t len,
    EVP_PKEY **pkey)
{
	BIO *bio;

	if ((bio = pem_open(path, pem, len)) == NULL)
		return ossl_err(label);
	*pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (*pkey == NULL)
		return ossl_err(label);
	ERR_clear_error();
	return 0;
}

static void
pair_clear(struct weft__tls_pair *p)
{
	X509_free(p->p_x509);
	EVP_PKEY_free(p->p_key);
	sk_X509_pop_free(p->p_chain, X509_free);
	memset(p, 0, sizeof(*p));
}

/*
 * Load a certificate pair, named in errors by its files, or by what
 * (certs[0]) for PEM in memory.  With neither a key file nor key PEM the
 * key is looked for next to the chain.  The key must match the leaf.
 */
static int
pair_load(const weft_tls_cert_t *c, const char *what, struct weft__tls_pair *p)
{
	char label[192], klabel[192];
	const char *kpath = c->key, *kpem = c->key_pem;
	size_t klen = c->key_pem_len;
	int rc;

	memset(p, 0, sizeof(*p));
	if (c->cert == NULL && c->cert_pem == NULL)
		return set_err(-EINVAL, "%s: no certificate", what);
	if (kpath == NULL && kpem == NULL) {
		kpath = c->cert;
		kpem = c->cert_pem;
		klen = c->cert_pem_len;
	}
	snprintf(label, sizeof(label), "%s", c->cert != NULL ? c->cert : what);
	if (kpath != NULL)
		snprintf(klabel, sizeof(klabel), "%s", kpath);
	else
		snprintf(klabel, sizeof(klabel), "%s key", what);
	if ((rc = chain_read(label, c->cert, c->cert_pem, c->cert_pem_len,
		 &p->p_x509, &p->p_chain)) < 0 ||
	    (rc = key_read(klabel, kpath, kpem, klen, &p->p_key)) < 0) {
		pair_clear(p);
		return rc;
	}
	if (!X509_check_private_key(p->p_x509, p->p_key)) {
		pair_clear(p);
		return ossl_err(klabel);
	}
	return 0;
}

/* The pairs of opts.certs on the context; their leaves feed *md. */
static int
certs_use(SSL_CTX *ssl, const weft_tls_opts_t *opts, EVP_MD_CTX *md)
{
	struct weft__tls_pair p;
	unsigned char der[EVP_MAX_MD_SIZE];
	unsigned int n;
	char what[32];
	size_t i;
	int rc;

	for (i = 0; i < opts->ncerts; i++) {
		snprintf(what, sizeof(what), "certs[%zu]", i);
		if ((rc = pair_load(&opts->certs[i], what, &p)) < 0)
			return rc;
		/* override: an ECDSA and an RSA pair each take their slot */
		if (SSL_CTX_use_cert_and_key(ssl, p.p_x509, p.p_key, p.p_chain,
			1) != 1 ||
		    SSL_CTX_check_private_key(ssl) != 1) {
			pair_clear(&p);
			return ossl_err(opts->certs[i].cert != NULL
				? opts->certs[i].cert
				: what);
		}
		if (X509_digest(p.p_x509, EVP_sha256(), der, &n))
			EVP_DigestUpdate(md, der, n);
		pair_clear(&p);
	}
	return 0;
}

/* The SNI entries' pairs, kept for the ClientHello callback. */
static int
sni_load(struct weft__tls_priv *priv, const weft_tls_opts_t *opts)
{
	struct weft__tls_sni *s;
	char what[32];
	size_t i, j;
	int rc;

	if (opts->nsni == 0)
		return 0;
	if ((priv->p_sni = calloc(opts->nsni, sizeof(*s))) == NULL)
		return set_err(-ENOMEM, "out of memory");
	for (i = 0; i < opts->nsni; i++) {
		s = &priv->p_sni[i];
		snprintf(what, sizeof(what), "sni[%zu]", i);
		if (opts->sni[i].nnames == 0)
			return set_err(-EINVAL, "%s: no names", what);
		if ((rc = pair_load(&opts->sni[i].cert, what, &s->s_pair)) < 0)
			return rc;
		priv->p_nsni++;
		s->s_names = calloc(opts->sni[i].nnames, sizeof(char *));
		if (s->s_names == NULL)
			return set_err(-ENOMEM, "out of memory");
		for (j = 0; j < opts->sni[i].nnames; j++) {
			s->s_names[j] = strdup(opts->sni[i].names[j]);
			if (s->s_names[j] == NULL)
				return set_err(-ENOMEM, "out of memory");
			s->s_nnames++;
		}
	}
	return 0;
}

/* "TLSv1.2", "TLSv1.3" or both, space or comma separated. */
static int
protocols_set(SSL_CTX *ssl, const char *list)
{
	char word[32];
	const char *p = list;
	size_t n;
	int v, min = 0, max = 0;

	if (list == NULL)
		list = p = "TLSv1.2 TLSv1.3";
	for (;;) {
		p += strspn(p, " ,");
		if ((n = strcspn(p, " ,")) == 0)
			break;
		snprintf(word, sizeof(word), "%.*s", (int)n, p);
		if (strcmp(word, "TLSv1.2") == 0)
			v = TLS1_2_VERSION;
		else if (strcmp(word, "TLSv1.3") == 0)
			v = TLS1_3_VERSION;
		else
			return set_err(WEFT_ETLS,
			    "protocols \"%s\": unknown protocol \"%s\"", list,
			    word);
		min = min == 0 || v < min ? v : min;
		max = v > max ? v : max;
		p += n;
	}
	if (min == 0)
		return set_err(WEFT_ETLS, "protocols \"%s\": none", list);
	if (!SSL_CTX_set_min_proto_version(ssl, min) ||
	    !SSL_CTX_set_max_proto_version(ssl, max))
		return ossl_err("protocols");
	return 0;
}

/* What every context gets, then ciphers and groups from opts. */
static int
defaults_set(SSL_CTX *ssl, const weft_tls_opts_t *opts)
{
	char what[160];
	uint64_t op = SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_COMPRESSION;
	int rc;

	if (opts->server)
		op |= SSL_OP_CIPHER_SERVER_PREFERENCE;
	if (opts->server && opts->no_session_tickets)
		op |= SSL_OP_NO_TICKET;
	SSL_CTX_set_options(ssl, op);
	SSL_CTX_set_mode(ssl,
	    SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_max_early_data(ssl, 0);
	SSL_CTX_set_recv_max_early_data(ssl, 0);
	if (opts->server)
		SSL_CTX_set_num_tickets(ssl, 1);
	if ((rc = protocols_set(ssl, opts->protocols)) < 0)
		return rc;
	snprintf(what, sizeof(what), "ciphers \"%s\"", opts->ciphers);
	if (opts->ciphers != NULL &&
	    !SSL_CTX_set_cipher_list(ssl, opts->ciphers))
		return ossl_err(what);
	snprintf(what, sizeof(what), "ciphersuites \"%s\"", opts->ciphersuites);
	if (opts->ciphersuites != NULL &&
	    !SSL_CTX_set_ciphersuites(ssl, opts->ciphersuites))
		return ossl_err(what);
	snprintf(what, sizeof(what), "groups \"%s\"", opts->groups);
	if (!SSL_CTX_set1_groups_list(ssl,
		opts->groups != NULL ? opts->groups : "X25519:P-256"))
		return ossl_err(what);
	return 0;
}

/* Trust: opts' CA file or directory, else (a client) the system's. */
static int
trust_set(SSL_CTX *ssl, const weft_tls_opts_t *opts)
{
	STACK_OF(X509_NAME) * names;
	const char *what = opts->ca_file != NULL ? opts->ca_file : opts->ca_dir;

	if (what != NULL &&
	    !SSL_CTX_load_verify_locations(ssl, opts->ca_file, opts->ca_dir))
		return ossl_err(what);
	if (what == NULL && !opts->server &&
	    !SSL_CTX_set_default_verify_paths(ssl))
		return ossl_err("the system trust store");
	/* A server names the CAs it accepts in its CertificateRequest. */
	if (opts->server && opts->ca_file != NULL) {
		if ((names = SSL_load_client_CA_file(opts->ca_file)) == NULL)
			return ossl_err(opts->ca_file);
		SSL_CTX_set_client_CA_list(ssl, names);
	}
	ERR_clear_error();
	return 0;
}

static int
verify_set(weft_tls_ctx_t *ctx, const weft_tls_opts_t *opts)
{
	int mode = SSL_VERIFY_NONE;

	switch (opts->verify) {
	case WEFT_TLS_VERIFY_DEFAULT:
		mode = opts->server ? SSL_VERIFY_NONE : SSL_VERIFY_PEER;
		break;
	case WEFT_TLS_VERIFY_NONE:
		break;
	case WEFT_TLS_VERIFY_OPTIONAL:
		mode = SSL_VERIFY_PEER;
		break;
	case WEFT_TLS_VERIFY_REQUIRED:
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		break;
	default:
		return set_err(-EINVAL, "verify: unknown mode %d",
		    (int)opts->verify);
	}
	if (opts->server && mode != SSL_VERIFY_NONE && opts->ca_file == NULL &&
	    opts->ca_dir == NULL)
		return set_err(-EINVAL,
		    "verifying clients needs a client CA (ca_file or ca_dir)");
	SSL_CTX_set_verify(ctx->x_ssl, mode, NULL);
	ctx->x_verify = mode != SSL_VERIFY_NONE;
	return 0;
}

/*
 * The session id context: opts' (hashed if longer than OpenSSL keeps),
 * else a digest of what makes this server what it is, so two profiles in
 * one process do not resume each other's sessions.
 */
static int
sid_ctx_set(SSL_CTX *ssl, const weft_tls_opts_t *opts, EVP_MD_CTX *md)
{
	unsigned char sid[EVP_MAX_MD_SIZE];
	unsigned int n;
	const char *s = opts->session_id_context;

	if (s != NULL && strlen(s) <= SSL_MAX_SID_CTX_LENGTH) {
		memcpy(sid, s, strlen(s));
		n = (unsigned)strlen(s);
	} else {
		if (s != NULL)
			EVP_DigestUpdate(md, s, strlen(s));
		EVP_DigestUpdate(md, &opts->verify, sizeof(opts->verify));
		if (opts->ca_file != NULL)
			EVP_DigestUpdate(md, opts->ca_file,
			    strlen(opts->ca_file) + 1);
		if (opts->ca_dir != NULL)
			EVP_DigestUpdate(md, opts->ca_dir,
			    strlen(opts->ca_dir) + 1);
		if (opts->alpn != NULL)
			EVP_DigestUpdate(md, opts->alpn, strlen(opts->alpn));
		if (!EVP_DigestFinal_ex(md, sid, &n))
			return ossl_err("session id context");
		if (n > SSL_MAX_SID_CTX_LENGTH)
			n = SSL_MAX_SID_CTX_LENGTH;
	}
	if (!SSL_CTX_set_session_id_context(ssl, sid, n))
		return ossl_err("session id context");
	return 0;
}

/* The server's certificates, SNI, session id context and callbacks. */
static int
server_setup(weft_tls_ctx_t *ctx, const weft_tls_opts_t *opts)
{
	EVP_MD_CTX *md;
	int rc;

	if (opts->ncerts == 0)
		return set_err(-EINVAL, "a server context needs a certificate");
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return ossl_err("session id context");
	}
	if ((rc = certs_use(ctx->x_ssl, opts, md)) == 0 &&
	    (rc = sid_ctx_set(ctx->x_ssl, opts, md)) == 0 &&
	    (rc = sni_load(ctx->x_priv, opts)) == 0)
		rc = weft__tls_cb_server(ctx, opts, ctx_err, sizeof(ctx_err));
	EVP_MD_CTX_free(md);
	return rc;
}

/* A client's own certificate (mTLS) and the ALPN list it offers. */
static int
client_setup(weft_tls_ctx_t *ctx, const weft_tls_opts_t *opts)
{
	struct weft__tls_pair p;
	int rc;

	if (opts->ncerts > 1)
		return set_err(-EINVAL,
		    "a client context takes one certificate");
	if (opts->ncerts == 1) {
		if ((rc = pair_load(&opts->certs[0], "certs[0]", &p)) < 0)
			return rc;
		rc = SSL_CTX_use_cert_and_key(ctx->x_ssl, p.p_x509, p.p_key,
		    p.p_chain, 1);
		pair_clear(&p);
		if (rc != 1)
			return ossl_err(opts->certs[0].cert != NULL
				? opts->certs[0].cert
				: "certs[0]");
	}
	return weft__tls_cb_client(ctx, opts, ctx_err, sizeof(ctx_err));
}

static void
ctx_destroy(weft_tls_ctx_t *ctx)
{
	struct weft__tls_priv *priv = ctx->x_priv;
	size_t i, j;

	SSL_CTX_free(ctx->x_ssl);
	for (i = 0; i < priv->p_nsni; i++) {
		for (j = 0; j < priv->p_sni[i].s_nnames; j++)
			free(priv->p_sni[i].s_names[j]);
		free(priv->p_sni[i].s_names);
		pair_clear(&priv->p_sni[i].s_pair);
	}
	free(priv->p_sni);
	free(priv->p_alpn);
	EVP_CIPHER_free(priv->p_aes);
	free(priv);
	free(ctx);
}

static int
ctx_setup(weft_tls_ctx_t *ctx, const weft_tls_opts_t *opts)
{
	int rc;

	if ((rc = defaults_set(ctx->x_ssl, opts)) < 0 ||
	    (rc = trust_set(ctx->x_ssl, opts)) < 0 ||
	    (rc = verify_set(ctx, opts)) < 0)
		return rc;
	return opts->server ? server_setup(ctx, opts) : client_setup(ctx, opts);
}

int
weft_tls_ctx_new(const weft_tls_opts_t *opts, weft_tls_ctx_t **out)
{
	static const weft_tls_opts_t client = { 0 };
	weft_tls_ctx_t *ctx;
	int rc;

	ctx_err[0] = '\0';
	if (opts == NULL)
		opts = &client;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL ||
	    (ctx->x_priv = calloc(1, sizeof(struct weft__tls_priv))) == NULL) {
		free(ctx);
		return set_err(-ENOMEM, "out of memory");
	}
	ctx->x_refs = 1;
	ctx->x_server = opts->server != 0;
	ctx->x_ssl = SSL_CTX_new(opts->server ? TLS_server_method()
					      : TLS_client_method());
	if (ctx->x_ssl == NULL)
		rc = ossl_err("SSL_CTX_new");
	else
		rc = ctx_setup(ctx, opts);
	if (rc < 0) {
		ctx_destroy(ctx);
		ERR_clear_error();
		return rc;
	}
	*out = ctx;
	return 0;
}

void
weft_tls_ctx_free(weft_tls_ctx_t *ctx)
{
	if (ctx == NULL || ctx == WEFT_SSL_DEFAULT)
		return;
	if (__atomic_sub_fetch(&ctx->x_refs, 1, __ATOMIC_ACQ_REL) == 0)
		ctx_destroy(ctx);
}

weft_tls_ctx_t *
weft_tls_ctx_ref(weft_tls_ctx_t *ctx)
{
	if (ctx != NULL && ctx != WEFT_SSL_DEFAULT)
		__atomic_add_fetch(&ctx->x_refs, 1, __ATOMIC_RELAXED);
	return ctx;
}

void *
weft_tls_ctx_ossl(weft_tls_ctx_t *ctx)
{
	return ctx->x_ssl;
}

void
weft__tls_error_set(const char *text)
{
	snprintf(ctx_err, sizeof(ctx_err), "%s", text);
}

const char *
weft__tls_error_get(void)
{
	return ctx_err;
}

weft_tls_ctx_t *
weft__tls_ctx_default(int *err)
{
	weft_tls_ctx_t *ctx;
	int rc = 0;

	pthread_mutex_lock(&default_lock);
	if (default_ctx == NULL)
		rc = weft_tls_ctx_new(NULL, &default_ctx);
	ctx = default_ctx;
	pthread_mutex_unlock(&default_lock);
	if (err != NULL)
		*err = rc;
	return ctx;
}

/* 1 if host is an IPv4 or IPv6 literal. */
static int
is_ip(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

/* A client's SNI and the name or address its peer's certificate must
 * have. */
static int
client_host(weft_tls_ctx_t *ctx, SSL *ssl, const char *host)
{
	if (host == NULL || host[0] == '\0')
		return 1;
	if (is_ip(host))
		return !ctx->x_verify ||
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	if (!SSL_set_tlsext_host_name(ssl, host))
		return 0;
	if (!ctx->x_verify)
		return 1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set1_host(ssl, host);
}

SSL *
weft__tls_ssl_new(weft_tls_ctx_t *ctx, const char *host, char *err,
    size_t errsize)
{
	SSL *ssl;

	if ((ssl = SSL_new(ctx->x_ssl)) == NULL) {
		ossl_text(err, errsize);
		return NULL;
	}
	if (ctx->x_server) {
		SSL_set_accept_state(ssl);
		return ssl;
	}
	SSL_set_connect_state(ssl);
	if (!client_host(ctx, ssl, host)) {
		ossl_text(err, errsize);
		snprintf(err + strlen(err), errsize - strlen(err), " (%s)",
		    host);
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

int
weft__tls_reason(SSL *ssl, char *buf, size_t size)
{
	unsigned long e;
	long v = SSL_get_verify_result(ssl);
	const char *r;

	if (v != X509_V_OK && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER)) {
		snprintf(buf, size, "certificate verify failed: %s",
		    X509_verify_cert_error_string(v));
		ERR_clear_error();
		return WEFT_ETLSVERIFY;
	}
	if ((e = ERR_get_error()) == 0)
		snprintf(buf, size, "handshake failed");
	else if ((r = ERR_reason_error_string(e)) != NULL)
		snprintf(buf, size, "%s", r);
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return WEFT_ETLS;
}
