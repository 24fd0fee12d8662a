/*
 * TLS over two fake transports wired to each other (lib/transport_fake.c):
 * real handshakes and records, and no socket.  The test moves what each
 * end wrote into the other end's input, in pieces of its choosing: all at
 * once, one byte at a time, or random splits from a seed (printed if a
 * case fails; TLS_FAKE_SEED=N runs the random splits from N).  Every
 * scenario runs with TLS 1.3 and TLS 1.2, through each state of the
 * close table of lib/tls.c.  An end whose connection is closed, or half
 * closed while it lingers, sends the other end an EOF after its bytes, as
 * TCP would (the ends and the shuttle: tests/tls_pair.h).  The
 * certificates come from tests/tls/mkcerts.sh, run once into a temporary
 * directory.
 */
#include "tls_pair.h"

/* ---- Handshakes and data ------------------------------------------------- */

static void
sc_handshake(const struct ctxs *x)
{
	struct pair p;
	weft_tls_info_t si, ci;
	char buf[64];

	pair_handshake(&p, x->srv, x->cli);
	assert_int_equal(weft_tls_info(p.e[SRV].w, &si, sizeof(si)), 0);
	assert_int_equal(weft_tls_info(p.e[CLI].w, &ci, sizeof(ci)), 0);
	assert_string_equal(si.version, feed.version);
	assert_string_equal(ci.version, feed.version);
	assert_string_equal(si.cipher, ci.cipher);
	assert_string_equal(si.server_name, "localhost");
	assert_int_equal(ci.verify_result, 0);
	assert_true(ci.peer_cert);
	assert_false(si.peer_cert);
	assert_int_equal(weft_extra_info(p.e[CLI].w, "tls_version", buf,
			     sizeof(buf)),
	    (int)strlen(feed.version));
	pair_free(&p);
}

WT_CASE(handshake_both_ways)
{
	each_feed(sc_handshake);
}

static void
sc_data(const struct ctxs *x)
{
	struct pair p;
	struct rd sd, cd;

	pair_handshake(&p, x->srv, x->cli);
	rd_start(&sd, p.e[SRV].r, 0);
	rd_start(&cd, p.e[CLI].r, 1);
	assert_int_equal(weft_write(p.e[CLI].w, "hello over fake\n", 16), 0);
	shuttle(&p);
	assert_int_equal(sd.got, 16);
	assert_string_equal(sd.text, "hello over fake\n");
	/* Both ways at once, records of 16 KiB and small ones. */
	sd.patterned = 1;
	sd.got = 0;
	write_pattern(p.e[SRV].w);
	write_pattern(p.e[CLI].w);
	assert_true(full_records(&p.e[SRV]) >= 2);
	assert_true(full_records(&p.e[CLI]) >= 2);
	shuttle(&p);
	assert_int_equal(sd.got, pattern_len());
	assert_int_equal(cd.got, pattern_len());
	assert_int_equal(sd.bad, 0);
	assert_int_equal(cd.bad, 0);
	/* Both close: each sees the other's close_notify. */
	close_lingering(&p.e[CLI]);
	close_lingering(&p.e[SRV]);
	shuttle(&p);
	rd_join_eof(&sd);
	rd_join_eof(&cd);
	expect_closed_ok(p.e[SRV].w);
	expect_closed_ok(p.e[CLI].w);
	pair_free(&p);
}

WT_CASE(data_both_ways)
{
	each_feed(sc_data);
}

/* ---- The close table ----------------------------------------------------- */

/*
 * Our close sends close_notify and lingers; the peer reads a clean EOF,
 * closes in turn, and its close_notify alone (its EOF held back) ends our
 * linger.
 */
static void
sc_close_notify(const struct ctxs *x)
{
	struct pair p;
	struct rd sd;
	size_t n;

	pair_handshake(&p, x->srv, x->cli);
	rd_start(&sd, p.e[SRV].r, 0);
	assert_int_equal(weft_write(p.e[CLI].w, "last\n", 5), 0);
	collect(&p.e[CLI]);
	n = p.e[CLI].qlen;
	close_lingering(&p.e[CLI]);
	assert_false(p.e[CLI].w->w_lost);
	collect(&p.e[CLI]);
	assert_true(p.e[CLI].qlen > n); /* close_notify */
	shuttle(&p);
	rd_join_eof(&sd);
	assert_string_equal(sd.text, "last\n");
	expect_eof_clean(p.e[SRV].w, 1);
	assert_int_equal(state_of(p.e[CLI].w), S_LINGER);
	/* The peer answers: closed at once, it had our close_notify. */
	p.e[SRV].eof = EOF_HOLD;
	weft_close(p.e[SRV].w);
	expect_closed_ok(p.e[SRV].w);
	shuttle(&p);
	assert_false(p.e[SRV].eof_sent);
	expect_closed_ok(p.e[CLI].w);
	pair_free(&p);
}

