/*
 * The settings context a plugin's init reads its configuration from, and
 * the host side that fills it and reports what init made of it.
 *
 * Both halves live in libweft because weftd and the plugins it loads link
 * the same shared libweft: weftd's loader builds a context with
 * weft_plugin_ctx_new/add, the plugin's init calls the getters on it,
 * and the loader then asks weft_plugin_ctx_errors for the verdict.
 * Everything here runs at init time, in a worker (or in `weftd -t` and
 * the reload probe); nothing is thread-safe.
 *
 * Getters never allocate: a conversion error is recorded as a code in
 * the setting itself and only turned into text by weft_plugin_ctx_errors.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <weft/plugin.h>

#include "internal.h"

#define CTX_MAGIC 0x57504358u /* "WPCX" */
#define CTX_ASKED 32	      /* missing keys remembered for suggestions */
#define CTX_KEYLEN 64	      /* longer keys are not remembered */

/* What a getter found wrong with a value. */
enum {
	SERR_NONE = 0,
	SERR_INT,      /* not an integer */
	SERR_RANGE,    /* an integer out of int64_t's range */
	SERR_BOOL,     /* not a boolean */
	SERR_NUMBER,   /* not a finite number */
	SERR_NEGATIVE, /* a duration below 0 */
	SERR_LONG,     /* a duration too long for int64_t milliseconds */
};

struct setting {
	char *s_key;
	char *s_value;
	int s_type;
	int s_line;
	int s_read; /* a getter asked for it */
	int s_err;  /* SERR_*, from the last getter that asked */
};

struct plugerr {
	int e_line;
	char *e_key; /* NULL when the error is not tied to a setting */
	char *e_msg;
};

struct weft_plugin_ctx {
	uint32_t c_magic; /* CTX_MAGIC: plugins hold this pointer */
	int c_line;	  /* the plugin stanza's line */
	int c_worker;
	char *c_name;
	struct setting *c_set;
	size_t c_nset;
	struct plugerr *c_err; /* weft_plugin_error messages */
	size_t c_nerr;
	size_t c_nlost; /* messages lost to a failed allocation */
	int c_failed;	/* what init returned, if it failed */
	/* Keys a getter asked for and did not find: what a mistyped
	 * setting was probably meant to be.  Copied, since the plugin's
	 * strings may not outlive init, into room allocated with the
	 * context: getters never allocate. */
	char c_asked[CTX_ASKED][CTX_KEYLEN];
	size_t c_nasked;
};

/* One line of the report, before formatting. */
struct report {
	int r_line;
	size_t r_seq; /* insertion order: the sort is stable */
	const char *r_key;
	const char *r_fmt; /* printf format taking key and value */
	const char *r_value;
	const char *r_msg;  /* a plugin message, used as is */
	const char *r_hint; /* an unknown setting's likely meaning */
};

static void
ctx_check(const weft_plugin_ctx_t *ctx)
{
	WEFT__ASSERT(ctx != NULL && ctx->c_magic == CTX_MAGIC);
}

static struct setting *
ctx_find(weft_plugin_ctx_t *ctx, const char *key)
{
	size_t i;

	if (key == NULL)
		return NULL;
	for (i = 0; i < ctx->c_nset; i++)
		if (strcmp(ctx->c_set[i].s_key, key) == 0)
			return &ctx->c_set[i];
	return NULL;
}

/* ---- Host side ---------------------------------------------------------- */

int
weft_plugin_ctx_new(const char *name, int line, int worker,
    weft_plugin_ctx_t **out)
{
	weft_plugin_ctx_t *ctx;

	WEFT__ASSERT(out != NULL && *out == NULL);
	if (name == NULL)
		return -EINVAL;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return -ENOMEM;
	if ((ctx->c_name = strdup(name)) == NULL) {
		free(ctx);
		return -ENOMEM;
	}
	ctx->c_magic = CTX_MAGIC;
	ctx->c_line = line;
	ctx->c_worker = worker;
	*out = ctx;
	return 0;
}

