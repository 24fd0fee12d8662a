/*
 * Converting one config value (config_value.h): the types, ranges and
 * spellings each kind of key accepts, and the words used when a value is
 * refused.  Nothing here knows where the value was written.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <weft/plugin.h>

#include "config_model.h"
#include "config_value.h"
#include "util.h"

#define MAX_TIMEOUT 86400.0
#define MAX_NAME 255

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

static const char *const level_names[] = {
	[WEFT_LOG_ERR] = "err",
	[WEFT_LOG_WARNING] = "warning",
	[WEFT_LOG_NOTICE] = "notice",
	[WEFT_LOG_INFO] = "info",
	[WEFT_LOG_DEBUG] = "debug",
};

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

int
config_name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		if (*a == *b ||
		    ((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			continue;
		return 0;
	}
	return *a == *b;
}

/*
 * ".." is left alone by cv_path_join, since removing it is only right
 * when the part before it is not a symlink.
 */
char *
cv_path_join(const char *dir, const char *path)
{
	char *s, *r, *w;
	size_t n;

	if (path[0] == '/' || dir == NULL || dir[0] == '\0')
		s = xstrdup(path);
	else {
		n = strlen(dir) + strlen(path) + 2;
		s = xmalloc(n);
		snprintf(s, n, "%s/%s", dir, path);
	}
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

int
cv_lname_ok(const char *s)
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

int
cv_ident_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > MAX_NAME)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

