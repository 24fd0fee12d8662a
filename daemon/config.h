/*
 * weftd's configuration model: one immutable generation, parsed from
 * libconfig (.conf) or INI (.ini) syntax into the same structures.
 * Used by the supervisor (parse, validate, bind) and the workers (plugins,
 * listener options).  Not thread-safe; nothing here is installed.
 * config.c says which file does what; config_model.h is the interface
 * the syntax front-ends build the model through.
 */
#ifndef WEFTD_CONFIG_H
#define WEFTD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * The shortest worker_timeout.  A worker ticks its heartbeat every
 * worker_timeout / 4 (at least every 10 ms, at most every second) and the
 * supervisor looks every 100 ms; below a second a loop that is merely busy
 * (a burst of connections, a page fault storm) reads as blocked, and a
 * timeout below the tick kills every worker over and over.
 */
#define CONF_MIN_WORKER_TIMEOUT 1.0

enum {
	CONF_T_STR = 1,
	CONF_T_INT,
	CONF_T_BOOL,
	CONF_T_FLOAT,
};

/* One plugin setting, kept as text plus the type the syntax gave it
 * (INI values are all CONF_T_STR; libconfig's are typed). */
struct conf_setting {
	char *key;
	char *value;
	int type;
	int line;
};

struct conf_plugin {
	char *name;    /* config name ("http-hello") */
	char *path;    /* as written */
	char *abspath; /* resolved against plugin_dir */
	struct conf_setting *settings;
	size_t nsettings;
	char *file; /* the config file its stanza is in, for messages */
	int line;
};

enum {
	CONF_LISTEN_TCP = 1,
	CONF_LISTEN_UNIX,
};

struct conf_listener {
	char *name;	/* optional in .conf ("" if unset); INI section */
	int kind;	/* CONF_LISTEN_* */
	char *address;	/* as written: "127.0.0.1:7000", "[::1]:7000", path */
	char *host;	/* TCP: host part without brackets ("" = any) */
	int port;	/* TCP */
	char *path;	/* UNIX */
	int mode;	/* UNIX: chmod mode, -1 = leave */
	char *owner;	/* UNIX: owner as written, NULL = leave */
	char *group;	/* UNIX: group as written, NULL = leave */
	uid_t uid;	/* owner resolved, (uid_t)-1 = leave */
	gid_t gid;	/* group resolved, (gid_t)-1 = leave */
	char *plugin;	/* plugin config name */
	int64_t limit;	/* reader limit, default 65536 */
	int backlog;	/* default 511 */
	int reuse_port; /* bool */
	int64_t max_connections; /* per worker, 0 = unlimited */
	char *tls;		 /* TLS profile name, NULL = plain */
	double send_timeout;	 /* seconds, default 60, 0 = none */
	int tls_index;		 /* in conf->tls, -1 = plain */
	/* A PROXY header first, within the timeout (s, default 5). */
	int proxy_protocol;
	double proxy_protocol_timeout;
	/* An absolute path, "journal" or "stderr"; NULL = none
	 * (accesslog.h). */
	char *access_log;
	char *file; /* the config file its stanza is in, for messages */
	int line;
};

/*
 * A certificate and its key as PEM text, read by the supervisor
 * (tls_files.c) so that workers never open a key file.  NULL until read.
 */
struct conf_pem {
	char *cert;
	size_t cert_len;
	char *key;
	size_t key_len;
};

/* A TLS profile's further certificate, chosen by the SNI name. */
struct conf_tls_sni {
	char **names;
	size_t nnames;
	char *cert; /* absolute paths */
	char *key;
	struct conf_pem pem;
	char *where; /* "file:line", for messages after the parse */
};

enum {
	CONF_VERIFY_NONE = 0,
	CONF_VERIFY_OPTIONAL,
	CONF_VERIFY_REQUIRED,
};

/* A TLS profile: tls = { NAME = { ... }; } or [tls.NAME]. */
struct conf_tls {
	char *name;
	char *cert; /* absolute paths */
	char *key;
	struct conf_pem pem;
	char **alpn; /* in preference order */
	size_t nalpn;
	char *client_ca;
	int verify_client; /* CONF_VERIFY_* */
	char **protocols;  /* "TLSv1.2", "TLSv1.3"; none: both */
	size_t nprotocols;
	char *ciphers;		  /* NULL: libweft's default */
	char *ciphersuites;	  /* NULL: libweft's default */
	double handshake_timeout; /* seconds, default 60 */
	int session_tickets;	  /* bool, default 1 */
	struct conf_tls_sni *sni;
	size_t nsni;
	char *where; /* "file:line" of the profile */
	int line;
};

struct conf {
	char *file;  /* path as given */
	int workers; /* default: number of CPUs */
	char *user;  /* NULL = keep */
	char *group;
	int log_level;		 /* WEFT_LOG_* (syslog numbers); default info */
	double shutdown_timeout; /* seconds, default 30 */
	double worker_timeout;	 /* seconds, default 30, at least
				 * CONF_MIN_WORKER_TIMEOUT */
	size_t fiber_stack;	 /* bytes, default 65536 */
	int fiber_stacks_shared; /* fiber_stacks = "shared" (default private) */
	int accept_balance;	 /* bool, default 1 (balance.h) */
	char *plugin_dir;	 /* default PLUGINDIR */
	char *control_socket;	 /* NULL: -C, else control_default_path() */
	struct conf_plugin *plugins;
	size_t nplugins;
	struct conf_listener *listeners;
	size_t nlisteners;
	struct conf_tls *tls;
	size_t ntls;
	double tls_ticket_rotation; /* seconds, default 3600 */
	char *warnings; /* NULL, or "file:line: message" lines to log */
};

/*
 * Parse and validate FILE (syntax chosen by extension: .ini → INI,
 * anything else → libconfig).  On failure returns -1 and sets *cause to
 * every error found, one per line, each "file:line: message" (the caller
 * frees it); nothing is half-built.  On success *out is the model.
 */
int config_load(const char *file, struct conf **out, char **cause);

/*
 * config_load(), and with CONF_LOAD_SYSTEM also check what the file
 * names on this system: that user and group exist and that each UNIX
 * listener's directory does, so that -t, the start and a reload find
 * them rather than a daemon that cannot run.  The parse alone (a dump,
 * the tests) takes the file as it would be on the machine it is for.
 */
#define CONF_LOAD_SYSTEM 0x1
int config_load_flags(const char *file, int flags, struct conf **out,
    char **cause);

/* Free a model (NULL is fine). */
void config_free(struct conf *c);

/* Print the normalised model (weftd --dump): both syntaxes of the same
 * setup print identical text. */
void config_dump(const struct conf *c, FILE *fp);

/* Find a plugin by config name ('-' and '_' equal); NULL if none. */
const struct conf_plugin *config_plugin(const struct conf *c, const char *name);

/* Names equal under the '-' == '_' rule. */
int config_name_eq(const char *a, const char *b);

/* Log level names <-> numbers: "err", "warning", "notice", "info",
 * "debug".  Returns -1 for an unknown name. */
int config_log_level(const char *name);
const char *config_log_level_name(int level);

#endif /* WEFTD_CONFIG_H */
