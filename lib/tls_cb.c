/*
 * The OpenSSL callbacks of a context, run inside handshakes: the
 * certificate chosen by the ClientHello's SNI name, the server's ALPN
 * choice, and session tickets made and opened with opts.ticket_keys.
 * They read tls_ctx.c's struct weft__tls_priv (tls_ctx_int.h).
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tls_ctx_int.h"

/* The SSL_CTX ex_data slot holding a context's weft__tls_priv. */
static int priv_index = -1;
static pthread_once_t priv_once = PTHREAD_ONCE_INIT;

static void
priv_index_init(void)
{
	priv_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static struct weft__tls_priv *
priv_of(SSL *ssl)
{
	return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), priv_index);
}

/* 1 if pattern (an exact name or "*.suffix") matches the n bytes of
 * name; a wildcard stands for one whole label, as in certificates. */
static int
name_match(const char *pattern, const unsigned char *name, size_t n)
{
	size_t plen = strlen(pattern);

	if (pattern[0] != '*')
		return plen == n &&
		    strncasecmp(pattern, (const char *)name, n) == 0;
	if (pattern[1] != '.' || n <= plen - 1)
		return 0;
	pattern++;
	plen--;
	if (memchr(name, '.', n - plen) != NULL)
		return 0;
	return strncasecmp(pattern, (const char *)name + n - plen, plen) == 0;
}

/*
 * The host name of the ClientHello's server_name extension (RFC 6066,
 * section 3: a list length, then a type and a length per entry; only
 * host_name exists).  0 if there is none we can read: OpenSSL itself
 * rejects a malformed extension later.
 */
static int
sni_name(SSL *ssl, const unsigned char **name, size_t *n)
{
	const unsigned char *p;
	size_t len;

	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
		&len) ||
	    len < 5 || (size_t)(p[0] << 8 | p[1]) != len - 2 ||
	    p[2] != TLSEXT_NAMETYPE_host_name)
		return 0;
	*n = (size_t)(p[3] << 8 | p[4]);
	*name = p + 5;
	return *n > 0 && *n <= len - 5;
}

/* The SNI entry for name: an exact name first, then a wildcard. */
static const struct weft__tls_sni *
sni_find(const struct weft__tls_priv *priv, const unsigned char *name, size_t n)
{
	size_t i, j;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < priv->p_nsni; i++)
			for (j = 0; j < priv->p_sni[i].s_nnames; j++) {
				const char *pat = priv->p_sni[i].s_names[j];

				if ((pat[0] == '*') == pass &&
				    name_match(pat, name, n))
					return &priv->p_sni[i];
			}
	return NULL;
}

/*
 * Before OpenSSL picks a certificate: an SNI name with an entry of its
 * own replaces the context's certificates for this connection only.
 */
static int
on_client_hello(SSL *ssl, int *alert, void *arg)
{
	const struct weft__tls_priv *priv = arg;
	const struct weft__tls_sni *s;
	const unsigned char *name;
	size_t n;

	if (!sni_name(ssl, &name, &n) || (s = sni_find(priv, name, n)) == NULL)
		return SSL_CLIENT_HELLO_SUCCESS;
	SSL_certs_clear(ssl);
	if (SSL_use_cert_and_key(ssl, s->s_pair.p_x509, s->s_pair.p_key,
		s->s_pair.p_chain, 1) != 1) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* The server's first protocol the client offers too; none is fatal. */
static int
on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct weft__tls_priv *priv = arg;
	unsigned char *sel;

	(void)ssl;
	if (SSL_select_next_proto(&sel, outlen, priv->p_alpn,
		(unsigned)priv->p_alpnlen, in,
		inlen) != OPENSSL_NPN_NEGOTIATED) {
		/* 3.0 sends no_application_protocol for this */
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* The HMAC-SHA256 and AES-256-CBC keys of k on OpenSSL's contexts. */
static int
ticket_keys_set(const struct weft__tls_priv *priv,
    const weft_tls_ticket_key_t *k, unsigned char *iv, EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(hctx, params))
		return 0;
	if (enc)
		return EVP_EncryptInit_ex(cctx, priv->p_aes, NULL, k->aes, iv);
	return EVP_DecryptInit_ex(cctx, priv->p_aes, NULL, k->aes, iv);
}

/*
 * A ticket is made with the current key and opened with whichever of the
 * three has its name; one opened with another key than the current is
 * renewed (2).  The key is copied first: its owner may rotate it in
 * place (weftd's shared memory).
 */
static int
on_ticket(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct weft__tls_priv *priv = priv_of(ssl);
	weft_tls_ticket_key_t k;
	int i;

	if (enc) {
		k = priv->p_keys[WEFT_TLS_TICKET_CUR];
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(priv->p_aes)) != 1)
			return -1;
		memcpy(name, k.name, sizeof(k.name));
		return ticket_keys_set(priv, &k, iv, cctx, hctx, 1) ? 1 : -1;
	}
	for (i = WEFT_TLS_TICKET_PREV; i <= WEFT_TLS_TICKET_NEXT; i++) {
		k = priv->p_keys[i];
		if (memcmp(name, k.name, sizeof(k.name)) == 0)
			break;
	}
	if (i > WEFT_TLS_TICKET_NEXT)
		return 0; /* unknown: a full handshake */
	if (!ticket_keys_set(priv, &k, iv, cctx, hctx, 0))
		return -1;
	return i == WEFT_TLS_TICKET_CUR ? 1 : 2;
}

