/*
 * TLS profiles in weftd's configuration: the schema of a profile and of
 * its SNI entries, the conversion of their values, and the checks across
 * keys (a listener naming a profile that does not exist, a profile
 * without cert or key, verify_client without client_ca, a profile no
 * listener uses).  Both front-ends hand keys here as they do to
 * config_model.c; the files themselves are read later, by the supervisor
 * (tls_files.c), and checked by OpenSSL in the reload probe.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_impl.h"
#include "config_value.h"
#include "log.h"
#include "util.h"

#define DEF_HANDSHAKE_TIMEOUT 60.0
#define MAX_LIST 64 /* items of alpn, protocols or names */

static const char *const tls_keys[NTLS] = { "cert", "key", "alpn", "client_ca",
	"verify_client", "protocols", "ciphers", "ciphersuites",
	"handshake_timeout", "session_tickets" };
static const char *const sni_keys[NSNI] = { "names", "cert", "key" };

static void *
grow(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL)
		fatal("config");
	return p;
}

static int
key_index(const char *const *keys, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return (int)i;
	return -1;
}

/* ---- Values ------------------------------------------------------------ */

/* What an item of the list key may be: 0, or -1 with *cause set. */
static int
item_ok(const char *key, const char *item, char **cause)
{
	const char *p;

	if (strcmp(key, "protocols") == 0) {
		if (strcmp(item, "TLSv1.2") == 0 ||
		    strcmp(item, "TLSv1.3") == 0)
			return 0;
		cause_set(cause,
		    "protocols: unknown protocol \"%s\" (use "
		    "TLSv1.2, TLSv1.3)",
		    item);
		return -1;
	}
	if (strlen(item) > 255) {
		cause_set(cause, "%s: \"%.20s...\" is too long", key, item);
		return -1;
	}
	for (p = item; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p)) {
			cause_set(cause, "%s: bad character in \"%s\"", key,
			    item);
			return -1;
		}
	return 0;
}

/*
 * A list (alpn, protocols, names): a libconfig list or array of strings
 * (CONF_T_LIST), or a string of items separated by commas and blanks.
 */
static int
split(const char *key, int type, const char *text, char ***out, size_t *nout,
    char **cause)
{
	char **v = NULL, *s, *item, *save = NULL;
	size_t n = 0;

	if (type != CONF_T_LIST && cv_str(key, type, text, cause) != 0)
		return -1;
	s = xstrdup(text);
	for (item = strtok_r(s, ", \t\n", &save); item != NULL;
	     item = strtok_r(NULL, ", \t\n", &save)) {
		if (n == MAX_LIST || item_ok(key, item, cause) != 0) {
			if (n == MAX_LIST)
				cause_set(cause, "%s: more than %d items", key,
				    MAX_LIST);
			while (n > 0)
				free(v[--n]);
			free(v);
			free(s);
			return -1;
		}
		v = grow(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(item);
	}
	free(s);
	if (n == 0) {
		cause_set(cause, "%s: must not be empty", key);
		return -1;
	}
	*out = v;
	*nout = n;
	return 0;
}

static int
verify_value(int type, const char *text, int *out, char **cause)
{
	static const char *const names[] = { "none", "optional", "required" };
	size_t i;

	if (cv_str("verify_client", type, text, cause) != 0)
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(text, names[i]) == 0) {
			*out = (int)i; /* CONF_VERIFY_* order */
			return 0;
		}
	cause_set(cause,
	    "verify_client: \"%s\" is not \"required\", "
	    "\"optional\" or \"none\"",
	    text);
	return -1;
}

/* A string key into *dst. */
static int
str_value(const char *key, int type, const char *text, char **dst, char **cause)
{
	if (cv_str(key, type, text, cause) != 0)
		return -1;
	free(*dst);
	*dst = xstrdup(text);
	return 0;
}

/* Convert and store profile key k. */
static int
tls_store(struct conf_tls *t, int k, int type, const char *text, char **cause)
{
	const char *key = tls_keys[k];

	switch (k) {
	case T_CERT:
		return str_value(key, type, text, &t->cert, cause);
	case T_KEY:
		return str_value(key, type, text, &t->key, cause);
	case T_CLIENT_CA:
		return str_value(key, type, text, &t->client_ca, cause);
	case T_CIPHERS:
		return str_value(key, type, text, &t->ciphers, cause);
	case T_CIPHERSUITES:
		return str_value(key, type, text, &t->ciphersuites, cause);
	case T_ALPN:
		return split(key, type, text, &t->alpn, &t->nalpn, cause);
	case T_PROTOCOLS:
		return split(key, type, text, &t->protocols, &t->nprotocols,
		    cause);
	case T_VERIFY:
		return verify_value(type, text, &t->verify_client, cause);
	case T_TIMEOUT:
		return cv_seconds(key, type, text, 0, &t->handshake_timeout,
		    cause);
	case T_TICKETS:
		return cv_bool(key, type, text, &t->session_tickets, cause);
	}
	return 0;
}

