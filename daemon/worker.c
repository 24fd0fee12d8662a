/*
 * The worker process: a fresh libuv loop (never uv_loop_fork), the
 * plugins loaded and initialised, one weft server per inherited listening
 * socket, one fiber per connection running the plugin's handler.
 *
 * It reports READY to the supervisor over a pipe once every listener is
 * accepting, and ticks a heartbeat in shared memory from a loop timer: a
 * handler that blocks the loop stops the ticks, and the supervisor kills
 * the worker.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>
#include <weft/plugin.h>
#include <weft/weft.h>

#include "accesslog.h"
#include "balance.h"
#include "log.h"
#include "loader.h"
#include "metrics.h"
#include "util.h"
#include "worker.h"
#include "worker_tls.h"

struct wlistener {
	const struct conf_listener *l;
	struct plugin *plugin;
	weft_server_t *srv;
};

static struct {
	const struct worker_args *args;
	struct plugin **plugins; /* one per conf plugin */
	struct wlistener *ls;
	size_t nls;
	struct worker_tls *tls; /* this generation's contexts */
	uv_loop_t loop;
	uv_timer_t heartbeat;
	uv_signal_t sig_term;
	uv_signal_t sig_int;
	uv_signal_t sig_quit;
	uv_signal_t sig_usr1;
	/* For balance.c: ls[i].srv, and whether all workers share it. */
	weft_server_t **srvs;
	int *shared;
	int stopping;
	int booted; /* plugins and servers are up */
} W;

/*
 * SIGABRT names the fiber that was running.  The supervisor sends it to a
 * worker whose loop stopped ticking (worker_timeout), and its own line
 * cannot know which handler blocked; a handler fiber carries its plugin's
 * name.  abort() in a plugin lands here too.  The line's prefix is made
 * at start-up, because snprintf is not async-signal-safe; the handler
 * only copies bytes and writes them with one write(2), then lets the
 * default action end the process (with a core, as before).
 */
static char abort_prefix[96];

static void
abort_cat(char *buf, size_t *n, size_t size, const char *s)
{
	while (*s != '\0' && *n < size - 1)
		buf[(*n)++] = *s++;
}

