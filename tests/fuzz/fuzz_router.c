/*
 * libFuzzer target: the router and every built-in module, given what an
 * authenticated client may send.  An in-process server as in
 * tests/modules/harness.c: host example.org with the standard modules, a
 * store in a temporary folder, accounts alice, bob and carol, and the
 * sessions alice@example.org/a and bob@example.org/b without streams.
 *
 * Input: one XML element, parsed with codec_xml_parse_one.
 *   - A stanza (message, presence, iq in jabber:client) is sent by alice.
 *   - Any other element is a script: its children are sent in order, a
 *     stanza by alice, and the stanzas inside a child named "bob" by
 *     bob, so that one input can hold an exchange (alice subscribes,
 *     bob approves).
 * Stanzas a stream would refuse (nesting or attributes over the default
 * limits) are skipped.  A module closing a session ends the script, as
 * the stream error would end the connection.
 *
 * Each input starts from the same state: both sessions are logged out
 * and in again and the three accounts' module data is deleted after each
 * input, so a crash reproduces from its input alone.
 *
 * Checked: no crash, no leak, and everything the server sends to a
 * session serializes to one well-formed element.  With FUZZ_ROUTER_TRACE
 * set in the environment, what each session receives is printed (to see
 * what a seed does: build-fuzz/tests/fuzz/fuzz_router FILE).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

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
#include "xmalloc.h"

#include "tern/module.h"

#define HOST		"example.org"
#define MAX_DEPTH	64	/* the defaults of max_depth, max_attrs */
#define MAX_ATTRS	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	*const users[] = { "alice", "bob", "carol", NULL };

static const char	 conf_text[] =
	"data_dir \"/nonexistent\";\n"
	"listen c2s \"127.0.0.1:1\";\n"
	"host \"" HOST "\" {\n"
	"	certificate \"c\" \"k\";\n"
	"	modules roster presence offline disco ping version time last\n"
	"	    vcard private blocking register;\n"
	"}\n";

static struct tern_conf	*conf;
static char		 dir[64];
static struct session	*alice, *bob;
static int		 closed;	/* a module closed a session */
static struct evbuffer	*out;
static int		 trace;

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_router: %s%s%s\n", what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	abort();
}

/* What the server sends a session: it must be one well-formed element. */
static void
capture(struct session *s, const struct stanza *st)
{
	struct stanza	*again;
	size_t		 len;
	char		*xml;

	codec_xml_serialize(st, out, STANZA_NS_CLIENT);
	len = evbuffer_get_length(out);
	xml = (char *)evbuffer_pullup(out, -1);
	if ((again = codec_xml_parse_one(xml, len)) == NULL) {
		evbuffer_add(out, "", 1);
		die("the server sent what does not parse",
		    (char *)evbuffer_pullup(out, -1));
	}
	stanza_unref(again);
	if (trace)
		fprintf(stderr, "-> %s: %.*s\n", s->jid->full, (int)len, xml);
	evbuffer_drain(out, len);
}

static void
close_capture(struct session *s, const char *cond)
{
	if (trace)
		fprintf(stderr, "-> %s: closed (%s)\n", s->jid->full, cond);
	closed = 1;
}

/*
 * LMDB keeps its two files open from store_open on, so the folder can go
 * at once: nothing is left in /dev/shm even when a crash ends the run.
 */
static void
unlink_store(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		die("could not remove", dir);
}

