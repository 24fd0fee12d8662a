/*
 * The TLS filter: a transport over a plain one (transport_uv.c, or the
 * fake one of the tests) that turns the ciphertext the plain transport
 * reads into plaintext in the reader, and the writer's plaintext into
 * records the plain transport writes.  doc/tls.md tells the design.
 *
 * - Ciphertext is read into a pooled buffer of the connection (s_rx)
 *   that a custom BIO hands to OpenSSL; SSL_read_ex decrypts straight
 *   into the reader's buffer.  s_rx goes back to the pool when empty.
 * - Records OpenSSL writes gather in one buffer of the loop (out_buf)
 *   and go to the plain transport's t_write once per operation: an echo
 *   stays one read and one write syscall, and the BIO never refuses.
 * - OpenSSL runs on the loop's stack (weft__on_loop_stack), never on a
 *   fiber's, which may be 16 KiB or shared.
 * - Close sends close_notify, half-closes, and reads (discarding) until
 *   the peer's close_notify, its EOF, or LINGER_MS.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_int.h"
#include "transport.h"

#define LINGER_MS 3000
#define HS_BURST 8	    /* handshake steps per millisecond of loop time */
#define RX_ROOM (17 * 1024) /* below this, a paused reader stops reading */

/*
 * SSL_get_error needs an empty error queue before each call.  Emptying
 * one that is already empty is not free in OpenSSL 3: ERR_clear_error
 * walks all 16 slots and frees each one's data, about 840 instructions,
 * twice per request of an echo (callgrind: 9 % of a worker's user
 * instructions).  Peeking first costs a few dozen.
 */
static inline void
err_reset(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/* Records of one operation, then written at once (out_flush). */
static char out_buf[WEFT__BUF_SIZE];
static size_t out_len;
static struct weft__tls *out_tls; /* whose records out_buf holds */
static BIO_METHOD *bio_meth;

static struct weft__tls *
tls_of(const weft__conn_t *c)
{
	return weft__conn_ext(c);
}

static size_t
rx_len(const struct weft__tls *t)
{
	return t->s_rx_tail - t->s_rx_head;
}

/* ---- Output ------------------------------------------------------------ */

static void
out_flush(void)
{
	struct weft__tls *t = out_tls;
	weft_slice_t s = { out_buf, out_len };
	int rc;

	if (t == NULL || out_len == 0)
		return;
	out_len = 0;
	out_tls = NULL;
	if ((rc = t->s_plain->t_write(t->s_conn, &s, 1)) != 0)
		weft__conn_fatal(t->s_conn, rc);
}

static int
bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
	struct weft__tls *t = BIO_get_data(b);
	weft_slice_t s = { data, len };
	int rc;

	if (out_tls != t)
		out_flush();
	if (len > sizeof(out_buf) - out_len)
		out_flush();
	if (len > sizeof(out_buf)) {
		if ((rc = t->s_plain->t_write(t->s_conn, &s, 1)) != 0)
			weft__conn_fatal(t->s_conn, rc);
	} else {
		memcpy(out_buf + out_len, data, len);
		out_len += len;
		out_tls = t;
	}
	*written = len;
	return 1;
}

/* ---- Input ------------------------------------------------------------- */

static int
bio_read(BIO *b, char *data, size_t len, size_t *readbytes)
{
	struct weft__tls *t = BIO_get_data(b);
	size_t n = rx_len(t);

	BIO_clear_retry_flags(b);
	if (n == 0) {
		*readbytes = 0;
		if (t->s_sock_eof) {
			t->s_bio_eof = 1;
			return 0;
		}
		BIO_set_retry_read(b);
		return 0;
	}
	if (n > len)
		n = len;
	memcpy(data, t->s_rx + t->s_rx_head, n);
	t->s_rx_head += (uint32_t)n;
	*readbytes = n;
	return 1;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	const struct weft__tls *t;

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		/* How OpenSSL tells a TCP EOF from an error. */
		t = BIO_get_data(b);
		return t->s_sock_eof && rx_len(t) == 0;
	default:
		return 0;
	}
}

static int
bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

BIO_METHOD *
weft__tls_bio(void)
{
	BIO_METHOD *m;

	if (bio_meth != NULL)
		return bio_meth;
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft");
	if (m == NULL || !BIO_meth_set_write_ex(m, bio_write) ||
	    !BIO_meth_set_read_ex(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl) ||
	    !BIO_meth_set_create(m, bio_create)) {
		BIO_meth_free(m);
		return NULL;
	}
	return bio_meth = m;
}

