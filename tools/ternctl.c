/*
 * ternctl: account administration.  Works beside a running ternd: both
 * open the same LMDB environment, whose lock file serialises writers.
 * Passwords are read from the terminal (twice, without echo) or as one
 * line from standard input, never from the command line.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "account.h"
#include "conf.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "privdrop.h"
#include "store.h"
#include "xmalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define PASS_MAX	1024

static struct tern_conf	*conf;
static const char	*conf_path = SYSCONFDIR "/tern/tern.conf";

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: ternctl [-f file] adduser JID\n"
	    "       ternctl [-f file] passwd JID\n"
	    "       ternctl [-f file] deluser JID\n"
	    "       ternctl [-f file] users [DOMAIN]\n");
	exit(2);
}

/* Reads one line without echo from the terminal; 0 or -1. */
static int
read_tty(FILE *tty, const char *prompt, char *buf, size_t len)
{
	struct termios	old, raw;
	int		fd = fileno(tty), ok;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(fd, &old) == -1)
		return -1;
	raw = old;
	raw.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &raw);
	ok = fgets(buf, (int)len, tty) != NULL;
	tcsetattr(fd, TCSAFLUSH, &old);
	fputc('\n', stderr);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/* The new password, from the terminal or stdin; exits on failure. */
static void
read_password(char *buf, size_t len)
{
	char	again[PASS_MAX];
	FILE	*tty;

	if (isatty(STDIN_FILENO) && (tty = fopen("/dev/tty", "r+")) != NULL) {
		if (read_tty(tty, "Password: ", buf, len) == -1 ||
		    read_tty(tty, "Again: ", again, sizeof(again)) == -1) {
			fclose(tty);
			fprintf(stderr, "ternctl: cannot read the password\n");
			exit(1);
		}
		fclose(tty);
		if (strcmp(buf, again) != 0) {
			fprintf(stderr, "ternctl: the passwords differ\n");
			exit(1);
		}
		OPENSSL_cleanse(again, sizeof(again));
	} else if (fgets(buf, (int)len, stdin) == NULL) {
		fprintf(stderr, "ternctl: no password on standard input\n");
		exit(1);
	} else
		buf[strcspn(buf, "\r\n")] = '\0';
	if (*buf == '\0') {
		fprintf(stderr, "ternctl: the password is empty\n");
		exit(1);
	}
}

/* A bare account JID on a configured host; exits with the reason. */
static struct jid *
account_jid(const char *arg)
{
	struct jid	*j;

	if ((j = jid_parse(arg)) == NULL || j->node == NULL ||
	    j->resource != NULL) {
		fprintf(stderr, "ternctl: %s is not a valid account JID "
		    "(user@domain)\n", arg);
		exit(1);
	}
	if (conf_host_find(conf, j->domain) == NULL) {
		fprintf(stderr, "ternctl: %s is not a host in %s\n",
		    j->domain, conf_path);
		exit(1);
	}
	return j;
}

static int
cmd_adduser(int argc, char **argv)
{
	struct jid	*j;
	char		 pw[PASS_MAX];
	int		 rc;

	if (argc != 2)
		usage();
	j = account_jid(argv[1]);
	if (account_exists(j->domain, j->node) == 1) {
		fprintf(stderr, "ternctl: %s already exists\n", j->bare);
		return 1;
	}
	read_password(pw, sizeof(pw));
	rc = account_create(j->domain, j->node, pw, conf->scram_iterations);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc == 1)
		fprintf(stderr, "ternctl: %s already exists\n", j->bare);
	else if (rc == -1)
		fprintf(stderr, "ternctl: cannot create %s (password not "
		    "valid UTF-8 text, or storage error)\n", j->bare);
	else
		printf("created %s\n", j->bare);
	jid_free(j);
	return rc == 0 ? 0 : 1;
}

static int
cmd_passwd(int argc, char **argv)
{
	struct jid	*j;
	char		 pw[PASS_MAX];
	int		 rc;

	if (argc != 2)
		usage();
	j = account_jid(argv[1]);
	if (account_exists(j->domain, j->node) != 1) {
		fprintf(stderr, "ternctl: %s does not exist\n", j->bare);
		return 1;
	}
	read_password(pw, sizeof(pw));
	rc = account_set_password(j->domain, j->node, pw,
	    conf->scram_iterations);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc != 0)
		fprintf(stderr, "ternctl: cannot change the password of %s\n",
		    j->bare);
	else
		printf("password of %s changed\n", j->bare);
	jid_free(j);
	return rc == 0 ? 0 : 1;
}

static int
cmd_deluser(int argc, char **argv)
{
	struct jid	*j;
	int		 rc;

	if (argc != 2)
		usage();
	j = account_jid(argv[1]);
	rc = module_delete_user(j->domain, j->node);
	if (rc == 1)
		fprintf(stderr, "ternctl: %s does not exist\n", j->bare);
	else if (rc == -1)
		fprintf(stderr, "ternctl: cannot delete %s\n", j->bare);
	else
		printf("deleted %s\n", j->bare);
	jid_free(j);
	return rc == 0 ? 0 : 1;
}

static void
print_user(const char *user, void *arg)
{
	printf("%s@%s\n", user, (const char *)arg);
}

static int
cmd_users(int argc, char **argv)
{
	char	*dom = NULL;
	size_t	 i;
	int	 rc = 0;

	if (argc > 2)
		usage();
	if (argc == 2 && ((dom = jid_prep_domain(argv[1])) == NULL ||
	    conf_host_find(conf, dom) == NULL)) {
		fprintf(stderr, "ternctl: %s is not a host in %s\n", argv[1],
		    conf_path);
		free(dom);
		return 1;
	}
	for (i = 0; i < conf->nhosts; i++)
		if ((dom == NULL || strcmp(conf->hosts[i].name, dom) == 0) &&
		    account_each(conf->hosts[i].name, print_user,
		    conf->hosts[i].name) == -1)
			rc = 1;
	free(dom);
	return rc;
}

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
} commands[] = {
	{ "adduser", cmd_adduser },
	{ "passwd", cmd_passwd },
	{ "deluser", cmd_deluser },
	{ "users", cmd_users },
};

int
main(int argc, char *argv[])
{
	char	err[1024];
	size_t	i;
	int	ch, rc;

	log_init(LOG_LVL_WARN, NULL, "ternctl");
	module_register_builtins();
	while ((ch = getopt(argc, argv, "f:")) != -1) {
		if (ch != 'f')
			usage();
		conf_path = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "ternctl: unknown command %s\n", argv[0]);
		usage();
	}
	if ((conf = conf_load(conf_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ternctl: %s\n", err);
		return 1;
	}
	/* As root, work as ternd's user so its files stay its own. */
	if (conf->user != NULL && geteuid() == 0 &&
	    privdrop(conf->user, conf->group, err, sizeof(err)) == -1) {
		fprintf(stderr, "ternctl: %s\n", err);
		return 1;
	}
	if (store_open(conf->data_dir, conf->store_map_size) == -1) {
		fprintf(stderr, "ternctl: cannot open the data directory %s "
		    "(is it readable and writable by %s?)\n", conf->data_dir,
		    conf->user != NULL ? conf->user : "this user");
		return 1;
	}
	rc = commands[i].fn(argc, argv);
	store_close();
	conf_free(conf);
	return rc;
}
