/*
 * Putting TLS on a connection and asking what it negotiated: the
 * handshake wait of servers, clients and start_tls, the KeyUpdate cap,
 * weft_tls_info and the TLS extra info keys.  The filter itself is tls.c.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_int.h"
#include "transport.h"

#define HS_TIMEOUT_MS 60000
#define SHUTDOWN_TIMEOUT_MS 30000
#define FLOOD_MAX 100 /* KeyUpdates or renegotiations a second */

static struct weft__tls *
tls_of(const weft__conn_t *c)
{
	return c->c_tr->t_rx_reserve != NULL ? weft__conn_ext(c) : NULL;
}

/* HAProxy's answer to the KeyUpdate flood, counted per second. */
static void
on_msg(int write_p, int version, int content_type, const void *buf, size_t len,
    SSL *ssl, void *arg)
{
	struct weft__tls *t = arg;
	const unsigned char *p = buf;
	uint64_t now;

	(void)version;
	(void)ssl;
	if (write_p || content_type != SSL3_RT_HANDSHAKE || len == 0 ||
	    t->s_state != S_OPEN)
		return;
	if (p[0] != SSL3_MT_KEY_UPDATE && p[0] != SSL3_MT_CLIENT_HELLO &&
	    p[0] != SSL3_MT_HELLO_REQUEST)
		return;
	now = uv_now(weft_loop());
	if (now - t->s_ku_window >= 1000) {
		t->s_ku_window = now;
		t->s_ku_count = 0;
	}
	if (++t->s_ku_count > FLOOD_MAX)
		t->s_flood = 1;
}

static const weft__transport_t *
tls_transport(const weft__transport_t *plain)
{
	if (plain == &weft__transport_tcp)
		return &weft__transport_tls_tcp;
	if (plain == &weft__transport_unix)
		return &weft__transport_tls_unix;
	if (plain == &weft__transport_fake)
		return &weft__transport_tls_fake;
	return NULL;
}

/* What the reader already holds is the first ciphertext. */
static int
take_buffered(struct weft__tls *t, weft_reader_t *r)
{
	size_t n = r->r_tail - r->r_head;

	if (n > WEFT__BUF_SIZE)
		return -ENOBUFS;
	if (n > 0) {
		if ((t->s_rx = weft__buf_get()) == NULL)
			return -ENOMEM;
		memcpy(t->s_rx, r->r_buf + r->r_head, n);
		t->s_rx_tail = (uint32_t)n;
		r->r_head = r->r_tail;
		r->r_pin = r->r_head;
		weft__reader_trim(r);
	}
	t->s_sock_eof = r->r_eof;
	r->r_eof = 0;
	return 0;
}

static struct weft__tls *
tls_new(weft__conn_t *c, weft_tls_ctx_t *ctx, const char *host, int *err)
{
	struct weft__tls *t;
	BIO *b;

	*err = -ENOMEM;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->s_ssl = weft__tls_ssl_new(ctx, host, t->s_errtext,
		 sizeof(t->s_errtext))) == NULL) {
		weft__tls_error_set(t->s_errtext);
		*err = WEFT_ETLS;
		free(t);
		return NULL;
	}
	if (weft__tls_bio() == NULL || (b = BIO_new(weft__tls_bio())) == NULL) {
		SSL_free(t->s_ssl);
		free(t);
		return NULL;
	}
	BIO_set_data(b, t);
	SSL_set_bio(t->s_ssl, b, b);
	SSL_set_msg_callback(t->s_ssl, on_msg);
	SSL_set_msg_callback_arg(t->s_ssl, t);
	t->s_ctx = weft_tls_ctx_ref(ctx);
	t->s_conn = c;
	t->s_plain = c->c_tr;
	t->s_state = S_HANDSHAKE;
	t->s_shutdown_ms = SHUTDOWN_TIMEOUT_MS;
	return t;
}

static void
tls_unmake(struct weft__tls *t)
{
	SSL_free(t->s_ssl);
	if (t->s_rx != NULL)
		weft__buf_put(t->s_rx);
	weft_tls_ctx_free(t->s_ctx);
	free(t);
}

/* Park until the handshake ends, within timeout_ms and the caller's own
 * deadline, whichever comes first. */
