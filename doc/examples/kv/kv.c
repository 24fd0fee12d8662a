/*
 * kv: an out-of-tree weftd plugin, a key-value store speaking the Redis
 * protocol (RESP2), enough for redis-cli and redis-benchmark: GET, SET
 * (EX, PX, NX, XX), DEL, EXISTS, INCR, PING, ECHO, QUIT and COMMAND (an
 * empty reply, so that redis-cli starts), as arrays of bulk strings or as
 * inline commands ("SET a 1" typed into nc).
 *
 * The table lives in the worker: workers are separate processes and do
 * not share it, so run one worker (or shard clients by worker).  Keys with
 * a time to live expire when they are next looked up.
 *
 * Requests are bounded.  A bulk string over max_bulk, an array over
 * max_args or a request over max_request is read and thrown away, then
 * answered with an error, and the connection goes on.  A request that
 * breaks the protocol (a length that is not a number, a missing "\r\n")
 * is answered with "-ERR Protocol error: ..." and the connection closed,
 * as Redis does: nothing after it can be trusted.
 *
 * Settings (all optional):
 *	max_bulk	longest bulk string, bytes (default 1048576)
 *	max_args	most arguments in a request (default 1024)
 *	max_request	most bytes of arguments in a request (default 4194304)
 *
 * Built with nothing but libweft's pkg-config file:
 *
 *	cc $(pkg-config --cflags --libs weft) -shared -fPIC -o kv.so kv.c
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <weft/plugin.h>
#include <weft/stream.h>

/* Redis's own ceilings: past them a length is not worth discarding. */
#define KV_BULK_SANE (512LL * 1024 * 1024)
#define KV_ARGS_SANE (1024LL * 1024)

struct entry {
	struct entry *next;
	uint64_t hash;
	uint64_t expires; /* CLOCK_MONOTONIC ms; 0 = never */
	uint32_t klen, vlen;
	char data[]; /* key, then value */
};

struct kv {
	struct entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	int64_t max_bulk, max_args, max_request;
	size_t arena_max; /* max_request, and a CRLF per argument */
};

/* One connection's request: arguments as offsets into a growing arena. */
struct req {
	struct kv *kv;
	weft_reader_t *r;
	weft_writer_t *w;
	size_t argc;
	size_t *off, *len; /* max_args each */
	char *arena;
	size_t used, cap;
	const char *err; /* set: answer this instead of running it */
	char errbuf[128];
};

/* What reading a request gave. */
enum { REQ_OK, REQ_EOF, REQ_FATAL };

/* ---- The table ------------------------------------------------------ */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a. */
static uint64_t
hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len-- > 0)
		h = (h ^ (unsigned char)*p++) * 0x100000001b3ULL;
	return h;
}

/* The live entry's link for key (it is *link), or the NULL at the end. */
static struct entry **
table_find(struct kv *kv, const char *key, size_t klen, uint64_t h)
{
	struct entry **pp = &kv->buckets[h & (kv->nbuckets - 1)], *e;

	while ((e = *pp) != NULL) {
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->data, key, klen) == 0) {
			if (e->expires == 0 || e->expires > now_ms())
				return pp;
			*pp = e->next; /* expired: gone now */
			free(e);
			kv->count--;
			continue;
		}
		pp = &e->next;
	}
	return pp;
}

static struct entry *
table_get(struct kv *kv, const char *key, size_t klen)
{
	return *table_find(kv, key, klen, hash(key, klen));
}

static int
table_del(struct kv *kv, const char *key, size_t klen)
{
	struct entry **pp = table_find(kv, key, klen, hash(key, klen)), *e;

	if ((e = *pp) == NULL)
		return 0;
	*pp = e->next;
	free(e);
	kv->count--;
	return 1;
}