int
weft_plugin_ctx_add(weft_plugin_ctx_t *ctx, const char *key, const char *value,
    int type, int line)
{
	struct setting *set, *s;

	ctx_check(ctx);
	if (key == NULL || value == NULL || type < WEFT_SETTING_STR ||
	    type > WEFT_SETTING_FLOAT)
		return -EINVAL;
	if (ctx_find(ctx, key) != NULL)
		return -EEXIST;
	set = realloc(ctx->c_set, (ctx->c_nset + 1) * sizeof(*set));
	if (set == NULL)
		return -ENOMEM;
	ctx->c_set = set;
	s = &set[ctx->c_nset];
	memset(s, 0, sizeof(*s));
	s->s_key = strdup(key);
	s->s_value = strdup(value);
	if (s->s_key == NULL || s->s_value == NULL) {
		free(s->s_key);
		free(s->s_value);
		return -ENOMEM;
	}
	s->s_type = type;
	s->s_line = line;
	ctx->c_nset++;
	return 0;
}

void
weft_plugin_ctx_free(weft_plugin_ctx_t **ctxp)
{
	weft_plugin_ctx_t *ctx;
	size_t i;

	if (ctxp == NULL || (ctx = *ctxp) == NULL)
		return;
	ctx_check(ctx);
	for (i = 0; i < ctx->c_nset; i++) {
		free(ctx->c_set[i].s_key);
		free(ctx->c_set[i].s_value);
	}
	for (i = 0; i < ctx->c_nerr; i++) {
		free(ctx->c_err[i].e_key);
		free(ctx->c_err[i].e_msg);
	}
	free(ctx->c_set);
	free(ctx->c_err);
	free(ctx->c_name);
	ctx->c_magic = 0;
	free(ctx);
	*ctxp = NULL;
}

static int
report_cmp(const void *a, const void *b)
{
	const struct report *x = a, *y = b;

	if (x->r_line != y->r_line)
		return x->r_line < y->r_line ? -1 : 1;
	return x->r_seq < y->r_seq ? -1 : x->r_seq > y->r_seq;
}

/* Append one formatted piece to a growing string; -ENOMEM on failure. */
static int append(char **, size_t *, size_t *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static int
append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	char *nbuf;
	size_t ncap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (*len + (size_t)n + 1 > *cap) {
		ncap = *cap == 0 ? 256 : *cap;
		while (*len + (size_t)n + 1 > ncap)
			ncap *= 2;
		if ((nbuf = realloc(*buf, ncap)) == NULL)
			return -ENOMEM;
		*buf = nbuf;
		*cap = ncap;
	}
	va_start(ap, fmt);
	vsnprintf(*buf + *len, *cap - *len, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
	return 0;
}

static const char *
serr_format(int err)
{
	switch (err) {
	case SERR_INT:
		return "setting '%s': expected an integer, got '%s'";
	case SERR_RANGE:
		return "setting '%s': integer out of range: '%s'";
	case SERR_BOOL:
		return "setting '%s': expected a boolean (true/false, "
		       "yes/no, on/off, 1/0), got '%s'";
	case SERR_NEGATIVE:
		return "setting '%s': expected a duration of 0 or more "
		       "seconds, got '%s'";
	case SERR_LONG:
		return "setting '%s': duration out of range: '%s'";
	default:
		return "setting '%s': expected a number, got '%s'";
	}
}

static int
fold(int c)
{
	return c == '-' ? '_' : tolower(c);
}

/*
 * The optimal string alignment distance (a swap of neighbours is one
 * edit) of a and b; -1 if one is CTX_KEYLEN long or more.  Three rows,
 * not a matrix: this may run on a fiber's small stack.
 */
static int
distance(const char *a, const char *b)
{
	int rows[3][CTX_KEYLEN + 1], *p2, *p1, *cur, best;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la >= CTX_KEYLEN || lb >= CTX_KEYLEN)
		return -1;
	for (j = 0; j <= lb; j++)
		rows[0][j] = (int)j;
	for (i = 1; i <= la; i++) {
		/* Row i is rows[i % 3]. */
		p2 = rows[(i + 1) % 3];
		p1 = rows[(i + 2) % 3];
		cur = rows[i % 3];
		cur[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			best = p1[j - 1] + (fold(a[i - 1]) != fold(b[j - 1]));
			if (p1[j] + 1 < best)
				best = p1[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 &&
			    fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) &&
			    p2[j - 2] + 1 < best)
				best = p2[j - 2] + 1;
			cur[j] = best;
		}
	}
	return rows[la % 3][lb];
}

