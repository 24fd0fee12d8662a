/*
 * libFuzzer target: hostile bytes as a TLS server's input, over the fake
 * transport (lib/transport_fake.c, weft__fake_feed), through the filter
 * of lib/tls.c.
 *
 * The server's certificate and key are made in C at the first input (an
 * ECDSA P-256 certificate valid for a day), so nothing on disk expires.
 *
 * Input layout:
 *   byte 0  seed of the feed chunking (0: the rest in one piece)
 *   byte 1  bit 0: a real client (in this process, over a second fake
 *           connection) completes a handshake first, so the rest reaches
 *           an open connection as records; bit 1: with TLS 1.2 (else
 *           1.3); bit 2: the server closes after half of the input;
 *           bit 3: it aborts instead; bit 4: its reader does not read
 *   rest    the bytes the server reads, then EOF
 *
 * Checks (abort() on failure; ASan, UBSan and LeakSanitizer do the rest):
 *   1. the handshake with the real client succeeds;
 *   2. after the EOF the server's handshake has returned: 0, WEFT_ETLS
 *      with a reason (weft_tls_error), or -ECONNABORTED when the input
 *      closed or aborted it; and its reader, if it reads, has seen EOF
 *      or an error: nothing waits for a timeout;
 *   3. everything is freed: the connections, their SSL objects and
 *      buffers, the loop (weft_run returns only when no handle is left).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <weft/fiber.h>
#include <weft/stream.h>
#include <weft/tls.h>

#include "internal.h"
#include "tls_int.h"
#include "transport.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define M_CLIENT 0x01
#define M_TLS12 0x02
#define M_CLOSE 0x04
#define M_ABORT 0x08
#define M_NOREAD 0x10

#define MAX_ROUNDS 10000000 /* yields: far beyond a 1 ms deferral */

static weft_tls_ctx_t *sctx, *cctx13, *cctx12;

static void __attribute__((noreturn)) fail(const char *what)
{
	fprintf(stderr, "fuzz_tls: %s\n", what);
	abort();
}

/* ---- A certificate, made once ------------------------------------------ */

static char *
pem_of(BIO *b, size_t *len)
{
	char *p, *copy;
	long n = BIO_get_mem_data(b, &p);

	if (n <= 0 || (copy = malloc((size_t)n)) == NULL)
		fail("PEM");
	memcpy(copy, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return copy;
}

static void
make_cert(weft_tls_cert_t *c)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());

	if (pk == NULL || x == NULL || cb == NULL || kb == NULL)
		fail("certificate");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (!X509_sign(x, pk, EVP_sha256()) || !PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL))
		fail("certificate");
	c->cert_pem = pem_of(cb, &c->cert_pem_len);
	c->key_pem = pem_of(kb, &c->key_pem_len);
	X509_free(x);
	EVP_PKEY_free(pk);
}

static void
make_contexts(void)
{
	weft_tls_cert_t cert = { 0 };
	weft_tls_opts_t o = { 0 };

	make_cert(&cert);
	o.server = 1;
	o.certs = &cert;
	o.ncerts = 1;
	if (weft_tls_ctx_new(&o, &sctx) != 0)
		fail(weft_tls_error(NULL));
	free((char *)cert.cert_pem);
	free((char *)cert.key_pem);
	memset(&o, 0, sizeof(o));
	o.verify = WEFT_TLS_VERIFY_NONE;
	o.protocols = "TLSv1.3";
	if (weft_tls_ctx_new(&o, &cctx13) != 0)
		fail(weft_tls_error(NULL));
	o.protocols = "TLSv1.2";
	if (weft_tls_ctx_new(&o, &cctx12) != 0)
		fail(weft_tls_error(NULL));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	make_contexts();
	return 0;
}

/* ---- One input ------------------------------------------------------------ */

struct end {
	weft_reader_t *r;
	weft_writer_t *w;
	weft_tls_ctx_t *ctx;
	int rc;
	int done; /* the fiber returned */
};

struct job {
	const uint8_t *data;
	size_t size;
	uint32_t seed; /* 0: one piece */
	unsigned mode;
	struct end srv;
	struct end cli;
};

static void
end_fiber(void *arg)
{
	struct end *e = arg;

	e->rc = weft__tls_start(weft__conn_of_writer(e->w), e->ctx, NULL, 0,
	    NULL);
	e->done = 1;
}

static void
end_open(struct end *e, weft_tls_ctx_t *ctx)
{
	memset(e, 0, sizeof(*e));
	e->ctx = ctx;
	if (weft__fake_pair(WEFT_LIMIT_DEFAULT, &e->r, &e->w) != 0 ||
	    weft_spawn(end_fiber, e, NULL) != 0)
		abort();
}