static void
start(void)
{
	char	err[512];
	size_t	i;

	trace = getenv("FUZZ_ROUTER_TRACE") != NULL;
	log_init(LOG_LVL_ERROR, NULL, "fuzz_router");
	module_register_builtins();
	if ((conf = conf_load_string(conf_text, "fuzz.conf", err,
	    sizeof(err))) == NULL)
		die("configuration", err);
	/* A tmpfs keeps LMDB's commits cheap. */
	strcpy(dir, "/dev/shm/tern-fuzz-XXXXXX");
	if (access("/dev/shm", W_OK) != 0 || mkdtemp(dir) == NULL) {
		strcpy(dir, "/tmp/tern-fuzz-XXXXXX");
		if (mkdtemp(dir) == NULL)
			die("mkdtemp", dir);
	}
	if (store_open(dir, 256 << 20) == -1)
		die("store_open", dir);
	unlink_store();
	loop_init();
	loop_set_conf(conf);
	if (module_start(conf, err, sizeof(err)) == -1)
		die("module_start", err);
	if ((out = evbuffer_new()) == NULL)
		die("evbuffer_new", NULL);
	session_capture = capture;
	session_close_capture = close_capture;
	for (i = 0; users[i] != NULL; i++)
		if (account_create(HOST, users[i], "pw", 4096) == -1)
			die("account_create", users[i]);
}

static struct session *
login(const char *full)
{
	struct session	*s, *taken;
	struct jid	*j;

	if ((j = jid_parse(full)) == NULL)
		die("jid_parse", full);
	if ((s = session_bind(NULL, j, &taken)) == NULL)
		die("bound already", full);
	router_bound(s);
	return s;
}

/* As a stream ends: out of the tables now, freed by the reaper. */
static void
logout(struct session *s)
{
	session_unbind(s);
	router_unbound(s);
	loop_reap();
	session_free(s);
}

/* Back to the state after start(): what alice did is forgotten. */
static void
reset(void)
{
	const struct tern_module	*m;
	const char *const		*st;
	size_t				 i, u;

	logout(alice);
	logout(bob);
	for (i = 0; i < module_count(); i++) {
		m = module_get(i);
		for (st = m->stores; st != NULL && *st != NULL; st++)
			for (u = 0; users[u] != NULL; u++)
				if (store_kv_del_user(*st, HOST, users[u]) ==
				    -1)
					die("store_kv_del_user", *st);
	}
	for (u = 0; users[u] != NULL; u++)
		if (account_create(HOST, users[u], "pw", 4096) == -1)
			die("account_create", users[u]);
	loop_reap();
}

/* Would the stream have let it through? */
static int
within_limits(const struct stanza *st, unsigned level)
{
	size_t	i;

	if (level > MAX_DEPTH || st->nattrs > MAX_ATTRS)
		return 0;
	for (i = 0; i < st->nkids; i++)
		if (st->kids[i].el != NULL &&
		    !within_limits(st->kids[i].el, level + 1))
			return 0;
	return 1;
}

static int
is_stanza(const struct stanza *st)
{
	return stanza_kind(st) != STANZA_OTHER && st->ns != NULL &&
	    strcmp(st->ns, STANZA_NS_CLIENT) == 0;
}

/* Sends st from s as its stream would; 0, or -1 once s was closed. */
static int
send_from(struct session *s, struct stanza *st)
{
	if (!is_stanza(st) || !within_limits(st, 1))
		return 0;
	if (trace)
		fprintf(stderr, "<- %s: %s\n", s->jid->full, st->name);
	router_from_session(s, st);
	loop_reap();
	return closed ? -1 : 0;
}

static void
run_script(struct stanza *root)
{
	struct stanza	*el, *sub;
	size_t		 i, j;

	for (i = 0; i < root->nkids; i++) {
		if ((el = root->kids[i].el) == NULL)
			continue;
		if (strcmp(el->name, "bob") != 0) {
			if (send_from(alice, el) == -1)
				return;
			continue;
		}
		for (j = 0; j < el->nkids; j++)
			if ((sub = el->kids[j].el) != NULL &&
			    send_from(bob, sub) == -1)
				return;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 started;
	struct stanza	*st;

	if (!started) {
		started = 1;
		start();
		alice = login("alice@" HOST "/a");
		bob = login("bob@" HOST "/b");
	}
	if ((st = codec_xml_parse_one((const char *)data, size)) != NULL) {
		closed = 0;
		if (is_stanza(st))
			(void)send_from(alice, st);
		else if (within_limits(st, 0))
			run_script(st);
		stanza_unref(st);
		loop_reap();
		reset();
		alice = login("alice@" HOST "/a");
		bob = login("bob@" HOST "/b");
	}
	return 0;
}
