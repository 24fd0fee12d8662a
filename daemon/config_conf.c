/*
 * The libconfig front-end (.conf files).
 *
 * libconfig parses the whole file first and stops at its first syntax
 * error, which is then the only error reported (in libconfig's words, at
 * libconfig's line).  A file that parses is walked setting by setting;
 * every setting goes to the model builder (config_model.c) with its file
 * and line (config_setting_source_file/_line), which reports unknown
 * keys and wrong types.  @include paths are relative to the including file's
 * directory.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_model.h"
#include "config_syntax.h"
#include "log.h"
#include "util.h"

struct val {
	int type;
	const char *text;
	char buf[64];
};

/* A checked copy libconfig reads instead of the file (check_includes). */
struct copy {
	int fd;
	char path[32]; /* "/proc/self/fd/N", what libconfig names */
	char *name;    /* as @include wrote it; NULL: the loaded file */
};

struct walk {
	struct conf_parse *ps;
	const char *file;   /* the file being loaded */
	const char *dir;    /* its directory, or NULL for "." */
	char buf[PATH_MAX]; /* src(): config_model.c copies what it keeps */
	struct copy *copies;
	size_t ncopies;
};

/*
 * The name to report for a source file: NULL for the file being loaded.
 * libconfig names an included file as the @include directive wrote it,
 * relative to include_dir; the name is made to say where it really is.
 */
static const char *
src(struct walk *w, const char *f)
{
	size_t i;

	for (i = 0; f != NULL && i < w->ncopies; i++)
		if (strcmp(f, w->copies[i].path) == 0) {
			f = w->copies[i].name;
			break;
		}
	if (f == NULL || strcmp(f, w->file) == 0)
		return NULL;
	if (f[0] == '/' || w->dir == NULL)
		return f;
	snprintf(w->buf, sizeof(w->buf), "%s/%s",
	    strcmp(w->dir, "/") == 0 ? "" : w->dir, f);
	return w->buf;
}

static struct conf_loc
loc_of(struct walk *w, const config_setting_t *s)
{
	struct conf_loc loc;

	loc.file = src(w, config_setting_source_file(s));
	loc.line = config_setting_source_line(s);
	return loc;
}

/*
 * The shortest text that reads back as the same double: "0.1", not
 * "0.10000000000000001", so a libconfig float and the same number written
 * in INI dump alike.
 */
static void
fmt_double(double d, char *buf, size_t len)
{
	int prec;

	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
	snprintf(buf, len, "%.17g", d);
}

/* A setting as typed text, the form config_model.c takes. */
static void
value(const config_setting_t *s, struct val *v)
{
	v->text = v->buf;
	v->buf[0] = '\0';
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v->type = CONF_T_INT;
		snprintf(v->buf, sizeof(v->buf), "%lld",
		    config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		v->type = CONF_T_FLOAT;
		fmt_double(config_setting_get_float(s), v->buf, sizeof(v->buf));
		break;
	case CONFIG_TYPE_BOOL:
		v->type = CONF_T_BOOL;
		v->text = config_setting_get_bool(s) ? "true" : "false";
		break;
	case CONFIG_TYPE_STRING:
		v->type = CONF_T_STR;
		v->text = config_setting_get_string(s);
		break;
	default:
		v->type = CONF_T_GROUP;
		break;
	}
}

static void
walk_plugin(struct walk *w, const config_setting_t *g)
{
	struct conf_parse *ps = w->ps;
	const config_setting_t *k, *s;
	const char *name;
	struct val v;
	int i, j, idx;

	name = config_setting_name(g);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		config_error(ps, loc_of(w, g),
		    "plugin \"%s\": expected a "
		    "group { path = \"...\"; }",
		    name);
		return;
	}
	if ((idx = config_plugin_add(ps, name, loc_of(w, g))) < 0)
		return;
	for (i = 0; i < config_setting_length(g); i++) {
		k = config_setting_get_elem(g, (unsigned)i);
		if (strcmp(config_setting_name(k), "settings") != 0) {
			value(k, &v);
			config_plugin_key(ps, idx, config_setting_name(k),
			    v.type, v.text, loc_of(w, k));
			continue;
		}
		if (config_setting_type(k) != CONFIG_TYPE_GROUP) {
			config_error(ps, loc_of(w, k),
			    "plugin \"%s\": "
			    "settings: expected a group { key = value; ... }",
			    name);
			continue;
		}
		for (j = 0; j < config_setting_length(k); j++) {
			s = config_setting_get_elem(k, (unsigned)j);
			value(s, &v);
			config_plugin_setting(ps, idx, config_setting_name(s),
			    v.type, v.text, loc_of(w, s));
		}
	}
}

