/*
 * echo: every byte a client sends comes back, until it closes its side.
 * The seed's handle_echo, looped to EOF.  No settings.
 *
 * The loop is zero-copy on the read side: weft_read_slice lends the
 * reader's own buffer and weft_write sends from it (copying only what
 * the socket does not take at once), so no byte passes through a stack
 * buffer.  weft_drain keeps a slow client from making the worker buffer
 * without bound: it waits only above the writer's high-water mark.
 */
#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/stream.h>

/* Largest slice taken per round: one pooled buffer. */
#define ECHO_CHUNK (64 * 1024)

static void
echo_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	weft_slice_t s;

	(void)state;
	while (weft_read_slice(r, ECHO_CHUNK, &s) > 0) {
		if (weft_write(w, s.base, s.len) != 0 || weft_drain(w) != 0)
			break;
	}
	/* Returning closes the connection once the echo is flushed. */
}

WEFT_PLUGIN(echo, .client_connected = echo_client);
