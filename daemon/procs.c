/*
 * The process table (procs.h).  Workers do not exec: a child starts from
 * a copy of the supervisor, so each fork first leaves behind what the
 * supervisor holds (signal handlers, systemd's environment, every fd but
 * its own) before it runs a worker or the probe.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accesslog.h"
#include "balance.h"
#include "log.h"
#include "notify.h"
#include "privs.h"
#include "procs.h"
#include "util.h"
#include "worker.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define HEALTHY_MS 60000    /* up this long: the slot's backoff resets */
#define BOOT_FAILURES_MAX 5 /* consecutive failed boots of a slot */
#define KILL_GRACE_MS 5000  /* SIGABRT -> SIGKILL */

void
procs_init(struct procs *pt, struct listeners *L)
{
	int i;

	memset(pt, 0, sizeof(*pt));
	pt->L = L;
	pt->stats = mmap(NULL, MAX_PROCS * sizeof(*pt->stats),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pt->stats == MAP_FAILED)
		fatal("mmap");
	for (i = 0; i < MAX_PROCS; i++)
		pt->v[i].pipe = -1;
	metrics_init(&pt->metrics);
	tickets_init(&pt->tickets, weftd_now_ms());
}

struct proc *
procs_find(struct procs *pt, pid_t pid)
{
	int i;

	for (i = 0; i < MAX_PROCS; i++)
		if (pt->v[i].pid == pid)
			return &pt->v[i];
	return NULL;
}

/* The live worker of g's slot, or 0. */
static pid_t
procs_slot_pid(const struct procs *pt, const struct gen *g, int slot)
{
	int i;

	for (i = 0; i < MAX_PROCS; i++)
		if (pt->v[i].pid > 0 && pt->v[i].gen == g &&
		    pt->v[i].slot == slot)
			return pt->v[i].pid;
	return 0;
}

/* ---- A fresh child ------------------------------------------------------ */

/* The supervisor's handlers write to its self-pipe: every signal it
 * catches goes back to the default action. */
static void
child_signals_reset(void)
{
	struct sigaction sa;
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP ||
		    sigaction(sig, NULL, &sa) != 0)
			continue;
		if ((sa.sa_flags & SA_SIGINFO) != 0 ||
		    (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN))
			signal(sig, SIG_DFL);
	}
}

/* Close fds lo..hi (hi may be past the last one). */
static void
fds_close(unsigned int lo, unsigned int hi)
{
	long max;
	unsigned int fd;

#ifdef HAVE_CLOSE_RANGE
	if (close_range(lo, hi, 0) == 0)
		return;
#endif
	if ((max = sysconf(_SC_OPEN_MAX)) < 0)
		max = 65536;
	for (fd = lo; fd <= hi && fd < (unsigned long)max; fd++)
		close((int)fd);
}

/*
 * fork(), with every signal blocked until the child has dropped the
 * supervisor's handlers: one delivered in between would run a handler in
 * the child, which writes to the supervisor's self-pipe (a SIGTERM sent to
 * a worker just forked, by a SIGTTOU, would stop the supervisor).
 */
static pid_t
fork_child(void)
{
	sigset_t all, old;
	pid_t pid;
	int saved;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	saved = errno;
	if (pid == 0)
		child_signals_reset();
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}

/*
 * In a child just forked: close every fd but stdin, stdout, stderr (the
 * log) and keep[0..n-1].  Workers do not exec, so close-on-exec does not
 * help: without this each one would hold every listener of every live
 * generation (a listener a reload removed would go on completing
 * handshakes, and could not be bound again until a restart), the other
 * slots' reuse_port sockets (kept open, they queue connections nobody
 * accepts), the control socket and its clients, and the other workers'
 * report pipes.  keep is reordered.
 */
static void
close_inherited(int *keep, size_t n)
{
	unsigned int lo = 3;
	size_t i, j;
	int t;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned int)keep[i] < lo)
			continue;
		if ((unsigned int)keep[i] > lo)
			fds_close(lo, (unsigned int)keep[i] - 1);
		lo = (unsigned int)keep[i] + 1;
	}
	fds_close(lo, ~0U);
}

