/*
 * Test plugin "cb-echo": a byte echo in callback mode
 * (WEFT_PLUGIN_CALLBACK): no fiber, no stack per connection.  The bench
 * uses it for the callback-mode idle-memory row.
 */
#include <weft/plugin.h>
#include <weft/stream.h>

static void
on_data(weft_reader_t *r, int status, void *arg)
{
	weft_writer_t *w = arg;
	weft_slice_t s;

	if (status < 0)
		return; /* failed or released */
	while (weft_read_slice(r, 65536, &s) > 0)
		weft_write(w, s.base, s.len);
	if (weft_at_eof(r))
		weft_close(w);
}

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	(void)state;
	weft_read_start(r, on_data, w);
}

WEFT_PLUGIN(cb_echo, .flags = WEFT_PLUGIN_CALLBACK, .client_connected = client);