WT_CASE(close_notify_clean_eof_and_linger_ends)
{
	each_feed(sc_close_notify);
}

/* Both close at once: the close_notifys cross, each ends a linger. */
static void
sc_close_crossing(const struct ctxs *x)
{
	struct pair p;

	pair_handshake(&p, x->srv, x->cli);
	close_lingering(&p.e[CLI]);
	close_lingering(&p.e[SRV]);
	p.e[SRV].eof = EOF_HOLD;
	p.e[CLI].eof = EOF_HOLD;
	shuttle(&p);
	expect_closed_ok(p.e[SRV].w);
	expect_closed_ok(p.e[CLI].w);
	pair_free(&p);
}

WT_CASE(close_notify_crossing)
{
	each_feed(sc_close_crossing);
}

/* What the peer sends after our close_notify (before and after it saw
 * ours) is dropped, and is no error. */
static void
sc_late_data(const struct ctxs *x)
{
	struct pair p;
	weft_reader_t *cr;

	pair_handshake(&p, x->srv, x->cli);
	cr = p.e[CLI].r;
	close_lingering(&p.e[CLI]);
	assert_int_equal(weft_write(p.e[SRV].w, "late\n", 5), 0);
	write_pattern(p.e[SRV].w);
	p.e[SRV].eof = EOF_HOLD;
	shuttle(&p);
	assert_int_equal(state_of(p.e[CLI].w), S_LINGER);
	assert_false(p.e[CLI].w->w_lost);
	write_pattern(p.e[SRV].w);
	shuttle(&p);
	assert_int_equal(state_of(p.e[CLI].w), S_LINGER);
	assert_false(p.e[CLI].w->w_lost);
	assert_string_equal(weft_tls_error(p.e[CLI].w), "");
	assert_int_equal(weft_reader_buffer(cr).len, 0);
	weft_close(p.e[SRV].w);
	shuttle(&p);
	expect_closed_ok(p.e[CLI].w);
	assert_int_equal(weft_reader_buffer(cr).len, 0);
	assert_string_equal(weft_tls_error(p.e[CLI].w), "");
	pair_free(&p);
}

WT_CASE(late_data_after_close_notify_discarded)
{
	each_feed(sc_late_data);
}

/* A TCP EOF without close_notify reads as EOF, flagged; our close then
 * sends close_notify and does not linger. */
static void
sc_ragged_eof(const struct ctxs *x)
{
	struct pair p;
	struct rd cd;

	pair_handshake(&p, x->srv, x->cli);
	rd_start(&cd, p.e[CLI].r, 0);
	assert_int_equal(weft_write(p.e[SRV].w, "bye\n", 4), 0);
	p.e[SRV].eof = EOF_NOW;
	shuttle(&p);
	rd_join_eof(&cd);
	assert_string_equal(cd.text, "bye\n");
	expect_eof_clean(p.e[CLI].w, 0);
	assert_int_equal(state_of(p.e[CLI].w), S_OPEN);
	assert_string_equal(weft_tls_error(p.e[CLI].w), "");
	weft_close(p.e[CLI].w);
	collect(&p.e[CLI]);
	assert_true(p.e[CLI].qlen > p.e[CLI].qoff); /* close_notify */
	expect_closed_ok(p.e[CLI].w);
	pair_free(&p);
}

WT_CASE(ragged_eof)
{
	each_feed(sc_ragged_eof);
}

/* While we linger, the peer's EOF without close_notify ends it too. */
static void
sc_eof_while_lingering(const struct ctxs *x)
{
	struct pair p;

	pair_handshake(&p, x->srv, x->cli);
	close_lingering(&p.e[CLI]);
	p.e[SRV].eof = EOF_NOW;
	shuttle(&p);
	expect_closed_ok(p.e[CLI].w);
	pair_free(&p);
}

WT_CASE(eof_while_lingering)
{
	each_feed(sc_eof_while_lingering);
}

/* While we linger, a record that does not decrypt ends it, quietly: we
 * are done with the connection. */
static void
sc_garbage_while_lingering(const struct ctxs *x)
{
	static const char junk[] = "\x17\x03\x03\x00\x08garbage!";
	struct pair p;
	struct end *s;

	pair_handshake(&p, x->srv, x->cli);
	close_lingering(&p.e[CLI]);
	s = &p.e[SRV];
	s->eof = EOF_HOLD;
	collect(s);
	assert_non_null(s->q = realloc(s->q, s->qlen + sizeof(junk)));
	memcpy(s->q + s->qlen, junk, sizeof(junk) - 1);
	s->qlen += sizeof(junk) - 1;
	s->qcap = s->qlen + 1;
	shuttle(&p);
	expect_closed_ok(p.e[CLI].w);
	pair_free(&p);
}

