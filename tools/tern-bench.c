/*
 * tern-bench: an XMPP load generator for tern, Prosody, ejabberd or any
 * other server.  This file parses the options (the command line and the
 * JSON keys are a contract with the bench/ scripts: see tern-bench(1)),
 * forks the workers (bench_run.c), starts their measured phase once all
 * are set up, samples the server's memory and CPU from /proc and prints
 * the results: a human summary on stderr, one JSON line on stdout.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_PROCESSES	64
#define ERR_ROWS	128
#define HIST_SIZE	3776
#define PROGRESS_EVERY	5	/* seconds between progress lines */
#define RSS_EVERY	5	/* seconds between RSS samples (idle) */
#define EPHEMERAL_PORTS	28000	/* per source address and target */

static const char *const scenarios[] = {
	[SC_REGISTER] = "register", [SC_LOGIN] = "login", [SC_IDLE] = "idle",
	[SC_MESSAGES] = "messages", [SC_PRESENCE] = "presence",
};
static const char *const tls_modes[] = {
	[TLSM_NONE] = "none", [TLSM_STARTTLS] = "starttls",
	[TLSM_DIRECT] = "direct",
};

struct worker {
	pid_t	 pid;
	int	 cmd;		/* parent -> worker */
	int	 res;		/* worker -> parent */
	char	 buf[8192];
	size_t	 len;
	int	 ready, ended;
	long	 p_ok, p_failed, p_up;
	unsigned long long p_extra;
	unsigned long long ok, failed, lost, up, sent, delivered, presence;
	unsigned long long repairs;
	unsigned long long connected, slots, elapsed_ns, cpu_us, run_cpu_us;
	unsigned long long lat_max_ns, life_ns;
};

static struct worker	 workers[MAX_PROCESSES];
static struct {
	char		name[48];
	unsigned long long n;
} errs[ERR_ROWS];
static unsigned long long hist[HIST_SIZE];
static double		 duration_set = -1, deadline_set = -1;
static unsigned long long lat_max_ns;

static void __attribute__((noreturn))
usage_text(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: tern-bench [--host ADDR] [--port N] [--domain D] "
	    "[--label NAME]\n"
	    "\t[--tls none|starttls|direct] "
	    "[--mech PLAIN|SCRAM-SHA-1|SCRAM-SHA-256]\n"
	    "\t[--user-pattern FMT] [--first N] [--password PW] "
	    "[--accounts N]\n"
	    "\t[--concurrency C] [--duration S] [--pairs M] [--rate R] "
	    "[--window W]\n"
	    "\t[--contacts K] [--wave N] [--server-pid PID] "
	    "[--processes P]\n"
	    "\t[--sources S] [--deadline S] [--drain S] "
	    "[--scram-cache FILE]\n"
	    "\t[--allow-remote] [--json]\n"
	    "\tregister | login | idle | messages | presence\n");
	exit(status);
}

/* A bad option: says which and why, then the usage; exit status 1. */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "tern-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(tern-bench --help for the options, tern-bench(1) "
	    "for their meaning)\n");
	exit(1);
}

static int
lookup_word(const char *const *words, int n, const char *w)
{
	int	i;

	for (i = 0; i < n; i++)
		if (strcmp(words[i], w) == 0)
			return i;
	return -1;
}

static long
num(const char *name, const char *s, long min, long max)
{
	char		*ep;
	long		 v;

	errno = 0;
	v = strtol(s, &ep, 10);
	if (*s == '\0' || *ep != '\0' || errno != 0 || v < min || v > max)
		usage("%s: want a whole number from %ld to %ld, not \"%s\"",
		    name, min, max, s);
	return v;
}

static double
dnum(const char *name, const char *s, double min, double max)
{
	char		*ep;
	double		 v;

	errno = 0;
	v = strtod(s, &ep);
	if (*s == '\0' || *ep != '\0' || errno != 0 || !(v >= min) ||
	    !(v <= max))
		usage("%s: want a number from %g to %g, not \"%s\"", name,
		    min, max, s);
	return v;
}

enum {
	O_HOST = 256, O_PORT, O_DOMAIN, O_LABEL, O_TLS, O_MECH, O_PATTERN,
	O_FIRST, O_PASSWORD, O_ACCOUNTS, O_CONC, O_DURATION, O_PAIRS, O_RATE,
	O_WINDOW, O_CONTACTS, O_WAVE, O_PID, O_PROCESSES, O_SOURCES,
	O_DEADLINE, O_DRAIN, O_CACHE, O_REMOTE, O_JSON, O_WIRE, O_HELP
};