/* Start or stop the plain transport's reads (a fake one has none). */
static void
plain_read(struct weft__tls *t, int on)
{
	void (*fn)(weft__conn_t *) = on ? t->s_plain->t_read_start
					: t->s_plain->t_read_stop;

	if (fn != NULL)
		fn(t->s_conn);
}

/* Return s_rx to the pool when empty. */
static void
rx_trim(struct weft__tls *t)
{
	if (t->s_rx != NULL && rx_len(t) == 0) {
		weft__buf_put(t->s_rx);
		t->s_rx = NULL;
		t->s_rx_head = t->s_rx_tail = 0;
	}
}

static int
tls_rx_reserve(weft__conn_t *c, char **base, size_t *len)
{
	struct weft__tls *t = tls_of(c);

	if (t->s_rx == NULL) {
		if ((t->s_rx = weft__buf_get()) == NULL)
			return -ENOMEM;
		t->s_rx_head = t->s_rx_tail = 0;
	}
	if (t->s_rx_tail == WEFT__BUF_SIZE && t->s_rx_head > 0) {
		memmove(t->s_rx, t->s_rx + t->s_rx_head, rx_len(t));
		t->s_rx_tail -= t->s_rx_head;
		t->s_rx_head = 0;
	}
	if (t->s_rx_tail == WEFT__BUF_SIZE)
		return -ENOBUFS;
	*base = t->s_rx + t->s_rx_tail;
	*len = WEFT__BUF_SIZE - t->s_rx_tail;
	return 0;
}

/* ---- The state machine, on the loop's stack ---------------------------- */

static void hs_fail(struct weft__tls *t, int err);
static void linger_end(struct weft__tls *t);
static void timer_start(struct weft__tls *t, uint64_t ms);

static void
hs_done(struct weft__tls *t)
{
	const unsigned char *p;
	unsigned int n;

	t->s_state = S_OPEN;
	SSL_get0_alpn_selected(t->s_ssl, &p, &n);
	if (n >= sizeof(t->s_alpn))
		n = sizeof(t->s_alpn) - 1;
	if (n > 0)
		memcpy(t->s_alpn, p, n);
	t->s_alpn[n] = '\0';
	weft__wake_all(&t->s_wq, 0);
}

static void
hs_step(struct weft__tls *t)
{
	int rc;

	err_reset();
	if ((rc = SSL_do_handshake(t->s_ssl)) == 1) {
		hs_done(t);
		return;
	}
	if (SSL_get_error(t->s_ssl, rc) == SSL_ERROR_WANT_READ && !t->s_bio_eof)
		return;
	rc = weft__tls_reason(t->s_ssl, t->s_errtext, sizeof(t->s_errtext));
	if (t->s_errtext[0] == '\0' || t->s_bio_eof)
		snprintf(t->s_errtext, sizeof(t->s_errtext), "%s",
		    "the peer closed the connection during the handshake");
	hs_fail(t, rc);
}

/* A record error or a flood: the connection ends with err. */
static void
tls_fatal(struct weft__tls *t, int err)
{
	t->s_err = err;
	weft__conn_fatal(t->s_conn, err);
}

