/*
 * TLS handshakes on weft's contexts (lib/tls_ctx.c, lib/tls_cb.c), over
 * memory BIOs (tests/tls_util.h): verification and its reasons, ALPN,
 * SNI, client certificates, tickets from shared keys, the ssl=True
 * context.
 */
#include "harness.h"
#include "tls_util.h"

/* ---- Handshakes -------------------------------------------------------- */

WT_TEST(verify_by_ip)
{
	weft_tls_ctx_t *s = server("server", NULL), *c = client(NULL);
	struct hs h;

	hs_ok(&h, c, "127.0.0.1", s, NULL);
	hs_free(&h);
	hs_ok(&h, c, "::1", s, NULL);
	hs_free(&h);
	assert_string_equal(hs_client_fails(c, "10.0.0.1", s, WEFT_ETLSVERIFY),
	    "certificate verify failed: IP address mismatch");
	weft_tls_ctx_free(c);
	weft_tls_ctx_free(s);
}

WT_TEST(verify_failures)
{
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *s = server("server", NULL), *c = client(NULL);
	weft_tls_ctx_t *exp = server("expired", NULL), *c2, *nv;
	struct hs h;

	o.ca_file = cert("ca2.crt");
	c2 = client(&o);
	assert_string_equal(hs_client_fails(c2, "localhost", s,
				WEFT_ETLSVERIFY),
	    "certificate verify failed: unable to get local issuer "
	    "certificate");
	assert_string_equal(hs_client_fails(c, "other.example", s,
				WEFT_ETLSVERIFY),
	    "certificate verify failed: hostname mismatch");
	assert_string_equal(hs_client_fails(c, "localhost", exp,
				WEFT_ETLSVERIFY),
	    "certificate verify failed: certificate has expired");
	/* the same peers, without verification */
	memset(&o, 0, sizeof(o));
	o.verify = WEFT_TLS_VERIFY_NONE;
	o.ca_file = cert("ca2.crt");
	nv = client(&o);
	hs_run(&h, nv, "other.example", exp, NULL);
	assert_int_equal(h.crc, 0);
	assert_int_equal(h.src, 0);
	hs_free(&h);
	weft_tls_ctx_free(nv);
	weft_tls_ctx_free(c2);
	weft_tls_ctx_free(exp);
	weft_tls_ctx_free(c);
	weft_tls_ctx_free(s);
}

WT_TEST(alpn)
{
	weft_tls_opts_t so = { 0 }, co = { 0 };
	weft_tls_ctx_t *s, *c, *none, *plain;
	struct hs h;

	so.alpn = "h2,http/1.1";
	s = server("server", &so);
	co.alpn = "http/1.1, h2";
	c = client(&co);
	/* the server's preference wins */
	assert_string_equal(hs_ok(&h, c, "localhost", s, NULL), "h2");
	hs_free(&h);
	memset(&co, 0, sizeof(co));
	co.alpn = "spdy/3";
	none = client(&co);
	hs_run(&h, none, "localhost", s, NULL);
	assert_int_equal(h.src, WEFT_ETLS);
	assert_int_equal(h.crc, WEFT_ETLS);
	printf("server: %s; client: %s\n", h.swhy, h.cwhy);
	assert_non_null(strstr(h.cwhy, "no application protocol"));
	hs_free(&h);
	/* a client offering nothing gets nothing, and connects */
	plain = client(NULL);
	assert_string_equal(hs_ok(&h, plain, "localhost", s, NULL), "");
	hs_free(&h);
	weft_tls_ctx_free(plain);
	weft_tls_ctx_free(none);
	weft_tls_ctx_free(c);
	weft_tls_ctx_free(s);
}