static void
walk_listen(struct walk *w, const config_setting_t *list)
{
	struct conf_parse *ps = w->ps;
	const config_setting_t *g, *k;
	struct val v;
	int i, j, idx;

	/* An empty "listen = [];" parses as an array; accept it as none. */
	if (config_setting_type(list) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(list) == CONFIG_TYPE_ARRAY &&
		config_setting_length(list) == 0)) {
		config_error(ps, loc_of(w, list),
		    "listen: expected a list of "
		    "groups: ( { ... }, { ... } )");
		return;
	}
	for (i = 0; i < config_setting_length(list); i++) {
		g = config_setting_get_elem(list, (unsigned)i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			config_error(ps, loc_of(w, g),
			    "listen: expected a "
			    "list of groups: ( { ... }, { ... } )");
			continue;
		}
		if ((idx = config_listener_add(ps, NULL, loc_of(w, g))) < 0)
			continue;
		for (j = 0; j < config_setting_length(g); j++) {
			k = config_setting_get_elem(g, (unsigned)j);
			value(k, &v);
			config_listener_key(ps, idx, config_setting_name(k),
			    v.type, v.text, loc_of(w, k));
		}
	}
}

/*
 * libconfig 1.5 fopen()s an @include target and hands it to its flex
 * scanner, which exit()s the whole process ("input in flex scanner
 * failed") when a read fails, and blocks on a FIFO.  A read fails on a
 * directory, and on files that are regular as far as stat(2) can tell,
 * such as /proc/self/mem (EIO at offset 0).  `@include "conf.d"` would
 * take the supervisor down on a reload.  So the includes are looked at
 * first, found as libconfig's scanner finds them (outside strings and
 * comments, a line of blanks, "@include", blanks, then a quoted name in
 * which only \\ and \" are escapes), and each target is opened and read
 * here to the end, as libconfig would.  One that is not a regular file,
 * or that cannot be opened or read, is an error naming the include, and
 * a missing one gets libconfig's words ("cannot open include file").  The
 * file being loaded is read here first too: `weftd -c /proc/self/mem`
 * would exit the same way.
 *
 * libconfig must then parse the bytes that were checked, not open the
 * paths again: a file replaced in between (by a directory, a FIFO) would
 * take the supervisor down after all.  libconfig 1.5 has no hook for
 * reading an include, so each file read here is handed over as a copy in
 * a memfd, and every @include checked is rewritten to name its copy as
 * "/proc/self/fd/N" (with no include_dir, which libconfig would put in
 * front of it).  src() turns those names back into the files' own.
 */
#define INCLUDE_DEPTH_MAX 10   /* libconfig's */
#define INCLUDE_COPIES_MAX 512 /* fds held while libconfig parses */

/* A growing text. */
struct text {
	char *b;
	size_t len, cap;
};

static void
text_add(struct text *t, const char *p, size_t n)
{
	if (n == 0)
		return; /* t->b may still be NULL: no memcpy to it */
	if (t->cap - t->len < n) {
		t->cap = t->len + n + t->cap + 256;
		if ((t->b = realloc(t->b, t->cap)) == NULL)
			fatal("config");
	}
	memcpy(t->b + t->len, p, n);
	t->len += n;
}

/*
 * Keep text as a copy for libconfig, named `name` (as @include wrote it,
 * NULL for the file being loaded).  Its "/proc/self/fd/N" path, or NULL
 * after an error reported at loc.
 */
