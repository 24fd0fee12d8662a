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

/* INI (.ini), config_ini.c. */
int config_ini_parse(struct conf_parse *ps, const char *file, FILE *fp);

#endif /* WEFTD_CONFIG_SYNTAX_H */
