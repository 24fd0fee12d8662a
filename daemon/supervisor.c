/*
 * The supervisor: binds every listener, drops privileges, forks the
 * workers that share those sockets, and keeps them alive.  It runs no
 * plugin code and no libuv loop: a poll(2) loop over a signal self-pipe
 * and the workers' report pipes is all it needs, and it keeps fork() free
 * of any inherited loop state.
 *
 * Reload (SIGHUP) builds a new generation: parse the config, run every
 * plugin's init in a throwaway probe process, bind new listeners (sockets
 * whose address did not change are handed over, so nothing queued on them
 * is lost), start the new workers, and only when all of them have
 * reported READY ask the old ones to drain.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "control.h"
#include "log.h"
#include "notify.h"
#include "weftd.h"

#define MAX_WORKERS 1024
#define MAX_PROCS (3 * MAX_WORKERS)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define HEALTHY_MS 60000     /* up this long: the slot's backoff resets */
#define BOOT_FAILURES_MAX 5  /* consecutive failed boots of a slot */
#define KILL_GRACE_MS 5000   /* SIGABRT → SIGKILL */
#define STOP_GRACE_MS 5000   /* past shutdown_timeout → SIGKILL */

/* One listening socket set of a generation. */
struct lsock {
	char key[256];	/* identity: kind, address, reuse_port */
	int fd;		/* shared socket; -1 with reuse_port */
	int *slot_fds;	/* reuse_port: one socket per worker slot */
	int nslot_fds;
	char *unlink_path; /* UNIX path to remove when the socket goes */
};

struct gen {
	int id;
	struct conf *conf;
	struct lsock *ls;
	size_t nls;
	int nslots;
	int draining;	/* old generation asked to stop */
	/* per slot */
	int *backoff_ms;
	int *boot_failures;
	uint64_t *respawn_at; /* 0 = nothing scheduled */
	int *restarts;	      /* per slot, for `weftd -s status` */
};

struct proc {
	pid_t pid;
	struct gen *gen;
	int slot;
	int pipe;	  /* read end of the report pipe, -1 once closed */
	int ready;
	int stopping;	  /* we sent TERM/KILL: its exit is expected */
	uint64_t started;
	uint64_t abort_at; /* SIGABRT sent (heartbeat), 0 = no */
};

static struct {
	const char *conffile;
	struct gen *cur;	/* serving, or being replaced */
	struct gen *next;	/* reload in progress */
	struct gen **old;	/* draining generations (grown as needed) */
	int nold;
	int old_cap;
	struct proc procs[MAX_PROCS];
	struct worker_stats *hb; /* shared stats, indexed like procs */
	int sigpipe[2];
	pid_t probe;		/* reload probe child */
	int reload_again;	/* SIGHUP during a reload: reload once more */
	struct conf *probe_conf;
	int stopping;		/* TERM/INT received */
	uint64_t stop_deadline;
	int exit_code;
	int gen_ids;
	uint64_t started;
	/* systemd */
	int ready_sent;		/* READY=1 after start or reload */
	uint64_t watchdog_ms;
	uint64_t last_watchdog;
	uint64_t last_status;
	uint64_t last_extend;
	int *act_fds;		/* socket activation: fds and names */
	char **act_names;
	int nact;
	int *act_used;
	/* "user:group" privileges were dropped to, "" if they were not */
	char run_as[512];
	/* control socket */
	const char *ctl_path;
	int ctl_fd;
	int lock_fd;		/* control_lock(), held while we run */
	uid_t ctl_uids[3];	/* may talk to it: root, starter, `user` */
	struct ctl_client {
		int fd;
		int waiting_reload;
	} ctl[16];
} S;

static void spawn(struct gen *g, int slot);
static void reload_done(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct ctl_client;
static void ctl_reply(struct ctl_client *cl, const char *text);
static void continue_reload(int status);
static void abort_reload(void);

/* ---- Signals ----------------------------------------------------------- */

static void
on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int saved = errno;

	(void)!write(S.sigpipe[1], &c, 1);
	errno = saved;
}

static void
signals_init(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
		SIGTTIN, SIGTTOU, SIGCHLD };
	struct sigaction sa;
	size_t i;

	if (pipe2(S.sigpipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* In a fresh child: back to default dispositions. */
static void
signals_reset(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
		SIGTTIN, SIGTTOU, SIGCHLD };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	close(S.sigpipe[0]);
	close(S.sigpipe[1]);
}

/* ---- Listeners ---------------------------------------------------------- */

/*
 * A listener's identity across reloads: same kind, address and
 * reuse_port means the socket is handed over.  Port 0 (an ephemeral port)
 * names no address, so such a listener keeps its socket only under the
 * same name (or, unnamed, the same position).
 */
static void
lsock_key(const struct conf_listener *l, size_t idx, char *key, size_t size)
{
	char eph[128] = "";

	if (l->kind == CONF_LISTEN_TCP && l->port == 0) {
		if (l->name != NULL && l->name[0] != '\0')
			snprintf(eph, sizeof(eph), " name=%s", l->name);
		else
			snprintf(eph, sizeof(eph), " #%zu", idx);
	}
	snprintf(key, size, "%s %s%s%s",
	    l->kind == CONF_LISTEN_UNIX ? "unix" : "tcp", l->address,
	    l->reuse_port ? " reuse_port" : "", eph);
}

static int
bind_tcp(const struct conf_listener *l, int reuse_port, char **cause)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	int fd, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", l->port);
	rc = getaddrinfo(l->host[0] != '\0' ? l->host : NULL, port, &hints,
	    &res);
	if (rc != 0) {
		if (asprintf(cause, "%s: %s", l->address, gai_strerror(rc)) < 0)
			*cause = NULL;
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Set before bind: Debian 12's libuv has no UV_TCP_REUSEPORT. */
	if (reuse_port &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, l->backlog) != 0)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	if (asprintf(cause, "%s: %s", l->address, strerror(errno)) < 0)
		*cause = NULL;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

/* "owner weft, group www-data" for messages. */
static void
owner_text(const struct conf_listener *l, uid_t uid, gid_t gid, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s", uid != (uid_t)-1 ? "owner " : "",
	    uid != (uid_t)-1 ? l->owner : "",
	    uid != (uid_t)-1 && gid != (gid_t)-1 ? ", " : "",
	    gid != (gid_t)-1 ? "group " : "", gid != (gid_t)-1 ? l->group : "");
}

/*
 * Give a UNIX listener's socket file a mode, owner and group (-1: leave
 * that one).  At startup the supervisor still runs as whoever started it,
 * root in production, so any owner works.  After dropping privileges it
 * is `user` and can only give a file to itself and to its own groups, so
 * on a reload a socket that needs another owner cannot be made: that is
 * an error, which fails the reload, and the message says why.
 *
 * The path is in a directory others may write to (the shipped runtime
 * directory is writable by the service's group), so whatever is there
 * now may have been put there in place of the socket.  Nothing is done
 * by path: an O_PATH|O_NOFOLLOW open takes what is there without
 * following a symlink, and only a socket is changed, through that fd.
 */
