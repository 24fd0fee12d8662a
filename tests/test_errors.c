/*
 * lib/errors.c: weft_err_name() and weft_strerror() name every code,
 * including -errno values libuv has no name for, and never allocate
 * (a caller may log them on any path, as often as it likes).
 * Allocation is measured with glibc's mallinfo2(): the bytes in use
 * before and after many calls must be the same.
 */
#include "autoconf.h"

#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include <weft/errors.h>

#include "harness.h"

/* Codes libuv's error map leaves out, and a few it has. */
static const int unnamed[] = { -EDOM, -ECHILD, -ENOLCK, -EL2HLT, -4095, -4000 };
static const int named[] = { -ECONNRESET, -EAGAIN, WEFT_ECANCELED, 0,
	UV_EAI_NONAME, UV_EOF };

static size_t
in_use(void)
{
	return mallinfo2().uordblks;
}

static void
call_all(int rounds)
{
	size_t i;
	int n;

	for (n = 0; n < rounds; n++) {
		for (i = 0; i < sizeof(unnamed) / sizeof(unnamed[0]); i++) {
			assert_non_null(weft_err_name(unnamed[i]));
			assert_non_null(weft_strerror(unnamed[i]));
		}
		for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
			assert_non_null(weft_err_name(named[i]));
			assert_non_null(weft_strerror(named[i]));
		}
	}
}

WT_TEST(err_name_unnamed_errno)
{
#ifdef HAVE_STRERRORNAME_NP
	assert_string_equal(weft_err_name(-EDOM), "EDOM");
	assert_string_equal(weft_err_name(-ECHILD), "ECHILD");
#else
	assert_string_equal(weft_err_name(-EDOM), "UNKNOWN");
#endif
	assert_string_equal(weft_err_name(-ECONNRESET), "ECONNRESET");
	assert_string_equal(weft_err_name(WEFT_ECANCELED), "WEFT_ECANCELED");
	assert_string_equal(weft_err_name(0), "OK");
	/* A code no table knows gets a fixed text, the same every time. */
	assert_string_equal(weft_err_name(-4000), "UNKNOWN");
	assert_string_equal(weft_err_name(12345), "UNKNOWN");
	assert_string_equal(weft_strerror(-EDOM), strerror(EDOM));
#ifdef HAVE_STRERRORDESC_NP
	assert_string_equal(weft_strerror(-4000), "unknown error");
#endif
	assert_string_equal(weft_strerror(12345), "unknown error");
}

/* getaddrinfo's codes and UV_EOF are libuv's, not errnos: their text is
 * libuv's (open_connection reports an unknown host with it). */
WT_TEST(strerror_libuv_codes)
{
	assert_string_equal(weft_strerror(UV_EAI_NONAME),
	    "unknown node or service");
	assert_string_equal(weft_err_name(UV_EAI_NONAME), "EAI_NONAME");
	assert_string_equal(weft_strerror(UV_EOF), "end of file");
	assert_string_equal(weft_strerror(-ECONNRESET), strerror(ECONNRESET));
}

WT_TEST(err_name_no_allocation)
{
	size_t before;

	call_all(1); /* first-use allocations of libc's own, if any */
	before = in_use();
	call_all(1000);
	assert_int_equal(in_use(), before);
}

int
main(int argc, char **argv)
{
	return wt_run_cases(argc, argv);
}
