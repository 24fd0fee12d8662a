/*
 * The INI front-end (.ini files), on inih.
 *
 * inih's behaviour is fixed when the library is built (ini.h): Debian's
 * has INI_HANDLER_LINENO off, so the handler never learns its line, and
 * inih reports only the first bad line, by its return value.  So the
 * file is fed to ini_parse_stream() through a reader of our own that
 * counts lines, and that reader also looks at every line before inih
 * does: it tracks the section (inih's is cut at 50 characters and a
 * section without keys never reaches the handler), reports each line
 * inih would refuse and hands inih an empty line instead.  Leading
 * blanks are stripped before inih sees a line, so a build with
 * INI_ALLOW_MULTILINE never takes one for a continuation.
 *
 * The syntax, then: "key = value" (or "key: value"), "[section]", and
 * comments from ';' or '#' at the start of a line or from ';' after a
 * blank.  A value wholly in double quotes loses them, and \n, \t, \r,
 * \\, \" and \xHH in it are decoded.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "config_model.h"
#include "config_syntax.h"
#include "log.h"
#include "util.h"

enum {
	S_TOP,	    /* before any section */
	S_PLUGIN,   /* [plugins.NAME] */
	S_SETTINGS, /* [plugins.NAME.settings] */
	S_LISTEN,   /* [listen.NAME] */
	S_TLS,	    /* [tls.NAME] */
	S_SNI,	    /* [tls.NAME.sni.LABEL] */
	S_SKIP,	    /* a bad section, already reported */
};

struct ini {
	struct conf_parse *ps;
	FILE *fp;
	int line;
	int section;   /* S_* */
	int index;     /* the plugin, listener or profile of the section */
	int sni;       /* the SNI entry of an S_SNI section */
	char **labels; /* the [tls.NAME.sni.LABEL] seen, as NAME.LABEL */
	size_t nlabels;
	char *buf; /* getline's */
	size_t cap;
	int reported; /* an error was recorded by this file */
};

static void __attribute__((format(printf, 2, 3)))
ini_error(struct ini *ini, const char *fmt, ...)
{
	struct conf_loc loc = { NULL, ini->line };
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("config");
	va_end(ap);
	config_error(ini->ps, loc, "%s", msg);
	free(msg);
	ini->reported = 1;
}

