/*
 * Test plugin "crash": a line echo whose handler dereferences NULL when a
 * client sends "crash\n", killing its worker with SIGSEGV.  For the
 * supervisor's tests (worker death and respawn).  Under ASan the worker
 * does not die by the signal: ASan reports the SEGV and exits with 1.
 */
#include <string.h>

#include <weft/plugin.h>
#include <weft/stream.h>

/* Read through a volatile pointer so the compiler cannot see the NULL
 * and turn the store into a trap (SIGILL instead of SIGSEGV). */
static int *volatile nowhere;

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	weft_slice_t line;

	(void)state;
	while (weft_readline(r, &line) == 0 && line.len > 0) {
		if (line.len == 6 && memcmp(line.base, "crash\n", 6) == 0)
			*nowhere = 1;
		if (weft_write(w, line.base, line.len) != 0 ||
		    weft_drain(w) != 0)
			break;
	}
}

WEFT_PLUGIN(crash, .client_connected = client);
