/*
 * The weft end of tests/test_tls_peers.py, which puts libweft's TLS
 * against other implementations: curl, openssl s_client and s_server,
 * and Python's ssl module.
 *
 * usage: tls_peer serve CERT KEY [--alpn LIST] [--http]
 *	  tls_peer connect HOST PORT CAFILE NAME LINE
 *
 * serve listens with TLS on 127.0.0.1, an ephemeral port, and prints
 * "port N".  Each connection echoes what it reads until EOF (--http:
 * reads one request's headers and answers with a fixed response), then
 * prints "done version=V alpn=A eof_clean=E read=RC" so the test sees
 * what weft negotiated and how the peer ended: RC is 0 for a clean EOF.
 * It runs until killed.
 *
 * connect opens a verifying TLS connection (CAFILE the trust store, NAME
 * the SNI and the name checked), sends LINE and a newline, and prints the
 * line that comes back as "got: ...".  A failure prints "error: ..."
 * with weft's TLS reason and exits 1.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

#define HTTP_BODY "hello over tls\n"

struct peer {
	int argc;
	char **argv;
	int http;
	weft_tls_ctx_t *ctx;
};

static void
report(weft_writer_t *w, ssize_t rc)
{
	weft_tls_info_t info;

	memset(&info, 0, sizeof(info));
	weft_tls_info(w, &info, sizeof(info));
	printf("done version=%s alpn=%s eof_clean=%d read=%zd\n",
	    info.version != NULL ? info.version : "?",
	    info.alpn != NULL && info.alpn[0] != '\0' ? info.alpn : "-",
	    info.eof_clean, rc);
	fflush(stdout);
}

static void
handle_echo(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	weft_slice_t data;
	ssize_t n;

	(void)arg;
	while ((n = weft_read_slice(r, 64 * 1024, &data)) > 0) {
		if (weft_write(w, data.base, data.len) != 0 ||
		    weft_drain(w) != 0)
			break;
	}
	report(w, n);
}

/* One request: its headers up to the blank line, then the response. */
static void
handle_http(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	static const char resp[] = "HTTP/1.0 200 OK\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 15\r\n"
				   "Connection: close\r\n"
				   "\r\n" HTTP_BODY;
	weft_slice_t head;
	int rc;

	(void)arg;
	rc = weft_readuntil(r, "\r\n\r\n", 4, &head);
	if (rc == 0)
		rc = weft_write(w, resp, sizeof(resp) - 1);
	if (rc == 0)
		rc = weft_drain(w);
	report(w, rc);
}

static int
server_ctx(struct peer *p)
{
	weft_tls_cert_t cert;
	weft_tls_opts_t o;
	int i;

	memset(&cert, 0, sizeof(cert));
	memset(&o, 0, sizeof(o));
	cert.cert = p->argv[2];
	cert.key = p->argv[3];
	o.server = 1;
	o.certs = &cert;
	o.ncerts = 1;
	for (i = 4; i < p->argc; i++) {
		if (strcmp(p->argv[i], "--alpn") == 0 && i + 1 < p->argc)
			o.alpn = p->argv[++i];
		else if (strcmp(p->argv[i], "--http") == 0)
			p->http = 1;
		else
			return -1;
	}
	if (weft_tls_ctx_new(&o, &p->ctx) != 0) {
		fprintf(stderr, "tls_peer: %s\n", weft_tls_error(NULL));
		return -1;
	}
	return 0;
}

static int
serve(struct peer *p)
{
	weft_stream_opts_t opts;
	weft_server_t *srv = NULL;
	int rc;

	if (server_ctx(p) != 0)
		return 1;
	memset(&opts, 0, sizeof(opts));
	opts.ssl = p->ctx;
	rc = weft_start_server(p->http ? handle_http : handle_echo, p,
	    "127.0.0.1", 0, &opts, &srv);
	if (rc != 0) {
		fprintf(stderr, "tls_peer: listen: %s\n", weft_strerror(rc));
		return 1;
	}
	printf("port %d\n", weft_server_port(srv));
	fflush(stdout);
	weft_server_serve_forever(srv);
	return 0;
}

static int
client(struct peer *p)
{
	weft_stream_opts_t opts;
	weft_tls_opts_t o;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_slice_t line;
	char out[512];
	int rc, n;

	memset(&o, 0, sizeof(o));
	o.ca_file = p->argv[4];
	if (weft_tls_ctx_new(&o, &p->ctx) != 0) {
		fprintf(stderr, "tls_peer: %s\n", weft_tls_error(NULL));
		return 1;
	}
	memset(&opts, 0, sizeof(opts));
	opts.ssl = p->ctx;
	opts.server_hostname = p->argv[5];
	rc = weft_open_connection(p->argv[2], atoi(p->argv[3]), &opts, &r, &w);
	if (rc != 0) {
		printf("error: %s: %s\n", weft_strerror(rc),
		    weft_tls_error(NULL));
		return 1;
	}
	n = snprintf(out, sizeof(out), "%s\n", p->argv[6]);
	if ((rc = weft_write(w, out, (size_t)n)) == 0)
		rc = weft_readline(r, &line);
	if (rc == 0)
		printf("got: %.*s", (int)line.len, line.base);
	else
		printf("error: %s: %s\n", weft_strerror(rc), weft_tls_error(w));
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	return rc == 0 ? 0 : 1;
}

static int
run(void *arg)
{
	struct peer *p = arg;

	if (strcmp(p->argv[1], "serve") == 0)
		return serve(p);
	return client(p);
}

int
main(int argc, char *argv[])
{
	struct peer p;
	int rc;

	if (argc < 4 ||
	    (strcmp(argv[1], "serve") != 0 &&
		(strcmp(argv[1], "connect") != 0 || argc != 7))) {
		fprintf(stderr,
		    "usage: tls_peer serve CERT KEY [--alpn LIST] [--http]\n"
		    "       tls_peer connect HOST PORT CAFILE NAME LINE\n");
		return 2;
	}
	memset(&p, 0, sizeof(p));
	p.argc = argc;
	p.argv = argv;
	signal(SIGPIPE, SIG_IGN);
	rc = weft_run(run, &p);
	if (p.ctx != NULL)
		weft_tls_ctx_free(p.ctx);
	fflush(stdout);
	return rc < 0 ? 1 : rc;
}
