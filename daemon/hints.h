/*
 * Words that help whoever reads an error: "did you mean" for a name that
 * is close to a known one, and plain words for the dynamic linker's
 * jargon.  Pure functions over text: the config model, the loader and
 * `weftd -t` call them, and they call nothing of weftd's but util.c.
 */
#ifndef WEFTD_HINTS_H
#define WEFTD_HINTS_H

#include <stddef.h>

struct conf_plugin;

/*
 * The candidate word most likely meant: within 2 edits (a swap of two
 * neighbours is one), or one of which word is a prefix or that is a
 * prefix of word (at least 3 characters); '-' and '_' are the same.
 * NULL if none is close, or if word is one of them.
 */
const char *hint_closest(const char *word, const char *const *cands, size_t n);

/* " (did you mean \"x\"?)" for hint_closest's answer, "" if none; in buf. */
const char *hint_did_you_mean(const char *word, const char *const *cands,
    size_t n, char *buf, size_t len);

/*
 * The dynamic linker's err (dlerror()'s text, the library named as file)
 * for a plugin file, in plain words with the raw text kept in
 * parentheses: *cause (malloc'd) reads "file: WORDS (dlopen: err)".
 */
void hint_dlopen(const char *file, const char *err, char **cause);

/*
 * A loader refusal raw (what the loader said, naming the .so) for plugin
 * cp, as "FILE:LINE: plugin \"NAME\": raw", FILE the config file the
 * stanza is in (cp->file, or conffile if the stanza does not say) and
 * LINE its line; a relative path not found says where it was looked
 * up.  *cause is replaced.
 */
void hint_plugin_cause(const struct conf_plugin *cp, const char *conffile,
    char **cause);

#endif /* WEFTD_HINTS_H */
