/*
 * weftd's small shared helpers: one allocation-failure policy (the x*
 * functions never return NULL; weftd stops, as tmux's xmalloc does) and
 * one way to fill a `char **cause` of fallible setup code.
 */
#ifndef WEFTD_UTIL_H
#define WEFTD_UTIL_H

#include <stddef.h>

/* Set *cause to a malloc'd message (the caller frees it), as tmux does:
 * once, for the error that ends the call.  cause may be NULL. */
void cause_set(char **cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);

#endif /* WEFTD_UTIL_H */
