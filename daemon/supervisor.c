/*
 * The supervisor's poll loop (supervisor.h): signals, timers (respawns,
 * heartbeats, systemd) and the control socket's commands, over the
 * roles that own the state: listeners.c (the listening sockets),
 * procs.c (the process table) and reload.c (the generations).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include <weft/plugin.h>

#include "accesslog.h"
#include "control.h"
#include "listeners.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "privs.h"
#include "procs.h"
#include "reload.h"
#include "stats.h"
#include "supervisor.h"
#include "tls_files.h"
#include "upgrade.h"
#include "util.h"
#include "worker.h"

#define STOP_GRACE_MS 5000 /* past shutdown_timeout -> SIGKILL */

/* The loop's own state, and each role's, which it passes by pointer. */
struct sup {
	struct listeners L;
	struct procs pt;
	struct gens G;
	struct ctl_server ctl;
	struct upgrade up; /* a binary upgrade under way */
	int sigpipe[2];
	int lock_fd;  /* control_lock(), held while we run */
	int stopping; /* TERM/INT/QUIT received, or given up */
	uint64_t stop_deadline;
	int exit_code;
	uint64_t started;
	/* systemd */
	int ready_sent; /* READY=1 after start or reload */
	uint64_t watchdog_ms;
	uint64_t last_watchdog;
	uint64_t last_status;
	uint64_t last_extend;
};

/* The write end of the self-pipe, for the signal handler. */
static int sig_fd = -1;

static void do_reload(struct sup *s);

/* ---- Signals ------------------------------------------------------------ */

static void
on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int saved = errno;

	(void)!write(sig_fd, &c, 1);
	errno = saved;
}

