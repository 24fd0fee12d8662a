/*
 * weftd's configuration model builder: the part that does not depend on
 * the syntax.
 *
 * The two front-ends (config_conf.c for libconfig, config_ini.c for inih)
 * hand every key they read to the functions here, with its file and line
 * and either a typed value (libconfig) or untyped text (INI).  This file
 * owns the schema: which keys exist where, their defaults, and which
 * conversion (config_value.c) each one takes.  Errors are collected,
 * never fatal on their own, so one run reports all of them;
 * config_parse_end() turns them into one "file:line: message" line each,
 * sorted by position.  The checks that span keys are config_check.c's.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "config_impl.h"
#include "config_value.h"
#include "hints.h"
#include "log.h"
#include "util.h"

#ifndef PLUGINDIR
#error "PLUGINDIR must be defined by the build (see daemon/Makefile.inc)"
#endif

#define MAX_WORKERS 1024
#define MIN_STACK (16 * 1024)
#define MAX_STACK (64 * 1024 * 1024)
#define MAX_LIMIT (1024 * 1024 * 1024)
#define MAX_CONNS INT32_MAX

#define DEF_TIMEOUT 30.0
#define DEF_STACK 65536
#define DEF_LIMIT 65536
#define DEF_BACKLOG 511
#define DEF_PROXY_TIMEOUT 5.0
#define DEF_ROTATION 3600.0 /* tls_ticket_rotation: an hour */
#define DEF_SEND_TIMEOUT 60.0

/* How a key's value is converted and stored. */
enum {
	K_INT,	  /* int, in [min, max] */
	K_I64,	  /* int64_t, in [min, max] */
	K_SIZE,	  /* size_t, in [min, max] */
	K_DOUBLE, /* double, in (0, max], or [min ms / 1000, max] */
	K_SECS0,  /* as K_DOUBLE, or 0: none */
	K_STR,	  /* char *, not empty */
	K_BOOL,	  /* int, 0 or 1 */
	K_LEVEL,  /* int, a log level name */
	K_STACKS, /* int, "private" (0) or "shared" (1) */
	K_MODE,	  /* int, a file mode 0..0777 */
	K_LNAME,  /* char *, a listener name */
	K_TCP,	  /* listener address "host:port" */
	K_UNIX,	  /* listener address, a path */
	K_OWNER,  /* listener owner: a user name or uid */
	K_GROUP,  /* listener group: a group name or gid */
};

struct key {
	const char *name;
	int kind;
	size_t off;
	int64_t min;
	int64_t max;
};

#define TOP(n, k, f, lo, hi)                                                   \
	{                                                                      \
		n, k, offsetof(struct conf, f), lo, hi                         \
	}
static const struct key top_keys[NTOP] = {
	TOP("workers", K_INT, workers, 1, MAX_WORKERS),
	TOP("user", K_STR, user, 0, 0),
	TOP("group", K_STR, group, 0, 0),
	TOP("log_level", K_LEVEL, log_level, 0, 0),
	TOP("shutdown_timeout", K_DOUBLE, shutdown_timeout, 0, 0),
	TOP("worker_timeout", K_DOUBLE, worker_timeout,
	    (int64_t)(CONF_MIN_WORKER_TIMEOUT * 1000), 0),
	TOP("fiber_stack", K_SIZE, fiber_stack, MIN_STACK, MAX_STACK),
	TOP("fiber_stacks", K_STACKS, fiber_stacks_shared, 0, 0),
	TOP("plugin_dir", K_STR, plugin_dir, 0, 0),
	TOP("control_socket", K_STR, control_socket, 0, 0),
	TOP("tls_ticket_rotation", K_DOUBLE, tls_ticket_rotation, 1000, 0),
	TOP("accept_balance", K_BOOL, accept_balance, 0, 0),
};

/* In config_impl.h's L_* order. */
#define LIS(n, k, f, lo, hi)                                                   \
	{                                                                      \
		n, k, offsetof(struct conf_listener, f), lo, hi                \
	}
