/*
 * Test plugin: a valid descriptor named "foo", loaded under the config
 * name "wrong-name" (a config pointing at the wrong file).
 */
#include <weft/plugin.h>

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	(void)r;
	(void)w;
	(void)state;
}

WEFT_PLUGIN(foo, .client_connected = client);
