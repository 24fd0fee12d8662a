/*
 * Test plugin "cxx-plugin": a C++17 plugin, built with -Wall -Wextra
 * -Werror -std=c++17, so WEFT_PLUGIN must be valid C++17 without
 * warnings.  It echoes what it reads; when a read fails, it logs the
 * error's name ("cxx-plugin: read: NAME"), which tells test_weftd.py what
 * a handler's wait gets when shutdown_timeout passes.
 */
#include <string>

#include <weft/errors.h>
#include <weft/plugin.h>
#include <weft/stream.h>

namespace {

void
echo(weft_reader_t *r, weft_writer_t *w, void *state)
{
	std::string buf(4096, '\0');
	ssize_t n;

	(void)state;
	while ((n = weft_read(r, &buf[0], buf.size())) > 0) {
		if (weft_write(w, buf.data(), static_cast<size_t>(n)) != 0 ||
		    weft_drain(w) != 0)
			return;
	}
	if (n < 0)
		weft_log(WEFT_LOG_INFO, "cxx-plugin: read: %s",
		    weft_err_name(static_cast<int>(n)));
}

} // namespace

WEFT_PLUGIN(cxx_plugin, .client_connected = echo);