static const struct option longopts[] = {
	{ "host", required_argument, NULL, O_HOST },
	{ "port", required_argument, NULL, O_PORT },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "label", required_argument, NULL, O_LABEL },
	{ "tls", required_argument, NULL, O_TLS },
	{ "mech", required_argument, NULL, O_MECH },
	{ "user-pattern", required_argument, NULL, O_PATTERN },
	{ "first", required_argument, NULL, O_FIRST },
	{ "password", required_argument, NULL, O_PASSWORD },
	{ "accounts", required_argument, NULL, O_ACCOUNTS },
	{ "concurrency", required_argument, NULL, O_CONC },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "pairs", required_argument, NULL, O_PAIRS },
	{ "rate", required_argument, NULL, O_RATE },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "contacts", required_argument, NULL, O_CONTACTS },
	{ "wave", required_argument, NULL, O_WAVE },
	{ "server-pid", required_argument, NULL, O_PID },
	{ "processes", required_argument, NULL, O_PROCESSES },
	{ "sources", required_argument, NULL, O_SOURCES },
	{ "deadline", required_argument, NULL, O_DEADLINE },
	{ "drain", required_argument, NULL, O_DRAIN },
	{ "scram-cache", required_argument, NULL, O_CACHE },
	{ "allow-remote", no_argument, NULL, O_REMOTE },
	{ "json", no_argument, NULL, O_JSON },
	{ "wire", required_argument, NULL, O_WIRE },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 }
};

static void
check_pattern(const char *p)
{
	const char	*d = strstr(p, "%d");
	const char	*q;

	if (d == NULL)
		usage("--user-pattern: \"%s\" has no %%d for the account "
		    "number", p);
	for (q = p; (q = strchr(q, '%')) != NULL; q++)
		if (q != d)
			usage("--user-pattern: \"%s\" may hold one %%d and no "
			    "other %%", p);
	if (strlen(p) > 200)
		usage("--user-pattern: \"%s\" is too long", p);
}

static void
set_option(int ch, const char *a)
{
	static const char *const mechs[] = {
		[MECH_PLAIN] = "PLAIN", [MECH_SCRAM_SHA1] = "SCRAM-SHA-1",
		[MECH_SCRAM_SHA256] = "SCRAM-SHA-256",
	};
	int	i;

	switch (ch) {
	case O_HOST: opt.host = a; break;
	case O_PORT: opt.port = (int)num("--port", a, 1, 65535); break;
	case O_DOMAIN: opt.domain = a; break;
	case O_LABEL: opt.label = a; break;
	case O_TLS:
		if ((i = lookup_word(tls_modes, 3, a)) < 0)
			usage("--tls: want none, starttls or direct, not "
			    "\"%s\"", a);
		opt.tls = (enum tls_mode)i;
		break;
	case O_MECH:
		if ((i = lookup_word(mechs, 3, a)) < 0)
			usage("--mech: want PLAIN, SCRAM-SHA-1 or SCRAM-SHA-256,"
			    " not \"%s\"", a);
		opt.mech = (enum mech)i;
		break;
	case O_PATTERN: check_pattern(a); opt.pattern = a; break;
	case O_FIRST: opt.first = num("--first", a, 0, 1000000000); break;
	case O_PASSWORD: opt.password = a; break;
	case O_ACCOUNTS:
		opt.accounts = num("--accounts", a, 1, 10000000);
		break;
	case O_CONC:
		opt.concurrency = num("--concurrency", a, 1, 1000000);
		break;
	case O_DURATION:
		duration_set = dnum("--duration", a, 0.1, 86400);
		break;
	case O_PAIRS: opt.pairs = num("--pairs", a, 1, 5000000); break;
	case O_RATE: opt.rate = dnum("--rate", a, 0, 1e8); break;
	case O_WINDOW: opt.window = num("--window", a, 1, 100000); break;
	case O_CONTACTS:
		opt.contacts = num("--contacts", a, 0, 100000);
		break;
	case O_WAVE: opt.wave = num("--wave", a, 1, 10000000); break;
	case O_PID:
		opt.server_pid = (pid_t)num("--server-pid", a, 1, INT_MAX);
		break;
	case O_PROCESSES:
		opt.processes = (int)num("--processes", a, 1, MAX_PROCESSES);
		break;
	case O_SOURCES: opt.sources = (int)num("--sources", a, 1, 254); break;
	case O_DEADLINE:
		deadline_set = dnum("--deadline", a, 1, 7 * 86400);
		break;
	case O_DRAIN: opt.drain = dnum("--drain", a, 0, 3600); break;
	case O_CACHE: opt.scram_cache = a; break;
	case O_REMOTE: opt.allow_remote = 1; break;
	case O_JSON: opt.json = 1; break;
	case O_WIRE:
		/* COMPAT: the binary wire mode (issue 7) will be added here. */
		if (strcmp(a, "xml") != 0)
			usage("--wire: only xml is supported, not \"%s\"", a);
		break;
	case O_HELP:
		usage_text(0);
	default:
		usage_text(1);
	}
}

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*s4 = (const void *)sa;
	const struct sockaddr_in6	*s6 = (const void *)sa;
	const unsigned char		*b;

	if (sa->sa_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
		return 1;
	b = s6->sin6_addr.s6_addr;
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && b[12] == 127;
}

