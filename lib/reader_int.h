/*
 * What the reader (reader.c) and its read calls (read.c) share: the
 * bounds of the buffered bytes.
 */
#ifndef WEFT_READER_INT_H
#define WEFT_READER_INT_H

#include "internal.h"

#define LEN(r) ((r)->r_tail - (r)->r_head)
#define BASE(r) ((r)->r_buf + (r)->r_head)

#endif /* WEFT_READER_INT_H */