/* The key init asked for and did not find that key is most likely a
 * typo of: within 2 edits (1 for short keys), or a prefix; or NULL. */
static const char *
suggest(const weft_plugin_ctx_t *ctx, const char *key)
{
	const char *best = NULL, *a;
	size_t i, n, la, lk = strlen(key);
	int d, bestd = 4, max = lk <= 3 ? 1 : 2;

	for (i = 0; i < ctx->c_nasked; i++) {
		a = ctx->c_asked[i];
		la = strlen(a);
		n = la < lk ? la : lk;
		if ((d = distance(key, a)) == 0)
			d = 1; /* but for case or '-' and '_' */
		if (d < 0 || d > max)
			d = n >= 3 && strncasecmp(a, key, n) == 0 ? 3 : -1;
		if (d > 0 && d < bestd) {
			bestd = d;
			best = a;
		}
	}
	return best;
}

/* The report's lines for the settings: bad values and unknown ones. */
static size_t
report_settings(const weft_plugin_ctx_t *ctx, struct report *rep)
{
	const struct setting *s;
	const char *hint;
	size_t i, nrep = 0;

	for (i = 0; i < ctx->c_nset; i++) {
		s = &ctx->c_set[i];
		if (s->s_read && s->s_err == SERR_NONE)
			continue;
		hint = s->s_read ? NULL : suggest(ctx, s->s_key);
		/* A failed init may have stopped before it: not unknown. */
		if (!s->s_read && ctx->c_failed != 0 && hint == NULL)
			continue;
		rep[nrep].r_line = s->s_line;
		rep[nrep].r_seq = nrep;
		rep[nrep].r_key = s->s_key;
		rep[nrep].r_value = s->s_value;
		rep[nrep].r_hint = hint;
		rep[nrep].r_fmt = s->s_read ? serr_format(s->s_err)
					    : "unknown setting '%s'";
		nrep++;
	}
	return nrep;
}

/* One report line, after its "FILE:LINE: plugin "NAME": ". */
static int
report_line(char **buf, size_t *len, size_t *cap, const struct report *r)
{
	if (r->r_msg != NULL && r->r_key != NULL)
		return append(buf, len, cap, "setting '%s': %s", r->r_key,
		    r->r_msg);
	if (r->r_msg != NULL)
		return append(buf, len, cap, "%s", r->r_msg);
	if (r->r_hint != NULL)
		return append(buf, len, cap,
		    "unknown setting '%s' (did you mean '%s'?)", r->r_key,
		    r->r_hint);
	return append(buf, len, cap, r->r_fmt, r->r_key, r->r_value);
}

void
weft_plugin_ctx_init_failed(weft_plugin_ctx_t *ctx, int err)
{
	ctx_check(ctx);
	ctx->c_failed = err < 0 ? err : -EINVAL;
}

