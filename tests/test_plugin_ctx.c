/*
 * The plugin context API directly (tests/plugin_util.h): typed
 * settings conversions, durations, host:port parsing, the error
 * messages a plugin adds, and weft_metrics_read's host source.
 */
#include "plugin_util.h"

/* ---- The context API directly ------------------------------------------- */

static weft_plugin_ctx_t *
ctx_with(const char *key, const char *value, int type)
{
	weft_plugin_ctx_t *ctx = NULL;

	assert_int_equal(weft_plugin_ctx_new("t", 1, 0, &ctx), 0);
	assert_int_equal(weft_plugin_ctx_add(ctx, key, value, type, 2), 0);
	return ctx;
}

/* Reading text as an int must give want and record no error. */
static void
int_is(const char *text, int64_t want)
{
	weft_plugin_ctx_t *ctx = ctx_with("k", text, WEFT_SETTING_STR);
	char *out = NULL;

	assert_true(weft_setting_int(ctx, "k", -999) == want);
	if (weft_plugin_ctx_errors(ctx, "f", &out) != 0)
		fail_msg("'%s': %s", text, out);
	weft_plugin_ctx_free(&ctx);
	assert_null(ctx);
}

/* Reading text as an int must give the default and record an error. */
static void
int_bad(const char *text)
{
	weft_plugin_ctx_t *ctx = ctx_with("k", text, WEFT_SETTING_STR);
	char *out = NULL;

	assert_true(weft_setting_int(ctx, "k", -999) == -999);
	if (weft_plugin_ctx_errors(ctx, "f", &out) != 1)
		fail_msg("'%s' accepted as an int", text);
	free(out);
	weft_plugin_ctx_free(&ctx);
}

WT_TEST(ctx_int_conversions)
{
	int_is("42", 42);
	int_is("-7", -7);
	int_is("+7", 7);
	int_is("0", 0);
	int_is("010", 10); /* decimal, not octal */
	int_is("0x1f", 31);
	int_is("0X1F", 31);
	int_is("9223372036854775807", INT64_MAX);
	int_is("-9223372036854775808", INT64_MIN);
	int_bad("");
	int_bad("abc");
	int_bad(" 42");
	int_bad("42 ");
	int_bad("4.0");
	int_bad("0x");
	int_bad("--1");
	int_bad("1e3");
	int_bad("true");
	int_bad("9223372036854775808");
}

static void
bool_is(const char *text, int want)
{
	weft_plugin_ctx_t *ctx = ctx_with("k", text, WEFT_SETTING_STR);
	char *out = NULL;

	assert_int_equal(weft_setting_bool(ctx, "k", -1), want);
	assert_int_equal(weft_plugin_ctx_errors(ctx, "f", &out),
	    want == -1 ? 1 : 0);
	free(out);
	weft_plugin_ctx_free(&ctx);
}

WT_TEST(ctx_bool_conversions)
{
	bool_is("yes", 1);
	bool_is("true", 1);
	bool_is("on", 1);
	bool_is("1", 1);
	bool_is("YES", 1);
	bool_is("True", 1);
	bool_is("no", 0);
	bool_is("false", 0);
	bool_is("off", 0);
	bool_is("0", 0);
	bool_is("OFF", 0);
	bool_is("maybe", -1);
	bool_is("", -1);
	bool_is("2", -1);
	bool_is("yes ", -1);
}

static void
double_is(const char *text, double want, int ok)
{
	weft_plugin_ctx_t *ctx = ctx_with("k", text, WEFT_SETTING_STR);
	char *out = NULL;

	assert_true(weft_setting_double(ctx, "k", -1.0) == want);
	assert_int_equal(weft_plugin_ctx_errors(ctx, "f", &out), ok ? 0 : 1);
	free(out);
	weft_plugin_ctx_free(&ctx);
}

WT_TEST(ctx_double_conversions)
{
	double_is("1.5", 1.5, 1);
	double_is("30", 30.0, 1);
	double_is("-0.25", -0.25, 1);
	double_is("1e3", 1000.0, 1);
	double_is("", -1.0, 0);
	double_is("x", -1.0, 0);
	double_is(" 1", -1.0, 0);
	double_is("1.5s", -1.0, 0);
	double_is("inf", -1.0, 0);
	double_is("nan", -1.0, 0);
}

/* Reading text as a duration must give want milliseconds, or (want -1)
 * record exactly the error err for the setting at "f:2" of plugin "t". */
static void
ms_is(const char *text, int64_t want, const char *err)
{
	weft_plugin_ctx_t *ctx = ctx_with("k", text, WEFT_SETTING_STR);
	char *out = NULL, expect[256];

	assert_int_equal(weft_setting_ms(ctx, "k", 42), want < 0 ? 42 : want);
	if (err == NULL) {
		assert_int_equal(weft_plugin_ctx_errors(ctx, "f", &out), 0);
		assert_null(out);
	} else {
		snprintf(expect, sizeof(expect),
		    "f:2: plugin \"t\": setting 'k': "
		    "%s",
		    err);
		assert_int_equal(weft_plugin_ctx_errors(ctx, "f", &out), 1);
		assert_string_equal(out, expect);
		free(out);
	}
	weft_plugin_ctx_free(&ctx);
}

