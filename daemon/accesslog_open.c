/*
 * The supervisor's half of the access log: opening each listener's
 * target with root's rights and the log file's care, and handing the
 * files a SIGUSR1 reopened to a worker over its report socket.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "accesslog.h"
#include "log.h"
#include "procs.h"
#include "safepath.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define MAX_SEND 64 /* files per reopen message */

static uid_t
service_uid(const struct conf *c)
{
	struct passwd *pw = c->user != NULL ? getpwnam(c->user) : NULL;

	return pw != NULL ? pw->pw_uid : (uid_t)-1;
}

/* As the log file is opened (safepath.h), a FIFO too; O_NONBLOCK stays:
 * a FIFO's writes must not wait for its reader. */
static int
open_file(const char *path, uid_t owner)
{
	char *cause = NULL;
	int fd;

	fd = safepath_open_append(path, owner,
	    SAFEPATH_FIFO | SAFEPATH_NONBLOCK, &cause);
	if (fd < 0) {
		log_warnx("access log %s", cause);
		free(cause);
	}
	return fd;
}

/*
 * Our stderr, without blocking: a pipe or terminal is opened again
 * (a description of its own, made non-blocking); a regular file or a
 * socket (the journal's stream) is written through fd 2 itself, which
 * then follows --log-file's reopen: -2 says so.
 */
static int
open_stderr(void)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) != 0 || S_ISREG(st.st_mode) ||
	    S_ISSOCK(st.st_mode))
		return -2;
	return open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
}

static int
open_journal(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, JOURNAL_SOCKET, sizeof(JOURNAL_SOCKET));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		log_warn("access log: journal (%s)", JOURNAL_SOCKET);
		close(fd);
		fd = -1;
	}
	return fd;
}

void
alog_open(const struct conf *c, int *fds)
{
	uid_t owner = (uid_t)-2;
	const char *t;
	size_t i;

	for (i = 0; i < c->nlisteners; i++) {
		fds[i] = -1;
		if ((t = c->listeners[i].access_log) == NULL)
			continue;
		if (strcmp(t, "stderr") == 0)
			fds[i] = open_stderr();
		else if (strcmp(t, "journal") == 0)
			fds[i] = open_journal();
		else {
			if (owner == (uid_t)-2)
				owner = service_uid(c);
			fds[i] = open_file(t, owner);
		}
	}
}

int
alog_files(const struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].access_log != NULL &&
		    c->listeners[i].access_log[0] == '/')
			return 1;
	return 0;
}

void
alog_close(const struct conf *c, int *fds)
{
	size_t i;

	for (i = 0; i < c->nlisteners; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void
send_fds(int sock, const unsigned short *idx, const int *fds, size_t n)
{
	char msg[1 + MAX_SEND * sizeof(unsigned short)];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(MAX_SEND * sizeof(int))];
	} cm;
	struct msghdr mh;
	struct iovec iov;

	msg[0] = ALOG_MSG_REOPEN;
	memcpy(msg + 1, idx, n * sizeof(*idx));
	iov.iov_base = msg;
	iov.iov_len = 1 + n * sizeof(*idx);
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(&cm.h), fds, n * sizeof(int));
	/* A worker too busy to take it keeps its old files. */
	if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_warn("access log: cannot hand reopened files to a worker");
}

void
alog_send_reopened(const struct conf *c, int sock)
{
	unsigned short idx[MAX_SEND];
	int fds[MAX_SEND];
	uid_t owner = (uid_t)-2;
	const char *t;
	size_t i, n = 0;

	for (i = 0; i < c->nlisteners && n < MAX_SEND; i++) {
		t = c->listeners[i].access_log;
		if (t == NULL || t[0] != '/')
			continue;
		if (owner == (uid_t)-2)
			owner = service_uid(c);
		if ((fds[n] = open_file(t, owner)) < 0)
			continue;
		idx[n++] = (unsigned short)i;
	}
	if (n > 0 && sock >= 0)
		send_fds(sock, idx, fds, n);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

void
alog_reopen_all(struct procs *pt)
{
	struct proc *p;
	size_t i;

	for (i = 0; i < MAX_PROCS; i++) {
		p = &pt->v[i];
		if (p->pid > 0 && p->pipe >= 0 && p->gen != NULL)
			alog_send_reopened(p->gen->conf, p->pipe);
	}
}
