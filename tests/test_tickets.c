/*
 * weftd's TLS session ticket keys (daemon/tickets.c): made random, and
 * rotated as nginx does (previous <- current <- next, a new next) once
 * tls_ticket_rotation has passed, on a clock the test gives.
 */
#include "autoconf.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "tickets.h"

#define P WEFT_TLS_TICKET_PREV
#define C WEFT_TLS_TICKET_CUR
#define N WEFT_TLS_TICKET_NEXT

static int
same(const weft_tls_ticket_key_t *a, const weft_tls_ticket_key_t *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

WT_TEST(keys_random_and_distinct)
{
	static const weft_tls_ticket_key_t zero;
	struct tickets t, u;

	tickets_init(&t, 1000);
	tickets_init(&u, 1000);
	assert_false(same(&t.keys[P], &zero));
	assert_false(same(&t.keys[P], &t.keys[C]));
	assert_false(same(&t.keys[C], &t.keys[N]));
	assert_false(same(&t.keys[P], &t.keys[N]));
	/* Another start, other keys. */
	assert_false(same(&t.keys[C], &u.keys[C]));
	tickets_unmap(&t);
	tickets_unmap(&u);
	assert_null(t.keys);
}

WT_TEST(rotation_due_only)
{
	weft_tls_ticket_key_t old[3];
	struct tickets t;

	tickets_init(&t, 1000);
	memcpy(old, t.keys, sizeof(old));
	tickets_tick(&t, 1000 + 3599999, 3600);
	assert_memory_equal(old, t.keys, sizeof(old));
	tickets_tick(&t, 1000 + 3600000, 3600);
	assert_true(same(&t.keys[P], &old[C]));
	assert_true(same(&t.keys[C], &old[N]));
	assert_false(same(&t.keys[N], &old[N]));
	assert_false(same(&t.keys[N], &old[C]));
	/* The next one is an interval later, not at once. */
	memcpy(old, t.keys, sizeof(old));
	tickets_tick(&t, 1000 + 3600001, 3600);
	assert_memory_equal(old, t.keys, sizeof(old));
	tickets_tick(&t, 1000 + 7200000, 3600);
	assert_true(same(&t.keys[P], &old[C]));
	tickets_unmap(&t);
}

/* A worker sees the supervisor's rotation, and cannot write the keys. */
WT_TEST(shared_and_readonly_in_child)
{
	weft_tls_ticket_key_t cur;
	struct tickets t;
	int pfd[2], status;
	pid_t pid;
	char c;

	tickets_init(&t, 0);
	assert_int_equal(pipe(pfd), 0);
	memcpy(&cur, &t.keys[N], sizeof(cur));
	if ((pid = fork()) == 0) {
		tickets_readonly(&t);
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		/* Rotated by the parent meanwhile: the old next is current. */
		if (!same(&t.keys[C], &cur))
			_exit(3);
		/* A write faults (the harness may catch SIGSEGV). */
		signal(SIGSEGV, SIG_DFL);
		t.keys[C].name[0] ^= 1;
		_exit(0);
	}
	tickets_tick(&t, 1000, 1);
	assert_int_equal(write(pfd[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		print_error("status 0x%x\n", status);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	tickets_unmap(&t);
}

int
main(int argc, char **argv)
{
	WT_TIMEOUT(60);
	return wt_run_cases(argc, argv);
}
