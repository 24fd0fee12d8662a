/*
 * Test plugin "marker": it calls itself "good", as a planted copy would,
 * and its ELF constructor creates the file named by $WEFT_TEST_MARKER,
 * so a test can tell whether its code ever ran.  It has no init, which
 * tells a test holding a loaded plugin which of the two it got.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft/plugin.h>
#include <weft/stream.h>

__attribute__((constructor)) static void
marker_mark(void)
{
	const char *path = getenv("WEFT_TEST_MARKER");
	int fd;

	if (path != NULL &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0)
		close(fd);
}

static void
marker_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	(void)r;
	(void)w;
	(void)state;
}

WEFT_PLUGIN(good, .client_connected = marker_client);