/* Double the buckets when the chains get long; a failure is harmless. */
static void
table_grow(struct kv *kv)
{
	size_t n = kv->nbuckets * 2, i;
	struct entry **b, *e, *next;

	if (kv->count < kv->nbuckets || (b = calloc(n, sizeof(*b))) == NULL)
		return;
	for (i = 0; i < kv->nbuckets; i++)
		for (e = kv->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(kv->buckets);
	kv->buckets = b;
	kv->nbuckets = n;
}

/* Store key = value, replacing any; -ENOMEM leaves the old one. */
static int
table_set(struct kv *kv, const char *key, size_t klen, const char *val,
    size_t vlen, uint64_t expires)
{
	uint64_t h = hash(key, klen);
	struct entry **pp = table_find(kv, key, klen, h), *e;

	if ((e = malloc(sizeof(*e) + klen + vlen)) == NULL)
		return -ENOMEM;
	e->hash = h;
	e->expires = expires;
	e->klen = (uint32_t)klen;
	e->vlen = (uint32_t)vlen;
	memcpy(e->data, key, klen);
	memcpy(e->data + klen, val, vlen);
	if (*pp != NULL) {
		e->next = (*pp)->next;
		free(*pp);
		*pp = e;
		return 0;
	}
	e->next = NULL;
	*pp = e;
	kv->count++;
	table_grow(kv);
	return 0;
}

/* ---- Replies -------------------------------------------------------- */

static void
reply(struct req *q, const char *text)
{
	weft_write(q->w, text, strlen(text));
}

static void
reply_int(struct req *q, long long n)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), ":%lld\r\n", n);

	weft_write(q->w, buf, (size_t)len);
}

static void
reply_bulk(struct req *q, const char *p, size_t len)
{
	char head[32];
	weft_slice_t v[3];

	v[0].base = head;
	v[0].len = (size_t)snprintf(head, sizeof(head), "$%zu\r\n", len);
	v[1].base = (char *)p;
	v[1].len = len;
	v[2].base = "\r\n";
	v[2].len = 2;
	weft_writev(q->w, v, 3);
}

/* ---- Reading a request ---------------------------------------------- */

static const char *
arg(const struct req *q, size_t i)
{
	return q->arena + q->off[i];
}

/* Remember the first error of a request; the rest of it is skipped. */
static void
req_error(struct req *q, const char *fmt, long long n, long long limit)
{
	if (q->err != NULL)
		return;
	snprintf(q->errbuf, sizeof(q->errbuf), fmt, n, limit);
	q->err = q->errbuf;
}

/* Room for n more bytes in the arena, within max_request. */
static int
arena_reserve(struct req *q, size_t n)
{
	size_t cap = q->cap;
	char *p;

	if (q->used + n > q->kv->arena_max)
		return -E2BIG;
	if (q->used + n <= cap)
		return 0;
	while (cap < q->used + n)
		cap = cap < 4096 ? 4096 : cap * 2;
	if ((p = realloc(q->arena, cap)) == NULL)
		return -ENOMEM;
	q->arena = p;
	q->cap = cap;
	return 0;
}

/* A length after a '*' or '$': decimal digits, then "\r\n" or "\n". */
static int
parse_len(weft_slice_t line, long long *out)
{
	size_t i, end = line.len;
	long long n = 0;

	if (end > 0 && line.base[end - 1] == '\n')
		end--;
	if (end > 0 && line.base[end - 1] == '\r')
		end--;
	if (end < 2 || end > 12)
		return -1;
	for (i = 1; i < end; i++) {
		if (line.base[i] < '0' || line.base[i] > '9')
			return -1;
		n = n * 10 + (line.base[i] - '0');
	}
	*out = n;
	return 0;
}

/* Read and drop n bytes. */
static int
discard(weft_reader_t *r, long long n)
{
	weft_slice_t s;
	ssize_t got;

	while (n > 0) {
		got = weft_read_slice(r, (size_t)(n > 65536 ? 65536 : n), &s);
		if (got <= 0)
			return got == 0 ? WEFT_EINCOMPLETE : (int)got;
		n -= got;
	}
	return 0;
}