/* weft_setting_ms: seconds in, milliseconds out, a fraction of a
 * millisecond rounded up (so a tiny duration is not 0, "none"). */
WT_TEST(ctx_ms_conversions)
{
	weft_plugin_ctx_t *ctx = NULL;

	ms_is("30", 30000, NULL);
	ms_is("0", 0, NULL);
	ms_is("-0", 0, NULL);
	ms_is("0.25", 250, NULL);
	ms_is("1.5", 1500, NULL);
	ms_is("1e-3", 1, NULL);
	ms_is("0.0001", 1, NULL);
	ms_is("0.0015", 2, NULL);
	ms_is("86400", 86400000, NULL);
	ms_is("-1", -1, "expected a duration of 0 or more seconds, got '-1'");
	ms_is("-0.001", -1,
	    "expected a duration of 0 or more seconds, got "
	    "'-0.001'");
	ms_is("soon", -1, "expected a number, got 'soon'");
	ms_is("", -1, "expected a number, got ''");
	ms_is(" 1", -1, "expected a number, got ' 1'");
	ms_is("1s", -1, "expected a number, got '1s'");
	ms_is("inf", -1, "expected a number, got 'inf'");
	ms_is("1e300", -1, "duration out of range: '1e300'");
	/* Not set: the default, and no error. */
	assert_int_equal(weft_plugin_ctx_new("t", 1, 0, &ctx), 0);
	assert_int_equal(weft_setting_ms(ctx, "k", 7), 7);
	weft_plugin_ctx_free(&ctx);
}

/* Through a shipped plugin: its name and the setting's line. */
WT_TEST(ms_error_names_plugin_and_line)
{
	struct stanza st;

	stanza_init(&st, "lines", PLUGIN_BUILD_DIR, "lines.so", 12);
	stanza_set(&st, "idle_timeout", "-2", CONF_T_STR, 14);
	init_refused(&st,
	    CONF ":14: plugin \"lines\": setting 'idle_timeout': "
		 "expected a duration of 0 or more seconds, got '-2'");
	stanza_init(&st, "http-hello", PLUGIN_BUILD_DIR, "http-hello.so", 12);
	stanza_set(&st, "send_timeout", "0.5", CONF_T_FLOAT, 13);
	stanza_set(&st, "body_timeout", "later", CONF_T_STR, 15);
	init_refused(&st,
	    CONF ":15: plugin \"http-hello\": setting "
		 "'body_timeout': expected a number, got 'later'");
}

/* Parse text as host:port: want host and port, or (host NULL) err. */
static void
hostport_is(const char *text, const char *host, int port, const char *err)
{
	char h[WEFT_HOST_MAX], msg[512];
	int p = -1;

	if (host != NULL) {
		assert_int_equal(weft_hostport_parse(text, h, sizeof(h), &p,
				     msg, sizeof(msg)),
		    0);
		assert_string_equal(h, host);
		assert_int_equal(p, port);
		return;
	}
	assert_int_equal(weft_hostport_parse(text, h, sizeof(h), &p, msg,
			     sizeof(msg)),
	    -EINVAL);
	assert_string_equal(msg, err);
	assert_int_equal(weft_hostport_parse(text, h, sizeof(h), &p, NULL, 0),
	    -EINVAL);
}

/* weft_hostport_parse: the forms weftd's tcp setting and proxy's
 * upstream take, and what it says about a bad one. */
WT_TEST(hostport_parse)
{
	char small[4];
	int port;

	hostport_is("127.0.0.1:7000", "127.0.0.1", 7000, NULL);
	hostport_is("[::1]:80", "::1", 80, NULL);
	hostport_is("[fe80::1%eth0]:80", "fe80::1%eth0", 80, NULL);
	hostport_is("localhost:65535", "localhost", 65535, NULL);
	hostport_is("*:0", "", 0, NULL);
	hostport_is(":8080", "", 8080, NULL);
	hostport_is("nocolon", NULL, 0, "expected host:port");
	hostport_is("host:", NULL, 0, "missing port");
	hostport_is("host:80x", NULL, 0, "bad port \"80x\"");
	hostport_is("host:65536", NULL, 0,
	    "port 65536 is out of range "
	    "0..65535");
	hostport_is("host:123456", NULL, 0,
	    "port 123456 is out of range "
	    "0..65535");
	hostport_is("::1:80", NULL, 0,
	    "an IPv6 address needs brackets: "
	    "[address]:port");
	hostport_is("[::1]80", NULL, 0, "expected [address]:port");
	hostport_is("[::1", NULL, 0, "missing ']'");
	hostport_is("[zz]:80", NULL, 0, "bad IPv6 address \"zz\"");
	hostport_is("1.2.3.256:80", NULL, 0, "bad IPv4 address \"1.2.3.256\"");
	hostport_is("a b:80", NULL, 0, "bad host \"a b\"");
	/* A buffer too small for the host is an error, not a cut name. */
	assert_int_equal(weft_hostport_parse("example:1", small, sizeof(small),
			     &port, NULL, 0),
	    -EINVAL);
}