/*
 * In a child just forked: get `sig` when the supervisor dies, so that a
 * worker does not go on serving (and holding the ports a new weftd must
 * bind) after a kill -9 of its supervisor.  A supervisor that died before
 * the prctl() is seen in getppid().
 */
static void
child_watch_parent(pid_t parent, int sig)
{
	if (prctl(PR_SET_PDEATHSIG, sig) != 0)
		log_warn("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != parent)
		_exit(0);
}

/*
 * In a worker just forked: keep only its own entry of the shared stats.
 * Mapped writable, the others would let a compromised worker forge a
 * sibling's heartbeat (keeping a hung one alive, or getting a healthy one
 * killed) and its figures.  Each entry is a page of its own for this.
 */
static void
hb_isolate(struct worker_stats *stats, int own)
{
	size_t size = MAX_PROCS * sizeof(*stats), lo, hi;
	long pg = sysconf(_SC_PAGESIZE);
	char *base = (char *)stats;

	if (pg <= 0)
		pg = 4096;
	lo = (size_t)own * sizeof(*stats) / (size_t)pg * (size_t)pg;
	hi = ((size_t)(own + 1) * sizeof(*stats) + (size_t)pg - 1) /
	    (size_t)pg * (size_t)pg;
	if (lo > 0)
		munmap(base, lo);
	if (hi < size)
		munmap(base + hi, size - hi);
}

static void
describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)%s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WTERMSIG(status) == SIGSEGV
			? ": a crash or a fiber stack overflow, see above"
			: "");
	else
		snprintf(buf, size, "ended with status 0x%x", status);
}

/* ---- Workers ------------------------------------------------------------ */

/* In the child: become the worker of g's slot, entry i. */
static void spawn_child(struct procs *, struct gen *, int, int, int *, int *,
    int, pid_t) __attribute__((noreturn));

static void
spawn_child(struct procs *pt, struct gen *g, int slot, int i, int *fds,
    int *keep, int report_fd, pid_t parent)
{
	struct worker_args a;

	notify_forget();
	privs_child_drop();
	child_watch_parent(parent, SIGTERM);
	metrics_child(&pt->metrics, 1);
	close_inherited(keep, 2 * g->ls.nls + 1);
	free(keep); /* the worker never returns here to free it */
	hb_isolate(pt->stats, i);
	balance_keep_only(g->bal);
	tickets_readonly(&pt->tickets);
	memset(&a, 0, sizeof(a));
	a.conf = g->conf;
	a.index = slot;
	a.generation = g->id;
	a.fds = fds;
	a.alog_fds = fds + g->ls.nls;
	a.report_fd = report_fd;
	a.stats = &pt->stats[i];
	a.balance = g->bal;
	a.supervisor = parent;
	a.tickets = pt->tickets.keys;
	worker_main(&a);
}

/* The sockets slot's worker listens on, bound now where need be; NULL
 * (logged, a retry scheduled) if a bind fails. */
static int *
spawn_fds(struct procs *pt, struct gen *g, int slot)
{
	char *cause = NULL;
	int *fds;
	size_t k;

	/* Then each listener's access log (accesslog.h). */
	fds = xcalloc(2 * g->ls.nls + 1, sizeof(int));
	for (k = 0; k < g->ls.nls; k++)
		if ((fds[k] = lset_fd(pt->L, &g->ls, k, slot, &cause)) < 0) {
			log_warnx("worker %d: cannot bind %s", slot,
			    cause != NULL ? cause : "?");
			free(cause);
			free(fds);
			g->slots[slot].respawn_at = weftd_now_ms() +
			    BACKOFF_MAX_MS;
			return NULL;
		}
	alog_open(g->conf, fds + g->ls.nls);
	return fds;
}