int
weft_plugin_ctx_errors(const weft_plugin_ctx_t *ctx, const char *file,
    char **out)
{
	struct report *rep;
	char *buf = NULL, failed[128];
	size_t nrep, len = 0, cap = 0, i;
	int rc = 0;

	ctx_check(ctx);
	/* At most one line per setting (a bad value is also a read one),
	 * one per message, one for lost messages or a silent failure. */
	rep = calloc(ctx->c_nset + ctx->c_nerr + 1, sizeof(*rep));
	if (rep == NULL)
		return -ENOMEM;
	nrep = report_settings(ctx, rep);
	for (i = 0; i < ctx->c_nerr; i++) {
		rep[nrep].r_line = ctx->c_err[i].e_line;
		rep[nrep].r_seq = nrep;
		rep[nrep].r_key = ctx->c_err[i].e_key;
		rep[nrep].r_msg = ctx->c_err[i].e_msg;
		nrep++;
	}
	if (ctx->c_nlost > 0 || (ctx->c_failed != 0 && ctx->c_nerr == 0)) {
		snprintf(failed, sizeof(failed), "init failed (%s)",
		    ctx->c_nlost > 0 ? "out of memory while recording its error"
				     : weft_strerror(ctx->c_failed));
		rep[nrep].r_line = ctx->c_line;
		rep[nrep].r_seq = nrep;
		rep[nrep].r_msg = failed;
		nrep++;
	}
	if (nrep == 0) {
		free(rep);
		return 0;
	}
	qsort(rep, nrep, sizeof(*rep), report_cmp);
	if (file == NULL)
		file = "(config)";
	for (i = 0; i < nrep && rc == 0; i++) {
		rc = append(&buf, &len, &cap,
		    "%s%s:%d: plugin \"%s\": ", i > 0 ? "\n" : "", file,
		    rep[i].r_line, ctx->c_name);
		if (rc == 0)
			rc = report_line(&buf, &len, &cap, &rep[i]);
	}
	free(rep);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	return (int)nrep;
}

/* ---- Plugin side: getters ----------------------------------------------- */

/* Remember key as asked for and missing (once). */
static void
ctx_asked(weft_plugin_ctx_t *ctx, const char *key)
{
	size_t i;

	if (key == NULL || strlen(key) >= CTX_KEYLEN ||
	    ctx->c_nasked == CTX_ASKED)
		return;
	for (i = 0; i < ctx->c_nasked; i++)
		if (strcmp(ctx->c_asked[i], key) == 0)
			return;
	strcpy(ctx->c_asked[ctx->c_nasked++], key);
}

/*
 * Look a setting up for a getter: marks it read and clears an error an
 * earlier getter recorded.  NULL if not set (the getter returns def).
 */
static struct setting *
getter_find(weft_plugin_ctx_t *ctx, const char *key)
{
	struct setting *s;

	if (ctx == NULL)
		return NULL;
	ctx_check(ctx);
	if ((s = ctx_find(ctx, key)) == NULL) {
		ctx_asked(ctx, key);
		return NULL;
	}
	s->s_read = 1;
	s->s_err = SERR_NONE;
	return s;
}

const char *
weft_setting_str(weft_plugin_ctx_t *ctx, const char *key, const char *def)
{
	struct setting *s;

	if ((s = getter_find(ctx, key)) == NULL)
		return def;
	return s->s_value;
}

/* Parse a whole decimal or 0x-hex integer; returns SERR_*. */
static int
parse_int(const char *text, int64_t *out)
{
	const char *p = text, *digits;
	char *end;
	long long v;
	int base = 10;

	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16;
	digits = base == 16 ? p + 2 : p;
	/* strtoll would skip blanks, take a second sign or an empty hex
	 * prefix: only digits may follow the sign and prefix. */
	if (!isxdigit((unsigned char)*digits) ||
	    (base == 10 && !isdigit((unsigned char)*digits)))
		return SERR_INT;
	errno = 0;
	v = strtoll(text, &end, base);
	if (*end != '\0')
		return SERR_INT;
	if (errno == ERANGE)
		return SERR_RANGE;
	*out = (int64_t)v;
	return SERR_NONE;
}

int64_t
weft_setting_int(weft_plugin_ctx_t *ctx, const char *key, int64_t def)
{
	struct setting *s;
	int64_t v;

	if ((s = getter_find(ctx, key)) == NULL)
		return def;
	if ((s->s_err = parse_int(s->s_value, &v)) != SERR_NONE)
		return def;
	return v;
}

int
weft_setting_bool(weft_plugin_ctx_t *ctx, const char *key, int def)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	struct setting *s;
	size_t i;

	if ((s = getter_find(ctx, key)) == NULL)
		return def;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s->s_value, yes[i]) == 0)
			return 1;
		if (strcasecmp(s->s_value, no[i]) == 0)
			return 0;
	}
	s->s_err = SERR_BOOL;
	return def;
}

