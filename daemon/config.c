/*
 * weftd's configuration: loading a file.
 *
 * The layers, each calling only the ones below it:
 *   config.c         open the file once, pick the syntax, dispatch,
 *                    run the checks, hand out the model or the errors;
 *   config_conf.c    the libconfig front-end (.conf),
 *   config_ini.c     the inih front-end (.ini): each turns its syntax
 *                    into one call per key (config_model.h);
 *   config_check.c   the checks that span keys;
 *   config_model.c   the schema, the model and the error list;
 *   config_value.c   converting one value.
 * config_dump.c prints a model (weftd --dump).
 *
 * The file is opened here once and the front-end reads that open file:
 * a file renamed over the path after it was checked here is not the one
 * parsed.  (libconfig also opens the @include files itself; config_conf.c
 * hands it checked copies instead.)
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_model.h"
#include "config_syntax.h"

static int
is_ini(const char *file)
{
	size_t n;

	n = strlen(file);
	return n > 4 && strcasecmp(file + n - 4, ".ini") == 0;
}

int
config_load(const char *file, struct conf **out, char **cause)
{
	return config_load_flags(file, 0, out, cause);
}

int
config_load_flags(const char *file, int flags, struct conf **out, char **cause)
{
	struct conf_parse *ps;
	struct conf_loc none = { NULL, 0 };
	struct stat st;
	FILE *fp;
	char *cwd;
	int parsed, cwd_errno;

	cwd = getcwd(NULL, 0);
	cwd_errno = errno;
	ps = config_parse_new(file, cwd);
	/* A file that cannot be opened gets errno's words, not a parser's. */
	if ((fp = fopen(file, "re")) == NULL) {
		config_error(ps, none, "%s", strerror(errno));
		goto done;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		config_error(ps, none, "%s", strerror(EISDIR));
		goto done;
	}
	if (cwd == NULL) {
		config_error(ps, none, "cannot get the current directory: %s",
		    strerror(cwd_errno));
		goto done;
	}
	/* A file the front-end could not read has no model worth checking. */
	if (is_ini(file))
		parsed = config_ini_parse(ps, file, fp);
	else
		parsed = config_conf_parse(ps, file, fp);
	if (parsed == 0)
		config_check(ps, flags);
done:
	if (fp != NULL)
		fclose(fp);
	free(cwd);
	return config_parse_end(ps, out, cause);
}
