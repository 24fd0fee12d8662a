/*
 * TCP echo server using streams: the asyncio documentation's handle_echo
 * and start_server example in C, with handle_echo looped until EOF so one
 * connection can carry many messages (the benchmark's load).
 *
 * usage: tcp-echo-server [--lines] [-v] [--tls CERT KEY] [--host HOST]
 *			  [--port PORT] [HOST [PORT]]
 *
 * The default address is 127.0.0.1 7000; port 0 picks a free one.  Once
 * listening it prints "Serving on ADDR:PORT" for every listening socket.
 * --lines echoes line by line with readline() instead of read(); -v
 * prints what every connection sends, as the documentation's version
 * does.  --tls serves TLS (asyncio's start_server with ssl=) with the PEM
 * certificate chain CERT and its key KEY; the echo starts once the
 * handshake is done.  SIGINT or SIGTERM stops the server: it stops accepting, closes
 * the live connections, waits for their handlers and exits 0.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>
#include <weft/weft.h>

/* How long a stopping server waits for its connections to end. */
#define SHUTDOWN_TIMEOUT_MS 5000

struct echo_server {
	const char *host;
	int port;
	int lines;
	int verbose;
	const char *cert; /* --tls: the PEM chain and key */
	const char *key;
	weft_tls_ctx_t *tls;
	weft_server_t *srv;
	uv_signal_t sigint;
	uv_signal_t sigterm;
};

/* The seed's handle_echo, looped: read, write back, drain, until EOF. */
static void
handle_echo(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct echo_server *es = arg;
	weft_slice_t data;
	char peer[128];
	ssize_t n;

	if (es->verbose && weft_peername(w, peer, sizeof(peer)) < 0)
		snprintf(peer, sizeof(peer), "?");
	for (;;) {
		/* Zero-copy: the bytes go back out straight from the
		 * reader's buffer, no stack buffer needed. */
		n = weft_read_slice(r, 64 * 1024, &data);
		if (n <= 0)
			break;
		if (es->verbose) {
			printf("Received '%.*s' from %s\n", (int)n, data.base,
			    peer);
			printf("Send: '%.*s'\n", (int)n, data.base);
			fflush(stdout);
		}
		if (weft_write(w, data.base, data.len) != 0 ||
		    weft_drain(w) != 0)
			break;
	}
	if (es->verbose) {
		printf("Close the connection\n");
		fflush(stdout);
	}
	weft_close(w);
	weft_wait_closed(w);
}

/*
 * The readline echo: each line is sent back straight from the reader's
 * buffer (the slice is valid until the next call on the reader).
 */
static void
handle_lines(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct echo_server *es = arg;
	weft_slice_t line;
	int rc;

	for (;;) {
		rc = weft_readline(r, &line);
		if (rc != 0 || line.len == 0)
			break;
		if (es->verbose) {
			printf("Received line '%.*s'\n", (int)line.len,
			    line.base);
			fflush(stdout);
		}
		if (weft_write(w, line.base, line.len) != 0 ||
		    weft_drain(w) != 0)
			break;
	}
	weft_close(w);
	weft_wait_closed(w);
}

/* Print the address of every listening socket, as the seed does. */
static void
print_serving(const weft_server_t *srv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[INET6_ADDRSTRLEN];
	int fds[16], port;
	size_t i, n;

	n = weft_server_sockets(srv, fds, 16);
	if (n > 16)
		n = 16;
	printf("Serving on ");
	for (i = 0; i < n; i++) {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) != 0)
			continue;
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, host,
			    sizeof(host));
			port = ntohs(in6->sin6_port);
			printf("%s[%s]:%d", i > 0 ? ", " : "", host, port);
		} else {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
			printf("%s%s:%d", i > 0 ? ", " : "", host, port);
		}
	}
	printf("\n");
	/* Scripts wait for this line: do not leave it in a pipe buffer. */
	fflush(stdout);
}

/*
 * SIGINT/SIGTERM, delivered through libuv handles on weft's loop: close
 * the server, which makes serve_forever() return in the main fiber.
 */
static void
on_signal(uv_signal_t *h, int signum)
{
	struct echo_server *es = h->data;

	(void)signum;
	if (es->srv != NULL)
		weft_server_close(es->srv);
}