static int
unix_attrs(const struct conf_listener *l, int mode, uid_t uid, gid_t gid,
    char **cause)
{
	char what[600], hint[sizeof(S.run_as) + 128] = "", proc[64];
	struct stat st;
	int fd, error;

	if ((fd = open(l->path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		error = errno;
		snprintf(what, sizeof(what), "its mode or owner");
		goto fail;
	}
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		close(fd);
		if (asprintf(cause, "%s: is no longer a socket (replaced by "
		    "someone else?): not changing its mode or owner",
		    l->path) < 0)
			*cause = NULL;
		return -1;
	}
	/* fchmod() fails on an O_PATH fd and fchmodat() has no
	 * AT_EMPTY_PATH before Linux 6.6; /proc/self/fd/N names the inode
	 * the fd holds, not the path. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (mode >= 0 && chmod(proc, (mode_t)mode) != 0) {
		error = errno;
		close(fd);
		snprintf(what, sizeof(what), "mode %04o", (unsigned)mode);
		goto fail;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) {
		error = errno;
		close(fd);
		owner_text(l, uid, gid, what, sizeof(what));
		goto fail;
	}
	close(fd);
	return 0;
fail:
	if (error == EPERM && S.run_as[0] != '\0')
		snprintf(hint, sizeof(hint), " (the supervisor runs as %s since "
		    "it dropped privileges; restart weftd to apply this)",
		    S.run_as);
	else if (error == EPERM && geteuid() != 0)
		snprintf(hint, sizeof(hint), " (weftd does not run as root)");
	if (asprintf(cause, "%s: cannot set %s: %s%s", l->path, what,
	    strerror(error), hint) < 0)
		*cause = NULL;
	return -1;
}

static void
unlink_own_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}

static int
bind_unix(const struct conf_listener *l, char **cause)
{
	struct sockaddr_un sun;
	mode_t old = 0;
	int fd, rc;

	/* A socket left by an earlier run is ours to replace; a live one
	 * (another weftd's) or any other file is not. */
	if (control_clear_stale(l->path, cause) != 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", l->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* bind() creates the file 0777 & ~umask: the mode is right from
	 * the start, with no chmod by path someone could redirect between
	 * bind() and chmod() (one thread: the umask is ours alone). */
	if (l->mode >= 0)
		old = umask(~(mode_t)l->mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (l->mode >= 0)
		umask(old);
	if (rc != 0)
		goto fail;
	/* Before listen(): nobody connects while it has the wrong owner. */
	if ((l->uid != (uid_t)-1 || l->gid != (gid_t)-1) &&
	    unix_attrs(l, -1, l->uid, l->gid, cause) != 0) {
		close(fd);
		unlink(l->path);
		return -1;
	}
	if (listen(fd, l->backlog) != 0)
		goto fail;
	return fd;
fail:
	if (asprintf(cause, "%s: %s", l->path, strerror(errno)) < 0)
		*cause = NULL;
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
lsock_bind_one(const struct conf_listener *l, char **cause)
{
	if (l->kind == CONF_LISTEN_UNIX)
		return bind_unix(l, cause);
	return bind_tcp(l, l->reuse_port, cause);
}

static void
lsock_log(const struct conf_listener *l, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int port;

	if (l->kind == CONF_LISTEN_UNIX) {
		log_info("listening on unix:%s (%s)", l->path, l->plugin);
		return;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    host, sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		log_info("listening on [%s]:%d (%s)", host, port, l->plugin);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
		    sizeof(host));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		log_info("listening on %s:%d (%s)", host, port, l->plugin);
	}
}

/* Is a listener with this identity still used by a live generation? */
static int
key_in_use(const struct gen *except, const char *key)
{
	const struct gen *g;
	size_t j;
	int k;

	/* k = -2: the current generation, -1: the next, then the old. */
	for (k = -2; k < S.nold; k++) {
		g = k == -2 ? S.cur : k == -1 ? S.next : S.old[k];
		if (g == NULL || g == except || g->ls == NULL)
			continue;
		for (j = 0; j < g->nls; j++)
			if (strcmp(g->ls[j].key, key) == 0)
				return 1;
	}
	return 0;
}

static void
lsock_close(struct lsock *s)
{
	int i;

	if (s->fd >= 0)
		close(s->fd);
	for (i = 0; i < s->nslot_fds; i++)
		if (s->slot_fds[i] >= 0)
			close(s->slot_fds[i]);
	free(s->slot_fds);
	if (s->unlink_path != NULL) {
		/* After the drop the directory may be root's: say what is
		 * left behind and why (the next start replaces it). */
		if (unlink(s->unlink_path) != 0 && errno != ENOENT)
			log_notice("cannot remove socket %s: %s",
			    s->unlink_path, strerror(errno));
		free(s->unlink_path);
	}
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/*
 * The fd slot `slot` of listener i listens on, bound now if it is a
 * reuse_port socket the slot does not have yet.  -1 with *cause if that
 * bind fails.
 */
static int
lsock_fd(struct gen *g, size_t i, int slot, char **cause)
{
	struct lsock *s = &g->ls[i];
	int *nfds, k;

	if (s->fd >= 0)
		return s->fd;
	if (slot >= s->nslot_fds) {
		nfds = realloc(s->slot_fds, (size_t)(slot + 1) * sizeof(int));
		if (nfds == NULL) {
			*cause = strdup("out of memory");
			return -1;
		}
		for (k = s->nslot_fds; k <= slot; k++)
			nfds[k] = -1;
		s->slot_fds = nfds;
		s->nslot_fds = slot + 1;
	}
	if (s->slot_fds[slot] < 0)
		s->slot_fds[slot] = lsock_bind_one(&g->conf->listeners[i], cause);
	return s->slot_fds[slot];
}

/*
 * A slot that is retired (SIGTTOU, or a generation that ends) takes its
 * reuse_port sockets with it.  The kernel hashes new connections over
 * every socket of a reuse_port group that is open anywhere: one kept
 * here, with no worker behind it any more, would queue a share of them
 * where nobody accepts.  The supervisor's copy goes first, before the
 * worker is told to stop, so that the socket closes when the worker has
 * taken what is queued on it and closed its own.
 */
static void
slot_close(struct gen *g, int slot)
{
	struct lsock *s;
	size_t i;

	for (i = 0; g->ls != NULL && i < g->nls; i++) {
		s = &g->ls[i];
		if (slot < s->nslot_fds && s->slot_fds[slot] >= 0) {
			close(s->slot_fds[slot]);
			s->slot_fds[slot] = -1;
		}
	}
}

/* ---- Socket activation ------------------------------------------------ */

/* Does the activated socket fd listen on l's address? */
static int
same_address(int fd, const struct conf_listener *l)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un *un = (struct sockaddr_un *)&ss;
	socklen_t len = sizeof(ss);
	unsigned char want[16];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (l->kind == CONF_LISTEN_UNIX)
		return ss.ss_family == AF_UNIX &&
		    strcmp(un->sun_path, l->path) == 0;
	if (ss.ss_family == AF_INET) {
		if (ntohs(in->sin_port) != l->port)
			return 0;
		if (l->host[0] == '\0')
			return in->sin_addr.s_addr == htonl(INADDR_ANY);
		return inet_pton(AF_INET, l->host, want) == 1 &&
		    memcmp(&in->sin_addr, want, 4) == 0;
	}
	if (ss.ss_family == AF_INET6) {
		if (ntohs(in6->sin6_port) != l->port)
			return 0;
		if (l->host[0] == '\0')
			return IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
		return inet_pton(AF_INET6, l->host, want) == 1 &&
		    memcmp(&in6->sin6_addr, want, 16) == 0;
	}
	return 0;
}

/* The activated fd for l: by FileDescriptorName, else by address. */
static int
activated_fd(const struct conf_listener *l)
{
	int k;

	for (k = 0; k < S.nact; k++)
		if (!S.act_used[k] && l->name != NULL && l->name[0] != '\0' &&
		    strcmp(S.act_names[k], l->name) == 0) {
			S.act_used[k] = 1;
			return S.act_fds[k];
		}
	for (k = 0; k < S.nact; k++)
		if (!S.act_used[k] && S.act_names[k][0] == '\0' &&
		    same_address(S.act_fds[k], l)) {
			S.act_used[k] = 1;
			return S.act_fds[k];
		}
	for (k = 0; k < S.nact; k++)
		if (!S.act_used[k] && same_address(S.act_fds[k], l)) {
			S.act_used[k] = 1;
			return S.act_fds[k];
		}
	return -1;
}

/*
 * A reload hands over a UNIX socket whose path did not change.  If its
 * mode, owner or group changed in the file, they are applied to the
 * socket the listener keeps; one that cannot be (the supervisor no longer
 * runs as root) fails the reload rather than leaving the socket other
 * than the file says.  A key removed from the file leaves the socket as
 * it is.  Returns nonzero with *cause after a failure.
 */
static int
unix_changed(const struct conf_listener *o, const struct conf_listener *l,
    char **cause)
{
	int mode = l->mode >= 0 && l->mode != o->mode ? l->mode : -1;
	uid_t uid = l->uid != o->uid ? l->uid : (uid_t)-1;
	gid_t gid = l->gid != o->gid ? l->gid : (gid_t)-1;

	if (l->kind != CONF_LISTEN_UNIX ||
	    (mode < 0 && uid == (uid_t)-1 && gid == (gid_t)-1))
		return 0;
	return unix_attrs(l, mode, uid, gid, cause) != 0;
}

/*
 * Bind g's listeners, taking over the sockets of prev (may be NULL) whose
 * identity is unchanged.  Returns -1 with *cause on failure (g's own new
 * sockets are closed again; prev keeps its sockets, though a kept UNIX
 * socket may already have the mode, owner or group of g's file).
 */
static int
gen_bind(struct gen *g, struct gen *prev, char **cause)
{
	const struct conf_listener *l;
	size_t i, j;
	int k;

	g->nls = g->conf->nlisteners;
	g->ls = calloc(g->nls ? g->nls : 1, sizeof(*g->ls));
	if (g->ls == NULL)
		fatal("calloc");
	for (i = 0; i < g->nls; i++)
		g->ls[i].fd = -1;
	for (i = 0; i < g->nls; i++) {
		l = &g->conf->listeners[i];
		lsock_key(l, i, g->ls[i].key, sizeof(g->ls[i].key));
		for (j = 0; prev != NULL && j < prev->nls; j++)
			if (strcmp(prev->ls[j].key, g->ls[i].key) == 0)
				break;
		if (prev != NULL && j < prev->nls) {
			/* Same address: share the socket with the old
			 * generation, so its queue carries over. */
			g->ls[i].fd = prev->ls[j].fd >= 0 ? dup(prev->ls[j].fd)
							  : -1;
			if (prev->ls[j].unlink_path != NULL)
				g->ls[i].unlink_path =
				    strdup(prev->ls[j].unlink_path);
			if (g->ls[i].fd >= 0 || !l->reuse_port)
				continue;
			/* reuse_port: the slots both generations have keep
			 * their sockets; those beyond the old generation's
			 * are bound now, and those beyond the new one's are
			 * not taken (they go with the old generation). */
			g->ls[i].slot_fds = calloc((size_t)g->nslots,
			    sizeof(int));
			if (g->ls[i].slot_fds == NULL)
				fatal("calloc");
			g->ls[i].nslot_fds = g->nslots;
			for (k = 0; k < g->nslots; k++)
				g->ls[i].slot_fds[k] =
				    k < prev->ls[j].nslot_fds &&
					prev->ls[j].slot_fds[k] >= 0
				    ? dup(prev->ls[j].slot_fds[k])
				    : -1;
			for (k = 0; k < g->nslots; k++)
				if (g->ls[i].slot_fds[k] < 0) {
					if (lsock_fd(g, i, k, cause) < 0)
						goto fail;
					lsock_log(l, g->ls[i].slot_fds[k]);
				}
			continue;
		}
		if (prev == NULL && S.nact > 0 &&
		    (g->ls[i].fd = activated_fd(l)) >= 0) {
			/* systemd bound it (and owns the path). */
			log_info("using socket %d from systemd for %s",
			    g->ls[i].fd, l->address);
			lsock_log(l, g->ls[i].fd);
			continue;
		}
		if (l->reuse_port) {
			/* One SO_REUSEPORT socket per worker slot, bound now
			 * while privileges allow low ports. */
			for (k = 0; k < g->nslots; k++) {
				if (lsock_fd(g, i, k, cause) < 0)
					goto fail;
				lsock_log(l, g->ls[i].slot_fds[k]);
			}
			continue;
		}
		/* A draining generation may still listen there (the address
		 * left the file and came back): that socket is ours to
		 * replace, and its generation will not remove ours. */
		if (l->kind == CONF_LISTEN_UNIX && key_in_use(g, g->ls[i].key))
			unlink_own_socket(l->path);
		if ((g->ls[i].fd = lsock_bind_one(l, cause)) < 0)
			goto fail;
		if (l->kind == CONF_LISTEN_UNIX)
			g->ls[i].unlink_path = strdup(l->path);
		lsock_log(l, g->ls[i].fd);
	}
	/* Kept sockets change only once every new one is bound, so that a
	 * bind that fails leaves them as they were.  (systemd's have no
	 * unlink_path, and are left to its socket unit.) */
	for (i = 0; prev != NULL && i < g->nls; i++) {
		for (j = 0; j < prev->nls; j++)
			if (strcmp(prev->ls[j].key, g->ls[i].key) == 0)
				break;
		if (j < prev->nls && prev->ls[j].unlink_path != NULL &&
		    unix_changed(&prev->conf->listeners[j],
		    &g->conf->listeners[i], cause))
			goto fail;
	}
	return 0;
fail:
	for (j = 0; j < g->nls; j++) {
		/* Never unlink a path the previous generation still uses. */
		if (g->ls[j].unlink_path != NULL &&
		    key_in_use(g, g->ls[j].key)) {
			free(g->ls[j].unlink_path);
			g->ls[j].unlink_path = NULL;
		}
		lsock_close(&g->ls[j]);
	}
	free(g->ls);
	g->ls = NULL;
	return -1;
}

static struct gen *
gen_new(struct conf *c)
{
	struct gen *g = calloc(1, sizeof(*g));

	if (g == NULL)
		fatal("calloc");
	g->id = ++S.gen_ids;
	g->conf = c;
	g->nslots = c->workers;
	g->backoff_ms = calloc(MAX_WORKERS, sizeof(int));
	g->boot_failures = calloc(MAX_WORKERS, sizeof(int));
	g->respawn_at = calloc(MAX_WORKERS, sizeof(uint64_t));
	g->restarts = calloc(MAX_WORKERS, sizeof(int));
	if (g->backoff_ms == NULL || g->boot_failures == NULL ||
	    g->respawn_at == NULL || g->restarts == NULL)
		fatal("calloc");
	return g;
}

/* Close g's listening sockets; a UNIX path goes with the last user. */
static void
gen_close_listeners(struct gen *g)
{
	size_t i;

	for (i = 0; g->ls != NULL && i < g->nls; i++) {
		if (g->ls[i].unlink_path != NULL &&
		    key_in_use(g, g->ls[i].key)) {
			free(g->ls[i].unlink_path);
			g->ls[i].unlink_path = NULL;
		}
		lsock_close(&g->ls[i]);
	}
}

static void
gen_free(struct gen *g)
{
	if (g == NULL)
		return;
	gen_close_listeners(g);
	free(g->ls);
	free(g->backoff_ms);
	free(g->boot_failures);
	free(g->respawn_at);
	free(g->restarts);
	config_free(g->conf);
	free(g);
}

static int
gen_nprocs(const struct gen *g, int *ready)
{
	int i, n = 0, r = 0;

	for (i = 0; i < MAX_PROCS; i++) {
		if (S.procs[i].pid > 0 && S.procs[i].gen == g) {
			n++;
			r += S.procs[i].ready;
		}
	}
	if (ready != NULL)
		*ready = r;
	return n;
}

/* ---- Privileges ---------------------------------------------------------- */

static void
drop_privileges(const struct conf *c)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	gid_t gid;

	if (c->user == NULL && c->group == NULL)
		return;
	if (c->user != NULL && (pw = getpwnam(c->user)) == NULL)
		fatalx("unknown user %s", c->user);
	if (c->group != NULL && (gr = getgrnam(c->group)) == NULL)
		fatalx("unknown group %s", c->group);
	gid = gr != NULL ? gr->gr_gid : pw->pw_gid;
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0)
		fatal("cannot drop group privileges");
	if (pw != NULL && setuid(pw->pw_uid) != 0)
		fatal("cannot drop user privileges");
	snprintf(S.run_as, sizeof(S.run_as), "%s:%s",
	    c->user != NULL ? c->user : "-", c->group != NULL ? c->group : "-");
	log_info("running as %s:%s", c->user != NULL ? c->user : "-",
	    c->group != NULL ? c->group : "-");
}

/* ---- Workers ----------------------------------------------------------- */

static struct proc *
proc_of(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_PROCS; i++)
		if (S.procs[i].pid == pid)
			return &S.procs[i];
	return NULL;
}