WT_TEST(sni)
{
	const char *names[] = { "other.name", "SNI.example", "*.wild.test" };
	weft_tls_sni_t sni = { 0 };
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *s, *c, *nv;
	struct hs h;

	sni.names = names;
	sni.nnames = 3;
	sni.cert.cert = cert("sni.crt");
	sni.cert.key = cert("sni.key");
	o.sni = &sni;
	o.nsni = 1;
	s = server("server", &o);
	c = client(NULL);
	hs_ok(&h, c, "sni.example", s, NULL);
	assert_string_equal(peer_cn(h.c), "sni.example");
	assert_string_equal(SSL_get_servername(h.s, TLSEXT_NAMETYPE_host_name),
	    "sni.example");
	hs_free(&h);
	hs_ok(&h, c, "localhost", s, NULL);
	assert_string_equal(peer_cn(h.c), "localhost");
	hs_free(&h);
	memset(&o, 0, sizeof(o));
	o.verify = WEFT_TLS_VERIFY_NONE;
	nv = client(&o);
	hs_ok(&h, nv, "a.wild.test", s, NULL);
	assert_string_equal(peer_cn(h.c), "sni.example");
	hs_free(&h);
	hs_ok(&h, nv, "b.a.wild.test", s, NULL);
	assert_string_equal(peer_cn(h.c), "localhost");
	hs_free(&h);
	hs_ok(&h, nv, "wild.test", s, NULL);
	assert_string_equal(peer_cn(h.c), "localhost");
	hs_free(&h);
	hs_ok(&h, nv, "127.0.0.1", s, NULL); /* no SNI at all */
	assert_string_equal(peer_cn(h.c), "localhost");
	hs_free(&h);
	weft_tls_ctx_free(nv);
	weft_tls_ctx_free(c);
	weft_tls_ctx_free(s);
}

WT_TEST(mtls)
{
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *req, *opt, *anon = client(NULL);
	weft_tls_ctx_t *good = client_with("client"), *rogue;
	struct hs h;

	rogue = client_with("rogue");
	o.ca_file = cert("ca.crt");
	o.verify = WEFT_TLS_VERIFY_REQUIRED;
	req = server("server", &o);
	hs_ok(&h, good, "localhost", req, NULL);
	assert_string_equal(peer_cn(h.s), "weft test client");
	hs_free(&h);
	/* no certificate: the client is done first (TLS 1.3), the server
	 * refuses */
	hs_run(&h, anon, "localhost", req, NULL);
	assert_int_equal(h.src, WEFT_ETLS);
	printf("no client certificate: %s\n", h.swhy);
	assert_non_null(strstr(h.swhy, "certificate"));
	hs_free(&h);
	hs_run(&h, rogue, "localhost", req, NULL);
	assert_int_equal(h.src, WEFT_ETLSVERIFY);
	assert_string_equal(h.swhy,
	    "certificate verify failed: self-signed "
	    "certificate");
	hs_free(&h);
	memset(&o, 0, sizeof(o));
	o.ca_file = cert("ca.crt");
	o.verify = WEFT_TLS_VERIFY_OPTIONAL;
	opt = server("server", &o);
	hs_ok(&h, anon, "localhost", opt, NULL);
	assert_null(SSL_get0_peer_certificate(h.s));
	hs_free(&h);
	hs_ok(&h, good, "localhost", opt, NULL);
	assert_non_null(SSL_get0_peer_certificate(h.s));
	hs_free(&h);
	weft_tls_ctx_free(opt);
	weft_tls_ctx_free(req);
	weft_tls_ctx_free(rogue);
	weft_tls_ctx_free(good);
	weft_tls_ctx_free(anon);
}

/* A session from a full handshake with s, made with keys[CUR]. */
static SSL_SESSION *
session_from(weft_tls_ctx_t *c, weft_tls_ctx_t *s)
{
	struct hs h;
	SSL_SESSION *sess;

	hs_ok(&h, c, "localhost", s, NULL);
	assert_false(SSL_session_reused(h.s));
	sess = SSL_get1_session(h.c);
	hs_free(&h);
	/* still resumable once the connection is gone */
	assert_true(SSL_SESSION_is_resumable(sess));
	return sess;
}