/* Parse a whole finite number, as strtod takes it; returns SERR_*. */
static int
parse_double(const char *text, double *out)
{
	char *end;
	double v;

	/* strtod skips leading blanks; a value with any is not a number
	 * here, as for the other getters. */
	if (text[0] == '\0' || isspace((unsigned char)text[0]))
		return SERR_NUMBER;
	v = strtod(text, &end);
	if (*end != '\0' || !isfinite(v))
		return SERR_NUMBER;
	*out = v;
	return SERR_NONE;
}

double
weft_setting_double(weft_plugin_ctx_t *ctx, const char *key, double def)
{
	struct setting *s;
	double v;

	if ((s = getter_find(ctx, key)) == NULL)
		return def;
	if ((s->s_err = parse_double(s->s_value, &v)) != SERR_NONE)
		return def;
	return v;
}

int64_t
weft_setting_ms(weft_plugin_ctx_t *ctx, const char *key, int64_t def)
{
	struct setting *s;
	double v, ms;
	int64_t r;

	if ((s = getter_find(ctx, key)) == NULL)
		return def;
	if ((s->s_err = parse_double(s->s_value, &v)) != SERR_NONE)
		return def;
	if (v < 0) {
		s->s_err = SERR_NEGATIVE;
		return def;
	}
	/* 2^63, exactly: anything from there on does not fit. */
	ms = v * 1000.0;
	if (ms >= 9223372036854775808.0) {
		s->s_err = SERR_LONG;
		return def;
	}
	/* Rounded up: a tiny duration must not become 0, which plugins
	 * take for "none". */
	r = (int64_t)ms;
	return (double)r < ms ? r + 1 : r;
}

/* ---- Plugin side: errors and identity ----------------------------------- */

int
weft_plugin_error(weft_plugin_ctx_t *ctx, const char *key, const char *fmt, ...)
{
	struct plugerr *errs, *e;
	struct setting *s;
	va_list ap;
	int n;

	if (ctx == NULL)
		return -EINVAL;
	ctx_check(ctx);
	errs = realloc(ctx->c_err, (ctx->c_nerr + 1) * sizeof(*errs));
	if (errs == NULL) {
		ctx->c_nlost++;
		return -EINVAL;
	}
	ctx->c_err = errs;
	e = &errs[ctx->c_nerr];
	memset(e, 0, sizeof(*e));
	s = ctx_find(ctx, key);
	e->e_line = s != NULL ? s->s_line : ctx->c_line;
	if (key != NULL && (e->e_key = strdup(key)) == NULL) {
		ctx->c_nlost++;
		return -EINVAL;
	}
	va_start(ap, fmt);
	n = vasprintf(&e->e_msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		free(e->e_key);
		ctx->c_nlost++;
		return -EINVAL;
	}
	/* A setting the plugin complains about was looked at: do not also
	 * call it unknown. */
	if (s != NULL)
		s->s_read = 1;
	ctx->c_nerr++;
	return -EINVAL;
}

const char *
weft_plugin_name(const weft_plugin_ctx_t *ctx)
{
	ctx_check(ctx);
	return ctx->c_name;
}

int
weft_plugin_worker(const weft_plugin_ctx_t *ctx)
{
	ctx_check(ctx);
	return ctx->c_worker;
}

/* ---- Addresses ---------------------------------------------------------- */

/* The "[v6]" part of "[v6]:port": where the host is, how long, and
 * where the port starts; 0, or -1 with msg set. */
