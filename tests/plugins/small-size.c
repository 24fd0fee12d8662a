/*
 * Test plugin: a descriptor claiming to be 8 bytes, smaller than any ABI
 * 1 descriptor, as a corrupt or hand-made one might.
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
	.abi_minor = WEFT_PLUGIN_ABI_MINOR,
	.struct_size = 8,
	.name = "small-size",
	.client_connected = client,
};
