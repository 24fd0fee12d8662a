/*
 * Test plugin: init asks for "timeout" and "upstream" and, without an
 * upstream, fails without a word (-EACCES), before reading "extra".
 */
#include <errno.h>

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
	(void)state;
	(void)weft_setting_ms(ctx, "timeout", 1000);
	if (weft_setting_str(ctx, "upstream", NULL) == NULL)
		return -EACCES;
	(void)weft_setting_str(ctx, "extra", NULL);
	return 0;
}

WEFT_PLUGIN(init_silent, .init = init, .client_connected = client);
