/*
 * weftd's plugin loader: dlopen a handler .so, check its descriptor, run
 * its init with the configured settings.  Called by workers, by `weftd -t`
 * and by the reload probe; never by the supervisor itself.
 */
#ifndef WEFTD_LOADER_H
#define WEFTD_LOADER_H

#include <sys/stat.h>

#include <weft/plugin.h>

#include "autoconf.h"

struct plugin_mod;

/*
 * One plugin instance: a config stanza (p_conf->name is the instance's
 * name, p_desc->name its type) with its own context, state and fibers,
 * running code from a .so it shares with every instance of the same file
 * in this process.
 */
struct plugin {
	const struct conf_plugin *p_conf;
	struct plugin_mod *p_mod; /* the loaded file (loader_mod.c) */
	void *p_dl;		  /* its handle */
	int p_fd;		  /* the sealed copy p_dl was loaded from */
	const struct weft_plugin_desc *p_desc;
	weft_plugin_ctx_t *p_ctx;
	void *p_state;
	int p_inited;
	int p_stopped;		     /* plugin_stop ran */
	weft_fiber_group_t *p_group; /* fibers init and stop spawned */
};

/*
 * Open cp->abspath through directory fds checked on the way (owner, mode:
 * loader.c says which), copy it into a sealed memfd and dlopen(RTLD_NOW |
 * RTLD_LOCAL) that copy, so the bytes checked are the bytes run and a
 * later write to the file changes nothing loaded.  A file this process
 * has loaded already (the same file, unchanged) is not loaded again: the
 * instances share it.  Then check, in order: the descriptor symbol,
 * magic, ABI major (equal), ABI minor (not newer), struct size, a name
 * (the plugin's type; the instance is named by cp->name), flags
 * (WEFT_PLUGIN_CALLBACK only), a client_connected handler.  On failure returns -1
 * and *cause (malloc'd, the caller frees it) names the file and what was
 * expected and found.  cp must outlive the plugin (p_conf points to it).
 * *out must be NULL.  The copy's fd (p_fd) stays open until
 * plugin_unload: the dynamic linker and debuggers name the plugin by it.
 */
int plugin_load(const struct conf_plugin *cp, struct plugin **out,
    char **cause);

/*
 * Build the settings context (worker index given) and call init, on a
 * fiber: the running one, else a new one, the loop run until init
 * returns (so never call it, or plugin_unload, from a libuv callback).
 * The fibers init spawns belong to the instance (p_group).  On
 * failure (init error, a setting of the wrong type, a setting init never
 * read) returns -1 with *cause as "file:line: plugin NAME: message"
 * lines joined by '\n' (no trailing newline), file being the config
 * file; if init had succeeded, fini has been called.  On success the
 * plugin is ready: run p_desc->client_connected(r, w, p_state) per
 * connection.  The context stays alive until plugin_unload (the
 * plugin may keep the strings it read).
 */
int plugin_init(struct plugin *p, const char *conffile, int worker,
    char **cause);

/*
 * Cancel the instance's fibers and wait for them to end, call fini (if
 * init succeeded) on a fiber as plugin_init runs init, and dlclose the
 * file if no other instance uses it; *pp becomes NULL.
 */
void plugin_unload(struct plugin **pp);

/*
 * The graceful stop begins: start the instance's stop hook (ABI 1.3) on
 * a fiber of its own, in the instance's group, once.  Call it from a
 * fiber.
 */
void plugin_stop(struct plugin *p);

/* ---- loader_run.c: running plugin code on fibers ---------------------- */

/* init(ctx, state) on a fiber, in p's group (made here); if it fails, the
 * fibers it spawned are cancelled and waited for. */
int plugin_run_init(struct plugin *p, weft_plugin_ctx_t *ctx, void **state);

/* End p's fibers, then fini(state) on a fiber (if p has a fini). */
void plugin_run_fini(struct plugin *p, void *state);

/* End p's fibers and free its group (before the code goes); the number
 * of fibers that could not be ended (then the code must stay). */
size_t plugin_run_end(struct plugin *p);

/* ---- loader_mod.c: the loaded files ----------------------------------- */

/* The file st describes, if loaded: a new reference, its handle and fd. */
struct plugin_mod *plugin_mod_find(const struct stat *st, void **dl, int *fd);

/* Record a file just loaded (one reference); NULL without memory. */
struct plugin_mod *plugin_mod_add(const struct stat *st, void *dl, int fd);

/* Drop a reference; the last dlcloses the file and closes its fd. */
void plugin_mod_put(struct plugin_mod *m);

#endif /* WEFTD_LOADER_H */
