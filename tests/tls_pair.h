/*
 * Two ends of TLS over fake transports, and the shuttle that moves what
 * each end wrote into the other's input (tests/test_tls_fake.c): the
 * pieces it feeds, the ends and their handshakes, the contexts, reader
 * fibers and the checks the cases share.  One user; static functions.
 */
#ifndef TLS_PAIR_H
#define TLS_PAIR_H

#include <openssl/ssl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tls_int.h"
#include "transport.h"

#define SRV 0
#define CLI 1
#define IDLE_ROUNDS 8	     /* rounds with nothing moved: settled */
#define MAX_ROUNDS 4000000   /* far beyond any case: a livelock */
#define NSEEDS 3	     /* random splits per scenario and version */
#define BIG_LEN (100 * 1000) /* several records of 16 KiB */
#define REC_MAX 16384	     /* the plaintext of a full record */
/*
 * Fed byte by byte, every byte costs a shuttle round (a pump, an
 * SSL_read_ex and a loop iteration), the whole of the case's time: the
 * pattern is then cut to a first write of two full records and a short
 * one, still crossing two record boundaries, with the gathered and the
 * last writes after it.  The other modes send BIG_LEN.
 */
#define BYTES_FIRST (2 * REC_MAX + 1000)
#define BYTES_LEN (BYTES_FIRST + 30 + 1000)

static char tmpdir[64];
static char certdir[128];

/* ---- How bytes are fed --------------------------------------------------- */

enum feed_mode { FEED_WHOLE, FEED_BYTES, FEED_RANDOM };

static const char *const feed_names[] = { "all at once", "byte by byte",
	"in random splits" };

static struct {
	enum feed_mode mode;
	uint32_t base;	/* the first seed (TLS_FAKE_SEED) */
	uint32_t seed;	/* FEED_RANDOM: this run's */
	uint32_t state; /* xorshift32 */
	const char *version;
} feed;

/* A failed assertion aborts: say which run it was. */
static void
on_abort(int sig)
{
	char buf[200];
	int n;

	n = snprintf(buf, sizeof(buf),
	    "\ntest_tls_fake: failed with %s, bytes fed %s",
	    feed.version != NULL ? feed.version : "?", feed_names[feed.mode]);
	if (n > 0 && feed.mode == FEED_RANDOM)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    ", seed %u (TLS_FAKE_SEED=%u reproduces)", feed.seed,
		    feed.seed);
	if (n > 0 && (size_t)n < sizeof(buf) - 1)
		buf[n++] = '\n';
	if (n > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n);
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint32_t
rnd(void)
{
	feed.state ^= feed.state << 13;
	feed.state ^= feed.state >> 17;
	feed.state ^= feed.state << 5;
	return feed.state;
}

/* The next piece of left bytes: mostly small, now and then large. */
static size_t
piece(size_t left)
{
	size_t k;

	if (feed.mode == FEED_WHOLE)
		return left;
	if (feed.mode == FEED_BYTES)
		return 1;
	k = rnd() % 4 == 0 ? rnd() % 6000 : rnd() % 40;
	if (k == 0)
		k = 1;
	return k < left ? k : left;
}

/* ---- Two ends and the shuttle between them ------------------------------- */

enum { EOF_AUTO, EOF_NOW, EOF_HOLD };

struct end {
	weft_reader_t *r;
	weft_writer_t *w;
	weft_tls_ctx_t *ctx; /* NULL: a plain end, no TLS */
	const char *host;
	weft_fiber_t *f;
	int rc;	  /* weft__tls_start's result */
	int done; /* ... returned */
	char *q;  /* written, not yet fed to the other end */
	size_t qlen;
	size_t qoff;
	size_t qcap;
	int eof;      /* EOF_AUTO: once closed; EOF_NOW; EOF_HOLD: never */
	int eof_sent; /* nothing is fed after it */
};

struct pair {
	struct end e[2];
};

static int
state_of(const weft_writer_t *w)
{
	const struct weft__tls *t = weft__conn_ext(weft__conn_of_writer(w));

	return t != NULL ? t->s_state : 0;
}

