/*
 * Test plugin "cb-lines": a readline echo in callback mode
 * (WEFT_PLUGIN_CALLBACK).  No fiber, no stack: the handler only registers
 * a read callback; every complete line is echoed from it, a partial line
 * waits for the next callback (-EAGAIN), and EOF closes the connection.
 */
#include <errno.h>

#include <weft/plugin.h>
#include <weft/stream.h>

static void
on_data(weft_reader_t *r, int status, void *arg)
{
	weft_writer_t *w = arg;
	weft_slice_t line;
	int rc;

	if (status < 0)
		return; /* failed or released: nothing more to do */
	for (;;) {
		rc = weft_readline(r, &line);
		if (rc == WEFT_ELIMIT) {
			/* The long line is already discarded: go on. */
			weft_write(w, "ERR line too long\n", 18);
			continue;
		}
		if (rc != 0)
			break; /* -EAGAIN: the rest of the line is to come */
		if (line.len == 0) {
			weft_close(w); /* EOF */
			break;
		}
		weft_write(w, line.base, line.len);
	}
}

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	(void)state;
	weft_read_start(r, on_data, w);
}

WEFT_PLUGIN(cb_lines, .flags = WEFT_PLUGIN_CALLBACK,
    .client_connected = client);