/* Close fds lo..hi (hi may be past the last one). */
static void
fds_close(unsigned int lo, unsigned int hi)
{
	long max;
	unsigned int fd;

#ifdef HAVE_CLOSE_RANGE
	if (close_range(lo, hi, 0) == 0)
		return;
#endif
	if ((max = sysconf(_SC_OPEN_MAX)) < 0)
		max = 65536;
	for (fd = lo; fd <= hi && fd < (unsigned long)max; fd++)
		close((int)fd);
}

/*
 * In a child just forked: close every fd but stdin, stdout, stderr (the
 * log) and keep[0..n-1].  Workers do not exec, so close-on-exec does not
 * help: without this each one would hold every listener of every live
 * generation (a listener a reload removed would go on completing
 * handshakes, and could not be bound again until a restart), the other
 * slots' reuse_port sockets (kept open, they queue connections nobody
 * accepts), the control socket and its clients, and the other workers'
 * report pipes.  keep is reordered.
 */
static void
close_inherited(int *keep, size_t n)
{
	unsigned int lo = 3;
	size_t i, j;
	int t;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned int)keep[i] < lo)
			continue;
		if ((unsigned int)keep[i] > lo)
			fds_close(lo, (unsigned int)keep[i] - 1);
		lo = (unsigned int)keep[i] + 1;
	}
	fds_close(lo, ~0U);
}