void
procs_spawn(struct procs *pt, struct gen *g, int slot)
{
	struct proc *p;
	int i, pfd[2], *fds, *keep;
	pid_t pid, parent = getpid();

	for (i = 0; i < MAX_PROCS; i++)
		if (pt->v[i].pid == 0)
			break;
	if (i == MAX_PROCS) {
		/* Draining generations fill the table in a HUP storm; they
		 * free entries as they end, so try again rather than leave a
		 * reload waiting for a worker that is never started. */
		if (g->slots[slot].respawn_at == 0)
			log_warnx("too many worker processes (%d): worker %d "
				  "waits for one to end",
			    MAX_PROCS, slot);
		g->slots[slot].respawn_at = weftd_now_ms() + BACKOFF_MIN_MS;
		return;
	}
	p = &pt->v[i];
	if ((fds = spawn_fds(pt, g, slot)) == NULL)
		return;
	/* With access log files, a socket: the supervisor sends them back
	 * on it once reopened. */
	if ((alog_files(g->conf)
		    ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pfd)
		    : pipe2(pfd, O_CLOEXEC)) != 0) {
		log_warn("report pipe");
		alog_close(g->conf, fds + g->ls.nls);
		free(fds);
		return;
	}
	/* What the child keeps (close_inherited reorders it). */
	keep = xcalloc(2 * g->ls.nls + 1, sizeof(int));
	memcpy(keep, fds, 2 * g->ls.nls * sizeof(int));
	keep[2 * g->ls.nls] = pfd[1];
	memset(&pt->stats[i], 0, sizeof(pt->stats[i]));
	pt->stats[i].heartbeat = weftd_now_ms();
	balance_clear(g->bal, slot);
	pid = fork_child();
	if (pid == 0)
		spawn_child(pt, g, slot, i, fds, keep, pfd[1], parent);
	if (pid < 0)
		log_warn("fork");
	free(keep);
	alog_close(g->conf, fds + g->ls.nls);
	free(fds);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		g->slots[slot].respawn_at = weftd_now_ms() + BACKOFF_MIN_MS;
		return;
	}
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->gen = g;
	p->slot = slot;
	p->pipe = pfd[0];
	p->started = weftd_now_ms();
	g->slots[slot].respawn_at = 0;
	log_debug("worker %d (pid %ld, generation %d) started", slot, (long)pid,
	    g->id);
}

pid_t
procs_probe(struct procs *pt, struct conf *c, int *errfd)
{
	pid_t pid, parent = getpid();
	int pfd[2];

	/* The probe's error lines, for `weftd -s reload` to print: a pipe
	 * the parent reads once the probe exited, so the probe's end never
	 * blocks (what does not fit is lost, the log has it all). */
	*errfd = -1;
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) != 0)
		pfd[0] = pfd[1] = -1;
	pid = fork_child();
	if (pid < 0) {
		log_warn("reload: fork");
		if (pfd[0] >= 0) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return -1;
	}
	if (pid == 0) {
		notify_forget();
		privs_child_drop();
		child_watch_parent(parent, SIGKILL);
		/* Plugin code runs here: it gets no listener, no control
		 * socket and no heartbeat of any worker. */
		close_inherited(&pfd[1], pfd[1] >= 0 ? 1 : 0);
		metrics_child(&pt->metrics, 0);
		munmap(pt->stats, MAX_PROCS * sizeof(*pt->stats));
		balance_keep_only(NULL);
		tickets_unmap(&pt->tickets);
		log_procinit("reload probe");
		_exit(worker_check_plugins_fd(c, pfd[1]) == 0 ? 0 : 1);
	}
	if (pfd[1] >= 0)
		close(pfd[1]);
	*errfd = pfd[0];
	return pid;
}

/*
 * Exponential backoff per slot, reset after a healthy minute.  A worker
 * that was serving and dies for the first time (a crash, kill -9, the
 * heartbeat) is replaced at once: its share of the load has nobody to
 * accept it.  Only a slot that fails again within the minute, or a
 * worker that never got ready, waits: 100 ms, then doubling.  Returns
 * the delay.
 */
static int
slot_backoff(struct slot *s, int ready, uint64_t up)
{
	if (up >= HEALTHY_MS)
		s->backoff_ms = 0;
	if (ready && s->backoff_ms == 0) {
		s->backoff_ms = BACKOFF_MIN_MS / 2; /* next: 100 ms */
		return 0;
	}
	s->backoff_ms = s->backoff_ms == 0 ? BACKOFF_MIN_MS : s->backoff_ms * 2;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	return s->backoff_ms;
}

