/*
 * ternd: options, start-up, signals.  -f FILE config, -n check the
 * config (and certificates) and exit, -d stay in the foreground.
 * SIGHUP reloads config and certificates without dropping sessions;
 * SIGTERM/SIGINT sends system-shutdown to every stream, lets them flush,
 * and exits 0.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/time.h>

#include <event2/event.h>

#include "authlimit.h"
#include "conf.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "module.h"
#include "privdrop.h"
#include "sasl.h"
#include "store.h"
#include "s2s.h"
#include "stream.h"
#include "tls.h"
#include "xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_CONF	SYSCONFDIR "/tern/tern.conf"
#define SHUTDOWN_WAIT	3	/* seconds for streams to flush at exit */

static struct tern_conf	*conf;
/* The conf modules were started with: their confs point into it. */
static struct tern_conf	*boot_conf;
static const char	*conf_path = DEFAULT_CONF;
static struct event	*shutdown_ev;
static int		 foreground_mode;
static struct timeval	 shutdown_deadline;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: ternd [-dn] [-f file]\n");
	exit(1);
}

static void
shutdown_poll(int fd, short ev, void *arg)
{
	struct timeval	now, tick = { 0, 50000 };

	gettimeofday(&now, NULL);
	if (stream_count() + s2s_count() == 0 ||
	    timercmp(&now, &shutdown_deadline, >)) {
		if (stream_count() > 0)
			log_warnx("%zu streams did not close in time",
			    stream_count());
		event_base_loopbreak(loop_base());
		return;
	}
	evtimer_add(shutdown_ev, &tick);
}

static void
sig_term(int sig, short ev, void *arg)
{
	struct timeval	wait = { SHUTDOWN_WAIT, 0 }, now;

	if (shutdown_ev != NULL)
		return;
	log_info("stopping on signal %d: closing %zu streams", sig,
	    stream_count());
	listen_pause(1);
	stream_shutdown_all();
	s2s_shutdown_all();
	gettimeofday(&now, NULL);
	timeradd(&now, &wait, &shutdown_deadline);
	shutdown_ev = evtimer_new(loop_base(), shutdown_poll, NULL);
	shutdown_poll(-1, 0, NULL);
}

/* Listen lines are bound once; say so when a reload changes them. */
static void
reload_warnings(const struct tern_conf *o, const struct tern_conf *n)
{
	size_t	i;
	int	same = o->nlistens == n->nlistens;

	for (i = 0; same && i < n->nlistens; i++)
		same = o->listens[i].kind == n->listens[i].kind &&
		    strcmp(o->listens[i].addr, n->listens[i].addr) == 0;
	if (!same)
		log_warnx("reload: listen lines changed; restart ternd to "
		    "apply them");
	if (strcmp(o->data_dir, n->data_dir) != 0)
		log_warnx("reload: data_dir changed; restart ternd to apply "
		    "it");
}

static void
sig_hup(int sig, short ev, void *arg)
{
	struct tern_conf	*n;
	char			 err[1024];

	log_info("reloading %s", conf_path);
	if ((n = conf_load(conf_path, err, sizeof(err))) == NULL) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		return;
	}
	if (log_init(n->log_level, !foreground_mode && (n->log_dest == NULL ||
	    strcmp(n->log_dest, "stderr") == 0) ? "syslog" : n->log_dest,
	    "ternd") == -1)
		log_warn("reload: cannot open log %s; logging stays where "
		    "it was", n->log_dest);
	tls_load(n, 0, err, sizeof(err));
	reload_warnings(conf, n);
	loop_set_conf(n);
	s2s_reload();
	sasl_set_iterations(n->scram_iterations);
	if (conf != boot_conf)
		conf_free(conf);
	conf = n;
	log_info("reloaded: %zu hosts, %zu sessions kept", n->nhosts,
	    stream_count());
}

