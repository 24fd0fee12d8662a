/*
 * Test plugin: a shared object with no weft_plugin_desc symbol (just some
 * other exported function), as if a random library were named in the
 * config.
 */
#include <weft/version.h>

WEFT_EXTERN int not_a_weft_plugin(void);

int
not_a_weft_plugin(void)
{
	return 42;
}