/* Plaintext into the reader until it pauses or OpenSSL needs more. */
static void
read_records(struct weft__tls *t)
{
	weft__conn_t *c = t->s_conn;
	char *base;
	size_t len, n;
	int rc;

	while (!t->s_paused && t->s_state == S_OPEN &&
	    (rx_len(t) > 0 || t->s_sock_eof || SSL_has_pending(t->s_ssl))) {
		if (weft__reader_reserve(&c->c_r, &base, &len) != 0)
			break;
		err_reset();
		rc = SSL_read_ex(t->s_ssl, base, len, &n);
		weft__reader_commit(&c->c_r, rc == 1 ? n : 0);
		if (t->s_flood) {
			snprintf(t->s_errtext, sizeof(t->s_errtext), "%s",
			    "too many KeyUpdate or renegotiation messages");
			tls_fatal(t, WEFT_ETLS);
			return;
		}
		if (rc == 1)
			continue;
		switch (SSL_get_error(t->s_ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			return;
		case SSL_ERROR_ZERO_RETURN:
			t->s_eof_clean = !t->s_bio_eof;
			weft_feed_eof(&c->c_r);
			return;
		default:
			tls_fatal(t,
			    weft__tls_reason(t->s_ssl, t->s_errtext,
				sizeof(t->s_errtext)));
			return;
		}
	}
}

/* After our close_notify: what comes is dropped, until the peer's. */
static void
discard_records(struct weft__tls *t)
{
	char sink[4096];
	size_t n;
	int rc;

	for (;;) {
		err_reset();
		if ((rc = SSL_read_ex(t->s_ssl, sink, sizeof(sink), &n)) == 1)
			continue;
		if (SSL_get_error(t->s_ssl, rc) == SSL_ERROR_WANT_READ &&
		    !t->s_bio_eof)
			return;
		ERR_clear_error();
		linger_end(t);
		return;
	}
}

static void
pump(void *arg)
{
	struct weft__tls *t = arg;

	if (t->s_in_pump)
		return;
	t->s_in_pump = 1;
	if (t->s_state == S_HANDSHAKE)
		hs_step(t);
	if (t->s_state == S_OPEN)
		read_records(t);
	else if (t->s_state == S_LINGER)
		discard_records(t);
	out_flush();
	t->s_in_pump = 0;
}

/*
 * A full handshake costs the server about 0.3 ms of CPU: a burst of new
 * clients in one wakeup must not stall the established connections for
 * long.  Past HS_BURST handshake steps within one millisecond of loop
 * time, the rest wait for the next tick.
 */
static int
hs_over_budget(struct weft__tls *t)
{
	static uint64_t tick;
	static unsigned steps;
	uint64_t now;

	if (t->s_state != S_HANDSHAKE)
		return 0;
	now = uv_now(weft_loop());
	if (now != tick) {
		tick = now;
		steps = 0;
	}
	if (++steps <= HS_BURST)
		return 0;
	timer_start(t, 1);
	return 1;
}

/* Run pump, then let go of what it held: c may be done with. */
void
weft__tls_pump(struct weft__tls *t)
{
	weft__conn_t *c = t->s_conn;

	if (hs_over_budget(t))
		return;
	weft__on_loop_stack(pump, t);
	if (t->s_state == S_DONE || t->s_state == S_FAILED) {
		weft__conn_maybe_free(c);
		return;
	}
	if (t->s_paused && !t->s_rx_stopped && t->s_rx != NULL &&
	    WEFT__BUF_SIZE - rx_len(t) < RX_ROOM) {
		t->s_rx_stopped = 1;
		plain_read(t, 0);
	} else if (t->s_rx_stopped && !t->s_paused) {
		t->s_rx_stopped = 0;
		plain_read(t, 1);
	}
	rx_trim(t);
	weft__conn_maybe_free(c);
}

static void
tls_rx_commit(weft__conn_t *c, ssize_t n)
{
	struct weft__tls *t = tls_of(c);

	if (n > 0) {
		t->s_rx_tail += (uint32_t)n;
	} else if (n == UV_EOF) {
		t->s_sock_eof = 1;
	} else if (n == UV_ENOBUFS) {
		t->s_rx_stopped = 1;
		plain_read(t, 0);
		return;
	} else if (n < 0) {
		if (t->s_state == S_HANDSHAKE) {
			snprintf(t->s_errtext, sizeof(t->s_errtext), "%s",
			    uv_strerror((int)n));
			t->s_err = (int)n;
		}
		weft__conn_fatal(c, (int)n);
		return;
	} else {
		rx_trim(t);
		return;
	}
	weft__tls_pump(t);
}

/* ---- Timer: a deferred pump, or the linger's end ----------------------- */

static void
on_timer_close(uv_handle_t *h)
{
	struct weft__tls *t = h->data;

	t->s_timer_live = 0;
	weft__conn_maybe_free(t->s_conn);
}

static void
timer_close(struct weft__tls *t)
{
	if (t->s_timer_live && !uv_is_closing((uv_handle_t *)&t->s_timer))
		uv_close((uv_handle_t *)&t->s_timer, on_timer_close);
}

static void
on_timer(uv_timer_t *h)
{
	struct weft__tls *t = h->data;

	if (t->s_lingering) {
		/* The peer neither sent close_notify nor closed.  What we
		 * sent may still be on its way: up to the shutdown timeout. */
		if (t->s_plain->t_buffered(t->s_conn) == 0) {
			t->s_lingering = 0;
			linger_end(t);
		} else if (uv_now(weft_loop()) - t->s_close_at <
		    t->s_shutdown_ms) {
			timer_start(t, LINGER_MS);
		} else {
			t->s_lingering = 0;
			t->s_state = S_DONE;
			timer_close(t);
			t->s_plain->t_abort(t->s_conn);
		}
		return;
	}
	weft__tls_pump(t);
}

static void
timer_start(struct weft__tls *t, uint64_t ms)
{
	if (!t->s_timer_live) {
		uv_timer_init(weft_loop(), &t->s_timer);
		t->s_timer.data = t;
		t->s_timer_live = 1;
	}
	if (!uv_is_closing((uv_handle_t *)&t->s_timer))
		uv_timer_start(&t->s_timer, on_timer, ms, 0);
}

/* ---- Closing ----------------------------------------------------------- */

static void
linger_end(struct weft__tls *t)
{
	t->s_state = S_DONE;
	timer_close(t);
	t->s_plain->t_close(t->s_conn);
}

static void
hs_fail(struct weft__tls *t, int err)
{
	weft__conn_t *c = t->s_conn;

	t->s_state = S_FAILED;
	t->s_err = err;
	weft__wake_all(&t->s_wq, err);
	/* The alert OpenSSL wrote goes out before the close. */
	out_flush();
	weft__conn_reason(c, WEFT_CLOSE_ERROR);
	weft__conn_lost(c, err);
	c->c_w.w_closing = 1;
	timer_close(t);
	t->s_plain->t_close(c);
}

static void
send_close_notify(void *arg)
{
	struct weft__tls *t = arg;

	ERR_clear_error();
	(void)SSL_shutdown(t->s_ssl);
	ERR_clear_error();
	out_flush();
}

static void
tls_close(weft__conn_t *c)
{
	struct weft__tls *t = tls_of(c);

	if (t->s_state == S_HANDSHAKE) {
		/* Its waiters learn now, not at the handshake's timeout. */
		t->s_err = -ECONNABORTED;
		snprintf(t->s_errtext, sizeof(t->s_errtext), "%s",
		    "closed during the handshake");
		weft__wake_all(&t->s_wq, t->s_err);
	}
	if (t->s_state != S_OPEN) {
		if (t->s_state == S_HANDSHAKE || t->s_state == S_FAILED) {
			t->s_state = S_DONE;
			timer_close(t);
			t->s_plain->t_close(c);
		}
		return;
	}
	weft__on_loop_stack(send_close_notify, t);
	if ((SSL_get_shutdown(t->s_ssl) & SSL_RECEIVED_SHUTDOWN) ||
	    t->s_sock_eof) {
		linger_end(t);
		return;
	}
	/* Half-close and wait a little for the peer's close_notify (TLS 1.3
	 * peers need not send one: never the full shutdown timeout). */
	t->s_state = S_LINGER;
	t->s_paused = 0;
	t->s_plain->t_write_eof(c);
	t->s_lingering = 1;
	t->s_close_at = uv_now(weft_loop());
	timer_start(t,
	    t->s_shutdown_ms < LINGER_MS ? t->s_shutdown_ms : LINGER_MS);
}

static void
tls_abort(weft__conn_t *c)
{
	struct weft__tls *t = tls_of(c);

	if (t->s_state == S_HANDSHAKE) {
		t->s_err = c->c_w.w_lost_err != 0 ? c->c_w.w_lost_err
						  : -ECONNABORTED;
		weft__wake_all(&t->s_wq, t->s_err);
	}
	t->s_state = S_DONE;
	timer_close(t);
	t->s_plain->t_abort(c);
}

/* ---- Writing ----------------------------------------------------------- */

struct wr {
	struct weft__tls *t;
	const weft_slice_t *bufs;
	size_t n;
	int rc;
};

static int
write_all(struct weft__tls *t, const char *p, size_t len)
{
	size_t w;

	while (len > 0) {
		err_reset();
		if (SSL_write_ex(t->s_ssl, p, len, &w) != 1)
			return weft__tls_reason(t->s_ssl, t->s_errtext,
			    sizeof(t->s_errtext));
		p += w;
		len -= w;
	}
	return 0;
}

/* Small slices go out as one record; big ones from the caller's memory. */
static void
encrypt(void *arg)
{
	struct wr *wr = arg;
	char gather[16384];
	size_t i, total = 0;

	for (i = 0; i < wr->n; i++)
		total += wr->bufs[i].len;
	if (wr->n > 1 && total <= sizeof(gather)) {
		for (i = 0, total = 0; i < wr->n; i++) {
			memcpy(gather + total, wr->bufs[i].base,
			    wr->bufs[i].len);
			total += wr->bufs[i].len;
		}
		wr->rc = write_all(wr->t, gather, total);
	} else {
		for (i = 0; i < wr->n && wr->rc == 0; i++)
			wr->rc = write_all(wr->t, wr->bufs[i].base,
			    wr->bufs[i].len);
	}
	out_flush();
}

static int
tls_write(weft__conn_t *c, const weft_slice_t *bufs, size_t n)
{
	struct wr wr = { tls_of(c), bufs, n, 0 };

	if (wr.t->s_state != S_OPEN)
		return wr.t->s_state == S_HANDSHAKE ? -ENOTCONN : 0;
	weft__on_loop_stack(encrypt, &wr);
	if (wr.rc != 0)
		tls_fatal(wr.t, wr.rc);
	return 0;
}

/* ---- Flow control ------------------------------------------------------ */

static void
tls_read_stop(weft__conn_t *c)
{
	tls_of(c)->s_paused = 1;
}

/* The reader wants more: decrypt what is queued, on the loop, soon (the
 * reader may be in the middle of a call that must not see new data). */
static void
tls_read_start(weft__conn_t *c)
{
	struct weft__tls *t = tls_of(c);

	t->s_paused = 0;
	if (t->s_state == S_OPEN && !t->s_lingering)
		timer_start(t, 0);
	else if (t->s_rx_stopped) {
		t->s_rx_stopped = 0;
		plain_read(t, 1);
	}
}

/* ---- The rest of the ops ----------------------------------------------- */

static size_t
tls_buffered(const weft__conn_t *c)
{
	return tls_of(c)->s_plain->t_buffered(c);
}

static int
tls_busy(const weft__conn_t *c)
{
	const struct weft__tls *t = tls_of(c);

	return t->s_in_pump || t->s_timer_live || t->s_plain->t_busy(c);
}

static int
tls_fileno(const weft__conn_t *c)
{
	return tls_of(c)->s_plain->t_fileno(c);
}

static int
tls_addr(const weft__conn_t *c, int peer, struct sockaddr *sa, socklen_t *len)
{
	return tls_of(c)->s_plain->t_addr(c, peer, sa, len);
}

static void
tls_destroy(weft__conn_t *c)
{
	struct weft__tls *t = tls_of(c);
	const weft__transport_t *plain = t->s_plain;

	if (out_tls == t) {
		out_len = 0;
		out_tls = NULL;
	}
	/* A session closed without close_notify would be dropped from the
	 * cache and not resume. */
	if (SSL_is_init_finished(t->s_ssl))
		SSL_set_shutdown(t->s_ssl,
		    SSL_get_shutdown(t->s_ssl) | SSL_SENT_SHUTDOWN);
	SSL_free(t->s_ssl);
	if (t->s_rx != NULL)
		weft__buf_put(t->s_rx);
	weft_tls_ctx_free(t->s_ctx);
	free(t);
	(void)weft__conn_set_ext(c, NULL);
	plain->t_destroy(c);
}

/* t_size is unused: TLS goes on a connection made plain (weft__tls_start). */
#define TLS_OPS(plain)                                                         \
	.t_size = 0, .t_base = &weft__transport_##plain,                       \
	.t_rx_reserve = tls_rx_reserve, .t_rx_commit = tls_rx_commit,          \
	.t_read_start = tls_read_start, .t_read_stop = tls_read_stop,          \
	.t_write = tls_write, .t_write_eof = NULL, .t_close = tls_close,       \
	.t_abort = tls_abort, .t_buffered = tls_buffered, .t_busy = tls_busy,  \
	.t_fileno = tls_fileno, .t_addr = tls_addr, .t_destroy = tls_destroy,  \
	.t_info = weft__tls_info_key

const weft__transport_t weft__transport_tls_tcp = { .t_name = "tls",
	TLS_OPS(tcp) };
const weft__transport_t weft__transport_tls_unix = { .t_name = "tls",
	TLS_OPS(unix) };
const weft__transport_t weft__transport_tls_fake = { .t_name = "tls",
	TLS_OPS(fake) };