static void
signals_init(struct sup *s)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
		SIGUSR2, SIGTTIN, SIGTTOU, SIGCHLD };
	struct sigaction sa;
	size_t i;

	if (pipe2(s->sigpipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe");
	sig_fd = s->sigpipe[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- systemd and reload results ----------------------------------------- */

static void
send_status(struct sup *s)
{
	int ready = 0, n = procs_count(&s->pt, s->G.cur, &ready);
	struct stats_sum sum;
	char totals[256] = "";

	procs_sum(&s->pt, &sum);
	stats_format_totals(totals, sizeof(totals), &sum);
	notify_send("STATUS=generation %d, %d/%d worker(s) ready%s",
	    s->G.cur->id, ready, n, totals);
}

/* A reload ended (ok or not, msg says how): tell systemd and the
 * clients waiting for it, or run the one asked for meanwhile. */
static void
reload_done(struct sup *s, int ok, const char *msg)
{
	char *line = NULL;

	if (ok)
		s->pt.metrics.reloads_ok++;
	else
		s->pt.metrics.reloads_failed++;
	/* After RELOADING=1 systemd waits for READY=1, success or not. */
	notify_send("READY=1");
	s->ready_sent = 1;
	send_status(s);
	if (s->G.again && !s->stopping) {
		/* A reload was asked for meanwhile: the clients waiting for
		 * a reply get the one of that reload. */
		s->G.again = 0;
		do_reload(s);
		return;
	}
	s->G.again = 0;
	cause_set(&line, "%s %s\n",
	    ok ? "OK reloaded:" : "ERR reload failed:", msg);
	control_reply_waiting(&s->ctl, CTL_WAIT_RELOAD, line);
	free(line);
}

static void
reload_result(struct sup *s, enum reload_state st, const char *msg)
{
	if (st == RELOAD_FAILED || st == RELOAD_DONE)
		reload_done(s, st == RELOAD_DONE, msg);
}

static void
do_reload(struct sup *s)
{
	enum reload_state st;
	char msg[RELOAD_MSG_MAX];

	if (s->stopping)
		return;
	if (s->up.pid != 0) {
		log_warnx("reload refused: an upgrade is in progress");
		reload_result(s, RELOAD_FAILED, "an upgrade is in progress");
		return;
	}
	st = reload_start(&s->G, msg, sizeof(msg));
	if (st == RELOAD_QUEUED)
		return;
	s->ready_sent = 0;
	reload_result(s, st, msg);
}

/* READY, STATUS, WATCHDOG and EXTEND_TIMEOUT, from the main loop. */
static void
systemd_tick(struct sup *s, uint64_t now)
{
	int ready = 0, n, all;

	n = procs_count(&s->pt, s->G.cur, &ready);
	all = !gens_reloading(&s->G) && n == s->G.cur->nslots && ready == n;
	if (upgrade_child_pending() != 0) {
		/* Started by an upgrade: systemd hears only its main process,
		 * the old supervisor until that one says MAINPID=, and the
		 * unit is active already. */
		if (all) {
			upgrade_child_ready();
			s->ready_sent = 1;
			s->last_status = now;
		}
		return;
	}
	if (!s->ready_sent && all) {
		notify_send("READY=1");
		s->ready_sent = 1;
		send_status(s);
		s->last_status = now;
	}
	if (!s->ready_sent && now - s->last_extend >= 1000) {
		/* Plugins are still initialising: ask for more time. */
		notify_send("EXTEND_TIMEOUT_USEC=%llu", 5000000ULL);
		s->last_extend = now;
	}
	if (now - s->last_status >= 5000) {
		send_status(s);
		s->last_status = now;
	}
	if (s->watchdog_ms != 0 &&
	    now - s->last_watchdog >= s->watchdog_ms / 2 &&
	    procs_alive(&s->pt, now)) {
		notify_send("WATCHDOG=1");
		s->last_watchdog = now;
	}
}

/* ---- Stopping ----------------------------------------------------------- */

/* Why the supervisor stops. */
enum stop_reason {
	STOP_DRAIN,   /* TERM, INT, `weftd -s stop`: workers finish */
	STOP_NOW,     /* QUIT: every worker is killed */
	STOP_GIVE_UP, /* a slot keeps failing: killed, exit 1 */
};

/*
 * The one way the supervisor stops, what (the signal's name, or why it
 * gives up) logged.  Once every worker and the probe are gone, the loop
 * frees everything and exits (shutdown_done).
 */
static void
stop(struct sup *s, enum stop_reason why, const char *what)
{
	uint64_t now = weftd_now_ms();
	double timeout = s->G.cur->conf->shutdown_timeout;

	if (why == STOP_DRAIN && s->stopping)
		return;
	if (upgrade_cancel(&s->up)) { /* nobody would hand over to it */
		log_warnx("upgrade cancelled: stopping");
		control_reply_waiting(&s->ctl, CTL_WAIT_UPGRADE,
		    "ERR upgrade failed: cancelled, weftd is stopping\n");
	}
	if (why == STOP_GIVE_UP) {
		log_warnx("giving up: %s", what);
		upgrade_child_fail(what); /* started by an upgrade: say why */
		s->exit_code = 1;
	} else {
		notify_send("STOPPING=1");
		if (why == STOP_NOW)
			log_info("%s: stopping now", what);
		else
			log_info("%s: stopping gracefully (up to %gs)", what,
			    timeout);
	}
	s->stopping = 1;
	if (why != STOP_DRAIN) {
		procs_signal(&s->pt, NULL, SIGKILL, 1);
		s->stop_deadline = now;
		return;
	}
	/* Nothing will be respawned: the supervisor's copies of the
	 * listening sockets go first, so that each closes as soon as the
	 * workers have taken what is queued on it and closed theirs. */
	gens_stop_listening(&s->G);
	s->stop_deadline = now + (uint64_t)(timeout * 1000) + STOP_GRACE_MS;
	procs_signal(&s->pt, NULL, SIGTERM, 1);
	if (s->G.probe != 0)
		kill(s->G.probe, SIGKILL);
}

static void __attribute__((noreturn)) shutdown_done(struct sup *s)
{
	if (upgrade_child_pending() != 0) {
		/* A new supervisor that never got ready: the paths are still
		 * its old supervisor's. */
		listeners_disown(&s->L);
		if (s->ctl.fd >= 0)
			close(s->ctl.fd);
		s->ctl.fd = -1;
	}
	gens_free(&s->G);
	control_close(&s->ctl);
	log_info("stopped");
	exit(s->exit_code);
}

/* ---- Binary upgrade ----------------------------------------------------- */

/* An upgrade ended: the new supervisor (pid) serves and this one drains,
 * or it failed and this one serves on. */
static void
upgrade_result(struct sup *s, enum upgrade_state st, const char *msg, pid_t pid)
{
	char *line = NULL;

	if (st == UPGRADE_RUNNING)
		return;
	if (st == UPGRADE_FAILED) {
		log_warnx("upgrade failed, still serving:");
		log_lines(WEFT_LOG_WARNING, msg);
		cause_set(&line, "ERR upgrade failed: %s\n", msg);
		control_reply_waiting(&s->ctl, CTL_WAIT_UPGRADE, line);
		free(line);
		return;
	}
	log_info("upgrade: %s; pid %ld drains and exits", msg, (long)getpid());
	notify_mainpid((long)pid);
	cause_set(&line, "OK upgraded: %s\n", msg);
	control_reply_waiting(&s->ctl, CTL_WAIT_UPGRADE, line);
	free(line);
	/* The paths and the control socket are the new supervisor's. */
	listeners_disown(&s->L);
	if (s->ctl.fd >= 0)
		close(s->ctl.fd);
	s->ctl.fd = -1;
	stop(s, STOP_DRAIN, "upgraded");
}

/* SIGUSR2 (cl NULL) or `weftd -s upgrade` (cl answered when it is done). */
static void
do_upgrade(struct sup *s, struct ctl_client *cl)
{
	char *cause = NULL, *line = NULL;

	if (s->up.pid == 0 && !s->stopping && !gens_reloading(&s->G) &&
	    upgrade_start(&s->up, &s->G.cur->ls, s->ctl.fd, s->lock_fd,
		&cause) != 0) {
		log_warnx("upgrade failed, still serving: %s", cause);
	} else if (s->up.pid != 0) {
		if (cl != NULL)
			cl->waiting = CTL_WAIT_UPGRADE;
		return;
	} else
		cause_set(&cause, "%s",
		    s->stopping ? "stopping" : "a reload is in progress");
	if (cl != NULL) {
		cause_set(&line, "ERR upgrade failed: %s\n", cause);
		control_reply(cl, line);
	}
	free(line);
	free(cause);
}

/* ---- Children ----------------------------------------------------------- */

static void
reap(struct sup *s)
{
	enum proc_exit ex;
	struct proc *p;
	char why[128], msg[RELOAD_MSG_MAX];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->G.probe) {
			reload_result(s,
			    reload_probed(&s->G, status, s->stopping, msg,
				sizeof(msg)),
			    msg);
			continue;
		}
		if ((p = procs_find(&s->pt, pid)) == NULL)
			continue;
		ex = procs_reaped(&s->pt, p, status, !s->stopping, why,
		    sizeof(why));
		if (ex == PROC_EXIT_GEN_FAILED)
			reload_result(s, reload_abort(&s->G, msg, sizeof(msg)),
			    msg);
		else if (ex == PROC_EXIT_GIVE_UP)
			stop(s, STOP_GIVE_UP, why);
	}
}

static void
handle_signals(struct sup *s)
{
	unsigned char sig;

	while (read(s->sigpipe[0], &sig, 1) == 1) {
		switch (sig) {
		case SIGCHLD:
			reap(s);
			break;
		case SIGTERM:
		case SIGINT:
			stop(s, STOP_DRAIN, strsignal(sig));
			break;
		case SIGQUIT:
			stop(s, STOP_NOW, "SIGQUIT");
			break;
		case SIGHUP:
			do_reload(s);
			break;
		case SIGUSR2:
			do_upgrade(s, NULL);
			break;
		case SIGUSR1:
			log_reopen();
			alog_reopen_all(&s->pt);
			procs_signal(&s->pt, NULL, SIGUSR1, 0);
			break;
		case SIGTTIN:
		case SIGTTOU:
			if (!s->stopping && s->G.next == NULL)
				procs_resize(&s->pt, s->G.cur,
				    sig == SIGTTIN ? 1 : -1);
			break;
		}
	}
}

/* ---- The control socket ------------------------------------------------- */

/* The plugin instances of generation g: each one's name, file and the
 * listeners it serves (its type is known only where it is loaded). */
static void
status_plugins(const struct gen *g, FILE *fp)
{
	const struct conf *c = g->conf;
	const struct conf_listener *l;
	size_t i, j;

	if (c->nplugins > 0)
		fprintf(fp, "plugin path listeners (generation %d)\n", g->id);
	for (i = 0; i < c->nplugins; i++) {
		fprintf(fp, "%s %s", c->plugins[i].name,
		    c->plugins[i].path != NULL ? c->plugins[i].path : "-");
		for (j = 0; j < c->nlisteners; j++) {
			l = &c->listeners[j];
			if (config_name_eq(l->plugin, c->plugins[i].name))
				fprintf(fp, " %s",
				    l->name[0] != '\0' ? l->name : l->address);
		}
		fputc('\n', fp);
	}
}

static void
ctl_status(struct sup *s, struct ctl_client *cl)
{
	char *buf = NULL, totals[256] = "";
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);
	uint64_t now = weftd_now_ms();
	struct stats_sum sum;

	if (fp == NULL) {
		control_reply(cl, "ERR out of memory\n");
		return;
	}
	procs_sum(&s->pt, &sum);
	stats_format_totals(totals, sizeof(totals), &sum);
	fprintf(fp,
	    "OK weftd %s, pid %ld, up %llus, generation %d, %d "
	    "worker(s)%s%s\n",
	    PACKAGE_VERSION, (long)getpid(),
	    (unsigned long long)((now - s->started) / 1000), s->G.cur->id,
	    s->G.cur->nslots, totals,
	    gens_reloading(&s->G) ? ", reloading"
		: s->up.pid != 0  ? ", upgrading"
				  : "");
	upgrade_status(fp);
	procs_print(&s->pt, fp, now);
	procs_print_tls(&s->pt, s->G.cur, fp);
	procs_print_alog(&s->pt, s->G.cur, fp);
	status_plugins(s->G.cur, fp);
	fclose(fp);
	control_send(cl, buf, size);
	free(buf);
}