static void
resolve(void)
{
	struct addrinfo	 hints, *res;
	char		 port[8];
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", opt.port);
	if ((e = getaddrinfo(opt.host, port, &hints, &res)) != 0) {
		fprintf(stderr, "tern-bench: --host %s: %s\n", opt.host,
		    gai_strerror(e));
		exit(1);
	}
	memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
	opt.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	if (!is_loopback((struct sockaddr *)&opt.addr) && !opt.allow_remote)
		usage("--host %s is not a loopback address: a load test "
		    "against another machine needs --allow-remote", opt.host);
	if (opt.sources > 0 && opt.addr.ss_family != AF_INET)
		usage("--sources needs an IPv4 --host (127.0.0.x sources), not "
		    "%s", opt.host);
}

/* Per-scenario defaults and the checks between options. */
static void
check_options(void)
{
	long	conns;

	if (opt.port == 0)
		opt.port = opt.tls == TLSM_DIRECT ? 5223 : 5222;
	opt.duration = duration_set > 0 ? duration_set : 10;
	if (opt.sc == SC_MESSAGES) {
		if (opt.pairs == 0)
			usage("%s needs --pairs", "messages");
		conns = 2 * opt.pairs;
		opt.accounts = 2 * opt.pairs;
	} else {
		if (opt.accounts == 0)
			usage("%s needs --accounts", scenarios[opt.sc]);
		conns = opt.accounts;
	}
	if (opt.sc == SC_PRESENCE) {
		if (opt.contacts % 2 != 0 || opt.contacts >= opt.accounts)
			usage("--contacts: want an even number below --accounts"
			    " (a ring: K/2 contacts on each side), not %ld",
			    opt.contacts);
	}
	if (opt.processes > 1 && conns < opt.processes)
		usage("--processes %d: more processes than connections (%ld)",
		    opt.processes, conns);
	/* setting up sessions takes time too: 1 s per 50 beyond duration */
	opt.deadline = deadline_set > 0 ? deadline_set :
	    opt.duration + 120 + (double)conns / 50;
	if (conns > (long)EPHEMERAL_PORTS * (opt.sources > 0 ? opt.sources :
	    1))
		fprintf(stderr, "tern-bench: warning: %ld connections from %d "
		    "source address(es) may run out of ports; use --sources\n",
		    conns, opt.sources > 0 ? opt.sources : 1);
}

/* Raises the descriptor limit; exits when a worker would not fit. */
static void
raise_nofile(long conns)
{
	struct rlimit	rl;
	long		per = (conns + opt.processes - 1) / opt.processes + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)per > rl.rlim_cur) {
		fprintf(stderr, "tern-bench: each process would hold %ld "
		    "descriptors but may open %llu: use --processes %ld or "
		    "more\n", per, (unsigned long long)rl.rlim_cur,
		    (conns + (long)rl.rlim_cur - 64) / ((long)rl.rlim_cur -
		    32));
		exit(1);
	}
}

/* --- /proc sampling --------------------------------------------------- */

