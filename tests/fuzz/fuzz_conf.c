/*
 * libFuzzer target: the configuration parser (conf.c, conf_mod.c) with
 * the built-in modules' directive tables registered.  Whatever the text,
 * conf_load_string either returns a configuration whose values are
 * within the documented bounds, or fails with "fuzz.conf:LINE: message"
 * where LINE is a line of the text.  Anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "xmalloc.h"

#define NAME	"fuzz.conf"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what, const char *err)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_conf: %s%s%s\n", what, err ? ": " : "",
	    err ? err : "");
	abort();
}

/* "fuzz.conf:LINE: message" with 1 <= LINE <= lines of the text. */
static void
check_error(const char *err, const char *text)
{
	const char	*p = err + sizeof(NAME);
	char		*end;
	long		 line, nlines = 1;

	check(strncmp(err, NAME ":", sizeof(NAME)) == 0,
	    "error does not start with " NAME ":", err);
	line = strtol(p, &end, 10);
	check(end != p && end[0] == ':' && end[1] == ' ' && end[2] != '\0',
	    "error has no line number and message", err);
	for (p = text; *p != '\0'; p++)
		nlines += *p == '\n';
	check(line >= 1 && line <= nlines, "error names a line that is not "
	    "in the text", err);
}

static void
check_conf(const struct tern_conf *c)
{
	const struct tern_limits *l = &c->limits;
	char			*d;
	size_t			 i;

	check(c->nhosts > 0 && c->nlistens > 0, "loaded without a host or "
	    "listener", NULL);
	check(l->stanza_size >= 1024 && l->stanza_size <= 16 << 20 &&
	    l->depth >= 4 && l->depth <= 1024 && l->attrs >= 4 &&
	    l->attrs <= 4096, "limits outside their bounds", NULL);
	check(c->data_dir != NULL, "no data_dir", NULL);
	for (i = 0; i < c->nlistens; i++)
		check(c->listens[i].port > 0 && c->listens[i].port < 65536,
		    "listener port out of range", c->listens[i].addr);
	for (i = 0; i < c->nhosts; i++) {
		check(c->hosts[i].cert != NULL && c->hosts[i].key != NULL,
		    "host without certificate", c->hosts[i].name);
		d = jid_prep_domain(c->hosts[i].name);
		check(d != NULL && strcmp(d, c->hosts[i].name) == 0,
		    "host name is not a prepared domain", c->hosts[i].name);
		free(d);
		check(conf_host_find(c, c->hosts[i].name) == &c->hosts[i],
		    "duplicate host accepted", c->hosts[i].name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 once;
	struct tern_conf	*c;
	char			*text, err[1024];

	if (!once) {
		once = 1;
		log_init(LOG_LVL_ERROR, NULL, "fuzz_conf");
		module_register_builtins();
	}
	/* A NUL ends the text, as it would for any C string. */
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 0, sizeof(err));
	if ((c = conf_load_string(text, NAME, err, sizeof(err))) != NULL) {
		check(err[0] == '\0', "error set on success", err);
		check_conf(c);
		conf_free(c);
	} else
		check_error(err, text);
	free(text);
	return 0;
}