/* 1 if a handshake with sess resumed on s. */
static int
resumes(weft_tls_ctx_t *c, weft_tls_ctx_t *s, SSL_SESSION *sess)
{
	struct hs h;
	int reused;

	hs_ok(&h, c, "localhost", s, sess);
	reused = SSL_session_reused(h.s);
	assert_int_equal(SSL_session_reused(h.c), reused);
	hs_free(&h);
	return reused;
}

WT_TEST(ticket_keys)
{
	weft_tls_ticket_key_t keys[3], other[3];
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *a, *b, *x, *y, *c = client(NULL);
	SSL_SESSION *sess;
	const unsigned char *tick;
	size_t len;

	assert_int_equal(RAND_bytes((unsigned char *)keys, sizeof(keys)), 1);
	assert_int_equal(RAND_bytes((unsigned char *)other, sizeof(other)), 1);
	o.ticket_keys = keys;
	a = server("server", &o);
	memset(&o, 0, sizeof(o));
	o.ticket_keys = keys;
	b = server("server", &o);
	sess = session_from(c, a);
	/* the ticket starts with the current key's name */
	SSL_SESSION_get0_ticket(sess, &tick, &len);
	assert_true(len > 16);
	assert_memory_equal(tick, keys[WEFT_TLS_TICKET_CUR].name, 16);
	/* another context with the same keys and certificates resumes it */
	assert_true(resumes(c, b, sess));
	/* not one with other keys, nor one with another id context */
	memset(&o, 0, sizeof(o));
	o.ticket_keys = other;
	x = server("server", &o);
	assert_false(resumes(c, x, sess));
	memset(&o, 0, sizeof(o));
	o.ticket_keys = keys;
	o.session_id_context = "another profile";
	y = server("server", &o);
	assert_false(resumes(c, y, sess));
	/* rotated in place once: the ticket's key is the previous one */
	keys[WEFT_TLS_TICKET_PREV] = keys[WEFT_TLS_TICKET_CUR];
	keys[WEFT_TLS_TICKET_CUR] = keys[WEFT_TLS_TICKET_NEXT];
	keys[WEFT_TLS_TICKET_NEXT] = other[0];
	assert_true(resumes(c, b, sess));
	/* twice: it is gone */
	keys[WEFT_TLS_TICKET_PREV] = keys[WEFT_TLS_TICKET_CUR];
	assert_false(resumes(c, a, sess));
	SSL_SESSION_free(sess);
	weft_tls_ctx_free(y);
	weft_tls_ctx_free(x);
	weft_tls_ctx_free(b);
	weft_tls_ctx_free(a);
	weft_tls_ctx_free(c);
}

WT_TEST(default_context)
{
	weft_tls_ctx_t *d, *s = server("server", NULL);
	struct hs h;
	int err = 1;

	/* OpenSSL reads SSL_CERT_FILE when the context is made */
	setenv("SSL_CERT_FILE", cert("ca.crt"), 1);
	assert_non_null(d = weft__tls_ctx_default(&err));
	assert_int_equal(err, 0);
	assert_ptr_equal(weft__tls_ctx_default(NULL), d);
	assert_int_equal(d->x_server, 0);
	assert_int_equal(d->x_verify, 1);
	weft_tls_ctx_free(weft_tls_ctx_ref(d));
	hs_ok(&h, d, "localhost", s, NULL);
	hs_free(&h);
	assert_string_equal(hs_client_fails(d, "other.example", s,
				WEFT_ETLSVERIFY),
	    "certificate verify failed: hostname mismatch");
	weft_tls_ctx_free(s);
}

WT_TEST(default_context_system_store)
{
	weft_tls_ctx_t *d, *s = server("server", NULL);

	/* a trust store without the test CA */
	setenv("SSL_CERT_FILE", cert("ca2.crt"), 1);
	setenv("SSL_CERT_DIR", certdir, 1);
	assert_non_null(d = weft__tls_ctx_default(NULL));
	assert_string_equal(hs_client_fails(d, "localhost", s, WEFT_ETLSVERIFY),
	    "certificate verify failed: unable to get local issuer "
	    "certificate");
	weft_tls_ctx_free(s);
}

int
main(int argc, char **argv)
{
	tls_util_setup();
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