/* A pump of e put off to a later tick (the handshake budget of
 * lib/tls.c) is still to come. */
static int
deferred(const struct end *e)
{
	struct weft__tls *t = weft__conn_ext(weft__conn_of_writer(e->w));

	return t != NULL && t->s_timer_live && !t->s_lingering &&
	    uv_is_active((uv_handle_t *)&t->s_timer);
}

/* What from wrote, into to's input; 1 if anything moved. */
static int
move(struct end *from, struct end *to)
{
	weft_slice_t s = weft__fake_written(from->w);
	char *copy;
	size_t n = s.len;

	if (n == 0)
		return 0;
	if ((copy = malloc(n)) == NULL)
		abort();
	memcpy(copy, s.base, n);
	weft__fake_clear(from->w);
	weft__fake_feed(to->w, copy, n);
	free(copy);
	return 1;
}

/* After the handshake: read until EOF or an error, then close. */
static void
reader_fiber(void *arg)
{
	struct end *e = arg;
	char buf[4096];

	while (weft_read(e->r, buf, sizeof(buf)) > 0)
		;
	weft_close(e->w);
	e->done = 1;
}

/* After the handshake: read until EOF or an error, then close. */ /* A real client's handshake with the server, then the client is gone. */
static void
handshake(struct job *j)
{
	int idle = 0, rounds = 0, moved;

	end_open(&j->cli, j->mode & M_TLS12 ? cctx12 : cctx13);
	while (idle < 4) {
		moved = move(&j->cli, &j->srv);
		moved |= move(&j->srv, &j->cli);
		moved |= deferred(&j->cli) || deferred(&j->srv);
		idle = moved ? 0 : idle + 1;
		weft_yield();
		if (++rounds > MAX_ROUNDS)
			fail("the handshake does not settle");
	}
	if (!j->cli.done || !j->srv.done || j->cli.rc != 0 || j->srv.rc != 0)
		fail("the handshake with a real client failed");
	weft_abort(j->cli.w);
	weft__fake_free(j->cli.w);
	/* The server's fiber ended with the handshake: another one reads. */
	if (!(j->mode & M_NOREAD)) {
		j->srv.done = 0;
		if (weft_spawn(reader_fiber, &j->srv, NULL) != 0)
			abort();
	}
}

static uint32_t
next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* The input in pieces, the close or abort half-way, then EOF. */
static void
feed_input(struct job *j)
{
	size_t off = 0, k, half = j->size / 2;
	uint32_t s = j->seed;
	int cut = 0;

	while (off < j->size || !cut) {
		if (off >= half && !cut) {
			cut = 1;
			if (j->mode & M_ABORT)
				weft_abort(j->srv.w);
			else if (j->mode & M_CLOSE)
				weft_close(j->srv.w);
			continue;
		}
		k = (off < half ? half : j->size) - off;
		if (s != 0) {
			k = next(&s) % 8 == 0 ? next(&s) % 2048 : next(&s) % 24;
			k = k == 0 ? 1 : k;
			if (k > j->size - off)
				k = j->size - off;
		}
		weft__fake_feed(j->srv.w, j->data + off, k);
		off += k;
		weft__fake_clear(j->srv.w);
		weft_yield();
	}
	weft__fake_feed(j->srv.w, NULL, 0);
}

static int
job_main(void *arg)
{
	struct job *j = arg;
	int i, idle;

	end_open(&j->srv, sctx);
	weft_yield();
	if (j->mode & M_CLIENT)
		handshake(j);
	feed_input(j);
	/* Settled: 16 rounds in a row with no pump put off. */
	for (i = idle = 0; idle < 16 && !j->srv.done && i < MAX_ROUNDS; i++) {
		idle = deferred(&j->srv) ? 0 : idle + 1;
		weft_yield();
	}
	if (!j->srv.done)
		fail("the server still waits after EOF");
	if ((j->srv.rc == WEFT_ETLS || j->srv.rc == WEFT_ETLSVERIFY) &&
	    weft_tls_error(j->srv.w)[0] == '\0')
		fail("a failed handshake without a reason");
	if (j->srv.rc != 0 && j->srv.rc != WEFT_ETLS &&
	    j->srv.rc != -ECONNABORTED)
		fail("a handshake failing with an unexpected code");
	weft_abort(j->srv.w);
	weft__fake_free(j->srv.w);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job j;

	if (size < 2)
		return 0;
	memset(&j, 0, sizeof(j));
	j.seed = data[0] == 0 ? 0 : 0x9e3779b9u ^ data[0];
	j.mode = data[1];
	j.data = data + 2;
	j.size = size - 2;
	if (weft_run(job_main, &j) != 0)
		abort();
	return 0;
}
