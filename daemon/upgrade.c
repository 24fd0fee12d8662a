/*
 * Binary upgrade (upgrade.h): the old supervisor's fork and exec, and
 * the new supervisor's side of the handover.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "safepath.h"
#include "upgrade.h"
#include "util.h"
#include "worker.h"

extern char **environ;

/* The binary this process runs: its path (resolved at start), the
 * command line to run it with again, and the running image's inode. */
static char exe_path[PATH_MAX];
static char **exe_argv;
static struct stat exe_st;

/* A new supervisor's descriptors from WEFTD_UPGRADE (-1: none), and who
 * started it. */
static pid_t up_from, up_self;
static int up_ready = -1, up_ctl = -1, up_lock = -1;
static int up_took_over; /* said OK: the paths are ours */

/* ---- Start ---------------------------------------------------------------- */

/* argv0 as execvp would find it, resolved; "" if it cannot be. */
static void
find_exe(const char *argv0)
{
	char cand[PATH_MAX];
	const char *p, *path = getenv("PATH");
	size_t len;

	exe_path[0] = '\0';
	if (strchr(argv0, '/') != NULL) {
		if (realpath(argv0, exe_path) == NULL)
			exe_path[0] = '\0';
		return;
	}
	for (p = path != NULL ? path : "/usr/sbin:/usr/bin"; *p != '\0';
	     p += len + (p[len] == ':')) {
		len = strcspn(p, ":");
		if (snprintf(cand, sizeof(cand), "%.*s/%s", (int)len, p,
			argv0) >= (int)sizeof(cand) ||
		    access(cand, X_OK) != 0)
			continue;
		if (realpath(cand, exe_path) == NULL)
			exe_path[0] = '\0';
		return;
	}
}

/* A new supervisor that exits before it said ready says so (fatal
 * errors end it through exit()). */
static void
child_atexit(void)
{
	if (getpid() == up_self)
		upgrade_child_fail("it exited during start-up (see the log)");
}

static void
take_env(void)
{
	const char *e = getenv("WEFTD_UPGRADE");
	long from;
	int fds[3], i;

	if (e == NULL)
		return;
	if (sscanf(e, "pid=%ld ready=%d ctl=%d lock=%d", &from, &fds[0],
		&fds[1], &fds[2]) == 4 &&
	    from > 0) {
		up_from = (pid_t)from;
		up_self = getpid();
		/* Not for the workers, nor for a binary this one runs. */
		for (i = 0; i < 3; i++)
			if (fds[i] >= 0 &&
			    fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0)
				fds[i] = -1;
		up_ready = fds[0];
		up_ctl = fds[1];
		up_lock = fds[2];
		atexit(child_atexit);
	}
	unsetenv("WEFTD_UPGRADE");
}

void
upgrade_record(int argc, char **argv)
{
	int i;

	if (argc > 0)
		find_exe(argv[0]);
	/* A copy of the array: getopt reorders argv. */
	exe_argv = xcalloc((size_t)argc + 1, sizeof(char *));
	for (i = 0; i < argc; i++)
		exe_argv[i] = argv[i];
	if (stat("/proc/self/exe", &exe_st) != 0)
		memset(&exe_st, 0, sizeof(exe_st));
	take_env();
}

/* ---- The old supervisor: exec ----------------------------------------- */

/*
 * The binary, opened for fexecve: what root (or the service user) runs
 * must be a file nobody else can change, in directories nobody else can
 * change (safepath.h), checked through the fd that is executed.
 */
static int
exe_open(char **cause)
{
	const char *base;
	struct stat st;
	int dirfd, fd;

	if (exe_path[0] == '\0') {
		cause_set(cause, "the path weftd was started from is unknown");
		return -1;
	}
	if ((dirfd = safepath_parent(exe_path, (uid_t)-1, &base, cause)) < 0)
		return -1;
	fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dirfd);
	if (fd < 0) {
		cause_set(cause, "%s: %s", exe_path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_mode & S_IXUSR) == 0) {
		cause_set(cause,
		    "%s: not an executable regular file of root or of this "
		    "user, writable by nobody else (refused)",
		    exe_path);
		close(fd);
		return -1;
	}
	return fd;
}

/* The sockets to pass, with a name each: "weftd~SLOT~U~KEY", SLOT -1
 * for a shared socket, U 1 if the path is ours to remove, ':' and '%'
 * of the key %-escaped (':' separates the names). */
struct passed {
	int *fds;
	char *names; /* joined with ':' */
	int n;
};

