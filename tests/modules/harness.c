/*
 * Module harness: see harness.h.  Captured stanzas are serialized at
 * capture time, so later changes to a shared tree cannot hide a bug.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "account.h"
#include "codec.h"
#include "conf.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "module.h"
#include "router.h"
#include "session.h"
#include "stanza.h"
#include "store.h"
#include "harness.h"
#include "xmalloc.h"

#include "tern/module.h"

#define MAXQ	1024

struct capq {
	struct session	*s;
	char		*q[MAXQ];
	size_t		 head, tail;
};

static struct capq	 queues[64];
static size_t		 nqueues;
static char		 dir[64];
static struct tern_conf	*conf;
static char		*cur;

static struct capq *
queue_of(struct session *s)
{
	size_t	i;

	for (i = 0; i < nqueues; i++)
		if (queues[i].s == s)
			return &queues[i];
	cr_assert_lt(nqueues, 64, "too many harness sessions");
	queues[nqueues].s = s;
	return &queues[nqueues++];
}

static void
capture(struct session *s, const struct stanza *st)
{
	struct capq	*q = queue_of(s);

	cr_assert_lt(q->tail - q->head, MAXQ, "capture queue full");
	q->q[q->tail++ % MAXQ] = tern_stanza_to_xml(
	    (const struct tern_stanza *)st);
}

/* A close is queued as <closed condition='COND'/>. */
static void
close_capture(struct session *s, const char *cond)
{
	struct capq	*q = queue_of(s);

	cr_assert_lt(q->tail - q->head, MAXQ, "capture queue full");
	xasprintf(&q->q[q->tail++ % MAXQ], "<closed condition='%s'/>", cond);
}

static void
load(void)
{
	char	err[512];

	cr_assert_eq(store_open(dir, 64 << 20), 0);
	loop_init();
	loop_set_conf(conf);
	cr_assert_eq(module_start(conf, err, sizeof(err)), 0, "%s", err);
}

void
harness_start(const char *body)
{
	char	text[4096], err[512];

	log_init(LOG_LVL_WARN, NULL, "harness");
	module_register_builtins();
	snprintf(text, sizeof(text), "data_dir \"/nonexistent\";\n"
	    "listen c2s \"127.0.0.1:1\";\n"
	    "host \"example.org\" { certificate \"c\" \"k\"; %s }\n"
	    "host \"other.org\" { certificate \"c\" \"k\"; %s }\n",
	    body, body);
	conf = conf_load_string(text, "harness.conf", err, sizeof(err));
	cr_assert_not_null(conf, "%s", err);
	strcpy(dir, "/tmp/tern-harness-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	session_capture = capture;
	session_close_capture = close_capture;
	load();
	cr_assert_eq(account_create("example.org", "alice", "pw", 4096), 0);
	cr_assert_eq(account_create("example.org", "bob", "pw", 4096), 0);
	cr_assert_eq(account_create("example.org", "carol", "pw", 4096), 0);
}

static void
unload(void)
{
	size_t	i;

	for (i = 0; i < nqueues; i++)
		if (queues[i].s != NULL)
			harness_logout(queues[i].s);
	loop_reap();
	module_stop();
	loop_free();
	store_close();
	for (i = 0; i < nqueues; i++)
		while (queues[i].head < queues[i].tail)
			free(queues[i].q[queues[i].head++ % MAXQ]);
	nqueues = 0;
}

void
harness_restart(void)
{
	unload();
	load();
}

void
harness_stop(void)
{
	char	cmd[128];

	unload();
	conf_free(conf);
	conf = NULL;
	free(cur);
	cur = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

struct session *
harness_login(const char *full)
{
	struct jid	*j = jid_parse(full);
	struct session	*s, *taken;

	cr_assert_not_null(j, "bad JID %s", full);
	s = session_bind(NULL, j, &taken);
	cr_assert_not_null(s, "%s is bound already", full);
	queue_of(s);
	router_bound(s);
	return s;
}

void
harness_logout(struct session *s)
{
	struct capq	*q = queue_of(s);

	session_unbind(s);
	router_unbound(s);
	q->s = NULL;
	session_free(s);
	while (q->head < q->tail)
		free(q->q[q->head++ % MAXQ]);
}

void
harness_send(struct session *s, const char *xml)
{
	struct stanza	*st = codec_xml_parse_one(xml, strlen(xml));

	cr_assert_not_null(st, "not one XML element: %s", xml);
	router_from_session(s, st);
	stanza_unref(st);
}

const char *
harness_next(struct session *s)
{
	struct capq	*q = queue_of(s);

	free(cur);
	cur = NULL;
	if (q->head == q->tail)
		return NULL;
	cur = q->q[q->head++ % MAXQ];
	return cur;
}

size_t
harness_drain(struct session *s)
{
	size_t	n = 0;

	while (harness_next(s) != NULL)
		n++;
	return n;
}

void
harness_tick(void)
{
	event_base_loop(loop_base(), EVLOOP_NONBLOCK);
}
