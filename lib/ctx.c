/*
 * The first frame of a fresh context, laid out as weft__ctx_switch
 * (ctx_x86_64.S, ctx_aarch64.S) saves one, so that the first switch to it
 * returns into weft__ctx_trampoline, which calls fn(arg).
 */
#include "autoconf.h"

#include <stdint.h>
#include <string.h>

#include "ctx.h"

#if WEFT__CTX_ASM
extern void weft__ctx_trampoline(void);

void *
weft__ctx_make(char *lo, size_t size, weft__ctx_fn fn, void *arg)
{
	uintptr_t top = ((uintptr_t)(lo + size)) & ~(uintptr_t)15;
#if defined(__x86_64__)
	uint64_t *sp = (uint64_t *)top - 8;
	uint32_t mxcsr;
	uint16_t fpucw;

	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));
	sp[0] = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
	sp[1] = 0;			  /* r15 */
	sp[2] = 0;			  /* r14 */
	sp[3] = (uint64_t)(uintptr_t)arg; /* r13 */
	sp[4] = (uint64_t)(uintptr_t)fn;  /* r12 */
	sp[5] = 0;			  /* rbx */
	sp[6] = 0;			  /* rbp */
	sp[7] = (uint64_t)(uintptr_t)weft__ctx_trampoline;
	return sp;
#elif defined(__aarch64__)
	uint64_t *sp = (uint64_t *)(top - 176);
	uint64_t fpcr;

	memset(sp, 0, 176);
	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	sp[0] = (uint64_t)(uintptr_t)fn;		    /* x19 */
	sp[1] = (uint64_t)(uintptr_t)arg;		    /* x20 */
	sp[11] = (uint64_t)(uintptr_t)weft__ctx_trampoline; /* x30 */
	sp[20] = fpcr;
	return sp;
#endif
}
#endif
