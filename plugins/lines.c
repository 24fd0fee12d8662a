/*
 * lines: a line-echo service.  Every line ('\n'-terminated) comes back as
 * it was sent.  A line longer than the listener's limit is answered with
 * "ERR line too long\n" and the connection goes on with the next line.
 * At EOF a last line without '\n' is echoed too.  No settings.
 *
 * weft_readline discards an over-limit line the way CPython's readline
 * does: when the '\n' is already buffered, up to and including it;
 * otherwise only what is buffered, and the rest of that line is still to
 * come.  That rest is skipped here (up to its '\n') rather than echoed as
 * if it were a line of its own, and reported only once.
 */
#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/stream.h>

static const char too_long[] = "ERR line too long\n";

static void
lines_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	weft_read_error_t info;
	weft_slice_t line;
	int rc, skipping = 0;

	(void)state;
	for (;;) {
		rc = weft_readline(r, &line);
		if (rc == WEFT_ELIMIT) {
			if (!skipping &&
			    weft_write(w, too_long, sizeof(too_long) - 1) != 0)
				break;
			/* Without the '\n' in sight, part of the line is
			 * still to come: skip it when it does. */
			weft_reader_last_error(r, &info);
			skipping = !info.found;
		} else if (rc < 0 || line.len == 0) {
			break;	/* an error, or EOF with nothing left */
		} else if (skipping) {
			/* The tail of an over-limit line. */
			skipping = line.base[line.len - 1] != '\n';
			continue;
		} else if (weft_write(w, line.base, line.len) != 0) {
			break;
		}
		if (weft_drain(w) != 0)
			break;
	}
}

WEFT_PLUGIN(lines,
    .client_connected = lines_client);
