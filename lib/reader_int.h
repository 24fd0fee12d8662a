/*
 * What the reader (reader.c) and its read calls (read.c) share: the
 * bounds of the buffered bytes, and the wait for more.
 */
#ifndef WEFT_READER_INT_H
#define WEFT_READER_INT_H

#include "internal.h"

#define LEN(r) ((r)->r_tail - (r)->r_head)
#define BASE(r) ((r)->r_buf + (r)->r_head)

/* Wait for bytes, EOF or an error (a fiber parks; callback mode gets
 * -EAGAIN); a paused transport is resumed first. */
int weft__reader_wait(weft_reader_t *r);

#endif /* WEFT_READER_INT_H */
