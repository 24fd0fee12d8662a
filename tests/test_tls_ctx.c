/*
 * TLS contexts (lib/tls_ctx.c): made from files and from PEM in memory,
 * their options and defaults, the errors and their reasons, and the SSL
 * objects weft__tls_ssl_new makes for a client or a server.
 */
#include "harness.h"
#include "tls_util.h"

/* ---- Contexts and their options ---------------------------------------- */

WT_TEST(server_from_files)
{
	weft_tls_ctx_t *s = server("server", NULL), *c = client(NULL);
	struct hs h;

	assert_non_null(weft_tls_ctx_ossl(s));
	assert_int_equal(s->x_server, 1);
	assert_int_equal(c->x_server, 0);
	assert_int_equal(c->x_verify, 1);
	hs_ok(&h, c, "localhost", s, NULL);
	assert_string_equal(peer_cn(h.c), "localhost");
	hs_free(&h);
	weft_tls_ctx_free(c);
	weft_tls_ctx_free(s);
}

WT_TEST(server_from_pem_memory)
{
	weft_tls_cert_t pair = { 0 };
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *s, *c;
	char *crt, *key;
	struct hs h;

	crt = slurp("server-rsa.crt", &pair.cert_pem_len);
	key = slurp("server-rsa.key", &pair.key_pem_len);
	pair.cert_pem = crt;
	pair.key_pem = key;
	o.certs = &pair;
	o.ncerts = 1;
	s = server("unused", &o);
	/* the context keeps no pointer into the caller's bytes */
	memset(crt, 0, 8192);
	memset(key, 0, 8192);
	free(crt);
	free(key);
	c = client(NULL);
	hs_ok(&h, c, "localhost", s, NULL);
	assert_int_equal(EVP_PKEY_get_base_id(
			     X509_get0_pubkey(SSL_get0_peer_certificate(h.c))),
	    EVP_PKEY_RSA);
	hs_free(&h);
	weft_tls_ctx_free(c);
	weft_tls_ctx_free(s);
}

WT_TEST(ecdsa_and_rsa_in_one_context)
{
	weft_tls_cert_t pairs[2] = { { 0 } };
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *s, *c, *rsa;
	weft_tls_opts_t ro = { 0 };
	struct hs h;

	pairs[0].cert = cert("server.crt");
	pairs[0].key = cert("server.key");
	pairs[1].cert = cert("server-rsa.crt");
	pairs[1].key = cert("server-rsa.key");
	o.certs = pairs;
	o.ncerts = 2;
	s = server("unused", &o);
	c = client(NULL);
	rsa = client(&ro);
	assert_int_equal(SSL_CTX_set1_sigalgs_list(weft_tls_ctx_ossl(rsa),
			     "rsa_pss_rsae_sha256:RSA+SHA256"),
	    1);
	hs_ok(&h, c, "localhost", s, NULL);
	assert_int_equal(EVP_PKEY_get_base_id(
			     X509_get0_pubkey(SSL_get0_peer_certificate(h.c))),
	    EVP_PKEY_EC);
	hs_free(&h);
	hs_ok(&h, rsa, "localhost", s, NULL);
	assert_int_equal(EVP_PKEY_get_base_id(
			     X509_get0_pubkey(SSL_get0_peer_certificate(h.c))),
	    EVP_PKEY_RSA);
	hs_free(&h);
	weft_tls_ctx_free(rsa);
	weft_tls_ctx_free(c);
	weft_tls_ctx_free(s);
}

/* weft_tls_ctx_new fails with code, and a reason containing want1/2. */
static void
ctx_fails(const weft_tls_opts_t *o, int code, const char *want1,
    const char *want2)
{
	weft_tls_ctx_t *ctx = NULL;
	int rc = weft_tls_ctx_new(o, &ctx);
	const char *why = weft_tls_error(NULL);

	printf("reason: %s\n", why);
	assert_int_equal(rc, code);
	assert_null(ctx);
	if (strstr(why, want1) == NULL ||
	    (want2 != NULL && strstr(why, want2) == NULL))
		fail_msg("reason \"%s\" lacks \"%s\" / \"%s\"", why, want1,
		    want2 != NULL ? want2 : "");
	assert_int_equal(ERR_peek_error(), 0);
}