/* Take what e wrote into its queue. */
static void
collect(struct end *e)
{
	weft_slice_t s = weft__fake_written(e->w);

	if (e->qoff == e->qlen)
		e->qoff = e->qlen = 0;
	if (s.len == 0)
		return;
	if (e->qcap - e->qlen < s.len) {
		e->qcap = e->qlen + s.len + 4096;
		assert_non_null(e->q = realloc(e->q, e->qcap));
	}
	memcpy(e->q + e->qlen, s.base, s.len);
	e->qlen += s.len;
	weft__fake_clear(e->w);
}

/* Its connection ended, or it half-closed to linger: the peer's EOF. */
static int
ended(const struct end *e)
{
	if (e->eof != EOF_AUTO)
		return e->eof == EOF_NOW;
	return e->w->w_lost || state_of(e->w) == S_LINGER;
}

/* A pump of e put off to a later tick (the handshake budget of
 * lib/tls.c) is still to come: the pair has not settled. */
static int
deferred(const struct end *e)
{
	struct weft__tls *t = weft__conn_ext(weft__conn_of_writer(e->w));

	return t != NULL && t->s_timer_live && !t->s_lingering &&
	    uv_is_active((uv_handle_t *)&t->s_timer);
}

/* One piece of what e wrote into o, or its EOF; 1 if anything moved. */
static int
move(struct end *e, struct end *o)
{
	size_t k;

	collect(e);
	if (e->eof_sent)
		return 0;
	if (e->qoff < e->qlen) {
		k = piece(e->qlen - e->qoff);
		weft__fake_feed(o->w, e->q + e->qoff, k);
		e->qoff += k;
		return 1;
	}
	if (!ended(e))
		return 0;
	e->eof_sent = 1;
	weft__fake_feed(o->w, NULL, 0);
	return 1;
}

/* Move bytes from the ends in mask (1 << SRV, 1 << CLI), a piece per end
 * and round, letting the fibers run between rounds, until it settles. */
static void
shuttle_from(struct pair *p, int mask)
{
	int idle = 0, rounds = 0, moved;

	while (idle < IDLE_ROUNDS) {
		moved = 0;
		if (mask & (1 << CLI))
			moved |= move(&p->e[CLI], &p->e[SRV]);
		if (mask & (1 << SRV))
			moved |= move(&p->e[SRV], &p->e[CLI]);
		if (deferred(&p->e[SRV]) || deferred(&p->e[CLI]))
			moved = 1;
		idle = moved ? 0 : idle + 1;
		weft_yield();
		assert_true(++rounds < MAX_ROUNDS);
	}
}

static void
shuttle(struct pair *p)
{
	shuttle_from(p, (1 << SRV) | (1 << CLI));
}

/* n pieces, one way then the other, starting with the client's. */
static void
shuttle_pieces(struct pair *p, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		move(&p->e[(i + 1) % 2], &p->e[i % 2]);
		weft_yield();
	}
}

/* Let the fibers run, and the pumps put off, until none is left. */
static void
settle(struct pair *p)
{
	int idle = 0, rounds = 0;

	while (idle < IDLE_ROUNDS) {
		if (deferred(&p->e[SRV]) || deferred(&p->e[CLI]))
			idle = 0;
		else
			idle++;
		weft_yield();
		assert_true(++rounds < MAX_ROUNDS);
	}
}

static void
hs_fiber(void *arg)
{
	struct end *e = arg;

	e->rc = weft__tls_start(weft__conn_of_writer(e->w), e->ctx, e->host, 0,
	    NULL);
	e->done = 1;
}

/* Two fake connections; TLS starts on each end with a context. */
static void
pair_open(struct pair *p, weft_tls_ctx_t *sctx, weft_tls_ctx_t *cctx)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->e[SRV].ctx = sctx;
	p->e[CLI].ctx = cctx;
	p->e[CLI].host = "localhost";
	for (i = 0; i < 2; i++) {
		assert_int_equal(weft__fake_pair(WEFT_LIMIT_DEFAULT, &p->e[i].r,
				     &p->e[i].w),
		    0);
		if (p->e[i].ctx != NULL)
			assert_int_equal(weft_spawn(hs_fiber, &p->e[i],
					     &p->e[i].f),
			    0);
	}
	settle(p);
}