/* `weftd -s status --json`: the metrics page, as fresh as can be. */
static void
ctl_status_json(struct sup *s, struct ctl_client *cl)
{
	struct metrics *m = &s->pt.metrics;
	size_t n;
	char *buf;

	if (m->page == NULL) {
		control_reply(cl, "ERR no metrics page (see the log)\n");
		return;
	}
	metrics_refresh(m, &s->pt, s->G.cur);
	n = metrics_format(m->page, METRICS_JSON, NULL, 0);
	buf = xmalloc(n + 4);
	memcpy(buf, "OK\n", 3);
	metrics_format(m->page, METRICS_JSON, buf + 3, n + 1);
	control_send(cl, buf, n + 3);
	free(buf);
}

static void
ctl_command(struct sup *s, struct ctl_client *cl, const char *cmd)
{
	if (strcmp(cmd, "status") == 0) {
		ctl_status(s, cl);
	} else if (strcmp(cmd, "status json") == 0) {
		ctl_status_json(s, cl);
	} else if (strcmp(cmd, "stop") == 0) {
		control_reply(cl, "OK stopping\n");
		stop(s, STOP_DRAIN, strsignal(SIGTERM));
	} else if (strcmp(cmd, "reload") == 0) {
		if (s->stopping) {
			control_reply(cl, "ERR stopping\n");
			return;
		}
		cl->waiting = CTL_WAIT_RELOAD;
		do_reload(s);
	} else if (strcmp(cmd, "upgrade") == 0) {
		do_upgrade(s, cl);
	} else {
		control_reply(cl,
		    "ERR unknown command (reload, upgrade, stop, status, "
		    "status json)\n");
	}
}