static void
name_add(FILE *fp, int first, int slot, int own, const char *key)
{
	const char *p;

	fprintf(fp, "%sweftd~%d~%d~", first ? "" : ":", slot, own);
	for (p = key; *p != '\0'; p++) {
		if (*p == ':' || *p == '%')
			fprintf(fp, "%%%02x", (unsigned char)*p);
		else
			fputc(*p, fp);
	}
}

static void
passed_collect(const struct lset *cur, struct passed *P)
{
	const struct lsock *s;
	size_t i, size = 0, max = 0;
	FILE *fp;
	int k;

	for (i = 0; cur->ls != NULL && i < cur->nls; i++)
		max += 1 + (size_t)cur->ls[i].nslot_fds;
	P->fds = xcalloc(max + 1, sizeof(int));
	P->n = 0;
	P->names = NULL;
	if ((fp = open_memstream(&P->names, &size)) == NULL)
		fatal("open_memstream");
	for (i = 0; cur->ls != NULL && i < cur->nls; i++) {
		s = &cur->ls[i];
		if (s->key[0] == '\0')
			continue;
		if (s->fd >= 0) {
			name_add(fp, P->n == 0, -1, s->unlink_path != NULL,
			    s->key);
			P->fds[P->n++] = s->fd;
		}
		for (k = 0; k < s->nslot_fds; k++)
			if (s->slot_fds[k] >= 0) {
				name_add(fp, P->n == 0, k, 0, s->key);
				P->fds[P->n++] = s->slot_fds[k];
			}
	}
	fclose(fp);
}

static void
fds_close_from(unsigned int lo)
{
	long max;
	unsigned int fd;

#ifdef HAVE_CLOSE_RANGE
	if (close_range(lo, ~0U, 0) == 0)
		return;
#endif
	if ((max = sysconf(_SC_OPEN_MAX)) < 0)
		max = 65536;
	for (fd = lo; fd < (unsigned long)max; fd++)
		close((int)fd);
}

/*
 * In the child: the passed fds go to 3, 4, ... (listeners, then the
 * pipe, the control socket and the lock), the binary's fd after them
 * (close-on-exec), everything else is closed.  Returns the binary's fd.
 */
static int
child_fds(const struct passed *P, int extra[3], int exefd)
{
	int n = P->n + 3, *tmp = xcalloc((size_t)n + 1, sizeof(int));
	int i, base = 3 + n + 1, at = 3;

	for (i = 0; i < n; i++) {
		int fd = i < P->n ? P->fds[i] : extra[i - P->n];

		tmp[i] = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, base) : -1;
	}
	tmp[n] = fcntl(exefd, F_DUPFD_CLOEXEC, base);
	for (i = 0; i < n; i++) {
		if (i >= P->n)
			extra[i - P->n] = tmp[i] >= 0 ? at : -1;
		if (tmp[i] >= 0 && dup2(tmp[i], at++) < 0)
			_exit(127);
	}
	if (tmp[n] < 0 || dup3(tmp[n], at, O_CLOEXEC) < 0)
		_exit(127);
	fds_close_from((unsigned int)at + 1);
	return at;
}

static void __attribute__((noreturn))
child_exec(const struct passed *P, int ready, int ctl, int lock, int exefd,
    const sigset_t *mask, pid_t old_pid)
{
	char buf[128];
	int extra[3] = { ready, ctl, lock }, sig;

	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	exefd = child_fds(P, extra, exefd);
	snprintf(buf, sizeof(buf), "%d", P->n);
	setenv("LISTEN_FDS", buf, 1);
	snprintf(buf, sizeof(buf), "%ld", (long)getpid());
	setenv("LISTEN_PID", buf, 1);
	if (getenv("WATCHDOG_USEC") != NULL)
		setenv("WATCHDOG_PID", buf, 1);
	setenv("LISTEN_FDNAMES", P->names != NULL ? P->names : "", 1);
	snprintf(buf, sizeof(buf), "pid=%ld ready=%d ctl=%d lock=%d",
	    (long)old_pid, extra[0], extra[1], extra[2]);
	setenv("WEFTD_UPGRADE", buf, 1);
	sigprocmask(SIG_SETMASK, mask, NULL);
	fexecve(exefd, exe_argv, environ);
	dprintf(extra[0], "ERR cannot run %s: %s", exe_path, strerror(errno));
	_exit(127);
}

/*
 * Fork the new supervisor as a grandchild (upgrade.h says why): the
 * child in between reports its pid on pidfd and exits at once.  Returns
 * the new supervisor's pid, or -1 with errno.
 */
