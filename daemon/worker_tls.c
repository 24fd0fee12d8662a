/*
 * A generation's TLS contexts (worker_tls.h).
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/errors.h>
#include <weft/tls.h>

#include "util.h"
#include "worker_tls.h"

struct worker_tls {
	weft_tls_ctx_t **ctx; /* per profile */
	size_t n;
};

/* v joined by sep, malloc'd; NULL for none. */
static char *
join(char *const *v, size_t n, const char *sep)
{
	size_t i, len = 1;
	char *s;

	if (n == 0)
		return NULL;
	for (i = 0; i < n; i++)
		len += strlen(v[i]) + strlen(sep);
	s = xcalloc(1, len);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, sep);
		strcat(s, v[i]);
	}
	return s;
}

static void
pem_cert(weft_tls_cert_t *out, const struct conf_pem *pem)
{
	memset(out, 0, sizeof(*out));
	out->cert_pem = pem->cert;
	out->cert_pem_len = pem->cert_len;
	out->key_pem = pem->key;
	out->key_pem_len = pem->key_len;
}

static weft_tls_verify_t
verify_of(int v)
{
	if (v == CONF_VERIFY_REQUIRED)
		return WEFT_TLS_VERIFY_REQUIRED;
	if (v == CONF_VERIFY_OPTIONAL)
		return WEFT_TLS_VERIFY_OPTIONAL;
	return WEFT_TLS_VERIFY_NONE;
}

/* Profile t's context; 0, or a libweft error code. */
static int
profile_ctx(const struct conf_tls *t, const weft_tls_ticket_key_t *keys,
    weft_tls_ctx_t **out)
{
	weft_tls_opts_t o;
	weft_tls_cert_t cert;
	weft_tls_sni_t *sni;
	char sid[64];
	size_t i;
	int rc;

	memset(&o, 0, sizeof(o));
	o.server = 1;
	pem_cert(&cert, &t->pem);
	o.certs = &cert;
	o.ncerts = 1;
	sni = xcalloc(t->nsni + 1, sizeof(*sni));
	for (i = 0; i < t->nsni; i++) {
		sni[i].names = (const char *const *)t->sni[i].names;
		sni[i].nnames = t->sni[i].nnames;
		pem_cert(&sni[i].cert, &t->sni[i].pem);
	}
	o.sni = sni;
	o.nsni = t->nsni;
	o.ca_file = t->client_ca;
	o.verify = verify_of(t->verify_client);
	o.alpn = join(t->alpn, t->nalpn, ",");
	o.protocols = join(t->protocols, t->nprotocols, " ");
	o.ciphers = t->ciphers;
	o.ciphersuites = t->ciphersuites;
	o.no_session_tickets = !t->session_tickets;
	o.ticket_keys = keys;
	/* The same in every worker and generation, and per profile: a
	 * session resumes on any worker, never under another profile. */
	snprintf(sid, sizeof(sid), "weftd/%s", t->name);
	o.session_id_context = sid;
	rc = weft_tls_ctx_new(&o, out);
	free((char *)o.alpn);
	free((char *)o.protocols);
	free(sni);
	return rc;
}

int
worker_tls_new(const struct conf *c, const weft_tls_ticket_key_t *keys,
    struct worker_tls **out, char **cause)
{
	struct worker_tls *wt = xcalloc(1, sizeof(*wt));
	const struct conf_tls *t;
	char *all = NULL, *s;
	size_t i;
	int rc;

	wt->n = c->ntls;
	wt->ctx = xcalloc(c->ntls + 1, sizeof(*wt->ctx));
	for (i = 0; i < c->ntls; i++) {
		t = &c->tls[i];
		if ((rc = profile_ctx(t, keys, &wt->ctx[i])) == 0)
			continue;
		wt->ctx[i] = NULL;
		s = NULL;
		cause_set(&s, "%s%s%s: tls profile \"%s\": %s",
		    all != NULL ? all : "", all != NULL ? "\n" : "", t->where,
		    t->name,
		    rc == WEFT_ETLS && weft_tls_error(NULL)[0] != '\0'
			? weft_tls_error(NULL)
			: weft_strerror(rc));
		free(all);
		all = s;
	}
	if (all == NULL) {
		*out = wt;
		return 0;
	}
	worker_tls_free(wt);
	if (cause != NULL)
		*cause = all;
	else
		free(all);
	return -1;
}

weft_tls_ctx_t *
worker_tls_ctx(const struct worker_tls *wt, int i)
{
	if (wt == NULL || i < 0 || (size_t)i >= wt->n)
		return NULL;
	return wt->ctx[i];
}

void
worker_tls_free(struct worker_tls *wt)
{
	size_t i;

	if (wt == NULL)
		return;
	for (i = 0; i < wt->n; i++)
		if (wt->ctx[i] != NULL)
			weft_tls_ctx_free(wt->ctx[i]);
	free(wt->ctx);
	free(wt);
}