static const struct key listener_keys[NLIS] = {
	LIS("name", K_LNAME, name, 0, 0),
	LIS("tcp", K_TCP, address, 0, 0),
	LIS("unix", K_UNIX, address, 0, 0),
	LIS("mode", K_MODE, mode, 0, 0777),
	LIS("plugin", K_STR, plugin, 0, 0),
	LIS("limit", K_I64, limit, 1, MAX_LIMIT),
	LIS("backlog", K_INT, backlog, 1, 65535),
	LIS("reuse_port", K_BOOL, reuse_port, 0, 0),
	LIS("max_connections", K_I64, max_connections, 0, MAX_CONNS),
	LIS("owner", K_OWNER, owner, 0, 0),
	LIS("group", K_GROUP, group, 0, 0),
	LIS("tls", K_STR, tls, 0, 0),
	LIS("send_timeout", K_SECS0, send_timeout, 1, 0),
	LIS("proxy_protocol", K_BOOL, proxy_protocol, 0, 0),
	LIS("proxy_protocol_timeout", K_DOUBLE, proxy_protocol_timeout, 1, 0),
	LIS("access_log", K_STR, access_log, 0, 0),
};

static const struct key plugin_keys[NPLUG] = {
	{ "path", K_STR, offsetof(struct conf_plugin, path), 0, 0 },
};

/* ---- Files and errors ------------------------------------------------ */

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		fatal("config");
	}
	if ((q = realloc(p, n * size == 0 ? 1 : n * size)) == NULL)
		fatal("config");
	return q;
}

static size_t
intern(struct conf_parse *ps, const char *file)
{
	size_t i;

	if (file == NULL)
		return 0;
	for (i = 0; i < ps->nfiles; i++)
		if (strcmp(ps->files[i], file) == 0)
			return i;
	ps->files = xreallocarray(ps->files, ps->nfiles + 1,
	    sizeof(*ps->files));
	ps->files[ps->nfiles] = xstrdup(file);
	return ps->nfiles++;
}

/* A location whose file outlives the front-end that reported it. */
struct conf_loc
config_keep(struct conf_parse *ps, struct conf_loc loc)
{
	size_t i;

	/* Not in one expression: intern() may move ps->files. */
	i = intern(ps, loc.file);
	loc.file = ps->files[i];
	return loc;
}

const char *
config_where(struct conf_parse *ps, struct conf_loc at, struct conf_loc from,
    char *buf, size_t len)
{
	size_t a, f;

	a = intern(ps, at.file);
	f = intern(ps, from.file);
	if (a != f)
		snprintf(buf, len, "at %s:%d", ps->files[a], at.line);
	else
		snprintf(buf, len, "at line %d", at.line);
	return buf;
}

/*
 * Messages quote values as written, and a value may hold a newline (a
 * libconfig string, an INI "\n" escape): written as is it would break
 * the one-error-per-line promise and forge a line of its own in the log.
 * Control characters but tab are written as C escapes instead.
 */
static char *
escape_controls(char *s)
{
	const unsigned char *p;
	char *out, *w;
	size_t n = 0;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		n += (*p < 0x20 && *p != '\t') || *p == 0x7f ? 4 : 1;
	if (n == strlen(s))
		return s;
	out = w = xmalloc(n + 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			w += sprintf(w, "\\%c", *p == '\n' ? 'n' : 'r');
		else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			w += sprintf(w, "\\x%02x", *p);
		else
			*w++ = (char)*p;
	}
	*w = '\0';
	free(s);
	return out;
}

void
config_error(struct conf_parse *ps, struct conf_loc loc, const char *fmt, ...)
{
	struct err *e;
	va_list ap;
	char *msg;
	size_t f;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("config");
	va_end(ap);
	msg = escape_controls(msg);
	f = intern(ps, loc.file);
	ps->errs = xreallocarray(ps->errs, ps->nerrs + 1, sizeof(*ps->errs));
	e = &ps->errs[ps->nerrs];
	e->file = f;
	e->line = loc.line;
	e->seq = ps->nerrs++;
	e->msg = NULL;
	if (loc.line > 0)
		cause_set(&e->msg, "%s:%d: %s", ps->files[f], loc.line, msg);
	else
		cause_set(&e->msg, "%s: %s", ps->files[f], msg);
	free(msg);
}

