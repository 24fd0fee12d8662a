/*
 * Not a plugin: an LD_PRELOAD shim for test_weftd.py.  It wraps dlopen so
 * that the first time something is really loaded (not an RTLD_NOLOAD
 * probe), the directory $WEFT_TEST_SWAP_DIR is renamed to "DIR.aside"
 * and $WEFT_TEST_SWAP_WITH is renamed into its place: someone who can
 * rename a directory on a plugin's path doing it between weftd's checks
 * of the plugin and its load.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void *dlopen(const char *, int) __attribute__((visibility("default")));

void *
dlopen(const char *file, int flags)
{
	static void *(*real)(const char *, int);
	static int done;
	const char *dir = getenv("WEFT_TEST_SWAP_DIR");
	const char *with = getenv("WEFT_TEST_SWAP_WITH");
	char aside[4096];

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "dlopen");
	if (!done && dir != NULL && with != NULL &&
	    (flags & RTLD_NOLOAD) == 0) {
		done = 1;
		snprintf(aside, sizeof(aside), "%s.aside", dir);
		if (rename(dir, aside) == 0)
			(void)rename(with, dir);
	}
	return real(file, flags);
}