enum proc_exit
procs_reaped(struct procs *pt, struct proc *p, int status, int respawn,
    char *why, size_t size)
{
	struct gen *g = p->gen;
	uint64_t now = weftd_now_ms(), up = now - p->started;
	char how[128];
	int slot = p->slot, crashed, expected = p->stopping;
	int ready = p->ready, delay;
	long pid = (long)p->pid;
	struct slot *s;

	describe_exit(status, how, sizeof(how));
	crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (expected && !crashed)
		log_info("worker %d (pid %ld) %s", slot, pid, how);
	else
		log_warnx("worker %d (pid %ld, generation %d) %s", slot, pid,
		    g->id, how);
	if (p->pipe >= 0)
		close(p->pipe);
	pt->stats[p - pt->v].heartbeat = 0;
	metrics_retire(&pt->metrics, g->conf, &pt->stats[p - pt->v]);
	memset(p, 0, sizeof(*p));
	if (procs_slot_pid(pt, g, slot) == 0) /* not respawned already */
		balance_clear(g->bal, slot);
	p->pipe = -1;
	if (expected || !respawn || g->draining || slot >= g->nslots)
		return PROC_EXIT_OK;
	s = &g->slots[slot];
	delay = slot_backoff(s, ready, up);
	/* The probe passed but a new worker did not come up: the reload
	 * fails, and the current generation keeps serving. */
	if (!ready && g->on_trial)
		return PROC_EXIT_GEN_FAILED;
	if (!ready && WIFEXITED(status) &&
	    WEXITSTATUS(status) == WORKER_EXIT_BOOT &&
	    ++s->boot_failures >= BOOT_FAILURES_MAX) {
		snprintf(why, size,
		    "worker %d failed to boot %d times in a "
		    "row",
		    slot, s->boot_failures);
		return PROC_EXIT_GIVE_UP;
	}
	/* With no delay this is simply due now (now is never 0, which
	 * would mean "nothing scheduled"): the loop's next turn forks. */
	s->respawn_at = now + (uint64_t)delay;
	s->st.restarts++;
	pt->metrics.worker_restarts++;
	log_info("restarting worker %d in %d ms", slot, delay);
	return PROC_EXIT_OK;
}

void
procs_signal(struct procs *pt, const struct gen *g, int sig, int stop)
{
	int i;

	for (i = 0; i < MAX_PROCS; i++)
		if (pt->v[i].pid > 0 && (g == NULL || pt->v[i].gen == g)) {
			if (stop)
				pt->v[i].stopping = 1;
			kill(pt->v[i].pid, sig);
		}
}

void
procs_resize(struct procs *pt, struct gen *g, int delta)
{
	const char *run_as = pt->L->run_as;
	char *cause = NULL;
	int i;

	if (delta > 0 && g->nslots < MAX_WORKERS) {
		/* A reuse_port listener needs a socket of its own for the
		 * new slot, bound now: after the privilege drop a port below
		 * 1024 cannot be, and the worker is then refused here rather
		 * than logged as started and never run. */
		if (lset_slot_bind(pt->L, &g->ls, g->nslots, &cause) != 0) {
			log_warnx("SIGTTIN refused, still %d worker(s): cannot "
				  "bind %s%s%s%s",
			    g->nslots, cause != NULL ? cause : "?",
			    run_as[0] != '\0' ? " (the supervisor runs as "
					      : "",
			    run_as,
			    run_as[0] != '\0' ? " since it dropped privileges; "
						"raise workers and restart)"
					      : "");
			free(cause);
			return;
		}
		procs_spawn(pt, g, g->nslots++);
		log_info("SIGTTIN: %d worker(s)", g->nslots);
	} else if (delta < 0 && g->nslots > 1) {
		g->nslots--;
		g->slots[g->nslots].respawn_at = 0;
		lset_slot_close(&g->ls, g->nslots);
		for (i = 0; i < MAX_PROCS; i++)
			if (pt->v[i].pid > 0 && pt->v[i].gen == g &&
			    pt->v[i].slot == g->nslots) {
				pt->v[i].stopping = 1;
				kill(pt->v[i].pid, SIGTERM);
			}
		log_info("SIGTTOU: %d worker(s)", g->nslots);
	}
}