static int
err_cmp(const void *a, const void *b)
{
	const struct err *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static char *
join_errors(struct conf_parse *ps)
{
	size_t i, len = 0;
	char *s, *w;

	qsort(ps->errs, ps->nerrs, sizeof(*ps->errs), err_cmp);
	for (i = 0; i < ps->nerrs; i++)
		len += strlen(ps->errs[i].msg) + 1;
	s = w = xmalloc(len + 1);
	for (i = 0; i < ps->nerrs; i++) {
		if (i > 0)
			*w++ = '\n';
		len = strlen(ps->errs[i].msg);
		memcpy(w, ps->errs[i].msg, len);
		w += len;
	}
	*w = '\0';
	return s;
}

/* ---- Keys ------------------------------------------------------------ */

/* A number that is 0: a K_SECS0 key turned off. */
static int
is_zero(int type, const char *text)
{
	char *end;
	double v;

	if (type != CONF_T_INT && type != CONF_T_FLOAT && type != CONF_T_TEXT)
		return 0;
	v = strtod(text, &end);
	return end != text && *end == '\0' && v == 0 &&
	    !isspace((unsigned char)text[0]);
}

/*
 * Convert text as key k wants and store it in base (the struct k's
 * offset refers to); 0, or -1 with *cause set.  One case per kind of
 * key: the conversions themselves are config_value.c's.
 */
static int
store(struct conf_parse *ps, void *base, const struct key *k, int type,
    const char *text, char **cause)
{
	struct conf_listener *l = base;
	char *p = (char *)base;
	unsigned long id;
	int64_t v;

	switch (k->kind) {
	case K_INT:
	case K_I64:
	case K_SIZE:
		if (cv_int(k->name, type, text, k->min, k->max, &v, cause) != 0)
			return -1;
		if (k->kind == K_INT)
			*(int *)(p + k->off) = (int)v;
		else if (k->kind == K_I64)
			*(int64_t *)(p + k->off) = v;
		else
			*(size_t *)(p + k->off) = (size_t)v;
		return 0;
	case K_SECS0:
		if (is_zero(type, text)) {
			*(double *)(p + k->off) = 0;
			return 0;
		}
		/* FALLTHROUGH */
	case K_DOUBLE:
		return cv_seconds(k->name, type, text, k->min,
		    (double *)(p + k->off), cause);
	case K_BOOL:
		return cv_bool(k->name, type, text, (int *)(p + k->off), cause);
	case K_MODE:
		return cv_mode(k->name, type, text, (int *)(p + k->off), cause);
	case K_LEVEL:
		return cv_level(k->name, type, text, (int *)(p + k->off),
		    cause);
	case K_STACKS:
		return cv_stacks(k->name, type, text, (int *)(p + k->off),
		    cause);
	case K_LNAME:
	case K_STR:
		if ((k->kind == K_LNAME
			    ? cv_lname(k->name, type, text, cause)
			    : cv_str(k->name, type, text, cause)) != 0)
			return -1;
		free(*(char **)(p + k->off));
		*(char **)(p + k->off) = xstrdup(text);
		return 0;
	case K_TCP:
	case K_UNIX:
		if (k->kind == K_TCP ? cv_tcp(k->name, type, text, &l->host,
					   &l->port, cause) != 0
				     : cv_unix(k->name, type, text, cause) != 0)
			return -1;
		l->kind = k->kind == K_TCP ? CONF_LISTEN_TCP : CONF_LISTEN_UNIX;
		free(l->address);
		l->address = xstrdup(text);
		if (k->kind == K_UNIX) {
			free(l->path);
			l->path = xstrdup(text);
		}
		ps->lm[l - ps->c->listeners].addr_ok = 1;
		return 0;
	case K_OWNER:
	case K_GROUP:
		if (cv_id(k->name, type, text, k->kind == K_GROUP, &id,
			cause) != 0)
			return -1;
		*(char **)(p + k->off) = xstrdup(text);
		if (k->kind == K_GROUP)
			l->gid = (gid_t)id;
		else
			l->uid = (uid_t)id;
		return 0;
	}
	return 0;
}

/*
 * Convert and store one key of a schema.  base is the struct the keys'
 * offsets refer to; seen[] records where each key was given.  Returns 0
 * if the key was known (even if its value was bad).
 */
static int
set_key(struct conf_parse *ps, void *base, const struct key *keys, size_t nkeys,
    struct conf_loc *seen, const char *key, int type, const char *text,
    struct conf_loc loc)
{
	char at[300], *cause = NULL;
	size_t i;

	for (i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, key) == 0)
			break;
	if (i == nkeys)
		return -1;
	if (seen[i].line != 0) {
		config_error(ps, loc, "%s: given twice (first %s)", key,
		    config_where(ps, seen[i], loc, at, sizeof(at)));
		return 0;
	}
	seen[i] = config_keep(ps, loc);
	if (store(ps, base, &keys[i], type, text, &cause) != 0) {
		config_error(ps, loc, "%s", cause);
		free(cause);
	}
	return 0;
}

