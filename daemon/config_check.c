/*
 * The config checks that span keys, run once every key is in: plugin
 * names that collide, plugins without a path, listeners without an
 * address or a plugin, options that do not fit the listener's kind, and
 * listeners that share a name or an address.  Also where relative paths
 * are resolved: a relative plugin_dir and relative plugin paths against
 * the current directory when the file is loaded, so the model holds
 * absolute plugin paths and survives a later chdir.  UNIX socket paths
 * are kept as written: a relative one is relative to the directory weftd
 * binds from, and it must fit sun_path as written.  Then a file with no
 * listener (a worker would have nothing to serve) and, for -t, the start
 * and a reload (CONF_LOAD_SYSTEM), the names the file gives this
 * system: user, group, a UNIX listener's directory.  A plugin no
 * listener uses is a warning.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_impl.h"
#include "config_value.h"
#include "hints.h"
#include "util.h"

/* Two plugins whose names differ only in '-' and '_' are one plugin. */
static void
check_plugin_name(struct conf_parse *ps, size_t i)
{
	struct conf_plugin *p = &ps->c->plugins[i], *o;
	char at[300];
	size_t j;

	for (j = 0; j < i; j++) {
		o = &ps->c->plugins[j];
		if (!config_name_eq(o->name, p->name))
			continue;
		config_error(ps, ps->pm[i].loc,
		    "plugin \"%s\": same name as "
		    "plugin \"%s\" %s ('-' and '_' are the same)",
		    p->name, o->name,
		    config_where(ps, ps->pm[j].loc, ps->pm[i].loc, at,
			sizeof(at)));
		return;
	}
}

static void
check_plugins(struct conf_parse *ps)
{
	struct conf *c = ps->c;
	struct conf_plugin *p;
	size_t i;

	for (i = 0; i < c->nplugins; i++) {
		p = &c->plugins[i];
		check_plugin_name(ps, i);
		/* A path given but bad was reported where it was given. */
		if (p->path != NULL)
			p->abspath = cv_path_join(c->plugin_dir, p->path);
		else if (ps->pm[i].keys[P_PATH].line == 0)
			config_error(ps, ps->pm[i].loc,
			    "plugin \"%s\": "
			    "missing path",
			    p->name);
	}
}

/* A listener names a plugin no stanza defines: perhaps a typo of one. */
static void
check_no_plugin(struct conf_parse *ps, struct conf_loc loc, const char *nb,
    const char *name)
{
	const char **names;
	char hint[300];
	size_t i;

	names = xcalloc(ps->c->nplugins + 1, sizeof(*names));
	for (i = 0; i < ps->c->nplugins; i++)
		names[i] = ps->c->plugins[i].name;
	config_error(ps, loc, "%s: plugin \"%s\" is not defined%s", nb, name,
	    hint_did_you_mean(name, names, ps->c->nplugins, hint,
		sizeof(hint)));
	free(names);
}

/* The keys of listener i that do not fit together, or are missing. */
static void
check_listener_keys(struct conf_parse *ps, size_t i, const char *nb)
{
	struct conf *c = ps->c;
	struct conf_listener *l = &c->listeners[i];
	struct lmeta *m = &ps->lm[i];

	if (m->keys[L_TCP].line != 0 && m->keys[L_UNIX].line != 0)
		config_error(ps, m->loc,
		    "%s: has both tcp and unix (one "
		    "address per listener)",
		    nb);
	else if (m->keys[L_TCP].line == 0 && m->keys[L_UNIX].line == 0)
		config_error(ps, m->loc, "%s: needs tcp or unix", nb);
	if (m->keys[L_PLUGIN].line == 0)
		config_error(ps, m->loc, "%s: needs a plugin", nb);
	else if (l->plugin != NULL && config_plugin(c, l->plugin) == NULL)
		check_no_plugin(ps, m->keys[L_PLUGIN], nb, l->plugin);
	if (m->keys[L_MODE].line != 0 && m->keys[L_UNIX].line == 0)
		config_error(ps, m->keys[L_MODE],
		    "%s: mode is only for unix "
		    "listeners",
		    nb);
	if (m->keys[L_OWNER].line != 0 && m->keys[L_UNIX].line == 0)
		config_error(ps, m->keys[L_OWNER],
		    "%s: owner is only for unix "
		    "listeners",
		    nb);
	if (m->keys[L_GROUP].line != 0 && m->keys[L_UNIX].line == 0)
		config_error(ps, m->keys[L_GROUP],
		    "%s: group is only for unix "
		    "listeners",
		    nb);
	if (l->access_log != NULL && l->access_log[0] != '/' &&
	    strcmp(l->access_log, "journal") != 0 &&
	    strcmp(l->access_log, "stderr") != 0)
		config_error(ps, m->keys[L_ACCESS_LOG],
		    "%s: access_log is an absolute path, \"journal\" or "
		    "\"stderr\", not \"%s\"",
		    nb, l->access_log);
	if (m->keys[L_REUSE].line != 0 && m->keys[L_TCP].line == 0)
		config_error(ps, m->keys[L_REUSE],
		    "%s: reuse_port is only for "
		    "tcp listeners",
		    nb);
	if (m->keys[L_PROXY_TIMEOUT].line != 0 && !l->proxy_protocol)
		config_error(ps, m->keys[L_PROXY_TIMEOUT],
		    "%s: proxy_protocol_timeout needs proxy_protocol = true",
		    nb);
}

