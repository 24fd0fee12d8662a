/*
 * The supervisor's listener sets: the listening sockets of each
 * generation, bound (or taken from systemd) before the privileges are
 * dropped, handed over from one generation to the next when an address
 * did not change, and closed when the generation ends, a UNIX path
 * removed with its last user.
 */
#ifndef WEFTD_LISTENERS_H
#define WEFTD_LISTENERS_H

#include <stddef.h>

#include "config.h"

/* One listener of a generation. */
struct lsock {
	char key[256]; /* identity: kind, address, reuse_port; "" closed */
	int fd;	       /* shared socket; -1 with reuse_port */
	int *slot_fds; /* reuse_port: one socket per worker slot */
	int nslot_fds;
	char *unlink_path; /* UNIX path to remove when the socket goes */
};

/* The listeners of one generation, one per listener of its conf. */
struct lset {
	const struct conf *conf;
	struct lsock *ls; /* NULL until bound */
	size_t nls;
	struct lset *live_next; /* in listeners.live */
};

/* The role's state: every bound set, and the sockets systemd passed. */
struct listeners {
	struct lset *live; /* sets bound and not yet freed */
	int *act_fds;	   /* socket activation: fds and names */
	char **act_names;
	int *act_used;
	int nact;
	/* A binary upgrade's sockets (upgrade.h), which the first set
	 * takes over as a reload takes over its previous set's; NULL if
	 * none. */
	struct lset *inherited;
	/* "user:group" privileges were dropped to, "" if they were not */
	char run_as[512];
};

/* Take the sockets systemd passed, if any. */
void listeners_init(struct listeners *L);

/* After the first set is bound: a socket systemd passed that no
 * listener took is a configuration error (fatal). */
void listeners_check_activation(const struct listeners *L,
    const char *conffile);

/*
 * Bind s's listeners for conf c and nslots worker slots, taking over the
 * sockets of prev (may be NULL) whose identity is unchanged, or (without
 * prev) those of L->inherited or the sockets systemd passed.  Returns -1 with *cause on failure
 * (s's own new sockets are closed again; prev keeps its sockets, though
 * a kept UNIX socket may already have the mode, owner or group of c).
 */
int lset_bind(struct listeners *L, struct lset *s, const struct conf *c,
    int nslots, const struct lset *prev, char **cause);

/*
 * The fd slot `slot` listens on for listener i, bound now if it is a
 * reuse_port socket the slot does not have yet.  -1 with *cause if that
 * bind fails.
 */
int lset_fd(struct listeners *L, struct lset *s, size_t i, int slot,
    char **cause);

/* Bind the reuse_port sockets slot needs; -1 with *cause if one fails
 * (then the slot has none). */
int lset_slot_bind(struct listeners *L, struct lset *s, int slot, char **cause);

/* Close slot's reuse_port sockets (the slot is retired). */
void lset_slot_close(struct lset *s, int slot);

/* Close s's sockets; a UNIX path goes with the last set using it. */
void lset_close(struct listeners *L, struct lset *s);

/* After a binary upgrade handed every socket over: no path of L's is
 * removed any more, the new supervisor's now. */
void listeners_disown(struct listeners *L);

/* Close and forget s. */
void lset_free(struct listeners *L, struct lset *s);

#endif /* WEFTD_LISTENERS_H */