/*
 * In a child just forked: get `sig` when the supervisor dies, so that a
 * worker does not go on serving (and holding the ports a new weftd must
 * bind) after a kill -9 of its supervisor.  A supervisor that died before
 * the prctl() is seen in getppid().
 */
static void
child_watch_parent(pid_t parent, int sig)
{
	if (prctl(PR_SET_PDEATHSIG, sig) != 0)
		log_warn("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != parent)
		_exit(0);
}

/*
 * In a worker just forked: keep only its own entry of the shared stats.
 * Mapped writable, the others would let a compromised worker forge a
 * sibling's heartbeat (keeping a hung one alive, or getting a healthy one
 * killed) and its figures.  Each entry is a page of its own for this.
 */
static void
hb_isolate(int own)
{
	size_t size = MAX_PROCS * sizeof(*S.hb), lo, hi;
	long pg = sysconf(_SC_PAGESIZE);
	char *base = (char *)S.hb;

	if (pg <= 0)
		pg = 4096;
	lo = (size_t)own * sizeof(*S.hb) / (size_t)pg * (size_t)pg;
	hi = ((size_t)(own + 1) * sizeof(*S.hb) + (size_t)pg - 1) /
	    (size_t)pg * (size_t)pg;
	if (lo > 0)
		munmap(base, lo);
	if (hi < size)
		munmap(base + hi, size - hi);
}

static void
spawn(struct gen *g, int slot)
{
	struct worker_args a;
	struct proc *p = NULL;
	int i, pfd[2], *fds, *keep;
	char *cause = NULL;
	size_t k;
	pid_t pid, parent = getpid();

	for (i = 0; i < MAX_PROCS; i++)
		if (S.procs[i].pid == 0) {
			p = &S.procs[i];
			break;
		}
	if (p == NULL) {
		/* Draining generations fill the table in a HUP storm; they
		 * free entries as they end, so try again rather than leave a
		 * reload waiting for a worker that is never started. */
		if (g->respawn_at[slot] == 0)
			log_warnx("too many worker processes (%d): worker %d "
				  "waits for one to end", MAX_PROCS, slot);
		g->respawn_at[slot] = weftd_now_ms() + BACKOFF_MIN_MS;
		return;
	}
	if ((fds = calloc(g->nls + 1, sizeof(int))) == NULL)
		fatal("calloc");
	for (k = 0; k < g->nls; k++)
		if ((fds[k] = lsock_fd(g, k, slot, &cause)) < 0) {
			log_warnx("worker %d: cannot bind %s", slot,
			    cause != NULL ? cause : "?");
			free(cause);
			free(fds);
			g->respawn_at[slot] = weftd_now_ms() + BACKOFF_MAX_MS;
			return;
		}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		log_warn("pipe");
		free(fds);
		return;
	}
	memset(&S.hb[i], 0, sizeof(S.hb[i]));
	S.hb[i].heartbeat = weftd_now_ms();
	pid = fork();
	if (pid < 0) {
		log_warn("fork");
		close(pfd[0]);
		close(pfd[1]);
		free(fds);
		g->respawn_at[slot] = weftd_now_ms() + BACKOFF_MIN_MS;
		return;
	}
	if (pid == 0) {
		signals_reset();
		notify_forget();
		child_watch_parent(parent, SIGTERM);
		if ((keep = calloc(g->nls + 1, sizeof(int))) == NULL)
			_exit(WORKER_EXIT_BOOT);
		memcpy(keep, fds, g->nls * sizeof(int));
		keep[g->nls] = pfd[1];
		close_inherited(keep, g->nls + 1);
		free(keep);
		hb_isolate(i);
		memset(&a, 0, sizeof(a));
		a.conf = g->conf;
		a.index = slot;
		a.generation = g->id;
		a.fds = fds;
		a.report_fd = pfd[1];
		a.stats = &S.hb[i];
		a.supervisor = parent;
		worker_main(&a);
	}
	free(fds);
	close(pfd[1]);
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->gen = g;
	p->slot = slot;
	p->pipe = pfd[0];
	p->started = weftd_now_ms();
	g->respawn_at[slot] = 0;
	log_debug("worker %d (pid %ld, generation %d) started", slot,
	    (long)pid, g->id);
}