WT_CASE(garbage_while_lingering)
{
	each_feed(sc_garbage_while_lingering);
}

/* A peer that neither answers nor closes: the linger's timer ends it
 * (the wait is the linger, not the 30 s shutdown timeout). */
WT_CASE(linger_times_out)
{
	struct ctxs x = { server_ctx(), client_ctx(NULL) };
	struct pair p;

	feed.version = "TLSv1.3";
	pair_handshake(&p, x.srv, x.cli);
	weft_close(p.e[CLI].w);
	assert_int_equal(state_of(p.e[CLI].w), S_LINGER);
	p.e[SRV].eof = EOF_HOLD;
	shuttle(&p);
	assert_int_equal(weft_wait_closed(p.e[CLI].w), 0);
	expect_closed_ok(p.e[CLI].w);
	pair_free(&p);
	weft_tls_ctx_free(x.srv);
	weft_tls_ctx_free(x.cli);
}

/* Our abort: no close_notify, the waiters see -ECONNABORTED, the peer a
 * ragged EOF. */
static void
sc_abort(const struct ctxs *x)
{
	struct pair p;
	struct rd sd;

	pair_handshake(&p, x->srv, x->cli);
	rd_start(&sd, p.e[SRV].r, 0);
	weft_abort(p.e[CLI].w);
	collect(&p.e[CLI]);
	assert_int_equal(p.e[CLI].qlen, p.e[CLI].qoff);
	assert_int_equal(state_of(p.e[CLI].w), S_DONE);
	assert_int_equal(weft_wait_closed(p.e[CLI].w), -ECONNABORTED);
	shuttle(&p);
	rd_join_eof(&sd);
	expect_eof_clean(p.e[SRV].w, 0);
	weft_close(p.e[SRV].w);
	expect_closed_ok(p.e[SRV].w);
	pair_free(&p);
}

WT_CASE(abort)
{
	each_feed(sc_abort);
}

/* An abort while we linger: it ends at once, nothing more is written. */
static void
sc_abort_lingering(const struct ctxs *x)
{
	struct pair p;

	pair_handshake(&p, x->srv, x->cli);
	close_lingering(&p.e[CLI]);
	collect(&p.e[CLI]);
	p.e[CLI].qoff = p.e[CLI].qlen; /* close_notify, never delivered */
	weft_abort(p.e[CLI].w);
	assert_int_equal(state_of(p.e[CLI].w), S_DONE);
	assert_int_equal(weft_wait_closed(p.e[CLI].w), -ECONNABORTED);
	assert_int_equal(weft__fake_written(p.e[CLI].w).len, 0);
	shuttle(&p);
	expect_eof_clean(p.e[SRV].w, 0);
	pair_free(&p);
}

WT_CASE(abort_while_lingering)
{
	each_feed(sc_abort_lingering);
}

/* EOF in the middle of a record (SSL_OP_IGNORE_UNEXPECTED_EOF): the
 * reader sees EOF, flagged unclean, and nothing of the cut record. */
static void
sc_eof_mid_record(const struct ctxs *x)
{
	struct pair p;
	struct rd cd;

	pair_handshake(&p, x->srv, x->cli);
	rd_start(&cd, p.e[CLI].r, 0);
	assert_int_equal(weft_write(p.e[SRV].w, "whole\n", 6), 0);
	shuttle(&p);
	assert_string_equal(cd.text, "whole\n");
	assert_int_equal(weft_write(p.e[SRV].w, "cut short\n", 10), 0);
	collect(&p.e[SRV]);
	p.e[SRV].qlen -= 5;
	p.e[SRV].eof = EOF_NOW;
	shuttle(&p);
	rd_join_eof(&cd);
	assert_int_equal(cd.got, 6);
	expect_eof_clean(p.e[CLI].w, 0);
	assert_int_equal(weft_reader_exception(p.e[CLI].r), 0);
	pair_free(&p);
}

WT_CASE(eof_mid_record)
{
	each_feed(sc_eof_mid_record);
}

/* ---- Handshakes that do not finish --------------------------------------- */

/*
 * The client (or the server) closes or aborts during its handshake,
 * after a few pieces were moved: its handshake returns at once with -ECONNABORTED,
 * and the peer's ends, in success or a clean failure.
 */
