/*
 * Generations and reloads (reload.h).  Every step returns where the
 * reload is at; the supervisor tells systemd and the waiting control
 * clients.
 */
#include "autoconf.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "balance.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "tls_files.h"
#include "util.h"

void
gens_init(struct gens *G, struct procs *pt, struct listeners *L,
    const char *conffile)
{
	memset(G, 0, sizeof(*G));
	G->conffile = conffile;
	G->probe_errfd = -1;
	G->pt = pt;
	G->L = L;
}

static struct gen *
gen_new(struct gens *G, struct conf *c)
{
	struct gen *g = xcalloc(1, sizeof(*g));

	g->id = ++G->ids;
	g->conf = c;
	g->nslots = c->workers;
	g->slots = xcalloc(MAX_WORKERS, sizeof(*g->slots));
	g->bal = balance_new();
	return g;
}

static void
gen_free(struct gens *G, struct gen *g)
{
	if (g == NULL)
		return;
	lset_free(G->L, &g->ls);
	free(g->slots);
	balance_free(g->bal);
	config_free(g->conf);
	free(g);
}

/*
 * A generation that drains until its last worker exits.  Reloads may come
 * faster than old workers finish their connections (up to
 * shutdown_timeout each), so there is no fixed number of them: a
 * generation that could not be tracked would never be freed, and its
 * listening sockets would leak.
 */
static void
old_add(struct gens *G, struct gen *g)
{
	struct gen **pp;

	for (pp = &G->old; *pp != NULL; pp = &(*pp)->older)
		;
	g->older = NULL;
	*pp = g;
}

int
gens_first(struct gens *G, struct conf *c, char **cause)
{
	G->cur = gen_new(G, c);
	return lset_bind(G->L, &G->cur->ls, c, G->cur->nslots, NULL, cause);
}

int
gens_reloading(const struct gens *G)
{
	return G->next != NULL || G->probe != 0;
}

