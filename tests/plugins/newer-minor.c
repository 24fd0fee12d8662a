/*
 * Test plugin: built for ABI 1.99, a minor weftd does not have yet (it
 * may use descriptor fields this weftd would ignore).
 */
#include <weft/plugin.h>

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	(void)r;
	(void)w;
	(void)state;
}

WEFT_EXTERN const struct weft_plugin_desc weft_plugin_desc = {
	.magic = WEFT_PLUGIN_MAGIC,
	.abi_major = WEFT_PLUGIN_ABI_MAJOR,
	.abi_minor = 99,
	.struct_size = sizeof(struct weft_plugin_desc),
	.name = "newer-minor",
	.client_connected = client,
};