/* "h2,http/1.1" as ALPN's wire format: each name after its length. */
static int
alpn_wire(const char *list, unsigned char **out, size_t *outlen, char *err,
    size_t errsize)
{
	unsigned char *w;
	const char *p = list;
	size_t n, len = 0;

	if ((w = malloc(strlen(list) + 1)) == NULL) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		p += strspn(p, " ,");
		if ((n = strcspn(p, " ,")) == 0)
			break;
		if (n > 255) {
			free(w);
			snprintf(err, errsize,
			    "alpn \"%s\": a name over 255 "
			    "bytes",
			    list);
			return -EINVAL;
		}
		w[len++] = (unsigned char)n;
		memcpy(w + len, p, n);
		len += n;
		p += n;
	}
	if (len == 0) {
		free(w);
		snprintf(err, errsize, "alpn \"%s\": no protocol", list);
		return -EINVAL;
	}
	*out = w;
	*outlen = len;
	return 0;
}

int
weft__tls_cb_server(weft_tls_ctx_t *ctx, const weft_tls_opts_t *opts, char *err,
    size_t errsize)
{
	struct weft__tls_priv *priv = ctx->x_priv;
	const char *r;
	int rc;

	if (priv->p_nsni > 0)
		SSL_CTX_set_client_hello_cb(ctx->x_ssl, on_client_hello, priv);
	if (opts->alpn != NULL) {
		if ((rc = alpn_wire(opts->alpn, &priv->p_alpn, &priv->p_alpnlen,
			 err, errsize)) < 0)
			return rc;
		SSL_CTX_set_alpn_select_cb(ctx->x_ssl, on_alpn, priv);
	}
	if (opts->ticket_keys == NULL || opts->no_session_tickets)
		return 0;
	pthread_once(&priv_once, priv_index_init);
	priv->p_keys = opts->ticket_keys;
	if (priv_index < 0 ||
	    (priv->p_aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) ==
		NULL ||
	    !SSL_CTX_set_ex_data(ctx->x_ssl, priv_index, priv) ||
	    !SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx->x_ssl, on_ticket)) {
		r = ERR_reason_error_string(ERR_peek_last_error());
		snprintf(err, errsize, "ticket keys: %s",
		    r != NULL ? r : "cannot set up");
		ERR_clear_error();
		return WEFT_ETLS;
	}
	return 0;
}

int
weft__tls_cb_client(weft_tls_ctx_t *ctx, const weft_tls_opts_t *opts, char *err,
    size_t errsize)
{
	unsigned char *w;
	size_t len;
	int rc;

	if (opts->alpn == NULL)
		return 0;
	if ((rc = alpn_wire(opts->alpn, &w, &len, err, errsize)) < 0)
		return rc;
	/* 0 is success here */
	rc = SSL_CTX_set_alpn_protos(ctx->x_ssl, w, (unsigned)len);
	free(w);
	if (rc != 0) {
		snprintf(err, errsize, "alpn \"%s\": out of memory",
		    opts->alpn);
		return -ENOMEM;
	}
	return 0;
}
