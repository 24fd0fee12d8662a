/*
 * The crash reporter: a SIGSEGV handler, on an alternate stack, that
 * names the fiber which overflowed its stack into the guard page below it
 * (or a few pages past it) or crashed otherwise.  It reads the scheduler's state and calls nothing
 * of weft's: it runs in a signal handler.
 */
#include "autoconf.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiber_int.h"

static struct sigaction old_segv;
static char *altstack;

/* Append s to buf[*n..size), async-signal-safe. */
static void
cat_str(char *buf, size_t *n, size_t size, const char *s)
{
	while (*s != '\0' && *n < size - 1)
		buf[(*n)++] = *s++;
}

static void
cat_hex(char *buf, size_t *n, size_t size, uintptr_t v)
{
	char tmp[2 + 2 * sizeof(v)];
	size_t k = sizeof(tmp);

	do {
		tmp[--k] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	tmp[--k] = 'x';
	tmp[--k] = '0';
	while (k < sizeof(tmp) && *n < size - 1)
		buf[(*n)++] = tmp[k++];
}

static void
cat_dec(char *buf, size_t *n, size_t size, uintptr_t v)
{
	char tmp[3 * sizeof(v)];
	size_t k = sizeof(tmp);

	do {
		tmp[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (k < sizeof(tmp) && *n < size - 1)
		buf[(*n)++] = tmp[k++];
}

/*
 * How far below its stack a fault still counts as the fiber's overflow.
 * Built with -fstack-clash-protection, a frame touches every page on its
 * way down and so faults on the guard itself; code built without it (an
 * out-of-tree plugin compiled by hand) can jump some pages past it.
 */
#define OVERFLOW_REACH (64 * 1024)

/*
 * The overflow line: on the guard page the fiber surely overflowed;
 * below it, it probably did, and the line says by how much, so the
 * operator knows fiber_stack (weftd's setting for the size) is the fix.
 */
static void
report_overflow(weft_fiber_t *f, const char *addr, const char *guard)
{
	char line[256];
	size_t n = 0;
	ssize_t w;

	cat_str(line, &n, sizeof(line),
	    "weft: fiber stack overflow in fiber '");
	cat_str(line, &n, sizeof(line), f->f_name);
	cat_str(line, &n, sizeof(line), "'");
	if (addr < guard) {
		cat_str(line, &n, sizeof(line), " (fault ");
		cat_dec(line, &n, sizeof(line),
		    (uintptr_t)(guard + S.page - addr) / 1024);
		cat_str(line, &n, sizeof(line),
		    " KiB below its stack): raise fiber_stack");
	}
	cat_str(line, &n, sizeof(line), "\n");
	w = write(STDERR_FILENO, line, n);
	(void)w;
}

/*
 * SIGSEGV on the sigaltstack.  While a fiber runs, one line names it (a
 * handler fiber carries its plugin's name): "fiber stack overflow" when
 * the address is in its guard page or up to OVERFLOW_REACH below it,
 * "crash" otherwise.  The line is built on this stack and written with
 * one write(2), so it does not interleave with other processes' lines.
 * Then the fault is left to the default action (overflow) or to the
 * handler that was there before (a crash: a sanitizer's, or the default),
 * by returning to the faulting instruction.
 */
static void
on_segv(int sig, siginfo_t *si, void *uc)
{
	weft_fiber_t *f = S.cur;
	char *addr = si->si_addr;
	char line[256];
	size_t n = 0;
	ssize_t w;

	(void)uc;
	char *guard = f == NULL ? NULL : f->f_shared ? S.sh_map : f->f_map;

	if (guard != NULL && addr < guard + S.page &&
	    (uintptr_t)addr + OVERFLOW_REACH >= (uintptr_t)guard) {
		report_overflow(f, addr, guard);
		signal(sig, SIG_DFL);
		return;
	}
	if (f != NULL) {
		cat_str(line, &n, sizeof(line), "weft: crash in fiber '");
		cat_str(line, &n, sizeof(line), f->f_name);
		cat_str(line, &n, sizeof(line), "' (SIGSEGV at address ");
		cat_hex(line, &n, sizeof(line), (uintptr_t)addr);
		cat_str(line, &n, sizeof(line), ")\n");
		w = write(STDERR_FILENO, line, n);
		(void)w;
	}
	/* Not an overflow: let the previous handler (or the default) see
	 * it when the instruction faults again. */
	sigaction(sig, &old_segv, NULL);
}

void
weft__crash_handler_install(void)
{
	struct sigaction sa;
	stack_t ss;
	size_t sz = 64 * 1024;

	if (altstack == NULL) {
		altstack = mmap(NULL, sz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (altstack == MAP_FAILED) {
			altstack = NULL;
			return;
		}
		memset(&ss, 0, sizeof(ss));
		ss.ss_sp = altstack;
		ss.ss_size = sz;
		if (sigaltstack(&ss, NULL) != 0)
			return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
}
