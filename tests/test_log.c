/*
 * weftd's logger (daemon/log.c): the rate limit on repeated messages.
 * stderr, where every line goes, is a temporary file here; each test
 * reads back what was written and counts lines.  The window is made
 * short (log_ratelimit) so that a test sees one end without waiting
 * 5 s; the waits are sleeps past it, and nothing asserts how long
 * anything took.
 */
#include "autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/plugin.h>

#include "harness.h"
#include "log.h"

#define WINDOW_MS 300
#define BURST 10

static char outpath[64];
static int saved_stderr = -1;
static char out[1 << 20];

/* From here on, stderr is a fresh empty file. */
static void
capture(void)
{
	int fd;

	snprintf(outpath, sizeof(outpath), "/tmp/weft-test-log-XXXXXX");
	assert_true((fd = mkstemp(outpath)) >= 0);
	if (saved_stderr < 0)
		assert_true((saved_stderr = dup(STDERR_FILENO)) >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

/* stderr back, and what was written to it in out. */
static void
captured(void)
{
	FILE *f;
	size_t n;

	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	assert_non_null(f = fopen(outpath, "r"));
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	unlink(outpath);
}

/* Lines of out containing needle. */
static int
count(const char *needle)
{
	const char *p = out, *nl;
	int n = 0;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		assert_non_null(nl); /* every line is whole */
		if (memmem(p, (size_t)(nl - p), needle, strlen(needle)) != NULL)
			n++;
		p = nl + 1;
	}
	return n;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* One message 1000 times (with a number that changes, as a port or a pid
 * would): BURST lines, then, after the window, one line that counts the
 * rest, before the next line logged. */
WT_TEST(repeats_suppressed)
{
	int i;

	capture();
	for (i = 0; i < 1000; i++)
		log_warnx("proxy: upstream 127.0.0.1:%d: Connection refused",
		    1000 + i);
	sleep_ms(WINDOW_MS + 100);
	log_notice("something else");
	captured();
	assert_int_equal(count("Connection refused"), BURST + 1);
	assert_int_equal(count("suppressed 990 similar messages"), 1);
	assert_int_equal(count("suppressed"), 1);
	/* The summary says what was suppressed, and comes first. */
	assert_non_null(strstr(out,
	    "suppressed 990 similar messages (more "
	    "than 10 in 300 ms): proxy: upstream 127.0.0.1:1000: Connection "
	    "refused\n"));
	assert_true(strstr(out, "suppressed") < strstr(out, "something else"));
	assert_int_equal(count("something else"), 1);
	assert_int_equal(count("worker 0: warning: proxy"), BURST);
}

/* A new window lets the message through again. */
WT_TEST(next_window)
{
	int i;

	capture();
	for (i = 0; i < 50; i++)
		log_warnx("flood %d", i);
	sleep_ms(WINDOW_MS + 100);
	for (i = 0; i < 50; i++)
		log_warnx("flood %d", i);
	captured();
	assert_int_equal(count("suppressed 40 similar messages"), 1);
	assert_int_equal(count("warning: flood "), 2 * BURST);
}

/* One message's flood does not suppress others; each has its own burst. */
WT_TEST(distinct_messages)
{
	int i;

	capture();
	for (i = 0; i < 1000; i++) {
		log_warnx("upstream down %d", i);
		if (i % 100 == 0) {
			log_warnx("worker started");
			log_info("listening on port %d", i);
		}
	}
	captured();
	assert_int_equal(count("upstream down"), BURST);
	assert_int_equal(count("worker started"), 10);
	assert_int_equal(count("listening on port"), 10);
	assert_int_equal(count("suppressed"), 0); /* not yet: window on */
}

/* Plugins log through weft_log(), which lands in the same limiter. */
WT_TEST(weft_log_limited)
{
	int i;

	capture();
	for (i = 0; i < 500; i++)
		weft_log(WEFT_LOG_WARNING,
		    "proxy: upstream 10.0.0.1:%d: "
		    "Connection refused",
		    i);
	sleep_ms(WINDOW_MS + 100);
	weft_log(WEFT_LOG_INFO, "done");
	captured();
	assert_int_equal(count("Connection refused"), BURST + 1);
	assert_int_equal(count("suppressed 490 similar messages"), 1);
}

/* A report (log_lines: every config error) is written whole. */
WT_TEST(log_lines_unlimited)
{
	char text[64 * 40];
	size_t n = 0;
	int i;

	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "weftd.conf:%d: bad value\n", i + 1);
	capture();
	log_lines(WEFT_LOG_ERR, text);
	captured();
	assert_int_equal(count("bad value"), 40);
	assert_int_equal(count("suppressed"), 0);
}

/* The supervisor's lines are its own events (each reload, each worker
 * ready) and are not limited; nor is anything with burst 0. */
WT_TEST(supervisor_unlimited)
{
	int i;

	log_procinit("supervisor");
	capture();
	for (i = 0; i < 50; i++)
		log_info("worker %d (pid %d) ready", i % 2, 1000 + i);
	captured();
	log_procinit("worker 0");
	assert_int_equal(count(") ready"), 50);
}

/* burst 0: no limit. */
WT_TEST(limit_off)
{
	int i;

	log_ratelimit(0, WINDOW_MS);
	capture();
	for (i = 0; i < 200; i++)
		log_warnx("same %d", i);
	captured();
	assert_int_equal(count("same"), 200);
}

int
main(int argc, char **argv)
{
	unsetenv("JOURNAL_STREAM");
	log_procinit("worker 0"); /* workers are the limited role */
	log_setlevel(WEFT_LOG_DEBUG);
	/* Every case starts from this limit (each runs in a fork of this
	 * process). */
	log_ratelimit(BURST, WINDOW_MS);
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
