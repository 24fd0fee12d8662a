/*
 * A plugin's code outside its handlers, on fibers: init, stop and fini
 * run on a fiber in a worker, in `weftd -t` and in the reload probe
 * alike, and the fibers init and stop spawn (and theirs) are the
 * instance's, cancelled and waited for before fini and before its code
 * is unloaded, so none runs after its plugin is gone.
 */
#include "autoconf.h"

#include <errno.h>
#include <stddef.h>

#include <uv.h>
#include <weft/weft.h>

#include "config.h"
#include "loader.h"
#include "log.h"

struct on_fiber {
	void (*fn)(void *);
	void *arg;
	int done;
};

static void
on_fiber_main(void *arg)
{
	struct on_fiber *o = arg;

	o->fn(o->arg);
	o->done = 1;
}

/*
 * fn(arg) on a fiber: the running one, or a new one with the loop run
 * until it returns (a worker loads its plugins before its loop runs).
 * Without a scheduler (the loader's unit tests) fn runs here.  0, or
 * -ENOMEM if no fiber could be made (fn did not run).
 */
static int
on_fiber(void (*fn)(void *), void *arg)
{
	struct on_fiber o = { fn, arg, 0 };
	uv_loop_t *loop = weft_loop();
	weft_fiber_t *f;

	if (weft_current() != NULL || loop == NULL) {
		fn(arg);
		return 0;
	}
	if (weft_spawn(on_fiber_main, &o, &f) != 0)
		return -ENOMEM;
	while (!o.done) {
		/* Nothing left that could wake it: init waits for what
		 * cannot happen.  Its wait returns WEFT_ECANCELED. */
		if (uv_run(loop, UV_RUN_ONCE) == 0 && !o.done)
			(void)weft_cancel(f);
	}
	weft_join(f);
	return 0;
}

struct call {
	struct plugin *p;
	weft_plugin_ctx_t *ctx;
	void **state;
	int rc;
};

/* The running fiber named after the instance while its code runs: a
 * stack overflow report names the plugin.  Returns the old name. */
static const char *
name_push(const struct plugin *p)
{
	const char *old = weft_fiber_name(weft_current());

	weft_fiber_set_name(weft_current(), p->p_conf->name);
	return old;
}

static void
call_init(void *arg)
{
	struct call *c = arg;
	weft_fiber_group_t *prev;
	const char *old = name_push(c->p);

	prev = weft_fiber_group_enter(c->p->p_group);
	c->rc = c->p->p_desc->init(c->ctx, c->state);
	weft_fiber_group_enter(prev);
	weft_fiber_set_name(weft_current(), old);
}

static void
call_end(void *arg)
{
	struct plugin *p = arg;
	int rc;

	if ((rc = weft_fiber_group_cancel(p->p_group)) != 0)
		log_warnx("plugin \"%s\": its fibers did not end: %s",
		    p->p_conf->name, weft_strerror(rc));
}

static void
call_fini(void *arg)
{
	struct call *c = arg;
	const char *old;

	call_end(c->p);
	old = name_push(c->p);
	if (c->p->p_desc->fini != NULL)
		c->p->p_desc->fini(*c->state);
	weft_fiber_set_name(weft_current(), old);
}

int
plugin_run_init(struct plugin *p, weft_plugin_ctx_t *ctx, void **state)
{
	struct call c = { p, ctx, state, 0 };
	int rc;

	if (p->p_desc->init == NULL)
		return 0;
	if (p->p_group == NULL && (rc = weft_fiber_group_new(&p->p_group)) != 0)
		return rc;
	if ((rc = on_fiber(call_init, &c)) != 0)
		return rc;
	if (c.rc < 0)
		plugin_run_end(p);
	return c.rc;
}

void
plugin_run_fini(struct plugin *p, void *state)
{
	struct call c = { p, NULL, &state, 0 };

	if (on_fiber(call_fini, &c) != 0)
		log_warnx("plugin \"%s\": no memory for a fiber to run fini",
		    p->p_conf->name);
}

size_t
plugin_run_end(struct plugin *p)
{
	size_t left;

	if (p->p_group == NULL)
		return 0;
	if (weft_fiber_group_count(p->p_group) > 0)
		(void)on_fiber(call_end, p);
	if ((left = weft_fiber_group_count(p->p_group)) > 0)
		return left; /* the group stays: its fibers point to it */
	weft_fiber_group_free(p->p_group);
	p->p_group = NULL;
	return 0;
}

typedef void (*stop_fn)(void *state);

/* The stop hook, if the descriptor is new enough to have one. */
static stop_fn
stop_hook(const struct weft_plugin_desc *d)
{
	if (d->abi_minor < 3 ||
	    d->struct_size <
		offsetof(struct weft_plugin_desc, stop) + sizeof(d->stop))
		return NULL;
	return d->stop;
}

static void
call_stop(void *arg)
{
	struct plugin *p = arg;

	(void)name_push(p);
	stop_hook(p->p_desc)(p->p_state);
}

void
plugin_stop(struct plugin *p)
{
	weft_fiber_group_t *prev;

	if (p == NULL || !p->p_inited || p->p_stopped)
		return;
	p->p_stopped = 1;
	if (stop_hook(p->p_desc) == NULL)
		return;
	if (p->p_group == NULL && weft_fiber_group_new(&p->p_group) != 0)
		return;
	prev = weft_fiber_group_enter(p->p_group);
	if (weft_spawn(call_stop, p, NULL) != 0)
		log_warnx("plugin \"%s\": no memory for its stop hook",
		    p->p_conf->name);
	weft_fiber_group_enter(prev);
}
