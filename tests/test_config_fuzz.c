/*
 * weftd's configuration, continued (tests/config_util.h): bugs found
 * by fuzzing (doc/fuzzing.md).
 */
#include "config_util.h"

/* What a file needs besides the keys a test reads: a listener. */
#define WITH_LISTENER                                                          \
	CONF_PLUGIN                                                            \
	"listen = ( { tcp = \"127.0.0.1:1\"; plugin = \"echo\"; } );\n"
#define WITH_LISTENER_INI                                                      \
	INI_PLUGIN "[listen.a]\ntcp = 127.0.0.1:1\nplugin = echo\n"

/* ---- Bugs found by fuzzing (doc/fuzzing.md) ------------------------------ */

/*
 * Bug 4: libconfig's flex scanner exit()s the process when a read of an
 * @include target fails, as on a directory.  "" and "." name the including
 * file's directory.  The test process surviving is half the test.
 */
WT_TEST(include_not_regular)
{
	char *dir = path_of("conf.d"), *fifo = path_of("inc.fifo");
	char *inc, *top, *cause = NULL, *want;
	struct conf *c = NULL;

	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	load_fails("inc-dir.conf", "workers = 1;\n@include \"conf.d\"\n",
	    "F:2: @include \"conf.d\": not a regular file");
	load_fails("inc-empty.conf", "@include \"\"\n",
	    "F:1: @include \"\": not a regular file");
	load_fails("inc-dot.conf", "# a comment\n  @include \".\"\n",
	    "F:2: @include \".\": not a regular file");
	/* A FIFO would block libconfig: refused, and without waiting for
	 * a writer (the time limit set in main() would end a hang). */
	load_fails("inc-fifo.conf", "@include \"inc.fifo\"\n",
	    "F:1: @include \"inc.fifo\": not a regular file");
	/* Inside strings and comments it is no @include. */
	c = load_text_ok("inc-not.conf",
	    "// @include \".\"\n"
	    "/* @include \".\" */ # @include \".\"\n"
	    "user = \"\n@include \\\".\\\"\";\n" WITH_LISTENER);
	assert_string_equal(c->user, "\n@include \".\"");
	config_free(c);
	c = NULL;

	/* One level down, the error names the included file. */
	inc = put("inc-nested.conf", "workers = 1;\n\n@include \".\"\n");
	top = put("inc-top.conf", "@include \"inc-nested.conf\"\n");
	assert_int_equal(config_load(top, &c, &cause), -1);
	assert_null(c);
	assert_true(asprintf(&want, "%s:3: @include \".\": not a regular file",
			inc) > 0);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	free(top);
	free(inc);
	free(fifo);
	free(dir);
}

/*
 * /proc/self/mem is a regular file as far as stat(2) can tell, but reading
 * it at offset 0 fails (EIO): libconfig's scanner would exit() on it too.
 * libconfig joins the include directory and the name as text, so the path
 * climbs out of tmpdir (/tmp/weft-config-XXXXXX).
 */
WT_TEST(include_unreadable)
{
	struct conf *c = NULL;
	char *cause = NULL, *want;

	if (access("/proc/self/mem", R_OK) != 0)
		skip();
	assert_true(asprintf(&want,
			"F:1: @include \"../../proc/self/mem\": "
			"%s",
			strerror(EIO)) > 0);
	load_fails("inc-mem.conf", "@include \"../../proc/self/mem\"\n", want);
	free(want);

	/* The same for the file being loaded. */
	assert_int_equal(config_load("/proc/self/mem", &c, &cause), -1);
	assert_null(c);
	assert_true(asprintf(&want, "/proc/self/mem: %s", strerror(EIO)) > 0);
	assert_string_equal(cause, want);
	free(want);
	free(cause);

	/* A missing include is still libconfig's to report. */
	load_fails("inc-missing.conf", "\n@include \"no-such.conf\"\n",
	    "F:2: cannot open include file");
}

/*
 * A file replaced after weftd checked it and before libconfig opens it.
 * libconfig 1.5 fopen()s with mode "rt" (config.c uses "r"), and the
 * program's fopen comes before libc's: armed with swap_path, the first
 * "rt" open renames swap_with over swap_path, or with no swap_with puts
 * a directory there, then opens what it was asked to.  (Default
 * visibility: libconfig.so calls it through the dynamic symbol table.)
 */
static char swap_path[256], swap_with[256];

/*
 * Armed with after_path, the first fopen of that very path renames
 * after_with over it once it is open: someone swapping the file between
 * weftd's check of what it opened and the parse.
 */
static char after_path[256], after_with[256];

FILE *fopen(const char *, const char *) __attribute__((visibility("default")));

FILE *
fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);
	FILE *fp;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fopen");
	if (swap_path[0] != '\0' && strcmp(mode, "rt") == 0) {
		if (swap_with[0] != '\0')
			(void)rename(swap_with, swap_path);
		else if (unlink(swap_path) == 0)
			(void)mkdir(swap_path, 0755);
		swap_path[0] = swap_with[0] = '\0';
	}
	fp = real(path, mode);
	if (after_path[0] != '\0' && strcmp(path, after_path) == 0) {
		(void)rename(after_with, after_path);
		after_path[0] = after_with[0] = '\0';
	}
	return fp;
}

static void
swap_arm(const char *path, const char *with)
{
	snprintf(swap_path, sizeof(swap_path), "%s", path);
	snprintf(swap_with, sizeof(swap_with), "%s", with != NULL ? with : "");
}

/* libconfig parses the bytes that were checked, not what the paths hold
 * by the time it reads them. */