static const char *
make_copy(struct walk *w, struct conf_loc loc, const char *name,
    const char *text, size_t len)
{
	struct copy *c;
	ssize_t n;
	size_t off;
	int fd;

	if (w->ncopies == INCLUDE_COPIES_MAX) {
		config_error(w->ps, loc, "more than %d @include files",
		    INCLUDE_COPIES_MAX);
		return NULL;
	}
	if ((fd = memfd_create("weftd-config", MFD_CLOEXEC)) < 0) {
		config_error(w->ps, loc, "memfd_create: %s", strerror(errno));
		return NULL;
	}
	for (off = 0; off < len; off += (size_t)n) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n <= 0) {
			config_error(w->ps, loc, "copying: %s",
			    strerror(n < 0 ? errno : EIO));
			close(fd);
			return NULL;
		}
	}
	w->copies = reallocarray(w->copies, w->ncopies + 1, sizeof(*w->copies));
	if (w->copies == NULL ||
	    (name != NULL && (name = strdup(name)) == NULL))
		fatal("config");
	c = &w->copies[w->ncopies++];
	c->fd = fd;
	c->name = (char *)name;
	snprintf(c->path, sizeof(c->path), "/proc/self/fd/%d", fd);
	/* Without /proc libconfig would only say "file I/O error". */
	if (access(c->path, R_OK) != 0) {
		config_error(w->ps, loc,
		    "cannot read the checked copy as %s: "
		    "%s (is /proc mounted?)",
		    c->path, strerror(errno));
		return NULL;
	}
	return c->path;
}

static void
free_copies(struct walk *w)
{
	size_t i;

	for (i = 0; i < w->ncopies; i++) {
		close(w->copies[i].fd);
		free(w->copies[i].name);
	}
	free(w->copies);
	w->copies = NULL;
	w->ncopies = 0;
}

/* libconfig's include path: include_dir "/" name, or name. */
static char *
include_path(const char *dir, const char *name)
{
	char *p;

	if (dir == NULL)
		p = strdup(name);
	else if (asprintf(&p, "%s/%s", dir, name) < 0)
		p = NULL;
	if (p == NULL)
		fatal("config");
	return p;
}

/*
 * Read all of fd into *text and *len (the caller frees *text).  Returns
 * 0, an errno value, or -1 for a file that is not a regular file, which
 * is not read: what a FIFO gave would be lost to libconfig.  The check
 * is on the file read, so it cannot be swapped in between.
 */
