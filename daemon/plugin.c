/*
 * weftd's plugin loader: dlopen a handler .so, check its descriptor in a
 * fixed order, run its init with the settings from the config file, and
 * unload it again.  Workers, `weftd -t` and the reload probe call it; the
 * supervisor never does (it runs no plugin code).
 *
 * Every refusal names the file and what was expected and found, so
 * `weftd -t` can say why a plugin cannot be used without anyone having to
 * reach for a debugger.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "config.h"
#include "plugin.h"

/*
 * Names equal under the '-' == '_' rule (a descriptor name is a C
 * identifier, "http_hello", the config's is "http-hello").  config.c has
 * the same rule as config_name_eq; the loader keeps its own copy so it
 * does not depend on the config parser.
 */
static int
plugin_name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		if (*a == *b || ((*a == '-' || *a == '_') &&
		    (*b == '-' || *b == '_')))
			continue;
		return 0;
	}
	return *a == *b;
}

/* Set *cause to a formatted message (best effort: NULL if out of memory). */
static void plugin_cause(char **, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
plugin_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
}

/* Check the descriptor, in STYLE's order; 0 or -1 with *cause set. */
static int
plugin_check(const struct conf_plugin *cp, const char *file,
    const struct weft_plugin_desc *d, char **cause)
{
	if (d->magic != WEFT_PLUGIN_MAGIC) {
		plugin_cause(cause, "%s: bad descriptor magic 0x%08x, "
		    "expected 0x%08x (not a weft plugin?)", file,
		    (unsigned)d->magic, (unsigned)WEFT_PLUGIN_MAGIC);
		return -1;
	}
	if (d->abi_major != WEFT_PLUGIN_ABI_MAJOR) {
		plugin_cause(cause, "%s: ABI major %u, weftd expects %u", file,
		    (unsigned)d->abi_major, (unsigned)WEFT_PLUGIN_ABI_MAJOR);
		return -1;
	}
	if (d->abi_minor > WEFT_PLUGIN_ABI_MINOR) {
		plugin_cause(cause, "%s: built for ABI %u.%u, weftd has "
		    "%u.%u", file, (unsigned)d->abi_major,
		    (unsigned)d->abi_minor, (unsigned)WEFT_PLUGIN_ABI_MAJOR,
		    (unsigned)WEFT_PLUGIN_ABI_MINOR);
		return -1;
	}
	/* Only now is it safe to read past the fixed header. */
	if (d->struct_size < WEFT_PLUGIN_DESC_MIN_SIZE) {
		plugin_cause(cause, "%s: descriptor size %u, expected at "
		    "least %zu", file, (unsigned)d->struct_size,
		    WEFT_PLUGIN_DESC_MIN_SIZE);
		return -1;
	}
	if (d->name == NULL) {
		plugin_cause(cause, "%s: descriptor has no name, config "
		    "says '%s'", file, cp->name);
		return -1;
	}
	if (!plugin_name_eq(d->name, cp->name)) {
		plugin_cause(cause, "%s: plugin is named '%s', config says "
		    "'%s'", file, d->name, cp->name);
		return -1;
	}
	/* A flag this weftd does not know would change how the handler
	 * must be called: refuse rather than guess. */
	if ((d->flags & ~(uint32_t)WEFT_PLUGIN_CALLBACK) != 0) {
		plugin_cause(cause, "%s: unsupported descriptor flags 0x%x, "
		    "weftd supports 0x%x", file, (unsigned)d->flags,
		    (unsigned)WEFT_PLUGIN_CALLBACK);
		return -1;
	}
	if (d->client_connected == NULL) {
		plugin_cause(cause, "%s: descriptor has no client_connected "
		    "handler", file);
		return -1;
	}
	return 0;
}

/*
 * Who may have put this code here?  A plugin runs with the worker's
 * privileges, so a file, or a directory holding it, that someone else can
 * write is a way in: refuse a file or directory writable by group or
 * others, or owned by anyone but root or the user weftd runs as.  `what`
 * is "file" or "directory".  0, or -1 with *cause naming `file`.
 */
static int
plugin_path_safe(const char *file, const char *path, const char *what,
    char **cause)
{
	struct stat st;
	uid_t me = geteuid();

	if (stat(path, &st) != 0)
		return 0; /* missing: dlopen reports it in its own words */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		if (strcmp(what, "file") == 0)
			plugin_cause(cause, "%s: refusing to load: the file is "
			    "writable by %s (mode %04o)", file,
			    (st.st_mode & S_IWOTH) ? "others" : "its group",
			    (unsigned)(st.st_mode & 07777));
		else
			plugin_cause(cause, "%s: refusing to load: its "
			    "directory %s is writable by %s (mode %04o)", file,
			    path, (st.st_mode & S_IWOTH) ? "others"
							 : "its group",
			    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != me) {
		if (strcmp(what, "file") == 0)
			plugin_cause(cause, "%s: refusing to load: the file is "
			    "owned by uid %u, not root or uid %u (this weftd)",
			    file, (unsigned)st.st_uid, (unsigned)me);
		else
			plugin_cause(cause, "%s: refusing to load: its "
			    "directory %s is owned by uid %u, not root or uid "
			    "%u (this weftd)", file, path, (unsigned)st.st_uid,
			    (unsigned)me);
		return -1;
	}
	return 0;
}

/* Cut path at its last '/': its directory, "/" or "." in place. */
static const char *
dir_of(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash == NULL)
		return ".";
	if (slash == path)
		slash[1] = '\0';
	else
		*slash = '\0';
	return path;
}

/* The file, the directory it is named in and, through a symlink, the
 * directory it really is in. */