/* One "$LEN\r\nDATA\r\n" argument: kept, or skipped with q->err set. */
static int
read_bulk(struct req *q)
{
	weft_slice_t line;
	long long len;
	int rc;

	if ((rc = weft_readline(q->r, &line)) != 0)
		return rc == WEFT_ELIMIT ? REQ_FATAL : rc;
	if (line.len == 0)
		return WEFT_EINCOMPLETE;
	if (line.base[0] != '$' || parse_len(line, &len) != 0 ||
	    len > KV_BULK_SANE)
		return REQ_FATAL;
	if (len > q->kv->max_bulk)
		req_error(q,
		    "-ERR bulk string of %lld bytes is over the limit "
		    "of %lld\r\n",
		    len, q->kv->max_bulk);
	else if (q->err == NULL && arena_reserve(q, (size_t)len + 2) != 0)
		req_error(q,
		    "-ERR request over %lld bytes (max_request %lld)"
		    "\r\n",
		    (long long)q->used + len, q->kv->max_request);
	if (q->err != NULL)
		return discard(q->r, len + 2);
	rc = weft_readexactly(q->r, q->arena + q->used, len + 2, NULL);
	if (rc != 0)
		return rc;
	if (memcmp(q->arena + q->used + len, "\r\n", 2) != 0)
		return REQ_FATAL;
	q->arena[q->used + len] = '\0'; /* a C string for strcasecmp */
	q->off[q->argc] = q->used;
	q->len[q->argc++] = (size_t)len;
	q->used += (size_t)len + 2;
	return 0;
}

/* "*N\r\n" then N bulk strings. */
static int
read_array(struct req *q, weft_slice_t line)
{
	long long n, i;
	int rc;

	if (parse_len(line, &n) != 0 || n > KV_ARGS_SANE)
		return REQ_FATAL;
	if (n > q->kv->max_args)
		req_error(q,
		    "-ERR %lld arguments are over the limit of %lld"
		    "\r\n",
		    n, q->kv->max_args);
	for (i = 0; i < n; i++) {
		rc = read_bulk(q);
		if (rc != 0)
			return rc;
		if (q->err != NULL)
			q->argc = 0; /* only the count matters now */
	}
	return REQ_OK;
}

/* An inline command: words separated by blanks. */
static int
read_inline(struct req *q, weft_slice_t line)
{
	size_t i = 0, start;

	while (i < line.len) {
		while (i < line.len && strchr(" \t\r\n", line.base[i]) != NULL)
			i++;
		if (i == line.len)
			break;
		start = i;
		while (i < line.len && strchr(" \t\r\n", line.base[i]) == NULL)
			i++;
		if ((long long)q->argc == q->kv->max_args ||
		    arena_reserve(q, i - start + 1) != 0) {
			req_error(q,
			    "-ERR inline request over %lld arguments "
			    "or %lld bytes\r\n",
			    q->kv->max_args, q->kv->max_request);
			return REQ_OK;
		}
		memcpy(q->arena + q->used, line.base + start, i - start);
		q->arena[q->used + (i - start)] = '\0';
		q->off[q->argc] = q->used;
		q->len[q->argc++] = i - start;
		q->used += i - start + 1;
	}
	return REQ_OK;
}

/*
 * The next request into q: REQ_OK (q->argc arguments, or q->err to
 * answer), REQ_EOF, REQ_FATAL (q->err says why), or a negative code.
 */
static int
read_request(struct req *q)
{
	weft_slice_t line;
	int rc;

	q->argc = 0;
	q->used = 0;
	q->err = NULL;
	rc = weft_readline(q->r, &line);
	if (rc == WEFT_ELIMIT) {
		q->err = "-ERR Protocol error: too big inline request\r\n";
		return REQ_OK; /* the reader dropped the line: in step */
	}
	if (rc != 0)
		return rc;
	if (line.len == 0)
		return REQ_EOF;
	rc = line.base[0] == '*' ? read_array(q, line) : read_inline(q, line);
	if (rc == REQ_FATAL)
		q->err = "-ERR Protocol error: bad length or missing CRLF\r\n";
	return rc == WEFT_EINCOMPLETE ? REQ_EOF : rc;
}

/* ---- Commands ------------------------------------------------------- */

/* A whole decimal int64, as Redis's string2ll takes it. */
static int
parse_int(const char *p, size_t len, long long *out)
{
	char buf[24], *end;

	/* A stored value has no terminating NUL: parse a copy. */
	if (len == 0 || len > 20 || p[0] == ' ' || p[0] == '+' ||
	    (p[0] == '0' && len > 1))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtoll(buf, &end, 10);
	return errno != 0 || end != buf + len ? -1 : 0;
}

static int
cmd_ping(struct req *q)
{
	if (q->argc == 2)
		reply_bulk(q, arg(q, 1), q->len[1]);
	else
		reply(q, "+PONG\r\n");
	return 0;
}

