/*
 * AArch64 (AAPCS64) context switch for weft fibers.
 *
 * weft__ctx_switch(void **from_sp (x0), void *to_sp (x1))
 * Saved frame (176 bytes), from the new stack pointer up:
 *   x19..x28, x29 (fp), x30 (lr), d8..d15, FPCR, pad
 */
#if defined(__aarch64__)
	.text
	.globl	weft__ctx_switch
	.hidden	weft__ctx_switch
	.type	weft__ctx_switch, %function
	.p2align 4
weft__ctx_switch:
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	mov	sp, x1
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	ret
	.size	weft__ctx_switch, .-weft__ctx_switch

/* First code of a new fiber: x19 = fn, x20 = arg.  fn never returns. */
	.globl	weft__ctx_trampoline
	.hidden	weft__ctx_trampoline
	.type	weft__ctx_trampoline, %function
	.p2align 4
weft__ctx_trampoline:
	mov	x29, #0
	mov	x30, #0
	mov	x0, x20
	blr	x19
	brk	#0
	.size	weft__ctx_trampoline, .-weft__ctx_trampoline

/* weft__ctx_call(arg (x0), fn (x1), sp (x2)): fn(arg) on the stack at sp. */
	.globl	weft__ctx_call
	.hidden	weft__ctx_call
	.type	weft__ctx_call, %function
	.p2align 4
weft__ctx_call:
	stp	x29, x30, [sp, #-16]!
	mov	x29, sp
	mov	sp, x2
	blr	x1
	mov	sp, x29
	ldp	x29, x30, [sp], #16
	ret
	.size	weft__ctx_call, .-weft__ctx_call
#endif
	.section .note.GNU-stack,"",%progbits
