/*
 * weftd --dump: the model as normalised text, INI-like, the same for
 * both syntaxes of one setup (plugins and settings sorted by name,
 * listeners in order, every default spelt out).
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_value.h"
#include "util.h"

/*
 * A value as text on one line: bare when that is unambiguous, else in
 * double quotes with C escapes (the same quoting the INI reader accepts).
 */
static void
put_value(FILE *fp, const char *s)
{
	const unsigned char *p;
	size_t n;
	int bare;

	n = strlen(s);
	bare = n > 0 && !isspace((unsigned char)s[0]) &&
	    !isspace((unsigned char)s[n - 1]);

	for (p = (const unsigned char *)s; bare && *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || strchr("\"\\;", *p) != NULL)
			bare = 0;
	if (bare) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '"':
		case '\\':
			fprintf(fp, "\\%c", *p);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(fp, "\\x%02x", *p);
			else
				fputc(*p, fp);
		}
	}
	fputc('"', fp);
}

static int
plugin_cmp(const void *a, const void *b)
{
	const struct conf_plugin *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int
setting_cmp(const void *a, const void *b)
{
	const struct conf_setting *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

static void
dump_plugin(const struct conf_plugin *p, FILE *fp)
{
	const struct conf_setting **s;
	size_t i;

	fprintf(fp, "\n[plugins.%s]\npath = ", p->name);
	put_value(fp, p->abspath != NULL ? p->abspath : p->path);
	fputc('\n', fp);
	if (p->nsettings == 0)
		return;
	s = xcalloc(p->nsettings, sizeof(*s));
	for (i = 0; i < p->nsettings; i++)
		s[i] = &p->settings[i];
	qsort(s, p->nsettings, sizeof(*s), setting_cmp);
	fprintf(fp, "[plugins.%s.settings]\n", p->name);
	for (i = 0; i < p->nsettings; i++) {
		fprintf(fp, "%s = ", s[i]->key);
		put_value(fp, s[i]->value);
		fputc('\n', fp);
	}
	free(s);
}

static void
dump_listener(const struct conf *c, size_t i, FILE *fp)
{
	const struct conf_listener *l = &c->listeners[i];
	const struct conf_plugin *p;
	char addr[300];

	if (l->name[0] != '\0')
		fprintf(fp, "\n[listen.%s]\n", l->name);
	else
		fprintf(fp, "\n[listen #%zu]\n", i + 1);
	if (l->kind == CONF_LISTEN_TCP) {
		cv_tcp_text(l, addr, sizeof(addr));
		fprintf(fp, "tcp = %s\n", addr);
	} else {
		fputs("unix = ", fp);
		put_value(fp, l->path);
		fputc('\n', fp);
		if (l->mode >= 0)
			fprintf(fp, "mode = %04o\n", (unsigned)l->mode);
		else
			fputs("mode = (none)\n", fp);
		/* As written: a name and its id are two ways to say it. */
		fputs("owner = ", fp);
		put_value(fp, l->owner != NULL ? l->owner : "(none)");
		fputs("\ngroup = ", fp);
		put_value(fp, l->group != NULL ? l->group : "(none)");
		fputc('\n', fp);
	}
	p = config_plugin(c, l->plugin);
	fprintf(fp, "plugin = %s\n", p != NULL ? p->name : l->plugin);
	fprintf(fp, "limit = %lld\n", (long long)l->limit);
	fprintf(fp, "backlog = %d\n", l->backlog);
	if (l->kind == CONF_LISTEN_TCP)
		fprintf(fp, "reuse_port = %s\n",
		    l->reuse_port ? "true" : "false");
	fprintf(fp, "max_connections = %lld\n", (long long)l->max_connections);
	if (l->tls != NULL)
		fprintf(fp, "tls = %s\n", l->tls);
	fprintf(fp, "send_timeout = %g\n", l->send_timeout);
	fprintf(fp, "proxy_protocol = %s\n",
	    l->proxy_protocol ? "true" : "false");
	if (l->proxy_protocol)
		fprintf(fp, "proxy_protocol_timeout = %g\n",
		    l->proxy_protocol_timeout);
	if (l->access_log != NULL) {
		fputs("access_log = ", fp);
		put_value(fp, l->access_log);
		fputc('\n', fp);
	}
}

/* key = a, b, c; or key = (none). */
static void
put_list(FILE *fp, const char *key, char *const *v, size_t n, const char *none)
{
	size_t i;

	fprintf(fp, "%s = %s", key, n == 0 ? none : "");
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", fp);
		put_value(fp, v[i]);
	}
	fputc('\n', fp);
}

static void
put_key(FILE *fp, const char *key, const char *value, const char *none)
{
	fprintf(fp, "%s = ", key);
	put_value(fp, value != NULL ? value : none);
	fputc('\n', fp);
}

static void
dump_tls(const struct conf_tls *t, FILE *fp)
{
	static const char *const verify[] = { "none", "optional", "required" };
	size_t i;

	fprintf(fp, "\n[tls.%s]\n", t->name);
	put_key(fp, "cert", t->cert, "(none)");
	put_key(fp, "key", t->key, "(none)");
	put_list(fp, "alpn", t->alpn, t->nalpn, "(none)");
	put_key(fp, "client_ca", t->client_ca, "(none)");
	fprintf(fp, "verify_client = %s\n", verify[t->verify_client]);
	put_list(fp, "protocols", t->protocols, t->nprotocols, "(default)");
	put_key(fp, "ciphers", t->ciphers, "(default)");
	put_key(fp, "ciphersuites", t->ciphersuites, "(default)");
	fprintf(fp, "handshake_timeout = %g\n", t->handshake_timeout);
	fprintf(fp, "session_tickets = %s\n",
	    t->session_tickets ? "true" : "false");
	for (i = 0; i < t->nsni; i++) {
		/* INI names an entry by a label of its own, libconfig does
		 * not: numbered, as listeners without a name are. */
		fprintf(fp, "[tls.%s.sni #%zu]\n", t->name, i + 1);
		put_list(fp, "names", t->sni[i].names, t->sni[i].nnames,
		    "(none)");
		put_key(fp, "cert", t->sni[i].cert, "(none)");
		put_key(fp, "key", t->sni[i].key, "(none)");
	}
}

static int
tls_cmp(const void *a, const void *b)
{
	const struct conf_tls *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static void
dump_profiles(const struct conf *c, FILE *fp)
{
	const struct conf_tls **t;
	size_t i;

	if (c->ntls == 0)
		return;
	t = xcalloc(c->ntls, sizeof(*t));
	for (i = 0; i < c->ntls; i++)
		t[i] = &c->tls[i];
	qsort(t, c->ntls, sizeof(*t), tls_cmp);
	for (i = 0; i < c->ntls; i++)
		dump_tls(t[i], fp);
	free(t);
}

void
config_dump(const struct conf *c, FILE *fp)
{
	const struct conf_plugin **p;
	size_t i;

	fprintf(fp, "workers = %d\n", c->workers);
	fputs("user = ", fp);
	put_value(fp, c->user != NULL ? c->user : "(none)");
	fputs("\ngroup = ", fp);
	put_value(fp, c->group != NULL ? c->group : "(none)");
	fprintf(fp, "\nlog_level = %s\n", config_log_level_name(c->log_level));
	fprintf(fp, "shutdown_timeout = %g\n", c->shutdown_timeout);
	fprintf(fp, "worker_timeout = %g\n", c->worker_timeout);
	fprintf(fp, "fiber_stack = %zu\n", c->fiber_stack);
	fprintf(fp, "fiber_stacks = %s\n",
	    c->fiber_stacks_shared ? "shared" : "private");
	fprintf(fp, "tls_ticket_rotation = %g\n", c->tls_ticket_rotation);
	fprintf(fp, "accept_balance = %s\n",
	    c->accept_balance ? "true" : "false");
	fputs("plugin_dir = ", fp);
	put_value(fp, c->plugin_dir);
	fputc('\n', fp);
	if (c->control_socket != NULL) {
		fputs("control_socket = ", fp);
		put_value(fp, c->control_socket);
		fputc('\n', fp);
	}

	if (c->nplugins > 0) {
		p = xcalloc(c->nplugins, sizeof(*p));
		for (i = 0; i < c->nplugins; i++)
			p[i] = &c->plugins[i];
		qsort(p, c->nplugins, sizeof(*p), plugin_cmp);
		for (i = 0; i < c->nplugins; i++)
			dump_plugin(p[i], fp);
		free(p);
	}
	for (i = 0; i < c->nlisteners; i++)
		dump_listener(c, i, fp);
	dump_profiles(c, fp);
}
