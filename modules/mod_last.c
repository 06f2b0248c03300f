/*
 * XEP-0012 Last Activity, answered by the server: to the server, its
 * uptime; to an account's bare JID, 0 while the account has an available
 * resource, else the seconds since it last went unavailable and the
 * <status/> of its last unavailable presence.  Queries to a full JID are
 * the client's (idle time): the router delivers them.
 *
 * The record (store "last", key "logout": "SECONDS-SINCE-EPOCH\nSTATUS")
 * is written whenever an available resource becomes unavailable, by an
 * unavailable presence (with its status) or by its session ending (no
 * status); while another resource stays available the query answers 0
 * anyway, and the last one to go writes last.  It is deleted with the
 * account.
 *
 * Logouts come in bursts and each record is small, so records wait in
 * memory for up to FLUSH_AFTER seconds and go to the store together, in
 * one transaction (one disk sync instead of one per logout, which held
 * the whole server for a sync at every logout).  Queries see the pending
 * record first.  A crash loses at most the last second of logout times;
 * nothing a client was told is stored depends on them.
 *
 * Privacy: XEP-0012 section 3 lets the server answer only entities
 * allowed to see the account's presence (a presence subscription).
 * Subscriptions belong to the roster module, which this one may not
 * call, so until that information is a shared service only the account
 * itself may ask: anyone else gets <forbidden/>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#define NS_LAST		"jabber:iq:last"
#define STORE		"last"
#define KEY		"logout"
#define STATUS_MAX	1024	/* bytes of status text kept */

#define FLUSH_AFTER	1	/* seconds a logout record may wait */

/* When the first host started the module: ternd's start, in practice. */
static uint64_t	started;

/* Records not yet written, newest per account. */
static struct pending {
	char	*host;
	char	*user;
	char	*val;
}			*pending;
static size_t		 npending, cappending;
static struct tern_timer *flush_timer;

static void
pending_drop(size_t i)
{
	free(pending[i].host);
	free(pending[i].user);
	free(pending[i].val);
	pending[i] = pending[--npending];
}

static struct pending *
pending_find(const char *host, const char *user)
{
	size_t	i;

	for (i = 0; i < npending; i++)
		if (strcmp(pending[i].user, user) == 0 &&
		    strcmp(pending[i].host, host) == 0)
			return &pending[i];
	return NULL;
}

static void
flush(void *arg)
{
	struct tern_kv	*items;
	size_t		 i, n = 0;

	(void)arg;
	flush_timer = NULL;
	if (npending == 0)
		return;
	if ((items = calloc(npending, sizeof(*items))) == NULL) {
		tern_log(TERN_LOG_ERROR, "last: out of memory");
		abort();
	}
	/* Accounts deleted meanwhile get no record back. */
	for (i = 0; i < npending; i++)
		if (tern_user_exists(pending[i].host, pending[i].user) == 1)
			items[n++] = (struct tern_kv){ .host = pending[i].host,
			    .user = pending[i].user, .key = KEY,
			    .val = pending[i].val,
			    .len = strlen(pending[i].val) };
	/* A failed write is logged by the store; the logouts went on. */
	tern_kv_put_many(STORE, items, n);
	free(items);
	while (npending > 0)
		pending_drop(npending - 1);
}

static char *
xstrdup_or_die(const char *s)
{
	char	*d;

	if ((d = strdup(s)) == NULL) {
		tern_log(TERN_LOG_ERROR, "last: out of memory");
		abort();
	}
	return d;
}

/* Keeps val (taken) as the account's record until the next flush. */
static void
pending_put(const char *host, const char *user, char *val)
{
	struct pending	*p;

	if ((p = pending_find(host, user)) != NULL) {
		free(p->val);
		p->val = val;
	} else {
		if (npending == cappending) {
			cappending = cappending ? 2 * cappending : 64;
			if ((pending = reallocarray(pending, cappending,
			    sizeof(*pending))) == NULL) {
				tern_log(TERN_LOG_ERROR, "last: out of memory");
				abort();
			}
		}
		p = &pending[npending++];
		p->host = xstrdup_or_die(host);
		p->user = xstrdup_or_die(user);
		p->val = val;
	}
	if (flush_timer == NULL)
		flush_timer = tern_timer_add(FLUSH_AFTER, 0, flush, NULL);
}

static void
last_fini(struct tern_host *h, void *conf)
{
	(void)h;
	(void)conf;
	if (flush_timer != NULL)
		tern_timer_cancel(flush_timer);
	flush(NULL);
	free(pending);
	pending = NULL;
	cappending = 0;
}

static int
last_init(struct tern_host *h, void *conf)
{
	if (started == 0)
		started = tern_now();
	return 0;
}