static void
mid_handshake(const struct ctxs *x, int who, int pieces, int abort)
{
	struct pair p;
	struct end *e, *o;

	pair_open(&p, x->srv, x->cli);
	shuttle_pieces(&p, pieces);
	e = &p.e[who];
	o = &p.e[1 - who];
	if (state_of(p.e[CLI].w) != S_HANDSHAKE ||
	    state_of(p.e[SRV].w) != S_HANDSHAKE)
		fail_msg("the handshake ended within %d pieces", pieces);
	if (abort)
		weft_abort(e->w);
	else
		weft_close(e->w);
	assert_int_equal(state_of(e->w), S_DONE);
	shuttle(&p);
	pair_join(&p);
	expect_rc(e, -ECONNABORTED, who == SRV ? "server" : "client");
	assert_true(e->w->w_lost);
	if (o->rc != 0) {
		expect_rc(o, WEFT_ETLS, who == SRV ? "client" : "server");
		assert_true(strlen(weft_tls_error(o->w)) > 0);
		assert_int_equal(state_of(o->w), S_FAILED);
		assert_true(o->w->w_lost);
	}
	pair_free(&p);
}

static void
sc_close_in_handshake(const struct ctxs *x)
{
	/* Byte by byte, a handshake takes far more than 600 pieces. */
	int pieces[3] = { 0, 1, feed.mode == FEED_BYTES ? 600 : 1 };
	int i;

	for (i = 0; i < 3; i++) {
		mid_handshake(x, CLI, pieces[i], 0);
		mid_handshake(x, CLI, pieces[i], 1);
		mid_handshake(x, SRV, pieces[i], 0);
		mid_handshake(x, SRV, pieces[i], 1);
	}
}

WT_CASE(close_and_abort_during_handshake)
{
	each_feed(sc_close_in_handshake);
}

/* Not a ClientHello: the server fails with a reason at once (no EOF
 * needed), writes at most an alert, and closes. */
static void
sc_garbage(const struct ctxs *x)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	char noise[2048];
	struct pair p;
	size_t i;
	int k;

	for (k = 0; k < 2; k++) {
		pair_open(&p, x->srv, NULL);
		if (k == 0) {
			assert_int_equal(weft_write(p.e[CLI].w, req,
					     sizeof(req) - 1),
			    0);
			p.e[CLI].eof = EOF_HOLD;
		} else {
			/* A record header, then noise, then EOF. */
			for (i = 0; i < sizeof(noise); i++)
				noise[i] = (char)(i * 131 + feed.seed);
			memcpy(noise, "\x16\x03\x01\x01\x00\x01", 6);
			assert_int_equal(weft_write(p.e[CLI].w, noise,
					     sizeof(noise)),
			    0);
			p.e[CLI].eof = EOF_NOW;
		}
		shuttle(&p);
		pair_join(&p);
		expect_rc(&p.e[SRV], WEFT_ETLS, "server");
		assert_true(strlen(weft_tls_error(p.e[SRV].w)) > 0);
		assert_int_equal(state_of(p.e[SRV].w), S_FAILED);
		assert_true(p.e[SRV].w->w_lost);
		/* The plain client got an alert at most, and the end. */
		assert_true(weft_reader_buffer(p.e[CLI].r).len <= 7);
		assert_true(p.e[CLI].r->r_eof);
		pair_free(&p);
	}
}

WT_CASE(garbage_instead_of_client_hello)
{
	each_feed(sc_garbage);
}

/* EOF in the middle of the ClientHello (the server fails), or of the
 * server's answer (the client fails): cleanly, with a reason. */
static void
sc_truncated(const struct ctxs *x)
{
	struct pair p;
	struct end *e;
	int who;

	for (who = 0; who < 2; who++) {
		pair_open(&p, x->srv, x->cli);
		if (who == CLI)
			shuttle_from(&p, 1 << CLI);
		e = &p.e[1 - who];
		collect(e);
		assert_true(e->qlen > 10);
		e->qlen /= 2;
		e->eof = EOF_NOW;
		shuttle(&p);
		pair_join(&p);
		expect_rc(&p.e[who], WEFT_ETLS,
		    who == SRV ? "server" : "client");
		assert_non_null(strstr(weft_tls_error(p.e[who].w), "closed"));
		assert_int_equal(state_of(p.e[who].w), S_FAILED);
		/* Its peer, left without an answer, fails too. */
		assert_int_not_equal(p.e[1 - who].rc, 0);
		pair_free(&p);
	}
}

WT_CASE(truncated_handshake)
{
	each_feed(sc_truncated);
}

int
main(int argc, char **argv)
{
	const char *srcdir = getenv("srcdir");
	const char *seed = getenv("TLS_FAKE_SEED");
	char cmd[512];
	int rc;

	feed.base = seed != NULL ? (uint32_t)strtoul(seed, NULL, 0) : 1;
	signal(SIGABRT, on_abort);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-tls-fake-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(certdir, sizeof(certdir), "%s/certs", tmpdir);
	snprintf(cmd, sizeof(cmd), "sh %s/tests/tls/mkcerts.sh %s",
	    srcdir != NULL ? srcdir : ".", certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_tls_fake: %s failed\n", cmd);
		return 1;
	}
	WT_TIMEOUT(120);
	rc = wt_run_cases(argc, argv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