static void
proc_signal(struct proc *p, int sig)
{
	if (p->pid > 0)
		kill(p->pid, sig);
}

static void
gen_signal(struct gen *g, int sig)
{
	int i;

	for (i = 0; i < MAX_PROCS; i++)
		if (S.procs[i].pid > 0 && S.procs[i].gen == g) {
			S.procs[i].stopping = 1;
			proc_signal(&S.procs[i], sig);
		}
}

static void
describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)%s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WTERMSIG(status) == SIGSEGV
			? ": a crash or a fiber stack overflow, see above"
			: "");
	else
		snprintf(buf, size, "ended with status 0x%x", status);
}

static void
give_up(const char *why)
{
	int i;

	log_warnx("giving up: %s", why);
	for (i = 0; i < MAX_PROCS; i++)
		if (S.procs[i].pid > 0) {
			S.procs[i].stopping = 1;
			proc_signal(&S.procs[i], SIGKILL);
		}
	S.stopping = 1;
	S.exit_code = 1;
	S.stop_deadline = weftd_now_ms();
}

/* A worker is gone: log why, and respawn it unless that was expected. */
static void
reaped(struct proc *p, int status)
{
	struct gen *g = p->gen;
	uint64_t now = weftd_now_ms(), up = now - p->started;
	char how[128];
	int slot = p->slot, crashed, expected = p->stopping;
	int ready = p->ready, delay;
	long pid = (long)p->pid;

	describe_exit(status, how, sizeof(how));
	crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (expected && !crashed)
		log_info("worker %d (pid %ld) %s", slot, pid, how);
	else
		log_warnx("worker %d (pid %ld, generation %d) %s", slot, pid,
		    g->id, how);
	if (p->pipe >= 0)
		close(p->pipe);
	S.hb[p - S.procs].heartbeat = 0;
	memset(p, 0, sizeof(*p));
	p->pipe = -1;
	if (expected || S.stopping || g->draining || slot >= g->nslots)
		return;
	/* Exponential backoff per slot, reset after a healthy minute.  A
	 * worker that was serving and dies for the first time (a crash,
	 * kill -9, the heartbeat) is replaced at once: its share of the
	 * load has nobody to accept it.  Only a slot that fails again
	 * within the minute, or a worker that never got ready, waits:
	 * 100 ms, then doubling. */
	if (up >= HEALTHY_MS)
		g->backoff_ms[slot] = 0;
	if (ready && g->backoff_ms[slot] == 0) {
		delay = 0;
		g->backoff_ms[slot] = BACKOFF_MIN_MS / 2; /* next: 100 ms */
	} else {
		g->backoff_ms[slot] = g->backoff_ms[slot] == 0
		    ? BACKOFF_MIN_MS
		    : g->backoff_ms[slot] * 2;
		if (g->backoff_ms[slot] > BACKOFF_MAX_MS)
			g->backoff_ms[slot] = BACKOFF_MAX_MS;
		delay = g->backoff_ms[slot];
	}
	if (!ready && g == S.next) {
		/* The probe passed but a new worker did not come up: keep
		 * serving with the current generation. */
		log_warnx("reload failed: a worker of generation %d did not "
			  "start; keeping generation %d",
		    g->id, S.cur->id);
		abort_reload();
		reload_done(0, "a new worker did not start (see the log)");
		return;
	}
	if (!ready && WIFEXITED(status) &&
	    WEXITSTATUS(status) == WORKER_EXIT_BOOT) {
		if (++g->boot_failures[slot] >= BOOT_FAILURES_MAX) {
			snprintf(how, sizeof(how),
			    "worker %d failed to boot %d times in a row", slot,
			    g->boot_failures[slot]);
			give_up(how);
			return;
		}
	}
	/* With no delay this is simply due now (now is never 0, which
	 * would mean "nothing scheduled"): the loop's next turn forks. */
	g->respawn_at[slot] = now + (uint64_t)delay;
	g->restarts[slot]++;
	log_info("restarting worker %d in %d ms", slot, delay);
}

static void
reap(void)
{
	struct proc *p;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == S.probe) {
			S.probe = 0;
			continue_reload(status);
			continue;
		}
		if ((p = proc_of(pid)) != NULL)
			reaped(p, status);
	}
}

/* ---- Reload -------------------------------------------------------------- */

static void
start_reload(void)
{
	struct conf *c = NULL;
	char *cause = NULL;
	pid_t pid, parent = getpid();

	if (S.stopping)
		return;
	if (S.probe != 0 || S.next != NULL) {
		/* The file may have changed since this reload read it: read
		 * it again once this one is done, or the change is lost. */
		log_info("reload already in progress: will reload again when "
			 "it is done");
		S.reload_again = 1;
		return;
	}
	log_info("reloading %s", S.conffile);
	notify_reloading();
	S.ready_sent = 0;
	if (config_load(S.conffile, &c, &cause) != 0) {
		log_warnx("reload failed, keeping generation %d:", S.cur->id);
		log_lines(WEFT_LOG_WARNING, cause != NULL ? cause : "?");
		reload_done(0, "config: %s", cause != NULL ? cause : "?");
		free(cause);
		return;
	}
	/* Plugins are loaded and initialised in a throwaway process first:
	 * the supervisor never runs plugin code. */
	pid = fork();
	if (pid < 0) {
		log_warn("reload: fork");
		config_free(c);
		reload_done(0, "fork failed");
		return;
	}
	if (pid == 0) {
		signals_reset();
		notify_forget();
		child_watch_parent(parent, SIGKILL);
		/* Plugin code runs here: it gets no listener, no control
		 * socket and no heartbeat of any worker. */
		close_inherited(NULL, 0);
		munmap(S.hb, MAX_PROCS * sizeof(*S.hb));
		log_procinit("reload probe");
		_exit(worker_check_plugins(c) == 0 ? 0 : 1);
	}
	S.probe = pid;
	S.probe_conf = c;
}

static void
continue_reload(int status)
{
	struct conf *c = S.probe_conf;
	struct gen *g;
	char *cause = NULL;
	int i;

	S.probe_conf = NULL;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_warnx("reload failed (plugin check), keeping generation %d",
		    S.cur->id);
		config_free(c);
		reload_done(0, "a plugin failed to load or init (see the log)");
		return;
	}
	if (S.stopping) {
		config_free(c);
		reload_done(0, "stopping");
		return;
	}
	g = gen_new(c);
	if (gen_bind(g, S.cur, &cause) != 0) {
		log_warnx("reload failed, keeping generation %d: %s",
		    S.cur->id, cause != NULL ? cause : "bind failed");
		reload_done(0, "%s", cause != NULL ? cause : "bind failed");
		free(cause);
		gen_free(g);
		return;
	}
	log_setlevel(c->log_level);
	S.next = g;
	for (i = 0; i < g->nslots; i++)
		spawn(g, i);
}

/*
 * A generation that drains until its last worker exits.  Reloads may come
 * faster than old workers finish their connections (up to
 * shutdown_timeout each), so there is no fixed number of them: a
 * generation that could not be tracked would never be freed, and its
 * listening sockets would leak.
 */