static pid_t
fork_twice(const struct passed *P, int ready, int ctl, int lock, int exefd)
{
	sigset_t all, old;
	int pp[2], st, saved;
	pid_t pid, mid, self = getpid();

	if (pipe2(pp, O_CLOEXEC) != 0)
		return -1;
	/* No handler of ours may run in the children (it would write to
	 * our self-pipe) before they have reset them. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((mid = fork()) == 0) {
		close(pp[0]);
		if ((pid = fork()) == 0)
			child_exec(P, ready, ctl, lock, exefd, &old, self);
		(void)!write(pp[1], &pid, sizeof(pid));
		_exit(0);
	}
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(pp[1]);
	pid = -1;
	if (mid > 0) {
		if (read(pp[0], &pid, sizeof(pid)) != sizeof(pid))
			pid = -1;
		saved = EAGAIN;
		while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
			;
	}
	close(pp[0]);
	errno = saved;
	return pid;
}

int
upgrade_start(struct upgrade *U, const struct lset *cur, int ctl_fd,
    int lock_fd, char **cause)
{
	struct passed P;
	int exefd, pfd[2];
	pid_t pid;

	if ((exefd = exe_open(cause)) < 0)
		return -1;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		cause_set(cause, "pipe: %s", strerror(errno));
		close(exefd);
		return -1;
	}
	passed_collect(cur, &P);
	pid = fork_twice(&P, pfd[1], ctl_fd, lock_fd, exefd);
	if (pid < 0)
		cause_set(cause, "fork: %s", strerror(errno));
	close(pfd[1]);
	close(exefd);
	free(P.fds);
	free(P.names);
	if (pid < 0) {
		close(pfd[0]);
		return -1;
	}
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	memset(U, 0, sizeof(*U));
	U->pid = pid;
	U->fd = pfd[0];
	U->deadline = weftd_now_ms() + UPGRADE_TIMEOUT_MS;
	log_info("upgrade: started %s as pid %ld", exe_path, (long)pid);
	return 0;
}

/* ---- The old supervisor: the answer ----------------------------------- */

/* Read what the new one wrote: 1 at EOF, 0 if more may come. */
static int
reply_read(struct upgrade *U)
{
	ssize_t n = 0;

	while (U->rlen < sizeof(U->reply) - 1 &&
	    (n = read(U->fd, U->reply + U->rlen,
		 sizeof(U->reply) - 1 - U->rlen)) > 0)
		U->rlen += (size_t)n;
	U->reply[U->rlen] = '\0';
	if (U->rlen == sizeof(U->reply) - 1)
		return 1;
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/* The upgrade failed: the new supervisor goes (its reaper reaps it),
 * msg says why. */
static enum upgrade_state
failed(struct upgrade *U, char *msg, size_t size, const char *what)
{
	const char *r = U->reply;

	if (strncmp(r, "ERR ", 4) == 0)
		r += 4;
	snprintf(msg, size, "new weftd (pid %ld) %s%s%s", (long)U->pid, what,
	    r[0] != '\0' ? ": " : "", r);
	kill(U->pid, SIGKILL);
	close(U->fd);
	U->fd = -1;
	U->pid = 0;
	return UPGRADE_FAILED;
}

enum upgrade_state
upgrade_check(struct upgrade *U, uint64_t now, char *msg, size_t size)
{
	int eof;

	if (U->pid == 0)
		return UPGRADE_RUNNING;
	eof = reply_read(U);
	if (strncmp(U->reply, "OK", 2) == 0) {
		snprintf(msg, size, "new weftd (pid %ld) ready", (long)U->pid);
		close(U->fd);
		U->fd = -1;
		U->pid = 0;
		return UPGRADE_DONE;
	}
	if (eof)
		return failed(U, msg, size, "exited before it was ready");
	if (now >= U->deadline)
		return failed(U, msg, size, "was not ready in time");
	return UPGRADE_RUNNING;
}

int
upgrade_cancel(struct upgrade *U)
{
	char msg[64];

	if (U->pid == 0)
		return 0;
	failed(U, msg, sizeof(msg), "cancelled");
	return 1;
}

/* ---- The new supervisor ------------------------------------------------ */

pid_t
upgrade_child_pending(void)
{
	return up_took_over ? 0 : up_from;
}

int
upgrade_child_ctl(void)
{
	return up_ctl;
}

int
upgrade_child_lock(void)
{
	char buf[32];
	int len;

	if (up_lock < 0)
		return -1;
	/* The same open file as the old supervisor's: its lock is ours,
	 * and stays when the old one exits. */
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (flock(up_lock, LOCK_EX | LOCK_NB) != 0 ||
	    ftruncate(up_lock, 0) != 0 ||
	    pwrite(up_lock, buf, (size_t)len, 0) != len)
		log_warn("upgrade: the lock file");
	return up_lock;
}

void
upgrade_child_ready(void)
{
	if (up_ready < 0)
		return;
	(void)!write(up_ready, "OK\n", 3);
	close(up_ready);
	up_ready = -1;
	up_took_over = 1;
	log_info("upgrade: ready, taking over from pid %ld", (long)up_from);
}

void
upgrade_child_fail(const char *why)
{
	if (up_ready < 0)
		return;
	(void)!dprintf(up_ready, "ERR %s", why);
	close(up_ready);
	up_ready = -1;
}

/* Parse one passed name into slot, own and key; 0 if it is one. */
static int
name_parse(const char *name, int *slot, int *own, char *key, size_t size)
{
	const char *p;
	unsigned int ch;
	size_t n = 0;
	int used = 0;

	if (sscanf(name, "weftd~%d~%d~%n", slot, own, &used) != 2 || used == 0)
		return -1;
	for (p = name + used; *p != '\0' && n < size - 1; p++) {
		if (*p == '%' && sscanf(p + 1, "%2x", &ch) == 1) {
			key[n++] = (char)ch;
			p += 2;
		} else
			key[n++] = *p;
	}
	key[n] = '\0';
	return 0;
}

/* The lsock of set s with this key, added if there is none. */
static struct lsock *
lsock_get(struct lset *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nls; i++)
		if (strcmp(s->ls[i].key, key) == 0)
			return &s->ls[i];
	s->ls[s->nls].fd = -1;
	snprintf(s->ls[s->nls].key, sizeof(s->ls[s->nls].key), "%s", key);
	return &s->ls[s->nls++];
}

/* Put fd into o: its shared socket, or slot's; own: its path too. */
static void
lsock_put(struct lsock *o, int fd, int slot, int own)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	int k;

	if (slot < 0) {
		o->fd = fd;
		memset(&sun, 0, sizeof(sun));
		if (own &&
		    getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
		    sun.sun_family == AF_UNIX && sun.sun_path[0] != '\0')
			o->unlink_path = xstrdup(sun.sun_path);
		return;
	}
	if (slot >= o->nslot_fds) {
		o->slot_fds = realloc(o->slot_fds,
		    ((size_t)slot + 1) * sizeof(int));
		if (o->slot_fds == NULL)
			fatal("realloc");
		for (k = o->nslot_fds; k <= slot; k++)
			o->slot_fds[k] = -1;
		o->nslot_fds = slot + 1;
	}
	o->slot_fds[slot] = fd;
}