/* Is listener j's address listener i's?  Port 0 asks for a fresh port
 * each time; "./a.sock" and "a.sock" are the same socket. */
static int
same_address(struct conf_parse *ps, size_t i, size_t j)
{
	const struct conf_listener *l = &ps->c->listeners[i];
	const struct conf_listener *o = &ps->c->listeners[j];
	char a1[300], a2[300], *p1, *p2;
	int dup;

	if (!ps->lm[j].addr_ok || o->kind != l->kind)
		return 0;
	if (l->kind == CONF_LISTEN_TCP) {
		cv_tcp_text(l, a1, sizeof(a1));
		cv_tcp_text(o, a2, sizeof(a2));
		return l->port != 0 && strcmp(a1, a2) == 0;
	}
	p1 = cv_path_join(ps->cwd, l->path);
	p2 = cv_path_join(ps->cwd, o->path);
	dup = strcmp(p1, p2) == 0;
	free(p1);
	free(p2);
	return dup;
}

static void
check_listener(struct conf_parse *ps, size_t i)
{
	struct conf *c = ps->c;
	struct conf_listener *l = &c->listeners[i];
	struct lmeta *m = &ps->lm[i];
	char nb[300], ob[300], at[300], a1[300];
	size_t j;

	config_lis_name(ps, i, nb, sizeof(nb));
	check_listener_keys(ps, i, nb);
	for (j = 0; j < i; j++) {
		if (l->name[0] != '\0' &&
		    strcmp(l->name, c->listeners[j].name) == 0) {
			config_error(ps, m->keys[L_NAME],
			    "%s: name already "
			    "used by the listener %s",
			    nb,
			    config_where(ps, ps->lm[j].loc, m->keys[L_NAME], at,
				sizeof(at)));
			break;
		}
	}
	if (!m->addr_ok ||
	    (m->keys[L_TCP].line != 0 && m->keys[L_UNIX].line != 0))
		return;
	for (j = 0; j < i; j++) {
		if (!same_address(ps, i, j))
			continue;
		config_lis_name(ps, j, ob, sizeof(ob));
		if (l->kind == CONF_LISTEN_TCP) {
			cv_tcp_text(l, a1, sizeof(a1));
			config_error(ps, m->keys[L_TCP],
			    "%s: tcp %s already "
			    "used by %s %s",
			    nb, a1, ob,
			    config_where(ps, ps->lm[j].keys[L_TCP],
				m->keys[L_TCP], at, sizeof(at)));
		} else
			config_error(ps, m->keys[L_UNIX],
			    "%s: unix %s already "
			    "used by %s %s",
			    nb, l->path, ob,
			    config_where(ps, ps->lm[j].keys[L_UNIX],
				m->keys[L_UNIX], at, sizeof(at)));
		break;
	}
}

/* A warning, kept in the model for whoever loaded it to log (-t, the
 * start, a reload), as config_tls.c does for an unused profile. */
