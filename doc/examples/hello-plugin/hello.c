/*
 * hello: an out-of-tree weftd plugin.  It greets each client with one
 * line, then echoes every line the client sends, until EOF or "quit".
 *
 * Settings (all optional):
 *	greeting	the first line sent (default "hello from weft");
 *			a '\n' is added
 *	max_lines	lines echoed per connection before the plugin says
 *			goodbye and closes (default 1000, at least 1)
 *
 * It is built with nothing but libweft's pkg-config file:
 *
 *	cc $(pkg-config --cflags --libs weft) -shared -fPIC -o hello.so hello.c
 *
 * See README.md beside this file and doc/plugins.md.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weft/plugin.h>
#include <weft/stream.h>

struct hello {
	const char *greeting;	/* owned by weftd, valid until after fini */
	size_t greeting_len;
	int64_t max_lines;
};

/* Once per worker: read every setting first, then validate them. */
static int
hello_init(weft_plugin_ctx_t *ctx, void **state)
{
	struct hello *h;
	const char *greeting;
	int64_t max_lines;

	greeting = weft_setting_str(ctx, "greeting", "hello from weft");
	max_lines = weft_setting_int(ctx, "max_lines", 1000);
	if (strchr(greeting, '\n') != NULL)
		return weft_plugin_error(ctx, "greeting",
		    "must be a single line");
	if (max_lines < 1)
		return weft_plugin_error(ctx, "max_lines",
		    "must be at least 1, not %lld", (long long)max_lines);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->greeting = greeting;
	h->greeting_len = strlen(greeting);
	h->max_lines = max_lines;
	*state = h;
	weft_log(WEFT_LOG_DEBUG, "hello: worker %d ready",
	    weft_plugin_worker(ctx));
	return 0;
}

/* "quit", "quit\n" or "quit\r\n". */
static int
is_quit(weft_slice_t line)
{
	size_t len = line.len;

	if (len > 0 && line.base[len - 1] == '\n')
		len--;
	if (len > 0 && line.base[len - 1] == '\r')
		len--;
	return len == 4 && memcmp(line.base, "quit", 4) == 0;
}

/*
 * One connection, on its own fiber: straight-line code.  weft_readline
 * parks this fiber only while no line is buffered; the worker goes on
 * serving every other connection meanwhile.
 */
static void
hello_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	const struct hello *h = state;
	weft_slice_t line;
	int64_t n;
	int rc;

	if (weft_write(w, h->greeting, h->greeting_len) != 0 ||
	    weft_write(w, "\n", 1) != 0 || weft_drain(w) != 0)
		return;
	for (n = 0; n < h->max_lines; n++) {
		rc = weft_readline(r, &line);
		if (rc == WEFT_ELIMIT) {
			/* Longer than the listener's limit: discarded. */
			weft_write(w, "ERR line too long\n", 18);
			continue;
		}
		if (rc != 0 || line.len == 0)
			return;		/* an error, or EOF */
		if (is_quit(line))
			break;
		/* The slice points into the reader's buffer: no copy. */
		if (weft_write(w, line.base, line.len) != 0 ||
		    weft_drain(w) != 0)
			return;		/* the client went away */
	}
	weft_write(w, "bye\n", 4);
}	/* returning flushes what was written and closes the connection */

/* Worker shutdown, after its last connection. */
static void
hello_fini(void *state)
{
	free(state);
}

WEFT_PLUGIN(hello,
    .init = hello_init,
    .client_connected = hello_client,
    .fini = hello_fini);