/* The handshake fibers returned (asserted before joining them: a fiber
 * still parked would be a handshake left waiting for its timeout). */
static void
pair_join(struct pair *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (p->e[i].f == NULL)
			continue;
		if (!p->e[i].done)
			fail_msg("the %s's handshake is still waiting",
			    i == SRV ? "server" : "client");
		weft_join(p->e[i].f);
		p->e[i].f = NULL;
	}
}

static void
expect_rc(const struct end *e, int rc, const char *who)
{
	if (e->rc != rc)
		fail_msg("%s: handshake %d (%s), want %d", who, e->rc,
		    weft_tls_error(e->w), rc);
}

static void
pair_handshake(struct pair *p, weft_tls_ctx_t *sctx, weft_tls_ctx_t *cctx)
{
	pair_open(p, sctx, cctx);
	shuttle(p);
	pair_join(p);
	expect_rc(&p->e[SRV], 0, "server");
	expect_rc(&p->e[CLI], 0, "client");
	assert_int_equal(state_of(p->e[SRV].w), S_OPEN);
	assert_int_equal(state_of(p->e[CLI].w), S_OPEN);
}

/* As an owner lets go: an end still open is aborted (which closes the
 * filter's timer), then freed once nothing holds it. */
static void
pair_free(struct pair *p)
{
	int i;

	pair_join(p);
	for (i = 0; i < 2; i++) {
		weft_stream_free(p->e[i].w);
		free(p->e[i].q);
	}
}

/* ---- Contexts and runs --------------------------------------------------- */

struct ctxs {
	weft_tls_ctx_t *srv;
	weft_tls_ctx_t *cli;
};

static weft_tls_ctx_t *
server_ctx(void)
{
	char c[192], k[192];
	weft_tls_cert_t cert = { 0 };
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *ctx = NULL;

	snprintf(c, sizeof(c), "%s/server.crt", certdir);
	snprintf(k, sizeof(k), "%s/server.key", certdir);
	cert.cert = c;
	cert.key = k;
	o.server = 1;
	o.certs = &cert;
	o.ncerts = 1;
	assert_int_equal(weft_tls_ctx_new(&o, &ctx), 0);
	return ctx;
}

static weft_tls_ctx_t *
client_ctx(const char *version)
{
	char c[192];
	weft_tls_opts_t o = { 0 };
	weft_tls_ctx_t *ctx = NULL;

	snprintf(c, sizeof(c), "%s/ca.crt", certdir);
	o.ca_file = c;
	o.protocols = version;
	assert_int_equal(weft_tls_ctx_new(&o, &ctx), 0);
	return ctx;
}

/* Run fn with TLS 1.3 and 1.2, its bytes fed whole, byte by byte, and in
 * NSEEDS random splittings. */
static void
each_feed(void (*fn)(const struct ctxs *))
{
	static const char *const versions[] = { "TLSv1.3", "TLSv1.2" };
	struct ctxs x;
	int v, m;

	for (v = 0; v < 2; v++) {
		feed.version = versions[v];
		x.srv = server_ctx();
		x.cli = client_ctx(versions[v]);
		for (m = 0; m < 2 + NSEEDS; m++) {
			feed.mode = m < 2 ? (enum feed_mode)m : FEED_RANDOM;
			feed.seed = m < 2 ? 0 : feed.base + (uint32_t)(m - 2);
			feed.state = feed.seed * 2654435761u + 0x9e3779b9u;
			if (feed.state == 0)
				feed.state = 1;
			fn(&x);
		}
		weft_tls_ctx_free(x.srv);
		weft_tls_ctx_free(x.cli);
	}
}

/* ---- Readers ------------------------------------------------------------- */

static unsigned char
pattern(size_t i)
{
	return (unsigned char)((i * 7 + i / 251) % 253);
}

/* A fiber reading until EOF: what it got, and whether it matched. */
struct rd {
	weft_reader_t *r;
	weft_fiber_t *f;
	size_t got;
	size_t bad;    /* bytes off the pattern */
	ssize_t last;  /* the last weft_read: 0 at EOF */
	char text[64]; /* the first bytes, for short messages */
	int patterned; /* check against pattern() */
};

