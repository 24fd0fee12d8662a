/*
 * Test plugin: a weft_plugin_desc symbol whose magic is wrong, as a
 * same-named symbol of some unrelated library would be.
 */
#include <weft/plugin.h>

WEFT_EXTERN const struct weft_plugin_desc weft_plugin_desc = {
	.magic = 0xdeadbeefu,
	.abi_major = WEFT_PLUGIN_ABI_MAJOR,
	.abi_minor = WEFT_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct weft_plugin_desc),
	.name = "bad-magic",
};
