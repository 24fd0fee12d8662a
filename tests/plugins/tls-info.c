/*
 * Test plugin "tls-info" (ABI 1.2): on its first line, before reading
 * anything, the handler writes what the listener's TLS handshake
 * negotiated, through weft/tls.h, then closes:
 *
 *	version=TLSv1.3 sni=localhost alpn=h2 cert=1 der=437 subject=...
 *
 * On a plain listener it writes "plain".
 */
#include <stdio.h>
#include <string.h>

#include <weft/plugin.h>
#include <weft/stream.h>
#include <weft/tls.h>

#if !WEFT_PLUGIN_ABI_AT_LEAST(1, 2)
#error "weft/tls.h is part of the plugin ABI from 1.2"
#endif

static void
tls_info_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	weft_tls_info_t info;
	char line[512], subject[256];
	int n;

	(void)r;
	(void)state;
	memset(&info, 0, sizeof(info));
	if (weft_tls_info(w, &info, sizeof(info)) != 0) {
		weft_write(w, "plain\n", 6);
		return;
	}
	if (weft_extra_info(w, "peercert_subject", subject, sizeof(subject)) <
	    0)
		snprintf(subject, sizeof(subject), "-");
	n = snprintf(line, sizeof(line),
	    "version=%s sni=%s alpn=%s cert=%d der=%d subject=%s error=%s\n",
	    info.version, info.server_name[0] != '\0' ? info.server_name : "-",
	    info.alpn[0] != '\0' ? info.alpn : "-", info.peer_cert,
	    weft_tls_peer_cert(w, NULL, 0), subject[0] != '\0' ? subject : "-",
	    weft_tls_error(w)[0] != '\0' ? weft_tls_error(w) : "-");
	weft_write(w, line, (size_t)n);
	weft_drain(w);
}

WEFT_PLUGIN(tls_info, .client_connected = tls_info_client);