int
cv_int(const char *key, int type, const char *text, int64_t min, int64_t max,
    int64_t *out, char **cause)
{
	long long v;
	char *end;

	if (type != CONF_T_INT && type != CONF_T_TEXT) {
		cause_set(cause, "%s: expected an integer", key);
		return -1;
	}
	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || *end != '\0' || isspace((unsigned char)*text)) {
		cause_set(cause, "%s: expected an integer", key);
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		cause_set(cause, "%s: %s is out of range %lld..%lld", key, text,
		    (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int
cv_seconds(const char *key, int type, const char *text, int64_t min_ms,
    double *out, char **cause)
{
	double v;
	char *end;

	if (type != CONF_T_INT && type != CONF_T_FLOAT && type != CONF_T_TEXT) {
		cause_set(cause, "%s: expected a number", key);
		return -1;
	}
	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end != '\0' || isspace((unsigned char)*text) ||
	    isnan(v)) {
		cause_set(cause, "%s: expected a number", key);
		return -1;
	}
	if (min_ms > 0 && !(v >= (double)min_ms / 1000 && v <= MAX_TIMEOUT)) {
		cause_set(cause,
		    "%s: %s is out of range: must be >= %g "
		    "and <= %g",
		    key, text, (double)min_ms / 1000, MAX_TIMEOUT);
		return -1;
	}
	if (!(v > 0 && v <= MAX_TIMEOUT)) {
		cause_set(cause,
		    "%s: %s is out of range: must be > 0 "
		    "and <= %g",
		    key, text, MAX_TIMEOUT);
		return -1;
	}
	*out = v;
	return 0;
}

int
cv_bool(const char *key, int type, const char *text, int *out, char **cause)
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
	cause_set(cause, "%s: expected a boolean (true or false)", key);
	return -1;
}

int
cv_str(const char *key, int type, const char *text, char **cause)
{
	if (type != CONF_T_STR && type != CONF_T_TEXT) {
		cause_set(cause, "%s: expected a string", key);
		return -1;
	}
	if (*text == '\0') {
		cause_set(cause, "%s: must not be empty", key);
		return -1;
	}
	return 0;
}

/*
 * A mode is octal text ("0660", also in INI where all values are text) or,
 * in libconfig, an integer taken at its value: libconfig reads 0660 as
 * decimal 660, so the message for that case says how to write it.
 */
int
cv_mode(const char *key, int type, const char *text, int *out, char **cause)
{
	const char *p;
	long v;

	if (type == CONF_T_INT) {
		v = strtol(text, NULL, 10);
		if (v < 0 || v > 0777) {
			cause_set(cause,
			    "%s: %s is out of range 0..0777 "
			    "(write octal modes as a string: \"0660\")",
			    key, text);
			return -1;
		}
		*out = (int)v;
		return 0;
	}
	if (type != CONF_T_STR && type != CONF_T_TEXT) {
		cause_set(cause, "%s: expected an octal mode like \"0660\"",
		    key);
		return -1;
	}
	for (p = text; *p >= '0' && *p <= '7'; p++)
		;
	if (p == text || *p != '\0' || p - text > 6) {
		cause_set(cause,
		    "%s: \"%s\" is not an octal mode like "
		    "\"0660\"",
		    key, text);
		return -1;
	}
	v = strtol(text, NULL, 8);
	if (v > 0777) {
		cause_set(cause, "%s: \"%s\" is out of range 0..0777", key,
		    text);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* A name looked up with getpwnam/getgrnam; 0 or -1 with *cause set. */
static int
id_lookup(const char *key, const char *text, int is_group, unsigned long *out,
    char **cause)
{
	const char *what = is_group ? "group" : "user";
	struct passwd *pw;
	struct group *gr;

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
		cause_set(cause, "%s: cannot look up %s \"%s\": %s", key, what,
		    text, strerror(errno));
	else
		cause_set(cause, "%s: unknown %s \"%s\"", key, what, text);
	return -1;
}

/*
 * A UNIX listener's owner or group: a numeric id, taken as it is (as
 * chown(1) takes an id that has no name), or a name, looked up now so
 * that a misspelt one is a FILE:LINE error of `weftd -t` and of a reload
 * rather than a failed bind.  libconfig may give the id as an integer.
 * (uid_t)-1 means "leave it" to chown(2), so it is not an id.
 */
int
cv_id(const char *key, int type, const char *text, int is_group,
    unsigned long *out, char **cause)
{
	unsigned long long v;
	const char *p;

	if (type != CONF_T_INT && type != CONF_T_STR && type != CONF_T_TEXT) {
		cause_set(cause, "%s: expected a %s name or id", key,
		    is_group ? "group" : "user");
		return -1;
	}
	if (*text == '\0') {
		cause_set(cause, "%s: must not be empty", key);
		return -1;
	}
	/* "-1" is a number too, if not an id: out of range, not a name. */
	for (p = text + (text[0] == '-'); *p >= '0' && *p <= '9'; p++)
		;
	if (*p != '\0' || p == text + (text[0] == '-'))
		return id_lookup(key, text, is_group, out, cause);
	errno = 0;
	v = strtoull(text, NULL, 10);
	if (text[0] == '-' || errno == ERANGE || v >= UINT32_MAX) {
		cause_set(cause, "%s: %s is out of range 0..%lu", key, text,
		    (unsigned long)UINT32_MAX - 1);
		return -1;
	}
	*out = (unsigned long)v;
	return 0;
}

int
cv_level(const char *key, int type, const char *text, int *out, char **cause)
{
	int v;

	if (cv_str(key, type, text, cause) != 0)
		return -1;
	if ((v = config_log_level(text)) < 0) {
		cause_set(cause,
		    "%s: unknown level \"%s\" (use err, warning, "
		    "notice, info or debug)",
		    key, text);
		return -1;
	}
	*out = v;
	return 0;
}

int
cv_stacks(const char *key, int type, const char *text, int *out, char **cause)
{
	if (cv_str(key, type, text, cause) != 0)
		return -1;
	if (strcmp(text, "private") != 0 && strcmp(text, "shared") != 0) {
		cause_set(cause,
		    "%s: \"%s\" is neither \"private\" nor "
		    "\"shared\"",
		    key, text);
		return -1;
	}
	*out = strcmp(text, "shared") == 0;
	return 0;
}

int
cv_lname(const char *key, int type, const char *text, char **cause)
{
	if (cv_str(key, type, text, cause) != 0)
		return -1;
	if (!cv_lname_ok(text)) {
		cause_set(cause,
		    "%s: bad listener name \"%s\" (letters, "
		    "digits, '.', '-', '_' and '@')",
		    key, text);
		return -1;
	}
	return 0;
}

int
cv_tcp(const char *key, int type, const char *text, char **host, int *port,
    char **cause)
{
	char h[WEFT_HOST_MAX], msg[512];

	if (cv_str(key, type, text, cause) != 0)
		return -1;
	if (weft_hostport_parse(text, h, sizeof(h), port, msg, sizeof(msg)) !=
	    0) {
		cause_set(cause, "%s: \"%s\": %s", key, text, msg);
		return -1;
	}
	free(*host);
	*host = xstrdup(h);
	return 0;
}

int
cv_unix(const char *key, int type, const char *text, char **cause)
{
	if (cv_str(key, type, text, cause) != 0)
		return -1;
	if (strlen(text) > SUN_PATH_MAX) {
		cause_set(cause,
		    "%s: path is %zu bytes, longer than the %zu a "
		    "socket address holds",
		    key, strlen(text), SUN_PATH_MAX);
		return -1;
	}
	return 0;
}

void
cv_tcp_text(const struct conf_listener *l, char *buf, size_t len)
{
	if (l->host == NULL || l->host[0] == '\0')
		snprintf(buf, len, "*:%d", l->port);
	else if (strchr(l->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", l->host, l->port);
	else
		snprintf(buf, len, "%s:%d", l->host, l->port);
}