static void
on_abort(int sig)
{
	weft_fiber_t *f = weft_current();
	char line[256];
	size_t n = 0;

	abort_cat(line, &n, sizeof(line), abort_prefix);
	if (f != NULL) {
		abort_cat(line, &n, sizeof(line), "SIGABRT while fiber '");
		abort_cat(line, &n, sizeof(line), weft_fiber_name(f));
		abort_cat(line, &n, sizeof(line), "' was running");
	} else {
		abort_cat(line, &n, sizeof(line),
		    "SIGABRT outside any fiber (in the loop or a "
		    "callback-mode plugin)");
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
abort_report_install(void)
{
	struct sigaction sa;

	if (log_prefix(WEFT_LOG_ERR, abort_prefix, sizeof(abort_prefix)) < 0)
		abort_prefix[0] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_abort;
	/* A fiber that overflowed its stack may be running: use the
	 * sigaltstack libweft set up, when there is one. */
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGABRT, &sa, NULL);
}

uint64_t
heartbeat_tick_ms(const struct conf *c)
{
	/* Often enough that a healthy worker is never near the limit. */
	uint64_t tick = (uint64_t)(c->worker_timeout * 1000 / 4);

	if (tick > 1000)
		tick = 1000;
	if (tick < 10)
		tick = 10;
	return tick;
}

uint64_t
weftd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Every connection's fiber starts here. */
static void
handle(weft_reader_t *r, weft_writer_t *w, void *arg)
{
	struct wlistener *wl = arg;

	/* A stack overflow report then names the plugin. */
	weft_fiber_set_name(weft_current(), wl->plugin->p_conf->name);
	wl->plugin->p_desc->client_connected(r, w, wl->plugin->p_state);
}

/* Publish the counters of each server, and their sums. */
static void
stats_publish(void)
{
	struct worker_stats *st = W.args->stats;
	weft_server_stats_t ss;
	stats_vec one, sum;
	size_t i, k;

	memset(sum, 0, sizeof(sum));
	for (i = 0; i < W.nls; i++) {
		memset(&ss, 0, sizeof(ss));
		(void)weft_server_stats(W.ls[i].srv, &ss, sizeof(ss));
		memset(one, 0, sizeof(one));
		stats_from_server(one, &ss);
		one[STAT_access_log_dropped] = alog_dropped(i);
		for (k = 0; k < STATS_N; k++) {
			sum[k] += one[k];
			if (i < STATS_LISTENERS)
				st->listener[i][k] = one[k];
		}
	}
	for (k = 0; k < STATS_N; k++)
		st->sum[k] = sum[k];
}

static void
on_heartbeat(uv_timer_t *t)
{
	stats_publish();
	W.args->stats->heartbeat = weftd_now_ms();
	balance_tick();
}

static void
unload_plugins(void)
{
	size_t i;

	for (i = 0; i < W.args->conf->nplugins; i++)
		if (W.plugins[i] != NULL)
			plugin_unload(&W.plugins[i]);
}

/*
 * A reuse_port socket is this worker's alone once the supervisor has
 * closed its copy (a retired slot, a stop): closing ours closes the
 * socket, and the kernel resets every connection still queued on it.
 * So the server goes on accepting until the queue is empty (on a
 * listener, tcpi_unacked is its length), for a second at most: a server
 * held at max_connections does not accept.  A connection that completes
 * its handshake between that last look and the close is still reset,
 * unless net.ipv4.tcp_migrate_req hands it to another socket of the
 * group.
 */
static void
drain_own_queue(int fd)
{
	struct tcp_info ti;
	socklen_t len;
	int n;

	for (n = 0; n < 200; n++) {
		len = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
		    ti.tcpi_unacked == 0)
			return;
		if (weft_sleep(5) != 0)
			return;
	}
}

/* Graceful stop: no new connections, in-flight ones get
 * shutdown_timeout, then they are aborted. */
static void
stop_fiber(void *arg)
{
	const struct conf *c = W.args->conf;
	size_t i, live = 0;
	int rc = 0;

	/* First, so that handlers hear of it before shutdown_timeout counts
	 * (each hook runs on a fiber of its own). */
	for (i = 0; i < c->nplugins; i++)
		plugin_stop(W.plugins[i]);
	for (i = 0; i < W.nls; i++)
		if (W.ls[i].l->kind == CONF_LISTEN_TCP && W.ls[i].l->reuse_port)
			drain_own_queue(W.args->fds[i]);
	/* Each server takes what is already queued and closes its copy of
	 * the socket; the inherited copy goes right after, so that once the
	 * supervisor and every worker are done, the socket is gone: new
	 * clients are refused, rather than queued where nobody accepts
	 * them and reset when the last copy closes. */
	for (i = 0; i < W.nls; i++) {
		weft_server_close(W.ls[i].srv);
		close(W.args->fds[i]);
	}
	for (i = 0; i < W.nls; i++)
		live += weft_server_connections(W.ls[i].srv);
	log_debug("stopping: %zu connection(s) in flight", live);
	weft_deadline_set((uint64_t)(c->shutdown_timeout * 1000));
	for (i = 0; i < W.nls && rc == 0; i++)
		rc = weft_server_wait_closed(W.ls[i].srv);
	weft_deadline_clear();
	if (rc != 0) {
		live = 0;
		for (i = 0; i < W.nls; i++)
			live += weft_server_connections(W.ls[i].srv);
		log_warnx("shutdown_timeout (%gs) passed: aborting %zu "
			  "connection(s)",
		    c->shutdown_timeout, live);
		for (i = 0; i < W.nls; i++)
			weft_server_abort_clients(W.ls[i].srv);
		weft_deadline_set(1000);
		for (i = 0; i < W.nls; i++)
			weft_server_wait_closed(W.ls[i].srv);
		weft_deadline_clear();
	}
	unload_plugins();
	worker_tls_free(W.tls);
	W.tls = NULL;
	alog_stop();
	uv_stop(&W.loop);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	switch (signum) {
	case SIGTERM:
	case SIGINT:
		if (W.stopping)
			return;
		W.stopping = 1;
		if (!W.booted) /* plugins are still starting: after that */
			return;
		if (getppid() != W.args->supervisor)
			log_warnx("the supervisor (pid %ld) is gone: no new "
				  "connections, finishing the current ones",
			    (long)W.args->supervisor);
		uv_timer_stop(&W.heartbeat);
		W.args->stats->heartbeat = 0; /* not watched while draining */
		balance_stop();
		if (weft_spawn(stop_fiber, NULL, NULL) != 0)
			_exit(1);
		break;
	case SIGQUIT:
		_exit(0);
	case SIGUSR1:
		log_reopen();
		break;
	}
}

