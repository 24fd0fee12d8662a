/*
 * The test harness of the C test programs, after libuv's test runner
 * (its test/runner.c and test/task.h):
 *
 *   WT_CASE(name) { ... }   a case whose body runs as the first fiber of
 *                           a fresh loop (wt_run);
 *   WT_TEST(name) { ... }   a case whose body runs on no loop (it may call
 *                           wt_run itself, any number of times);
 *   main: the program's own setup, then return wt_run_cases(argc, argv).
 *
 * Every case runs in a process of its own (a fork of the program after
 * its setup), so a case that fails, crashes or hangs does not touch the
 * cases after it, and every case starts from the same state.  The program
 * prints TAP, one result per case, named test_<name>, followed by what
 * the case printed as TAP comments.  A case passes when its process exits
 * 0; a failed cmocka assertion aborts it, skip() exits it with 77 (TAP
 * "# SKIP").  WT_TIMEOUT(secs) is each case's time limit, stretched by
 * WEFT_TEST_TIMEOUT_MULT (make check-valgrind); past it the case is
 * aborted.  A program includes this header from its one source file.
 *
 * wt_run ends by proving the body left the loop clean: every fiber ended
 * and no handle still open once the library has closed its own.
 *
 * `prog name...` runs only the cases named (with or without the test_
 * prefix); WT_NOFORK=1 runs them in the program's own process, for a
 * debugger.
 *
 * A program may still list cmocka tests in a table and call
 * cmocka_run_group_tests: the table's tests then run through the same
 * runner, each in its own process.
 */
#ifndef WEFT_TEST_HARNESS_H
#define WEFT_TEST_HARNESS_H

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include <weft/weft.h>

/* The unit tests built with lib/ on the include path see its internals. */
#if defined(__has_include)
#if __has_include("internal.h")
#include "internal.h"
#endif
#endif

#define WT_UNUSED __attribute__((unused))

/* The exit status of a skipped case (automake's). */
#define WT_SKIPPED 77

/* ---- Running a body on a fiber ------------------------------------------ */

struct wt_ctx {
	void (*body)(void *);
	void *arg;
	int done;
};

static void
wt__main_fiber(void *p)
{
	struct wt_ctx *c = p;

	weft_fiber_set_name(weft_current(), "main");
	c->body(c->arg);
	c->done = 1;
}

static void
wt__count_open(uv_handle_t *h, void *arg)
{
	if (uv_is_closing(h))
		return;
	fprintf(stderr, "left open: %s handle %p (%s, %s)\n",
	    uv_handle_type_name(uv_handle_get_type(h)), (void *)h,
	    uv_is_active(h) ? "active" : "inactive",
	    uv_has_ref(h) ? "referenced" : "unreferenced");
	(*(int *)arg)++;
}

static void
wt__close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * Run body(arg) as the first fiber of a fresh loop, as weft_run does
 * (lib/fiber.c), with a check where weft_run closes what is left: once
 * the loop has run dry and weft_fini has closed the library's own handles
 * (its check, idle and trim handles and pooled timers), any handle not
 * closing was left open by the body.  So is a fiber still alive, parked
 * for good.
 */