static int
hs_wait(struct weft__tls *t, int timeout_ms)
{
	weft__conn_t *c = t->s_conn;
	uint64_t at, prev;
	int rc;

	uv_update_time(weft_loop());
	at = uv_now(weft_loop()) +
	    (uint64_t)(timeout_ms > 0 ? timeout_ms : HS_TIMEOUT_MS);
	while (t->s_state == S_HANDSHAKE) {
		prev = weft__deadline_swap(0);
		weft__deadline_swap(prev != 0 && prev < at ? prev : at);
		rc = weft__park(&t->s_wq);
		weft__deadline_swap(prev);
		if (rc != WEFT_ETIMEDOUT && rc != WEFT_ECANCELED &&
		    rc != WEFT_ENOTFIBER)
			continue;
		if (rc == WEFT_ETIMEDOUT && (prev == 0 || prev > at)) {
			rc = -ECONNABORTED;
			snprintf(t->s_errtext, sizeof(t->s_errtext),
			    "the handshake timed out after %d ms",
			    timeout_ms > 0 ? timeout_ms : HS_TIMEOUT_MS);
		}
		weft__conn_reason(c,
		    rc == WEFT_ECANCELED ? WEFT_CLOSE_ABORT
					 : WEFT_CLOSE_TIMEOUT);
		t->s_err = rc;
		weft__conn_fatal(c, rc);
		return rc;
	}
	if (t->s_state != S_OPEN)
		return t->s_err != 0 ? t->s_err : -ECONNRESET;
	return 0;
}

int
weft__tls_start(weft__conn_t *c, weft_tls_ctx_t *ctx, const char *host,
    int timeout_ms, int *resumed)
{
	const weft__transport_t *tr = tls_transport(c->c_tr);
	struct weft__tls *t;
	int rc;

	if (tr == NULL)
		return c->c_tr->t_rx_reserve != NULL ? -EALREADY : -ENOTSUP;
	if (ctx == WEFT_SSL_DEFAULT &&
	    (ctx = weft__tls_ctx_default(&rc)) == NULL)
		return rc;
	if ((t = tls_new(c, ctx, host, &rc)) == NULL)
		return rc;
	if ((rc = take_buffered(t, &c->c_r)) != 0 ||
	    (rc = weft__conn_set_ext(c, t)) != 0) {
		tls_unmake(t);
		return rc;
	}
	c->c_tr = tr;
	weft__tls_pump(t);
	rc = hs_wait(t, timeout_ms);
	if (rc != 0)
		weft__tls_error_set(t->s_errtext);
	else if (resumed != NULL)
		*resumed = SSL_session_reused(t->s_ssl);
	return rc;
}

void
weft__tls_set_shutdown(weft__conn_t *c, int ms)
{
	struct weft__tls *t = tls_of(c);

	if (t != NULL && ms > 0)
		t->s_shutdown_ms = (uint32_t)ms;
}

int
weft__tls_accept(weft__conn_t *c, weft_tls_ctx_t *ctx, const int ms[2],
    uint64_t n[6])
{
	const struct weft__tls *t;
	int resumed = 0, rc;

	rc = weft__tls_start(c, ctx, NULL, ms[0], &resumed);
	weft__tls_set_shutdown(c, ms[1]);
	if (rc == 0) {
		n[0]++;
		n[1] += (unsigned)resumed;
	} else if (rc == -ECONNABORTED || rc == WEFT_ETIMEDOUT) {
		n[3]++;
	} else {
		n[2]++;
		t = tls_of(c);
		if (rc == WEFT_ETLSVERIFY)
			n[4]++;
		else if (t == NULL || t->s_bio_eof || rc == -ECONNRESET)
			n[5]++;
	}
	return rc;
}

int
weft_start_tls(weft_writer_t *w, weft_tls_ctx_t *ctx,
    const char *server_hostname, int handshake_timeout_ms)
{
	weft__conn_t *c = weft__conn_of_writer(w);
	size_t low, high;
	int rc;

	if (ctx == NULL)
		return -EINVAL;
	if (w->w_closing || w->w_lost)
		return WEFT_ECLOSED;
	/* What was written in the clear goes out in the clear, first. */
	weft_writer_get_limits(w, &low, &high);
	weft_writer_set_limits(w, 0, 0);
	rc = weft_drain(w);
	weft_writer_set_limits(w, (ssize_t)high, (ssize_t)low);
	if (rc != 0)
		return rc;
	return weft__tls_start(c, ctx, server_hostname, handshake_timeout_ms,
	    NULL);
}

const char *
weft_tls_error(const weft_writer_t *w)
{
	const struct weft__tls *t;

	if (w == NULL)
		return weft__tls_error_get();
	t = tls_of(weft__conn_of_writer(w));
	return t != NULL ? t->s_errtext : "";
}

/* ---- What was negotiated ----------------------------------------------- */

int
weft_tls_info(const weft_writer_t *w, weft_tls_info_t *info, size_t size)
{
	const struct weft__tls *t = tls_of(weft__conn_of_writer(w));
	weft_tls_info_t all;
	const char *sn;

	if (t == NULL)
		return -ENOENT;
	sn = SSL_get_servername(t->s_ssl, TLSEXT_NAMETYPE_host_name);
	all.version = SSL_get_version(t->s_ssl);
	all.cipher = SSL_get_cipher_name(t->s_ssl);
	all.alpn = t->s_alpn;
	all.server_name = sn != NULL ? sn : "";
	all.session_reused = SSL_session_reused(t->s_ssl);
	all.verify_result = SSL_get_verify_result(t->s_ssl);
	all.eof_clean = t->s_eof_clean;
	all.peer_cert = SSL_get0_peer_certificate(t->s_ssl) != NULL;
	all.ssl = t->s_ssl;
	if (size > sizeof(all))
		size = sizeof(all);
	memcpy(info, &all, size);
	return 0;
}

