/*
 * weft — the plugin ABI: handlers weftd loads from .so files.
 *
 * A plugin is one exported descriptor, stamped by WEFT_PLUGIN():
 *
 *	#include <weft/plugin.h>
 *	WEFT_PLUGIN(echo,
 *	    .init = echo_init,			(per worker; reads settings)
 *	    .client_connected = handle_echo,	(one fiber per connection)
 *	    .fini = echo_fini);
 *
 * weftd loads it with dlopen(RTLD_NOW | RTLD_LOCAL) in every worker (and in
 * `weftd -t` and the reload probe), once however many instances the
 * config makes of it, checks magic, ABI major (equal), ABI minor (not
 * newer than weftd's), struct size and name, then calls init for each
 * instance with its settings from the config file.  Plugins link against
 * libweft (`pkg-config --cflags --libs weft`).  doc/plugins.md is the
 * guide: building, settings, what a handler must never do (block).
 *
 * ABI evolution: the major version changes when a change breaks existing
 * plugins, the minor when something is added at the end of the
 * descriptor (weftd reads a newer field only if struct_size covers it).
 * Changelog:
 *	1.0	first version: init, client_connected, fini, flags; settings
 *		getters, weft_plugin_error, weft_log.
 *	1.1	weft_setting_ms (a duration setting in milliseconds) and
 *		weft_hostport_parse.
 *	1.2	TLS: weft/tls.h is part of the ABI (weft_tls_info,
 *		weft_tls_peer_cert, weft_tls_error, client contexts for
 *		upstream connections).  A handler on a TLS listener runs
 *		after the handshake, so it can read SNI, ALPN and the
 *		peer's certificate on its first line.
 *	1.3	the stop hook; init, stop and fini run on fibers, and the
 *		fibers init spawns are cancelled and joined before fini.
 *		Instances: the config names an instance, the descriptor's
 *		name is the plugin's type, and one .so serves several
 *		instances, each with its own init, state, stop and fini.
 *	1.4	weft_metrics_read: the host's metrics (weftd's, all workers
 *		summed) as Prometheus text or JSON, for the metrics plugin.
 *
 * Plugins install into $(libdir)/weft/plugins-MAJOR, so plugins of two
 * incompatible majors can live side by side.
 */
#ifndef WEFT_PLUGIN_H
#define WEFT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <weft/stream.h>
#include <weft/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_PLUGIN_MAGIC 0x57454654u /* "WEFT" */
#define WEFT_PLUGIN_ABI_MAJOR 1
#define WEFT_PLUGIN_ABI_MINOR 4
#define WEFT_PLUGIN_SYMBOL "weft_plugin_desc"

/** Compile-time feature test: WEFT_PLUGIN_ABI_AT_LEAST(1, 0). */
#define WEFT_PLUGIN_ABI_AT_LEAST(maj, min)                                     \
	(WEFT_PLUGIN_ABI_MAJOR > (maj) ||                                      \
	    (WEFT_PLUGIN_ABI_MAJOR == (maj) &&                                 \
		WEFT_PLUGIN_ABI_MINOR >= (min)))

/** A plugin's view of its configuration in one worker. */
typedef struct weft_plugin_ctx weft_plugin_ctx_t;

/** Descriptor flags. */
enum {
	/* client_connected is called without a fiber, on the loop's stack,
	 * and the connection stays open when it returns: it registers
	 * weft_read_start callbacks (stream.h), in which read calls return
	 * -EAGAIN instead of waiting.  See doc/plugins.md, "Fiber mode or
	 * callback mode". */
	WEFT_PLUGIN_CALLBACK = 1u << 0,
};

/** The one exported descriptor (use WEFT_PLUGIN, never fill it by hand). */
struct weft_plugin_desc {
	uint32_t magic;	      /* WEFT_PLUGIN_MAGIC */
	uint16_t abi_major;   /* WEFT_PLUGIN_ABI_MAJOR at build time */
	uint16_t abi_minor;   /* WEFT_PLUGIN_ABI_MINOR at build time */
	uint32_t struct_size; /* sizeof(struct weft_plugin_desc) */
	uint32_t flags;	      /* WEFT_PLUGIN_* */
	const char *name;     /* the plugin's type ("proxy") */

	/*
	 * Per worker and instance, after its loop exists, on a fiber: read
	 * settings, build state.  Fibers it spawns (and theirs) belong to
	 * the instance: they are cancelled and joined before fini.
	 * Return 0, or a negative code after weft_plugin_error() to refuse
	 * the settings (weftd -t reports it as file:line).  *state is
	 * handed to every client_connected and to fini.  May be NULL.
	 */
	int (*init)(weft_plugin_ctx_t *ctx, void **state);