/* ---- Start -------------------------------------------------------------- */

/* Started as someone else than root (systemd's User=), nothing can be
 * switched: `user` and `group`, if set, must be who we already are. */
static void
check_unprivileged(const struct passwd *pw, const char *group, gid_t gid)
{
	if (pw != NULL && (pw->pw_uid != getuid() || pw->pw_uid != geteuid()))
		fatalx("cannot switch to user %s: weftd was started as uid "
		       "%ld, not as root; start it as %s (systemd: User=) or "
		       "as root",
		    pw->pw_name, (long)geteuid(), pw->pw_name);
	if (gid != getgid() || gid != getegid())
		fatalx("cannot switch to group %s (gid %ld): weftd was started "
		       "with gid %ld, not as root; start it with that group "
		       "(systemd: Group=) or as root",
		    group, (long)gid, (long)getegid());
}

/*
 * Become `user`/`group`.  As root that is setgroups, setgid and setuid,
 * which also empties every capability set.  Started as that user
 * already, it is a check (the supplementary groups stay those it was
 * started with: only root can change them).
 */
static void
drop_privileges(struct sup *s, const struct conf *c)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	gid_t gid;

	if (c->user == NULL && c->group == NULL)
		return;
	if (c->user != NULL && (pw = getpwnam(c->user)) == NULL)
		fatalx("unknown user %s", c->user);
	if (c->group != NULL && (gr = getgrnam(c->group)) == NULL)
		fatalx("unknown group %s", c->group);
	gid = gr != NULL ? gr->gr_gid : pw->pw_gid;
	if (geteuid() != 0)
		check_unprivileged(pw, gr != NULL ? gr->gr_name : pw->pw_name,
		    gid);
	else if (setgroups(1, &gid) != 0 || setgid(gid) != 0)
		fatal("cannot drop group privileges");
	else if (pw != NULL) {
		/* TLS keys are read again on reloads (privs.h). */
		if (c->ntls > 0)
			privs_keep_caps();
		if (setuid(pw->pw_uid) != 0)
			fatal("cannot drop user privileges");
	}
	snprintf(s->L.run_as, sizeof(s->L.run_as), "%s:%s",
	    c->user != NULL ? c->user : "-", c->group != NULL ? c->group : "-");
	log_info("running as %s:%s", c->user != NULL ? c->user : "-",
	    c->group != NULL ? c->group : "-");
}