static int
cmd_echo(struct req *q)
{
	reply_bulk(q, arg(q, 1), q->len[1]);
	return 0;
}

static int
cmd_get(struct req *q)
{
	struct entry *e = table_get(q->kv, arg(q, 1), q->len[1]);

	if (e == NULL)
		reply(q, "$-1\r\n");
	else
		reply_bulk(q, e->data + e->klen, e->vlen);
	return 0;
}

/* SET's options after the value; 0, or -1 after an error reply. */
static int
set_options(struct req *q, uint64_t *expires, int *nx, int *xx)
{
	long long n;
	size_t i;

	for (i = 3; i < q->argc; i++) {
		const char *o = arg(q, i);

		if (strcasecmp(o, "NX") == 0)
			*nx = 1;
		else if (strcasecmp(o, "XX") == 0)
			*xx = 1;
		else if ((strcasecmp(o, "EX") == 0 ||
			     strcasecmp(o, "PX") == 0) &&
		    i + 1 < q->argc && *expires == 0) {
			if (parse_int(arg(q, i + 1), q->len[i + 1], &n) != 0) {
				reply(q,
				    "-ERR value is not an integer or out "
				    "of range\r\n");
				return -1;
			}
			if (n <= 0 || n > INT64_MAX / 1000 / 2) {
				reply(q,
				    "-ERR invalid expire time in 'set' "
				    "command\r\n");
				return -1;
			}
			*expires = now_ms() +
			    (uint64_t)n *
				(o[0] == 'E' || o[0] == 'e' ? 1000 : 1);
			i++;
		} else {
			reply(q, "-ERR syntax error\r\n");
			return -1;
		}
	}
	if (*nx && *xx) {
		reply(q, "-ERR syntax error\r\n");
		return -1;
	}
	return 0;
}

static int
cmd_set(struct req *q)
{
	uint64_t expires = 0;
	int nx = 0, xx = 0, exists;

	if (set_options(q, &expires, &nx, &xx) != 0)
		return 0;
	if (nx || xx) {
		exists = table_get(q->kv, arg(q, 1), q->len[1]) != NULL;
		if ((nx && exists) || (xx && !exists)) {
			reply(q, "$-1\r\n");
			return 0;
		}
	}
	if (table_set(q->kv, arg(q, 1), q->len[1], arg(q, 2), q->len[2],
		expires) != 0)
		reply(q, "-OOM out of memory\r\n");
	else
		reply(q, "+OK\r\n");
	return 0;
}

static int
cmd_del(struct req *q)
{
	long long n = 0;
	size_t i;

	for (i = 1; i < q->argc; i++)
		n += table_del(q->kv, arg(q, i), q->len[i]);
	reply_int(q, n);
	return 0;
}

static int
cmd_exists(struct req *q)
{
	long long n = 0;
	size_t i;

	for (i = 1; i < q->argc; i++)
		n += table_get(q->kv, arg(q, i), q->len[i]) != NULL;
	reply_int(q, n);
	return 0;
}

static int
cmd_incr(struct req *q)
{
	struct entry *e = table_get(q->kv, arg(q, 1), q->len[1]);
	char buf[24];
	long long n = 0;
	int len;

	if (e != NULL && parse_int(e->data + e->klen, e->vlen, &n) != 0) {
		reply(q, "-ERR value is not an integer or out of range\r\n");
		return 0;
	}
	if (n == INT64_MAX) {
		reply(q, "-ERR increment or decrement would overflow\r\n");
		return 0;
	}
	len = snprintf(buf, sizeof(buf), "%lld", ++n);
	/* INCR keeps the key's time to live, as in Redis. */
	if (table_set(q->kv, arg(q, 1), q->len[1], buf, (size_t)len,
		e != NULL ? e->expires : 0) != 0)
		reply(q, "-OOM out of memory\r\n");
	else
		reply_int(q, n);
	return 0;
}

static int
cmd_command(struct req *q)
{
	/* No command table: redis-cli only wants an answer. */
	reply(q, "*0\r\n");
	return 0;
}

static int
cmd_quit(struct req *q)
{
	reply(q, "+OK\r\n");
	return 1;
}