WT_TEST(file_errors)
{
	weft_tls_cert_t c = { 0 };
	weft_tls_opts_t o = { 0 };
	FILE *f;

	o.server = 1;
	o.certs = &c;
	o.ncerts = 1;
	c.cert = "/nonexistent/site.crt";
	c.key = cert("server.key");
	ctx_fails(&o, WEFT_ETLS, "/nonexistent/site.crt: ", "no such file");
	c.cert = cert("server.crt");
	c.key = "/nonexistent/site.key";
	ctx_fails(&o, WEFT_ETLS, "/nonexistent/site.key: ", "no such file");
	assert_non_null(f = fopen(cert("garbage.pem"), "w"));
	fputs("this is not PEM\n", f);
	fclose(f);
	c.cert = cert("garbage.pem");
	c.key = cert("server.key");
	ctx_fails(&o, WEFT_ETLS, cert("garbage.pem"), "no start line");
	c.cert = cert("server.crt");
	c.key = cert("garbage.pem");
	ctx_fails(&o, WEFT_ETLS, cert("garbage.pem"), ": ");
	/* the chain file alone: its key is looked for in it, and is not */
	c.key = NULL;
	ctx_fails(&o, WEFT_ETLS, cert("server.crt"), ": ");
	/* a key that is not the certificate's */
	c.key = cert("other.key");
	ctx_fails(&o, WEFT_ETLS, cert("other.key"), "mismatch");
	/* a success clears the reason */
	c.key = cert("server.key");
	weft_tls_ctx_free(ctx_ok(&o));
}

WT_TEST(pem_memory_errors)
{
	weft_tls_cert_t c = { 0 };
	weft_tls_opts_t o = { 0 };
	char *crt, *key;

	crt = slurp("server.crt", &c.cert_pem_len);
	key = slurp("server.key", &c.key_pem_len);
	o.server = 1;
	o.certs = &c;
	o.ncerts = 1;
	c.cert_pem = "garbage";
	c.cert_pem_len = 7;
	c.key_pem = key;
	ctx_fails(&o, WEFT_ETLS, "certs[0]: ", "no start line");
	c.cert_pem = crt;
	c.cert_pem_len = strlen(crt);
	c.key_pem = "garbage";
	c.key_pem_len = 7;
	ctx_fails(&o, WEFT_ETLS, "certs[0] key: ", NULL);
	/* the same bytes in one buffer: the key is found after the chain */
	memcpy(crt + c.cert_pem_len, key, c.key_pem_len = strlen(key));
	c.cert_pem_len += c.key_pem_len;
	c.key_pem = NULL;
	weft_tls_ctx_free(ctx_ok(&o));
	free(crt);
	free(key);
}

WT_TEST(option_errors)
{
	weft_tls_cert_t c = { 0 };
	weft_tls_opts_t o = { 0 };

	o.server = 1;
	ctx_fails(&o, -EINVAL, "certificate", NULL);
	c.cert = cert("server.crt");
	c.key = cert("server.key");
	o.certs = &c;
	o.ncerts = 1;
	o.ciphers = "NO-SUCH-CIPHER";
	ctx_fails(&o, WEFT_ETLS, "ciphers \"NO-SUCH-CIPHER\": ", "no cipher");
	o.ciphers = NULL;
	o.ciphersuites = "TLS_NO_SUCH_SUITE";
	ctx_fails(&o, WEFT_ETLS, "ciphersuites \"TLS_NO_SUCH_SUITE\"", NULL);
	o.ciphersuites = NULL;
	o.protocols = "TLSv1.1";
	ctx_fails(&o, WEFT_ETLS, "protocols \"TLSv1.1\"", "unknown");
	o.protocols = " , ";
	ctx_fails(&o, WEFT_ETLS, "protocols", "none");
	o.protocols = NULL;
	o.groups = "no-such-group";
	ctx_fails(&o, WEFT_ETLS, "groups \"no-such-group\"", NULL);
	o.groups = NULL;
	o.verify = WEFT_TLS_VERIFY_REQUIRED;
	ctx_fails(&o, -EINVAL, "client CA", NULL);
	o.ca_file = "/nonexistent/ca.crt";
	ctx_fails(&o, WEFT_ETLS, "/nonexistent/ca.crt: ", NULL);
	o.ca_file = NULL;
	o.verify = WEFT_TLS_VERIFY_NONE;
	o.alpn = " ,";
	ctx_fails(&o, -EINVAL, "alpn", NULL);
	o.alpn = NULL;
	o.server = 0;
	o.ncerts = 2;
	ctx_fails(&o, -EINVAL, "one certificate", NULL);
}

