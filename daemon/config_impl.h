/*
 * The parse state the model builder keeps besides the model itself.
 * Private to config_model.c (building, errors) and config_check.c (the
 * checks across keys); the front-ends see struct conf_parse as opaque.
 */
#ifndef WEFTD_CONFIG_IMPL_H
#define WEFTD_CONFIG_IMPL_H

#include <stddef.h>

#include "config_model.h"

/* Listener keys, in config_model.c's listener_keys[] order. */
enum {
	L_NAME,
	L_TCP,
	L_UNIX,
	L_MODE,
	L_PLUGIN,
	L_LIMIT,
	L_BACKLOG,
	L_REUSE,
	L_MAXCONN,
	L_OWNER,
	L_GROUP,
	L_TLS,
	L_SENDTO,
	L_PROXY,
	L_PROXY_TIMEOUT,
	L_ACCESS_LOG,
	NLIS
};
/* Plugin keys: only "path". */
enum { P_PATH, NPLUG };
/* Top-level keys. */
#define NTOP 12

/* What the parse knows about a plugin beyond the model. */
struct pmeta {
	struct conf_loc loc; /* declared, or first named */
	int declared;
	struct conf_loc keys[NPLUG]; /* line 0: key not given */
};

/* The same for a listener. */
struct lmeta {
	struct conf_loc loc;
	struct conf_loc keys[NLIS];
	int addr_ok; /* tcp/unix given and well formed */
};

/* TLS profile keys, in config_tls.c's tls_keys[] order, and an SNI
 * entry's. */
enum {
	T_CERT,
	T_KEY,
	T_ALPN,
	T_CLIENT_CA,
	T_VERIFY,
	T_PROTOCOLS,
	T_CIPHERS,
	T_CIPHERSUITES,
	T_TIMEOUT,
	T_TICKETS,
	NTLS
};
enum { S_NAMES, S_CERT, S_KEY, NSNI };

/* What the parse knows about an SNI entry and a TLS profile. */
struct smeta {
	struct conf_loc loc;
	struct conf_loc keys[NSNI];
};
struct tmeta {
	struct conf_loc loc;
	struct conf_loc keys[NTLS];
	struct smeta *sm; /* parallel to the profile's sni */
};

struct err {
	size_t file; /* index in ps->files: errors sort by file, line */
	int line;
	size_t seq; /* keeps the sort stable */
	char *msg;  /* the whole "file:line: message" */
};

struct conf_parse {
	struct conf *c;
	char **files; /* interned file names; [0] is the file */
	size_t nfiles;
	struct err *errs;
	size_t nerrs;
	struct conf_loc top[NTOP];
	struct pmeta *pm; /* parallel to c->plugins */
	struct lmeta *lm; /* parallel to c->listeners */
	struct tmeta *tm; /* parallel to c->tls */
	size_t ntm;
	char *cwd;
};

/* "at line 12", or "at other.conf:12" when at is in another file than
 * from; in buf. */
const char *config_where(struct conf_parse *ps, struct conf_loc at,
    struct conf_loc from, char *buf, size_t len);

/* loc, with a file name that lives as long as the parse. */
struct conf_loc config_keep(struct conf_parse *ps, struct conf_loc loc);

/* The TLS checks across keys (config_tls.c), from config_check(). */
void config_tls_check(struct conf_parse *ps);

/* "listener "name"" or "listener #2" (1-based), in buf. */
const char *config_lis_name(struct conf_parse *ps, size_t i, char *buf,
    size_t len);

#endif /* WEFTD_CONFIG_IMPL_H */
