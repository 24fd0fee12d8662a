/*
 * Test plugin "overflow": a line echo whose handler recurses without end
 * when a client sends "overflow\n", running off its fiber's stack into the
 * guard page.  For the fault suite (tests/stress): the worker must report
 * "fiber stack overflow in fiber 'overflow'" and be replaced.
 */
#include <string.h>

#include <weft/plugin.h>
#include <weft/stream.h>

/* Far deeper than any fiber stack; volatile, so the compiler cannot
 * prove the recursion endless (-Winfinite-recursion) or shorten it. */
static volatile int depth_max = 1 << 30;

/* Each frame holds a kilobyte the compiler cannot drop, and the call is
 * not in tail position, so every level really takes stack. */
static int
deeper(volatile int n)
{
	volatile char pad[1024];

	if (n >= depth_max)
		return 0;
	memset((char *)pad, n & 0x7f, sizeof(pad));
	return deeper(n + 1) + pad[n % sizeof(pad)];
}

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	weft_slice_t line;

	(void)state;
	while (weft_readline(r, &line) == 0 && line.len > 0) {
		if (line.len == 9 && memcmp(line.base, "overflow\n", 9) == 0)
			(void)deeper(0);
		if (weft_write(w, line.base, line.len) != 0 ||
		    weft_drain(w) != 0)
			break;
	}
}

WEFT_PLUGIN(overflow, .client_connected = client);
