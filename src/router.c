/*
 * The router.  Input stanzas are borrowed; a stanza delivered to several
 * sessions is serialized for each without being changed, so no copy is
 * needed.  Replies (errors, results) are built new and routed like any
 * other stanza, which brings them back to the sender's session.
 *
 * Errors are never answered with errors (stanza_error_reply returns NULL
 * for them), so no exchange of errors can loop.
 */
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tern/module.h"

#include "account.h"
#include "conf.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "module.h"
#include "router.h"
#include "s2s.h"
#include "session.h"
#include "stanza.h"
#include "stream.h"
#include "xmalloc.h"

#define NS_SESSION	"urn:ietf:params:xml:ns:xmpp-session"

enum msg_type { MSG_NORMAL, MSG_CHAT, MSG_GROUPCHAT, MSG_HEADLINE,
	MSG_ERROR };
enum iq_type { IQ_GET, IQ_SET, IQ_RESULT, IQ_ERROR, IQ_BAD };

static const char *const msg_types[] = {
	"normal", "chat", "groupchat", "headline", "error", NULL
};
static const char *const iq_types[] = {
	"get", "set", "result", "error", NULL
};

/* Index of type in names; dflt when absent or unknown. */
static int
type_index(const struct stanza *st, const char *const *names, int absent,
    int unknown)
{
	const char	*t = stanza_attr(st, "type");
	int		 i;

	if (t == NULL)
		return absent;
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(t, names[i]) == 0)
			return i;
	return unknown;
}

static int
msg_type(const struct stanza *st)
{
	/* RFC 6121 5.2.2: an unknown type is treated as normal. */
	return type_index(st, msg_types, MSG_NORMAL, MSG_NORMAL);
}

static int
iq_type(const struct stanza *st)
{
	return type_index(st, iq_types, IQ_BAD, IQ_BAD);
}

static int
is_error(const struct stanza *st)
{
	const char	*t = stanza_attr(st, "type");

	return t != NULL && strcmp(t, "error") == 0;
}

/* Answers st with an error (never an error to an error). */
static void
bounce(const struct stanza *st, const char *etype, const char *cond,
    const char *text)
{
	struct stanza	*e;

	if ((e = stanza_error_reply(st, etype, cond, text)) == NULL)
		return;
	router_route(e);
	stanza_unref(e);
}

/* iq get/set nobody handles: service-unavailable; others: nothing. */
static void
iq_unhandled(const struct stanza *st)
{
	int	t = iq_type(st);

	if (t == IQ_GET || t == IQ_SET)
		bounce(st, "cancel", "service-unavailable", NULL);
}

static const char *const kind_names[] = {
	[STANZA_OTHER] = "other", [STANZA_MESSAGE] = "message",
	[STANZA_PRESENCE] = "presence", [STANZA_IQ] = "iq",
};

/*
 * Fires "<prefix><kind>/<dest>" on the host of domain, and first, for an
 * iq get/set to a local destination, "iq-<type>/<dest>/<ns>:<name>" of
 * its payload.  TERN_DONE if a module took the stanza.
 */
static int
fire(const char *prefix, const char *dest, struct stanza *st,
    const struct jid *to, struct session *origin, const char *domain)
{
	struct tern_host	*h = module_host(domain);
	struct tern_event	 ev;
	struct stanza		*pl;
	const char		*type = stanza_attr(st, "type");
	char			 name[512];
	int			 t = iq_type(st), n;

	if (h == NULL)
		return TERN_PASS;
	memset(&ev, 0, sizeof(ev));
	ev.host = h;
	ev.origin = (struct tern_session *)origin;
	ev.stanza = (struct tern_stanza *)st;
	if (to != NULL) {
		ev.to = to->full;
		ev.to_node = to->node;
		ev.to_domain = to->domain;
		ev.to_resource = to->resource;
	}
	if (*prefix == '\0') {
		/* Filters (blocking) see every local stanza first. */
		snprintf(name, sizeof(name), "filter/%s", dest);
		if (hook_fire(&h->hooks, name, &ev) == TERN_DONE)
			return TERN_DONE;
	}
	if (*prefix == '\0' && stanza_kind(st) == STANZA_IQ &&
	    (t == IQ_GET || t == IQ_SET) &&
	    (pl = stanza_child(st, NULL, NULL)) != NULL && pl->ns != NULL) {
		n = snprintf(name, sizeof(name), "iq-%s/%s/%s:%s", type, dest,
		    pl->ns, pl->name);
		if (n > 0 && (size_t)n < sizeof(name) &&
		    hook_fire(&h->hooks, name, &ev) == TERN_DONE)
			return TERN_DONE;
	}
	snprintf(name, sizeof(name), "%s%s/%s", prefix,
	    kind_names[stanza_kind(st)], dest);
	return hook_fire(&h->hooks, name, &ev);
}