static void
old_add(struct gen *g)
{
	struct gen **n;
	int cap;

	if (S.nold == S.old_cap) {
		cap = S.old_cap == 0 ? 8 : 2 * S.old_cap;
		if ((n = realloc(S.old, (size_t)cap * sizeof(*n))) == NULL)
			fatal("realloc");
		S.old = n;
		S.old_cap = cap;
	}
	S.old[S.nold++] = g;
}

static void
abort_reload(void)
{
	struct gen *g = S.next;

	S.next = NULL;
	g->draining = 1;
	gen_close_listeners(g);
	gen_signal(g, SIGKILL);
	old_add(g);
}

/* The new generation is up: retire the current one. */
static void
finish_reload(void)
{
	struct gen *old = S.cur;

	S.cur = S.next;
	S.next = NULL;
	old->draining = 1;
	/* A draining generation is never respawned: the supervisor's copies
	 * of its sockets go now, before its workers are told to stop, so that
	 * a listener the new file removed (or a reuse_port slot it no longer
	 * has) closes once those workers have closed theirs.  What the new
	 * generation kept, it holds dups of. */
	gen_close_listeners(old);
	gen_signal(old, SIGTERM);
	old_add(old);
	log_info("reload complete: generation %d serving with %d worker(s)",
	    S.cur->id, S.cur->nslots);
	reload_done(1, "generation %d ready", S.cur->id);
}

static void
collect_old(void)
{
	int i, j;

	for (i = 0; i < S.nold; i++) {
		if (gen_nprocs(S.old[i], NULL) > 0)
			continue;
		log_debug("generation %d drained", S.old[i]->id);
		gen_free(S.old[i]);
		for (j = i; j < S.nold - 1; j++)
			S.old[j] = S.old[j + 1];
		S.nold--;
		i--;
	}
}

/* ---- The loop ------------------------------------------------------------ */

static void
stop_listening(void)
{
	int i;

	if (S.next != NULL)
		gen_close_listeners(S.next);
	for (i = 0; i < S.nold; i++)
		gen_close_listeners(S.old[i]);
	gen_close_listeners(S.cur);
}

static void
start_stop(int sig)
{
	uint64_t now = weftd_now_ms();
	int i;

	if (sig == SIGQUIT) {
		notify_send("STOPPING=1");
		log_info("SIGQUIT: stopping now");
		for (i = 0; i < MAX_PROCS; i++)
			if (S.procs[i].pid > 0) {
				S.procs[i].stopping = 1;
				proc_signal(&S.procs[i], SIGKILL);
			}
		S.stopping = 1;
		S.stop_deadline = now;
		return;
	}
	if (S.stopping)
		return;
	notify_send("STOPPING=1");
	log_info("%s: stopping gracefully (up to %gs)", strsignal(sig),
	    S.cur->conf->shutdown_timeout);
	/* Nothing will be respawned: the supervisor's copies of the
	 * listening sockets go first, so that each closes as soon as the
	 * workers have taken what is queued on it and closed theirs. */
	stop_listening();
	S.stopping = 1;
	S.stop_deadline = now +
	    (uint64_t)(S.cur->conf->shutdown_timeout * 1000) + STOP_GRACE_MS;
	for (i = 0; i < MAX_PROCS; i++)
		if (S.procs[i].pid > 0) {
			S.procs[i].stopping = 1;
			proc_signal(&S.procs[i], SIGTERM);
		}
	if (S.probe != 0)
		kill(S.probe, SIGKILL);
}

/* Bind the reuse_port sockets slot needs; -1 with *cause if one fails. */
static int
slot_bind(struct gen *g, int slot, char **cause)
{
	size_t i;

	for (i = 0; i < g->nls; i++)
		if (lsock_fd(g, i, slot, cause) < 0) {
			slot_close(g, slot);
			return -1;
		}
	return 0;
}

static void
resize(int delta)
{
	struct gen *g = S.cur;
	char *cause = NULL;
	int i;

	if (S.stopping || S.next != NULL)
		return;
	if (delta > 0 && g->nslots < MAX_WORKERS) {
		/* A reuse_port listener needs a socket of its own for the
		 * new slot, bound now: after the privilege drop a port below
		 * 1024 cannot be, and the worker is then refused here rather
		 * than logged as started and never run. */
		if (slot_bind(g, g->nslots, &cause) != 0) {
			log_warnx("SIGTTIN refused, still %d worker(s): cannot "
				  "bind %s%s%s%s",
			    g->nslots, cause != NULL ? cause : "?",
			    S.run_as[0] != '\0' ? " (the supervisor runs as " : "",
			    S.run_as,
			    S.run_as[0] != '\0' ? " since it dropped privileges; "
						  "raise workers and restart)"
						: "");
			free(cause);
			return;
		}
		spawn(g, g->nslots++);
		log_info("SIGTTIN: %d worker(s)", g->nslots);
	} else if (delta < 0 && g->nslots > 1) {
		g->nslots--;
		g->respawn_at[g->nslots] = 0;
		slot_close(g, g->nslots);
		for (i = 0; i < MAX_PROCS; i++)
			if (S.procs[i].pid > 0 && S.procs[i].gen == g &&
			    S.procs[i].slot == g->nslots) {
				S.procs[i].stopping = 1;
				proc_signal(&S.procs[i], SIGTERM);
			}
		log_info("SIGTTOU: %d worker(s)", g->nslots);
	}
}

static void
handle_signals(void)
{
	unsigned char sig;
	int i;

	while (read(S.sigpipe[0], &sig, 1) == 1) {
		switch (sig) {
		case SIGCHLD:
			reap();
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			start_stop(sig);
			break;
		case SIGHUP:
			start_reload();
			break;
		case SIGUSR1:
			log_reopen();
			for (i = 0; i < MAX_PROCS; i++)
				proc_signal(&S.procs[i], SIGUSR1);
			break;
		case SIGTTIN:
			resize(1);
			break;
		case SIGTTOU:
			resize(-1);
			break;
		}
	}
}

static void
read_reports(struct pollfd *pfds, int *idx, int n)
{
	struct proc *p;
	char buf[64];
	ssize_t r;
	int i, k;

	for (k = 0; k < n; k++) {
		if (pfds[k].revents == 0)
			continue;
		p = &S.procs[idx[k]];
		if (p->pid <= 0 || p->pipe != pfds[k].fd)
			continue; /* reaped meanwhile */
		r = read(p->pipe, buf, sizeof(buf));
		if (r <= 0) {
			/* EOF: it is exiting; SIGCHLD will tell how. */
			close(p->pipe);
			p->pipe = -1;
			continue;
		}
		for (i = 0; i < r; i++) {
			if (buf[i] == REPORT_READY && !p->ready) {
				p->ready = 1;
				p->gen->boot_failures[p->slot] = 0;
				log_info("worker %d (pid %ld) ready", p->slot,
				    (long)p->pid);
			}
		}
	}
}