static enum reload_state failed(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The reload failed for the lines of text: msg is "what: " and the first
 * line, then every line, so a client shows each error line as it is. */
static enum reload_state
failed_lines(char *msg, size_t size, const char *what, const char *text)
{
	return failed(msg, size, "%s: %.*s\n%s", what, (int)strcspn(text, "\n"),
	    text, text);
}

/* The probe's error lines, read once it has exited; NULL if none. */
static char *
probe_errors(struct gens *G)
{
	char *buf;
	ssize_t n;
	size_t len = 0;

	if (G->probe_errfd < 0)
		return NULL;
	buf = xmalloc(RELOAD_MSG_MAX);
	while (len < RELOAD_MSG_MAX - 1 &&
	    (n = read(G->probe_errfd, buf + len, RELOAD_MSG_MAX - 1 - len)) > 0)
		len += (size_t)n;
	close(G->probe_errfd);
	G->probe_errfd = -1;
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	if (len == 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The reload failed: msg says why. */
static enum reload_state
failed(char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return RELOAD_FAILED;
}

enum reload_state
reload_start(struct gens *G, char *msg, size_t size)
{
	struct conf *c = NULL;
	char *cause = NULL;
	pid_t pid;

	if (gens_reloading(G)) {
		/* The file may have changed since this reload read it: read
		 * it again once this one is done, or the change is lost. */
		log_info("reload already in progress: will reload again when "
			 "it is done");
		G->again = 1;
		return RELOAD_QUEUED;
	}
	log_info("reloading %s", G->conffile);
	notify_reloading();
	if (config_load_flags(G->conffile, CONF_LOAD_SYSTEM, &c, &cause) != 0) {
		log_warnx("reload failed, keeping generation %d:", G->cur->id);
		log_lines(WEFT_LOG_WARNING, cause != NULL ? cause : "?");
		failed_lines(msg, size, "config", cause != NULL ? cause : "?");
		free(cause);
		return RELOAD_FAILED;
	}
	if (c->warnings != NULL)
		log_lines(WEFT_LOG_WARNING, c->warnings);
	if (tls_files_read(c, tls_files_owner(c), &cause) != 0) {
		log_warnx("reload failed, keeping generation %d:", G->cur->id);
		log_lines(WEFT_LOG_WARNING, cause);
		failed_lines(msg, size, "tls", cause);
		free(cause);
		config_free(c);
		return RELOAD_FAILED;
	}
	/* Plugins are loaded and initialised in a throwaway process first:
	 * the supervisor never runs plugin code. */
	if ((pid = procs_probe(G->pt, c, &G->probe_errfd)) < 0) {
		config_free(c);
		return failed(msg, size, "fork failed");
	}
	G->probe = pid;
	G->probe_conf = c;
	return RELOAD_RUNNING;
}

enum reload_state
reload_probed(struct gens *G, int status, int stopping, char *msg, size_t size)
{
	struct conf *c = G->probe_conf;
	struct gen *g;
	char *cause = NULL, *errs;
	int i;

	G->probe = 0;
	G->probe_conf = NULL;
	errs = probe_errors(G);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_warnx("reload failed (plugin check), keeping generation %d",
		    G->cur->id);
		config_free(c);
		if (errs != NULL)
			failed_lines(msg, size, "plugin check", errs);
		else
			failed(msg, size,
			    "a plugin or a TLS profile failed to load (see the "
			    "log)");
		free(errs);
		return RELOAD_FAILED;
	}
	free(errs);
	if (stopping) {
		config_free(c);
		return failed(msg, size, "stopping");
	}
	g = gen_new(G, c);
	if (lset_bind(G->L, &g->ls, c, g->nslots, &G->cur->ls, &cause) != 0) {
		log_warnx("reload failed, keeping generation %d: %s",
		    G->cur->id, cause != NULL ? cause : "bind failed");
		failed(msg, size, "%s", cause != NULL ? cause : "bind failed");
		free(cause);
		gen_free(G, g);
		return RELOAD_FAILED;
	}
	log_setlevel(c->log_level);
	G->next = g;
	g->on_trial = 1;
	for (i = 0; i < g->nslots; i++)
		procs_spawn(G->pt, g, i);
	return RELOAD_RUNNING;
}

enum reload_state
reload_check(struct gens *G, char *msg, size_t size)
{
	struct gen *old = G->cur;
	int ready;

	if (G->next == NULL)
		return RELOAD_RUNNING;
	if (procs_count(G->pt, G->next, &ready) != G->next->nslots ||
	    ready != G->next->nslots)
		return RELOAD_RUNNING;
	/* The new generation is up: retire the current one. */
	G->cur = G->next;
	G->cur->on_trial = 0;
	G->next = NULL;
	old->draining = 1;
	/* A draining generation is never respawned: the supervisor's copies
	 * of its sockets go now, before its workers are told to stop, so that
	 * a listener the new file removed (or a reuse_port slot it no longer
	 * has) closes once those workers have closed theirs.  What the new
	 * generation kept, it holds dups of. */
	lset_close(G->L, &old->ls);
	procs_signal(G->pt, old, SIGTERM, 1);
	old_add(G, old);
	log_info("reload complete: generation %d serving with %d worker(s)",
	    G->cur->id, G->cur->nslots);
	snprintf(msg, size, "generation %d ready", G->cur->id);
	return RELOAD_DONE;
}

enum reload_state
reload_abort(struct gens *G, char *msg, size_t size)
{
	struct gen *g = G->next;

	/* The probe passed but a new worker did not come up: keep serving
	 * with the current generation. */
	log_warnx("reload failed: a worker of generation %d did not start; "
		  "keeping generation %d",
	    g->id, G->cur->id);
	G->next = NULL;
	g->draining = 1;
	g->on_trial = 0;
	lset_close(G->L, &g->ls);
	procs_signal(G->pt, g, SIGKILL, 1);
	old_add(G, g);
	return failed(msg, size, "a new worker did not start (see the log)");
}

void
gens_collect(struct gens *G)
{
	struct gen **pp, *g;

	for (pp = &G->old; (g = *pp) != NULL;) {
		if (procs_count(G->pt, g, NULL) > 0) {
			pp = &g->older;
			continue;
		}
		log_debug("generation %d drained", g->id);
		*pp = g->older;
		gen_free(G, g);
	}
}

void
gens_stop_listening(struct gens *G)
{
	struct gen *g;

	if (G->next != NULL)
		lset_close(G->L, &G->next->ls);
	for (g = G->old; g != NULL; g = g->older)
		lset_close(G->L, &g->ls);
	lset_close(G->L, &G->cur->ls);
}

void
gens_free(struct gens *G)
{
	struct gen *g;

	gen_free(G, G->next);
	G->next = NULL;
	while ((g = G->old) != NULL) {
		G->old = g->older;
		gen_free(G, g);
	}
	gen_free(G, G->cur);
	G->cur = NULL;
}
