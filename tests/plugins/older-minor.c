/*
 * Test plugin: built for an older ABI minor (OLDER_MINOR, 0 or 1, set by
 * the build), as a plugin compiled against an older weft would be: a
 * newer weftd must load it.
 */
#include <stdlib.h>

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

/* What a 1.1 plugin left in reserved[0] must never be called as a stop
 * hook: the loader reads .stop only from 1.3 on. */
static void
not_a_stop_hook(void *state)
{
	(void)state;
	abort();
}

WEFT_EXTERN const struct weft_plugin_desc weft_plugin_desc = {
	.magic = WEFT_PLUGIN_MAGIC,
	.abi_major = WEFT_PLUGIN_ABI_MAJOR,
	.abi_minor = OLDER_MINOR,
	.struct_size = sizeof(struct weft_plugin_desc),
	.name = "older-minor",
	.client_connected = client,
	.stop = not_a_stop_hook,
};