static int
sni_store(struct conf_tls_sni *e, int k, int type, const char *text,
    char **cause)
{
	switch (k) {
	case S_NAMES:
		return split("names", type, text, &e->names, &e->nnames, cause);
	case S_CERT:
		return str_value("cert", type, text, &e->cert, cause);
	case S_KEY:
		return str_value("key", type, text, &e->key, cause);
	}
	return 0;
}

/* ---- The front-end interface ------------------------------------------ */

int
config_tls_add(struct conf_parse *ps, const char *name, struct conf_loc loc)
{
	struct conf *c = ps->c;
	struct conf_tls *t;
	char at[300];
	size_t i, n = c->ntls;

	if (!cv_ident_ok(name)) {
		config_error(ps, loc,
		    "bad tls profile name \"%s\" (letters, "
		    "digits, '-' and '_')",
		    name);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (strcmp(c->tls[i].name, name) == 0) {
			config_error(ps, loc,
			    "tls profile \"%s\" defined twice "
			    "(first %s)",
			    name,
			    config_where(ps, ps->tm[i].loc, loc, at,
				sizeof(at)));
			return -1;
		}
	c->tls = grow(c->tls, n + 1, sizeof(*c->tls));
	ps->tm = grow(ps->tm, n + 1, sizeof(*ps->tm));
	t = &c->tls[n];
	memset(t, 0, sizeof(*t));
	memset(&ps->tm[n], 0, sizeof(ps->tm[n]));
	t->name = xstrdup(name);
	t->handshake_timeout = DEF_HANDSHAKE_TIMEOUT;
	t->session_tickets = 1;
	t->line = loc.line;
	ps->tm[n].loc = config_keep(ps, loc);
	cause_set(&t->where, "%s:%d", ps->tm[n].loc.file, loc.line);
	c->ntls++;
	ps->ntm = c->ntls;
	return (int)n;
}

/* A key given twice: reported, and 1 returned.  Else where is noted. */
static int
twice(struct conf_parse *ps, struct conf_loc *seen, const char *key,
    struct conf_loc loc)
{
	char at[300];

	if (seen->line != 0) {
		config_error(ps, loc, "%s: given twice (first %s)", key,
		    config_where(ps, *seen, loc, at, sizeof(at)));
		return 1;
	}
	*seen = config_keep(ps, loc);
	return 0;
}

void
config_tls_key(struct conf_parse *ps, int i, const char *key, int type,
    const char *text, struct conf_loc loc)
{
	struct conf_tls *t = &ps->c->tls[i];
	char *cause = NULL;
	int k;

	if ((k = key_index(tls_keys, NTLS, key)) < 0) {
		config_error(ps, loc,
		    "unknown key \"%s\" in tls profile \"%s\"", key, t->name);
		return;
	}
	if (twice(ps, &ps->tm[i].keys[k], key, loc))
		return;
	if (tls_store(t, k, type, text, &cause) != 0) {
		config_error(ps, loc, "%s", cause);
		free(cause);
	}
}

int
config_tls_find(struct conf_parse *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->c->ntls; i++)
		if (strcmp(ps->c->tls[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
config_tls_sni_add(struct conf_parse *ps, int i, struct conf_loc loc)
{
	struct conf_tls *t = &ps->c->tls[i];
	struct tmeta *m = &ps->tm[i];
	size_t n = t->nsni;

	t->sni = grow(t->sni, n + 1, sizeof(*t->sni));
	m->sm = grow(m->sm, n + 1, sizeof(*m->sm));
	memset(&t->sni[n], 0, sizeof(t->sni[n]));
	memset(&m->sm[n], 0, sizeof(m->sm[n]));
	m->sm[n].loc = config_keep(ps, loc);
	cause_set(&t->sni[n].where, "%s:%d", m->sm[n].loc.file, loc.line);
	t->nsni++;
	return (int)n;
}

void
config_tls_sni_key(struct conf_parse *ps, int i, int j, const char *key,
    int type, const char *text, struct conf_loc loc)
{
	struct conf_tls *t = &ps->c->tls[i];
	char *cause = NULL;
	int k;

	if ((k = key_index(sni_keys, NSNI, key)) < 0) {
		config_error(ps, loc,
		    "unknown key \"%s\" in sni #%d of tls "
		    "profile \"%s\"",
		    key, j + 1, t->name);
		return;
	}
	if (twice(ps, &ps->tm[i].sm[j].keys[k], key, loc))
		return;
	if (sni_store(&t->sni[j], k, type, text, &cause) != 0) {
		config_error(ps, loc, "%s", cause);
		free(cause);
	}
}

/* ---- Checks ------------------------------------------------------------ */

/* A relative path is taken from the directory weftd was started in, as
 * plugin_dir is. */
static void
absolute(struct conf_parse *ps, char **path)
{
	char *p;

	if (*path == NULL)
		return;
	p = cv_path_join(ps->cwd, *path);
	free(*path);
	*path = p;
}

static void
check_sni(struct conf_parse *ps, size_t i, size_t j)
{
	struct conf_tls *t = &ps->c->tls[i];
	struct conf_tls_sni *e = &t->sni[j];
	struct smeta *m = &ps->tm[i].sm[j];
	size_t k;

	for (k = 0; k < NSNI; k++)
		if (m->keys[k].line == 0)
			config_error(ps, m->loc,
			    "tls profile \"%s\": sni #%zu: "
			    "missing %s",
			    t->name, j + 1, sni_keys[k]);
	absolute(ps, &e->cert);
	absolute(ps, &e->key);
}

static void
check_profile(struct conf_parse *ps, size_t i)
{
	struct conf_tls *t = &ps->c->tls[i];
	struct tmeta *m = &ps->tm[i];
	size_t j;

	if (m->keys[T_CERT].line == 0)
		config_error(ps, m->loc, "tls profile \"%s\": missing cert",
		    t->name);
	if (m->keys[T_KEY].line == 0)
		config_error(ps, m->loc, "tls profile \"%s\": missing key",
		    t->name);
	if (m->keys[T_VERIFY].line != 0 && m->keys[T_CLIENT_CA].line == 0 &&
	    t->verify_client != CONF_VERIFY_NONE)
		config_error(ps, m->keys[T_VERIFY],
		    "tls profile \"%s\": "
		    "verify_client needs client_ca",
		    t->name);
	/* A CA to check clients against, and no word on how: required. */
	if (m->keys[T_CLIENT_CA].line != 0 && m->keys[T_VERIFY].line == 0)
		t->verify_client = CONF_VERIFY_REQUIRED;
	absolute(ps, &t->cert);
	absolute(ps, &t->key);
	absolute(ps, &t->client_ca);
	for (j = 0; j < t->nsni; j++)
		check_sni(ps, i, j);
}

/* A warning, kept in the model for whoever loaded it to log. */
static void
warn(struct conf_parse *ps, struct conf_loc loc, const char *name)
{
	struct conf *c = ps->c;
	char *w = NULL;

	cause_set(&w,
	    "%s%s%s:%d: tls profile \"%s\" is not used by any "
	    "listener",
	    c->warnings != NULL ? c->warnings : "",
	    c->warnings != NULL ? "\n" : "", loc.file, loc.line, name);
	free(c->warnings);
	c->warnings = w;
}

void
config_tls_check(struct conf_parse *ps)
{
	struct conf *c = ps->c;
	struct conf_listener *l;
	char nb[300];
	size_t i, j;
	int *used;

	used = xcalloc(c->ntls + 1, sizeof(*used));
	for (i = 0; i < c->ntls; i++)
		check_profile(ps, i);
	for (i = 0; i < c->nlisteners; i++) {
		l = &c->listeners[i];
		if (l->tls == NULL)
			continue;
		for (j = 0; j < c->ntls; j++)
			if (strcmp(c->tls[j].name, l->tls) == 0)
				break;
		if (j < c->ntls) {
			l->tls_index = (int)j;
			used[j] = 1;
			continue;
		}
		config_error(ps, ps->lm[i].keys[L_TLS],
		    "%s: tls profile \"%s\" "
		    "is not defined",
		    config_lis_name(ps, i, nb, sizeof(nb)), l->tls);
	}
	for (i = 0; i < c->ntls; i++)
		if (!used[i])
			warn(ps, ps->tm[i].loc, c->tls[i].name);
	free(used);
}