static void
check_heartbeats(uint64_t now)
{
	struct proc *p;
	uint64_t limit, last;
	int i;

	for (i = 0; i < MAX_PROCS; i++) {
		p = &S.procs[i];
		if (p->pid <= 0 || !p->ready || p->stopping)
			continue;
		if (p->abort_at != 0) {
			if (now - p->abort_at >= KILL_GRACE_MS) {
				log_warnx("worker %d (pid %ld) ignored SIGABRT: "
					  "SIGKILL",
				    p->slot, (long)p->pid);
				proc_signal(p, SIGKILL);
				p->abort_at = now; /* once per grace */
			}
			continue;
		}
		limit = (uint64_t)(p->gen->conf->worker_timeout * 1000);
		last = S.hb[i].heartbeat;
		if (last != 0 && now > last && now - last > limit) {
			log_warnx("worker %d (pid %ld) loop blocked for %.1fs "
				  "(worker_timeout %gs): SIGABRT",
			    p->slot, (long)p->pid, (double)(now - last) / 1000,
			    p->gen->conf->worker_timeout);
			p->abort_at = now;
			proc_signal(p, SIGABRT);
		}
	}
}

static void
respawn_due(struct gen *g, uint64_t now, uint64_t *next)
{
	int i;

	for (i = 0; i < g->nslots; i++) {
		if (g->respawn_at[i] == 0)
			continue;
		if (g->respawn_at[i] <= now)
			spawn(g, i);
		else if (*next == 0 || g->respawn_at[i] < *next)
			*next = g->respawn_at[i];
	}
}

static int
nprocs(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_PROCS; i++)
		n += S.procs[i].pid > 0;
	return n + (S.probe != 0);
}

static void
shutdown_done(void)
{
	int i;

	gen_free(S.next);
	for (i = 0; i < S.nold; i++)
		gen_free(S.old[i]);
	gen_free(S.cur);
	for (i = 0; i < 16; i++)
		if (S.ctl[i].fd > 0)
			ctl_reply(&S.ctl[i], "ERR stopped\n");
	if (S.ctl_fd >= 0) {
		close(S.ctl_fd);
		if (unlink(S.ctl_path) != 0 && errno != ENOENT)
			log_notice("cannot remove control socket %s: %s",
			    S.ctl_path, strerror(errno));
	}
	log_info("stopped");
	exit(S.exit_code);
}

/* ---- systemd and the control socket ------------------------------------ */

static uint64_t
live_connections(void)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < MAX_PROCS; i++)
		if (S.procs[i].pid > 0)
			n += S.hb[i].active;
	return n;
}

static void
send_status(void)
{
	int ready = 0, n = gen_nprocs(S.cur, &ready);

	notify_send("STATUS=generation %d, %d/%d worker(s) ready, %llu "
		    "connection(s)",
	    S.cur->id, ready, n, (unsigned long long)live_connections());
}

static void
ctl_reply(struct ctl_client *cl, const char *text)
{
	size_t len = strlen(text);

	(void)!send(cl->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(cl->fd);
	cl->fd = 0;
	cl->waiting_reload = 0;
}

static void
reload_done(int ok, const char *fmt, ...)
{
	char msg[1024], line[1100];
	va_list ap;
	size_t k;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* After RELOADING=1 systemd waits for READY=1, success or not. */
	notify_send("READY=1");
	S.ready_sent = 1;
	send_status();
	if (S.reload_again && !S.stopping) {
		/* A reload was asked for meanwhile: the clients waiting for
		 * a reply get the one of that reload. */
		S.reload_again = 0;
		start_reload();
		return;
	}
	S.reload_again = 0;
	snprintf(line, sizeof(line), "%s %s\n",
	    ok ? "OK reloaded:" : "ERR reload failed:", msg);
	for (k = 0; k < sizeof(S.ctl) / sizeof(S.ctl[0]); k++)
		if (S.ctl[k].fd > 0 && S.ctl[k].waiting_reload)
			ctl_reply(&S.ctl[k], line);
}

static void
ctl_status(struct ctl_client *cl)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);
	uint64_t now = weftd_now_ms();
	struct proc *p;
	int i;

	if (fp == NULL) {
		ctl_reply(cl, "ERR out of memory\n");
		return;
	}
	fprintf(fp, "OK weftd %s, pid %ld, up %llus, generation %d, %d "
		    "worker(s), %llu connection(s)%s\n",
	    PACKAGE_VERSION, (long)getpid(),
	    (unsigned long long)((now - S.started) / 1000), S.cur->id,
	    S.cur->nslots, (unsigned long long)live_connections(),
	    S.next != NULL || S.probe != 0 ? ", reloading" : "");
	fprintf(fp, "%-6s %-8s %-4s %-8s %-10s %-8s %-8s %s\n", "worker",
	    "pid", "gen", "uptime", "accepted", "active", "restarts",
	    "emfile_pauses");
	for (i = 0; i < MAX_PROCS; i++) {
		p = &S.procs[i];
		if (p->pid <= 0)
			continue;
		fprintf(fp,
		    "%-6d %-8ld %-4d %-8llu %-10llu %-8llu %-8d %llu%s\n",
		    p->slot, (long)p->pid, p->gen->id,
		    (unsigned long long)((now - p->started) / 1000),
		    (unsigned long long)S.hb[i].accepted,
		    (unsigned long long)S.hb[i].active,
		    p->gen->restarts[p->slot],
		    (unsigned long long)S.hb[i].emfile_pauses,
		    p->ready ? "" : " (starting)");
	}
	fclose(fp);
	(void)!send(cl->fd, buf, size, MSG_NOSIGNAL);
	free(buf);
	close(cl->fd);
	cl->fd = 0;
}

static void
ctl_command(struct ctl_client *cl, char *cmd)
{
	cmd[strcspn(cmd, "\r\n")] = '\0';
	if (strcmp(cmd, "status") == 0) {
		ctl_status(cl);
	} else if (strcmp(cmd, "stop") == 0) {
		ctl_reply(cl, "OK stopping\n");
		start_stop(SIGTERM);
	} else if (strcmp(cmd, "reload") == 0) {
		if (S.stopping) {
			ctl_reply(cl, "ERR stopping\n");
			return;
		}
		cl->waiting_reload = 1;
		start_reload();
	} else {
		ctl_reply(cl, "ERR unknown command (reload, stop, status)\n");
	}
}

/*
 * The socket is 0600, but a mode is all that keeps others out, and a
 * socket's mode is easily loosened (by hand, by a wrong RuntimeDirectory
 * setting): the peer itself must be root, the user that started us (who
 * owns the socket) or `user`.  Others are closed unanswered.
 */
static int
ctl_peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	size_t k;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		log_warn("control connection: SO_PEERCRED");
		return 0;
	}
	for (k = 0; k < sizeof(S.ctl_uids) / sizeof(S.ctl_uids[0]); k++)
		if (cr.uid == S.ctl_uids[k])
			return 1;
	log_warnx("control connection from pid %ld, uid %ld refused: only "
		  "root, the user weftd was started as (uid %ld) and the "
		  "service user may use it",
	    (long)cr.pid, (long)cr.uid, (long)S.ctl_uids[1]);
	return 0;
}