	/* One client connection; runs on its own fiber.  Returning closes
	 * the connection. */
	void (*client_connected)(weft_reader_t *r, weft_writer_t *w,
	    void *state);

	/*
	 * Worker shutdown, after the last connection and after the fibers
	 * init spawned have been cancelled and have ended; on a fiber.  May
	 * be NULL.
	 */
	void (*fini)(void *state);

	/*
	 * A graceful stop or a reload begins: called once per worker and
	 * instance, on a fiber of its own, before shutdown_timeout starts
	 * counting, so that handlers can finish at a request boundary
	 * (typically it sets an event they wait on, or cancels them).  It
	 * may wait; fibers it spawns belong to the instance as init's do.
	 * May be NULL.  ABI 1.3.
	 */
	void (*stop)(void *state);

	void *reserved[3]; /* for additions without an ABI major bump */
};

/** Smallest descriptor a loader accepts (ABI 1.0). */
#define WEFT_PLUGIN_DESC_MIN_SIZE sizeof(struct weft_plugin_desc)

/**
 * Define the plugin's descriptor.  pname is the plugin's type as a C
 * identifier; the config names instances of it.
 */
#ifndef __cplusplus
#define WEFT_PLUGIN(pname, ...)                                                \
	WEFT_EXTERN extern const struct weft_plugin_desc weft_plugin_desc;     \
	WEFT_EXTERN const struct weft_plugin_desc weft_plugin_desc = {         \
		.magic = WEFT_PLUGIN_MAGIC,                                    \
		.abi_major = WEFT_PLUGIN_ABI_MAJOR,                            \
		.abi_minor = WEFT_PLUGIN_ABI_MINOR,                            \
		.struct_size = sizeof(struct weft_plugin_desc),                \
		.name = #pname,                                                \
		__VA_ARGS__                                                    \
	}
#else
/*
 * C++17 has no designated initializers, and C++20's demand declaration
 * order, so each `.field = value` argument (at most 8) becomes the
 * assignment `d.field = value;` in a lambda that builds the descriptor.
 * g++ ignores a visibility attribute in front of a definition but not
 * on an extern "C" declaration.
 */
#define WEFT__PLUGIN_SET1(d, a) d a;
#define WEFT__PLUGIN_SET2(d, a, ...)                                           \
	d a;                                                                   \
	WEFT__PLUGIN_SET1(d, __VA_ARGS__)
#define WEFT__PLUGIN_SET3(d, a, ...)                                           \
	d a;                                                                   \
	WEFT__PLUGIN_SET2(d, __VA_ARGS__)
#define WEFT__PLUGIN_SET4(d, a, ...)                                           \
	d a;                                                                   \
	WEFT__PLUGIN_SET3(d, __VA_ARGS__)
#define WEFT__PLUGIN_SET5(d, a, ...)                                           \
	d a;                                                                   \
	WEFT__PLUGIN_SET4(d, __VA_ARGS__)
#define WEFT__PLUGIN_SET6(d, a, ...)                                           \
	d a;                                                                   \
	WEFT__PLUGIN_SET5(d, __VA_ARGS__)
#define WEFT__PLUGIN_SET7(d, a, ...)                                           \
	d a;                                                                   \
	WEFT__PLUGIN_SET6(d, __VA_ARGS__)
#define WEFT__PLUGIN_SET8(d, a, ...)                                           \
	d a;                                                                   \
	WEFT__PLUGIN_SET7(d, __VA_ARGS__)
#define WEFT__PLUGIN_NTH(_1, _2, _3, _4, _5, _6, _7, _8, m, ...) m
#define WEFT__PLUGIN_SET(d, ...)                                               \
	WEFT__PLUGIN_NTH(__VA_ARGS__, WEFT__PLUGIN_SET8, WEFT__PLUGIN_SET7,    \
	    WEFT__PLUGIN_SET6, WEFT__PLUGIN_SET5, WEFT__PLUGIN_SET4,           \
	    WEFT__PLUGIN_SET3, WEFT__PLUGIN_SET2, WEFT__PLUGIN_SET1, )         \
	(d, __VA_ARGS__)
#define WEFT_PLUGIN(pname, ...)                                                \
	extern "C" WEFT_EXTERN const struct weft_plugin_desc weft_plugin_desc; \
	const struct weft_plugin_desc weft_plugin_desc = [] {                  \
		struct weft_plugin_desc weft__d = {};                          \
		weft__d.magic = WEFT_PLUGIN_MAGIC;                             \
		weft__d.abi_major = WEFT_PLUGIN_ABI_MAJOR;                     \
		weft__d.abi_minor = WEFT_PLUGIN_ABI_MINOR;                     \
		weft__d.struct_size = sizeof(struct weft_plugin_desc);         \
		weft__d.name = #pname;                                         \
		WEFT__PLUGIN_SET(weft__d, __VA_ARGS__)                         \
		return weft__d;                                                \
	}()