static int
plugin_file_safe(const char *file, char **cause)
{
	char *named, *real;
	const char *dir;
	int rc = -1;

	if ((named = strdup(file)) == NULL) {
		plugin_cause(cause, "%s: %s", file, strerror(ENOMEM));
		return -1;
	}
	real = realpath(file, NULL);
	dir = dir_of(named);
	if (plugin_path_safe(file, file, "file", cause) == 0 &&
	    plugin_path_safe(file, dir, "directory", cause) == 0 &&
	    (real == NULL || strcmp(dir_of(real), dir) == 0 ||
		plugin_path_safe(file, real, "directory", cause) == 0))
		rc = 0;
	free(real);
	free(named);
	return rc;
}

int
plugin_load(const struct conf_plugin *cp, struct plugin **out, char **cause)
{
	const struct weft_plugin_desc *d;
	struct plugin *p;
	const char *file, *err;
	void *dl;

	if (out == NULL || *out != NULL || cp == NULL || cp->name == NULL) {
		plugin_cause(cause, "plugin_load: bad arguments");
		return -1;
	}
	file = cp->abspath != NULL ? cp->abspath : cp->path;
	if (file == NULL) {
		plugin_cause(cause, "plugin '%s': no path", cp->name);
		return -1;
	}

	if (plugin_file_safe(file, cause) != 0)
		return -1;

	/* RTLD_NOW: an unresolved symbol fails here, in `weftd -t`, and not
	 * in a worker the first time a handler calls it.  RTLD_LOCAL: two
	 * plugins' private symbols never interpose on each other. */
	dlerror();
	if ((dl = dlopen(file, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		if (err == NULL)
			err = "unknown dlopen error";
		/* glibc's text starts with the file name already. */
		if (strstr(err, file) != NULL)
			plugin_cause(cause, "%s", err);
		else
			plugin_cause(cause, "%s: %s", file, err);
		return -1;
	}
	d = dlsym(dl, WEFT_PLUGIN_SYMBOL);
	if (d == NULL) {
		plugin_cause(cause, "%s: no %s symbol (not a weft plugin?)",
		    file, WEFT_PLUGIN_SYMBOL);
		goto fail;
	}
	if (plugin_check(cp, file, d, cause) != 0)
		goto fail;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		plugin_cause(cause, "%s: %s", file, strerror(ENOMEM));
		goto fail;
	}
	p->p_conf = cp;
	p->p_dl = dl;
	p->p_desc = d;
	*out = p;
	return 0;
fail:
	dlclose(dl);
	return -1;
}

int
plugin_init(struct plugin *p, const char *conffile, int worker, char **cause)
{
	const struct conf_plugin *cp = p->p_conf;
	const struct conf_setting *s;
	weft_plugin_ctx_t *ctx = NULL;
	void *state = NULL;
	char *text = NULL;
	size_t i;
	int rc, n;

	if (p->p_ctx != NULL) {
		plugin_cause(cause, "%s:%d: plugin %s: already initialised",
		    conffile, cp->line, cp->name);
		return -1;
	}
	if ((rc = weft_plugin_ctx_new(cp->name, cp->line, worker, &ctx)) != 0)
		goto nomem;
	for (i = 0; i < cp->nsettings; i++) {
		s = &cp->settings[i];
		rc = weft_plugin_ctx_add(ctx, s->key, s->value, s->type,
		    s->line);
		if (rc == -EEXIST) {
			plugin_cause(cause, "%s:%d: plugin %s: setting '%s' "
			    "given twice", conffile, s->line, cp->name,
			    s->key);
			goto fail;
		}
		if (rc == -EINVAL) {
			plugin_cause(cause, "%s:%d: plugin %s: setting '%s' "
			    "has a bad type %d", conffile, s->line, cp->name,
			    s->key != NULL ? s->key : "?", s->type);
			goto fail;
		}
		if (rc != 0)
			goto nomem;
	}

	rc = 0;
	if (p->p_desc->init != NULL)
		rc = p->p_desc->init(ctx, &state);
	if ((n = weft_plugin_ctx_errors(ctx, conffile, &text)) < 0) {
		if (rc == 0 && p->p_desc->fini != NULL)
			p->p_desc->fini(state);
		goto nomem;
	}
	if (rc < 0 && n == 0) {
		/* init failed without a word: say at least that much. */
		plugin_cause(cause, "%s:%d: plugin %s: init failed (%s)",
		    conffile, cp->line, cp->name, weft_strerror(rc));
		goto fail;
	}
	if (n > 0) {
		/* A bad value or an unknown setting fails init even if the
		 * plugin itself did not notice: undo what it built. */
		if (rc >= 0 && p->p_desc->fini != NULL)
			p->p_desc->fini(state);
		if (cause != NULL)
			*cause = text;
		else
			free(text);
		goto fail;
	}
	p->p_ctx = ctx;
	p->p_state = state;
	p->p_inited = 1;
	return 0;
nomem:
	plugin_cause(cause, "%s:%d: plugin %s: %s", conffile, cp->line,
	    cp->name, strerror(ENOMEM));
fail:
	weft_plugin_ctx_free(&ctx);
	return -1;
}

void
plugin_unload(struct plugin **pp)
{
	struct plugin *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	if (p->p_inited && p->p_desc->fini != NULL)
		p->p_desc->fini(p->p_state);
	/* The settings stay readable through fini: weft_setting_str's
	 * strings belong to the context. */
	weft_plugin_ctx_free(&p->p_ctx);
	if (p->p_dl != NULL)
		dlclose(p->p_dl);
	free(p);
	*pp = NULL;
}
