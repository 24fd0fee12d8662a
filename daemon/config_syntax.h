/*
 * The two syntax front-ends, called by config.c only.  Each reads the
 * file already opened as fp (named file in messages) and hands every key
 * to the model builder (config_model.h).  Each returns 0, or -1 when it
 * could not read the file at all (the error is recorded either way).
 */
#ifndef WEFTD_CONFIG_SYNTAX_H
#define WEFTD_CONFIG_SYNTAX_H

#include <stdio.h>

#include "config_model.h"

/* libconfig (.conf), config_conf.c. */
int config_conf_parse(struct conf_parse *ps, const char *file, FILE *fp);

/*
 * libconfig's error msg at loc, in the text path holds (what libconfig
 * read): for a bare "syntax error", the line, a caret and a hint for the
 * usual causes follow, each a "file:line: ..." error of its own
 * (config_hint.c).
 */
void config_syntax_error(struct conf_parse *ps, struct conf_loc loc,
    const char *msg, const char *path);

/* INI (.ini), config_ini.c. */
int config_ini_parse(struct conf_parse *ps, const char *file, FILE *fp);

#endif /* WEFTD_CONFIG_SYNTAX_H */
