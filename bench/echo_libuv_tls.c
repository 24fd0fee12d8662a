/*
 * echo_libuv_tls: the TLS twin of the anchors' bare libuv echo
 * (echo_libuv.c), the floor for a TLS echo on libuv and OpenSSL: one
 * process, one loop, memory BIOs.  libuv reads ciphertext into a pooled
 * buffer, it goes into the connection's read BIO, SSL_read decrypts,
 * SSL_write encrypts the same bytes back into the write BIO, and what
 * the write BIO holds is sent with uv_try_write (uv_write for what the
 * socket does not take at once).
 *
 * usage: echo_libuv_tls PORT CERT KEY
 *
 * Listens on 127.0.0.1:PORT.  TLS 1.3 only, TLS_AES_128_GCM_SHA256,
 * group X25519, session tickets on (one per handshake, as libweft sends),
 * no server-side session cache (stateless tickets need none),
 * SSL_MODE_RELEASE_BUFFERS (an idle connection keeps no record buffers).
 * For bench/run.sh; see bench/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#define BUFSZ 65536
#define POOLMAX 1024

struct conn {
	uv_tcp_t tcp;
	SSL *ssl;
	BIO *rbio; /* ciphertext from the peer */
	BIO *wbio; /* ciphertext to the peer */
	int closing;
};

struct wreq {
	uv_write_t req;
	uv_buf_t buf;
};

static SSL_CTX *ctx;
static char *pool[POOLMAX];
static int npool;
static char plain[BUFSZ];

/* Buffers are reused through a free list, as in echo_libuv.c, so that
 * malloc never trims the heap between requests. */
static char *
buf_get(void)
{
	return npool > 0 ? pool[--npool] : malloc(BUFSZ);
}

static void
buf_put(char *b)
{
	if (npool < POOLMAX)
		pool[npool++] = b;
	else
		free(b);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	(void)hint;
	b->base = buf_get();
	b->len = b->base != NULL ? BUFSZ : 0;
}

static void
on_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	SSL_free(c->ssl); /* frees both BIOs */
	free(c);
}

static void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void
on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;

	(void)status;
	buf_put(w->buf.base);
	free(w);
}

/* Queue the bytes of b from off to n behind what libuv is writing; b
 * goes back to the pool once written. */
static int
queue(struct conn *c, char *b, int off, int n)
{
	struct wreq *w;
	uv_buf_t rest = uv_buf_init(b + off, (unsigned)(n - off));

	if ((w = malloc(sizeof(*w))) == NULL)
		return -1;
	w->buf = uv_buf_init(b, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &rest, 1, on_written) !=
	    0) {
		free(w);
		return -1;
	}
	return 0;
}

/* Send what the write BIO holds: uv_try_write first (when nothing is
 * queued before it), the rest queued. */
static int
flush(struct conn *c)
{
	uv_buf_t u;
	char *b;
	int n, r;

	while (BIO_ctrl_pending(c->wbio) > 0) {
		if ((b = buf_get()) == NULL)
			return -1;
		if ((n = BIO_read(c->wbio, b, BUFSZ)) <= 0) {
			buf_put(b);
			return -1;
		}
		r = 0;
		if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) ==
		    0) {
			u = uv_buf_init(b, (unsigned)n);
			r = uv_try_write((uv_stream_t *)&c->tcp, &u, 1);
			if (r == UV_EAGAIN)
				r = 0;
		}
		if (r == n) {
			buf_put(b);
			continue;
		}
		if (r < 0 || queue(c, b, r, n) != 0) {
			buf_put(b);
			return -1;
		}
	}
	return 0;
}

/* Decrypt everything the read BIO holds and encrypt it straight back;
 * -1 when the connection is to be closed (after sending what OpenSSL
 * wrote: an alert, or its close_notify). */
static int
pump(struct conn *c)
{
	int n, r = 0;

	if (!SSL_is_init_finished(c->ssl) &&
	    (n = SSL_do_handshake(c->ssl)) != 1) {
		if (SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ)
			r = -1;
		return flush(c) != 0 ? -1 : r;
	}
	for (;;) {
		n = SSL_read(c->ssl, plain, sizeof(plain));
		if (n <= 0) {
			if (SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ)
				r = -1;
			break;
		}
		if (SSL_write(c->ssl, plain, n) != n)
			return -1;
	}
	return flush(c) != 0 ? -1 : r;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (n > 0) {
		if (BIO_write(c->rbio, b->base, (int)n) != (int)n ||
		    pump(c) != 0)
			conn_close(c);
	} else if (n < 0)
		conn_close(c);
	if (b->base != NULL)
		buf_put(b->base);
}

static void
on_conn(uv_stream_t *srv, int status)
{
	struct conn *c;

	if (status != 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return;
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	c->ssl = SSL_new(ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		c->rbio = c->wbio = NULL;
		conn_close(c);
		return;
	}
	/* An empty memory BIO reads as "retry", not as EOF. */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_accept_state(c->ssl);
	if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static SSL_CTX *
make_ctx(const char *cert, const char *key)
{
	static const unsigned char sid[] = "echo_libuv_tls";
	SSL_CTX *x;

	if ((x = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(x, TLS1_3_VERSION);
	SSL_CTX_set_options(x,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
		SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(x, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(x, 1);
	if (SSL_CTX_set_ciphersuites(x, "TLS_AES_128_GCM_SHA256") != 1 ||
	    SSL_CTX_set1_groups_list(x, "X25519") != 1 ||
	    SSL_CTX_set_session_id_context(x, sid, sizeof(sid) - 1) != 1 ||
	    SSL_CTX_use_certificate_chain_file(x, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(x, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(x) != 1) {
		SSL_CTX_free(x);
		return NULL;
	}
	return x;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a;
	uv_loop_t *l = uv_default_loop();
	uv_tcp_t srv;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: echo_libuv_tls PORT CERT KEY\n");
		return 2;
	}
	if ((ctx = make_ctx(argv[2], argv[3])) == NULL) {
		fprintf(stderr, "echo_libuv_tls: %s: ", argv[2]);
		ERR_print_errors_fp(stderr);
		return 1;
	}
	uv_tcp_init(l, &srv);
	uv_ip4_addr("127.0.0.1", atoi(argv[1]), &a);
	if ((r = uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&srv, 1024, on_conn)) != 0) {
		fprintf(stderr, "echo_libuv_tls: %s\n", uv_strerror(r));
		return 1;
	}
	return uv_run(l, UV_RUN_DEFAULT);
}