int
procs_count(const struct procs *pt, const struct gen *g, int *ready)
{
	int i, n = 0, r = 0;

	for (i = 0; i < MAX_PROCS; i++) {
		if (pt->v[i].pid > 0 && (g == NULL || pt->v[i].gen == g)) {
			n++;
			r += pt->v[i].ready;
		}
	}
	if (ready != NULL)
		*ready = r;
	return n;
}

void
procs_respawn_due(struct procs *pt, struct gen *g, uint64_t now, uint64_t *next)
{
	uint64_t at;
	int i;

	for (i = 0; i < g->nslots; i++) {
		if ((at = g->slots[i].respawn_at) == 0)
			continue;
		if (at <= now)
			procs_spawn(pt, g, i);
		else if (*next == 0 || at < *next)
			*next = at;
	}
}

void
procs_check_heartbeats(struct procs *pt, uint64_t now)
{
	struct proc *p;
	uint64_t limit, last;
	int i;

	for (i = 0; i < MAX_PROCS; i++) {
		p = &pt->v[i];
		if (p->pid <= 0 || !p->ready || p->stopping)
			continue;
		if (p->abort_at != 0) {
			if (now - p->abort_at >= KILL_GRACE_MS) {
				log_warnx(
				    "worker %d (pid %ld) ignored SIGABRT: "
				    "SIGKILL",
				    p->slot, (long)p->pid);
				kill(p->pid, SIGKILL);
				p->abort_at = now; /* once per grace */
			}
			continue;
		}
		limit = (uint64_t)(p->gen->conf->worker_timeout * 1000);
		last = pt->stats[i].heartbeat;
		if (last != 0 && now > last && now - last > limit) {
			log_warnx("worker %d (pid %ld) loop blocked for %.1fs "
				  "(worker_timeout %gs): SIGABRT",
			    p->slot, (long)p->pid, (double)(now - last) / 1000,
			    p->gen->conf->worker_timeout);
			p->abort_at = now;
			kill(p->pid, SIGABRT);
		}
	}
}

/*
 * Only while every serving worker's loop is alive, i.e. has ticked
 * within two heartbeat periods, is the watchdog petted: a wedged worker
 * shows in systemd before it is killed.
 */
int
procs_alive(const struct procs *pt, uint64_t now)
{
	const struct proc *p;
	uint64_t tick, hb;
	int i, fresh = 1;

	for (i = 0; i < MAX_PROCS; i++) {
		p = &pt->v[i];
		hb = pt->stats[i].heartbeat;
		if (p->pid <= 0 || !p->ready || p->stopping || hb == 0)
			continue;
		tick = heartbeat_tick_ms(p->gen->conf);
		if (now > hb && now - hb > 2 * tick + 100) {
			if (fresh)
				log_debug("watchdog withheld: worker %d (pid "
					  "%ld) heartbeat %llu ms old",
				    p->slot, (long)p->pid,
				    (unsigned long long)(now - hb));
			fresh = 0;
		}
	}
	return fresh;
}

int
procs_pollfds(const struct procs *pt, struct pollfd *pfds, int *idx)
{
	int i, n = 0;

	for (i = 0; i < MAX_PROCS; i++) {
		if (pt->v[i].pid > 0 && pt->v[i].pipe >= 0) {
			pfds[n].fd = pt->v[i].pipe;
			pfds[n].events = POLLIN;
			pfds[n].revents = 0;
			idx[n] = i;
			n++;
		}
	}
	return n;
}

