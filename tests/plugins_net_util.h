/*
 * Shared by the programs running the shipped plugins over loopback
 * (tests/test_plugins_net.c, tests/test_plugins_proxy.c): loading and
 * initialising a plugin, serving it, and client helpers.  Static inline
 * so that a program may leave some unused.
 */
#ifndef PLUGINS_NET_UTIL_H
#define PLUGINS_NET_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/server.h>
#include <weft/stream.h>

#include "config.h"
#include "harness.h"
#include "loader.h"

#define LOCALHOST "127.0.0.1"

static char tmpdir[64];
static char big[1 << 20]; /* never on a 64 KiB fiber stack */
static char back[1 << 20];

/* ---- Plugins ------------------------------------------------------------ */

/* A plugin stanza as the config parser would build it. */
#define MAX_SETTINGS 8
struct stanza {
	struct conf_plugin cp;
	struct conf_setting set[MAX_SETTINGS];
	char path[512];
};

/*
 * Load a plugin with the settings kv: NULL, or key, value, key, value...
 * NULL.  They are text, as INI gives them, on lines 2, 3 and so on of
 * "test.conf" (the stanza is line 1).
 */
static inline struct plugin *
load_kv(struct stanza *st, const char *name, const char *file,
    const char *const *kv, char **cause)
{
	struct plugin *p = NULL;
	size_t i;

	memset(st, 0, sizeof(*st));
	snprintf(st->path, sizeof(st->path), "%s/%s", PLUGIN_BUILD_DIR, file);
	st->cp.name = (char *)name;
	st->cp.path = (char *)file;
	st->cp.abspath = st->path;
	st->cp.settings = st->set;
	st->cp.line = 1;
	for (i = 0; kv != NULL && kv[2 * i] != NULL; i++) {
		assert_true(i < MAX_SETTINGS);
		st->set[i].key = (char *)kv[2 * i];
		st->set[i].value = (char *)kv[2 * i + 1];
		st->set[i].type = CONF_T_STR;
		st->set[i].line = 2 + (int)i;
	}
	st->cp.nsettings = i;
	*cause = NULL;
	if (plugin_load(&st->cp, &p, cause) != 0)
		fail_msg("load: %s", *cause);
	/* A refusal leaves its text in *cause, for the caller to judge. */
	if (plugin_init(p, "test.conf", 0, cause) != 0 && *cause == NULL)
		fail_msg("init failed without a message");
	return p;
}

static inline struct plugin *
load(struct stanza *st, const char *name, const char *file, const char *key,
    const char *value)
{
	const char *kv[3] = { key, value, NULL };
	struct plugin *p;
	char *cause;

	p = load_kv(st, name, file, key != NULL ? kv : NULL, &cause);
	if (cause != NULL)
		fail_msg("init: %s", cause);
	return p;
}

/* Load with the settings kv (see load_kv), which init must accept. */
static inline struct plugin *
load_with(struct stanza *st, const char *name, const char *file,
    const char *const *kv)
{
	struct plugin *p;
	char *cause;

	p = load_kv(st, name, file, kv, &cause);
	if (cause != NULL)
		fail_msg("init: %s", cause);
	return p;
}

/* init must refuse the settings kv with exactly the text want. */
static inline void
refused(const char *name, const char *file, const char *const *kv,
    const char *want)
{
	struct stanza st;
	struct plugin *p;
	char *cause;

	p = load_kv(&st, name, file, kv, &cause);
	if (cause == NULL)
		fail_msg("%s: init accepted settings it should refuse", name);
	assert_string_equal(cause, want);
	free(cause);
	plugin_unload(&p);
}

/* Milliseconds on the monotonic clock. */
static inline double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Serve the plugin on an ephemeral loopback port, as a worker would:
 * client_connected is the server's callback and the plugin's state its
 * argument. */
static inline int
serve(struct plugin *p, ssize_t limit, weft_server_t **srv)
{
	weft_stream_opts_t opts;

	memset(&opts, 0, sizeof(opts));
	opts.limit = limit;
	*srv = NULL;
	assert_int_equal(weft_start_server(p->p_desc->client_connected,
			     p->p_state, LOCALHOST, 0, &opts, srv),
	    0);
	assert_true(weft_server_port(*srv) > 0);
	return weft_server_port(*srv);
}

/* ---- Client helpers ----------------------------------------------------- */

