/*
 * lines: a line-echo service.  Every line ('\n'-terminated) comes back as
 * it was sent.  A line longer than the listener's limit is answered with
 * "ERR line too long\n" and the connection goes on with the next line.
 * At EOF a last line without '\n' is echoed too.
 *
 * weft_readline discards an over-limit line the way CPython's readline
 * does: when the '\n' is already buffered, up to and including it;
 * otherwise only what is buffered, and the rest of that line is still to
 * come.  That rest is skipped here (up to its '\n') rather than echoed as
 * if it were a line of its own, and reported only once.
 *
 * One setting, idle_timeout (seconds, default 0 = none): a connection
 * that takes longer than that to send its next complete line (counted
 * from the connect, then from the previous line) gets "ERR idle
 * timeout\n" and is closed.  A silent client and one that trickles a
 * line byte by byte are treated alike, so neither can hold a connection
 * for ever.  The same clock covers flushing the echo, so a client that
 * stops reading is closed too (without the ERR line, which it would not
 * read): aborted, since a close would wait for the queued echo to be
 * read, for as long as the client does not.  The default is none because lines, like echo, is a dev and
 * test service whose peers may rightly sit silent (an nc session);
 * max_connections is the backstop there.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/fiber.h>
#include <weft/plugin.h>
#include <weft/stream.h>

/* The most idle_timeout accepts (weftd's own timeouts stop at a day). */
#define IDLE_TIMEOUT_MAX 86400

struct lines {
	uint64_t l_idle_ms; /* idle_timeout; 0 = none */
};

static const char too_long[] = "ERR line too long\n";
static const char idle_err[] = "ERR idle timeout\n";

static void
lines_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	const struct lines *l = state;
	weft_read_error_t info;
	weft_slice_t line;
	int rc, skipping = 0;

	for (;;) {
		/* A store, not a timer: the timer is started only if the
		 * readline or the drain below has to wait. */
		if (l->l_idle_ms != 0)
			weft_deadline_set(l->l_idle_ms);
		rc = weft_readline(r, &line);
		if (rc == WEFT_ETIMEDOUT) {
			/* Returning flushes this, then closes.  Unless the
			 * kernel would not take it: then the client does not
			 * read, and the close would wait for it to. */
			weft_write(w, idle_err, sizeof(idle_err) - 1);
			if (weft_writer_buffered(w) > 0)
				weft_abort(w);
			break;
		}
		if (rc == WEFT_ELIMIT) {
			if (!skipping &&
			    weft_write(w, too_long, sizeof(too_long) - 1) != 0)
				break;
			/* Without the '\n' in sight, part of the line is
			 * still to come: skip it when it does. */
			weft_reader_last_error(r, &info);
			skipping = !info.found;
		} else if (rc < 0 || line.len == 0) {
			break; /* an error, or EOF with nothing left */
		} else if (skipping) {
			/* The tail of an over-limit line. */
			skipping = line.base[line.len - 1] != '\n';
			continue;
		} else if (weft_write(w, line.base, line.len) != 0) {
			break;
		}
		if ((rc = weft_drain(w)) != 0) {
			/* The peer is gone, or has not read in time: then
			 * what is queued would hold the connection open. */
			if (rc == WEFT_ETIMEDOUT)
				weft_abort(w);
			break;
		}
	}
}

static int
lines_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct lines *l;
	int64_t idle;

	idle = weft_setting_ms(ctx, "idle_timeout", 0);
	if (idle > IDLE_TIMEOUT_MAX * 1000)
		return weft_plugin_error(ctx, "idle_timeout",
		    "must be from 0 (no timeout) to %g seconds, not %g",
		    (double)IDLE_TIMEOUT_MAX, (double)idle / 1000);
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	l->l_idle_ms = (uint64_t)idle;
	*state = l;
	return 0;
}

static void
lines_fini(void *state)
{
	free(state);
}

WEFT_PLUGIN(lines, .init = lines_init, .client_connected = lines_client,
    .fini = lines_fini);
