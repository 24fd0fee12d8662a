/*
 * Test plugin "block": a line echo whose handler calls sleep(60) when a
 * client sends "block\n", stalling its worker's loop: the mistake the
 * supervisor's heartbeat must catch (worker_timeout, SIGABRT, respawn).
 */
#include <string.h>
#include <unistd.h>

#include <weft/plugin.h>
#include <weft/stream.h>

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	weft_slice_t line;

	(void)state;
	while (weft_readline(r, &line) == 0 && line.len > 0) {
		if (line.len == 6 && memcmp(line.base, "block\n", 6) == 0)
			sleep(60); /* never do this in a handler */
		if (weft_write(w, line.base, line.len) != 0 ||
		    weft_drain(w) != 0)
			break;
	}
}

WEFT_PLUGIN(block, .client_connected = client);
