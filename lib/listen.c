/*
 * Binding a server's listening sockets: TCP (one socket per resolved
 * address), a UNIX path, or an fd the caller bound.  The server itself,
 * accepting and its connections are server.c's.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport.h"

static int
backlog_of(const weft_stream_opts_t *opts)
{
	return opts != NULL && opts->backlog > 0 ? opts->backlog : 100;
}

static void
server_abort(weft_server_t *srv)
{
	weft_server_close(srv);
	weft_server_free(&srv);
}

int
weft_start_server(weft_client_cb cb, void *arg, const char *host, int port,
    const weft_stream_opts_t *opts, weft_server_t **out)
{
	struct addrinfo *res = NULL, *ai;
	weft_server_t *srv = NULL;
	int rc, fd, one = 1;

	if ((rc = weft__server_new(cb, arg, opts, &srv)) != 0)
		return rc;
	if ((rc = weft__resolve(host, port, 1, &res)) != 0) {
		server_abort(srv);
		return rc;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Set before bind: libuv 1.44 has no UV_TCP_REUSEPORT. */
		if (opts != NULL && opts->reuse_port &&
		    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
			sizeof(one)) != 0) {
			rc = -errno;
			close(fd);
			break;
		}
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			rc = -errno;
			close(fd);
			break;
		}
		if ((rc = weft__listener_add(srv, fd, &weft__transport_tcp,
			 backlog_of(opts))) != 0)
			break;
	}
	freeaddrinfo(res);
	if (rc == 0 && weft_server_sockets(srv, NULL, 0) == 0)
		rc = -EADDRNOTAVAIL;
	if (rc != 0) {
		server_abort(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

int
weft_start_unix_server(weft_client_cb cb, void *arg, const char *path,
    const weft_stream_opts_t *opts, weft_server_t **out)
{
	struct sockaddr_un sun;
	weft_server_t *srv = NULL;
	struct stat st;
	int rc, fd;

	if (path == NULL || path[0] == '\0' ||
	    strlen(path) >= sizeof(sun.sun_path))
		return -EINVAL;
	if ((rc = weft__server_new(cb, arg, opts, &srv)) != 0)
		return rc;
	/* A stale socket file from an earlier run is ours to remove; any
	 * other file is not, and binding would fail on it anyway. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			server_abort(srv);
			return -EADDRINUSE;
		}
		unlink(path);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		server_abort(srv);
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		rc = -errno;
		close(fd);
		server_abort(srv);
		return rc;
	}
	if (opts != NULL && opts->unix_mode != 0 &&
	    chmod(path, (mode_t)opts->unix_mode) != 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		server_abort(srv);
		return rc;
	}
	if (opts == NULL || !opts->keep_socket)
		weft__server_unlink_on_close(srv, path);
	if ((rc = weft__listener_add(srv, fd, &weft__transport_unix,
		 backlog_of(opts))) != 0) {
		server_abort(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

int
weft_start_server_fd(weft_client_cb cb, void *arg, int fd,
    const weft_stream_opts_t *opts, weft_server_t **out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	weft_server_t *srv = NULL;
	int rc;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	if ((rc = weft__server_new(cb, arg, opts, &srv)) != 0)
		return rc;
	rc = weft__listener_add(srv, fd,
	    ss.ss_family == AF_UNIX ? &weft__transport_unix
				    : &weft__transport_tcp,
	    backlog_of(opts));
	if (rc != 0) {
		server_abort(srv);
		return rc;
	}
	*out = srv;
	return 0;
}
