/*
 * weftd's configuration: the part that does not depend on the syntax.
 *
 * The two front-ends (config_conf.c for libconfig, config_ini.c for inih)
 * hand every key they read to the functions here, with its file and line
 * and either a typed value (libconfig) or untyped text (INI).  This file
 * owns the schema: which keys exist where, their types, defaults and
 * ranges, and the checks that span keys (duplicate listeners, listeners
 * naming missing plugins, plugins without a path).  Errors are collected,
 * never fatal on their own, so one run reports all of them; config_load()
 * turns them into one "file:line: message" line each, sorted by position.
 *
 * Paths: a relative plugin_dir and relative plugin paths are resolved
 * against the current directory when the file is loaded, so the model
 * holds absolute plugin paths and survives a later chdir.  UNIX socket
 * paths are kept as written: a relative one is relative to the directory
 * weftd binds from, and it must fit sun_path as written.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "config.h"
#include "log.h"

#ifndef PLUGINDIR
#error "PLUGINDIR must be defined by the build (see daemon/Makefile.inc)"
#endif

#define MAX_WORKERS 1024
#define MIN_STACK (16 * 1024)
#define MAX_STACK (64 * 1024 * 1024)
#define MAX_TIMEOUT 86400.0
#define MAX_LIMIT (1024 * 1024 * 1024)
#define MAX_CONNS INT32_MAX
#define MAX_NAME 255

#define DEF_TIMEOUT 30.0
#define DEF_STACK 65536
#define DEF_LIMIT 65536
#define DEF_BACKLOG 511

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

/* How a key's value is converted and stored. */
enum {
	K_INT,		/* int, in [min, max] */
	K_I64,		/* int64_t, in [min, max] */
	K_SIZE,		/* size_t, in [min, max] */
	K_DOUBLE,	/* double, in (0, max], or [min ms / 1000, max] */
	K_STR,		/* char *, not empty */
	K_BOOL,		/* int, 0 or 1 */
	K_LEVEL,	/* int, a log level name */
	K_STACKS,	/* int, "private" (0) or "shared" (1) */
	K_MODE,		/* int, a file mode 0..0777 */
	K_LNAME,	/* char *, a listener name */
	K_TCP,		/* listener address "host:port" */
	K_UNIX,		/* listener address, a path */
	K_OWNER,	/* listener owner: a user name or uid */
	K_GROUP,	/* listener group: a group name or gid */
};

struct key {
	const char *name;
	int kind;
	size_t off;
	int64_t min;
	int64_t max;
};

#define TOP(n, k, f, lo, hi) { n, k, offsetof(struct conf, f), lo, hi }
static const struct key top_keys[] = {
	TOP("workers", K_INT, workers, 1, MAX_WORKERS),
	TOP("user", K_STR, user, 0, 0),
	TOP("group", K_STR, group, 0, 0),
	TOP("log_level", K_LEVEL, log_level, 0, 0),
	TOP("shutdown_timeout", K_DOUBLE, shutdown_timeout, 0, 0),
	TOP("worker_timeout", K_DOUBLE, worker_timeout,
	    (int64_t)(CONF_MIN_WORKER_TIMEOUT * 1000), 0),
	TOP("fiber_stack", K_SIZE, fiber_stack, MIN_STACK, MAX_STACK),
	TOP("fiber_stacks", K_STACKS, fiber_stacks_shared, 0, 0),
	TOP("plugin_dir", K_STR, plugin_dir, 0, 0),
	TOP("control_socket", K_STR, control_socket, 0, 0),
};
#define NTOP (sizeof(top_keys) / sizeof(top_keys[0]))

#define LIS(n, k, f, lo, hi) { n, k, offsetof(struct conf_listener, f), lo, hi }
static const struct key listener_keys[] = {
	LIS("name", K_LNAME, name, 0, 0),
	LIS("tcp", K_TCP, address, 0, 0),
	LIS("unix", K_UNIX, address, 0, 0),
	LIS("mode", K_MODE, mode, 0, 0777),
	LIS("plugin", K_STR, plugin, 0, 0),
	LIS("limit", K_I64, limit, 1, MAX_LIMIT),
	LIS("backlog", K_INT, backlog, 1, 65535),
	LIS("reuse_port", K_BOOL, reuse_port, 0, 0),
	LIS("max_connections", K_I64, max_connections, 0, MAX_CONNS),
	LIS("owner", K_OWNER, owner, 0, 0),
	LIS("group", K_GROUP, group, 0, 0),
};
#define NLIS (sizeof(listener_keys) / sizeof(listener_keys[0]))
enum { L_NAME, L_TCP, L_UNIX, L_MODE, L_PLUGIN, L_LIMIT, L_BACKLOG,
	L_REUSE, L_MAXCONN, L_OWNER, L_GROUP };

static const struct key plugin_keys[] = {
	{ "path", K_STR, offsetof(struct conf_plugin, path), 0, 0 },
};
#define NPLUG (sizeof(plugin_keys) / sizeof(plugin_keys[0]))

static const char *const level_names[] = {
	[WEFT_LOG_ERR] = "err",
	[WEFT_LOG_WARNING] = "warning",
	[WEFT_LOG_NOTICE] = "notice",
	[WEFT_LOG_INFO] = "info",
	[WEFT_LOG_DEBUG] = "debug",
};

/* What the parse knows about a plugin beyond the model. */
struct pmeta {
	struct conf_loc loc;		/* declared, or first named */
	int declared;
	struct conf_loc keys[NPLUG];	/* line 0: key not given */
};

/* The same for a listener. */
struct lmeta {
	struct conf_loc loc;
	struct conf_loc keys[NLIS];
	int addr_ok;			/* tcp/unix given and well formed */
};

struct err {
	size_t file;	/* index in ps->files: errors sort by file, line */
	int line;
	size_t seq;	/* keeps the sort stable */
	char *msg;	/* the whole "file:line: message" */
};

