/*
 * Test plugin: built for an older ABI minor (OLDER_MINOR, 0 or 1, set by
 * the build), as a plugin compiled against an older weft would be: a
 * newer weftd must load it.
 */
#include <weft/plugin.h>

#ifndef OLDER_MINOR
#error "build with -DOLDER_MINOR=N"
#endif

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
	.abi_minor = OLDER_MINOR,
	.struct_size = sizeof(struct weft_plugin_desc),
	.name = "older-minor",
	.client_connected = client,
};