#endif

/* ---- Settings: the plugin's `settings = { ... }` block ---------------- */

/**
 * A setting's value, or def if it is not set.  A value of the wrong type
 * (an int setting given "abc") records an error that fails init with the
 * setting's file:line, and def is returned.  Every setting in the config
 * must be read by init: one it never asks for is reported as unknown, so
 * read all of them before validating any.
 *
 * Values are converted from their text, whatever the syntax gave them
 * (INI values are all strings): an int is decimal or 0x hex ("42",
 * "-7", "0x1f"); a bool is true/yes/on/1 or false/no/off/0 (any case);
 * a double is anything strtod takes whole, but not inf or nan.  Any value
 * reads as a string.  The string returned by weft_setting_str belongs to
 * weftd and stays valid until after fini.  Getters never allocate.
 */
WEFT_EXTERN const char *weft_setting_str(weft_plugin_ctx_t *ctx,
    const char *key, const char *def);
WEFT_EXTERN int64_t weft_setting_int(weft_plugin_ctx_t *ctx, const char *key,
    int64_t def);
WEFT_EXTERN int weft_setting_bool(weft_plugin_ctx_t *ctx, const char *key,
    int def);
WEFT_EXTERN double weft_setting_double(weft_plugin_ctx_t *ctx, const char *key,
    double def);

/**
 * A duration setting, written in seconds (fractions allowed: "0.25",
 * "1e-3"), in milliseconds, or def (in milliseconds) if it is not set.
 * A fraction of a millisecond rounds up, so that a tiny duration does not
 * become 0.  A value that is not a number, or is negative, records an
 * error as the other getters do, and def is returned.  ABI 1.1.
 */
WEFT_EXTERN int64_t weft_setting_ms(weft_plugin_ctx_t *ctx, const char *key,
    int64_t def);

/**
 * Refuse the settings (or report another init failure) with a message;
 * returns -EINVAL for `return weft_plugin_error(ctx, "...")`.  If key is
 * not NULL the message is tied to that setting's line (the plugin
 * stanza's if the setting is absent) and reads "setting 'KEY': message".
 * weftd prints it as "FILE:LINE: plugin NAME: message".
 */
