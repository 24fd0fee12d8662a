/*
 * The supervisor's control socket, and `weftd -s reload|stop|status`, its
 * client.  A UNIX stream socket, mode 0600 (root or the service user
 * only): the client sends one command line and reads the reply until EOF.
 * The first reply line starts with "OK" or "ERR"; `reload` answers only
 * once the new generation is ready or the reload failed.  The supervisor
 * answers only root, the user it was started as and its service `user`
 * (SO_PEERCRED); the client talks only to a socket owned by root or by
 * itself, served by a process running as root or as that owner.
 */
#ifndef WEFTD_CONTROL_H
#define WEFTD_CONTROL_H

/* $RUNTIME_DIRECTORY/weftd.sock under systemd, else /run/weft/weftd.sock. */
const char *control_default_path(void);

/*
 * Make room for a new UNIX socket at path: 0 if nothing is there or it was
 * a socket nothing listens on (connect(2) refused; it is removed).  -2
 * with *cause if a process listens on it (the message names its pid), -1
 * with *cause if it is not a socket or cannot be checked.
 */
int control_clear_stale(const char *path, char **cause);

/*
 * One supervisor per control socket: flock(2) "<path>.lock" (no symlink
 * followed; a regular file of root or of this user only) and write our
 * pid in it.  Returns the fd to keep open (close-on-exec), -2 with *cause
 * naming the holder's pid if another process holds it, -1 with *cause if
 * the file cannot be used.
 */
int control_lock(const char *path, char **cause);

/* Bind and listen (non-blocking, 0600) after control_clear_stale();
 * -1 or -2 (a live socket is there) with *cause on failure. */
int control_listen(const char *path, char **cause);

/* `weftd -s CMD`: send, print the reply (control characters as '?');
 * exit status 0 on OK, 1 on ERR, when nothing answers or when the socket
 * or its server is not trusted. */
int control_client(const char *path, const char *cmd);

#endif /* WEFTD_CONTROL_H */