void
procs_read_reports(struct procs *pt, const struct pollfd *pfds, const int *idx,
    int n)
{
	struct proc *p;
	char buf[64];
	ssize_t r;
	int i, k;

	for (k = 0; k < n; k++) {
		if (pfds[k].revents == 0)
			continue;
		p = &pt->v[idx[k]];
		if (p->pid <= 0 || p->pipe != pfds[k].fd)
			continue; /* reaped meanwhile */
		r = read(p->pipe, buf, sizeof(buf));
		if (r <= 0) {
			/* EOF: it is exiting; SIGCHLD will tell how. */
			close(p->pipe);
			p->pipe = -1;
			continue;
		}
		for (i = 0; i < r; i++) {
			if (buf[i] == REPORT_READY && !p->ready) {
				p->ready = 1;
				p->gen->slots[p->slot].boot_failures = 0;
				log_info("worker %d (pid %ld) ready", p->slot,
				    (long)p->pid);
			}
		}
	}
}

void
procs_sum(const struct procs *pt, struct stats_sum *sum)
{
	int i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < MAX_PROCS; i++)
		if (pt->v[i].pid > 0)
			stats_add(sum, &pt->stats[i]);
}

void
procs_print(const struct procs *pt, FILE *fp, uint64_t now)
{
	const struct proc *p;
	int i;

	fprintf(fp, "%-6s %-8s %-4s %-8s", "worker", "pid", "gen", "uptime");
	stats_print_titles(fp);
	fputc('\n', fp);
	for (i = 0; i < MAX_PROCS; i++) {
		p = &pt->v[i];
		if (p->pid <= 0)
			continue;
		fprintf(fp, "%-6d %-8ld %-4d %-8llu", p->slot, (long)p->pid,
		    p->gen->id,
		    (unsigned long long)((now - p->started) / 1000));
		stats_print_columns(fp, &pt->stats[i],
		    &p->gen->slots[p->slot].st);
		fprintf(fp, "%s\n", p->ready ? "" : " (starting)");
	}
}

/* Listener i's counters summed over g's live workers. */
static void
listener_sum(const struct procs *pt, const struct gen *g, size_t i,
    uint64_t *sum)
{
	size_t k;
	int j;

	memset(sum, 0, STATS_N * sizeof(*sum));
	for (j = 0; j < MAX_PROCS; j++)
		if (pt->v[j].pid > 0 && pt->v[j].gen == g)
			for (k = 0; k < STATS_N; k++)
				sum[k] += pt->stats[j].listener[i][k];
}

void
procs_print_tls(const struct procs *pt, const struct gen *g, FILE *fp)
{
	static const int tls[] = { STAT_tls_handshakes, STAT_tls_resumed,
		STAT_tls_failed, STAT_tls_timeouts, STAT_tls_failed_verify,
		STAT_tls_failed_closed };
	const struct conf_listener *l;
	uint64_t sum[STATS_N];
	size_t i, k;
	int titled = 0;

	for (i = 0; i < g->conf->nlisteners && i < STATS_LISTENERS; i++) {
		l = &g->conf->listeners[i];
		if (l->tls_index < 0)
			continue;
		listener_sum(pt, g, i, sum);
		if (!titled++) {
			fputs("listener", fp);
			for (k = 0; k < sizeof(tls) / sizeof(tls[0]); k++)
				fprintf(fp, " %s", stats_names[tls[k]]);
			fprintf(fp, " (generation %d)\n", g->id);
		}
		fputs(l->name[0] != '\0' ? l->name : l->address, fp);
		for (k = 0; k < sizeof(tls) / sizeof(tls[0]); k++)
			fprintf(fp, " %llu", (unsigned long long)sum[tls[k]]);
		fputc('\n', fp);
	}
}

void
procs_print_alog(const struct procs *pt, const struct gen *g, FILE *fp)
{
	const struct conf_listener *l;
	uint64_t sum[STATS_N];
	size_t i;
	int titled = 0;

	for (i = 0; i < g->conf->nlisteners && i < STATS_LISTENERS; i++) {
		l = &g->conf->listeners[i];
		if (l->access_log == NULL)
			continue;
		listener_sum(pt, g, i, sum);
		if (!titled++)
			fprintf(fp,
			    "listener access_log_dropped access_log "
			    "(generation %d)\n",
			    g->id);
		fprintf(fp, "%s %llu %s\n",
		    l->name[0] != '\0' ? l->name : l->address,
		    (unsigned long long)sum[STAT_access_log_dropped],
		    l->access_log);
	}
}
