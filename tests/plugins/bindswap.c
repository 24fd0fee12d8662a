/*
 * LD_PRELOAD shim for test_weftd.py: makes deterministic the race of a
 * user who may write a UNIX listener's directory and renames a symlink
 * over the socket right after bind(2).  With WEFT_TEST_BINDSWAP set to
 * "SOCKET=TARGET", a successful bind() of the UNIX socket SOCKET is
 * followed by rename(SOCKET.swap -> SOCKET), SOCKET.swap being a fresh
 * symlink to TARGET.  Not a weft plugin; built only for `make check`.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* With _GNU_SOURCE (for RTLD_NEXT) glibc declares bind() with a
 * transparent union for its address.  Exported despite the project's
 * -fvisibility=hidden: it must interpose on libc's. */
__attribute__((visibility("default"))) int
bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	static int (*real)(int, __CONST_SOCKADDR_ARG, socklen_t);
	const struct sockaddr *sa = addr.__sockaddr__;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
	const char *spec = getenv("WEFT_TEST_BINDSWAP"), *eq;
	char sock[sizeof(sun->sun_path)], tmp[sizeof(sock) + 8];
	int rc;

	if (real == NULL)
		real = (int (*)(int, __CONST_SOCKADDR_ARG,
		    socklen_t))dlsym(RTLD_NEXT, "bind");
	rc = real(fd, addr, len);
	if (rc != 0 || spec == NULL || sa->sa_family != AF_UNIX ||
	    (eq = strchr(spec, '=')) == NULL ||
	    (size_t)(eq - spec) >= sizeof(sock))
		return rc;
	snprintf(sock, sizeof(sock), "%.*s", (int)(eq - spec), spec);
	if (strcmp(sun->sun_path, sock) != 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.swap", sock);
	unlink(tmp);
	if (symlink(eq + 1, tmp) != 0 || rename(tmp, sock) != 0)
		perror("bindswap");
	return rc;
}