/* " (did you mean ...?)" for an unknown key: a key of keys or of more. */
static const char *
key_hint(const struct key *keys, size_t n, const char *const *more,
    const char *key, char *buf, size_t len)
{
	const char *names[NTOP + NLIS + 4];
	size_t i, k = 0;

	for (i = 0; i < n && k < sizeof(names) / sizeof(names[0]); i++)
		names[k++] = keys[i].name;
	for (i = 0; more != NULL && more[i] != NULL &&
	     k < sizeof(names) / sizeof(names[0]);
	     i++)
		names[k++] = more[i];
	return hint_did_you_mean(key, names, k, buf, len);
}

/* ---- The front-end interface ----------------------------------------- */

void
config_top_key(struct conf_parse *ps, const char *key, int type,
    const char *text, struct conf_loc loc)
{
	static const char *const sections[] = { "plugins", "listen", "tls",
		NULL };
	char hint[300];

	if (set_key(ps, ps->c, top_keys, NTOP, ps->top, key, type, text, loc) !=
	    0)
		config_error(ps, loc, "unknown key \"%s\"%s", key,
		    key_hint(top_keys, NTOP, sections, key, hint,
			sizeof(hint)));
}

static int
plugin_new(struct conf_parse *ps, const char *name, struct conf_loc loc)
{
	struct conf *c = ps->c;
	struct conf_plugin *p;
	size_t n = c->nplugins;

	c->plugins = xreallocarray(c->plugins, n + 1, sizeof(*c->plugins));
	ps->pm = xreallocarray(ps->pm, n + 1, sizeof(*ps->pm));
	p = &c->plugins[n];
	memset(p, 0, sizeof(*p));
	memset(&ps->pm[n], 0, sizeof(ps->pm[n]));
	p->name = xstrdup(name);
	p->line = loc.line;
	ps->pm[n].loc = config_keep(ps, loc);
	p->file = xstrdup(ps->pm[n].loc.file);
	c->nplugins++;
	return (int)n;
}