int
weft_tls_peer_cert(const weft_writer_t *w, void *buf, size_t size)
{
	const struct weft__tls *t = tls_of(weft__conn_of_writer(w));
	X509 *x;
	unsigned char *p = buf;
	int n;

	if (t == NULL || (x = SSL_get0_peer_certificate(t->s_ssl)) == NULL)
		return -ENOENT;
	if ((n = i2d_X509(x, NULL)) <= 0)
		return WEFT_ETLS;
	if (buf == NULL)
		return n;
	if ((size_t)n > size)
		return -ENOBUFS;
	return i2d_X509(x, &p);
}

static int
put_text(char *buf, size_t size, const char *s)
{
	int n = snprintf(buf, size, "%s", s);

	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}

static int
put_hex(char *buf, size_t size, const unsigned char *p, size_t n)
{
	size_t i;

	if (size < 2 * n + 1)
		return -ENOBUFS;
	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	return (int)(2 * n);
}

/* Text a memory BIO collected, NUL-terminated in buf. */
static int
put_bio(char *buf, size_t size, BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	int rc = -ENOBUFS;

	if (n >= 0 && (size_t)n < size) {
		memcpy(buf, p, (size_t)n);
		buf[n] = '\0';
		rc = (int)n;
	}
	BIO_free(b);
	return rc;
}

static int
cert_key(X509 *x, const char *key, char *buf, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	struct tm tm;
	BIO *b;

	if (strcmp(key, "peercert_sha256") == 0) {
		if (!X509_digest(x, EVP_sha256(), md, &mdlen))
			return WEFT_ETLS;
		return put_hex(buf, size, md, mdlen);
	}
	if (strcmp(key, "peercert_not_after") == 0) {
		if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
			return WEFT_ETLS;
		if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			return -ENOBUFS;
		return (int)strlen(buf);
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return -ENOMEM;
	if (strcmp(key, "peercert") == 0)
		PEM_write_bio_X509(b, x);
	else if (strcmp(key, "peercert_subject") == 0)
		X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
		    XN_FLAG_RFC2253);
	else if (strcmp(key, "peercert_issuer") == 0)
		X509_NAME_print_ex(b, X509_get_issuer_name(x), 0,
		    XN_FLAG_RFC2253);
	else if (strcmp(key, "peercert_serial") == 0)
		i2a_ASN1_INTEGER(b, X509_get0_serialNumber(x));
	else {
		BIO_free(b);
		return -ENOENT;
	}
	return put_bio(buf, size, b);
}

int
weft__tls_info_key(const weft__conn_t *c, const char *key, char *buf,
    size_t size)
{
	const struct weft__tls *t = tls_of(c);
	weft_tls_info_t in;
	char num[32];
	X509 *x;

	if (t == NULL || weft_tls_info(&c->c_w, &in, sizeof(in)) != 0)
		return -ENOENT;
	if (strncmp(key, "peercert", 8) == 0) {
		if ((x = SSL_get0_peer_certificate(t->s_ssl)) == NULL)
			return -ENOENT;
		return cert_key(x, key, buf, size);
	}
	if (strcmp(key, "sslcontext") == 0 || strcmp(key, "ssl_object") == 0) {
		snprintf(num, sizeof(num), "%p",
		    strcmp(key, "ssl_object") == 0
			? (void *)t->s_ssl
			: (void *)SSL_get_SSL_CTX(t->s_ssl));
		return put_text(buf, size, num);
	}
	if (strcmp(key, "cipher") == 0)
		return put_text(buf, size, in.cipher);
	if (strcmp(key, "compression") == 0)
		return put_text(buf, size, "");
	if (strcmp(key, "tls_version") == 0)
		return put_text(buf, size, in.version);
	if (strcmp(key, "alpn") == 0)
		return put_text(buf, size, in.alpn);
	if (strcmp(key, "server_name") == 0)
		return put_text(buf, size, in.server_name);
	if (strcmp(key, "session_reused") == 0 ||
	    strcmp(key, "tls_eof_clean") == 0 ||
	    strcmp(key, "verify_result") == 0) {
		snprintf(num, sizeof(num), "%ld",
		    key[0] == 's'	? (long)in.session_reused
			: key[0] == 't' ? (long)in.eof_clean
					: in.verify_result);
		return put_text(buf, size, num);
	}
	return -ENOENT;
}
