/*
 * Machine context switch.  weft__ctx_switch saves the callee-saved
 * registers (and the FP control words) of the running context on its own
 * stack, stores the stack pointer in *from_sp, loads to_sp and returns
 * into that context.  weft__ctx_make prepares a fresh stack so that the
 * first switch to it calls fn(arg).  No signal mask is touched: that is
 * what makes this ~100x faster than swapcontext().
 */
#ifndef WEFT_CTX_H
#define WEFT_CTX_H

#include <stddef.h>

typedef void (*weft__ctx_fn)(void *arg);

#if defined(__x86_64__) || defined(__aarch64__)
#define WEFT__CTX_ASM 1
void weft__ctx_switch(void **from_sp, void *to_sp);
void *weft__ctx_make(char *stack_lo, size_t size, weft__ctx_fn fn, void *arg);
/* Call fn(arg) with the stack pointer at sp (16-byte aligned). */
void weft__ctx_call(void *arg, weft__ctx_fn fn, void *sp);
#else
#define WEFT__CTX_ASM 0
#endif

#endif /* WEFT_CTX_H */