static inline void
connect_tcp(int port, weft_reader_t **r, weft_writer_t **w)
{
	*r = NULL;
	*w = NULL;
	assert_int_equal(weft_open_connection(LOCALHOST, port, NULL, r, w), 0);
}

static inline void
send_str(weft_writer_t *w, const char *s)
{
	assert_int_equal(weft_write(w, s, strlen(s)), 0);
	assert_int_equal(weft_drain(w), 0);
}

/* The next bytes from r must be exactly s. */
static inline void
expect(weft_reader_t *r, const char *s)
{
	char buf[1024];
	size_t n = strlen(s), got = 0;
	int rc;

	assert_true(n <= sizeof(buf));
	rc = weft_readexactly(r, buf, (ssize_t)n, &got);
	if (rc != 0)
		fail_msg("expected \"%s\": %s after %zu bytes \"%.*s\"", s,
		    weft_err_name(rc), got, (int)got, buf);
	assert_memory_equal(buf, s, n);
}

/* The peer must have closed with nothing more to read. */
static inline void
expect_eof(weft_reader_t *r)
{
	weft_slice_t all;
	int rc;

	rc = weft_read_all(r, 0, &all);
	if (rc != 0)
		fail_msg("expected EOF: %s", weft_err_name(rc));
	if (all.len != 0)
		fail_msg("expected EOF, got \"%.*s\"", (int)all.len, all.base);
}

static inline void
client_done(weft_writer_t *w)
{
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
}

static inline void
server_done(weft_server_t **srv)
{
	assert_int_equal(weft_server_close(*srv), 0);
	assert_int_equal(weft_server_wait_closed(*srv), 0);
	weft_server_free(srv);
}

/* Write 1 MiB of a pattern and read the same back. */
static inline void
roundtrip_big(weft_reader_t *r, weft_writer_t *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		big[i] = (char)(i * 7 + i / 251);
	/* No drain: weft_write buffers, so the echo can flow back while
	 * the rest is still going out. */
	assert_int_equal(weft_write(w, big, n), 0);
	assert_int_equal(weft_readexactly(r, back, (ssize_t)n, NULL), 0);
	assert_memory_equal(big, back, n);
}

/*
 * Send one byte every `every` ms, at most n times, until the server
 * answers or goes away; then the answer must be exactly want, followed
 * by the server's EOF or a reset.  The answer is looked at in the
 * reader's buffer first: a byte sent just after the server closed may
 * earn a reset, and the reader's sticky error must not hide what came
 * before it.
 */
static inline void
trickle_until_answered(weft_reader_t *r, weft_writer_t *w, int every, int n,
    const char *want)
{
	char got[256];
	size_t len = strlen(want);
	weft_slice_t b, all;
	int i, rc;

	assert_true(len <= sizeof(got));
	for (i = 0; i < n; i++) {
		b = weft_reader_buffer(r);
		if (b.len > 0 || weft_at_eof(r) || weft_reader_exception(r))
			break;
		(void)weft_write(w, "x", 1); /* it may fail: see above */
		weft_sleep((uint64_t)every);
	}
	if (i == n)
		fail_msg("no answer after %d bytes %d ms apart", n, every);
	/* The rest of the answer: up to 5 s. */
	for (i = 0; i < 500 && weft_reader_buffer(r).len < len &&
	     !weft_at_eof(r) && !weft_reader_exception(r);
	     i++)
		weft_sleep(10);
	b = weft_reader_buffer(r);
	if (b.len < len || memcmp(b.base, want, len) != 0)
		fail_msg("expected \"%s\", got \"%.*s\" (%s)", want, (int)b.len,
		    b.base, weft_err_name(weft_reader_exception(r)));
	if (weft_reader_exception(r) != 0) {
		assert_int_equal(b.len, len); /* nothing after it */
		return;
	}
	assert_int_equal(weft_read(r, got, len), (ssize_t)len);
	rc = weft_read_all(r, 0, &all);
	if (rc == 0 && all.len != 0)
		fail_msg("expected the end after \"%s\", got \"%.*s\"", want,
		    (int)all.len, all.base);
	if (rc != 0 && rc != -ECONNRESET)
		fail_msg("expected the end after \"%s\": %s", want,
		    weft_err_name(rc));
}

#endif /* PLUGINS_NET_UTIL_H */
