/*
 * Converting one config value: the text a front-end read, with the type
 * its syntax gave it (config_model.h's CONF_T_*), into what the model
 * stores.  The leaf of the config code: it knows nothing of files, lines
 * or the model, and says what is wrong through *cause ("KEY: message",
 * malloc'd; config_model.c adds the file and line).
 */
#ifndef WEFTD_CONFIG_VALUE_H
#define WEFTD_CONFIG_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Each returns 0, or -1 with *cause set. */
int cv_int(const char *key, int type, const char *text, int64_t min,
    int64_t max, int64_t *out, char **cause);
/* A number of seconds in (0, max] or, with min_ms > 0, in
 * [min_ms / 1000, max]. */
int cv_seconds(const char *key, int type, const char *text, int64_t min_ms,
    double *out, char **cause);
int cv_bool(const char *key, int type, const char *text, int *out,
    char **cause);
/* A string, not empty. */
int cv_str(const char *key, int type, const char *text, char **cause);
int cv_mode(const char *key, int type, const char *text, int *out,
    char **cause);
/* A user (is_group 0) or group name or numeric id. */
int cv_id(const char *key, int type, const char *text, int is_group,
    unsigned long *out, char **cause);
int cv_level(const char *key, int type, const char *text, int *out,
    char **cause);
int cv_stacks(const char *key, int type, const char *text, int *out,
    char **cause);
int cv_lname(const char *key, int type, const char *text, char **cause);
/* "host:port" forms (weft_hostport_parse); *host is malloc'd. */
int cv_tcp(const char *key, int type, const char *text, char **host, int *port,
    char **cause);
/* A UNIX socket path that fits sun_path. */
int cv_unix(const char *key, int type, const char *text, char **cause);

/* Listener names: letters, digits, '.', '-', '_', '@'. */
int cv_lname_ok(const char *s);
/* Plugin names and setting keys: what libconfig allows in a name. */
int cv_ident_ok(const char *s);

/*
 * dir and path joined (path wins if absolute) and tidied lexically,
 * malloc'd: no "//", no "." segments, no trailing '/'.
 */
char *cv_path_join(const char *dir, const char *path);

/* The normalised "host:port" of a TCP listener. */
void cv_tcp_text(const struct conf_listener *l, char *buf, size_t len);

#endif /* WEFTD_CONFIG_VALUE_H */