static WT_UNUSED void
wt_run(void (*body)(void *), void *arg)
{
	struct wt_ctx c = { body, arg, 0 };
	uv_loop_t loop;
	size_t fibers;
	int open = 0;

	/* WEFT_TEST_SHARED=1 runs a whole program in shared-stack mode. */
	if (getenv("WEFT_TEST_SHARED") != NULL)
		weft_fiber_stacks_shared(1);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(weft_init(&loop), 0);
	assert_int_equal(weft_spawn(wt__main_fiber, &c, NULL), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	fibers = weft_fiber_count();
	weft_fini();
	uv_walk(&loop, wt__count_open, &open);
	uv_walk(&loop, wt__close, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	if (!c.done)
		fail_msg("the body never ended: nothing left to wake it");
	if (fibers > 0)
		fail_msg("%zu fiber%s still parked", fibers,
		    fibers > 1 ? "s" : "");
	if (open > 0)
		fail_msg("%d handle%s left open", open, open > 1 ? "s" : "");
}

/* Compare a slice with a C string literal (binary safe via length). */
#define assert_slice_equal(s, lit)                                             \
	do {                                                                   \
		weft_slice_t s__ = (s);                                        \
		assert_int_equal(s__.len, sizeof(lit) - 1);                    \
		assert_memory_equal(s__.base, lit, sizeof(lit) - 1);           \
	} while (0)

/* The reader's unread buffer must equal lit. */
#define assert_buffer(r, lit) assert_slice_equal(weft_reader_buffer(r), lit)

/* ---- Cases ---------------------------------------------------------------- */

struct wt_case {
	const char *name;
	void (*fn)(void);
	int fiber; /* fn runs on a fiber (WT_CASE) */
	int line;
	struct wt_case *next;
};

/* The cases in the order of their lines. */
static struct wt_case *wt__cases;

static WT_UNUSED void
wt__case_add(struct wt_case *c)
{
	struct wt_case **p = &wt__cases;

	while (*p != NULL && (*p)->line < c->line)
		p = &(*p)->next;
	c->next = *p;
	*p = c;
}

#define WT__DEFINE(name, fiber)                                                \
	static void test_##name(void);                                         \
	static struct wt_case wt__case_##name = { "test_" #name, test_##name,  \
		fiber, __LINE__, NULL };                                       \
	__attribute__((constructor)) static void wt__add_##name(void)          \
	{                                                                      \
		wt__case_add(&wt__case_##name);                                \
	}                                                                      \
	static void test_##name(void)

/* A case run as the first fiber of a fresh loop. */
#define WT_CASE(name) WT__DEFINE(name, 1)
/* A case run on no loop. */
#define WT_TEST(name) WT__DEFINE(name, 0)

/* Each case's time limit, in seconds. */
static unsigned wt__timeout;
#define WT_TIMEOUT(secs) (wt__timeout = (secs))

/* cmocka's skip() ends the process as a failure outside its runner. */
#undef skip
#define skip() wt__skip(__FILE__, __LINE__)

static WT_UNUSED void
wt__skip(const char *file, int line)
{
	fprintf(stderr, "%s:%d: skipped\n", file, line);
	exit(WT_SKIPPED);
}

/* ---- The runner ------------------------------------------------------------ */

static volatile sig_atomic_t wt__alarmed;

static void
wt__on_alarm(int sig)
{
	(void)sig;
	wt__alarmed = 1;
}

/* Wait for the case's process; past the time limit, abort it (a core,
 * or memcheck's report of where it hung), then kill it. */
static int
wt__wait(pid_t pid, const char *name, unsigned secs)
{
	struct sigaction sa, old;
	int status, stage = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wt__on_alarm; /* no SA_RESTART: waitpid returns */
	sigaction(SIGALRM, &sa, &old);
	wt__alarmed = 0;
	alarm(secs);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			printf("# %s: waitpid: %s\n", name, strerror(errno));
			status = W_EXITCODE(1, 0);
			break;
		}
		if (!wt__alarmed)
			continue;
		wt__alarmed = 0;
		if (stage++ == 0) {
			printf("# %s: timed out after %u s\n", name, secs);
			kill(pid, SIGABRT);
			alarm(10);
		} else
			kill(pid, SIGKILL);
	}
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return status;
}

/* Case i of the program: its name, and running it. */
struct wt__suite {
	int n;
	const char *(*name)(int);
	void (*run)(int);
};

/* The case's process: its output goes to out, a cmocka assertion that
 * fails prints its message and aborts (outside cmocka's runner it would
 * exit without one). */
static void
wt__child(const struct wt__suite *s, int i, FILE *out)
{
	dup2(fileno(out), STDOUT_FILENO);
	dup2(fileno(out), STDERR_FILENO);
	fclose(out);
	setenv("CMOCKA_TEST_ABORT", "1", 1);
	s->run(i);
	exit(0);
}

/* What the case printed, as TAP comments after its result. */
static void
wt__relay(FILE *out)
{
	char *line = NULL;
	size_t size = 0;
	ssize_t n;

	rewind(out);
	while ((n = getline(&line, &size, out)) > 0)
		printf("# %s%s", line, line[n - 1] == '\n' ? "" : "\n");
	free(line);
	fclose(out);
}

/* Run case i in a process of its own and print its TAP line as number k;
 * 1 if it failed. */
static int
wt__one(const struct wt__suite *s, int i, int k, unsigned secs)
{
	const char *name = s->name(i);
	FILE *out;
	pid_t pid;
	int status, failed = 0;

	fflush(stdout);
	fflush(stderr);
	if ((out = tmpfile()) == NULL || (pid = fork()) < 0) {
		printf("not ok %d - %s\n# %s\n", k, name, strerror(errno));
		return 1;
	}
	if (pid == 0)
		wt__child(s, i, out);
	status = wt__wait(pid, name, secs);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		printf("ok %d - %s\n", k, name);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == WT_SKIPPED)
		printf("ok %d - %s # SKIP\n", k, name);
	else {
		failed = 1;
		printf("not ok %d - %s\n", k, name);
		if (WIFSIGNALED(status))
			printf("# %s: killed by signal %d (%s)\n", name,
			    WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			printf("# %s: exit status %d\n", name,
			    WEXITSTATUS(status));
	}
	wt__relay(out);
	return failed;
}