static void
drop_privileges(const struct tern_conf *c)
{
	char	err[256];

	if (c->user == NULL)
		return;
	if (privdrop(c->user, c->group, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_info("running as user %s", c->user);
}

static void
write_pid(const char *path)
{
	FILE	*f;

	if (path == NULL)
		return;
	if ((f = fopen(path, "w")) == NULL) {
		log_warn("pid_file %s", path);
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/* After a successful start, a daemon lets go of the terminal. */
static void
quiet_stdio(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDWR)) == -1)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Loads and checks everything -n checks; exits 1 with the reason. */
static void
load_config(int check_only)
{
	char	err[1024];

	if ((conf = conf_load(conf_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ternd: %s\n", err);
		exit(1);
	}
	if (tls_load(conf, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "ternd: %s: %s\n", conf_path, err);
		exit(1);
	}
	if (check_only) {
		printf("ternd: configuration %s is valid (%zu hosts, %zu "
		    "listen lines)\n", conf_path, conf->nhosts,
		    conf->nlistens);
		tls_free();
		conf_free(conf);
		exit(0);
	}
}

static void
run(int foreground)
{
	struct event	*ev_term, *ev_int, *ev_hup;
	char		 err[1024];

	foreground_mode = foreground;
	/*
	 * Detach before LMDB is opened (its locks are not inherited across
	 * fork, and ternctl relies on them) and before the event base is
	 * made; stderr stays open so that start-up errors reach the admin.
	 */
	if (!foreground && daemon(0, 1) == -1)
		fatal("daemon");
	if (!foreground && (conf->log_dest == NULL ||
	    strcmp(conf->log_dest, "stderr") == 0))
		log_init(conf->log_level, "syslog", "ternd");
	else if (log_init(conf->log_level, conf->log_dest, "ternd") == -1)
		fatal("log %s", conf->log_dest);
	loop_init();
	loop_set_conf(conf);
	/*
	 * Signals first: once the ports listen, a client (or a test) may
	 * take the server for started and stop it; libevent then handles
	 * the signal when the loop starts.
	 */
	signal(SIGPIPE, SIG_IGN);
	ev_term = evsignal_new(loop_base(), SIGTERM, sig_term, NULL);
	ev_int = evsignal_new(loop_base(), SIGINT, sig_term, NULL);
	ev_hup = evsignal_new(loop_base(), SIGHUP, sig_hup, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);
	/*
	 * Ports below 1024 need root: bind them, write the pid file, then
	 * drop to `user` before anything else is opened, so that the data
	 * directory is created and used by the unprivileged user only.
	 */
	if (listen_start(conf, err, sizeof(err)) == -1)
		fatalx("%s: %s", conf_path, err);
	write_pid(conf->pid_file);
	drop_privileges(conf);
	if (store_open(conf->data_dir, conf->store_map_size) == -1) {
		if (conf->user != NULL)
			fatalx("cannot open the data directory %s as user %s: "
			    "it must exist and belong to %s (chown -R %s %s), "
			    "or its parent be writable by %s", conf->data_dir,
			    conf->user, conf->user, conf->user, conf->data_dir,
			    conf->user);
		fatalx("cannot open the data directory %s", conf->data_dir);
	}
	if (sasl_init() == -1)
		fatalx("SASL initialisation failed");
	sasl_set_iterations(conf->scram_iterations);
	s2s_init();
	if (module_start(conf, err, sizeof(err)) == -1)
		fatalx("%s: %s", conf_path, err);
	boot_conf = conf;
	if (!foreground)
		quiet_stdio();
	log_info("tern %s started: %zu hosts", PACKAGE_VERSION, conf->nhosts);
	event_base_dispatch(loop_base());
	log_info("stopped");
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	if (shutdown_ev != NULL)
		event_free(shutdown_ev);
	listen_stop();
	loop_reap();
	authlimit_free();
	module_stop();
	s2s_free();
	loop_free();
	if (conf->pid_file != NULL)
		unlink(conf->pid_file);
	sasl_done();
	store_close();
	tls_free();
	if (boot_conf != conf)
		conf_free(boot_conf);
	conf_free(conf);
}

int
main(int argc, char *argv[])
{
	char	*conf_real;
	int	 ch, check = 0, foreground = 0;

	log_init(LOG_LVL_INFO, NULL, "ternd");
	module_register_builtins();
	while ((ch = getopt(argc, argv, "df:nhV")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'f':
			conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("ternd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Reloads must find the file after daemon() changed directory. */
	if ((conf_real = realpath(conf_path, NULL)) != NULL)
		conf_path = conf_real;
	load_config(check);
	run(foreground);
	return 0;
}
