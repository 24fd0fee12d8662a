/*
 * libFuzzer target: weftd's config loader, both syntaxes.
 *
 * The first input byte picks the syntax (bit 0: INI, else libconfig); the
 * rest is the file.  If it contains a NUL NUL pair, what follows the
 * first such pair becomes a second file, "inc.conf"/"inc.ini" beside the
 * first, so that libconfig's @include has something to include (the
 * file may also include itself, or the other syntax's file).  The files
 * live in a private directory made once per process; an input whose
 * @include could name anything outside it (a '/' or a '\' anywhere) is
 * skipped, so the fuzzer can never make the parser open /dev/zero or a
 * FIFO.
 *
 * config_load must not crash, leak (LeakSanitizer) or trip UBSan, and:
 *   - on success *out is a model, cause is untouched, config_dump works;
 *   - on failure *out is untouched and *cause is a non-empty list of
 *     lines, each "FILE:LINE: message" with FILE one of the two files,
 *     LINE a positive number and a non-empty message, as config.h
 *     promises ("each "file:line: message"").
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

/*
 * libconfig 1.5 (Debian 12) leaks the string token it was building when
 * a syntax error ends the parse (libconfig issue #142, fixed in 1.7.3 by
 * a bison %destructor).  Not weftd's to fix: those two allocation sites
 * are the lexer's own and nothing of weftd's is allocated there.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\nleak:strbuf_append\n";
}

/* Without this every leak check lists the suppressions used. */
const char *
__lsan_default_options(void)
{
	return "print_suppressions=0";
}

static char dir[256];
static char path_conf[300], path_ini[300], inc_conf[300], inc_ini[300];
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
cleanup(void)
{
	unlink(path_conf);
	unlink(path_ini);
	unlink(inc_conf);
	unlink(inc_ini);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/weft-fuzz-config.XXXXXX",
	    tmp != NULL && strlen(tmp) < 200 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		exit(1);
	}
	snprintf(path_conf, sizeof(path_conf), "%s/f.conf", dir);
	snprintf(path_ini, sizeof(path_ini), "%s/f.ini", dir);
	snprintf(inc_conf, sizeof(inc_conf), "%s/inc.conf", dir);
	snprintf(inc_ini, sizeof(inc_ini), "%s/inc.ini", dir);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		exit(1);
	atexit(cleanup);
	return 0;
}

static void
put(const char *path, const uint8_t *p, size_t n)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL ||
	    (n > 0 && fwrite(p, 1, n, fp) != n) || fclose(fp) != 0) {
		perror(path);
		abort();
	}
}

/* "@include" in any case. */
static int
has_include(const uint8_t *p, size_t n)
{
	static const char word[] = "@include";
	size_t i, k = sizeof(word) - 1;

	for (i = 0; i + k <= n; i++)
		if (strncasecmp((const char *)p + i, word, k) == 0)
			return 1;
	return 0;
}

static void __attribute__((noreturn))
bad_cause(const char *why, const char *cause)
{
	fprintf(stderr, "fuzz_config: %s in cause:\n%s\n", why, cause);
	abort();
}

#define NO_LISTENERS ": no listeners: nothing to serve"

/*
 * One line of *cause: "FILE:LINE: message", FILE the file loaded or (an
 * @include) a name in its directory.
 */
static void
check_line(const char *file, const char *line, size_t n, const char *cause)
{
	const char *p, *end = line + n;
	size_t k = strlen(file), d = strlen(dir);

	/* The one error about the whole file has no line to name. */
	if (n == k + strlen(NO_LISTENERS) && memcmp(line, file, k) == 0 &&
	    memcmp(line + k, NO_LISTENERS, n - k) == 0)
		return;
	if (n > k && memcmp(line, file, k) == 0 && line[k] == ':') {
		p = line + k + 1;
	} else if (n > d + 1 && memcmp(line, dir, d) == 0 && line[d] == '/') {
		for (p = line + d + 1; p < end && *p != ':' && *p != '/'; p++)
			;
		if (p == line + d + 1 || p == end || *p != ':')
			bad_cause("a line not starting with FILE:", cause);
		p++;
	} else {
		bad_cause("a line not starting with FILE:", cause);
	}
	if (p >= end || !isdigit((unsigned char)*p) || *p == '0')
		bad_cause("a line without a positive LINE", cause);
	while (p < end && isdigit((unsigned char)*p))
		p++;
	if (end - p < 3 || p[0] != ':' || p[1] != ' ')
		bad_cause("a line without \": message\"", cause);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *second = NULL;
	struct conf *c = NULL;
	char *cause = NULL;
	const char *file, *line, *nl;
	size_t first, i;
	int ini, rc;

	if (size < 1)
		return 0;
	ini = data[0] & 1;
	data++;
	size--;
	if (has_include(data, size) &&
	    (memchr(data, '/', size) != NULL ||
		memchr(data, '\\', size) != NULL))
		return 0;
	first = size;
	for (i = 0; i + 1 < size; i++)
		if (data[i] == 0 && data[i + 1] == 0) {
			first = i;
			second = data + i + 2;
			break;
		}
	file = ini ? path_ini : path_conf;
	put(file, data, first);
	if (second != NULL) {
		put(ini ? inc_ini : inc_conf, second,
		    size - (size_t)(second - data));
	} else {
		unlink(inc_conf);
		unlink(inc_ini);
	}

	rc = config_load(file, &c, &cause);
	if (rc == 0) {
		if (c == NULL || cause != NULL)
			abort();
		config_dump(c, devnull);
		config_free(c);
		return 0;
	}
	if (rc != -1 || c != NULL)
		abort();
	if (cause == NULL || cause[0] == '\0')
		bad_cause("empty", cause != NULL ? cause : "(NULL)");
	for (line = cause;; line = nl + 1) {
		nl = strchr(line, '\n');
		check_line(file, line,
		    nl != NULL ? (size_t)(nl - line) : strlen(line), cause);
		if (nl == NULL)
			break;
	}
	free(cause);
	return 0;
}