struct conf_parse {
	struct conf *c;
	char **files;		/* interned file names; [0] is the file */
	size_t nfiles;
	struct err *errs;
	size_t nerrs;
	struct conf_loc top[NTOP];
	struct pmeta *pm;	/* parallel to c->plugins */
	struct lmeta *lm;	/* parallel to c->listeners */
	char *cwd;
};

/* ---- Small helpers -------------------------------------------------- */

/*
 * Running out of memory while reading a config file leaves nothing
 * sensible to do; weftd stops, as tmux's xmalloc does.
 */
static void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		fatal("config");
	}
	if ((q = realloc(p, n * size == 0 ? 1 : n * size)) == NULL)
		fatal("config");
	return q;
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatal("config");
	return p;
}

static char * __attribute__((format(printf, 1, 2)))
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("config");
	return s;
}

static size_t
intern(struct conf_parse *ps, const char *file)
{
	size_t i;

	if (file == NULL)
		return 0;
	for (i = 0; i < ps->nfiles; i++)
		if (strcmp(ps->files[i], file) == 0)
			return i;
	ps->files = xreallocarray(ps->files, ps->nfiles + 1,
	    sizeof(*ps->files));
	ps->files[ps->nfiles] = xstrdup(file);
	return ps->nfiles++;
}

/* A location whose file outlives the front-end that reported it. */
static struct conf_loc
keep(struct conf_parse *ps, struct conf_loc loc)
{
	size_t i;

	/* Not in one expression: intern() may move ps->files. */
	i = intern(ps, loc.file);
	loc.file = ps->files[i];
	return loc;
}

/* "at line 12", or "at other.conf:12" when it is in another file. */
static const char *
where(struct conf_parse *ps, struct conf_loc at, struct conf_loc from,
    char *buf, size_t len)
{
	size_t a, f;

	a = intern(ps, at.file);
	f = intern(ps, from.file);
	if (a != f)
		snprintf(buf, len, "at %s:%d", ps->files[a], at.line);
	else
		snprintf(buf, len, "at line %d", at.line);
	return buf;
}

/*
 * Messages quote values as written, and a value may hold a newline (a
 * libconfig string, an INI "\n" escape): written as is it would break
 * the one-error-per-line promise and forge a line of its own in the log.
 * Control characters but tab are written as C escapes instead.
 */
static char *
escape_controls(char *s)
{
	const unsigned char *p;
	char *out, *w;
	size_t n = 0;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		n += (*p < 0x20 && *p != '\t') || *p == 0x7f ? 4 : 1;
	if (n == strlen(s))
		return s;
	out = w = xreallocarray(NULL, n + 1, 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			w += sprintf(w, "\\%c", *p == '\n' ? 'n' : 'r');
		else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			w += sprintf(w, "\\x%02x", *p);
		else
			*w++ = (char)*p;
	}
	*w = '\0';
	free(s);
	return out;
}

void
config_error(struct conf_parse *ps, struct conf_loc loc, const char *fmt,
    ...)
{
	struct err *e;
	va_list ap;
	char *msg;
	size_t f;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("config");
	va_end(ap);
	msg = escape_controls(msg);
	f = intern(ps, loc.file);
	ps->errs = xreallocarray(ps->errs, ps->nerrs + 1, sizeof(*ps->errs));
	e = &ps->errs[ps->nerrs];
	e->file = f;
	e->line = loc.line;
	e->seq = ps->nerrs++;
	if (loc.line > 0)
		e->msg = xprintf("%s:%d: %s", ps->files[f], loc.line, msg);
	else
		e->msg = xprintf("%s: %s", ps->files[f], msg);
	free(msg);
}

int
config_name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		if (*a == *b || ((*a == '-' || *a == '_') &&
		    (*b == '-' || *b == '_')))
			continue;
		return 0;
	}
	return *a == *b;
}

int
config_log_level(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i] != NULL && strcmp(level_names[i], name) == 0)
			return (int)i;
	/* The spellings weftd's own log lines use. */
	if (strcmp(name, "error") == 0)
		return WEFT_LOG_ERR;
	if (strcmp(name, "warn") == 0)
		return WEFT_LOG_WARNING;
	return -1;
}

const char *
config_log_level_name(int level)
{
	if (level < 0 ||
	    (size_t)level >= sizeof(level_names) / sizeof(level_names[0]) ||
	    level_names[level] == NULL)
		return "unknown";
	return level_names[level];
}

const struct conf_plugin *
config_plugin(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nplugins; i++)
		if (config_name_eq(c->plugins[i].name, name))
			return &c->plugins[i];
	return NULL;
}

/*
 * Join dir and path (path wins if absolute) and tidy the result lexically:
 * no "//", no "." segments, no trailing '/'.  ".." is left alone, since
 * removing it is only right when the part before it is not a symlink.
 */
