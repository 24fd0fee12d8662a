/*
 * The supervisor's control socket, and `weftd -s reload|upgrade|stop|status`, its
 * client.  A UNIX stream socket, mode 0600 (root or the service user
 * only): the client sends one command line and reads the reply until EOF.
 * The first reply line starts with "OK" or "ERR"; `reload` answers only
 * once the new generation is ready or the reload failed, `upgrade` once
 * the new supervisor is ready or has failed.  The supervisor
 * answers only root, the user it was started as and its service `user`
 * (SO_PEERCRED); the client talks only to a socket owned by root, by
 * itself or by the service user, served by a process running as root or
 * as that owner.
 */
#ifndef WEFTD_CONTROL_H
#define WEFTD_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

/* $RUNTIME_DIRECTORY/weftd.sock under systemd, else /run/weft/weftd.sock. */
const char *control_default_path(void);

/*
 * One supervisor per control socket: flock(2) "<path>.lock" (no symlink
 * followed; a regular file of root or of this user only) and write our
 * pid in it.  Returns the fd to keep open (close-on-exec), -2 with *cause
 * naming the holder's pid if another process holds it, -1 with *cause if
 * the file cannot be used.
 */
int control_lock(const char *path, char **cause);

/* Bind and listen (non-blocking, 0600), in place of a stale socket;
 * -1 or -2 (a live socket is there) with *cause on failure. */
int control_listen(const char *path, char **cause);

#define CTL_CLIENTS 16

/* What a client waits for, answered when it is done. */
#define CTL_WAIT_RELOAD 1
#define CTL_WAIT_UPGRADE 2

struct ctl_client {
	int fd;	     /* 0: free */
	int waiting; /* 0 or CTL_WAIT_* */
};

/* The supervisor's side: its socket and the clients talking to it. */
struct ctl_server {
	const char *path;
	int fd;	       /* -1: none (weftd -s cannot reach us) */
	uid_t uids[3]; /* may talk to it: root, starter, `user` */
	struct ctl_client cl[CTL_CLIENTS];
};

/* Take every pending connection of a peer allowed to talk (others are
 * closed unanswered; past CTL_CLIENTS, "ERR busy"). */
void control_accept(struct ctl_server *cs);

/* Read from cl: 1 with a command line (its end of line cut) in buf, 0 if
 * there is none (cl is dropped once it has gone away). */
int control_read(struct ctl_client *cl, char *buf, size_t size);

/* Answer cl and drop it: text without waiting (a full socket loses
 * it), or a longer buf, waiting to send it. */
void control_reply(struct ctl_client *cl, const char *text);
void control_send(struct ctl_client *cl, const char *buf, size_t size);

/* Close cl unanswered. */
void control_drop(struct ctl_client *cl);

/* Answer every client waiting for what (CTL_WAIT_*). */
void control_reply_waiting(struct ctl_server *cs, int what, const char *text);

/* At exit: answer "ERR stopped" to every client, close and remove the
 * socket. */
void control_close(struct ctl_server *cs);

/* `weftd -s CMD`: send, print the reply (control characters as '?'; the
 * lines after an ERR line, a failed reload's errors, on stderr);
 * exit status 0 on OK, 1 on ERR, when nothing answers or when the socket
 * or its server is not trusted.  service: the config's `user`, whose
 * socket is trusted too ((uid_t)-1: none). */
int control_client(const char *path, const char *cmd, uid_t service);

#endif /* WEFTD_CONTROL_H */