static int
hostport_v6(const char *text, const char **host, size_t *hl, const char **port,
    char *msg, size_t msglen)
{
	unsigned char a[sizeof(struct in6_addr)];
	char buf[INET6_ADDRSTRLEN + 64];
	const char *h = text + 1, *he, *s;

	if ((he = strchr(h, ']')) == NULL) {
		snprintf(msg, msglen, "missing ']'");
		return -1;
	}
	if (he[1] != ':') {
		snprintf(msg, msglen, "expected [address]:port");
		return -1;
	}
	*port = he + 2;
	*host = h;
	*hl = (size_t)(he - h);
	if (*hl == 0 || *hl >= sizeof(buf)) {
		snprintf(msg, msglen, "bad IPv6 address");
		return -1;
	}
	memcpy(buf, h, *hl);
	buf[*hl] = '\0';
	/* A zone ("fe80::1%eth0") is left to the resolver. */
	if ((s = strchr(buf, '%')) != NULL)
		buf[s - buf] = '\0';
	if (inet_pton(AF_INET6, buf, a) != 1) {
		snprintf(msg, msglen, "bad IPv6 address \"%.*s\"", (int)*hl, h);
		return -1;
	}
	return 0;
}

/* The "host" part of "host:port": a name or an IPv4 address. */
static int
hostport_name(const char *text, const char **host, size_t *hl,
    const char **port, char *msg, size_t msglen)
{
	unsigned char a[sizeof(struct in_addr)];
	char buf[INET6_ADDRSTRLEN + 64];
	const char *h = text, *he, *s;
	int digits_dots = 1;

	if ((he = strrchr(text, ':')) == NULL) {
		snprintf(msg, msglen, "expected host:port");
		return -1;
	}
	*hl = (size_t)(he - h);
	*port = he + 1;
	if (memchr(h, ':', *hl) != NULL) {
		snprintf(msg, msglen,
		    "an IPv6 address needs brackets: "
		    "[address]:port");
		return -1;
	}
	if (*hl == 1 && h[0] == '*') {
		h = he;
		*hl = 0;
	}
	*host = h;
	if (*hl > 253) {
		snprintf(msg, msglen, "host name too long");
		return -1;
	}
	for (s = h; s < he; s++) {
		if (!isdigit((unsigned char)*s) && *s != '.')
			digits_dots = 0;
		if (!isalnum((unsigned char)*s) && strchr(".-_", *s) == NULL) {
			snprintf(msg, msglen, "bad host \"%.*s\"", (int)*hl, h);
			return -1;
		}
	}
	if (*hl == 0 || !digits_dots)
		return 0;
	/* buf holds any IPv4 address, but not any host. */
	if (*hl >= sizeof(buf)) {
		snprintf(msg, msglen, "bad IPv4 address \"%.*s\"", (int)*hl, h);
		return -1;
	}
	memcpy(buf, h, *hl);
	buf[*hl] = '\0';
	if (inet_pton(AF_INET, buf, a) != 1) {
		snprintf(msg, msglen, "bad IPv4 address \"%s\"", buf);
		return -1;
	}
	return 0;
}

int
weft_hostport_parse(const char *text, char *host, size_t hostlen, int *port,
    char *msg, size_t msglen)
{
	const char *h, *p, *s;
	char dummy[1];
	size_t hl;
	long v;

	if (msg == NULL) {
		msg = dummy;
		msglen = sizeof(dummy);
	}
	if (text == NULL || host == NULL || port == NULL) {
		snprintf(msg, msglen, "no address");
		return -EINVAL;
	}
	if ((text[0] == '['
		    ? hostport_v6(text, &h, &hl, &p, msg, msglen)
		    : hostport_name(text, &h, &hl, &p, msg, msglen)) != 0)
		return -EINVAL;
	for (s = p; isdigit((unsigned char)*s); s++)
		;
	if (s == p || *s != '\0' || s - p > 5) {
		if (*p == '\0')
			snprintf(msg, msglen, "missing port");
		else if (*s != '\0' || s == p)
			snprintf(msg, msglen, "bad port \"%s\"", p);
		else
			snprintf(msg, msglen,
			    "port %s is out of range "
			    "0..65535",
			    p);
		return -EINVAL;
	}
	v = strtol(p, NULL, 10);
	if (v > 65535) {
		snprintf(msg, msglen, "port %ld is out of range 0..65535", v);
		return -EINVAL;
	}
	if (hl >= hostlen) {
		snprintf(msg, msglen, "host name too long");
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)v;
	return 0;
}
