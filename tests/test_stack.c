/*
 * Stack overflows the guard page alone would miss: a frame far larger
 * than the guard, which -fstack-clash-protection (from WEFT_CFLAGS) must
 * probe page by page so it faults on the guard, and a fault some pages
 * below the stack, which the crash reporter names as a probable overflow.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "harness.h"

#include "fiber_int.h"

/* Volatile, so the compiler can neither drop the array nor size it. */
static volatile size_t big_len = 200 * 1024;
static volatile char sink;

/* A 200 KB local array on a 64 KiB stack, written from its low end up
 * (an unprobed frame would reach far below the guard page first). */
static __attribute__((noinline)) void
big_array(void)
{
	volatile char big[200 * 1024];
	size_t i;

	for (i = 0; i < big_len; i += 512)
		big[i] = (char)i;
	sink = big[big_len / 2];
}

/* Named first: the frame faults in big_array's prologue. */
static void
big_frame(void *arg)
{
	(void)arg;
	weft_fiber_set_name(weft_current(), "big-frame");
	big_array();
}

/* Touch an address 4 pages below the stack (3 below its guard page),
 * made inaccessible first in case another mapping sits there. */
static void
below_guard(void *arg)
{
	char *addr;

	(void)arg;
	weft_fiber_set_name(weft_current(), "below");
	addr = S.cur->f_map - 3 * S.page;
	if (mmap(addr, S.page, PROT_NONE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		_exit(2);
	*(volatile char *)addr = 1;
}

static int
spawn_main(void *arg)
{
	weft_spawn((void (*)(void *))arg, NULL, NULL);
	return 0;
}

/*
 * Run fn on a fresh 64 KiB fiber in a child process; return its wait
 * status and what it wrote to stderr in buf.
 */
static int
crash_child(void (*fn)(void *), char *buf, size_t size)
{
	int fds[2], status;
	ssize_t n, len = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		weft__sched_forget();
		weft_fiber_stack_size_set(64 * 1024);
		weft_fiber_stacks_shared(0);
		weft_run(spawn_main, (void *)fn);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + len, size - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

WT_TEST(large_frame_overflow_reported)
{
	char buf[4096];
	int status;

	status = crash_child(big_frame, buf, sizeof(buf));
	print_message("# child wrote: %s", buf);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_non_null(strstr(buf,
	    "weft: fiber stack overflow in fiber 'big-frame'"));
	assert_null(strstr(buf, "crash in fiber"));
}

WT_TEST(fault_below_guard_reported)
{
	char buf[4096], want[128];
	int status;

	status = crash_child(below_guard, buf, sizeof(buf));
	print_message("# child wrote: %s", buf);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	snprintf(want, sizeof(want),
	    "weft: fiber stack overflow in fiber 'below' "
	    "(fault %zu KiB below its stack): raise fiber_stack",
	    4 * (size_t)sysconf(_SC_PAGESIZE) / 1024);
	assert_non_null(strstr(buf, want));
	assert_null(strstr(buf, "crash in fiber"));
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
