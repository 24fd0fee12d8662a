/*
 * Test plugin: init refuses its settings with two messages, one tied to
 * the "port" setting and one to the plugin as a whole, and reads "port"
 * so that it is not also reported as unknown.
 */
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
	int64_t port;

	(void)state;
	port = weft_setting_int(ctx, "port", 0);
	weft_plugin_error(ctx, "port", "port %lld is reserved",
	    (long long)port);
	return weft_plugin_error(ctx, NULL, "cannot start: %s", "no database");
}

WEFT_PLUGIN(init_fails, .init = init, .client_connected = client);
