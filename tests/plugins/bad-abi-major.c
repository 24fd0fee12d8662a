/*
 * Test plugin: a descriptor from a future ABI major (2).  Filled by hand,
 * as a plugin built against a newer weft/plugin.h would have it.
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
	.abi_major = 2,
	.abi_minor = 0,
	.struct_size = sizeof(struct weft_plugin_desc),
	.name = "bad-abi-major",
	.client_connected = client,
};
