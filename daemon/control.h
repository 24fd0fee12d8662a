/*
 * The supervisor's control socket, and `weftd -s reload|stop|status`, its
 * client.  A UNIX stream socket, mode 0600 (root or the service user
 * only): the client sends one command line and reads the reply until EOF.
 * The first reply line starts with "OK" or "ERR"; `reload` answers only
 * once the new generation is ready or the reload failed.
 */
#ifndef WEFTD_CONTROL_H
#define WEFTD_CONTROL_H

/* $RUNTIME_DIRECTORY/weftd.sock under systemd, else /run/weft/weftd.sock. */
const char *control_default_path(void);

/* Bind and listen (non-blocking, 0600); -1 with *cause on failure. */
int control_listen(const char *path, char **cause);

/* `weftd -s CMD`: send, print the reply; exit status 0 on OK, 1 on ERR
 * or when nothing answers. */
int control_client(const char *path, const char *cmd);

#endif /* WEFTD_CONTROL_H */
