/*
 * Test plugin: references a function no library defines.  Linked as a
 * module (undefined symbols allowed), it fails in dlopen(RTLD_NOW), which
 * is why weftd loads with RTLD_NOW: here, not in a worker later.
 */
#include <weft/plugin.h>

void weft_test_no_such_function(void);

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	(void)r;
	(void)w;
	(void)state;
	weft_test_no_such_function();
}

WEFT_PLUGIN(unresolved, .client_connected = client);