static int
plugin_find(struct conf_parse *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->c->nplugins; i++)
		if (strcmp(ps->c->plugins[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
config_plugin_ref(struct conf_parse *ps, const char *name, struct conf_loc loc)
{
	int i;

	if (!cv_ident_ok(name)) {
		config_error(ps, loc,
		    "bad plugin name \"%s\" (letters, "
		    "digits, '-' and '_')",
		    name);
		return -1;
	}
	if ((i = plugin_find(ps, name)) >= 0)
		return i;
	return plugin_new(ps, name, loc);
}

int
config_plugin_add(struct conf_parse *ps, const char *name, struct conf_loc loc)
{
	char at[300];
	int i;

	if ((i = config_plugin_ref(ps, name, loc)) < 0)
		return -1;
	if (ps->pm[i].declared) {
		config_error(ps, loc, "plugin \"%s\" defined twice (first %s)",
		    name, config_where(ps, ps->pm[i].loc, loc, at, sizeof(at)));
		return -1;
	}
	ps->pm[i].declared = 1;
	ps->pm[i].loc = config_keep(ps, loc);
	ps->c->plugins[i].line = loc.line;
	free(ps->c->plugins[i].file);
	ps->c->plugins[i].file = xstrdup(ps->pm[i].loc.file);
	return i;
}

void
config_plugin_key(struct conf_parse *ps, int i, const char *key, int type,
    const char *text, struct conf_loc loc)
{
	static const char *const settings[] = { "settings", NULL };
	struct conf_plugin *p = &ps->c->plugins[i];
	char hint[300];

	if (set_key(ps, p, plugin_keys, NPLUG, ps->pm[i].keys, key, type, text,
		loc) != 0)
		config_error(ps, loc, "unknown key \"%s\" in plugin \"%s\"%s",
		    key, p->name,
		    key_hint(plugin_keys, NPLUG, settings, key, hint,
			sizeof(hint)));
}

void
config_plugin_setting(struct conf_parse *ps, int i, const char *key, int type,
    const char *text, struct conf_loc loc)
{
	struct conf_plugin *p = &ps->c->plugins[i];
	struct conf_setting *s;
	size_t j;

	if (!cv_ident_ok(key)) {
		config_error(ps, loc,
		    "plugin \"%s\": bad setting name \"%s\" "
		    "(letters, digits, '-' and '_')",
		    p->name, key);
		return;
	}
	if (type == CONF_T_GROUP) {
		config_error(ps, loc,
		    "plugin \"%s\": setting \"%s\": groups "
		    "and lists are not supported in settings",
		    p->name, key);
		return;
	}
	for (j = 0; j < p->nsettings; j++) {
		if (strcmp(p->settings[j].key, key) == 0) {
			config_error(ps, loc,
			    "plugin \"%s\": setting \"%s\" "
			    "given twice (first at line %d)",
			    p->name, key, p->settings[j].line);
			return;
		}
	}
	p->settings = xreallocarray(p->settings, p->nsettings + 1,
	    sizeof(*p->settings));
	s = &p->settings[p->nsettings++];
	s->key = xstrdup(key);
	s->value = xstrdup(text);
	/* INI text is a string as far as plugins are concerned. */
	s->type = type == CONF_T_TEXT ? CONF_T_STR : type;
	s->line = loc.line;
}

const char *
config_lis_name(struct conf_parse *ps, size_t i, char *buf, size_t len)
{
	const struct conf_listener *l = &ps->c->listeners[i];

	if (l->name != NULL && l->name[0] != '\0')
		snprintf(buf, len, "listener \"%s\"", l->name);
	else
		snprintf(buf, len, "listener #%zu", i + 1);
	return buf;
}

int
config_listener_add(struct conf_parse *ps, const char *name,
    struct conf_loc loc)
{
	struct conf *c = ps->c;
	struct conf_listener *l;
	size_t n = c->nlisteners;

	if (name != NULL && !cv_lname_ok(name)) {
		config_error(ps, loc,
		    "bad listener name \"%s\" (letters, "
		    "digits, '.', '-', '_' and '@')",
		    name);
		return -1;
	}
	c->listeners = xreallocarray(c->listeners, n + 1,
	    sizeof(*c->listeners));
	ps->lm = xreallocarray(ps->lm, n + 1, sizeof(*ps->lm));
	l = &c->listeners[n];
	memset(l, 0, sizeof(*l));
	memset(&ps->lm[n], 0, sizeof(ps->lm[n]));
	l->name = xstrdup(name != NULL ? name : "");
	l->mode = -1;
	l->uid = (uid_t)-1;
	l->gid = (gid_t)-1;
	l->limit = DEF_LIMIT;
	l->backlog = DEF_BACKLOG;
	l->send_timeout = DEF_SEND_TIMEOUT;
	l->proxy_protocol_timeout = DEF_PROXY_TIMEOUT;
	l->tls_index = -1;
	l->line = loc.line;
	ps->lm[n].loc = config_keep(ps, loc);
	l->file = xstrdup(ps->lm[n].loc.file);
	if (name != NULL)
		ps->lm[n].keys[L_NAME] = ps->lm[n].loc;
	c->nlisteners++;
	return (int)n;
}

void
config_listener_key(struct conf_parse *ps, int i, const char *key, int type,
    const char *text, struct conf_loc loc)
{
	char nb[300], hint[300];

	if (set_key(ps, &ps->c->listeners[i], listener_keys, NLIS,
		ps->lm[i].keys, key, type, text, loc) != 0)
		config_error(ps, loc, "unknown key \"%s\" in %s%s", key,
		    config_lis_name(ps, (size_t)i, nb, sizeof(nb)),
		    key_hint(listener_keys, NLIS, NULL, key, hint,
			sizeof(hint)));
}

/* ---- The parse and the model ----------------------------------------- */

struct conf_parse *
config_parse_new(const char *file, const char *cwd)
{
	struct conf_parse *ps;
	struct conf *c;
	long n;

	ps = xcalloc(1, sizeof(*ps));
	ps->c = c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(file);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
	c->log_level = WEFT_LOG_INFO;
	c->shutdown_timeout = DEF_TIMEOUT;
	c->worker_timeout = DEF_TIMEOUT;
	c->fiber_stack = DEF_STACK;
	c->tls_ticket_rotation = DEF_ROTATION;
	c->accept_balance = 1;
	c->plugin_dir = xstrdup(PLUGINDIR);
	intern(ps, file);
	ps->cwd = cwd != NULL ? xstrdup(cwd) : NULL;
	return ps;
}

int
config_parse_end(struct conf_parse *ps, struct conf **out, char **cause)
{
	size_t i;
	int rc = -1;

	if (ps->nerrs == 0) {
		*out = ps->c;
		ps->c = NULL;
		rc = 0;
	} else if (cause != NULL)
		*cause = join_errors(ps);
	config_free(ps->c);
	for (i = 0; i < ps->nerrs; i++)
		free(ps->errs[i].msg);
	free(ps->errs);
	for (i = 0; i < ps->nfiles; i++)
		free(ps->files[i]);
	free(ps->files);
	free(ps->pm);
	free(ps->lm);
	for (i = 0; i < ps->ntm; i++)
		free(ps->tm[i].sm);
	free(ps->tm);
	free(ps->cwd);
	free(ps);
	return rc;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Key bytes are wiped before their memory goes back to malloc. */
static void
pem_free(struct conf_pem *pem)
{
	if (pem->key != NULL)
		explicit_bzero(pem->key, pem->key_len);
	free(pem->key);
	free(pem->cert);
	memset(pem, 0, sizeof(*pem));
}

static void
tls_free(struct conf_tls *t)
{
	size_t i;

	for (i = 0; i < t->nsni; i++) {
		strv_free(t->sni[i].names, t->sni[i].nnames);
		free(t->sni[i].cert);
		free(t->sni[i].key);
		pem_free(&t->sni[i].pem);
		free(t->sni[i].where);
	}
	free(t->sni);
	free(t->name);
	free(t->cert);
	free(t->key);
	pem_free(&t->pem);
	strv_free(t->alpn, t->nalpn);
	free(t->client_ca);
	strv_free(t->protocols, t->nprotocols);
	free(t->ciphers);
	free(t->ciphersuites);
	free(t->where);
}

void
config_free(struct conf *c)
{
	struct conf_plugin *p;
	struct conf_listener *l;
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nplugins; i++) {
		p = &c->plugins[i];
		for (j = 0; j < p->nsettings; j++) {
			free(p->settings[j].key);
			free(p->settings[j].value);
		}
		free(p->settings);
		free(p->name);
		free(p->path);
		free(p->abspath);
		free(p->file);
	}
	free(c->plugins);
	for (i = 0; i < c->nlisteners; i++) {
		l = &c->listeners[i];
		free(l->name);
		free(l->address);
		free(l->host);
		free(l->path);
		free(l->plugin);
		free(l->owner);
		free(l->group);
		free(l->tls);
		free(l->access_log);
		free(l->file);
	}
	free(c->listeners);
	for (i = 0; i < c->ntls; i++)
		tls_free(&c->tls[i]);
	free(c->tls);
	free(c->warnings);
	free(c->file);
	free(c->user);
	free(c->group);
	free(c->plugin_dir);
	free(c->control_socket);
	free(c);
}

const struct conf_plugin *
config_plugin(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nplugins; i++)
		if (config_name_eq(c->plugins[i].name, name))
			return &c->plugins[i];
	return NULL;
}