WEFT_EXTERN int weft_plugin_error(weft_plugin_ctx_t *ctx, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- Addresses ---------------------------------------------------------- */

/** The size of the host buffer weft_hostport_parse() needs at most. */
#define WEFT_HOST_MAX 256

/**
 * Split a TCP address, "host:port", "[v6addr]:port", "*:port" or ":port",
 * into host (without brackets, "" for "any address"; hostlen bytes,
 * WEFT_HOST_MAX always suffice) and port (0 to 65535).  A host of digits
 * and dots must be an IPv4 address, a bracketed one an IPv6 address (a
 * "%zone" is left to the resolver), any other a host name.  Returns 0,
 * or -EINVAL with what is wrong in msg (msglen bytes; msg may be NULL).
 * weftd's `tcp` listener setting is parsed by it.  ABI 1.1.
 */
WEFT_EXTERN int weft_hostport_parse(const char *text, char *host,
    size_t hostlen, int *port, char *msg, size_t msglen);

/** The instance's name as configured (the descriptor's name is its type). */
WEFT_EXTERN const char *weft_plugin_name(const weft_plugin_ctx_t *ctx);

/** The worker's index (0-based), for plugins that shard by worker. */
WEFT_EXTERN int weft_plugin_worker(const weft_plugin_ctx_t *ctx);

/* ---- Host side: weftd's loader (plugins never call these) ------------- */

/** A setting's type as the config syntax gave it (config.h's CONF_T_*). */
enum weft_setting_type {
	WEFT_SETTING_STR = 1,
	WEFT_SETTING_INT = 2,
	WEFT_SETTING_BOOL = 3,
	WEFT_SETTING_FLOAT = 4,
};

/**
 * Create the context a plugin's init reads its settings from.  name is
 * the instance's config name and line its stanza's line (both copied);
 * worker is the worker index.  *out must be NULL on entry.  Returns 0,
 * -EINVAL or -ENOMEM.
 */
WEFT_EXTERN int weft_plugin_ctx_new(const char *name, int line, int worker,
    weft_plugin_ctx_t **out);

/**
 * Add one setting (key and value are copied; value is the setting's
 * text, type a WEFT_SETTING_*, line its config line).  Returns 0,
 * -EINVAL (bad type, NULL key or value), -EEXIST (key already added) or
 * -ENOMEM.
 */
WEFT_EXTERN int weft_plugin_ctx_add(weft_plugin_ctx_t *ctx, const char *key,
    const char *value, int type, int line);

/**
 * Record that init returned err (a negative errno): the report then says
 * "init failed (...)" unless init said why itself, and leaves out the
 * settings init never read (it may have stopped before them), but for
 * one close to a key init asked for and did not find.
 */
WEFT_EXTERN void weft_plugin_ctx_init_failed(weft_plugin_ctx_t *ctx, int err);

/**
 * Report what init left behind: values of the wrong type, settings init
 * never read ("unknown setting 'x'", with "did you mean 'y'?" when a key
 * init asked for and did not find is close) and weft_plugin_error
 * messages, one per line as "FILE:LINE: plugin \"NAME\": message",
 * ordered by line, joined by '\n' (no trailing newline).  Returns the
 * number of errors; when it is above 0, *out is set to the malloc'd text
 * (the caller frees it).  Returns -ENOMEM if the text cannot be built.
 */
WEFT_EXTERN int weft_plugin_ctx_errors(const weft_plugin_ctx_t *ctx,
    const char *file, char **out);

/** Free a context (after the plugin's fini) and set *ctxp to NULL. */
WEFT_EXTERN void weft_plugin_ctx_free(weft_plugin_ctx_t **ctxp);

/**
 * A fiber group: the fibers a plugin instance's init (or stop) spawns,
 * and the fibers they spawn, so that the host can end them all before
 * fini.  A fiber spawned by a fiber whose group is g joins g, and spawns
 * into g in turn.
 */
typedef struct weft_fiber_group weft_fiber_group_t;

/** Create an empty group; *out must be NULL.  Returns 0 or -ENOMEM. */
WEFT_EXTERN int weft_fiber_group_new(weft_fiber_group_t **out);

/**
 * Make g (NULL: none) the group the running fiber spawns into, without
 * making the fiber itself a member; returns the one it had, for putting
 * back.  Outside a fiber it does nothing and returns NULL.
 */
WEFT_EXTERN weft_fiber_group_t *weft_fiber_group_enter(weft_fiber_group_t *g);

/** The number of g's fibers that have not ended. */
WEFT_EXTERN size_t weft_fiber_group_count(const weft_fiber_group_t *g);

/**
 * Cancel every fiber of g (weft_cancel; those spawned meanwhile too) and
 * wait until all have ended.  Returns 0, the running fiber's
 * WEFT_ECANCELED or WEFT_ETIMEDOUT, WEFT_ENOTFIBER (outside a fiber, with
 * fibers left), or -EDEADLK when called from one of g's own fibers.
 */
WEFT_EXTERN int weft_fiber_group_cancel(weft_fiber_group_t *g);

/** Free g (NULL ok); fibers still in it leave it and go on. */
WEFT_EXTERN void weft_fiber_group_free(weft_fiber_group_t *g);

/* ---- Logging ------------------------------------------------------------ */

enum weft_log_level {
	WEFT_LOG_ERR = 3,
	WEFT_LOG_WARNING = 4,
	WEFT_LOG_NOTICE = 5,
	WEFT_LOG_INFO = 6,
	WEFT_LOG_DEBUG = 7,
};

/**
 * Log through the host (weftd prefixes its process role and
 * writes journald priorities).  Outside weftd it goes to stderr.
 */
WEFT_EXTERN void weft_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** The host installs its sink here (weftd does; plugins never need to). */
typedef void (*weft_log_sink_fn)(int level, const char *msg);
WEFT_EXTERN void weft_log_set_sink(weft_log_sink_fn sink);

/* ---- Metrics ------------------------------------------------------------ */

/** The formats of weft_metrics_read. */
enum weft_metrics_format {
	WEFT_METRICS_PROMETHEUS = 1, /* text exposition format 0.0.4 */
	WEFT_METRICS_JSON = 2,	     /* weftd -s status --json's */
};

/**
 * Write the host's metrics in format to buf (size bytes, NUL-terminated
 * when size > 0) and return the length of the whole text, as snprintf
 * does (call again with a larger buffer when it is >= size); -EINVAL
 * for an unknown format, -ENOTSUP when the host publishes none (outside
 * a weftd worker).  Under weftd they are the whole daemon's, every
 * worker summed, at most about a second old; it never blocks.  ABI 1.4.
 */
WEFT_EXTERN ssize_t weft_metrics_read(int format, char *buf, size_t size);

/** The host's source of weft_metrics_read (weftd's; plugins never need
 * it). */
typedef ssize_t (*weft_metrics_fn)(int format, char *buf, size_t size);
WEFT_EXTERN void weft_metrics_set_source(weft_metrics_fn fn);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_PLUGIN_H */
