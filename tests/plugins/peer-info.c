/*
 * Test plugin "peer-info": first writes one line of what the connection
 * reports, every value "-" when absent, then echoes what it reads:
 *
 *	peer=192.0.2.1:56324 sock=198.51.100.2:443 socket_peer=127.0.0.1:3456
 *	socket_sock=127.0.0.1:7000 proxy=2/PROXY alpn=h2 authority=-
 *	unique_id=- ssl_client=- ssl_version=- ssl_cn=- tls=TLSv1.3
 *
 * (one line; spaces in values become '_').  The PROXY protocol tests
 * read it.
 */
#include <stdio.h>
#include <string.h>

#include <weft/plugin.h>
#include <weft/stream.h>
#include <weft/tls.h>

static const char *const keys[][2] = {
	{ "peer", "peername" },
	{ "sock", "sockname" },
	{ "socket_peer", "socket_peername" },
	{ "socket_sock", "socket_sockname" },
	{ "proxy", "proxy_version" },
	{ "alpn", "proxy_alpn" },
	{ "authority", "proxy_authority" },
	{ "unique_id", "proxy_unique_id" },
	{ "ssl_client", "proxy_ssl_client" },
	{ "ssl_version", "proxy_ssl_version" },
	{ "ssl_cn", "proxy_ssl_cn" },
};

static void
peer_info_client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	char line[2048], v[256], cmd[16];
	weft_tls_info_t info;
	weft_slice_t s;
	size_t i, n = 0;
	ssize_t k;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (weft_extra_info(w, keys[i][1], v, sizeof(v)) < 0 ||
		    v[0] == '\0')
			snprintf(v, sizeof(v), "-");
		if (strcmp(keys[i][0], "proxy") == 0 && v[0] != '-' &&
		    weft_extra_info(w, "proxy_command", cmd, sizeof(cmd)) > 0)
			snprintf(v + strlen(v), sizeof(v) - strlen(v), "/%s",
			    cmd);
		for (k = 0; v[k] != '\0'; k++) /* one word per value */
			if (v[k] == ' ')
				v[k] = '_';
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s=%s ",
		    keys[i][0], v);
	}
	memset(&info, 0, sizeof(info));
	n += (size_t)snprintf(line + n, sizeof(line) - n, "tls=%s\n",
	    weft_tls_info(w, &info, sizeof(info)) == 0 ? info.version
						       : "plain");
	weft_write(w, line, n);
	while ((k = weft_read_slice(r, 65536, &s)) > 0) {
		weft_write(w, s.base, s.len);
		if (weft_drain(w) != 0)
			break;
	}
}

WEFT_PLUGIN(peer_info, .client_connected = peer_info_client);
