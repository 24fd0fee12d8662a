/*
 * x86-64 System V context switch for weft fibers.
 *
 * weft__ctx_switch(void **from_sp (rdi), void *to_sp (rsi))
 * Saved frame, from the new stack pointer up:
 *   [0] MXCSR (4 bytes) + x87 control word (2 bytes, padded)
 *   [8] r15  [16] r14  [24] r13  [32] r12  [40] rbx  [48] rbp  [56] return
 * Everything else is caller-saved in the ABI and needs no saving.
 */
#if defined(__x86_64__)
	.text
	.globl	weft__ctx_switch
	.hidden	weft__ctx_switch
	.type	weft__ctx_switch, @function
	.p2align 4
weft__ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	weft__ctx_switch, .-weft__ctx_switch

/*
 * First code a new fiber runs: r12 = fn, r13 = arg (loaded by the switch
 * from the frame weft__ctx_make built).  The stack is 16-byte aligned
 * here, so the call below meets the ABI.  fn never returns.
 */
	.globl	weft__ctx_trampoline
	.hidden	weft__ctx_trampoline
	.type	weft__ctx_trampoline, @function
	.p2align 4
weft__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	weft__ctx_trampoline, .-weft__ctx_trampoline

/*
 * weft__ctx_call(void *arg (rdi), weft__ctx_fn fn (rsi), void *sp (rdx)):
 * call fn(arg) with the stack pointer at sp (16-byte aligned), then come
 * back to the caller's stack.  rbp keeps the caller's frame, so a
 * backtrace from fn goes on through the caller.
 */
	.globl	weft__ctx_call
	.hidden	weft__ctx_call
	.type	weft__ctx_call, @function
	.p2align 4
weft__ctx_call:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	movq	%rdx, %rsp
	callq	*%rsi
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa rsp, 8
	ret
	.cfi_endproc
	.size	weft__ctx_call, .-weft__ctx_call
#endif
	.section .note.GNU-stack,"",@progbits