static long
server_rss_kib(void)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 v = -1;

	if (opt.server_pid == 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)opt.server_pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static double
server_cpu_s(void)
{
	char			 path[64], buf[1024], *p;
	FILE			*f;
	unsigned long long	 ut, st;
	size_t			 n;

	if (opt.server_pid == 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)opt.server_pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	    &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* --- workers ---------------------------------------------------------- */

static void
spawn(void)
{
	int	 i, j, cmd[2], res[2];
	pid_t	 pid;

	for (i = 0; i < opt.processes; i++) {
		if (pipe(cmd) == -1 || pipe(res) == -1) {
			perror("tern-bench: pipe");
			exit(1);
		}
		fflush(NULL);
		if ((pid = fork()) == -1) {
			perror("tern-bench: fork");
			exit(1);
		}
		if (pid == 0) {
			for (j = 0; j < i; j++) {
				close(workers[j].cmd);
				close(workers[j].res);
			}
			close(cmd[1]);
			close(res[0]);
			_exit(worker_main(i, cmd[0], res[1]));
		}
		close(cmd[0]);
		close(res[1]);
		workers[i].pid = pid;
		workers[i].cmd = cmd[1];
		workers[i].res = res[0];
	}
}

static void
add_error(const char *name, unsigned long long n)
{
	int	i;

	for (i = 0; i < ERR_ROWS && errs[i].name[0] != '\0'; i++)
		if (strcmp(errs[i].name, name) == 0)
			break;
	if (i == ERR_ROWS)
		i = ERR_ROWS - 1;
	if (errs[i].name[0] == '\0')
		snprintf(errs[i].name, sizeof(errs[i].name), "%s", name);
	errs[i].n += n;
}

static const struct {
	const char	*name;
	size_t		 off;
} stats[] = {
	{ "ok", offsetof(struct worker, ok) },
	{ "failed", offsetof(struct worker, failed) },
	{ "lost", offsetof(struct worker, lost) },
	{ "up", offsetof(struct worker, up) },
	{ "sent", offsetof(struct worker, sent) },
	{ "delivered", offsetof(struct worker, delivered) },
	{ "presence", offsetof(struct worker, presence) },
	{ "repairs", offsetof(struct worker, repairs) },
	{ "connected", offsetof(struct worker, connected) },
	{ "slots", offsetof(struct worker, slots) },
	{ "elapsed_ns", offsetof(struct worker, elapsed_ns) },
	{ "cpu_us", offsetof(struct worker, cpu_us) },
	{ "run_cpu_us", offsetof(struct worker, run_cpu_us) },
	{ "lat_max_ns", offsetof(struct worker, lat_max_ns) },
};

static void
worker_line(struct worker *w, char *line)
{
	char			 name[64];
	unsigned long long	 v;
	unsigned		 idx;
	size_t			 i;

	if (sscanf(line, "ready %ld %ld", &w->p_up, &w->p_failed) == 2)
		w->ready = 1;
	else if (strcmp(line, "end") == 0)
		w->ended = 1;
	else if (sscanf(line, "progress %ld %ld %ld %llu", &w->p_ok,
	    &w->p_failed, &w->p_up, &w->p_extra) == 4)
		;
	else if (sscanf(line, "stat %63s %llu", name, &v) == 2) {
		for (i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
			if (strcmp(stats[i].name, name) == 0)
				*(unsigned long long *)((char *)w +
				    stats[i].off) = v;
	} else if (sscanf(line, "err %63s %llu", name, &v) == 2)
		add_error(name, v);
	else if (sscanf(line, "hist %u %llu", &idx, &v) == 2 &&
	    idx < HIST_SIZE)
		hist[idx] += v;
}

/* Reads what a worker wrote; a worker that is gone counts as ended. */
static void
worker_read(struct worker *w)
{
	ssize_t	 n;
	char	*nl, *p;

	n = read(w->res, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
	if (n <= 0) {
		if (n == -1 && errno == EINTR)
			return;
		if (!w->ended) {
			add_error("worker-died", 1);
			w->ended = w->ready = 1;
		}
		close(w->res);
		w->res = -1;
		return;
	}
	w->len += (size_t)n;
	w->buf[w->len] = '\0';
	p = w->buf;
	while ((nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		worker_line(w, p);
		p = nl + 1;
	}
	w->len -= (size_t)(p - w->buf);
	memmove(w->buf, p, w->len);
	if (w->len == sizeof(w->buf) - 1)
		w->len = 0;	/* a line that long is garbage */
}

static int
all(int ended)
{
	int	i;

	for (i = 0; i < opt.processes; i++)
		if (!(ended ? workers[i].ended : workers[i].ready))
			return 0;
	return 1;
}

static void
tell_all(void)
{
	int	i;

	for (i = 0; i < opt.processes; i++)
		if (!workers[i].ended && write(workers[i].cmd, "g", 1) != 1)
			add_error("worker-pipe", 1);
}

/* Waits for worker output (at most ms milliseconds) and reads it. */
static void
poll_workers(int ms)
{
	struct pollfd	pf[MAX_PROCESSES];
	int		i, n = 0, map[MAX_PROCESSES];

	for (i = 0; i < opt.processes; i++)
		if (workers[i].res != -1) {
			pf[n].fd = workers[i].res;
			pf[n].events = POLLIN;
			map[n++] = i;
		}
	if (n == 0) {
		usleep((useconds_t)ms * 1000);
		return;
	}
	if (poll(pf, (nfds_t)n, ms) <= 0)
		return;
	for (i = 0; i < n; i++)
		if (pf[i].revents != 0)
			worker_read(&workers[map[i]]);
}

static void
progress(const char *what, double t)
{
	long			 ok = 0, failed = 0, up = 0;
	unsigned long long	 extra = 0;
	int			 i, setup = strcmp(what, "setup") == 0;

	for (i = 0; i < opt.processes; i++) {
		ok += workers[i].p_ok;
		failed += workers[i].p_failed;
		up += workers[i].p_up;
		extra += workers[i].p_extra;
	}
	fprintf(stderr, "tern-bench: [%5.0fs] %s %s: ", t, scenarios[opt.sc],
	    what);
	if (setup || opt.sc == SC_IDLE)
		fprintf(stderr, "%ld sessions up, %ld failed", up, failed);
	else
		fprintf(stderr, "%ld ok, %ld failed", ok, failed);
	if (opt.sc == SC_MESSAGES && !setup)
		fprintf(stderr, ", %llu delivered", extra);
	else if (opt.sc == SC_PRESENCE)
		fprintf(stderr, setup ? ", %llu rosters incomplete" :
		    ", %llu presences", extra);
	if (opt.server_pid != 0)
		fprintf(stderr, ", server RSS %ld KiB", server_rss_kib());
	fprintf(stderr, "\n");
}

/* Tells that every session is up (scripts may wait for this line). */
static void
setup_done(double t0)
{
	long	up = 0, failed = 0;
	int	i;

	for (i = 0; i < opt.processes; i++) {
		up += workers[i].p_up;
		failed += workers[i].p_failed;
	}
	fprintf(stderr, "tern-bench: setup done in %.1f s: %ld sessions up, "
	    "%ld failed\n", (double)now_ns() / 1e9 - t0, up, failed);
}

struct result {
	double	t0, t_go, t_end, hold_s;
	long	rss_before, rss_after, rss_end;
	double	cpu_before, cpu_after;
};

/* Polls until cond (all ready / all ended), the deadline, or a wait. */
static int
wait_for(int ended, double until, const char *what, double t0,
    double *last)
{
	double	now;

	while (!all(ended)) {
		now = (double)now_ns() / 1e9;
		if (now >= until)
			return -1;
		if (now - *last >= PROGRESS_EVERY) {
			*last = now;
			progress(what, now - t0);
		}
		poll_workers(200);
	}
	return 0;
}

static void
hold(struct result *r, double *last)
{
	double	now, next_rss = 0;
	long	rss;

	r->hold_s = (double)now_ns() / 1e9;
	/* let the server settle before sampling */
	while ((now = (double)now_ns() / 1e9) < r->hold_s + 1)
		poll_workers(100);
	r->rss_after = server_rss_kib();
	r->rss_end = r->rss_after;
	while ((now = (double)now_ns() / 1e9) < r->hold_s + opt.duration) {
		if (now >= next_rss) {
			if ((rss = server_rss_kib()) > 0)
				r->rss_end = rss;
			next_rss = now + RSS_EVERY;
		}
		if (now - *last >= PROGRESS_EVERY) {
			*last = now;
			progress("hold", now - r->t0);
		}
		poll_workers(200);
	}
	r->hold_s = now - r->hold_s;
}

static void
reap(void)
{
	int	i, st, left = 200;	/* 20 s: workers wait for closes */
	pid_t	p;

	for (i = 0; i < opt.processes; i++)
		if (workers[i].cmd != -1) {
			close(workers[i].cmd);
			workers[i].cmd = -1;
		}
	for (i = 0; i < opt.processes; i++) {
		while ((p = waitpid(workers[i].pid, &st, WNOHANG)) == 0 &&
		    left-- > 0)
			usleep(100000);
		if (p == 0) {
			kill(workers[i].pid, SIGKILL);
			waitpid(workers[i].pid, &st, 0);
		}
	}
}

static void
run(struct result *r)
{
	double	until, last;
	int	i;

	r->t0 = last = (double)now_ns() / 1e9;
	until = r->t0 + opt.deadline;
	r->rss_before = server_rss_kib();
	r->cpu_before = server_cpu_s();
	spawn();
	if (wait_for(0, until, "setup", r->t0, &last) == -1)
		add_error("setup-deadline", 1);
	if (opt.sc != SC_LOGIN && opt.sc != SC_REGISTER)
		setup_done(r->t0);
	if (opt.sc == SC_IDLE)
		hold(r, &last);
	else
		r->cpu_before = server_cpu_s();
	r->t_go = (double)now_ns() / 1e9;
	tell_all();
	if (wait_for(1, until + 15, "run", r->t0, &last) == -1) {
		add_error("worker-killed-at-deadline", 1);
		for (i = 0; i < opt.processes; i++)
			if (!workers[i].ended)
				kill(workers[i].pid, SIGKILL);
	}
	r->t_end = (double)now_ns() / 1e9;
	r->cpu_after = server_cpu_s();
	reap();
}

/* --- output ----------------------------------------------------------- */

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* The latency at quantile q (0..1), in ms, from the merged histogram. */
static double
quantile_ms(double q)
{
	unsigned long long	 total = 0, seen = 0, want;
	unsigned		 i, o;
	double			 v;

	for (i = 0; i < HIST_SIZE; i++)
		total += hist[i];
	if (total == 0)
		return -1;
	want = (unsigned long long)ceil(q * (double)total);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_SIZE; i++) {
		seen += hist[i];
		if (seen >= want)
			break;
	}
	if (i < 128)
		v = (double)i;
	else {
		o = i / 64 - 1;
		v = (double)((64ull + i % 64) << o) + (double)(1ull << o) / 2;
	}
	/* a bucket's middle may lie above the largest value seen */
	return (v > (double)lat_max_ns ? (double)lat_max_ns : v) / 1e6;
}

struct totals {
	unsigned long long ok, failed, lost, up, sent, delivered, presence;
	unsigned long long repairs;
	unsigned long long connected, slots, cpu_us, lat_max_ns;
	double	elapsed, max_load;
};

static void
sum(struct totals *t, const struct result *r)
{
	struct worker	*w;
	double		 el, load;
	int		 i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < opt.processes; i++) {
		w = &workers[i];
		t->ok += w->ok;
		t->failed += w->failed;
		t->lost += w->lost;
		t->up += w->up;
		t->sent += w->sent;
		t->delivered += w->delivered;
		t->presence += w->presence;
		t->repairs += w->repairs;
		t->connected += w->connected;
		t->slots += w->slots;
		t->cpu_us += w->cpu_us;
		if (w->lat_max_ns > t->lat_max_ns)
			t->lat_max_ns = lat_max_ns = w->lat_max_ns;
		el = (double)w->elapsed_ns / 1e9;
		if (el > t->elapsed)
			t->elapsed = el;
		/* too short a run says nothing about the client's load */
		load = opt.sc == SC_IDLE ? (double)w->cpu_us / 1e6 /
		    (r->t_end - r->t0) : el >= 0.5 ? (double)w->run_cpu_us /
		    1e6 / el : 0;
		if (load > t->max_load)
			t->max_load = load;
	}
	if (opt.sc == SC_IDLE)
		t->elapsed = r->hold_s;
	if (t->elapsed <= 0)
		t->elapsed = r->t_end - r->t_go;
}

static void
print_json(const struct totals *t, const struct result *r, double rate,
    unsigned long long lost)
{
	int	i;
	double	cpu = r->cpu_after - r->cpu_before;

	printf("{\"scenario\":\"%s\",\"label\":", scenarios[opt.sc]);
	json_str(opt.label);
	printf(",\"tls\":\"%s\",\"mech\":\"%s\"", tls_modes[opt.tls],
	    mech_name(opt.mech));
	printf(",\"accounts\":%ld", opt.accounts);
	if (opt.sc == SC_MESSAGES)
		printf(",\"pairs\":%ld,\"rate_target\":%.0f,\"window\":%ld",
		    opt.pairs, opt.rate, opt.window);
	if (opt.sc == SC_PRESENCE)
		printf(",\"contacts\":%ld", opt.contacts);
	printf(",\"concurrency\":%ld,\"processes\":%d,\"ok\":%llu,"
	    "\"failed\":%llu", opt.concurrency, opt.processes, t->ok,
	    t->failed);
	if (opt.sc != SC_LOGIN && opt.sc != SC_REGISTER)
		printf(",\"lost\":%llu", lost);
	printf(",\"elapsed_s\":%.3f", t->elapsed);
	if (opt.sc != SC_IDLE)
		printf(",\"rate_per_s\":%.1f", rate);
	if (opt.sc == SC_MESSAGES)
		printf(",\"sent\":%llu,\"delivered\":%llu,\"sessions_lost\":"
		    "%llu", t->sent, t->delivered, t->lost);
	if (opt.sc == SC_PRESENCE)
		printf(",\"delivered\":%llu,\"roster_repairs\":%llu",
		    t->presence, t->repairs);
	if (quantile_ms(0.5) >= 0)
		printf(",\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":"
		    "%.3f,\"max\":%.3f}", quantile_ms(0.5), quantile_ms(0.9),
		    quantile_ms(0.99), (double)t->lat_max_ns / 1e6);
	if (opt.server_pid != 0 && r->cpu_before >= 0 && r->cpu_after >= 0) {
		printf(",\"server_cpu_s\":%.2f", cpu);
		if (opt.sc == SC_MESSAGES && t->delivered > 0)
			printf(",\"server_cpu_s_per_100k\":%.3f",
			    cpu * 1e5 / (double)t->delivered);
	}
	if (opt.server_pid != 0 && r->rss_before > 0 && opt.sc == SC_IDLE) {
		printf(",\"server_rss_kib_before\":%ld", r->rss_before);
		if (r->rss_after > 0) {
			printf(",\"server_rss_kib_after\":%ld,"
			    "\"server_rss_kib_end\":%ld", r->rss_after,
			    r->rss_end);
			if (t->up > 0)
				printf(",\"kib_per_session\":%.2f",
				    (double)(r->rss_after - r->rss_before) /
				    (double)t->up);
		}
	}
	printf(",\"client_cpu_s\":%.2f,\"client_bound\":%s,\"errors\":{",
	    (double)t->cpu_us / 1e6, t->max_load > 0.9 ? "true" : "false");
	for (i = 0; i < ERR_ROWS && errs[i].name[0] != '\0'; i++) {
		if (i > 0)
			putchar(',');
		json_str(errs[i].name);
		printf(":%llu", errs[i].n);
	}
	printf("}}\n");
	fflush(stdout);
}

static void
print_human(const struct totals *t, const struct result *r, double rate,
    unsigned long long lost)
{
	static const char *const units[] = {
		[SC_REGISTER] = "registrations/s", [SC_LOGIN] = "logins/s",
		[SC_IDLE] = "", [SC_MESSAGES] = "messages/s delivered",
		[SC_PRESENCE] = "presence stanzas/s delivered",
	};
	int	i;

	fprintf(stderr, "tern-bench: %s against %s:%d (%s, %s, %s): %llu ok, "
	    "%llu failed", scenarios[opt.sc], opt.host, opt.port, opt.label,
	    tls_modes[opt.tls], mech_name(opt.mech), t->ok, t->failed);
	if (opt.sc != SC_LOGIN && opt.sc != SC_REGISTER)
		fprintf(stderr, ", %llu lost", lost);
	fprintf(stderr, " in %.2f s", t->elapsed);
	if (units[opt.sc][0] != '\0')
		fprintf(stderr, ": %.1f %s", rate, units[opt.sc]);
	fprintf(stderr, "\n");
	if (opt.sc == SC_MESSAGES)
		fprintf(stderr, "  sent %llu, delivered %llu\n", t->sent,
		    t->delivered);
	if (quantile_ms(0.5) >= 0)
		fprintf(stderr, "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  "
		    "max %.3f\n", quantile_ms(0.5), quantile_ms(0.9),
		    quantile_ms(0.99), (double)t->lat_max_ns / 1e6);
	if (opt.server_pid != 0) {
		fprintf(stderr, "  server: CPU %.2f s", r->cpu_after -
		    r->cpu_before);
		if (opt.sc == SC_IDLE && t->up > 0)
			fprintf(stderr, ", RSS %ld -> %ld KiB (%.2f KiB per "
			    "session), %ld KiB at the end", r->rss_before,
			    r->rss_after, (double)(r->rss_after -
			    r->rss_before) / (double)t->up, r->rss_end);
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "  client: CPU %.2f s%s\n", (double)t->cpu_us / 1e6,
	    t->max_load > 0.9 ? " -- CLIENT-BOUND: a tern-bench process used"
	    " more than 90% of a core; add --processes or trust the figures "
	    "less" : "");
	if (opt.server_pid != 0 && r->cpu_after - r->cpu_before > 0 &&
	    (double)t->cpu_us / 1e6 > r->cpu_after - r->cpu_before)
		fprintf(stderr, "  note: tern-bench used more CPU than the "
		    "server; on a machine with few cores that slows the server"
		    "%s\n", opt.sc == SC_LOGIN && opt.mech != MECH_PLAIN &&
		    opt.scram_cache == NULL ? " (--scram-cache helps)" : "");
	for (i = 0; i < ERR_ROWS && errs[i].name[0] != '\0'; i++)
		fprintf(stderr, "  error %s: %llu\n", errs[i].name, errs[i].n);
}

static void
report(const struct result *r)
{
	struct totals		t;
	double			rate;
	unsigned long long	lost;

	sum(&t, r);
	lost = t.lost;
	switch (opt.sc) {
	case SC_MESSAGES:
		rate = (double)t.delivered / t.elapsed;
		lost = t.sent - t.delivered;
		t.ok = t.up;
		break;
	case SC_PRESENCE:
		rate = (double)t.presence / t.elapsed;
		break;
	case SC_IDLE:
		rate = 0;
		break;
	default:
		rate = (double)t.ok / t.elapsed;
		break;
	}
	if (opt.json)
		print_json(&t, r, rate, lost);
	print_human(&t, r, rate, lost);
	if (t.connected == 0 && t.slots > 0) {
		fprintf(stderr, "tern-bench: no connection to %s port %d "
		    "succeeded\n", opt.host, opt.port);
		exit(2);
	}
}

int
main(int argc, char *argv[])
{
	struct result	r;
	int		ch, i;

	opt = (struct opts){
		.host = "127.0.0.1", .domain = "localhost", .label = "",
		.tls = TLSM_STARTTLS, .mech = MECH_SCRAM_SHA256,
		.pattern = "bench%d", .first = 1, .password = "bench",
		.concurrency = 50, .window = 8, .contacts = 2,
		.processes = 1, .drain = 10,
	};
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		set_option(ch, optarg);
	if (optind == argc)
		usage("%s", "which scenario? register, login, idle, messages "
		    "or presence");
	if (optind != argc - 1)
		usage("one scenario, not several (\"%s\" ...)",
		    argv[optind + 1]);
	if ((i = lookup_word(scenarios, 5, argv[optind])) < 0)
		usage("unknown scenario \"%s\": want register, login, idle, "
		    "messages or presence", argv[optind]);
	opt.sc = (enum scenario)i;
	if (opt.label[0] == '\0')
		opt.label = opt.host;
	if (opt.server_pid != 0 && server_cpu_s() < 0) {
		fprintf(stderr, "tern-bench: --server-pid %d: cannot read "
		    "/proc/%d/stat\n", (int)opt.server_pid,
		    (int)opt.server_pid);
		exit(1);
	}
	check_options();
	resolve();
	raise_nofile(opt.sc == SC_MESSAGES ? 2 * opt.pairs : opt.accounts);
	signal(SIGPIPE, SIG_IGN);
	memset(&r, 0, sizeof(r));
	run(&r);
	report(&r);
	return 0;
}