/* The time limit: WT_TIMEOUT's, else an alarm() the program set, else a
 * minute; times WEFT_TEST_TIMEOUT_MULT. */
static unsigned
wt__limit(void)
{
	unsigned secs = alarm(0);
	const char *mult = getenv("WEFT_TEST_TIMEOUT_MULT");

	if (wt__timeout > 0)
		secs = wt__timeout;
	if (secs == 0)
		secs = 60;
	if (mult != NULL && atoi(mult) > 1)
		secs *= (unsigned)atoi(mult);
	return secs;
}

/* 1 if the command line names the case, or names none. */
static int
wt__selected(const char *name, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0 ||
		    (strncmp(name, "test_", 5) == 0 &&
			strcmp(argv[i], name + 5) == 0))
			return 1;
	return 0;
}

/* Run the cases the command line selects; main's exit status. */
static int
wt__run_suite(const struct wt__suite *s, int argc, char **argv)
{
	int i, k = 0, planned = 0, failed = 0;
	int nofork = getenv("WT_NOFORK") != NULL;
	unsigned secs = wt__limit();

	for (i = 0; i < s->n; i++)
		planned += wt__selected(s->name(i), argc, argv);
	printf("1..%d\n", planned);
	for (i = 0; i < s->n; i++) {
		if (!wt__selected(s->name(i), argc, argv))
			continue;
		k++;
		if (!nofork) {
			failed += wt__one(s, i, k, secs);
			continue;
		}
		/* In this process: a failure ends the program. */
		setenv("CMOCKA_TEST_ABORT", "1", 1);
		fflush(stdout);
		s->run(i);
		printf("ok %d - %s\n", k, s->name(i));
	}
	fflush(stdout);
	return failed > 0;
}

/* ---- The cases WT_CASE and WT_TEST registered ----------------------------- */

static struct wt_case *
wt__case(int i)
{
	struct wt_case *c = wt__cases;

	while (i-- > 0)
		c = c->next;
	return c;
}

static const char *
wt__case_name(int i)
{
	return wt__case(i)->name;
}

static void
wt__case_body(void *arg)
{
	((struct wt_case *)arg)->fn();
}

static void
wt__case_run(int i)
{
	struct wt_case *c = wt__case(i);

	if (c->fiber)
		wt_run(wt__case_body, c);
	else
		c->fn();
}

/* Run the program's cases (those argv names, if any): main's result. */
static WT_UNUSED int
wt_run_cases(int argc, char **argv)
{
	struct wt__suite s = { 0, wt__case_name, wt__case_run };
	struct wt_case *c;

	for (c = wt__cases; c != NULL; c = c->next)
		s.n++;
	return wt__run_suite(&s, argc, argv);
}

/* ---- A table of cmocka tests ---------------------------------------------- */

static const struct CMUnitTest *wt__table;
static void *wt__group_state;

static const char *
wt__table_name(int i)
{
	return wt__table[i].name;
}

static void
wt__table_run(int i)
{
	const struct CMUnitTest *t = &wt__table[i];
	void *state = t->initial_state;

	/* As cmocka: a test with no state of its own gets the group's. */
	if (state == NULL)
		state = wt__group_state;

	if (t->setup_func != NULL && t->setup_func(&state) != 0)
		fail_msg("%s: setup failed", t->name);
	t->test_func(&state);
	if (t->teardown_func != NULL && t->teardown_func(&state) != 0)
		fail_msg("%s: teardown failed", t->name);
}

/* cmocka_run_group_tests, each test in a process of its own. */
static WT_UNUSED int
wt__run_group(const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
    CMFixtureFunction teardown)
{
	struct wt__suite s = { (int)n, wt__table_name, wt__table_run };
	int rc;

	if (setup != NULL && setup(&wt__group_state) != 0) {
		printf("1..0 # SKIP group setup failed\n");
		return 1;
	}
	wt__table = tests;
	rc = wt__run_suite(&s, 0, NULL);
	if (teardown != NULL && teardown(&wt__group_state) != 0)
		rc = 1;
	return rc;
}

#undef cmocka_run_group_tests
#define cmocka_run_group_tests(tests, setup, teardown)                         \
	wt__run_group((tests), sizeof(tests) / sizeof((tests)[0]), (setup),    \
	    (teardown))

#endif /* WEFT_TEST_HARNESS_H */