static const struct command {
	const char *name;
	size_t min_argc, max_argc; /* with the name; 0 = any */
	int (*run)(struct req *q); /* 1: close the connection */
} commands[] = {
	{ "GET", 2, 2, cmd_get },
	{ "SET", 3, 0, cmd_set },
	{ "DEL", 2, 0, cmd_del },
	{ "EXISTS", 2, 0, cmd_exists },
	{ "INCR", 2, 2, cmd_incr },
	{ "PING", 1, 2, cmd_ping },
	{ "ECHO", 2, 2, cmd_echo },
	{ "QUIT", 1, 0, cmd_quit },
	{ "COMMAND", 1, 0, cmd_command },
};

/* Run q's command; 1 when the connection is to be closed. */
static int
dispatch(struct req *q)
{
	const char *name = arg(q, 0);
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcasecmp(name, c->name) != 0)
			continue;
		if (q->argc < c->min_argc ||
		    (c->max_argc != 0 && q->argc > c->max_argc)) {
			snprintf(buf, sizeof(buf),
			    "-ERR wrong number of arguments for '%.64s' "
			    "command\r\n",
			    name);
			reply(q, buf);
			return 0;
		}
		return c->run(q);
	}
	snprintf(buf, sizeof(buf), "-ERR unknown command '%.64s'\r\n", name);
	reply(q, buf);
	return 0;
}

/* ---- The plugin ----------------------------------------------------- */

static void
kv_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	struct kv *kv = state;
	struct req q = { .kv = kv, .r = r, .w = w };
	int rc, quit = 0;

	q.off = calloc((size_t)kv->max_args, sizeof(*q.off));
	q.len = calloc((size_t)kv->max_args, sizeof(*q.len));
	if (q.off == NULL || q.len == NULL) {
		reply(&q, "-OOM out of memory\r\n");
		goto out;
	}
	while (!quit) {
		rc = read_request(&q);
		if (rc == REQ_EOF || rc < 0)
			break;
		if (q.err != NULL)
			reply(&q, q.err);
		else if (q.argc > 0)
			quit = dispatch(&q);
		if (rc == REQ_FATAL)
			break;
		/* Pipelined requests are answered in one go. */
		if (weft_reader_buffer(r).len == 0 && weft_drain(w) != 0)
			break;
	}
out:
	free(q.arena);
	free(q.off);
	free(q.len);
}

static int
kv_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct kv *kv;
	int64_t max_bulk = weft_setting_int(ctx, "max_bulk", 1048576);
	int64_t max_args = weft_setting_int(ctx, "max_args", 1024);
	int64_t max_request = weft_setting_int(ctx, "max_request", 4194304);

	if (max_bulk < 1 || max_bulk > KV_BULK_SANE)
		return weft_plugin_error(ctx, "max_bulk",
		    "must be 1 to %lld, not %lld", KV_BULK_SANE,
		    (long long)max_bulk);
	if (max_args < 1 || max_args > KV_ARGS_SANE)
		return weft_plugin_error(ctx, "max_args",
		    "must be 1 to %lld, not %lld", KV_ARGS_SANE,
		    (long long)max_args);
	if (max_request < max_bulk)
		return weft_plugin_error(ctx, "max_request",
		    "must be at least max_bulk (%lld), not %lld",
		    (long long)max_bulk, (long long)max_request);
	if ((kv = calloc(1, sizeof(*kv))) == NULL)
		return -ENOMEM;
	kv->nbuckets = 1024;
	if ((kv->buckets = calloc(kv->nbuckets, sizeof(*kv->buckets))) ==
	    NULL) {
		free(kv);
		return -ENOMEM;
	}
	kv->max_bulk = max_bulk;
	kv->max_args = max_args;
	kv->max_request = max_request;
	kv->arena_max = (size_t)(max_request + 2 * max_args);
	*state = kv;
	return 0;
}

static void
kv_fini(void *state)
{
	struct kv *kv = state;
	struct entry *e, *next;
	size_t i;

	for (i = 0; i < kv->nbuckets; i++)
		for (e = kv->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(kv->buckets);
	free(kv);
}

WEFT_PLUGIN(kv, .init = kv_init, .client_connected = kv_client,
    .fini = kv_fini);
