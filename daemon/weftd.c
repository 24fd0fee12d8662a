/*
 * weftd: parse the command line and the config, then either check it
 * (-t), print it (--dump) or become the supervisor.
 */
#include "autoconf.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/plugin.h>
#include <weft/weft.h>

#include "control.h"
#include "log.h"
#include "supervisor.h"
#include "tls_files.h"
#include "trybind.h"
#include "upgrade.h"
#include "util.h"
#include "worker.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: weftd [-t] [--dump] [-c FILE] [-w WORKERS] [-l LEVEL] "
	    "[-L FILE] [-C PATH]\n"
	    "       weftd -s reload|upgrade|stop|status [--json] [-C PATH]\n"
	    "       weftd --version | --help\n"
	    "\n"
	    "  -c, --config FILE   configuration (.conf: libconfig, .ini: INI)\n"
	    "                      default " SYSCONFDIR "/weft/weftd.conf\n"
	    "  -t, --test          check the config, load and init every "
	    "plugin, exit 0/1\n"
	    "      --dump          print the normalised config\n"
	    "  -w, --workers N     override `workers`\n"
	    "  -l, --log-level L   err, warning, notice, info or debug\n"
	    "  -L, --log-file FILE log there instead of stderr (SIGUSR1 "
	    "reopens it)\n"
	    "  -s, --signal CMD    reload, upgrade, stop or status: talk to the "
	    "running\n"
	    "                      supervisor\n"
	    "      --json          with -s status: the metrics as JSON\n"
	    "  -C, --control PATH  its control socket (default "
	    "$RUNTIME_DIRECTORY/weftd.sock\n"
	    "                      or /run/weft/weftd.sock)\n"
	    "  -V, --version       print the version\n"
	    "\n"
	    "Signals: TERM/INT graceful stop, QUIT immediate stop, HUP reload,\n"
	    "USR1 reopen logs, USR2 upgrade (run the binary on disk), TTIN/TTOU\n"
	    "one worker more/less.\n");
}

