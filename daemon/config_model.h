/*
 * The config model builder's interface, below the two syntax front-ends
 * (config_conf.c for libconfig, config_ini.c for inih) and config.c,
 * which loads a file through one of them.
 *
 * A front-end turns its syntax into the calls below, one per key, each
 * with the key's file and line; config_model.c owns the schema (which
 * keys exist, their types and ranges), config_check.c the checks that
 * span keys (duplicates, missing plugins), and both record errors here.
 * Nothing in this layer calls back up into config.c or a front-end.
 */
#ifndef WEFTD_CONFIG_MODEL_H
#define WEFTD_CONFIG_MODEL_H

#include "config.h"

/* Types a front-end passes besides CONF_T_STR/INT/BOOL/FLOAT. */
enum {
	CONF_T_TEXT = 0,   /* untyped text (INI), parsed per key */
	CONF_T_GROUP = 16, /* a group/list/array instead of a value */
	CONF_T_LIST = 17,  /* a list of strings, joined by ',' */
};

/* Where something was written.  file NULL means the file being loaded. */
struct conf_loc {
	const char *file;
	int line;
};

struct conf_parse;

/* ---- For the front-ends ------------------------------------------------ */

/* Record one error; every error is reported, so parsing goes on. */
void config_error(struct conf_parse *ps, struct conf_loc loc, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* A top-level key (workers, user, ...; not plugins or listen). */
void config_top_key(struct conf_parse *ps, const char *key, int type,
    const char *text, struct conf_loc loc);

/*
 * Declare a plugin (libconfig: plugins.NAME; INI: [plugins.NAME]) and
 * return its index, or -1 after an error (bad or duplicate name).
 * config_plugin_ref() finds or creates a plugin without declaring it, for
 * an INI [plugins.NAME.settings] section met before [plugins.NAME].
 */
int config_plugin_add(struct conf_parse *ps, const char *name,
    struct conf_loc loc);
int config_plugin_ref(struct conf_parse *ps, const char *name,
    struct conf_loc loc);
void config_plugin_key(struct conf_parse *ps, int plugin, const char *key,
    int type, const char *text, struct conf_loc loc);
void config_plugin_setting(struct conf_parse *ps, int plugin, const char *key,
    int type, const char *text, struct conf_loc loc);

/* Add a listener (name may be NULL) and return its index, or -1. */
int config_listener_add(struct conf_parse *ps, const char *name,
    struct conf_loc loc);
void config_listener_key(struct conf_parse *ps, int listener, const char *key,
    int type, const char *text, struct conf_loc loc);

/*
 * TLS profiles (libconfig: tls = { NAME = { ... }; }; INI: [tls.NAME]),
 * config_tls.c.  A list value (alpn, protocols, names) is CONF_T_LIST
 * text, its items joined by ','; a string is split at commas and
 * blanks.  config_tls_add() returns the profile's index, or -1 after an
 * error; config_tls_sni_add() the entry's index in that profile.
 */
int config_tls_add(struct conf_parse *ps, const char *name,
    struct conf_loc loc);
void config_tls_key(struct conf_parse *ps, int tls, const char *key, int type,
    const char *text, struct conf_loc loc);
/* The index of profile name, -1 if it is not defined (yet). */
int config_tls_find(struct conf_parse *ps, const char *name);
int config_tls_sni_add(struct conf_parse *ps, int tls, struct conf_loc loc);
void config_tls_sni_key(struct conf_parse *ps, int tls, int sni,
    const char *key, int type, const char *text, struct conf_loc loc);

/* ---- For config.c ------------------------------------------------------ */

/* A parse of file, with the model at its defaults.  cwd (copied) is what
 * relative paths are resolved against. */
struct conf_parse *config_parse_new(const char *file, const char *cwd);

/* The checks that span keys (config_check.c), once every key is in;
 * flags are config_load_flags()'s. */
void config_check(struct conf_parse *ps, int flags);

/*
 * End the parse: with no error recorded, *out is the model and 0 is
 * returned; else -1 and *cause (if cause is not NULL) is every error,
 * sorted by file and line, one "file:line: message" per line.  ps is
 * freed either way.
 */
int config_parse_end(struct conf_parse *ps, struct conf **out, char **cause);

#endif /* WEFTD_CONFIG_MODEL_H */