/* Legacy session establishment (RFC 3921), answered for old clients. */
static int
iq_session(const struct stanza *st)
{
	struct stanza	*r = stanza_reply(st);

	router_route(r);
	stanza_unref(r);
	return 1;
}

/* Built-in handlers of iq to the server, keyed by payload. */
static const struct host_iq {
	int		 type;
	const char	*ns;
	const char	*name;
	int		(*fn)(const struct stanza *);
} host_iqs[] = {
	{ IQ_SET, NS_SESSION, "session", iq_session },
};

static void
deliver_host(const struct stanza *st, const struct jid *to,
    struct session *origin)
{
	struct stanza	*payload;
	size_t		 i;
	int		 t;

	if (fire("", "host", (struct stanza *)st, to, origin, to->domain) ==
	    TERN_DONE)
		return;
	switch (stanza_kind(st)) {
	case STANZA_IQ:
		t = iq_type(st);
		payload = stanza_child(st, NULL, NULL);
		for (i = 0; payload != NULL && i < sizeof(host_iqs) /
		    sizeof(host_iqs[0]); i++)
			if (host_iqs[i].type == t && payload->ns != NULL &&
			    strcmp(payload->ns, host_iqs[i].ns) == 0 &&
			    strcmp(payload->name, host_iqs[i].name) == 0 &&
			    host_iqs[i].fn(st))
				return;
		iq_unhandled(st);
		break;
	case STANZA_MESSAGE:
		t = msg_type(st);
		if (t == MSG_NORMAL || t == MSG_CHAT)
			bounce(st, "cancel", "service-unavailable", NULL);
		break;
	default:
		break;		/* presence to the server: nothing yet */
	}
}

/* Highest priority among available, non-negative resources, or -1. */
static int
top_priority(struct session *head)
{
	struct session	*s;
	int		 top = -1;

	for (s = head; s != NULL; s = s->next)
		if (s->available && s->priority >= 0 && s->priority > top)
			top = s->priority;
	return top;
}

/* Sends st to every available resource with priority >= min. */
static int
send_resources(struct session *head, const struct stanza *st, int min,
    int only)
{
	struct session	*s, *v[64], **targets = v;
	size_t		 n = 0, cap = 64, i;

	/*
	 * Collect first: a send may end a session that does not read, and
	 * the modules' resource-unbind handlers may end others.
	 */
	for (s = head; s != NULL; s = s->next) {
		if (!s->available || s->priority < min ||
		    (only != INT_MIN && s->priority != only))
			continue;
		if (n == cap) {
			cap *= 2;
			targets = targets == v ?
			    memcpy(xreallocarray(NULL, cap, sizeof(*v)), v,
			    sizeof(v)) :
			    xreallocarray(targets, cap, sizeof(*v));
		}
		targets[n++] = s;
	}
	for (i = 0; i < n; i++)
		session_send(targets[i], st);
	if (targets != v)
		free(targets);
	return (int)n;
}

