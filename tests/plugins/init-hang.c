/*
 * Test plugin: init never returns in time (it sleeps an hour), so a
 * weftd that loads it never gets ready: the state an upgrade's new
 * supervisor is in when the old one is told to stop.
 */
#include <unistd.h>

#include <weft/plugin.h>

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	(void)r;
	(void)w;
	(void)state;
}

static int
init(weft_plugin_ctx_t *ctx, void **state)
{
	(void)ctx;
	(void)state;
	sleep(3600);
	return 0;
}

WEFT_PLUGIN(init_hang, .init = init, .client_connected = client);