WT_TEST(ctx_str_reads_any_type)
{
	weft_plugin_ctx_t *ctx = NULL;
	char *out = NULL;

	assert_int_equal(weft_plugin_ctx_new("t", 1, 0, &ctx), 0);
	assert_int_equal(weft_plugin_ctx_add(ctx, "a", "42", WEFT_SETTING_INT,
			     2),
	    0);
	assert_int_equal(weft_plugin_ctx_add(ctx, "b", "true",
			     WEFT_SETTING_BOOL, 3),
	    0);
	assert_string_equal(weft_setting_str(ctx, "a", NULL), "42");
	assert_string_equal(weft_setting_str(ctx, "b", NULL), "true");
	assert_string_equal(weft_setting_str(ctx, "c", "def"), "def");
	assert_null(weft_setting_str(ctx, "c", NULL));
	assert_int_equal(weft_plugin_ctx_errors(ctx, "f", &out), 0);
	assert_null(out);
	weft_plugin_ctx_free(&ctx);
}

WT_TEST(ctx_add_errors)
{
	weft_plugin_ctx_t *ctx = NULL;

	assert_int_equal(weft_plugin_ctx_new(NULL, 1, 0, &ctx), -EINVAL);
	assert_null(ctx);
	assert_int_equal(weft_plugin_ctx_new("t", 1, 7, &ctx), 0);
	assert_string_equal(weft_plugin_name(ctx), "t");
	assert_int_equal(weft_plugin_worker(ctx), 7);
	assert_int_equal(weft_plugin_ctx_add(ctx, "a", "1", WEFT_SETTING_STR,
			     2),
	    0);
	assert_int_equal(weft_plugin_ctx_add(ctx, "a", "2", WEFT_SETTING_STR,
			     3),
	    -EEXIST);
	assert_int_equal(weft_plugin_ctx_add(ctx, "b", "1", 0, 3), -EINVAL);
	assert_int_equal(weft_plugin_ctx_add(ctx, "b", "1", 5, 3), -EINVAL);
	assert_int_equal(weft_plugin_ctx_add(ctx, NULL, "1", 1, 3), -EINVAL);
	assert_int_equal(weft_plugin_ctx_add(ctx, "b", NULL, 1, 3), -EINVAL);
	weft_plugin_ctx_free(&ctx);
	weft_plugin_ctx_free(&ctx); /* NULL is fine */
}

/* A plugin error tied to an absent key gets the stanza's line; a later
 * good read clears an earlier type error. */
WT_TEST(ctx_plugin_errors)
{
	weft_plugin_ctx_t *ctx = NULL;
	char *out = NULL;

	assert_int_equal(weft_plugin_ctx_new("my-plugin", 7, 0, &ctx), 0);
	assert_int_equal(weft_plugin_ctx_add(ctx, "n", "x", WEFT_SETTING_STR,
			     9),
	    0);
	assert_int_equal(weft_plugin_ctx_add(ctx, "m", "5", WEFT_SETTING_STR,
			     8),
	    0);
	assert_int_equal(weft_setting_int(ctx, "n", 3), 3);
	assert_string_equal(weft_setting_str(ctx, "n", NULL), "x");
	assert_int_equal(weft_plugin_error(ctx, "missing", "needed %d", 1),
	    -EINVAL);
	assert_int_equal(weft_plugin_error(ctx, "m", "too %s", "big"), -EINVAL);
	assert_int_equal(weft_plugin_error(ctx, NULL, "whole"), -EINVAL);
	assert_int_equal(weft_plugin_ctx_errors(ctx, "/etc/w.ini", &out), 3);
	assert_string_equal(out,
	    "/etc/w.ini:7: plugin \"my-plugin\": setting 'missing': needed 1\n"
	    "/etc/w.ini:7: plugin \"my-plugin\": whole\n"
	    "/etc/w.ini:8: plugin \"my-plugin\": setting 'm': too big");
	free(out);
	weft_plugin_ctx_free(&ctx);
}

/* A fake host source: the format's number, as text. */
static ssize_t
fake_metrics(int format, char *buf, size_t size)
{
	return snprintf(buf, size, "format %d", format);
}

/* weft_metrics_read: refused without a host, then the host's text. */
WT_TEST(metrics_read_host_source)
{
	char buf[16];

	assert_int_equal(weft_metrics_read(WEFT_METRICS_PROMETHEUS, buf,
			     sizeof(buf)),
	    -ENOTSUP);
	weft_metrics_set_source(fake_metrics);
	assert_int_equal(weft_metrics_read(0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(weft_metrics_read(WEFT_METRICS_JSON, buf, sizeof(buf)),
	    8);
	assert_string_equal(buf, "format 2");
	/* Too small: the whole length, as snprintf says it. */
	assert_int_equal(weft_metrics_read(WEFT_METRICS_PROMETHEUS, buf, 4), 8);
	weft_metrics_set_source(NULL);
	assert_int_equal(weft_metrics_read(WEFT_METRICS_JSON, buf, sizeof(buf)),
	    -ENOTSUP);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