WT_TEST(include_swapped_after_check)
{
	char *inc, *other, *top;
	struct conf *c;
	pid_t pid;
	int status;

	inc = put("swap-inc.conf", "workers = 3;\n");
	other = put("swap-other.conf", "workers = 7;\n");
	top = put("swap-top.conf",
	    "# top\n@include \"swap-inc.conf\"\n" WITH_LISTENER);
	swap_arm(inc, other);
	c = load_ok(top);
	assert_string_equal(swap_path, ""); /* the swap happened */
	assert_int_equal(c->workers, 3);
	config_free(c);
	free(other);

	/* The file being loaded itself. */
	other = put("swap-other.conf", "workers = 7;\n" WITH_LISTENER);
	free(top);
	top = put("swap-top.conf", "workers = 3;\n" WITH_LISTENER);
	swap_arm(top, other);
	c = load_ok(top);
	assert_string_equal(swap_path, "");
	assert_int_equal(c->workers, 3);
	config_free(c);

	/* A directory in its place would make libconfig's scanner exit()
	 * the process (the supervisor, on a reload): in a child. */
	free(top);
	free(inc);
	inc = put("swap-inc.conf", "workers = 3;\n");
	top = put("swap-top.conf",
	    "@include \"swap-inc.conf\"\n" WITH_LISTENER);
	swap_arm(inc, NULL);
	fflush(NULL);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		c = NULL;
		status = config_load(top, &c, NULL) == 0 && c->workers == 3 &&
			swap_path[0] == '\0'
		    ? 0
		    : 1;
		/* Under valgrind a leak would be the child's exit status. */
		config_free(c);
		free(top);
		free(inc);
		free(other);
		_exit(status);
	}
	swap_path[0] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(rmdir(inc), 0);
	free(top);
	free(inc);
	free(other);
}

/*
 * The INI front-end parses the file config_load() opened and checked,
 * not what the path holds by the time it reads: a file renamed over the
 * path right after that open is not the one parsed (it used to reopen the
 * path).
 */
WT_TEST(ini_swapped_after_check)
{
	char *top, *other;
	struct conf *c;

	other = put("swap-other.ini", "workers = 7\n" WITH_LISTENER_INI);
	top = put("swap-top.ini", "workers = 3\n" WITH_LISTENER_INI);
	snprintf(after_path, sizeof(after_path), "%s", top);
	snprintf(after_with, sizeof(after_with), "%s", other);
	c = load_ok(top);
	assert_string_equal(after_path, ""); /* the swap happened */
	assert_int_equal(c->workers, 3);
	config_free(c);
	/* The path holds the other file now, and a new load reads it. */
	c = load_ok(top);
	assert_int_equal(c->workers, 7);
	config_free(c);
	free(top);
	free(other);
}

/* Bug 5: an all-digit host longer than parse_tcp's buffer overflowed it. */
WT_TEST(err_long_ipv4)
{
	char host[122], text[512], want[512];
	size_t i;

	memset(host, '1', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(text, sizeof(text),
	    CONF_PLUGIN
	    "listen = ( { tcp = \"%s:80\"; plugin = \"echo\"; } );\n",
	    host);
	snprintf(want, sizeof(want),
	    "F:2: tcp: \"%s:80\": bad IPv4 address "
	    "\"%s\"",
	    host, host);
	load_fails("long4.conf", text, want);
	snprintf(text, sizeof(text),
	    INI_PLUGIN "[listen.a]\ntcp = %s:80\nplugin = echo\n", host);
	snprintf(want, sizeof(want),
	    "F:4: tcp: \"%s:80\": bad IPv4 address "
	    "\"%s\"",
	    host, host);
	load_fails("long4.ini", text, want);
	/* Dotted, and as long: the same. */
	for (i = 0; i < sizeof(host) - 1; i++)
		host[i] = i % 2 == 0 ? '1' : '.';
	snprintf(text, sizeof(text),
	    CONF_PLUGIN
	    "listen = ( { tcp = \"%s:80\"; plugin = \"echo\"; } );\n",
	    host);
	snprintf(want, sizeof(want),
	    "F:2: tcp: \"%s:80\": bad IPv4 address "
	    "\"%s\"",
	    host, host);
	load_fails("long4d.conf", text, want);
}

/*
 * Bug 3: a value quoted in an error may hold a newline (a libconfig
 * string, an INI escape); written as is it would start a line that is no
 * "FILE:LINE: message".  Control characters but tab come out as C escapes.
 */
WT_TEST(err_control_chars_escaped)
{
	load_fails("ctl.conf",
	    "log_level = \"lo\\nud\\r\";\n" CONF_PLUGIN
	    "listen = ( { tcp = \"1\\n2:3\"; plugin = \"echo\"; } );\n",
	    "F:1: log_level: unknown level \"lo\\nud\\r\" (use err, warning, "
	    "notice, info or debug)\n"
	    "F:3: tcp: \"1\\n2:3\": bad host \"1\\n2\"");
	load_fails("ctl.ini",
	    "log_level = \"a\\x01\\tb\\x7f\"\n" INI_PLUGIN
	    "[listen.a]\ntcp = \"1\\n2:3\"\nplugin = echo\n",
	    "F:1: log_level: unknown level \"a\\x01\tb\\x7f\" (use err, "
	    "warning, notice, info or debug)\n"
	    "F:5: tcp: \"1\\n2:3\": bad host \"1\\n2\"");
}

/* Every case writes its files in one directory, made before the first
 * and removed after the last. */
int
main(int argc, char **argv)
{
	int rc;

	if (setup() != 0) {
		perror("mkdtemp");
		return 1;
	}
	WT_TIMEOUT(60);
	rc = wt_run_cases(argc, argv);
	if (teardown() != 0)
		rc = 1;
	return rc;
}
