/*
 * weftd's plugin loader: dlopen a handler .so, check its descriptor, run
 * its init with the configured settings.  Called by workers, by `weftd -t`
 * and by the reload probe; never by the supervisor itself.
 */
#ifndef WEFTD_LOADER_H
#define WEFTD_LOADER_H

#include <weft/plugin.h>

#include "autoconf.h"

struct plugin {
	const struct conf_plugin *p_conf;
	void *p_dl;
	int p_fd; /* the sealed copy p_dl was loaded from */
	const struct weft_plugin_desc *p_desc;
	weft_plugin_ctx_t *p_ctx;
	void *p_state;
	int p_inited;
};

/*
 * Open cp->abspath through directory fds checked on the way (owner, mode:
 * loader.c says which), copy it into a sealed memfd and dlopen(RTLD_NOW |
 * RTLD_LOCAL) that copy, so the bytes checked are the bytes run and a
 * later write to the file changes nothing loaded.  Then check, in
 * order: the descriptor symbol, magic, ABI major (equal), ABI minor (not
 * newer), struct size, name (cp->name, '-' == '_'), flags (none
 * supported yet), a client_connected handler.  On failure returns -1
 * and *cause (malloc'd, the caller frees it) reads "FILE:LINE: plugin
 * "NAME": " (cp->file and cp->line, the stanza that asked for it), then
 * names the .so and what was expected and found, with the dynamic
 * linker's jargon said plainly and, for a relative path not found, the
 * plugin_dir it was looked up in (hints.c).  cp must outlive the plugin (p_conf points to it).
 * *out must be NULL.  The copy's fd (p_fd) stays open until
 * plugin_unload: the dynamic linker and debuggers name the plugin by it.
 */
int plugin_load(const struct conf_plugin *cp, struct plugin **out,
    char **cause);

/*
 * Build the settings context (worker index given) and call init.  On
 * failure (init error, a setting of the wrong type, a setting init never
 * read) returns -1 with *cause as "file:line: plugin "NAME": message"
 * lines joined by '\n' (no trailing newline), file being the config
 * file the stanza is in (cp->file, else conffile); a failed init is not
 * blamed for the settings it did not read (weft_plugin_ctx_init_failed).
 * If init had succeeded, fini has been called.  On success the
 * plugin is ready: run p_desc->client_connected(r, w, p_state) per
 * connection.  The context stays alive until plugin_unload (the
 * plugin may keep the strings it read).
 */
int plugin_init(struct plugin *p, const char *conffile, int worker,
    char **cause);

/* Call fini (if init succeeded) and dlclose; *pp becomes NULL. */
void plugin_unload(struct plugin **pp);

#endif /* WEFTD_LOADER_H */