static int
signals_start(struct echo_server *es)
{
	int rc;

	uv_signal_init(weft_loop(), &es->sigint);
	uv_signal_init(weft_loop(), &es->sigterm);
	es->sigint.data = es;
	es->sigterm.data = es;
	if ((rc = uv_signal_start(&es->sigint, on_signal, SIGINT)) != 0)
		return rc;
	return uv_signal_start(&es->sigterm, on_signal, SIGTERM);
}

/* Closed handles let the loop (and so weft_run) end. */
static void
signals_stop(struct echo_server *es)
{
	uv_close((uv_handle_t *)&es->sigint, NULL);
	uv_close((uv_handle_t *)&es->sigterm, NULL);
}

/* --tls: a server context from the certificate and key files. */
static int
tls_setup(struct echo_server *es)
{
	weft_tls_cert_t cert;
	weft_tls_opts_t o;

	if (es->cert == NULL)
		return 0;
	memset(&cert, 0, sizeof(cert));
	memset(&o, 0, sizeof(o));
	cert.cert = es->cert;
	cert.key = es->key;
	o.server = 1;
	o.certs = &cert;
	o.ncerts = 1;
	if (weft_tls_ctx_new(&o, &es->tls) != 0) {
		fprintf(stderr, "tcp-echo-server: --tls: %s\n",
		    weft_tls_error(NULL));
		return -1;
	}
	return 0;
}

static int
serve(void *arg)
{
	struct echo_server *es = arg;
	weft_stream_opts_t opts;
	int rc;

	memset(&opts, 0, sizeof(opts));
	/* The anchors' servers listen with a backlog of 1024 too. */
	opts.backlog = 1024;
	if (tls_setup(es) != 0)
		return 1;
	opts.ssl = es->tls;
	rc = weft_start_server(es->lines ? handle_lines : handle_echo, es,
	    es->host, es->port, &opts, &es->srv);
	if (rc != 0) {
		fprintf(stderr, "tcp-echo-server: %s:%d: %s\n", es->host,
		    es->port, weft_strerror(rc));
		return 1;
	}
	if ((rc = signals_start(es)) != 0) {
		fprintf(stderr, "tcp-echo-server: signals: %s\n",
		    uv_strerror(rc));
		signals_stop(es);
		weft_server_free(&es->srv);
		return 1;
	}
	print_serving(es->srv);

	/* Returns once a signal has closed the server. */
	weft_server_serve_forever(es->srv);
	signals_stop(es);

	/* Stopped: end the live connections too, then wait for them. */
	weft_server_close_clients(es->srv);
	weft_deadline_set(SHUTDOWN_TIMEOUT_MS);
	rc = weft_server_wait_closed(es->srv);
	weft_deadline_clear();
	if (rc != 0) {
		fprintf(stderr,
		    "tcp-echo-server: %zu connections did not "
		    "close: %s\n",
		    weft_server_connections(es->srv), weft_strerror(rc));
		fflush(stdout);
		exit(1);
	}
	weft_server_free(&es->srv);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: tcp-echo-server [--lines] [-v] [--tls CERT KEY] "
	    "[--host HOST] [--port PORT] [HOST [PORT]]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct echo_server es;
	char *end;
	const char *port = NULL;
	int i, npos = 0, rc;

	memset(&es, 0, sizeof(es));
	es.host = "127.0.0.1";
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--lines") == 0)
			es.lines = 1;
		else if (strcmp(argv[i], "-v") == 0 ||
		    strcmp(argv[i], "--verbose") == 0)
			es.verbose = 1;
		else if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
			es.cert = argv[++i];
			es.key = argv[++i];
		} else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
			es.host = argv[++i];
		else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = argv[++i];
		else if (argv[i][0] == '-')
			usage();
		else if (npos++ == 0)
			es.host = argv[i];
		else if (npos == 2)
			port = argv[i];
		else
			usage();
	}
	es.port = 7000;
	if (port != NULL) {
		es.port = (int)strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || es.port < 0 ||
		    es.port > 65535)
			usage();
	}

	/* A peer that resets mid-write must cost an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);
	rc = weft_run(serve, &es);
	if (es.tls != NULL)
		weft_tls_ctx_free(es.tls);
	if (rc < 0) {
		fprintf(stderr, "tcp-echo-server: %s\n", weft_strerror(rc));
		return 1;
	}
	return rc;
}
