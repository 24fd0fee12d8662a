/*
 * Get HTTP headers: the asyncio documentation's print_http_headers() in
 * C.  It sends a HEAD request and prints the response's header lines.
 *
 * usage: http-headers URL		(http[s]://HOST[:PORT][/PATH])
 *	  http-headers HOST [PORT [PATH]]
 *
 * https:// is asyncio's ssl=True: the server's certificate is checked
 * against the system trust store (SSL_CERT_FILE and SSL_CERT_DIR
 * override it) and must name HOST; a failure prints OpenSSL's reason and
 * exits 1.  Lines are read with weft_readline() until the empty line that
 * ends the headers (or EOF); each one is printed as "HTTP header> ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

struct request {
	char host[256];
	int port;
	int tls;
	const char *path;
};

static int
print_http_headers(void *arg)
{
	struct request *q = arg;
	weft_reader_t *r = NULL;
	weft_writer_t *w = NULL;
	weft_stream_opts_t opts;
	weft_slice_t line;
	char query[1024];
	size_t len;
	int n, rc;

	n = snprintf(query, sizeof(query),
	    "HEAD %s HTTP/1.0\r\nHost: %s\r\n\r\n", q->path, q->host);
	if (n < 0 || (size_t)n >= sizeof(query)) {
		fprintf(stderr, "http-headers: request too long\n");
		return 1;
	}
	memset(&opts, 0, sizeof(opts));
	if (q->tls)
		opts.ssl = WEFT_SSL_DEFAULT;
	rc = weft_open_connection(q->host, q->port, &opts, &r, &w);
	if (rc != 0) {
		/* A failed handshake leaves no writer: the thread's last TLS
		 * error says why (which check, which certificate). */
		fprintf(stderr, "http-headers: %s:%d: %s%s%s\n", q->host,
		    q->port, weft_strerror(rc),
		    *weft_tls_error(NULL) ? ": " : "", weft_tls_error(NULL));
		return 1;
	}
	if ((rc = weft_write(w, query, (size_t)n)) != 0) {
		fprintf(stderr, "http-headers: write: %s\n", weft_strerror(rc));
		weft_stream_free(w);
		return 1;
	}

	for (;;) {
		if ((rc = weft_readline(r, &line)) != 0) {
			fprintf(stderr, "http-headers: readline: %s\n",
			    weft_strerror(rc));
			break;
		}
		if (line.len == 0)
			break; /* EOF */
		/* rstrip(): drop the CRLF and any trailing blanks. */
		len = line.len;
		while (len > 0 &&
		    (line.base[len - 1] == '\n' || line.base[len - 1] == '\r' ||
			line.base[len - 1] == ' ' ||
			line.base[len - 1] == '\t'))
			len--;
		if (len == 0)
			break; /* The blank line: end of the headers. */
		printf("HTTP header> %.*s\n", (int)len, line.base);
	}

	/* Ignore the body, close the socket. */
	weft_close(w);
	weft_wait_closed(w);
	weft_stream_free(w);
	return rc != 0 ? 1 : 0;
}

/* Split http://HOST[:PORT][/PATH]; returns 0 or -1 on a bad URL. */
static int
parse_url(const char *url, struct request *q)
{
	const char *p, *hend, *colon;
	char *end;
	size_t hlen;

	if (strncmp(url, "https://", 8) == 0) {
		q->tls = 1;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		return -1;
	}
	hend = p + strcspn(p, "/");
	colon = memchr(p, ':', (size_t)(hend - p));
	hlen = (size_t)((colon != NULL ? colon : hend) - p);
	if (hlen == 0 || hlen >= sizeof(q->host))
		return -1;
	memcpy(q->host, p, hlen);
	q->host[hlen] = '\0';
	q->port = q->tls ? 443 : 80;
	if (colon != NULL) {
		q->port = (int)strtol(colon + 1, &end, 10);
		if (end != hend || q->port <= 0 || q->port > 65535)
			return -1;
	}
	q->path = *hend != '\0' ? hend : "/";
	return 0;
}

int
main(int argc, char *argv[])
{
	struct request q;
	int rc;

	memset(&q, 0, sizeof(q));
	if (argc < 2) {
		rc = parse_url("http://example.com/", &q);
	} else if (strstr(argv[1], "://") != NULL) {
		rc = parse_url(argv[1], &q);
	} else {
		rc = strlen(argv[1]) < sizeof(q.host) ? 0 : -1;
		if (rc == 0)
			memcpy(q.host, argv[1], strlen(argv[1]) + 1);
		q.port = argc > 2 ? atoi(argv[2]) : 80;
		q.path = argc > 3 ? argv[3] : "/";
		if (q.port <= 0 || q.port > 65535)
			rc = -1;
	}
	if (rc != 0) {
		fprintf(stderr,
		    "usage: http-headers http[s]://HOST[:PORT][/PATH]"
		    "\n       http-headers HOST [PORT [PATH]]\n");
		return 2;
	}
	rc = weft_run(print_http_headers, &q);
	if (rc < 0) {
		fprintf(stderr, "http-headers: %s\n", weft_strerror(rc));
		return 1;
	}
	return rc;
}
