/*
 * The crash reporter: a SIGSEGV handler, on an alternate stack, that
 * names the fiber which overflowed its stack into the guard page below it
 * or crashed otherwise.  It reads the scheduler's state and calls nothing
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

/*
 * SIGSEGV on the sigaltstack.  While a fiber runs, one line names it (a
 * handler fiber carries its plugin's name): "fiber stack overflow" when
 * the address is in or just below its guard page, "crash" otherwise.  The
 * line is built on this stack and written with one write(2), so it does
 * not interleave with other processes' lines.  Then the fault is left to
 * the default action (overflow) or to the handler that was there before
 * (a crash: a sanitizer's, or the default), by returning to the faulting
 * instruction.
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
	/* A frame larger than the guard can jump past it: allow 64 KiB. */
	char *guard = f == NULL ? NULL : f->f_shared ? S.sh_map : f->f_map;

	if (guard != NULL && addr < guard + S.page &&
	    addr + 64 * 1024 >= guard) {
		cat_str(line, &n, sizeof(line),
		    "weft: fiber stack overflow in fiber '");
		cat_str(line, &n, sizeof(line), f->f_name);
		cat_str(line, &n, sizeof(line), "'\n");
		w = write(STDERR_FILENO, line, n);
		(void)w;
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
