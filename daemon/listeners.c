/*
 * The listener sets (listeners.h).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <weft/server.h>

#include "listeners.h"
#include "log.h"
#include "notify.h"
#include "sock.h"
#include "util.h"

void
listeners_init(struct listeners *L)
{
	memset(L, 0, sizeof(*L));
	L->nact = notify_listen_fds(&L->act_fds, &L->act_names);
	if (L->nact > 0)
		L->act_used = xcalloc((size_t)L->nact, sizeof(int));
}

void
listeners_check_activation(const struct listeners *L, const char *conffile)
{
	int k;

	for (k = 0; k < L->nact; k++)
		if (!L->act_used[k])
			fatalx(
			    "socket activation: fd %d (name '%s') matches no "
			    "listener in %s",
			    L->act_fds[k], L->act_names[k], conffile);
}

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
lsock_bind_one(struct listeners *L, const struct conf_listener *l, char **cause)
{
	struct sock_how how = { "", 0, L->run_as };

	return sock_listen(l, &how, cause);
}

static void
lsock_log(const struct conf_listener *l, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char name[INET6_ADDRSTRLEN + 8];

	if (l->kind == CONF_LISTEN_UNIX) {
		log_info("listening on unix:%s (%s)", l->path, l->plugin);
		return;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    weft_sockaddr_format((struct sockaddr *)&ss, len, name,
		sizeof(name)) < 0)
		return;
	log_info("listening on %s (%s)", name, l->plugin);
}

/* Is a listener with this identity still used by another live set? */
static int
key_in_use(const struct listeners *L, const struct lset *except,
    const char *key)
{
	const struct lset *s;
	size_t j;

	for (s = L->live; s != NULL; s = s->live_next) {
		if (s == except || s->ls == NULL)
			continue;
		for (j = 0; j < s->nls; j++)
			if (strcmp(s->ls[j].key, key) == 0)
				return 1;
	}
	return 0;
}

static void
unlink_own_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
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