static void
deliver_bare_message(const struct stanza *st, struct session *head,
    const struct jid *to, struct session *origin)
{
	int	top;

	switch (msg_type(st)) {
	case MSG_NORMAL:
	case MSG_CHAT:
		/* RFC 6121 8.5.2.1.1: every resource of top priority. */
		if ((top = top_priority(head)) >= 0)
			send_resources(head, st, 0, top);
		else if (fire("", "offline", (struct stanza *)st, to, origin,
		    to->domain) != TERN_DONE)
			/* nobody stored it: 8.5.2.2.1 (b) */
			bounce(st, "cancel", "service-unavailable", NULL);
		break;
	case MSG_HEADLINE:
		send_resources(head, st, 0, INT_MIN);
		break;
	case MSG_GROUPCHAT:
		bounce(st, "cancel", "service-unavailable", NULL);
		break;
	default:
		break;		/* errors are silently dropped */
	}
}

static void
deliver_bare(const struct stanza *st, const struct jid *to,
    struct session *origin)
{
	struct session	*head;
	const char	*type;

	if (fire("", "bare", (struct stanza *)st, to, origin, to->domain) ==
	    TERN_DONE)
		return;
	head = session_find_bare(to->bare);
	switch (stanza_kind(st)) {
	case STANZA_MESSAGE:
		deliver_bare_message(st, head, to, origin);
		break;
	case STANZA_PRESENCE:
		type = stanza_attr(st, "type");
		if (type == NULL || strcmp(type, "unavailable") == 0)
			send_resources(head, st, INT_MIN, INT_MIN);
		else if (strcmp(type, "probe") != 0 &&
		    strcmp(type, "error") != 0)	/* subscriptions */
			send_resources(head, st, 0, INT_MIN);
		break;
	case STANZA_IQ:
		/* Handled by the server on behalf of the account. */
		iq_unhandled(st);
		break;
	default:
		break;
	}
}

/* A full JID with no such resource online (RFC 6121 8.5.3.2). */
static void
deliver_full_missing(const struct stanza *st, const struct jid *to,
    struct session *origin)
{
	const char	*type;

	switch (stanza_kind(st)) {
	case STANZA_MESSAGE:
		if (msg_type(st) == MSG_GROUPCHAT)
			bounce(st, "cancel", "service-unavailable", NULL);
		else if (msg_type(st) != MSG_ERROR &&
		    msg_type(st) != MSG_HEADLINE)	/* headline: ignored */
			deliver_bare(st, to, origin);
		break;
	case STANZA_PRESENCE:
		type = stanza_attr(st, "type");
		if (type != NULL && (strcmp(type, "subscribe") == 0 ||
		    strcmp(type, "subscribed") == 0 ||
		    strcmp(type, "unsubscribe") == 0 ||
		    strcmp(type, "unsubscribed") == 0))
			deliver_bare(st, to, origin);
		break;
	case STANZA_IQ:
		iq_unhandled(st);
		break;
	default:
		break;
	}
}

/* The account does not exist (RFC 6121 8.5.1). */
static void
deliver_nouser(const struct stanza *st)
{
	switch (stanza_kind(st)) {
	case STANZA_MESSAGE:
		if (msg_type(st) != MSG_HEADLINE)
			bounce(st, "cancel", "service-unavailable", NULL);
		break;
	case STANZA_IQ:
		iq_unhandled(st);
		break;
	default:
		break;		/* presence: silently ignored */
	}
}

static void
deliver_local(const struct stanza *st, const struct jid *to,
    struct session *origin)
{
	struct session	*s;
	int		 exists;

	if (to->node == NULL) {
		deliver_host(st, to, origin);
		return;
	}
	if (to->resource != NULL &&
	    (s = session_find_full(to->full)) != NULL) {
		if (fire("", "full", (struct stanza *)st, to, origin,
		    to->domain) != TERN_DONE)
			session_send(s, st);
		return;
	}
	if (session_find_bare(to->bare) == NULL) {
		if ((exists = account_exists(to->domain, to->node)) == -1) {
			if (!is_error(st))
				bounce(st, "wait", "internal-server-error",
				    "Storage error");
			return;
		}
		if (exists == 0) {
			deliver_nouser(st);
			return;
		}
	}
	if (to->resource != NULL) {
		if (fire("", "full", (struct stanza *)st, to, origin,
		    to->domain) != TERN_DONE)
			deliver_full_missing(st, to, origin);
	} else
		deliver_bare(st, to, origin);
}