/*
 * The listeners are bound: capabilities a non-root supervisor was given
 * for that (systemd's AmbientCapabilities=CAP_NET_BIND_SERVICE, file
 * capabilities, what setuid() from root kept) go, ambient, permitted,
 * effective and inheritable, so that neither it nor any worker it forks
 * holds one; but with TLS profiles, CAP_DAC_READ_SEARCH stays permitted
 * (not effective) for reading keys on a reload (privs.h), and every
 * child drops it.  Root without `user` stays root, as it always has.
 */
static void
drop_capabilities(struct sup *s, const struct conf *c)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	uint32_t held = 0;
	size_t i;
	int kept;

	if (geteuid() == 0)
		return;
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &hdr, data) != 0)
		fatal("capget");
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		held |= data[i].permitted | data[i].inheritable;
	if (held == 0)
		return;
	if ((kept = privs_drop(c->ntls > 0)) < 0)
		fatal("cannot drop capabilities");
	/* What a reload cannot bind or chown any more, sock.c says why. */
	if (s->L.run_as[0] == '\0')
		snprintf(s->L.run_as, sizeof(s->L.run_as), "uid %ld",
		    (long)geteuid());
	log_info("capabilities dropped%s",
	    kept ? " (but CAP_DAC_READ_SEARCH, permitted only, to read "
		   "TLS keys on a reload)"
		 : "");
}

/* One supervisor per control socket, found out before anything is bound
 * (or removed); and who may talk to it. */
static void
ctl_lock(struct sup *s, const struct conf *c)
{
	struct passwd *pw;
	char *cause = NULL;

	/* After an upgrade, the old supervisor's lock, which it shares. */
	if ((s->lock_fd = upgrade_child_lock()) < 0 &&
	    (s->lock_fd = control_lock(s->ctl.path, &cause)) == -2)
		fatalx("%s", cause != NULL ? cause : "already running");
	if (s->lock_fd < 0)
		/* Like the control socket itself, which it goes with. */
		log_warnx("cannot lock: %s; a second weftd with the same "
			  "control socket would not be detected",
		    cause != NULL ? cause : "?");
	free(cause);
	s->ctl.uids[0] = 0;
	s->ctl.uids[1] = geteuid();
	s->ctl.uids[2] = 0;
	if (c->user != NULL && (pw = getpwnam(c->user)) != NULL)
		s->ctl.uids[2] = pw->pw_uid;
}

static void
ctl_listen(struct sup *s)
{
	char *cause = NULL;

	if ((s->ctl.fd = upgrade_child_ctl()) >= 0)
		return; /* the old supervisor's, which it no longer polls */
	if ((s->ctl.fd = control_listen(s->ctl.path, &cause)) == -2)
		fatalx("%s", cause != NULL ? cause : "control socket in use");
	if (s->ctl.fd < 0)
		/* Serving matters more than being controllable. */
		log_warnx("%s; weftd -s will not reach this process",
		    cause != NULL ? cause : "control socket");
	free(cause);
}