WT_TEST(protocols_and_defaults)
{
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *s, *c;
	SSL_CTX *x;

	o.protocols = "TLSv1.3";
	s = server("server", &o);
	x = weft_tls_ctx_ossl(s);
	assert_int_equal(SSL_CTX_get_min_proto_version(x), TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(x), TLS1_3_VERSION);
	assert_true(SSL_CTX_get_options(x) & SSL_OP_CIPHER_SERVER_PREFERENCE);
	assert_false(SSL_CTX_get_options(x) & SSL_OP_NO_TICKET);
	assert_int_equal(SSL_CTX_get_num_tickets(x), 1);
	assert_int_equal(SSL_CTX_get_max_early_data(x), 0);
	assert_int_equal(SSL_CTX_get_verify_mode(x), SSL_VERIFY_NONE);
	weft_tls_ctx_free(s);

	c = client(NULL);
	x = weft_tls_ctx_ossl(c);
	assert_int_equal(SSL_CTX_get_min_proto_version(x), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(x), TLS1_3_VERSION);
	assert_true(SSL_CTX_get_options(x) & SSL_OP_NO_RENEGOTIATION);
	assert_true(SSL_CTX_get_options(x) & SSL_OP_IGNORE_UNEXPECTED_EOF);
	assert_true(SSL_CTX_get_mode(x) & SSL_MODE_RELEASE_BUFFERS);
	assert_true(SSL_CTX_get_mode(x) & SSL_MODE_ENABLE_PARTIAL_WRITE);
	assert_int_equal(SSL_CTX_get_verify_mode(x), SSL_VERIFY_PEER);
	weft_tls_ctx_free(c);

	memset(&o, 0, sizeof(o));
	o.protocols = "TLSv1.3, TLSv1.2";
	o.no_session_tickets = 1;
	s = server("server", &o);
	x = weft_tls_ctx_ossl(s);
	assert_int_equal(SSL_CTX_get_min_proto_version(x), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(x), TLS1_3_VERSION);
	assert_true(SSL_CTX_get_options(x) & SSL_OP_NO_TICKET);
	weft_tls_ctx_free(s);
}

WT_TEST(refcount)
{
	weft_tls_ctx_t *c = client(NULL);

	assert_ptr_equal(weft_tls_ctx_ref(c), c);
	assert_int_equal(c->x_refs, 2);
	weft_tls_ctx_free(c);
	assert_int_equal(c->x_refs, 1);
	weft_tls_ctx_free(c);
	weft_tls_ctx_free(NULL);
}

/* ---- SSL objects -------------------------------------------------------- */

/* What a client SSL for host sends as SNI (NULL: none) and checks. */
static void
client_ssl(weft_tls_ctx_t *c, const char *host, const char *sni,
    const char *name, const char *ip)
{
	char err[128];
	SSL *ssl = weft__tls_ssl_new(c, host, err, sizeof(err));
	X509_VERIFY_PARAM *p;
	char *got;

	assert_non_null(ssl);
	assert_false(SSL_is_server(ssl));
	p = SSL_get0_param(ssl);
	if (sni == NULL)
		assert_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	else
		assert_string_equal(SSL_get_servername(ssl,
					TLSEXT_NAMETYPE_host_name),
		    sni);
	if (name == NULL)
		assert_null(X509_VERIFY_PARAM_get0_host(p, 0));
	else
		assert_string_equal(X509_VERIFY_PARAM_get0_host(p, 0), name);
	got = X509_VERIFY_PARAM_get1_ip_asc(p);
	if (ip == NULL)
		assert_null(got);
	else
		assert_string_equal(got, ip);
	OPENSSL_free(got);
	SSL_free(ssl);
}

WT_TEST(ssl_new_sni)
{
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *c = client(NULL), *nv, *s;
	char err[128];
	SSL *ssl;

	client_ssl(c, "example.com", "example.com", "example.com", NULL);
	client_ssl(c, "127.0.0.1", NULL, NULL, "127.0.0.1");
	client_ssl(c, "::1", NULL, NULL, "0:0:0:0:0:0:0:1");
	client_ssl(c, "", NULL, NULL, NULL);
	client_ssl(c, NULL, NULL, NULL, NULL);
	o.verify = WEFT_TLS_VERIFY_NONE;
	nv = client(&o);
	assert_int_equal(nv->x_verify, 0);
	client_ssl(nv, "example.com", "example.com", NULL, NULL);
	client_ssl(nv, "10.1.2.3", NULL, NULL, NULL);
	s = server("server", NULL);
	assert_non_null(ssl = weft__tls_ssl_new(s, "ignored", err, 128));
	assert_true(SSL_is_server(ssl));
	SSL_free(ssl);
	weft_tls_ctx_free(s);
	weft_tls_ctx_free(nv);
	weft_tls_ctx_free(c);
}

int
main(int argc, char **argv)
{
	tls_util_setup();
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
