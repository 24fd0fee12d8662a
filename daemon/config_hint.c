/*
 * libconfig stops at its first syntax error and says only "syntax error"
 * and a line.  The text libconfig read is read again here to show that
 * line, a caret under what it most likely choked on, and a hint for the
 * usual causes: an unquoted value (a host:port above all), "==", a JSON
 * habit (quoted keys), two groups of a list without a ',' between them,
 * a bracket closed by the wrong kind, and one never closed at all.
 * Every line is "file:line: ..." like any other error.
 */
#include "autoconf.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_syntax.h"
#include "util.h"

#define HINT_TEXT_MAX (1 << 20) /* a longer file gets no hint */
#define HINT_DEPTH 64

/* What the scan of the text found. */
struct syn {
	char *text;
	size_t len;
	const char *line; /* the error line, NULL past the end */
	size_t linelen;
	char open[HINT_DEPTH]; /* brackets open at the error line's start */
	int openline[HINT_DEPTH];
	int depth;
	int in_string;	 /* the file ended inside a string from this line */
	const char *col; /* the caret, NULL if none */
	char hint[512];
};

static char *
read_text(const char *path, size_t *len)
{
	char *buf;
	ssize_t n;
	int fd;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	buf = xmalloc(HINT_TEXT_MAX + 1);
	*len = 0;
	while (*len < HINT_TEXT_MAX &&
	    (n = read(fd, buf + *len, HINT_TEXT_MAX - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	buf[*len] = '\0';
	return buf;
}

/* A closer for an opener. */
static char
closer(char open)
{
	return open == '{' ? '}' : open == '(' ? ')' : ']';
}

/*
 * Walk the brackets (outside strings and comments) up to the end of line
 * stop, or to the first closer that does not match (its place in *bad).
 */
static void
scan_brackets(struct syn *sy, int stop, const char **bad)
{
	const char *p = sy->text, *end = sy->text + sy->len;
	int line = 1, sline = 0;

	*bad = NULL;
	for (; p < end && line <= stop; p++) {
		if (*p == '\n')
			line++;
		else if (*p == '#' || (*p == '/' && p[1] == '/'))
			p = memchr(p, '\n', (size_t)(end - p)) != NULL
			    ? (const char *)memchr(p, '\n', (size_t)(end - p)) -
				1
			    : end - 1;
		else if (*p == '/' && p[1] == '*') {
			for (p += 2;
			     p + 1 < end && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			p++;
		} else if (*p == '"') {
			sline = line;
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				line += *p == '\n';
			}
			if (p == end)
				sy->in_string = sline;
		} else if (strchr("{([", *p) != NULL &&
		    sy->depth < HINT_DEPTH) {
			sy->open[sy->depth] = *p;
			sy->openline[sy->depth++] = line;
		} else if (strchr("})]", *p) != NULL) {
			if (sy->depth == 0 ||
			    closer(sy->open[sy->depth - 1]) != *p) {
				*bad = p;
				return;
			}
			sy->depth--;
		}
	}
}

/* Is the n bytes at p a value libconfig takes unquoted? */
static int
scalar_ok(const char *p, size_t n)
{
	char buf[64], *end;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (strcasecmp(buf, "true") == 0 || strcasecmp(buf, "false") == 0)
		return 1;
	if (buf[n - 1] == 'L')
		buf[--n] = '\0';
	(void)strtod(buf, &end);
	return *end == '\0';
}

/* An unquoted value after '=' or ':' on the line. */
static int
hint_unquoted(struct syn *sy)
{
	const char *l = sy->line, *e = l + sy->linelen, *p, *v, *ve, *k;
	size_t kl;

	for (p = l; p < e && *p != '"'; p++) {
		if (*p != '=' && *p != ':')
			continue;
		for (v = p + 1; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		/* "[::1]:80" is no array. */
		if (v == e || (strchr("\"{(", *v) != NULL) ||
		    (*v == '[' && v[1] != ':' &&
			!isxdigit((unsigned char)v[1])))
			continue;
		for (ve = v; ve < e && strchr(";,}) \t", *ve) == NULL; ve++)
			;
		if (ve == v) {
			sy->col = v;
			snprintf(sy->hint, sizeof(sy->hint),
			    "a value is missing after '%c'", *p);
			return 1;
		}
		if (scalar_ok(v, (size_t)(ve - v)))
			continue;
		for (k = p; k > l && (k[-1] == ' ' || k[-1] == '\t'); k--)
			;
		for (kl = 0; k - (ptrdiff_t)kl > l &&
		     (isalnum((unsigned char)k[-1 - (ptrdiff_t)kl]) ||
			 strchr("_-*", k[-1 - (ptrdiff_t)kl]) != NULL);
		     kl++)
			;
		sy->col = v;
		snprintf(sy->hint, sizeof(sy->hint),
		    "%s must be quoted: %.*s = \"%.*s\";",
		    memchr(v, ':', (size_t)(ve - v)) != NULL
			? "an address (host:port)"
			: "a string",
		    (int)kl, k - kl, (int)(ve - v), v);
		return 1;
	}
	return 0;
}

/* Hints that the error line alone gives. */
static void
hint_line(struct syn *sy)
{
	const char *l = sy->line, *e = l + sy->linelen, *p;

	for (p = l; p < e && (*p == ' ' || *p == '\t'); p++)
		;
	if ((p = strstr(l, "==")) != NULL && p < e) {
		sy->col = p;
		snprintf(sy->hint, sizeof(sy->hint),
		    "one '=' between a key and its value: key = value;");
		return;
	}
	for (p = l; p < e && (*p == ' ' || *p == '\t' || *p == '{'); p++)
		;
	if (p < e && *p == '"') {
		sy->col = p;
		snprintf(sy->hint, sizeof(sy->hint),
		    "keys are not quoted (this is not JSON): key = value;");
		return;
	}
	for (p = l; p < e; p++) {
		if (*p != '}')
			continue;
		for (p++; p < e && (*p == ' ' || *p == '\t'); p++)
			;
		if (p < e && *p == '{') {
			sy->col = p;
			snprintf(sy->hint, sizeof(sy->hint),
			    "missing ',' between the groups of a list: "
			    "( { ... }, { ... } )");
			return;
		}
	}
	(void)hint_unquoted(sy);
}

/* Find the error line and what can be said about it. */
static void
analyse(struct syn *sy, int lineno)
{
	const char *p = sy->text, *end = sy->text + sy->len, *bad, *nl;
	int i;

	for (i = 1; i < lineno && p != NULL && p < end; i++)
		p = (nl = memchr(p, '\n', (size_t)(end - p))) != NULL ? nl + 1
								      : NULL;
	if (p != NULL && p < end) {
		sy->line = p;
		nl = memchr(p, '\n', (size_t)(end - p));
		sy->linelen = (size_t)((nl != NULL ? nl : end) - p);
	}
	scan_brackets(sy, lineno, &bad);
	if (bad != NULL && sy->line != NULL && bad >= sy->line &&
	    bad <= sy->line + sy->linelen) {
		sy->col = bad;
		if (sy->depth == 0)
			snprintf(sy->hint, sizeof(sy->hint),
			    "'%c' closes nothing", *bad);
		else
			snprintf(sy->hint, sizeof(sy->hint),
			    "'%c' closes the '%c' opened at line %d, which "
			    "ends with '%c'",
			    *bad, sy->open[sy->depth - 1],
			    sy->openline[sy->depth - 1],
			    closer(sy->open[sy->depth - 1]));
	} else if (sy->line != NULL)
		hint_line(sy);
	else if (sy->in_string)
		snprintf(sy->hint, sizeof(sy->hint),
		    "the string opened at line %d is never closed: a '\"' is "
		    "missing",
		    sy->in_string);
	else if (sy->depth > 0)
		snprintf(sy->hint, sizeof(sy->hint),
		    "the file ends inside the '%c' opened at line %d: a '%c' "
		    "is missing",
		    sy->open[sy->depth - 1], sy->openline[sy->depth - 1],
		    closer(sy->open[sy->depth - 1]));
}

/* The line, then a caret under sy->col (blanks kept, so tabs align). */
static void
show_line(struct conf_parse *ps, struct conf_loc loc, const struct syn *sy)
{
	char *caret;
	size_t i, n;

	config_error(ps, loc, "    %.*s", (int)sy->linelen, sy->line);
	if (sy->col == NULL)
		return;
	n = (size_t)(sy->col - sy->line);
	caret = xmalloc(n + 2);
	for (i = 0; i < n; i++)
		caret[i] = sy->line[i] == '\t' ? '\t' : ' ';
	caret[n] = '^';
	caret[n + 1] = '\0';
	config_error(ps, loc, "    %s", caret);
	free(caret);
}

void
config_syntax_error(struct conf_parse *ps, struct conf_loc loc, const char *msg,
    const char *path)
{
	struct syn sy;
	size_t i;
	int blank = 1;

	memset(&sy, 0, sizeof(sy));
	if (msg == NULL || strcmp(msg, "syntax error") != 0 || loc.line <= 0 ||
	    (sy.text = read_text(path, &sy.len)) == NULL) {
		config_error(ps, loc, "%s", msg != NULL ? msg : "syntax error");
		return;
	}
	analyse(&sy, loc.line);
	for (i = 0; sy.line != NULL && i < sy.linelen; i++)
		blank &= sy.line[i] == ' ' || sy.line[i] == '\t' ||
		    sy.line[i] == '\r';
	config_error(ps, loc, "%s%s", msg,
	    sy.line == NULL ? " at the end of the file" : "");
	if (sy.line != NULL && !blank)
		show_line(ps, loc, &sy);
	if (sy.hint[0] != '\0')
		config_error(ps, loc, "hint: %s", sy.hint);
	free(sy.text);
}