static int
read_fd(int fd, char **text, size_t *len)
{
	struct stat st;
	size_t cap = 0;
	ssize_t n;

	*text = NULL;
	*len = 0;
	if (fstat(fd, &st) != 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return -1;
	for (;;) {
		if (cap - *len < 4096 &&
		    (*text = realloc(*text, cap = cap * 2 + 4096)) == NULL)
			fatal("config");
		n = read(fd, *text + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(*text);
			*text = NULL;
			*len = 0;
			return errno;
		}
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
}

/* read_fd() for a path; the open does not wait for a FIFO's writer
 * (O_NONBLOCK). */
static int
read_whole(const char *path, char **text, size_t *len)
{
	int fd, error;

	*text = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return errno;
	error = read_fd(fd, text, len);
	close(fd);
	return error;
}

/* A text check_includes() is scanning. */
struct scan {
	const char *text;
	size_t len;
	size_t i;    /* the byte looked at */
	size_t done; /* what comes before is in out already */
	int line;
	const char *written; /* as @include wrote it, NULL: the file */
	int depth;
	struct text *out;
};

static int check_includes(struct walk *, const char *, size_t, const char *,
    int, struct text *);

/*
 * The name of an @include, sc->i at its opening quote, decoded into name
 * as libconfig's scanner does; sc->i ends at the closing quote and *nl
 * counts the newlines in between.  -1 if the text ends first.
 */
static int
include_name(struct scan *sc, char *name, int *nl)
{
	const char *t = sc->text;
	size_t i, k, len = sc->len;

	*nl = 0;
	for (i = sc->i + 1, k = 0; i < len && t[i] != '"'; i++) {
		*nl += t[i] == '\n';
		if (t[i] == '\\' && i + 1 < len &&
		    (t[i + 1] == '\\' || t[i + 1] == '"'))
			name[k++] = t[++i];
		else if (t[i] == '\\')
			continue; /* flex drops it */
		else if (t[i] == '\0')
			/* A run of plain bytes counts up to a NUL, as in
			 * libconfig's string buffer. */
			for (;
			     i + 1 < len && t[i + 1] != '"' && t[i + 1] != '\\';
			     i++)
				*nl += t[i + 1] == '\n';
		else
			name[k++] = t[i];
	}
	name[k] = '\0';
	sc->i = i;
	return i == len ? -1 : 0;
}

/*
 * Check the file @include names (its opening quote at q, the directive
 * at loc, spanning nl newlines) and everything it includes, and write
 * the text up to the closing quote to sc->out with the name replaced by
 * the copy's.  0, or -1 after an error.
 */
static int
include_one(struct walk *w, struct scan *sc, const char *name, size_t q, int nl,
    struct conf_loc loc)
{
	struct text sub, *out = sc->out;
	const char *copy = NULL;
	char *full, *inc;
	size_t inclen;
	int error, rc = -1;

	full = include_path(w->dir, name);
	if ((error = read_whole(full, &inc, &inclen)) == ENOENT)
		config_error(w->ps, loc, "cannot open include file");
	else if (error != 0)
		config_error(w->ps, loc, "@include \"%s\": %s", name,
		    error == -1 ? "not a regular file" : strerror(error));
	free(full);
	if (error != 0)
		return -1;
	memset(&sub, 0, sizeof(sub));
	rc = check_includes(w, inc, inclen, name, sc->depth + 1, &sub);
	free(inc);
	/* src() shares one buffer: name it again. */
	loc.file = sc->depth == 0 ? NULL : src(w, sc->written);
	if (rc == 0 &&
	    (copy = make_copy(w, loc, name, sub.b != NULL ? sub.b : "",
		 sub.len)) == NULL)
		rc = -1;
	free(sub.b);
	if (copy == NULL)
		return rc;
	/* The name becomes the copy's; the lines it spanned stay lines. */
	text_add(out, sc->text + sc->done, q + 1 - sc->done);
	text_add(out, copy, strlen(copy));
	text_add(out, "\"", 1);
	while (nl-- > 0)
		text_add(out, "\n", 1);
	sc->done = sc->i + 1;
	return 0;
}

/*
 * An @include directive at sc->i (a line of blanks, "@include", blanks,
 * a quoted name); 0, or -1 after an error.  *stop is set when the text
 * ends inside the name.
 */
static int
include_at(struct walk *w, struct scan *sc, char *name, int *stop)
{
	const char *t = sc->text;
	struct conf_loc loc;
	size_t q;
	int nl;

	loc.file = sc->depth == 0 ? NULL : src(w, sc->written);
	loc.line = sc->line;
	for (sc->i += 8;
	     sc->i < sc->len && (t[sc->i] == ' ' || t[sc->i] == '\t'); sc->i++)
		;
	if (sc->i == sc->len || t[sc->i] != '"') {
		sc->i--; /* not an include: look again */
		return 0;
	}
	q = sc->i;
	if (include_name(sc, name, &nl) != 0) {
		sc->line += nl;
		*stop = 1;
		return 0;
	}
	sc->line += nl;
	/* Nested deeper than libconfig goes: it refuses this @include
	 * without opening anything. */
	if (sc->depth >= INCLUDE_DEPTH_MAX)
		return 0;
	return include_one(w, sc, name, q, nl, loc);
}

/*
 * Check the @includes of text (the file written as `written`, NULL for the
 * file being loaded, at include depth `depth`) and append it to *out with
 * each checked @include naming its copy.  Returns 0 or -1 after an error.
 * Comments and strings are skipped as libconfig's scanner skips them.
 */
static int
check_includes(struct walk *w, const char *text, size_t len,
    const char *written, int depth, struct text *out)
{
	struct scan sc = { text, len, 0, 0, 1, written, depth, out };
	char *name;
	size_t i;
	int bol = 1, rc = 0, stop = 0;

	name = xmalloc(len + 1);
	for (; sc.i < len && rc == 0 && !stop; sc.i++) {
		i = sc.i;
		if (text[i] == '\n') {
			sc.line++;
			bol = 1;
		} else if (text[i] == ' ' || text[i] == '\t') {
			continue;
		} else if (bol && len - i > 9 &&
		    memcmp(text + i, "@include", 8) == 0 &&
		    (text[i + 8] == ' ' || text[i + 8] == '\t')) {
			bol = 0;
			rc = include_at(w, &sc, name, &stop);
		} else if (text[i] == '#' ||
		    (text[i] == '/' && i + 1 < len && text[i + 1] == '/')) {
			while (sc.i + 1 < len && text[sc.i + 1] != '\n')
				sc.i++;
		} else if (text[i] == '/' && i + 1 < len &&
		    text[i + 1] == '*') {
			for (sc.i += 2; sc.i + 1 < len &&
			     !(text[sc.i] == '*' && text[sc.i + 1] == '/');
			     sc.i++)
				sc.line += text[sc.i] == '\n';
			sc.i++;
			bol = 0;
		} else if (text[i] == '"') {
			for (sc.i++; sc.i < len && text[sc.i] != '"'; sc.i++) {
				if (text[sc.i] == '\\' && sc.i + 1 < len)
					sc.i++;
				sc.line += text[sc.i] == '\n';
			}
			bol = 0;
		} else {
			bol = 0;
		}
	}
	free(name);
	if (rc == 0 && sc.done < len)
		text_add(out, text + sc.done, len - sc.done);
	return rc;
}

/*
 * The file being loaded: config_load() has opened it as fp, and refused
 * a directory.  Anything else that is not a regular file is left to
 * libconfig as before (*copy stays NULL); a regular file that cannot be
 * read is an error.  Otherwise *copy is the checked copy libconfig reads,
 * made of what fp reads.
 */
static int
check_file(struct walk *w, FILE *fp, const char **copy)
{
	struct conf_loc none = { NULL, 0 };
	struct text out;
	char *text;
	size_t len;
	int error, rc;

	*copy = NULL;
	if ((error = read_fd(fileno(fp), &text, &len)) == -1)
		return 0;
	if (error != 0) {
		config_error(w->ps, none, "%s", strerror(error));
		return -1;
	}
	memset(&out, 0, sizeof(out));
	rc = check_includes(w, text, len, NULL, 0, &out);
	if (rc == 0 &&
	    (*copy = make_copy(w, none, NULL, out.b != NULL ? out.b : "",
		 out.len)) == NULL)
		rc = -1;
	free(out.b);
	free(text);
	return rc;
}

/*
 * A key of a TLS profile or of an SNI entry as typed text: a list or an
 * array of strings is CONF_T_LIST, its items joined by ','.  Returns what
 * the caller frees (NULL if nothing).
 */
static char *
tls_value(const config_setting_t *k, struct val *v)
{
	struct text t = { NULL, 0, 0 };
	const char *e;
	int i, n;

	if (config_setting_type(k) != CONFIG_TYPE_LIST &&
	    config_setting_type(k) != CONFIG_TYPE_ARRAY) {
		value(k, v);
		return NULL;
	}
	v->type = CONF_T_LIST;
	n = config_setting_length(k);
	for (i = 0; i < n && v->type == CONF_T_LIST; i++) {
		if ((e = config_setting_get_string_elem(k, i)) == NULL)
			v->type = CONF_T_GROUP; /* "expected a string" */
		else {
			text_add(&t, ",", i > 0);
			text_add(&t, e, strlen(e));
		}
	}
	text_add(&t, "", 1);
	v->text = t.b;
	return t.b;
}

static void walk_sni(struct walk *, const config_setting_t *, int);

/* The keys of profile idx (sni < 0) or of its SNI entry sni. */
static void
walk_tls_keys(struct walk *w, const config_setting_t *g, int idx, int sni)
{
	const config_setting_t *k;
	struct val v;
	char *buf;
	int i;

	for (i = 0; i < config_setting_length(g); i++) {
		k = config_setting_get_elem(g, (unsigned)i);
		if (sni < 0 && strcmp(config_setting_name(k), "sni") == 0) {
			walk_sni(w, k, idx);
			continue;
		}
		buf = tls_value(k, &v);
		if (sni < 0)
			config_tls_key(w->ps, idx, config_setting_name(k),
			    v.type, v.text, loc_of(w, k));
		else
			config_tls_sni_key(w->ps, idx, sni,
			    config_setting_name(k), v.type, v.text,
			    loc_of(w, k));
		free(buf);
	}
}

/* sni = ( { names = [ ... ]; cert = "..."; key = "..."; }, ... ); */
static void
walk_sni(struct walk *w, const config_setting_t *list, int idx)
{
	const config_setting_t *g;
	int i, ok = config_setting_type(list) == CONFIG_TYPE_LIST;

	for (i = 0; ok && i < config_setting_length(list); i++) {
		g = config_setting_get_elem(list, (unsigned)i);
		if ((ok = config_setting_type(g) == CONFIG_TYPE_GROUP))
			walk_tls_keys(w, g, idx,
			    config_tls_sni_add(w->ps, idx, loc_of(w, g)));
	}
	if (!ok)
		config_error(w->ps, loc_of(w, list),
		    "sni: expected a list of groups: ( { names = [ ... ]; "
		    "cert = \"...\"; key = \"...\"; } )");
}

/* tls = { NAME = { cert = "..."; key = "..."; ... }; ... }; */
static void
walk_tls(struct walk *w, const config_setting_t *s)
{
	const config_setting_t *g;
	int i, idx;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		config_error(w->ps, loc_of(w, s),
		    "tls: expected a group: tls = { NAME = { cert = "
		    "\"...\"; key = \"...\"; }; };");
		return;
	}
	for (i = 0; i < config_setting_length(s); i++) {
		g = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			config_error(w->ps, loc_of(w, g),
			    "tls profile \"%s\": expected a group { cert = "
			    "\"...\"; key = \"...\"; }",
			    config_setting_name(g));
		else if ((idx = config_tls_add(w->ps, config_setting_name(g),
			      loc_of(w, g))) >= 0)
			walk_tls_keys(w, g, idx, -1);
	}
}

int
config_conf_parse(struct conf_parse *ps, const char *file, FILE *fp)
{
	const config_setting_t *root, *s;
	struct conf_loc loc;
	struct walk w;
	struct val v;
	config_t cfg;
	const char *copy;
	char *dir, *slash;
	int i, j, rc = 0;

	memset(&w, 0, sizeof(w));
	w.ps = ps;
	w.file = file;
	config_init(&cfg);
	/*
	 * @include paths are relative to the including file's directory:
	 * libconfig joins include_dir and the path as text.
	 */
	dir = xstrdup(file);
	if ((slash = strrchr(dir, '/')) != NULL) {
		slash[slash == dir ? 1 : 0] = '\0';
		w.dir = dir;
	}
	if (check_file(&w, fp, &copy) < 0) {
		rc = -1;
		goto out;
	}
	/* A copy's @includes name copies, which an include_dir would
	 * break; a file read by libconfig itself has the plain names. */
	if (copy == NULL && w.dir != NULL)
		config_set_include_dir(&cfg, w.dir);
	if (config_read_file(&cfg, copy != NULL ? copy : file) != CONFIG_TRUE) {
		loc.file = src(&w, config_error_file(&cfg));
		loc.line = config_error_line(&cfg);
		config_syntax_error(ps, loc, config_error_text(&cfg),
		    config_error_file(&cfg) != NULL ? config_error_file(&cfg)
			: copy != NULL		    ? copy
						    : file);
		rc = -1;
		goto out;
	}
	root = config_root_setting(&cfg);
	for (i = 0; i < config_setting_length(root); i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		if (strcmp(config_setting_name(s), "plugins") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
				config_error(ps, loc_of(&w, s),
				    "plugins: "
				    "expected a group: plugins = { NAME = { "
				    "path = \"...\"; }; };");
				continue;
			}
			for (j = 0; j < config_setting_length(s); j++)
				walk_plugin(&w,
				    config_setting_get_elem(s, (unsigned)j));
		} else if (strcmp(config_setting_name(s), "listen") == 0)
			walk_listen(&w, s);
		else if (strcmp(config_setting_name(s), "tls") == 0)
			walk_tls(&w, s);
		else {
			value(s, &v);
			config_top_key(ps, config_setting_name(s), v.type,
			    v.text, loc_of(&w, s));
		}
	}
out:
	config_destroy(&cfg);
	free_copies(&w);
	free(dir);
	return rc;
}