static char *
path_join(const char *dir, const char *path)
{
	char *s, *r, *w;

	if (path[0] == '/' || dir == NULL || dir[0] == '\0')
		s = xstrdup(path);
	else
		s = xprintf("%s/%s", dir, path);
	for (r = w = s; *r != '\0';) {
		if (r[0] == '/' && r[1] == '/') {
			r++;
			continue;
		}
		if (r[0] == '/' && r[1] == '.' &&
		    (r[2] == '/' || r[2] == '\0') && w != s) {
			r += 2;
			continue;
		}
		if (r == s && r[0] == '.' && r[1] == '/' && r[2] != '\0') {
			r += 2;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	if (w > s + 1 && w[-1] == '/')
		w[-1] = '\0';
	return s;
}

static int
lname_ok(const char *s)
{
	size_t n;

	n = strlen(s);
	if (n == 0 || n > MAX_NAME)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-@", *s) == NULL)
			return 0;
	return 1;
}

/* Plugin names and setting keys: what libconfig allows in a name. */
static int
ident_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > MAX_NAME)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

/* ---- Values ---------------------------------------------------------- */

static int
get_int(struct conf_parse *ps, const char *key, int type, const char *text,
    struct conf_loc loc, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	if (type != CONF_T_INT && type != CONF_T_TEXT) {
		config_error(ps, loc, "%s: expected an integer", key);
		return -1;
	}
	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || *end != '\0' || isspace((unsigned char)*text)) {
		config_error(ps, loc, "%s: expected an integer", key);
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		config_error(ps, loc, "%s: %s is out of range %lld..%lld", key,
		    text, (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static int
get_double(struct conf_parse *ps, const char *key, int type,
    const char *text, struct conf_loc loc, int64_t min_ms, double *out)
{
	double v;
	char *end;

	if (type != CONF_T_INT && type != CONF_T_FLOAT && type != CONF_T_TEXT) {
		config_error(ps, loc, "%s: expected a number", key);
		return -1;
	}
	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end != '\0' || isspace((unsigned char)*text) ||
	    isnan(v)) {
		config_error(ps, loc, "%s: expected a number", key);
		return -1;
	}
	if (min_ms > 0 && !(v >= (double)min_ms / 1000 && v <= MAX_TIMEOUT)) {
		config_error(ps, loc, "%s: %s is out of range: must be >= %g "
		    "and <= %g", key, text, (double)min_ms / 1000, MAX_TIMEOUT);
		return -1;
	}
	if (!(v > 0 && v <= MAX_TIMEOUT)) {
		config_error(ps, loc, "%s: %s is out of range: must be > 0 "
		    "and <= %g", key, text, MAX_TIMEOUT);
		return -1;
	}
	*out = v;
	return 0;
}

static int
get_bool(struct conf_parse *ps, const char *key, int type, const char *text,
    struct conf_loc loc, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	if (type == CONF_T_BOOL || type == CONF_T_TEXT) {
		for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			if (strcasecmp(text, yes[i]) == 0) {
				*out = 1;
				return 0;
			}
			if (strcasecmp(text, no[i]) == 0) {
				*out = 0;
				return 0;
			}
		}
	}
	config_error(ps, loc, "%s: expected a boolean (true or false)", key);
	return -1;
}

static int
get_str(struct conf_parse *ps, const char *key, int type, const char *text,
    struct conf_loc loc)
{
	if (type != CONF_T_STR && type != CONF_T_TEXT) {
		config_error(ps, loc, "%s: expected a string", key);
		return -1;
	}
	if (*text == '\0') {
		config_error(ps, loc, "%s: must not be empty", key);
		return -1;
	}
	return 0;
}

/*
 * A mode is octal text ("0660", also in INI where all values are text) or,
 * in libconfig, an integer taken at its value: libconfig reads 0660 as
 * decimal 660, so the message for that case says how to write it.
 */
static int
get_mode(struct conf_parse *ps, const char *key, int type, const char *text,
    struct conf_loc loc, int *out)
{
	const char *p;
	long v;

	if (type == CONF_T_INT) {
		v = strtol(text, NULL, 10);
		if (v < 0 || v > 0777) {
			config_error(ps, loc, "%s: %s is out of range 0..0777 "
			    "(write octal modes as a string: \"0660\")", key,
			    text);
			return -1;
		}
		*out = (int)v;
		return 0;
	}
	if (type != CONF_T_STR && type != CONF_T_TEXT) {
		config_error(ps, loc, "%s: expected an octal mode like "
		    "\"0660\"", key);
		return -1;
	}
	for (p = text; *p >= '0' && *p <= '7'; p++)
		;
	if (p == text || *p != '\0' || p - text > 6) {
		config_error(ps, loc, "%s: \"%s\" is not an octal mode like "
		    "\"0660\"", key, text);
		return -1;
	}
	v = strtol(text, NULL, 8);
	if (v > 0777) {
		config_error(ps, loc, "%s: \"%s\" is out of range 0..0777", key,
		    text);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/*
 * A UNIX listener's owner or group: a numeric id, taken as it is (as
 * chown(1) takes an id that has no name), or a name, looked up now so
 * that a misspelt one is a FILE:LINE error of `weftd -t` and of a reload
 * rather than a failed bind.  libconfig may give the id as an integer.
 * (uid_t)-1 means "leave it" to chown(2), so it is not an id.
 */
static int
get_id(struct conf_parse *ps, const char *key, int type, const char *text,
    struct conf_loc loc, int is_group, unsigned long *out)
{
	const char *what = is_group ? "group" : "user";
	unsigned long long v;
	struct passwd *pw;
	struct group *gr;
	const char *p;

	if (type != CONF_T_INT && type != CONF_T_STR && type != CONF_T_TEXT) {
		config_error(ps, loc, "%s: expected a %s name or id", key,
		    what);
		return -1;
	}
	if (*text == '\0') {
		config_error(ps, loc, "%s: must not be empty", key);
		return -1;
	}
	/* "-1" is a number too, if not an id: out of range, not a name. */
	for (p = text + (text[0] == '-'); *p >= '0' && *p <= '9'; p++)
		;
	if (*p == '\0' && p > text + (text[0] == '-')) {
		errno = 0;
		v = strtoull(text, NULL, 10);
		if (text[0] == '-' || errno == ERANGE || v >= UINT32_MAX) {
			config_error(ps, loc, "%s: %s is out of range "
			    "0..%lu", key, text, (unsigned long)UINT32_MAX - 1);
			return -1;
		}
		*out = (unsigned long)v;
		return 0;
	}
	errno = 0;
	if (is_group) {
		if ((gr = getgrnam(text)) != NULL) {
			*out = (unsigned long)gr->gr_gid;
			return 0;
		}
	} else if ((pw = getpwnam(text)) != NULL) {
		*out = (unsigned long)pw->pw_uid;
		return 0;
	}
	/* "Not found" may come with various errno values (getpwnam(3));
	 * these few mean the lookup itself failed. */
	if (errno == EIO || errno == EINTR || errno == EMFILE ||
	    errno == ENFILE || errno == ENOMEM)
		config_error(ps, loc, "%s: cannot look up %s \"%s\": %s", key,
		    what, text, strerror(errno));
	else
		config_error(ps, loc, "%s: unknown %s \"%s\"", key, what,
		    text);
	return -1;
}

/*
 * "host:port", "[v6]:port", "*:port" or ":port" (any address).  On success
 * *host is the host without brackets ("" for any) and *port the port.
 */
static int
parse_tcp(const char *text, char **host, int *port, char *msg, size_t len)
{
	const char *h, *he, *p, *s;
	char buf[INET6_ADDRSTRLEN + 64];
	unsigned char a[sizeof(struct in6_addr)];
	size_t hl;
	long v;
	int digits_dots = 1;

	if (text[0] == '[') {
		h = text + 1;
		if ((he = strchr(h, ']')) == NULL) {
			snprintf(msg, len, "missing ']'");
			return -1;
		}
		if (he[1] != ':') {
			snprintf(msg, len, "expected [address]:port");
			return -1;
		}
		p = he + 2;
		hl = (size_t)(he - h);
		if (hl == 0 || hl >= sizeof(buf)) {
			snprintf(msg, len, "bad IPv6 address");
			return -1;
		}
		memcpy(buf, h, hl);
		buf[hl] = '\0';
		/* A zone ("fe80::1%eth0") is left to the resolver. */
		if ((s = strchr(buf, '%')) != NULL)
			buf[s - buf] = '\0';
		if (inet_pton(AF_INET6, buf, a) != 1) {
			snprintf(msg, len, "bad IPv6 address \"%.*s\"", (int)hl,
			    h);
			return -1;
		}
	} else {
		if ((he = strrchr(text, ':')) == NULL) {
			snprintf(msg, len, "expected host:port");
			return -1;
		}
		h = text;
		hl = (size_t)(he - h);
		p = he + 1;
		if (memchr(h, ':', hl) != NULL) {
			snprintf(msg, len, "an IPv6 address needs brackets: "
			    "[address]:port");
			return -1;
		}
		if (hl == 1 && h[0] == '*') {
			h = he;
			hl = 0;
		}
		if (hl > 253) {
			snprintf(msg, len, "host name too long");
			return -1;
		}
		for (s = h; s < he; s++) {
			if (!isdigit((unsigned char)*s) && *s != '.')
				digits_dots = 0;
			if (!isalnum((unsigned char)*s) &&
			    strchr(".-_", *s) == NULL) {
				snprintf(msg, len, "bad host \"%.*s\"", (int)hl,
				    h);
				return -1;
			}
		}
		if (hl > 0 && digits_dots) {
			/* buf holds any IPv4 address, but not any host. */
			if (hl >= sizeof(buf)) {
				snprintf(msg, len, "bad IPv4 address \"%.*s\"",
				    (int)hl, h);
				return -1;
			}
			memcpy(buf, h, hl);
			buf[hl] = '\0';
			if (inet_pton(AF_INET, buf, a) != 1) {
				snprintf(msg, len, "bad IPv4 address \"%s\"",
				    buf);
				return -1;
			}
		}
	}
	for (s = p; isdigit((unsigned char)*s); s++)
		;
	if (s == p || *s != '\0' || s - p > 5) {
		if (*p == '\0')
			snprintf(msg, len, "missing port");
		else if (*s != '\0' || s == p)
			snprintf(msg, len, "bad port \"%s\"", p);
		else
			snprintf(msg, len, "port %s is out of range 0..65535",
			    p);
		return -1;
	}
	v = strtol(p, NULL, 10);
	if (v > 65535) {
		snprintf(msg, len, "port %ld is out of range 0..65535", v);
		return -1;
	}
	*host = malloc(hl + 1);
	if (*host == NULL)
		fatal("config");
	memcpy(*host, h, hl);
	(*host)[hl] = '\0';
	*port = (int)v;
	return 0;
}

/* The normalised "host:port" of a TCP listener. */
static void
tcp_text(const struct conf_listener *l, char *buf, size_t len)
{
	if (l->host == NULL || l->host[0] == '\0')
		snprintf(buf, len, "*:%d", l->port);
	else if (strchr(l->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", l->host, l->port);
	else
		snprintf(buf, len, "%s:%d", l->host, l->port);
}

/*
 * Convert and store one key of a schema.  base is the struct the keys'
 * offsets refer to; seen[] records where each key was given.  Returns 0
 * if the key was known (even if its value was bad).
 */
static int
set_key(struct conf_parse *ps, void *base, const struct key *keys,
    size_t nkeys, struct conf_loc *seen, const char *key, int type,
    const char *text, struct conf_loc loc)
{
	const struct key *k = NULL;
	struct conf_listener *l = base;
	char *p = (char *)base, msg[512], at[300];
	unsigned long id;
	int64_t v;
	double d;
	size_t i;
	int b;

	for (i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].name, key) == 0) {
			k = &keys[i];
			break;
		}
	}
	if (k == NULL)
		return -1;
	if (seen[i].line != 0) {
		config_error(ps, loc, "%s: given twice (first %s)", key,
		    where(ps, seen[i], loc, at, sizeof(at)));
		return 0;
	}
	seen[i] = keep(ps, loc);

	switch (k->kind) {
	case K_INT:
		if (get_int(ps, key, type, text, loc, k->min, k->max, &v) == 0)
			*(int *)(p + k->off) = (int)v;
		break;
	case K_I64:
		if (get_int(ps, key, type, text, loc, k->min, k->max, &v) == 0)
			*(int64_t *)(p + k->off) = v;
		break;
	case K_SIZE:
		if (get_int(ps, key, type, text, loc, k->min, k->max, &v) == 0)
			*(size_t *)(p + k->off) = (size_t)v;
		break;
	case K_DOUBLE:
		if (get_double(ps, key, type, text, loc, k->min, &d) == 0)
			*(double *)(p + k->off) = d;
		break;
	case K_BOOL:
		if (get_bool(ps, key, type, text, loc, &b) == 0)
			*(int *)(p + k->off) = b;
		break;
	case K_MODE:
		if (get_mode(ps, key, type, text, loc, &b) == 0)
			*(int *)(p + k->off) = b;
		break;
	case K_LEVEL:
		if (get_str(ps, key, type, text, loc) != 0)
			break;
		if ((b = config_log_level(text)) < 0) {
			config_error(ps, loc, "%s: unknown level \"%s\" (use "
			    "err, warning, notice, info or debug)", key, text);
			break;
		}
		*(int *)(p + k->off) = b;
		break;
	case K_STACKS:
		if (get_str(ps, key, type, text, loc) != 0)
			break;
		if (strcmp(text, "private") == 0 || strcmp(text, "shared") == 0)
			*(int *)(p + k->off) = strcmp(text, "shared") == 0;
		else
			config_error(ps, loc, "%s: \"%s\" is neither \"private\" "
			    "nor \"shared\"", key, text);
		break;
	case K_LNAME:
		if (get_str(ps, key, type, text, loc) != 0)
			break;
		if (!lname_ok(text)) {
			config_error(ps, loc, "%s: bad listener name \"%s\" "
			    "(letters, digits, '.', '-', '_' and '@')", key,
			    text);
			break;
		}
		free(l->name);
		l->name = xstrdup(text);
		break;
	case K_STR:
		if (get_str(ps, key, type, text, loc) != 0)
			break;
		free(*(char **)(p + k->off));
		*(char **)(p + k->off) = xstrdup(text);
		break;
	case K_TCP:
		if (get_str(ps, key, type, text, loc) != 0)
			break;
		if (parse_tcp(text, &l->host, &l->port, msg,
		    sizeof(msg)) != 0) {
			config_error(ps, loc, "%s: \"%s\": %s", key, text, msg);
			break;
		}
		l->kind = CONF_LISTEN_TCP;
		free(l->address);
		l->address = xstrdup(text);
		ps->lm[l - ps->c->listeners].addr_ok = 1;
		break;
	case K_UNIX:
		if (get_str(ps, key, type, text, loc) != 0)
			break;
		if (strlen(text) > SUN_PATH_MAX) {
			config_error(ps, loc, "%s: path is %zu bytes, longer "
			    "than the %zu a socket address holds", key,
			    strlen(text), SUN_PATH_MAX);
			break;
		}
		l->kind = CONF_LISTEN_UNIX;
		free(l->address);
		l->address = xstrdup(text);
		free(l->path);
		l->path = xstrdup(text);
		ps->lm[l - ps->c->listeners].addr_ok = 1;
		break;
	case K_OWNER:
	case K_GROUP:
		if (get_id(ps, key, type, text, loc, k->kind == K_GROUP,
		    &id) != 0)
			break;
		*(char **)(p + k->off) = xstrdup(text);
		if (k->kind == K_GROUP)
			l->gid = (gid_t)id;
		else
			l->uid = (uid_t)id;
		break;
	}
	return 0;
}

/* ---- The front-end interface ----------------------------------------- */

void
config_top_key(struct conf_parse *ps, const char *key, int type,
    const char *text, struct conf_loc loc)
{
	if (set_key(ps, ps->c, top_keys, NTOP, ps->top, key, type, text,
	    loc) != 0)
		config_error(ps, loc, "unknown key \"%s\"", key);
}

static int
plugin_new(struct conf_parse *ps, const char *name, struct conf_loc loc)
{
	struct conf *c = ps->c;
	struct conf_plugin *p;
	size_t n = c->nplugins;

	c->plugins = xreallocarray(c->plugins, n + 1, sizeof(*c->plugins));
	ps->pm = xreallocarray(ps->pm, n + 1, sizeof(*ps->pm));
	p = &c->plugins[n];
	memset(p, 0, sizeof(*p));
	memset(&ps->pm[n], 0, sizeof(ps->pm[n]));
	p->name = xstrdup(name);
	p->line = loc.line;
	ps->pm[n].loc = keep(ps, loc);
	c->nplugins++;
	return (int)n;
}

static int
plugin_find(struct conf_parse *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->c->nplugins; i++)
		if (strcmp(ps->c->plugins[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
config_plugin_ref(struct conf_parse *ps, const char *name,
    struct conf_loc loc)
{
	int i;

	if (!ident_ok(name)) {
		config_error(ps, loc, "bad plugin name \"%s\" (letters, "
		    "digits, '-' and '_')", name);
		return -1;
	}
	if ((i = plugin_find(ps, name)) >= 0)
		return i;
	return plugin_new(ps, name, loc);
}

int
config_plugin_add(struct conf_parse *ps, const char *name,
    struct conf_loc loc)
{
	char at[300];
	int i;

	if ((i = config_plugin_ref(ps, name, loc)) < 0)
		return -1;
	if (ps->pm[i].declared) {
		config_error(ps, loc, "plugin \"%s\" defined twice (first %s)",
		    name, where(ps, ps->pm[i].loc, loc, at, sizeof(at)));
		return -1;
	}
	ps->pm[i].declared = 1;
	ps->pm[i].loc = keep(ps, loc);
	ps->c->plugins[i].line = loc.line;
	return i;
}

void
config_plugin_key(struct conf_parse *ps, int i, const char *key, int type,
    const char *text, struct conf_loc loc)
{
	struct conf_plugin *p = &ps->c->plugins[i];

	if (set_key(ps, p, plugin_keys, NPLUG, ps->pm[i].keys, key, type, text,
	    loc) != 0)
		config_error(ps, loc, "unknown key \"%s\" in plugin \"%s\"",
		    key, p->name);
}

void
config_plugin_setting(struct conf_parse *ps, int i, const char *key,
    int type, const char *text, struct conf_loc loc)
{
	struct conf_plugin *p = &ps->c->plugins[i];
	struct conf_setting *s;
	size_t j;

	if (!ident_ok(key)) {
		config_error(ps, loc, "plugin \"%s\": bad setting name \"%s\" "
		    "(letters, digits, '-' and '_')", p->name, key);
		return;
	}
	if (type == CONF_T_GROUP) {
		config_error(ps, loc, "plugin \"%s\": setting \"%s\": groups "
		    "and lists are not supported in settings", p->name, key);
		return;
	}
	for (j = 0; j < p->nsettings; j++) {
		if (strcmp(p->settings[j].key, key) == 0) {
			config_error(ps, loc, "plugin \"%s\": setting \"%s\" "
			    "given twice (first at line %d)", p->name, key,
			    p->settings[j].line);
			return;
		}
	}
	p->settings = xreallocarray(p->settings, p->nsettings + 1,
	    sizeof(*p->settings));
	s = &p->settings[p->nsettings++];
	s->key = xstrdup(key);
	s->value = xstrdup(text);
	/* INI text is a string as far as plugins are concerned. */
	s->type = type == CONF_T_TEXT ? CONF_T_STR : type;
	s->line = loc.line;
}

/* "listener "name"" or "listener #2" (1-based) for messages. */
static const char *
lis_name(struct conf_parse *ps, size_t i, char *buf, size_t len)
{
	const struct conf_listener *l = &ps->c->listeners[i];

	if (l->name != NULL && l->name[0] != '\0')
		snprintf(buf, len, "listener \"%s\"", l->name);
	else
		snprintf(buf, len, "listener #%zu", i + 1);
	return buf;
}

int
config_listener_add(struct conf_parse *ps, const char *name,
    struct conf_loc loc)
{
	struct conf *c = ps->c;
	struct conf_listener *l;
	size_t n = c->nlisteners;

	if (name != NULL && !lname_ok(name)) {
		config_error(ps, loc, "bad listener name \"%s\" (letters, "
		    "digits, '.', '-', '_' and '@')", name);
		return -1;
	}
	c->listeners = xreallocarray(c->listeners, n + 1,
	    sizeof(*c->listeners));
	ps->lm = xreallocarray(ps->lm, n + 1, sizeof(*ps->lm));
	l = &c->listeners[n];
	memset(l, 0, sizeof(*l));
	memset(&ps->lm[n], 0, sizeof(ps->lm[n]));
	l->name = xstrdup(name != NULL ? name : "");
	l->mode = -1;
	l->uid = (uid_t)-1;
	l->gid = (gid_t)-1;
	l->limit = DEF_LIMIT;
	l->backlog = DEF_BACKLOG;
	l->line = loc.line;
	ps->lm[n].loc = keep(ps, loc);
	if (name != NULL)
		ps->lm[n].keys[L_NAME] = ps->lm[n].loc;
	c->nlisteners++;
	return (int)n;
}

void
config_listener_key(struct conf_parse *ps, int i, const char *key,
    int type, const char *text, struct conf_loc loc)
{
	char nb[300];

	if (set_key(ps, &ps->c->listeners[i], listener_keys, NLIS,
	    ps->lm[i].keys, key, type, text, loc) != 0)
		config_error(ps, loc, "unknown key \"%s\" in %s", key,
		    lis_name(ps, (size_t)i, nb, sizeof(nb)));
}

/* ---- Checks across keys ---------------------------------------------- */

/* Two plugins whose names differ only in '-' and '_' are one plugin. */
static void
check_plugin_name(struct conf_parse *ps, size_t i)
{
	struct conf_plugin *p = &ps->c->plugins[i], *o;
	char at[300];
	size_t j;

	for (j = 0; j < i; j++) {
		o = &ps->c->plugins[j];
		if (!config_name_eq(o->name, p->name))
			continue;
		config_error(ps, ps->pm[i].loc, "plugin \"%s\": same name as "
		    "plugin \"%s\" %s ('-' and '_' are the same)", p->name,
		    o->name, where(ps, ps->pm[j].loc, ps->pm[i].loc, at,
		    sizeof(at)));
		return;
	}
}

static void
check_plugins(struct conf_parse *ps)
{
	struct conf *c = ps->c;
	struct conf_plugin *p;
	size_t i;

	for (i = 0; i < c->nplugins; i++) {
		p = &c->plugins[i];
		check_plugin_name(ps, i);
		/* A path given but bad was reported where it was given. */
		if (p->path != NULL)
			p->abspath = path_join(c->plugin_dir, p->path);
		else if (ps->pm[i].keys[0].line == 0)
			config_error(ps, ps->pm[i].loc, "plugin \"%s\": "
			    "missing path", p->name);
	}
}

static void
check_listener(struct conf_parse *ps, size_t i)
{
	struct conf *c = ps->c;
	struct conf_listener *l = &c->listeners[i], *o;
	struct lmeta *m = &ps->lm[i];
	char nb[300], ob[300], at[300], a1[300], a2[300];
	char *p1, *p2;
	size_t j;
	int dup;

	lis_name(ps, i, nb, sizeof(nb));
	if (m->keys[L_TCP].line != 0 && m->keys[L_UNIX].line != 0)
		config_error(ps, m->loc, "%s: has both tcp and unix (one "
		    "address per listener)", nb);
	else if (m->keys[L_TCP].line == 0 && m->keys[L_UNIX].line == 0)
		config_error(ps, m->loc, "%s: needs tcp or unix", nb);
	if (m->keys[L_PLUGIN].line == 0)
		config_error(ps, m->loc, "%s: needs a plugin", nb);
	else if (l->plugin != NULL && config_plugin(c, l->plugin) == NULL)
		config_error(ps, m->keys[L_PLUGIN], "%s: plugin \"%s\" is not "
		    "defined", nb, l->plugin);
	if (m->keys[L_MODE].line != 0 && m->keys[L_UNIX].line == 0)
		config_error(ps, m->keys[L_MODE], "%s: mode is only for unix "
		    "listeners", nb);
	if (m->keys[L_OWNER].line != 0 && m->keys[L_UNIX].line == 0)
		config_error(ps, m->keys[L_OWNER], "%s: owner is only for unix "
		    "listeners", nb);
	if (m->keys[L_GROUP].line != 0 && m->keys[L_UNIX].line == 0)
		config_error(ps, m->keys[L_GROUP], "%s: group is only for unix "
		    "listeners", nb);
	if (m->keys[L_REUSE].line != 0 && m->keys[L_TCP].line == 0)
		config_error(ps, m->keys[L_REUSE], "%s: reuse_port is only for "
		    "tcp listeners", nb);

	for (j = 0; j < i; j++) {
		o = &c->listeners[j];
		if (l->name[0] != '\0' && strcmp(l->name, o->name) == 0) {
			config_error(ps, m->keys[L_NAME], "%s: name already "
			    "used by the listener %s", nb, where(ps,
			    ps->lm[j].loc, m->keys[L_NAME], at, sizeof(at)));
			break;
		}
	}
	if (!m->addr_ok || (m->keys[L_TCP].line != 0 &&
	    m->keys[L_UNIX].line != 0))
		return;
	for (j = 0; j < i; j++) {
		o = &c->listeners[j];
		if (!ps->lm[j].addr_ok || o->kind != l->kind)
			continue;
		if (l->kind == CONF_LISTEN_TCP) {
			/* Port 0 asks for a fresh port each time. */
			tcp_text(l, a1, sizeof(a1));
			tcp_text(o, a2, sizeof(a2));
			if (l->port == 0 || strcmp(a1, a2) != 0)
				continue;
			config_error(ps, m->keys[L_TCP], "%s: tcp %s already "
			    "used by %s %s", nb, a1, lis_name(ps, j, ob,
			    sizeof(ob)), where(ps, ps->lm[j].keys[L_TCP],
			    m->keys[L_TCP], at, sizeof(at)));
			break;
		}
		/* "./a.sock" and "a.sock" are the same socket. */
		p1 = path_join(ps->cwd, l->path);
		p2 = path_join(ps->cwd, o->path);
		dup = strcmp(p1, p2) == 0;
		free(p1);
		free(p2);
		if (!dup)
			continue;
		config_error(ps, m->keys[L_UNIX], "%s: unix %s already used "
		    "by %s %s", nb, l->path, lis_name(ps, j, ob, sizeof(ob)),
		    where(ps, ps->lm[j].keys[L_UNIX], m->keys[L_UNIX], at,
		    sizeof(at)));
		break;
	}
}

static void
check(struct conf_parse *ps)
{
	struct conf *c = ps->c;
	char *dir;
	size_t i;

	/* Resolve plugin_dir once, so plugins and dumps agree on it. */
	dir = path_join(ps->cwd, c->plugin_dir);
	free(c->plugin_dir);
	c->plugin_dir = dir;
	/* Relative like plugin_dir: the source tree's dev config keeps it
	 * under _build/. */
	if (c->control_socket != NULL) {
		dir = path_join(ps->cwd, c->control_socket);
		free(c->control_socket);
		c->control_socket = dir;
	}

	check_plugins(ps);
	for (i = 0; i < c->nlisteners; i++)
		check_listener(ps, i);
}

/* ---- Loading --------------------------------------------------------- */

static int
err_cmp(const void *a, const void *b)
{
	const struct err *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static char *
join_errors(struct conf_parse *ps)
{
	size_t i, len = 0;
	char *s, *w;

	qsort(ps->errs, ps->nerrs, sizeof(*ps->errs), err_cmp);
	for (i = 0; i < ps->nerrs; i++)
		len += strlen(ps->errs[i].msg) + 1;
	s = w = xreallocarray(NULL, len + 1, 1);
	for (i = 0; i < ps->nerrs; i++) {
		if (i > 0)
			*w++ = '\n';
		len = strlen(ps->errs[i].msg);
		memcpy(w, ps->errs[i].msg, len);
		w += len;
	}
	*w = '\0';
	return s;
}

static struct conf *
conf_new(const char *file)
{
	struct conf *c;
	long n;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("config");
	c->file = xstrdup(file);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
	c->log_level = WEFT_LOG_INFO;
	c->shutdown_timeout = DEF_TIMEOUT;
	c->worker_timeout = DEF_TIMEOUT;
	c->fiber_stack = DEF_STACK;
	c->plugin_dir = xstrdup(PLUGINDIR);
	return c;
}

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
	struct conf_parse ps;
	struct conf_loc none = { NULL, 0 };
	struct stat st;
	FILE *fp;
	size_t i;
	int rc = -1, parsed;

	memset(&ps, 0, sizeof(ps));
	ps.c = conf_new(file);
	intern(&ps, file);

	/* A file that cannot be opened gets errno's words, not a parser's. */
	if ((fp = fopen(file, "r")) == NULL) {
		config_error(&ps, none, "%s", strerror(errno));
		goto out;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		config_error(&ps, none, "%s", strerror(EISDIR));
		fclose(fp);
		goto out;
	}
	fclose(fp);
	if ((ps.cwd = getcwd(NULL, 0)) == NULL) {
		config_error(&ps, none, "cannot get the current directory: %s",
		    strerror(errno));
		goto out;
	}
	/* A file the front-end could not read has no model worth checking. */
	if (is_ini(file))
		parsed = config_ini_parse(&ps, file);
	else
		parsed = config_conf_parse(&ps, file);
	if (parsed == 0)
		check(&ps);
	if (ps.nerrs == 0) {
		*out = ps.c;
		ps.c = NULL;
		rc = 0;
	}
out:
	if (rc != 0 && cause != NULL)
		*cause = join_errors(&ps);
	config_free(ps.c);
	for (i = 0; i < ps.nerrs; i++)
		free(ps.errs[i].msg);
	free(ps.errs);
	for (i = 0; i < ps.nfiles; i++)
		free(ps.files[i]);
	free(ps.files);
	free(ps.pm);
	free(ps.lm);
	free(ps.cwd);
	return rc;
}

void
config_free(struct conf *c)
{
	struct conf_plugin *p;
	struct conf_listener *l;
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nplugins; i++) {
		p = &c->plugins[i];
		for (j = 0; j < p->nsettings; j++) {
			free(p->settings[j].key);
			free(p->settings[j].value);
		}
		free(p->settings);
		free(p->name);
		free(p->path);
		free(p->abspath);
	}
	free(c->plugins);
	for (i = 0; i < c->nlisteners; i++) {
		l = &c->listeners[i];
		free(l->name);
		free(l->address);
		free(l->host);
		free(l->path);
		free(l->plugin);
		free(l->owner);
		free(l->group);
	}
	free(c->listeners);
	free(c->file);
	free(c->user);
	free(c->group);
	free(c->plugin_dir);
	free(c->control_socket);
	free(c);
}

/* ---- Dump ------------------------------------------------------------ */

/*
 * A value as text on one line: bare when that is unambiguous, else in
 * double quotes with C escapes (the same quoting the INI reader accepts).
 */
static void
put_value(FILE *fp, const char *s)
{
	const unsigned char *p;
	size_t n;
	int bare;

	n = strlen(s);
	bare = n > 0 && !isspace((unsigned char)s[0]) &&
	    !isspace((unsigned char)s[n - 1]);

	for (p = (const unsigned char *)s; bare && *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || strchr("\"\\;", *p) != NULL)
			bare = 0;
	if (bare) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '"':
		case '\\':
			fprintf(fp, "\\%c", *p);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(fp, "\\x%02x", *p);
			else
				fputc(*p, fp);
		}
	}
	fputc('"', fp);
}

static int
plugin_cmp(const void *a, const void *b)
{
	const struct conf_plugin *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int
setting_cmp(const void *a, const void *b)
{
	const struct conf_setting *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

static void
dump_plugin(const struct conf_plugin *p, FILE *fp)
{
	const struct conf_setting **s;
	size_t i;

	fprintf(fp, "\n[plugins.%s]\npath = ", p->name);
	put_value(fp, p->abspath != NULL ? p->abspath : p->path);
	fputc('\n', fp);
	if (p->nsettings == 0)
		return;
	s = xreallocarray(NULL, p->nsettings, sizeof(*s));
	for (i = 0; i < p->nsettings; i++)
		s[i] = &p->settings[i];
	qsort(s, p->nsettings, sizeof(*s), setting_cmp);
	fprintf(fp, "[plugins.%s.settings]\n", p->name);
	for (i = 0; i < p->nsettings; i++) {
		fprintf(fp, "%s = ", s[i]->key);
		put_value(fp, s[i]->value);
		fputc('\n', fp);
	}
	free(s);
}

static void
dump_listener(const struct conf *c, size_t i, FILE *fp)
{
	const struct conf_listener *l = &c->listeners[i];
	const struct conf_plugin *p;
	char addr[300];

	if (l->name[0] != '\0')
		fprintf(fp, "\n[listen.%s]\n", l->name);
	else
		fprintf(fp, "\n[listen #%zu]\n", i + 1);
	if (l->kind == CONF_LISTEN_TCP) {
		tcp_text(l, addr, sizeof(addr));
		fprintf(fp, "tcp = %s\n", addr);
	} else {
		fputs("unix = ", fp);
		put_value(fp, l->path);
		fputc('\n', fp);
		if (l->mode >= 0)
			fprintf(fp, "mode = %04o\n", (unsigned)l->mode);
		else
			fputs("mode = (none)\n", fp);
		/* As written: a name and its id are two ways to say it. */
		fputs("owner = ", fp);
		put_value(fp, l->owner != NULL ? l->owner : "(none)");
		fputs("\ngroup = ", fp);
		put_value(fp, l->group != NULL ? l->group : "(none)");
		fputc('\n', fp);
	}
	p = config_plugin(c, l->plugin);
	fprintf(fp, "plugin = %s\n", p != NULL ? p->name : l->plugin);
	fprintf(fp, "limit = %lld\n", (long long)l->limit);
	fprintf(fp, "backlog = %d\n", l->backlog);
	if (l->kind == CONF_LISTEN_TCP)
		fprintf(fp, "reuse_port = %s\n", l->reuse_port ? "true" :
		    "false");
	fprintf(fp, "max_connections = %lld\n", (long long)l->max_connections);
}

void
config_dump(const struct conf *c, FILE *fp)
{
	const struct conf_plugin **p;
	size_t i;

	fprintf(fp, "workers = %d\n", c->workers);
	fputs("user = ", fp);
	put_value(fp, c->user != NULL ? c->user : "(none)");
	fputs("\ngroup = ", fp);
	put_value(fp, c->group != NULL ? c->group : "(none)");
	fprintf(fp, "\nlog_level = %s\n", config_log_level_name(c->log_level));
	fprintf(fp, "shutdown_timeout = %g\n", c->shutdown_timeout);
	fprintf(fp, "worker_timeout = %g\n", c->worker_timeout);
	fprintf(fp, "fiber_stack = %zu\n", c->fiber_stack);
	fprintf(fp, "fiber_stacks = %s\n",
	    c->fiber_stacks_shared ? "shared" : "private");
	fputs("plugin_dir = ", fp);
	put_value(fp, c->plugin_dir);
	fputc('\n', fp);
	if (c->control_socket != NULL) {
		fputs("control_socket = ", fp);
		put_value(fp, c->control_socket);
		fputc('\n', fp);
	}

	if (c->nplugins > 0) {
		p = xreallocarray(NULL, c->nplugins, sizeof(*p));
		for (i = 0; i < c->nplugins; i++)
			p[i] = &c->plugins[i];
		qsort(p, c->nplugins, sizeof(*p), plugin_cmp);
		for (i = 0; i < c->nplugins; i++)
			dump_plugin(p[i], fp);
		free(p);
	}
	for (i = 0; i < c->nlisteners; i++)
		dump_listener(c, i, fp);
}