/* The command line. */
struct opts {
	const char *file;
	int cflag; /* -c given */
	int test, dump, workers, level, json;
	const char *sigcmd, *ctl, *logpath;
};

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "test", no_argument, NULL, 't' },
	{ "dump", no_argument, NULL, 'D' },
	{ "json", no_argument, NULL, 'J' },
	{ "workers", required_argument, NULL, 'w' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "log-file", required_argument, NULL, 'L' },
	{ "signal", required_argument, NULL, 's' },
	{ "control", required_argument, NULL, 'C' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parse the command line into o: -1 to go on, else an exit status. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	char *end;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:tw:l:L:s:C:Vh", longopts,
		    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->file = optarg;
			o->cflag = 1;
			break;
		case 't':
			o->test = 1;
			break;
		case 'D':
			o->dump = 1;
			break;
		case 'J':
			o->json = 1;
			break;
		case 'w':
			o->workers = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o->workers < 1 ||
			    o->workers > 1024) {
				fprintf(stderr,
				    "weftd: -w: bad worker count "
				    "'%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'l':
			if ((o->level = config_log_level(optarg)) < 0) {
				fprintf(stderr,
				    "weftd: -l: unknown level "
				    "'%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 's':
			o->sigcmd = optarg;
			break;
		case 'C':
			o->ctl = optarg;
			break;
		case 'L':
			o->logpath = optarg;
			break;
		case 'V':
			printf("weftd %s (libweft %s, plugin ABI %d.%d)\n",
			    PACKAGE_VERSION, weft_version_string(),
			    WEFT_PLUGIN_ABI_MAJOR, WEFT_PLUGIN_ABI_MINOR);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Every config error, one per line, each file:line: message. */
static void
print_cause(char *cause)
{
	fprintf(stderr, "%s%s", cause != NULL ? cause : "config error",
	    cause != NULL && cause[0] != '\0' &&
		    cause[strlen(cause) - 1] == '\n'
		? ""
		: "\n");
	free(cause);
}

/*
 * weftd -s CMD: talk to the running supervisor.  The config (-c, else
 * the default one if it loads) names the service `user`, who owns the
 * control socket when systemd starts weftd as that user.
 */
static int
signal_cmd(const struct opts *o)
{
	const char *ctl = o->ctl;
	struct conf *c = NULL;
	struct passwd *pw;
	char *cause = NULL;
	uid_t service = (uid_t)-1;
	int rc;

	if (strcmp(o->sigcmd, "reload") != 0 &&
	    strcmp(o->sigcmd, "upgrade") != 0 &&
	    strcmp(o->sigcmd, "stop") != 0 &&
	    strcmp(o->sigcmd, "status") != 0) {
		fprintf(stderr, "weftd: -s: reload, upgrade, stop or status\n");
		return 2;
	}
	if (o->json && strcmp(o->sigcmd, "status") != 0) {
		fprintf(stderr, "weftd: --json goes with -s status\n");
		return 2;
	}
	if (config_load(o->file, &c, &cause) != 0) {
		/* Without -c, a default config that does not load (absent,
		 * or broken: reloading it is the supervisor's to refuse)
		 * names no one. */
		if (o->cflag) {
			print_cause(cause);
			return 1;
		}
		free(cause);
		c = NULL;
	}
	/* -s with -c: the control socket that config names. */
	if (ctl == NULL && o->cflag && c->control_socket != NULL)
		ctl = c->control_socket;
	if (c != NULL && c->user != NULL && (pw = getpwnam(c->user)) != NULL)
		service = pw->pw_uid;
	rc = control_client(ctl != NULL ? ctl : control_default_path(),
	    o->json ? "status json" : o->sigcmd, service);
	config_free(c);
	return rc;
}

/* -t: would the listeners bind now?  Nonzero if one would not. */
static int
trybind(const struct opts *o, const struct conf *c)
{
	char *errors = NULL, *warnings = NULL;
	int n;

	n = trybind_check(c, o->ctl, &errors, &warnings);
	if (warnings != NULL)
		log_lines(WEFT_LOG_WARNING, warnings);
	if (errors != NULL)
		print_cause(errors); /* frees it */
	free(warnings);
	return n;
}

/* -t and --dump: check the plugins and print the config. */
static int
check(const struct opts *o, struct conf *c)
{
	char *cause = NULL;
	int rc = 0;

	if (o->dump)
		config_dump(c, stdout);
	if (o->test) {
		log_procinit("check");
		if (tls_files_read(c, tls_files_owner(c), &cause) != 0) {
			print_cause(cause);
			config_free(c);
			return 1;
		}
		rc = worker_check_plugins(c) == 0 ? 0 : 1;
		if (trybind(o, c) != 0)
			rc = 1;
		if (rc == 0)
			fprintf(stderr,
			    "weftd: %s: configuration and plugins "
			    "OK\n",
			    o->file);
	}
	config_free(c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { SYSCONFDIR "/weft/weftd.conf", 0, 0, 0, 0, -1, 0,
		NULL, NULL, NULL };
	struct conf *c = NULL;
	char *cause = NULL;
	const char *ctl;
	int rc;

	log_procinit("weftd");
	upgrade_record(argc, argv);
	if ((rc = parse_opts(argc, argv, &o)) >= 0)
		return rc;
	if (o.sigcmd != NULL)
		return signal_cmd(&o);
	/* A dump alone may be of a file for another machine. */
	if (config_load_flags(o.file, o.test || !o.dump ? CONF_LOAD_SYSTEM : 0,
		&c, &cause) != 0) {
		/* Started by a binary upgrade: the old supervisor says why. */
		upgrade_child_fail(cause != NULL ? cause : "config error");
		print_cause(cause);
		return 1;
	}
	if (o.logpath != NULL) {
		/* Opened once the config names the service user, who may own
		 * it too (config errors above went to stderr). */
		struct passwd *pw = c->user != NULL ? getpwnam(c->user) : NULL;

		if (pw != NULL)
			log_file_owner(pw->pw_uid);
		if (log_file(o.logpath) != 0) {
			config_free(c);
			return 1;
		}
	}
	if (c->warnings != NULL)
		log_lines(WEFT_LOG_WARNING, c->warnings);
	if (o.workers > 0)
		c->workers = o.workers;
	log_setlevel(o.level >= 0 ? o.level : c->log_level);
	if (o.level >= 0)
		c->log_level = o.level;
	if (o.test || o.dump)
		return check(&o, c);
	/* A copy: a reload frees this configuration, the path stays (a
	 * changed control_socket takes effect at the next start). */
	ctl = o.ctl;
	if (ctl == NULL && c->control_socket != NULL)
		ctl = xstrdup(c->control_socket);
	supervisor_main(c, o.file, ctl);
}