static void
ctl_accept(void)
{
	size_t k;
	int fd;

	while ((fd = accept4(S.ctl_fd, NULL, NULL,
		    SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (!ctl_peer_allowed(fd)) {
			close(fd);
			continue;
		}
		for (k = 0; k < sizeof(S.ctl) / sizeof(S.ctl[0]); k++)
			if (S.ctl[k].fd == 0)
				break;
		if (k == sizeof(S.ctl) / sizeof(S.ctl[0])) {
			(void)!send(fd, "ERR busy\n", 9, MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		S.ctl[k].fd = fd;
		S.ctl[k].waiting_reload = 0;
	}
}

static void
ctl_read(struct ctl_client *cl)
{
	char buf[128];
	ssize_t n;

	n = read(cl->fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		close(cl->fd); /* went away (a waiting reload goes on) */
		cl->fd = 0;
		cl->waiting_reload = 0;
		return;
	}
	buf[n] = '\0';
	if (!cl->waiting_reload)
		ctl_command(cl, buf);
}

/* READY, STATUS, WATCHDOG and EXTEND_TIMEOUT, from the main loop. */
static void
systemd_tick(uint64_t now)
{
	int ready = 0, n, i, fresh = 1;

	n = gen_nprocs(S.cur, &ready);
	if (!S.ready_sent && S.next == NULL && S.probe == 0 &&
	    n == S.cur->nslots && ready == n) {
		notify_send("READY=1");
		S.ready_sent = 1;
		send_status();
		S.last_status = now;
	}
	if (!S.ready_sent && now - S.last_extend >= 1000) {
		/* Plugins are still initialising: ask for more time. */
		notify_send("EXTEND_TIMEOUT_USEC=%llu", 5000000ULL);
		S.last_extend = now;
	}
	if (now - S.last_status >= 5000) {
		send_status();
		S.last_status = now;
	}
	if (S.watchdog_ms != 0 && now - S.last_watchdog >= S.watchdog_ms / 2) {
		/* Pet the watchdog only while every serving worker's loop is
		 * alive, i.e. has ticked within two heartbeat periods: a
		 * wedged worker shows in systemd before it is killed. */
		for (i = 0; i < MAX_PROCS; i++) {
			struct proc *p = &S.procs[i];
			uint64_t tick;

			if (p->pid <= 0 || !p->ready || p->stopping ||
			    S.hb[i].heartbeat == 0)
				continue;
			tick = heartbeat_tick_ms(p->gen->conf);
			if (now > S.hb[i].heartbeat &&
			    now - S.hb[i].heartbeat > 2 * tick + 100) {
				if (fresh)
					log_debug("watchdog withheld: worker "
						  "%d (pid %ld) heartbeat "
						  "%llu ms old",
					    p->slot, (long)p->pid,
					    (unsigned long long)(now -
						S.hb[i].heartbeat));
				fresh = 0;
			}
		}
		if (fresh) {
			notify_send("WATCHDOG=1");
			S.last_watchdog = now;
		}
	}
}

void
supervisor_main(struct conf *c, const char *conffile, const char *ctl_path)
{
	struct pollfd pfds[MAX_PROCS + 2 + 16];
	int idx[MAX_PROCS];
	uint64_t now, next;
	char *cause = NULL;
	int i, n, nprocfds, timeout, ready, k;

	log_procinit("supervisor");
	S.conffile = conffile;
	S.started = weftd_now_ms();
	S.ctl_fd = -1;
	S.lock_fd = -1;
	S.watchdog_ms = notify_watchdog_ms();
	S.nact = notify_listen_fds(&S.act_fds, &S.act_names);
	if (S.nact > 0 && (S.act_used = calloc((size_t)S.nact, sizeof(int))) ==
	    NULL)
		fatal("calloc");
	S.hb = mmap(NULL, MAX_PROCS * sizeof(*S.hb), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S.hb == MAP_FAILED)
		fatal("mmap");
	for (i = 0; i < MAX_PROCS; i++)
		S.procs[i].pipe = -1;
	signals_init();
	/* One supervisor per control socket, found out before anything is
	 * bound (or removed). */
	S.ctl_path = ctl_path != NULL ? ctl_path : control_default_path();
	if ((S.lock_fd = control_lock(S.ctl_path, &cause)) == -2)
		fatalx("%s", cause != NULL ? cause : "already running");
	if (S.lock_fd < 0) {
		/* Like the control socket itself, which it goes with. */
		log_warnx("cannot lock: %s; a second weftd with the same "
			  "control socket would not be detected",
		    cause != NULL ? cause : "?");
		free(cause);
		cause = NULL;
	}
	S.ctl_uids[0] = 0;
	S.ctl_uids[1] = geteuid();
	S.ctl_uids[2] = 0;
	if (c->user != NULL) {
		struct passwd *pw = getpwnam(c->user);

		if (pw != NULL)
			S.ctl_uids[2] = pw->pw_uid;
	}
	S.cur = gen_new(c);
	if (gen_bind(S.cur, NULL, &cause) != 0)
		fatalx("cannot listen: %s", cause != NULL ? cause : "?");
	for (k = 0; k < S.nact; k++)
		if (!S.act_used[k])
			fatalx("socket activation: fd %d (name '%s') matches no "
			       "listener in %s",
			    S.act_fds[k], S.act_names[k], conffile);
	if ((S.ctl_fd = control_listen(S.ctl_path, &cause)) == -2)
		fatalx("%s", cause != NULL ? cause : "control socket in use");
	if (S.ctl_fd < 0) {
		/* Serving matters more than being controllable. */
		log_warnx("%s; weftd -s will not reach this process",
		    cause != NULL ? cause : "control socket");
		free(cause);
		cause = NULL;
	}
	drop_privileges(c);
	log_info("starting %d worker(s), generation %d", c->workers,
	    S.cur->id);
	for (i = 0; i < S.cur->nslots; i++)
		spawn(S.cur, i);

	for (;;) {
		now = weftd_now_ms();
		next = 0;
		if (S.stopping) {
			if (nprocs() == 0)
				shutdown_done();
			if (now >= S.stop_deadline) {
				for (i = 0; i < MAX_PROCS; i++)
					if (S.procs[i].pid > 0)
						proc_signal(&S.procs[i], SIGKILL);
				S.stop_deadline = now + 1000;
			}
		} else {
			respawn_due(S.cur, now, &next);
			if (S.next != NULL) {
				respawn_due(S.next, now, &next);
				if (gen_nprocs(S.next, &ready) == S.next->nslots &&
				    ready == S.next->nslots)
					finish_reload();
			}
			check_heartbeats(now);
			systemd_tick(now);
		}
		collect_old();

		n = 0;
		pfds[n].fd = S.sigpipe[0];
		pfds[n].events = POLLIN;
		n++;
		for (i = 0; i < MAX_PROCS; i++) {
			if (S.procs[i].pid > 0 && S.procs[i].pipe >= 0) {
				pfds[n].fd = S.procs[i].pipe;
				pfds[n].events = POLLIN;
				idx[n - 1] = i;
				n++;
			}
		}
		nprocfds = n - 1;
		pfds[n].fd = S.ctl_fd; /* -1 is ignored by poll */
		pfds[n].events = POLLIN;
		n++;
		for (k = 0; k < 16; k++) {
			pfds[n].fd = S.ctl[k].fd > 0 ? S.ctl[k].fd : -1;
			pfds[n].events = POLLIN;
			n++;
		}
		/* A respawn due sooner than the usual tick is not late. */
		timeout = 100;
		now = weftd_now_ms();
		if (next != 0 && next < now + 100)
			timeout = next <= now ? 0 : (int)(next - now);
		if (poll(pfds, (nfds_t)n, timeout) < 0 && errno != EINTR)
			fatal("poll");
		if (pfds[0].revents != 0)
			handle_signals();
		read_reports(pfds + 1, idx, nprocfds);
		for (k = 0; k < 16; k++)
			if (pfds[nprocfds + 2 + k].revents != 0 &&
			    S.ctl[k].fd == pfds[nprocfds + 2 + k].fd)
				ctl_read(&S.ctl[k]);
		if (pfds[nprocfds + 1].revents != 0)
			ctl_accept();
	}
}