void
upgrade_child_take(struct listeners *L)
{
	struct lset *s;
	char key[256];
	int k, slot, own;

	if (up_from == 0 || L->nact == 0)
		return;
	s = xcalloc(1, sizeof(*s));
	s->ls = xcalloc((size_t)L->nact, sizeof(*s->ls));
	for (k = 0; k < L->nact; k++) {
		if (name_parse(L->act_names[k], &slot, &own, key,
			sizeof(key)) != 0) {
			log_warnx("upgrade: socket %d (%s) is not weftd's, "
				  "closed",
			    L->act_fds[k], L->act_names[k]);
			close(L->act_fds[k]);
		} else
			lsock_put(lsock_get(s, key), L->act_fds[k], slot, own);
		free(L->act_names[k]);
	}
	free(L->act_fds);
	free(L->act_names);
	free(L->act_used);
	L->act_fds = NULL;
	L->act_names = NULL;
	L->act_used = NULL;
	L->nact = 0;
	L->inherited = s;
}

void
upgrade_child_release(struct listeners *L)
{
	struct lset *s = L->inherited;
	size_t i;

	if (s == NULL)
		return;
	/* What the first generation took it holds dups of; a socket it did
	 * not take (its listener left the file) is closed, but its path
	 * stays: the old supervisor serves on it until it has drained. */
	for (i = 0; i < s->nls; i++) {
		free(s->ls[i].unlink_path);
		s->ls[i].unlink_path = NULL;
	}
	L->inherited = NULL;
	lset_close(L, s);
	free(s->ls);
	free(s);
}

void
upgrade_status(FILE *fp)
{
	struct stat st;

	fprintf(fp, "binary %s, inode %llu", exe_path[0] ? exe_path : "?",
	    (unsigned long long)exe_st.st_ino);
	if (exe_path[0] != '\0' && stat(exe_path, &st) == 0 &&
	    (st.st_ino != exe_st.st_ino || st.st_dev != exe_st.st_dev))
		fprintf(fp, " (on disk now: inode %llu, not running yet)",
		    (unsigned long long)st.st_ino);
	if (up_from != 0)
		fprintf(fp, ", upgraded from pid %ld", (long)up_from);
	fputc('\n', fp);
}