static void
signal_start(uv_signal_t *h, int signum)
{
	uv_signal_init(&W.loop, h);
	uv_signal_start(h, on_signal, signum);
	uv_unref((uv_handle_t *)h);
}

static int
load_plugins(const struct conf *c, int index)
{
	char *cause = NULL;
	size_t i;

	W.plugins = xcalloc(c->nplugins, sizeof(*W.plugins));
	for (i = 0; i < c->nplugins; i++) {
		if (plugin_load(&c->plugins[i], &W.plugins[i], &cause) != 0 ||
		    plugin_init(W.plugins[i], c->file, index, &cause) != 0) {
			log_lines(WEFT_LOG_ERR,
			    cause != NULL ? cause : "plugin failed");
			free(cause);
			return -1;
		}
		log_debug("plugin \"%s\" (type %s) ready", c->plugins[i].name,
		    W.plugins[i]->p_desc->name);
	}
	return 0;
}

static int
load_tls(const struct conf *c, const weft_tls_ticket_key_t *keys)
{
	char *cause = NULL;

	if (worker_tls_new(c, keys, &W.tls, &cause) == 0)
		return 0;
	log_lines(WEFT_LOG_ERR, cause != NULL ? cause : "TLS failed");
	free(cause);
	return -1;
}

static struct plugin *
plugin_of(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nplugins; i++)
		if (config_name_eq(c->plugins[i].name, name))
			return W.plugins[i];
	return NULL;
}

/* A listener with a TLS profile: its context, its handshake timeout. */
static void
tls_opts(const struct conf_listener *l, const struct conf *c,
    weft_stream_opts_t *opts)
{
	if (l->tls_index < 0)
		return;
	opts->ssl = worker_tls_ctx(W.tls, l->tls_index);
	opts->ssl_handshake_timeout_ms =
	    (int)(c->tls[l->tls_index].handshake_timeout * 1000);
}

