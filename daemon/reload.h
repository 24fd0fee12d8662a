/*
 * Generations and reloads.  The current generation serves; a reload
 * (SIGHUP, `weftd -s reload`) parses the config, runs every plugin's
 * init in a throwaway probe process, binds the new generation's
 * listeners (a socket whose address did not change is handed over, so
 * nothing queued on it is lost), starts its workers, and only when all
 * of them have reported READY asks the old ones to drain.  Draining
 * generations are freed when their last worker has exited.
 */
#ifndef WEFTD_RELOAD_H
#define WEFTD_RELOAD_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "listeners.h"
#include "procs.h"

struct gens {
	const char *conffile;
	struct gen *cur;  /* serving, or being replaced */
	struct gen *next; /* reload in progress */
	struct gen *old;  /* draining generations, by gen->older */
	int ids;	  /* the last generation's id */
	pid_t probe;	  /* reload probe child, 0 = none */
	struct conf *probe_conf;
	int probe_errfd; /* its error lines, -1 = none */
	int again;	 /* asked again meanwhile: reload once more */
	struct procs *pt;
	struct listeners *L;
};

/*
 * The room a reload's result message needs: a failure's is a summary
 * line ("config: " and the first error) followed by every error line,
 * which `weftd -s reload` prints.
 */
#define RELOAD_MSG_MAX 16384

/* Where a reload is at, after each of its steps. */
enum reload_state {
	RELOAD_QUEUED,	/* one is running: it runs again after */
	RELOAD_RUNNING, /* wait for the probe, then the workers */
	RELOAD_FAILED,	/* msg says why; the current one serves */
	RELOAD_DONE,	/* msg: the new generation serves */
};

void gens_init(struct gens *G, struct procs *pt, struct listeners *L,
    const char *conffile);

/* The first generation, for c: its listeners bound (its workers are
 * started later, with procs_spawn).  -1 with *cause. */
int gens_first(struct gens *G, struct conf *c, char **cause);

/* Is a reload under way (probe or new workers)? */
int gens_reloading(const struct gens *G);

/* Start a reload. */
enum reload_state reload_start(struct gens *G, char *msg, size_t size);

/* The probe ended with status; stopping: do not go on. */
enum reload_state reload_probed(struct gens *G, int status, int stopping,
    char *msg, size_t size);

/* Are the new workers all ready?  Then the old ones drain. */
enum reload_state reload_check(struct gens *G, char *msg, size_t size);

/* A new worker did not start: the new generation goes. */
enum reload_state reload_abort(struct gens *G, char *msg, size_t size);

/* Free the draining generations whose workers are all gone. */
void gens_collect(struct gens *G);

/* Close every generation's listening sockets (stopping). */
void gens_stop_listening(struct gens *G);

/* Free every generation (at exit). */
void gens_free(struct gens *G);

#endif /* WEFTD_RELOAD_H */