/* inih's rule: ';' starts a comment when a blank comes before it. */
static char *
find(char *s, const char *chars)
{
	int blank = 0;

	while (*s != '\0' && (chars == NULL || strchr(chars, *s) == NULL) &&
	    !(blank && *s == ';')) {
		blank = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

static int
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * [tls.NAME] and [tls.NAME.sni.LABEL]: an SNI entry of profile NAME
 * (defined above it), LABEL naming it in this file only.
 */
static void
tls_section(struct ini *ini, char *name, struct conf_loc loc)
{
	char *sni = strstr(name, ".sni.");
	size_t i;

	if (sni == NULL) {
		if ((ini->index = config_tls_add(ini->ps, name, loc)) >= 0)
			ini->section = S_TLS;
		return;
	}
	*sni = '\0';
	if ((ini->index = config_tls_find(ini->ps, name)) < 0) {
		ini_error(ini, "[tls.%s.sni.%s]: no [tls.%s] above it", name,
		    sni + 5, name);
		return;
	}
	*sni = '.';
	for (i = 0; i < ini->nlabels; i++)
		if (strcmp(ini->labels[i], name) == 0) {
			ini_error(ini, "section [tls.%s] given twice", name);
			return;
		}
	if ((ini->labels = reallocarray(ini->labels, ini->nlabels + 1,
		 sizeof(*ini->labels))) == NULL)
		fatal("config");
	ini->labels[ini->nlabels++] = xstrdup(name);
	ini->sni = config_tls_sni_add(ini->ps, ini->index, loc);
	ini->section = S_SNI;
}

static void
section(struct ini *ini, char *name)
{
	struct conf_loc loc = { NULL, ini->line };
	size_t n;

	ini->section = S_SKIP;
	n = strlen(name);
	if (starts(name, "plugins.")) {
		name += strlen("plugins.");
		n -= strlen("plugins.");
		if (n > strlen(".settings") &&
		    strcmp(name + n - strlen(".settings"), ".settings") == 0) {
			name[n - strlen(".settings")] = '\0';
			ini->index = config_plugin_ref(ini->ps, name, loc);
			if (ini->index >= 0)
				ini->section = S_SETTINGS;
			return;
		}
		ini->index = config_plugin_add(ini->ps, name, loc);
		if (ini->index >= 0)
			ini->section = S_PLUGIN;
	} else if (starts(name, "listen.")) {
		ini->index = config_listener_add(ini->ps,
		    name + strlen("listen."), loc);
		if (ini->index >= 0)
			ini->section = S_LISTEN;
	} else if (starts(name, "tls.")) {
		tls_section(ini, name + strlen("tls."), loc);
	} else if (strcmp(name, "plugins") == 0 ||
	    strcmp(name, "listen") == 0 || strcmp(name, "tls") == 0)
		ini_error(ini, "section [%s] needs a name: [%s.NAME]", name,
		    name);
	else
		ini_error(ini, "unknown section [%s]", name);
}

/*
 * inih's line reader.  Returns the next line as inih should see it: the
 * line itself without leading blanks, or an empty line for one that was
 * reported here (or that inih has no use for).
 */
static char *
reader(char *str, int num, void *arg)
{
	struct ini *ini = arg;
	ssize_t n;
	size_t len;
	char *s, *e;

	if (num < 2 || (n = getline(&ini->buf, &ini->cap, ini->fp)) == -1)
		return NULL;
	ini->line++;
	s = ini->buf;
	len = strlen(s); /* a NUL in the line ends it, as in inih */
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	if (ini->line == 1 && starts(s, "\xEF\xBB\xBF"))
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);

	str[0] = '\n';
	str[1] = '\0';
	if (*s == '\0' || *s == ';' || *s == '#')
		return str;
	if (len + 2 > (size_t)num) {
		ini_error(ini,
		    "line too long (inih takes at most %d "
		    "characters)",
		    num - 2);
		if (*s == '[')
			ini->section = S_SKIP;
		return str;
	}
	if (*s == '[') {
		e = find(s + 1, "]");
		if (*e != ']') {
			ini_error(ini,
			    "syntax error: missing ']' in section "
			    "header");
			ini->section = S_SKIP;
			return str;
		}
		*e++ = '\0';
		while (isspace((unsigned char)*e))
			e++;
		if (*e != '\0' && *e != ';' && *e != '#') {
			ini_error(ini, "syntax error: text after ']'");
			ini->section = S_SKIP;
			return str;
		}
		/* "[ listen.a ]" is [listen.a]. */
		for (s++; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		section(ini, s);
		/* inih's own idea of the section is not used: hand it none. */
		return str;
	}
	e = find(s, "=:");
	if (*e != '=' && *e != ':') {
		ini_error(ini,
		    "syntax error: expected \"key = value\" or "
		    "\"[section]\", not \"%s\"",
		    s);
		return str;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

/* Decode a value wholly in double quotes; NULL after an error. */
static char *
unquote(struct ini *ini, const char *key, const char *v)
{
	char *out, *w, hex[3];
	const char *p, *end;
	size_t n;

	n = strlen(v);
	if (v[0] == '"' && (n < 2 || v[n - 1] != '"')) {
		/* Most likely inih took " ;..." inside the quotes for a
		 * comment. */
		ini_error(ini,
		    "%s: unterminated quoted value (a ';' after a "
		    "blank starts a comment)",
		    key);
		return NULL;
	}
	if (v[0] != '"') {
		return xstrdup(v);
	}
	out = w = xmalloc(n);
	end = v + n - 1; /* the closing quote */
	for (p = v + 1; p < end; p++) {
		if (*p != '\\') {
			*w++ = *p;
			continue;
		}
		if (++p == end)
			goto bad;
		switch (*p) {
		case 'n':
			*w++ = '\n';
			break;
		case 't':
			*w++ = '\t';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case '\\':
		case '"':
			*w++ = *p;
			break;
		case 'x':
			if (p + 2 >= end || !isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2]))
				goto bad;
			hex[0] = p[1];
			hex[1] = p[2];
			hex[2] = '\0';
			/* A NUL would silently end the value. */
			if ((*w++ = (char)strtol(hex, NULL, 16)) == '\0')
				goto bad;
			p += 2;
			break;
		default:
			goto bad;
		}
	}
	*w = '\0';
	return out;
bad:
	ini_error(ini, "%s: bad escape in quoted value", key);
	free(out);
	return NULL;
}

static int
handler(void *arg, const char *sect, const char *name, const char *value)
{
	struct ini *ini = arg;
	struct conf_loc loc = { NULL, ini->line };
	char *text;

	/* Builds with INI_CALL_HANDLER_ON_NEW_SECTION call us per section. */
	if (name == NULL)
		return 1;
	if (value == NULL) {
		ini_error(ini, "%s: expected \"key = value\"", name);
		return 1;
	}
	if (*name == '\0') {
		ini_error(ini, "syntax error: missing key before '='");
		return 1;
	}
	if (ini->section == S_SKIP)
		return 1;
	if ((text = unquote(ini, name, value)) == NULL)
		return 1;
	switch (ini->section) {
	case S_TOP:
		if (strcmp(name, "plugins") == 0 ||
		    strcmp(name, "listen") == 0 || strcmp(name, "tls") == 0)
			ini_error(ini,
			    "%s: in INI, write a [%s.NAME] "
			    "section",
			    name, name);
		else
			config_top_key(ini->ps, name, CONF_T_TEXT, text, loc);
		break;
	case S_PLUGIN:
		if (strcmp(name, "settings") == 0)
			ini_error(ini,
			    "%s: in INI, write a "
			    "[plugins.NAME.settings] section",
			    name);
		else
			config_plugin_key(ini->ps, ini->index, name,
			    CONF_T_TEXT, text, loc);
		break;
	case S_SETTINGS:
		config_plugin_setting(ini->ps, ini->index, name, CONF_T_TEXT,
		    text, loc);
		break;
	case S_TLS:
		if (strcmp(name, "sni") == 0)
			ini_error(ini,
			    "%s: in INI, write a "
			    "[tls.NAME.sni.LABEL] section",
			    name);
		else
			config_tls_key(ini->ps, ini->index, name, CONF_T_TEXT,
			    text, loc);
		break;
	case S_SNI:
		config_tls_sni_key(ini->ps, ini->index, ini->sni, name,
		    CONF_T_TEXT, text, loc);
		break;
	case S_LISTEN:
		if (strcmp(name, "name") == 0)
			ini_error(ini,
			    "%s: in INI, a listener's name is its "
			    "section's: [listen.NAME]",
			    name);
		else
			config_listener_key(ini->ps, ini->index, name,
			    CONF_T_TEXT, text, loc);
		break;
	}
	free(text);
	return 1;
}

/*
 * fp is the file config_load() opened and checked: inih reads from it,
 * never from the path again, so what is parsed is what was checked.
 */
int
config_ini_parse(struct conf_parse *ps, const char *file, FILE *fp)
{
	struct conf_loc loc = { NULL, 0 };
	struct ini ini;
	int rc;

	(void)file;
	memset(&ini, 0, sizeof(ini));
	ini.ps = ps;
	ini.section = S_TOP;
	ini.fp = fp;
	rc = ini_parse_stream(reader, &ini, handler, &ini);
	if (rc == -2)
		fatal("config: inih");
	if (ferror(ini.fp))
		config_error(ps, loc, "read error");
	else if (rc > 0 && !ini.reported) {
		/* reader() should have caught every line inih refuses. */
		loc.line = rc;
		config_error(ps, loc, "syntax error");
	}
	free(ini.buf);
	while (ini.nlabels > 0)
		free(ini.labels[--ini.nlabels]);
	free(ini.labels);
	return 0;
}
