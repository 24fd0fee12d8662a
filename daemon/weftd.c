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
#include "util.h"
#include "weftd.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: weftd [-t] [--dump] [-c FILE] [-w WORKERS] [-l LEVEL] "
	    "[-L FILE] [-C PATH]\n"
	    "       weftd -s reload|stop|status [-C PATH]\n"
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
	    "  -s, --signal CMD    reload, stop or status: talk to the running "
	    "supervisor\n"
	    "  -C, --control PATH  its control socket (default "
	    "$RUNTIME_DIRECTORY/weftd.sock\n"
	    "                      or /run/weft/weftd.sock)\n"
	    "  -V, --version       print the version\n"
	    "\n"
	    "Signals: TERM/INT graceful stop, QUIT immediate stop, HUP reload,\n"
	    "USR1 reopen logs, TTIN/TTOU one worker more/less.\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "dump", no_argument, NULL, 'D' },
		{ "workers", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-file", required_argument, NULL, 'L' },
		{ "signal", required_argument, NULL, 's' },
		{ "control", required_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = SYSCONFDIR "/weft/weftd.conf";
	int cflag = 0;
	struct conf *c = NULL;
	char *cause = NULL, *end;
	const char *sigcmd = NULL, *ctl = NULL, *logpath = NULL;
	int ch, test = 0, dump = 0, workers = 0, level = -1;

	log_procinit("weftd");
	while ((ch = getopt_long(argc, argv, "c:tw:l:L:s:C:Vh", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			cflag = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'D':
			dump = 1;
			break;
		case 'w':
			workers = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || workers < 1 || workers > 1024) {
				fprintf(stderr, "weftd: -w: bad worker count "
						"'%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'l':
			if ((level = config_log_level(optarg)) < 0) {
				fprintf(stderr, "weftd: -l: unknown level "
						"'%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 's':
			sigcmd = optarg;
			break;
		case 'C':
			ctl = optarg;
			break;
		case 'L':
			logpath = optarg;
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
	if (sigcmd != NULL) {
		if (strcmp(sigcmd, "reload") != 0 && strcmp(sigcmd, "stop") != 0 &&
		    strcmp(sigcmd, "status") != 0) {
			fprintf(stderr, "weftd: -s: reload, stop or status\n");
			return 2;
		}
		/* -s with -c: the control socket that config names. */
		if (ctl == NULL && cflag) {
			if (config_load(file, &c, &cause) != 0) {
				fprintf(stderr, "%s%s", cause != NULL ? cause :
				    "config error", cause != NULL && cause[0] !=
				    '\0' && cause[strlen(cause) - 1] == '\n' ?
				    "" : "\n");
				free(cause);
				return 1;
			}
			if (c->control_socket != NULL)
				ctl = c->control_socket;
		}
		ch = control_client(ctl != NULL ? ctl : control_default_path(),
		    sigcmd);
		config_free(c);
		return ch;
	}
	if (config_load(file, &c, &cause) != 0) {
		/* Every error, one per line, each file:line: message. */
		fprintf(stderr, "%s%s", cause != NULL ? cause : "config error",
		    cause != NULL && cause[0] != '\0' &&
			    cause[strlen(cause) - 1] == '\n'
			? ""
			: "\n");
		free(cause);
		return 1;
	}
	if (logpath != NULL) {
		/* Opened once the config names the service user, who may own
		 * it too (config errors above went to stderr). */
		struct passwd *pw = c->user != NULL ? getpwnam(c->user) : NULL;

		if (pw != NULL)
			log_file_owner(pw->pw_uid);
		if (log_file(logpath) != 0) {
			config_free(c);
			return 1;
		}
	}
	if (workers > 0)
		c->workers = workers;
	log_setlevel(level >= 0 ? level : c->log_level);
	if (level >= 0)
		c->log_level = level;
	if (dump)
		config_dump(c, stdout);
	if (test || dump) {
		int rc = 0;

		if (test) {
			log_procinit("check");
			rc = worker_check_plugins(c) == 0 ? 0 : 1;
			if (rc == 0)
				fprintf(stderr, "weftd: %s: configuration and "
						"plugins OK\n",
				    file);
		}
		config_free(c);
		return rc;
	}
	/* A copy: a reload frees this configuration, the path stays (a
	 * changed control_socket takes effect at the next start). */
	if (ctl == NULL && c->control_socket != NULL)
		ctl = xstrdup(c->control_socket);
	supervisor_main(c, file, ctl);
}