static void
check_warn(struct conf_parse *ps, struct conf_loc loc, const char *msg,
    const char *name)
{
	struct conf *c = ps->c;
	char *w = NULL;

	cause_set(&w, "%s%s%s:%d: %s \"%s\" is not used by any listener",
	    c->warnings != NULL ? c->warnings : "",
	    c->warnings != NULL ? "\n" : "",
	    loc.file != NULL ? loc.file : c->file, loc.line, msg, name);
	free(c->warnings);
	c->warnings = w;
}

/* A plugin no listener names is loaded for nothing: likely a typo. */
static void
check_unused_plugins(struct conf_parse *ps)
{
	struct conf *c = ps->c;
	size_t i, j;

	for (i = 0; i < c->nplugins; i++) {
		for (j = 0; j < c->nlisteners; j++)
			if (c->listeners[j].plugin != NULL &&
			    config_name_eq(c->listeners[j].plugin,
				c->plugins[i].name))
				break;
		if (j == c->nlisteners)
			check_warn(ps, ps->pm[i].loc, "plugin",
			    c->plugins[i].name);
	}
}

/*
 * user and group are looked up only when the supervisor drops its
 * privileges; a name that does not exist is better found by -t and
 * before a reload than by a daemon that will not start.
 */
static void
check_ids(struct conf_parse *ps)
{
	struct conf *c = ps->c;

	if (c->user != NULL && getpwnam(c->user) == NULL)
		config_error(ps, ps->top[1], "user: no such user \"%s\"",
		    c->user);
	if (c->group != NULL && getgrnam(c->group) == NULL)
		config_error(ps, ps->top[2], "group: no such group \"%s\"",
		    c->group);
}

/* A UNIX socket cannot be bound in a directory that is not there; the
 * path is relative to the directory weftd binds from, the cwd here. */
static void
check_unix_dir(struct conf_parse *ps, size_t i)
{
	struct conf_listener *l = &ps->c->listeners[i];
	char nb[300], *abs, *dir;
	struct stat st;
	int rc;

	if (l->kind != CONF_LISTEN_UNIX || l->path == NULL ||
	    !ps->lm[i].addr_ok)
		return;
	abs = cv_path_join(ps->cwd, l->path);
	dir = dirname(abs);
	/* Only a missing one: one this process may not search may still be
	 * there for the uid that binds. */
	rc = stat(dir, &st);
	if (rc != 0 && (errno == ENOENT || errno == ENOTDIR))
		config_error(ps, ps->lm[i].loc,
		    "%s: directory %s does not exist",
		    config_lis_name(ps, i, nb, sizeof(nb)), dir);
	else if (rc == 0 && !S_ISDIR(st.st_mode))
		config_error(ps, ps->lm[i].loc, "%s: %s is not a directory",
		    config_lis_name(ps, i, nb, sizeof(nb)), dir);
	free(abs);
}

void
config_check(struct conf_parse *ps, int flags)
{
	struct conf_loc none = { NULL, 0 };
	struct conf *c = ps->c;
	char *dir;
	size_t i;

	/* Resolve plugin_dir once, so plugins and dumps agree on it. */
	dir = cv_path_join(ps->cwd, c->plugin_dir);
	free(c->plugin_dir);
	c->plugin_dir = dir;
	/* Relative like plugin_dir: the source tree's dev config keeps it
	 * under _build/. */
	if (c->control_socket != NULL) {
		dir = cv_path_join(ps->cwd, c->control_socket);
		free(c->control_socket);
		c->control_socket = dir;
	}

	if (flags & CONF_LOAD_SYSTEM)
		check_ids(ps);
	check_plugins(ps);
	for (i = 0; i < c->nlisteners; i++) {
		check_listener(ps, i);
		if (flags & CONF_LOAD_SYSTEM)
			check_unix_dir(ps, i);
	}
	/* A worker with nothing to serve exits at once, and the supervisor
	 * would restart it forever.  Said only of an otherwise good file:
	 * a listener refused for its name is not "no listeners". */
	if (c->nlisteners == 0 && ps->nerrs == 0)
		config_error(ps, none, "no listeners: nothing to serve");
	check_unused_plugins(ps);
	config_tls_check(ps);
}