int
lset_fd(struct listeners *L, struct lset *set, size_t i, int slot, char **cause)
{
	struct lsock *s = &set->ls[i];
	int *nfds, k;

	if (s->fd >= 0)
		return s->fd;
	if (slot >= s->nslot_fds) {
		nfds = xcalloc((size_t)slot + 1, sizeof(int));
		for (k = 0; k <= slot; k++)
			nfds[k] = k < s->nslot_fds ? s->slot_fds[k] : -1;
		free(s->slot_fds);
		s->slot_fds = nfds;
		s->nslot_fds = slot + 1;
	}
	if (s->slot_fds[slot] < 0)
		s->slot_fds[slot] = lsock_bind_one(L, &set->conf->listeners[i],
		    cause);
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
void
lset_slot_close(struct lset *set, int slot)
{
	struct lsock *s;
	size_t i;

	for (i = 0; set->ls != NULL && i < set->nls; i++) {
		s = &set->ls[i];
		if (slot < s->nslot_fds && s->slot_fds[slot] >= 0) {
			close(s->slot_fds[slot]);
			s->slot_fds[slot] = -1;
		}
	}
}

int
lset_slot_bind(struct listeners *L, struct lset *s, int slot, char **cause)
{
	size_t i;

	for (i = 0; i < s->nls; i++)
		if (lset_fd(L, s, i, slot, cause) < 0) {
			lset_slot_close(s, slot);
			return -1;
		}
	return 0;
}

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
activated_fd(struct listeners *L, const struct conf_listener *l)
{
	int k;

	for (k = 0; k < L->nact; k++)
		if (!L->act_used[k] && l->name != NULL && l->name[0] != '\0' &&
		    strcmp(L->act_names[k], l->name) == 0) {
			L->act_used[k] = 1;
			return L->act_fds[k];
		}
	for (k = 0; k < L->nact; k++)
		if (!L->act_used[k] && L->act_names[k][0] == '\0' &&
		    same_address(L->act_fds[k], l)) {
			L->act_used[k] = 1;
			return L->act_fds[k];
		}
	for (k = 0; k < L->nact; k++)
		if (!L->act_used[k] && same_address(L->act_fds[k], l)) {
			L->act_used[k] = 1;
			return L->act_fds[k];
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
unix_changed(const struct listeners *L, const struct conf_listener *o,
    const struct conf_listener *l, char **cause)
{
	int mode = l->mode >= 0 && l->mode != o->mode ? l->mode : -1;
	uid_t uid = l->uid != o->uid ? l->uid : (uid_t)-1;
	gid_t gid = l->gid != o->gid ? l->gid : (gid_t)-1;

	if (l->kind != CONF_LISTEN_UNIX ||
	    (mode < 0 && uid == (uid_t)-1 && gid == (gid_t)-1))
		return 0;
	return sock_unix_attrs(l, mode, uid, gid, L->run_as, cause) != 0;
}

/* The listener of prev with this identity, or -1. */
static ssize_t
find_key(const struct lset *prev, const char *key)
{
	size_t j;

	for (j = 0; prev != NULL && j < prev->nls; j++)
		if (strcmp(prev->ls[j].key, key) == 0)
			return (ssize_t)j;
	return -1;
}

/*
 * Same address as prev's listener o: share the socket with the old
 * generation, so its queue carries over.  -1 with *cause if a reuse_port
 * socket the old generation did not have cannot be bound.
 */
static int
lsock_take(struct listeners *L, struct lset *set, size_t i, int nslots,
    const struct lsock *o, char **cause)
{
	struct lsock *s = &set->ls[i];
	const struct conf_listener *l = &set->conf->listeners[i];
	int k;

	s->fd = o->fd >= 0 ? dup(o->fd) : -1;
	if (o->unlink_path != NULL)
		s->unlink_path = xstrdup(o->unlink_path);
	if (s->fd >= 0 || !l->reuse_port)
		return 0;
	/* reuse_port: the slots both generations have keep their sockets;
	 * those beyond the old generation's are bound now, and those beyond
	 * the new one's are not taken (they go with the old generation). */
	s->slot_fds = xcalloc((size_t)nslots, sizeof(int));
	s->nslot_fds = nslots;
	for (k = 0; k < nslots; k++)
		s->slot_fds[k] = k < o->nslot_fds && o->slot_fds[k] >= 0
		    ? dup(o->slot_fds[k])
		    : -1;
	for (k = 0; k < nslots; k++)
		if (s->slot_fds[k] < 0) {
			if (lset_fd(L, set, i, k, cause) < 0)
				return -1;
			lsock_log(l, s->slot_fds[k]);
		}
	return 0;
}

/* A listener with no socket to take over: systemd's (first generation
 * only), or bound now.  -1 with *cause on failure. */
static int
lsock_open(struct listeners *L, struct lset *set, size_t i, int nslots,
    int first, char **cause)
{
	struct lsock *s = &set->ls[i];
	const struct conf_listener *l = &set->conf->listeners[i];
	int k;

	if (first && L->nact > 0 && (s->fd = activated_fd(L, l)) >= 0) {
		/* systemd bound it (and owns the path). */
		log_info("using socket %d from systemd for %s", s->fd,
		    l->address);
		lsock_log(l, s->fd);
		return 0;
	}
	if (l->reuse_port) {
		/* One SO_REUSEPORT socket per worker slot, bound now while
		 * privileges allow low ports. */
		for (k = 0; k < nslots; k++) {
			if (lset_fd(L, set, i, k, cause) < 0)
				return -1;
			lsock_log(l, s->slot_fds[k]);
		}
		return 0;
	}
	/* A draining generation may still listen there (the address left
	 * the file and came back): that socket is ours to replace, and its
	 * generation will not remove ours. */
	if (l->kind == CONF_LISTEN_UNIX && key_in_use(L, set, s->key))
		unlink_own_socket(l->path);
	if ((s->fd = lsock_bind_one(L, l, cause)) < 0)
		return -1;
	if (l->kind == CONF_LISTEN_UNIX)
		s->unlink_path = xstrdup(l->path);
	lsock_log(l, s->fd);
	return 0;
}

int
lset_bind(struct listeners *L, struct lset *s, const struct conf *c, int nslots,
    const struct lset *prev, char **cause)
{
	int first = prev == NULL;
	size_t i;
	ssize_t j;

	if (prev == NULL)
		prev = L->inherited;
	s->conf = c;
	s->nls = c->nlisteners;
	s->ls = xcalloc(s->nls, sizeof(*s->ls));
	for (i = 0; i < s->nls; i++)
		s->ls[i].fd = -1;
	for (i = 0; i < s->nls; i++) {
		lsock_key(&c->listeners[i], i, s->ls[i].key,
		    sizeof(s->ls[i].key));
		if ((j = find_key(prev, s->ls[i].key)) >= 0) {
			if (lsock_take(L, s, i, nslots, &prev->ls[j], cause) !=
			    0)
				goto fail;
		} else if (lsock_open(L, s, i, nslots, first, cause) != 0)
			goto fail;
	}
	/* Kept sockets change only once every new one is bound, so that a
	 * bind that fails leaves them as they were.  (systemd's have no
	 * unlink_path, and are left to its socket unit; inherited ones keep
	 * the attributes the old supervisor gave them.) */
	for (i = 0; prev != NULL && prev->conf != NULL && i < s->nls; i++) {
		j = find_key(prev, s->ls[i].key);
		if (j >= 0 && prev->ls[j].unlink_path != NULL &&
		    unix_changed(L, &prev->conf->listeners[j], &c->listeners[i],
			cause))
			goto fail;
	}
	s->live_next = L->live;
	L->live = s;
	return 0;
fail:
	/* Never unlink a path the previous generation still uses. */
	lset_close(L, s);
	free(s->ls);
	s->ls = NULL;
	return -1;
}

void
lset_close(struct listeners *L, struct lset *s)
{
	size_t i;

	for (i = 0; s->ls != NULL && i < s->nls; i++) {
		if (s->ls[i].unlink_path != NULL &&
		    key_in_use(L, s, s->ls[i].key)) {
			free(s->ls[i].unlink_path);
			s->ls[i].unlink_path = NULL;
		}
		lsock_close(&s->ls[i]);
	}
}

void
listeners_disown(struct listeners *L)
{
	struct lset *s;
	size_t i;

	for (s = L->live; s != NULL; s = s->live_next)
		for (i = 0; s->ls != NULL && i < s->nls; i++) {
			free(s->ls[i].unlink_path);
			s->ls[i].unlink_path = NULL;
		}
}

void
lset_free(struct listeners *L, struct lset *s)
{
	struct lset **pp;

	lset_close(L, s);
	for (pp = &L->live; *pp != NULL; pp = &(*pp)->live_next)
		if (*pp == s) {
			*pp = s->live_next;
			break;
		}
	free(s->ls);
	s->ls = NULL;
}