static int
start_servers(const struct conf *c)
{
	weft_stream_opts_t opts;
	size_t i;
	int fd, rc;

	W.nls = c->nlisteners;
	W.ls = xcalloc(W.nls, sizeof(*W.ls));
	alog_start(&W.loop, c, W.args->alog_fds, W.args->report_fd);
	for (i = 0; i < W.nls; i++) {
		W.ls[i].l = &c->listeners[i];
		W.ls[i].plugin = plugin_of(c, c->listeners[i].plugin);
		if (W.ls[i].plugin == NULL) {
			log_warnx("listener %s: no plugin %s",
			    c->listeners[i].address, c->listeners[i].plugin);
			return -1;
		}
		memset(&opts, 0, sizeof(opts));
		opts.limit = c->listeners[i].limit;
		opts.backlog = c->listeners[i].backlog;
		opts.max_connections = (size_t)c->listeners[i].max_connections;
		/* 0 turns it off; libweft's 0 is its default. */
		opts.send_timeout_ms = c->listeners[i].send_timeout > 0
		    ? (int)(c->listeners[i].send_timeout * 1000 + 0.5)
		    : -1;
		/* A few accepts per wakeup: siblings share a burst. */
		opts.accept_batch = 8;
		opts.callback_mode = (W.ls[i].plugin->p_desc->flags &
					 WEFT_PLUGIN_CALLBACK) != 0;
		tls_opts(&c->listeners[i], c, &opts);
		/* weft owns the fd it is given; the inherited one stays. */
		if ((fd = dup(W.args->fds[i])) < 0) {
			log_warn("dup");
			return -1;
		}
		rc = weft_start_server_fd(handle, &W.ls[i], fd, &opts,
		    &W.ls[i].srv);
		/* Set before this fiber waits: it covers every connection. */
		if (rc == 0 && c->listeners[i].proxy_protocol)
			rc = weft_server_set_proxy_protocol(W.ls[i].srv,
			    (int)(c->listeners[i].proxy_protocol_timeout *
				1000));
		if (rc != 0) {
			log_warnx("listener %s: %s", c->listeners[i].address,
			    weft_strerror(rc));
			return -1;
		}
		if (alog_of(i) != NULL)
			weft_server_set_on_close(W.ls[i].srv, alog_on_close,
			    alog_of(i));
	}
	return 0;
}

/*
 * Balanced accept (balance.c) on the sockets every worker shares; a
 * reuse_port socket is this worker's alone, whose clients nobody else
 * could take: never held, but its connections count in the load.
 */
static void
balance_begin(const struct worker_args *a, uint64_t stale_ms)
{
	size_t i;

	W.srvs = xcalloc(W.nls + 1, sizeof(*W.srvs));
	W.shared = xcalloc(W.nls + 1, sizeof(*W.shared));
	for (i = 0; i < W.nls; i++) {
		W.srvs[i] = W.ls[i].srv;
		W.shared[i] = !(W.ls[i].l->kind == CONF_LISTEN_TCP &&
		    W.ls[i].l->reuse_port);
	}
	balance_start(&W.loop, a->balance, a->index, W.srvs, W.shared, W.nls,
	    stale_ms);
}

void
worker_main(const struct worker_args *a)
{
	const struct conf *c = a->conf;
	char role[32];
	char r = REPORT_READY;
	uint64_t tick;

	W.args = a;
	snprintf(role, sizeof(role), "worker %d", a->index);
	log_procinit(role);
	if (uv_loop_init(&W.loop) != 0 || weft_init(&W.loop) != 0)
		fatalx("cannot create the event loop");
	weft_fiber_stack_size_set(c->fiber_stack);
	if (c->fiber_stacks_shared && weft_fiber_stacks_shared(1) < 0)
		log_warnx("fiber_stacks = shared is not available on this "
			  "CPU; using private stacks");
	signal_start(&W.sig_term, SIGTERM);
	signal_start(&W.sig_int, SIGINT);
	signal_start(&W.sig_quit, SIGQUIT);
	signal_start(&W.sig_usr1, SIGUSR1);
	abort_report_install();
	weft_metrics_set_source(metrics_read);

	/* Plugin init runs on a fiber, the loop turning (loader_run.c), and
	 * may see SIGTERM come: it is acted on once the worker is up. */
	if (load_plugins(c, a->index) != 0 || load_tls(c, a->tickets) != 0 ||
	    start_servers(c) != 0) {
		log_warnx("worker cannot start");
		exit(WORKER_EXIT_BOOT);
	}
	W.booted = 1;

	tick = heartbeat_tick_ms(c);
	if (c->accept_balance)
		balance_begin(a, 2 * tick + 100);
	a->stats->heartbeat = weftd_now_ms();
	uv_timer_init(&W.loop, &W.heartbeat);
	uv_timer_start(&W.heartbeat, on_heartbeat, tick, tick);
	uv_unref((uv_handle_t *)&W.heartbeat);

	if (write(a->report_fd, &r, 1) != 1)
		fatal("cannot report to the supervisor");
	log_debug("accepting on %zu listener(s)", W.nls);
	if (W.stopping) {
		W.stopping = 0;
		on_signal(&W.sig_term, SIGTERM);
	}

	uv_run(&W.loop, UV_RUN_DEFAULT);
	/* What the last connections counted, for the supervisor to keep
	 * (metrics.h): the heartbeat stopped with the drain. */
	stats_publish();
	exit(0);
}