/* Cuts s to at most max bytes, at a UTF-8 character boundary. */
static void
truncate_utf8(char *s, size_t max)
{
	size_t	n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

/* Stores now and the unavailable presence's status (pres may be NULL). */
static void
record(struct tern_host *h, struct tern_session *s,
    const struct tern_stanza *pres)
{
	struct tern_stanza	*st = NULL;
	char			*text, *val;
	size_t			 len;

	/* A session outliving its deleted account leaves no record. */
	if (tern_user_exists(tern_host_name(h), tern_session_user(s)) != 1)
		return;
	if (pres != NULL)
		st = tern_stanza_child(pres, TERN_NS_CLIENT, "status");
	text = st != NULL ? tern_stanza_text(st) : NULL;
	if (text != NULL)
		truncate_utf8(text, STATUS_MAX);
	len = (text != NULL ? strlen(text) : 0) + 32;
	if ((val = malloc(len)) == NULL) {
		tern_log(TERN_LOG_ERROR, "last: out of memory");
		abort();
	}
	snprintf(val, len, "%llu\n%s", (unsigned long long)tern_now(),
	    text != NULL ? text : "");
	pending_put(tern_host_name(h), tern_session_user(s), val);
	free(text);
}

/* presence/self: runs before the presence module, state still old. */
static int
last_presence(struct tern_event *ev, void *conf)
{
	const char	*type = tern_stanza_attr(ev->stanza, "type");

	if (ev->origin != NULL && type != NULL &&
	    strcmp(type, "unavailable") == 0 &&
	    tern_session_available(ev->origin))
		record(ev->host, ev->origin, ev->stanza);
	return TERN_PASS;
}

/* A session that ends while available went away without a status. */
static int
last_unbind(struct tern_event *ev, void *conf)
{
	if (tern_session_available(ev->session))
		record(ev->host, ev->session, NULL);
	return TERN_PASS;
}

static void
send_last(struct tern_event *ev, unsigned long long seconds,
    const char *text)
{
	struct tern_stanza	*r, *q;
	char			 buf[32];

	r = tern_stanza_reply(ev->stanza);
	/* The account's own query without 'to': answer from its JID. */
	if (tern_stanza_attr(ev->stanza, "to") == NULL && ev->to != NULL)
		tern_stanza_set_attr(r, "from", ev->to);
	q = tern_stanza_add_child(r, NS_LAST, "query");
	snprintf(buf, sizeof(buf), "%llu", seconds);
	tern_stanza_set_attr(q, "seconds", buf);
	if (text != NULL && *text != '\0')
		tern_stanza_add_text(q, text, strlen(text));
	tern_reply(ev, r);
	tern_stanza_unref(r);
}

static int
last_host(struct tern_event *ev, void *conf)
{
	uint64_t	now = tern_now();

	send_last(ev, now > started ? now - started : 0, NULL);
	return TERN_DONE;
}

static int
any_available(const char *host, const char *user)
{
	struct tern_session	*s;

	for (s = tern_sessions_first(host, user); s != NULL;
	    s = tern_sessions_next(s))
		if (tern_session_available(s))
			return 1;
	return 0;
}

/* Whether the iq comes from the account it asks about. */
static int
from_self(const struct tern_event *ev)
{
	const char	*from = tern_stanza_attr(ev->stanza, "from");
	char		*bare;
	int		 self;

	if (from == NULL || ev->to == NULL ||
	    (bare = tern_jid_bare(from)) == NULL)
		return 0;
	self = strcmp(bare, ev->to) == 0;
	free(bare);
	return self;
}

static int
last_account(struct tern_event *ev, void *conf)
{
	const char		*host = tern_host_name(ev->host);
	unsigned long long	 t, now = tern_now();
	struct pending		*p;
	char			*val, *end;
	size_t			 len;

	if (!from_self(ev)) {
		tern_reply_error(ev, "auth", "forbidden", "Only the account "
		    "itself may query its last activity");
		return TERN_DONE;
	}
	if (any_available(host, ev->to_node)) {
		send_last(ev, 0, NULL);
		return TERN_DONE;
	}
	if ((p = pending_find(host, ev->to_node)) != NULL) {
		t = strtoull(p->val, &end, 10);
		send_last(ev, t < now ? now - t : 0, *end == '\n' ? end + 1 :
		    NULL);
		return TERN_DONE;
	}
	switch (tern_kv_get(STORE, host, ev->to_node, KEY, (void **)&val,
	    &len)) {
	case 0:
		t = strtoull(val, &end, 10);
		send_last(ev, t < now ? now - t : 0, *end == '\n' ? end + 1 :
		    NULL);
		free(val);
		break;
	case 1:
		tern_reply_error(ev, "cancel", "item-not-found",
		    "No last activity recorded");
		break;
	default:
		tern_reply_error(ev, "wait", "internal-server-error",
		    "Storage error");
		break;
	}
	return TERN_DONE;
}

static const char *const features[] = { NS_LAST, NULL };
static const char *const stores[] = { STORE, NULL };

static const struct tern_hook hooks[] = {
	{ "iq-get/host/" NS_LAST ":query", TERN_PRIO_DEFAULT, last_host },
	{ "iq-get/bare/" NS_LAST ":query", TERN_PRIO_DEFAULT, last_account },
	/* Before the presence module, which takes the stanza. */
	{ "presence/self", TERN_PRIO_HIGH, last_presence },
	{ "resource-unbind", TERN_PRIO_HIGH, last_unbind },
	{ NULL, 0, NULL }
};

const struct tern_module mod_last = {
	.abi = TERN_MODULE_ABI,
	.name = "last",
	.features = features,
	.account_features = features,
	.hooks = hooks,
	.stores = stores,
	.init = last_init,
	.fini = last_fini,
};
