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

/* When the first host started the module: ternd's start, in practice. */
static uint64_t	started;

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
	/* A failed write is logged by the store; the logout goes on. */
	tern_kv_put(STORE, tern_host_name(h), tern_session_user(s), KEY, val,
	    strlen(val));
	free(val);
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
};
