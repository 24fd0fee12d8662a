/*
 * Hints for error messages (hints.h): the closest known name to a
 * mistyped one, and the dynamic linker's words for why it would not load
 * a plugin, said again in the words of whoever built the plugin.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hints.h"
#include "util.h"

#define HINT_WORD_MAX 64 /* longer names get no suggestion */
#define HINT_PREFIX 3	 /* a prefix match ranks after 2 edits */

static int
hint_fold(int c)
{
	return c == '-' ? '_' : tolower(c);
}

static int
min3(int a, int b, int c)
{
	int m = a < b ? a : b;

	return m < c ? m : c;
}

/*
 * The optimal string alignment distance of a and b (Damerau: a swap of
 * two neighbours is one edit), '-' and '_' and case folded; -1 if either
 * is too long to be worth it.  Row i of the table is d[i % 3].
 */
static int
hint_distance(const char *a, const char *b)
{
	int d[3][HINT_WORD_MAX + 1], *p2, *p1, *cur;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > HINT_WORD_MAX || lb > HINT_WORD_MAX)
		return -1;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++) {
		p2 = d[(i + 1) % 3];
		p1 = d[(i + 2) % 3];
		cur = d[i % 3];
		cur[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			cur[j] = min3(p1[j] + 1, cur[j - 1] + 1,
			    p1[j - 1] +
				(hint_fold(a[i - 1]) != hint_fold(b[j - 1])));
			if (i > 1 && j > 1 &&
			    hint_fold(a[i - 1]) == hint_fold(b[j - 2]) &&
			    hint_fold(a[i - 2]) == hint_fold(b[j - 1]) &&
			    p2[j - 2] + 1 < cur[j])
				cur[j] = p2[j - 2] + 1;
		}
	}
	return d[la % 3][lb];
}

/* Is the shorter of a and b (at least HINT_PREFIX long) a prefix of the
 * other? */
static int
hint_prefix(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb, i;

	if (n < HINT_PREFIX)
		return 0;
	for (i = 0; i < n; i++)
		if (hint_fold(a[i]) != hint_fold(b[i]))
			return 0;
	return 1;
}

const char *
hint_closest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	int bestd = HINT_PREFIX + 1, max, d;
	size_t i;

	if (word == NULL)
		return NULL;
	/* Two edits turn any two-letter word into any other. */
	max = strlen(word) <= 3 ? 1 : 2;
	for (i = 0; i < n; i++) {
		if (cands[i] == NULL)
			continue;
		if (strcmp(word, cands[i]) == 0)
			return NULL; /* known after all: nothing to suggest */
		/* Equal but for case or '-' and '_': as good as one edit. */
		if ((d = hint_distance(word, cands[i])) == 0)
			d = 1;
		if (d < 0 || d > max)
			d = hint_prefix(word, cands[i]) ? HINT_PREFIX : -1;
		if (d > 0 && d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return best;
}

const char *
hint_did_you_mean(const char *word, const char *const *cands, size_t n,
    char *buf, size_t len)
{
	const char *best = hint_closest(word, cands, n);

	if (best == NULL)
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, " (did you mean \"%s\"?)", best);
	return buf;
}

/* The name err gives before ": what" (a library the plugin needs). */
static int
hint_lib(const char *err, const char *what, const char **name)
{
	const char *at = strstr(err, what);

	if (at == NULL || at == err || at[-1] != ' ' || at[-2] != ':')
		return -1;
	*name = err;
	return (int)(at - 2 - err);
}

void
hint_dlopen(const char *file, const char *err, char **cause)
{
	const char *sym, *lib;
	int n;

	if (strstr(err, "only ET_DYN and ET_EXEC") != NULL ||
	    strstr(err, "invalid ELF header") != NULL ||
	    strstr(err, "file too short") != NULL ||
	    strstr(err, "cannot dynamically load") != NULL)
		cause_set(cause,
		    "%s: not a shared library: build it with -shared -fPIC "
		    "(dlopen: %s)",
		    file, err);
	else if (strstr(err, "wrong ELF class") != NULL ||
	    strstr(err, "ELF file data encoding") != NULL ||
	    strstr(err, "ELF file OS ABI") != NULL)
		cause_set(cause,
		    "%s: built for another architecture than this weftd's "
		    "(dlopen: %s)",
		    file, err);
	else if ((sym = strstr(err, "undefined symbol: ")) != NULL) {
		sym += strlen("undefined symbol: ");
		cause_set(cause,
		    "%s: the plugin uses %.*s, which nothing loaded defines: "
		    "link the library that has it (-l...) or define the "
		    "function (a typo? a source file left out?) (dlopen: %s)",
		    file, (int)strcspn(sym, ", "), sym, err);
	} else if ((n = hint_lib(err, "cannot open shared object file", &lib)) >
		0 &&
	    strncmp(lib, file, (size_t)n) != 0)
		cause_set(cause,
		    "%s: needs the library %.*s, which the dynamic linker "
		    "cannot find: install it, or run ldconfig if it is in a "
		    "directory of /etc/ld.so.conf (dlopen: %s)",
		    file, n, lib, err);
	else if (n > 0)
		/* The file itself, which was just read: the linker did not
		 * take it for a library it could run. */
		cause_set(cause,
		    "%s: not loadable here: built for another architecture? "
		    "(dlopen: %s)",
		    file, err);
	else if (strncmp(err, file, strlen(file)) == 0)
		cause_set(cause, "%s", err);
	else
		cause_set(cause, "%s: %s", file, err);
}

/* Where a relative plugin path was looked up: abspath without path. */
static void
hint_lookup_dir(const struct conf_plugin *cp, char *buf, size_t len)
{
	size_t la = strlen(cp->abspath), lp = strlen(cp->path);
	const char *slash;

	if (la > lp + 1 && strcmp(cp->abspath + la - lp, cp->path) == 0 &&
	    cp->abspath[la - lp - 1] == '/')
		snprintf(buf, len, "%.*s", (int)(la - lp - 1), cp->abspath);
	else if ((slash = strrchr(cp->abspath, '/')) != NULL)
		snprintf(buf, len, "%.*s",
		    slash == cp->abspath ? 1 : (int)(slash - cp->abspath),
		    cp->abspath);
	else
		snprintf(buf, len, ".");
}

void
hint_plugin_cause(const struct conf_plugin *cp, const char *conffile,
    char **cause)
{
	char dir[4096] = "", *raw;
	const char *file;

	if (cause == NULL || *cause == NULL)
		return;
	raw = *cause;
	*cause = NULL;
	file = cp->file != NULL ? cp->file : conffile;
	if (file == NULL)
		file = "(config)";
	if (cp->path != NULL && cp->path[0] != '/' && cp->abspath != NULL &&
	    strstr(raw, strerror(ENOENT)) != NULL)
		hint_lookup_dir(cp, dir, sizeof(dir));
	if (dir[0] != '\0')
		cause_set(cause,
		    "%s:%d: plugin \"%s\": %s (\"%s\" is relative: looked up "
		    "in plugin_dir %s)",
		    file, cp->line, cp->name, raw, cp->path, dir);
	else
		cause_set(cause, "%s:%d: plugin \"%s\": %s", file, cp->line,
		    cp->name, raw);
	free(raw);
}