static void
rd_fiber(void *arg)
{
	struct rd *d = arg;
	char buf[8192];
	ssize_t n, i;

	while ((n = weft_read(d->r, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (d->got + (size_t)i < sizeof(d->text) - 1)
				d->text[d->got + (size_t)i] = buf[i];
			if (d->patterned &&
			    (unsigned char)buf[i] !=
				pattern(d->got + (size_t)i))
				d->bad++;
		}
		d->got += (size_t)n;
	}
	d->last = n;
}

static void
rd_start(struct rd *d, weft_reader_t *r, int patterned)
{
	memset(d, 0, sizeof(*d));
	d->r = r;
	d->patterned = patterned;
	d->last = 1;
	assert_int_equal(weft_spawn(rd_fiber, d, &d->f), 0);
}

/* The reader saw EOF (and returned): join it. */
static void
rd_join_eof(struct rd *d)
{
	if (d->last != 0)
		fail_msg("the reader did not see EOF (%zd)", d->last);
	weft_join(d->f);
}

/* How many bytes write_pattern sends in this feed mode. */
static size_t
pattern_len(void)
{
	return feed.mode == FEED_BYTES ? BYTES_LEN : BIG_LEN;
}

static void
write_pattern(weft_writer_t *w)
{
	static unsigned char big[BIG_LEN];
	size_t first = feed.mode == FEED_BYTES ? BYTES_FIRST : 40000;
	weft_slice_t small[3];
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = pattern(i);
	/* One large slice, several small ones gathered, the rest. */
	assert_int_equal(weft_write(w, big, first), 0);
	for (i = 0; i < 3; i++) {
		small[i].base = (const char *)big + first + 10 * i;
		small[i].len = 10;
	}
	assert_int_equal(weft_writev(w, small, 3), 0);
	assert_int_equal(weft_write(w, big + first + 30,
			     pattern_len() - first - 30),
	    0);
}

/*
 * Records longer than REC_MAX in what e wrote and was not fed yet, from
 * a record's start: full ones, when the writes are full records or a few
 * KiB (a record adds at most a few dozen bytes to its plaintext).
 */
static int
full_records(struct end *e)
{
	const unsigned char *h;
	size_t off, len;
	int n = 0;

	collect(e);
	for (off = e->qoff; off + 5 <= e->qlen; off += 5 + len) {
		h = (const unsigned char *)e->q + off;
		len = (size_t)h[3] << 8 | h[4];
		if (len > REC_MAX)
			n++;
	}
	return n;
}

static void
expect_eof_clean(weft_writer_t *w, int clean)
{
	weft_tls_info_t info;
	char buf[8];

	assert_int_equal(weft_tls_info(w, &info, sizeof(info)), 0);
	assert_int_equal(info.eof_clean, clean);
	assert_int_equal(weft_extra_info(w, "tls_eof_clean", buf, sizeof(buf)),
	    1);
	assert_int_equal(buf[0], clean ? '1' : '0');
}

/* weft_close on an open end: it sends close_notify and lingers.  The
 * linger's timer is put off by an hour, so that what the case feeds, not
 * the machine's speed (memcheck, a loaded CI), is what ends it. */
static void
close_lingering(struct end *e)
{
	struct weft__tls *t = weft__conn_ext(weft__conn_of_writer(e->w));

	assert_int_equal(weft_close(e->w), 0);
	assert_int_equal(t->s_state, S_LINGER);
	assert_true(t->s_lingering && t->s_timer_live);
	assert_int_equal(uv_timer_start(&t->s_timer, t->s_timer.timer_cb,
			     3600 * 1000, 0),
	    0);
}

/* Closed, without error, and nothing parked on it. */
static void
expect_closed_ok(weft_writer_t *w)
{
	assert_int_equal(state_of(w), S_DONE);
	assert_true(w->w_lost);
	assert_int_equal(weft_wait_closed(w), 0);
	assert_int_equal(weft_reader_exception(weft_writer_reader(w)), 0);
}

#endif /* TLS_PAIR_H */