static void
route(struct stanza *st, struct session *origin)
{
	const char	*to = stanza_attr(st, "to");
	struct jid	*j;

	if (to == NULL) {
		log_debug("router: dropping a stanza without 'to'");
		return;
	}
	if ((j = jid_parse(to)) == NULL) {
		bounce(st, "modify", "jid-malformed", NULL);
		return;
	}
	if (origin != NULL && fire("pre-", j->node == NULL ? "host" :
	    j->resource == NULL ? "bare" : "full", st, j, origin,
	    origin->jid->domain) == TERN_DONE) {
		jid_free(j);
		return;
	}
	if (conf_host_find(loop_conf(), j->domain) != NULL)
		deliver_local(st, j, origin);
	else
		s2s_route(st, j);
	jid_free(j);
}

void
router_route(struct stanza *st)
{
	route(st, NULL);
}

/* Presence without 'to' from a client: its own availability. */
static void
own_presence(struct session *s, struct stanza *st)
{
	const char	*type = stanza_attr(st, "type");
	struct stanza	*pr;
	char		*text, *end;
	long		 prio = 0;

	if (type == NULL) {
		if ((pr = stanza_child(st, STANZA_NS_CLIENT, "priority")) !=
		    NULL) {
			text = stanza_text(pr);
			prio = strtol(text, &end, 10);
			if (*text == '\0' || *end != '\0' || prio < -128 ||
			    prio > 127)
				prio = 0;
			free(text);
		}
		s->priority = (int)prio;
	} else if (strcmp(type, "unavailable") != 0)
		return;		/* probes, subscriptions without 'to' */
	fire("", "self", st, NULL, s, s->jid->domain);
	/* After the event: a module sees whether this is initial presence. */
	s->available = type == NULL;
	if (s->presence != NULL)
		stanza_unref(s->presence);
	s->presence = type == NULL ? stanza_ref(st) : NULL;
}

/* RFC 6120 8.2.3: an iq needs an id and a known type. */
static int
iq_valid(const struct stanza *st)
{
	int	t = iq_type(st);

	if (stanza_attr(st, "id") == NULL || t == IQ_BAD)
		return 0;
	if ((t == IQ_GET || t == IQ_SET) && stanza_nelements(st) != 1)
		return 0;
	return 1;
}

void
router_from_session(struct session *s, struct stanza *st)
{
	enum stanza_kind kind = stanza_kind(st);
	const char	*to = stanza_attr(st, "to");
	struct jid	*bare;

	s->last_active = (long long)time(NULL);
	/* RFC 6120 8.1.2.1: the server stamps 'from' with the full JID. */
	stanza_set_attr(st, "from", s->jid->full);
	if (kind == STANZA_IQ && !iq_valid(st)) {
		if (!is_error(st) && iq_type(st) != IQ_RESULT)
			bounce(st, "modify", "bad-request", NULL);
		return;
	}
	if (to == NULL) {
		switch (kind) {
		case STANZA_PRESENCE:
			own_presence(s, st);
			return;
		case STANZA_IQ:
			/* Handled on behalf of the account (RFC 6120 10.3). */
			bare = jid_bare_copy(s->jid);
			deliver_bare(st, bare, s);
			jid_free(bare);
			return;
		case STANZA_MESSAGE:
			stanza_set_attr(st, "to", s->jid->bare);
			break;
		default:
			return;
		}
	}
	route(st, s);
}

static void
fire_session(const char *event, struct session *s)
{
	struct tern_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.origin = ev.session = (struct tern_session *)s;
	module_fire(s->jid->domain, event, &ev);
}

void
router_bound(struct session *s)
{
	s->last_active = (long long)time(NULL);
	fire_session("resource-bind", s);
}

void
router_unbound(struct session *s)
{
	fire_session("resource-unbind", s);
	s->available = 0;
}
