/*
 * TCP echo client using streams: the asyncio documentation's
 * tcp_echo_client() in C.
 *
 * usage: tcp-echo-client [HOST [PORT]]	(default 127.0.0.1 7000)
 *
 * It connects, sends "Hello World!", reads up to 100 bytes of the echo and
 * closes the connection.  The straight-line body runs on weft's first
 * fiber; every call that waits (connect, read, wait_closed) parks only
 * that fiber while the libuv loop goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

struct client_args {
	const char *host;
	int port;
	const char *message;
};

static int
tcp_echo_client(void *arg)
{
	struct client_args *a = arg;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	char data[100];
	ssize_t n;
	int rc;

	rc = weft_open_connection(a->host, a->port, NULL, &r, &w);
	if (rc != 0) {
		fprintf(stderr, "tcp-echo-client: %s:%d: %s\n", a->host,
		    a->port, weft_strerror(rc));
		return 1;
	}

	printf("Send: '%s'\n", a->message);
	if ((rc = weft_write(w, a->message, strlen(a->message))) == 0)
		rc = weft_drain(w);
	if (rc != 0) {
		fprintf(stderr, "tcp-echo-client: write: %s\n",
		    weft_strerror(rc));
		weft_stream_free(w);
		return 1;
	}

	n = weft_read(r, data, sizeof(data));
	if (n < 0) {
		fprintf(stderr, "tcp-echo-client: read: %s\n",
		    weft_strerror((int)n));
		weft_stream_free(w);
		return 1;
	}
	printf("Received: '%.*s'\n", (int)n, data);

	printf("Close the connection\n");
	weft_close(w);
	rc = weft_wait_closed(w);
	weft_stream_free(w);
	if (rc != 0) {
		fprintf(stderr, "tcp-echo-client: close: %s\n",
		    weft_strerror(rc));
		return 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct client_args a;
	int rc;

	a.host = argc > 1 ? argv[1] : "127.0.0.1";
	a.port = argc > 2 ? atoi(argv[2]) : 7000;
	a.message = "Hello World!";
	if (a.port <= 0 || a.port > 65535) {
		fprintf(stderr, "usage: tcp-echo-client [HOST [PORT]]\n");
		return 2;
	}
	rc = weft_run(tcp_echo_client, &a);
	if (rc < 0) {
		fprintf(stderr, "tcp-echo-client: %s\n", weft_strerror(rc));
		return 1;
	}
	return rc;
}