/* ---- Checks ------------------------------------------------------------ */

struct check {
	const struct conf *c;
	int failed;
	int errfd; /* where the error lines go too (the probe's), or -1 */
};

/* An error of the check: logged, and for a reload probe also written to
 * errfd for the supervisor to hand to `weftd -s reload`. */
static void
check_fail(struct check *ck, const char *text)
{
	size_t len = strlen(text);

	log_lines(WEFT_LOG_ERR, text);
	ck->failed = 1;
	if (ck->errfd >= 0 && write(ck->errfd, text, len) == (ssize_t)len)
		(void)!write(ck->errfd, "\n", 1);
}

/*
 * libweft's TLS handshake and PROXY header run on the connection's
 * fiber, which a callback-mode plugin does not have: a listener pairing
 * the two could only fail to start in every worker.
 */
static void
check_cb_tls(struct check *ck, const struct plugin *p)
{
	const struct conf *c = ck->c;
	const struct conf_listener *l;
	char *cause = NULL;
	size_t i;

	if ((p->p_desc->flags & WEFT_PLUGIN_CALLBACK) == 0)
		return;
	for (i = 0; i < c->nlisteners; i++) {
		l = &c->listeners[i];
		if ((l->tls_index < 0 && !l->proxy_protocol) ||
		    !config_name_eq(l->plugin, p->p_conf->name))
			continue;
		cause_set(&cause,
		    "%s:%d: listener %s: %s: plugin \"%s\" runs in callback "
		    "mode, which has no fiber for the %s",
		    l->file, l->line, l->address,
		    l->tls_index >= 0 ? "tls" : "proxy_protocol",
		    p->p_conf->name,
		    l->tls_index >= 0 ? "TLS handshake" : "PROXY header");
		check_fail(ck, cause);
		free(cause);
	}
}

static int
check_main(void *arg)
{
	struct check *ck = arg;
	const struct conf *c = ck->c;
	struct worker_tls *wt = NULL;
	struct plugin **ps;
	char *cause = NULL;
	size_t i;

	/* All at once, as a worker has them: instances share their .so. */
	ps = xcalloc(c->nplugins + 1, sizeof(*ps));
	for (i = 0; i < c->nplugins; i++) {
		if (plugin_load(&c->plugins[i], &ps[i], &cause) != 0 ||
		    plugin_init(ps[i], c->file, 0, &cause) != 0) {
			check_fail(ck, cause != NULL ? cause : "plugin failed");
			free(cause);
			cause = NULL;
		}
		if (ps[i] != NULL)
			check_cb_tls(ck, ps[i]);
	}
	for (i = c->nplugins; i-- > 0;)
		plugin_unload(&ps[i]);
	free(ps);
	if (worker_tls_new(c, NULL, &wt, &cause) != 0) {
		check_fail(ck, cause != NULL ? cause : "TLS failed");
		free(cause);
	}
	worker_tls_free(wt);
	return 0;
}

int
worker_check_plugins(const struct conf *c)
{
	return worker_check_plugins_fd(c, -1);
}

int
worker_check_plugins_fd(const struct conf *c, int errfd)
{
	struct check ck = { c, 0, errfd };

	if (weft_run(check_main, &ck) != 0)
		return -1;
	return ck.failed ? -1 : 0;
}