static void
start(struct sup *s, struct conf *c, const char *conffile, const char *ctl_path)
{
	char *cause = NULL;
	int i;

	log_procinit("supervisor");
	s->started = weftd_now_ms();
	s->ctl.fd = -1;
	s->lock_fd = -1;
	s->watchdog_ms = notify_watchdog_ms();
	listeners_init(&s->L);
	upgrade_child_take(&s->L);
	procs_init(&s->pt, &s->L);
	gens_init(&s->G, &s->pt, &s->L, conffile);
	signals_init(s);
	s->ctl.path = ctl_path != NULL ? ctl_path : control_default_path();
	ctl_lock(s, c);
	if (tls_files_read(c, tls_files_owner(c), &cause) != 0) {
		log_lines(WEFT_LOG_ERR, cause);
		upgrade_child_fail(cause);
		fatalx("cannot read the TLS certificates and keys");
	}
	if (gens_first(&s->G, c, &cause) != 0) {
		upgrade_child_fail(cause != NULL ? cause : "cannot listen");
		fatalx("cannot listen: %s", cause != NULL ? cause : "?");
	}
	upgrade_child_release(&s->L);
	listeners_check_activation(&s->L, conffile);
	ctl_listen(s);
	drop_privileges(s, c);
	drop_capabilities(s, c);
	log_info("starting %d worker(s), generation %d", c->workers,
	    s->G.cur->id);
	for (i = 0; i < s->G.cur->nslots; i++)
		procs_spawn(&s->pt, s->G.cur, i);
}

/* ---- The loop ----------------------------------------------------------- */

/* What is due now; returns when the next respawn is (0: none). */
static uint64_t
tick(struct sup *s, uint64_t now)
{
	uint64_t next = 0;
	char msg[RELOAD_MSG_MAX];

	if (s->stopping) {
		if (procs_count(&s->pt, NULL, NULL) + (s->G.probe != 0) == 0)
			shutdown_done(s);
		if (now >= s->stop_deadline) {
			procs_signal(&s->pt, NULL, SIGKILL, 0);
			s->stop_deadline = now + 1000;
		}
	} else {
		procs_respawn_due(&s->pt, s->G.cur, now, &next);
		if (s->G.next != NULL) {
			procs_respawn_due(&s->pt, s->G.next, now, &next);
			reload_result(s, reload_check(&s->G, msg, sizeof(msg)),
			    msg);
		}
		procs_check_heartbeats(&s->pt, now);
		if (s->up.pid != 0) {
			pid_t pid = s->up.pid;

			upgrade_result(s,
			    upgrade_check(&s->up, now, msg, sizeof(msg)), msg,
			    pid);
		}
		tickets_tick(&s->pt.tickets, now,
		    s->G.cur->conf->tls_ticket_rotation);
		systemd_tick(s, now);
	}
	metrics_refresh(&s->pt.metrics, &s->pt, s->G.cur);
	gens_collect(&s->G);
	return next;
}

void
supervisor_main(struct conf *c, const char *conffile, const char *ctl_path)
{
	struct pollfd pfds[1 + MAX_PROCS + 1 + CTL_CLIENTS];
	int idx[MAX_PROCS];
	struct sup *s = xcalloc(1, sizeof(*s));
	struct pollfd *cfds;
	char cmd[128];
	uint64_t now, next;
	int n, nproc, timeout, k;

	start(s, c, conffile, ctl_path);
	for (;;) {
		next = tick(s, weftd_now_ms());
		pfds[0].fd = s->sigpipe[0];
		pfds[0].events = POLLIN;
		nproc = procs_pollfds(&s->pt, pfds + 1, idx);
		cfds = pfds + 1 + nproc;
		/* -1 is ignored by poll; during an upgrade the new supervisor
		 * answers. */
		cfds[0].fd = s->up.pid == 0 ? s->ctl.fd : -1;
		cfds[0].events = POLLIN;
		for (k = 0; k < CTL_CLIENTS; k++) {
			cfds[1 + k].fd = s->ctl.cl[k].fd > 0 ? s->ctl.cl[k].fd
							     : -1;
			cfds[1 + k].events = POLLIN;
		}
		n = 1 + nproc + 1 + CTL_CLIENTS;
		/* A respawn due sooner than the usual tick is not late. */
		timeout = 100;
		now = weftd_now_ms();
		if (next != 0 && next < now + 100)
			timeout = next <= now ? 0 : (int)(next - now);
		if (poll(pfds, (nfds_t)n, timeout) < 0) {
			if (errno != EINTR)
				fatal("poll");
			continue; /* no revents set: the self-pipe says */
		}
		if (pfds[0].revents != 0)
			handle_signals(s);
		procs_read_reports(&s->pt, pfds + 1, idx, nproc);
		for (k = 0; k < CTL_CLIENTS; k++)
			if (cfds[1 + k].revents != 0 &&
			    s->ctl.cl[k].fd == cfds[1 + k].fd &&
			    control_read(&s->ctl.cl[k], cmd, sizeof(cmd)))
				ctl_command(s, &s->ctl.cl[k], cmd);
		if (cfds[0].revents != 0)
			control_accept(&s->ctl);
	}
}
