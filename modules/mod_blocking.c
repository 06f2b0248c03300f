/*
 * XEP-0191 Blocking Command.
 *
 * Store "blocking": one key per blocked JID (prepared), empty value.  So
 * matching a sender is a handful of point reads in the order of XEP-0191
 * section 3 (full JID, bare JID, domain/resource, then the domain and
 * each parent domain, since a domain item also matches its subdomains),
 * and the blocklist is the account's keys in order.  JIDs longer than
 * KEY_MAX are refused (the store lists no longer keys).
 *
 * Enforcement runs at TERN_PRIO_HIGH, before other modules:
 *  - inbound (message|presence|iq on /bare and /full, recipient's host):
 *    nothing from a blocked JID is delivered; a message (normal, chat)
 *    and an iq get/set are answered <service-unavailable/>, the rest is
 *    dropped, so the user seems offline (XEP-0191 section 3.3);
 *  - outbound (pre-*, sender's host): a stanza to a blocked JID is
 *    refused with <not-acceptable/> and <blocked/>, errors and iq
 *    results are dropped.
 * The router fires "iq-get/bare/<payload>" before "iq/bare", so the
 * inbound rules are also applied at pre-* time when the recipient is a
 * local account with this module: every stanza a client sends passes
 * there.  Stanzas that modules route on a user's behalf (presence
 * broadcasts) have no pre-* event, so the sender's blocklist is checked
 * again at delivery (unavailable presence and errors excepted).  Errors
 * for a local sender go straight to its session: routed, they would
 * meet the very block they report.
 *
 * A user's own resources and own server are never blocked (XEP-0191
 * section 5: not between a user's resources; blocking one's own domain
 * would otherwise cut the user off from the server).
 *
 * Presence (sections 3.3, 3.4): whether a contact may see a user's
 * presence is the roster's business, asked with the event
 * "presence-subscriber" (user: the node; to: the contact's bare JID;
 * TERN_DONE means yes).  Without an answer nothing is sent, so nothing
 * leaks.  On block, unavailable presence goes to whichever side saw the
 * other; on unblock, a probe on behalf of that side has the presence
 * module send the current presence, as it answers any probe.
 *
 * Other modules that deliver what they stored before a block (offline
 * messages, subscription requests) ask "jid-blocked" (user: the node;
 * to: the sender): TERN_DONE means it is blocked.
 *
 * Which resources asked for the blocklist (and so get pushes) is a flag
 * in the session's data slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#define NS_BLOCKING	"urn:xmpp:blocking"
#define NS_BLOCKED	"urn:xmpp:blocking:errors"
#define STORE		"blocking"
#define KEY_MAX		1023	/* longest key the store lists */

struct blocking_conf {
	unsigned	max_items;	/* blocking_max_items */
};

struct blocking_session {
	int	requested;	/* asked for the blocklist: gets pushes */
};

/* The JIDs of one command, prepared, sorted, without duplicates. */
struct items {
	char	**jid;
	int	 *changed;	/* newly blocked / really unblocked */
	size_t	  n;
	size_t	  cap;
};

extern const struct tern_module mod_blocking;

static void
oom(void)
{
	tern_log(TERN_LOG_ERROR, "blocking: out of memory");
	abort();
}

/* 1 if key is on user's blocklist, 0 if not, -1 on a storage error. */
static int
listed(const char *host, const char *user, const char *node,
    const char *domain, const char *res)
{
	char	key[KEY_MAX + 2];
	void	*val;
	size_t	 len;
	int	 n, rc;

	n = snprintf(key, sizeof(key), "%s%s%s%s%s", node ? node : "",
	    node ? "@" : "", domain, res ? "/" : "", res ? res : "");
	if (n < 0 || (size_t)n > KEY_MAX)
		return 0;	/* never stored */
	if ((rc = tern_kv_get(STORE, host, user, key, &val, &len)) == 0)
		free(val);
	return rc == 0 ? 1 : rc == 1 ? 0 : -1;
}

static const char *
parent_domain(const char *d)
{
	const char	*dot = strchr(d, '.');

	return dot != NULL ? dot + 1 : NULL;
}

/*
 * Whether user@host blocked jid: 1, 0, or -1 on a storage error.  The
 * user's own JIDs and server are never blocked.
 */
static int
blocked(const char *host, const char *user, const char *jid)
{
	char		*node, *domain, *res;
	const char	*d;
	int		 rc = 0;

	if (jid == NULL || tern_jid_split(jid, &node, &domain, &res) == -1)
		return 0;
	if (strcmp(domain, host) == 0 && (node == NULL ? res == NULL :
	    strcmp(node, user) == 0))
		goto out;
	if (node != NULL && res != NULL)
		rc = listed(host, user, node, domain, res);
	if (rc == 0 && node != NULL)
		rc = listed(host, user, node, domain, NULL);
	if (rc == 0 && res != NULL)
		rc = listed(host, user, NULL, domain, res);
	for (d = domain; rc == 0 && d != NULL; d = parent_domain(d))
		rc = listed(host, user, NULL, d, NULL);
 out:
	free(node);
	free(domain);
	free(res);
	return rc;
}

/*
 * Answers the event's stanza with an error, straight to the sending
 * session if local (see the top of the file), else routed.
 */
static void
answer_error(struct tern_event *ev, const char *type, const char *cond,
    const char *text, int with_blocked)
{
	struct tern_stanza	*e;

	e = tern_stanza_error_reply(ev->stanza, type, cond, text);
	if (e == NULL)
		return;		/* never an error to an error */
	if (with_blocked)
		tern_stanza_add_child(tern_stanza_child(e, NULL, "error"),
		    NS_BLOCKED, "blocked");
	if (ev->origin != NULL)
		tern_session_send(ev->origin, e);
	else
		tern_reply(ev, e);
	tern_stanza_unref(e);
}

static int
is(const char *s, const char *v)
{
	return s != NULL && strcmp(s, v) == 0;
}

/* What a blocked sender gets (XEP-0191 section 3.3). */
static void
refuse_inbound(struct tern_event *ev)
{
	const char	*name = tern_stanza_name(ev->stanza);
	const char	*type = tern_stanza_attr(ev->stanza, "type");
	int		 answer = 0;

	if (strcmp(name, "message") == 0)
		answer = !is(type, "groupchat") && !is(type, "headline");
	else if (strcmp(name, "iq") == 0)
		answer = is(type, "get") || is(type, "set");
	if (answer)
		answer_error(ev, "cancel", "service-unavailable", NULL, 0);
}

/* Whether domain is a local host with this module. */
static int
local_blocking(const char *domain)
{
	struct tern_host	*h;

	return domain != NULL && (h = tern_host_find(domain)) != NULL &&
	    tern_host_has_module(h, mod_blocking.name);
}

/*
 * A stanza a module routed on a local user's behalf (no pre-* event):
 * 1 if that user blocked its recipient.
 */
static int
sender_blocked(const struct tern_stanza *st, const char *to)
{
	const char	*from = tern_stanza_attr(st, "from");
	const char	*type = tern_stanza_attr(st, "type");
	char		*node = NULL, *domain = NULL;
	int		 rc = 0;

	if (is(type, "error") || (strcmp(tern_stanza_name(st),
	    "presence") == 0 && is(type, "unavailable")))
		return 0;	/* an error or "offline" never hurts */
	if (from == NULL || tern_jid_split(from, &node, &domain, NULL) == -1)
		return 0;
	if (node != NULL && local_blocking(domain))
		rc = blocked(domain, node, to) == 1;
	free(node);
	free(domain);
	return rc;
}

/* message|presence|iq /bare|/full on the recipient's host. */
static int
inbound(struct tern_event *ev, void *conf)
{
	const char		*from = tern_stanza_attr(ev->stanza, "from");
	struct tern_host	*h;

	if (from == NULL || ev->to_node == NULL)
		return TERN_PASS;
	if (ev->origin != NULL && (h = tern_session_host(ev->origin)) !=
	    NULL && tern_host_has_module(h, mod_blocking.name))
		return TERN_PASS;	/* outbound() checked it already */
	if (blocked(tern_host_name(ev->host), ev->to_node, from) != 0) {
		refuse_inbound(ev);	/* an error counts as blocked */
		return TERN_DONE;
	}
	if (ev->origin == NULL && sender_blocked(ev->stanza, ev->to))
		return TERN_DONE;
	return TERN_PASS;
}

/* pre-message|presence|iq /bare|/full|/host on the sender's host. */
static int
outbound(struct tern_event *ev, void *conf)
{
	struct tern_session	*s = ev->origin;
	const char		*type = tern_stanza_attr(ev->stanza, "type");
	int			 rc, quiet;

	if (s == NULL || ev->to == NULL)
		return TERN_PASS;
	rc = blocked(tern_host_name(ev->host), tern_session_user(s), ev->to);
	quiet = is(type, "error") || (strcmp(tern_stanza_name(ev->stanza),
	    "iq") == 0 && is(type, "result"));
	if (rc == 1 && !quiet)
		answer_error(ev, "cancel", "not-acceptable",
		    "You have blocked this JID", 1);
	else if (rc == -1 && !quiet)
		answer_error(ev, "wait", "internal-server-error", NULL, 0);
	if (rc != 0)
		return TERN_DONE;
	if (ev->to_node == NULL || !local_blocking(ev->to_domain))
		return TERN_PASS;
	if (blocked(ev->to_domain, ev->to_node, tern_session_jid(s)) != 0) {
		refuse_inbound(ev);
		return TERN_DONE;
	}
	return TERN_PASS;
}

/* The blocklist iqs are for the account's own resources only. */
static int
owner(const struct tern_event *ev)
{
	return ev->origin != NULL && ev->to != NULL &&
	    strcmp(tern_session_bare(ev->origin), ev->to) == 0;
}

static int
not_owner(struct tern_event *ev)
{
	if (owner(ev))
		return 0;
	answer_error(ev, "cancel", "service-unavailable", NULL, 0);
	return 1;
}

/* The account's resources (available ones only if avail); caller frees. */
static struct tern_session **
resources(const char *host, const char *user, int avail, size_t *n)
{
	struct tern_session	*s, **v = NULL;

	*n = 0;
	for (s = tern_sessions_first(host, user); s != NULL;
	    s = tern_sessions_next(s)) {
		if (avail && !tern_session_available(s))
			continue;
		if ((v = realloc(v, (*n + 1) * sizeof(*v))) == NULL)
			oom();
		v[(*n)++] = s;
	}
	return v;
}

static void
add_item(struct tern_stanza *parent, const char *jid)
{
	tern_stanza_set_attr(tern_stanza_add_child(parent, NS_BLOCKING,
	    "item"), "jid", jid);
}

static int
list_cb(const char *key, const void *val, size_t len, void *arg)
{
	add_item(arg, key);
	return 0;
}

static int
blocklist_get(struct tern_event *ev, void *conf)
{
	struct tern_session	*s = ev->origin;
	struct blocking_session	*bs;
	struct tern_stanza	*r;

	if (not_owner(ev))
		return TERN_DONE;
	r = tern_stanza_reply(ev->stanza);
	if (tern_kv_each(STORE, tern_host_name(ev->host), ev->to_node,
	    list_cb, tern_stanza_add_child(r, NS_BLOCKING, "blocklist")) ==
	    -1)
		answer_error(ev, "wait", "internal-server-error", NULL, 0);
	else {
		/* XEP-0191 3.3: pushes go to resources that asked. */
		if ((bs = tern_session_data(s, &mod_blocking)) == NULL) {
			if ((bs = calloc(1, sizeof(*bs))) == NULL)
				oom();
			tern_session_set_data(s, &mod_blocking, bs);
		}
		bs->requested = 1;
		tern_reply(ev, r);
	}
	tern_stanza_unref(r);
	return TERN_DONE;
}

static void
items_free(struct items *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->jid[i]);
	free(l->jid);
	free(l->changed);
	memset(l, 0, sizeof(*l));
}

static void
items_add_take(struct items *l, char *jid)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		if ((l->jid = realloc(l->jid, l->cap * sizeof(*l->jid))) ==
		    NULL || (l->changed = realloc(l->changed, l->cap *
		    sizeof(*l->changed))) == NULL)
			oom();
	}
	l->jid[l->n] = jid;
	l->changed[l->n] = 0;
	l->n++;
}

static int
jid_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Why an item of a command is refused, or NULL; *p the prepared JID. */
static const char *
check_item(const struct tern_stanza *el, char **p, const char **text)
{
	const char	*jid = tern_stanza_attr(el, "jid");

	*p = NULL;
	*text = NULL;
	if (jid == NULL) {
		*text = "An item has no 'jid'";
		return "bad-request";
	}
	if ((*p = tern_jid_prep(jid)) == NULL)
		return "jid-malformed";
	if (strlen(*p) > KEY_MAX) {
		free(*p);
		*p = NULL;
		*text = "This JID is too long to be blocked";
		return "not-acceptable";
	}
	return NULL;
}

/*
 * The items of a block or unblock command, prepared, sorted and without
 * duplicates.  On a bad item the error is sent and -1 returned.
 */
static int
parse_items(struct tern_event *ev, const struct tern_stanza *cmd,
    unsigned max, struct items *l)
{
	struct tern_stanza	*el;
	const char		*cond, *text;
	char			*p;
	size_t			 i, k;

	memset(l, 0, sizeof(*l));
	for (i = 0; (el = tern_stanza_element(cmd, i)) != NULL; i++) {
		if (!is(tern_stanza_ns(el), NS_BLOCKING) ||
		    strcmp(tern_stanza_name(el), "item") != 0)
			continue;
		if (l->n == max) {
			cond = "policy-violation";
			text = "Too many items";
		} else if ((cond = check_item(el, &p, &text)) == NULL) {
			items_add_take(l, p);
			continue;
		}
		answer_error(ev, is(cond, "policy-violation") ? "cancel" :
		    "modify", cond, text, 0);
		items_free(l);
		return -1;
	}
	if (l->n > 1)
		qsort(l->jid, l->n, sizeof(*l->jid), jid_cmp);
	for (i = k = 0; i < l->n; i++)
		if (k > 0 && strcmp(l->jid[k - 1], l->jid[i]) == 0)
			free(l->jid[i]);
		else
			l->jid[k++] = l->jid[i];
	l->n = k;
	return 0;
}

/*
 * Marks the items that the command changes (block: not listed yet;
 * unblock: listed); their number in *n.  0, or -1 on a storage error.
 */
static int
mark_changes(const char *host, const char *user, struct items *l,
    int blocking, size_t *n)
{
	void	*val;
	size_t	 len, i;
	int	 rc;

	*n = 0;
	for (i = 0; i < l->n; i++) {
		if ((rc = tern_kv_get(STORE, host, user, l->jid[i], &val,
		    &len)) == -1)
			return -1;
		if (rc == 0)
			free(val);
		l->changed[i] = blocking ? rc == 1 : rc == 0;
		*n += l->changed[i];
	}
	return 0;
}

static int
count_cb(const char *key, const void *val, size_t len, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

/*
 * Adds (blocking) or removes the changed items, all or none: a failure
 * undoes what was done.  0 or -1.
 */
static int
apply(const char *host, const char *user, const struct items *l,
    int blocking)
{
	size_t	i, k;
	int	rc;

	for (i = 0; i < l->n; i++) {
		if (!l->changed[i])
			continue;
		rc = blocking ? tern_kv_put(STORE, host, user, l->jid[i], "",
		    0) : tern_kv_del(STORE, host, user, l->jid[i]);
		if (rc == -1)
			break;
	}
	if (i == l->n)
		return 0;
	for (k = 0; k < i; k++)
		if (l->changed[k] && (blocking ? tern_kv_del(STORE, host,
		    user, l->jid[k]) : tern_kv_put(STORE, host, user,
		    l->jid[k], "", 0)) == -1)
			tern_log(TERN_LOG_WARN, "blocking: the blocklist of "
			    "%s@%s may be partly changed", user, host);
	return -1;
}

/* XEP-0191 3.3-3.5: the change goes to every resource that asked. */
static void
push(const char *host, const char *user, const char *action,
    const struct items *l)
{
	static unsigned long long	 seq;
	struct tern_session		**v;
	struct blocking_session		 *bs;
	struct tern_stanza		 *iq, *cmd;
	char				  id[48], bare[2048];
	size_t				  n, i;

	iq = tern_stanza_new(TERN_NS_CLIENT, "iq");
	tern_stanza_set_attr(iq, "type", "set");
	snprintf(id, sizeof(id), "blocking-push-%llu", ++seq);
	tern_stanza_set_attr(iq, "id", id);
	snprintf(bare, sizeof(bare), "%s@%s", user, host);
	tern_stanza_set_attr(iq, "from", bare);
	cmd = tern_stanza_add_child(iq, NS_BLOCKING, action);
	for (i = 0; l != NULL && i < l->n; i++)
		add_item(cmd, l->jid[i]);
	/* Collected first: a send may end a session that does not read. */
	v = resources(host, user, 0, &n);
	for (i = 0; i < n; i++)
		if ((bs = tern_session_data(v[i], &mod_blocking)) != NULL &&
		    bs->requested) {
			tern_stanza_set_attr(iq, "to", tern_session_jid(v[i]));
			tern_session_send(v[i], iq);
		}
	free(v);
	tern_stanza_unref(iq);
}

/*
 * Whether contact (a bare JID) may see the presence of user@host: the
 * roster answers "presence-subscriber".  No answer means no.
 */
static int
subscriber(const char *host, const char *user, const char *contact)
{
	struct tern_host	*h = tern_host_find(host);
	struct tern_event	 ev;
	char			*node, *domain;
	int			 rc;

	if (h == NULL || tern_jid_split(contact, &node, &domain, NULL) == -1)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.user = user;
	ev.to = contact;
	ev.to_node = node;
	ev.to_domain = domain;
	rc = tern_fire(h, "presence-subscriber", &ev) == TERN_DONE;
	free(node);
	free(domain);
	return rc;
}

static struct tern_stanza *
presence_new(const char *type, const char *from, const char *to)
{
	struct tern_stanza	*p;

	p = tern_stanza_new(TERN_NS_CLIENT, "presence");
	tern_stanza_set_attr(p, "type", type);
	tern_stanza_set_attr(p, "from", from);
	tern_stanza_set_attr(p, "to", to);
	return p;
}

/*
 * XEP-0191 3.3 for one newly blocked item naming an account: it sees
 * the user's available resources go offline if it saw them, and the
 * user sees its resources go offline if the user saw them (these go
 * straight to the user's sessions: routed, the block would drop them).
 */
static void
block_presence(const char *host, const char *user, const char *item,
    struct tern_session **mine, size_t nmine)
{
	struct tern_session	**theirs = NULL;
	struct tern_stanza	 *p;
	char			 *node, *domain, *res;
	char			  cbare[2048], ubare[2048];
	size_t			  i, k, ntheirs = 0;

	if (tern_jid_split(item, &node, &domain, &res) == -1)
		return;
	if (node == NULL)
		goto out;
	snprintf(cbare, sizeof(cbare), "%s@%s", node, domain);
	snprintf(ubare, sizeof(ubare), "%s@%s", user, host);
	if (subscriber(host, user, cbare))
		for (i = 0; i < nmine; i++) {
			p = presence_new("unavailable",
			    tern_session_jid(mine[i]), item);
			tern_route(p);
			tern_stanza_unref(p);
		}
	if (tern_host_find(domain) != NULL &&
	    subscriber(domain, node, ubare))
		theirs = resources(domain, node, 1, &ntheirs);
	for (k = 0; k < ntheirs; k++) {
		if (res != NULL && strcmp(tern_session_resource(theirs[k]),
		    res) != 0)
			continue;
		for (i = 0; i < nmine; i++) {
			p = presence_new("unavailable",
			    tern_session_jid(theirs[k]),
			    tern_session_jid(mine[i]));
			tern_session_send(mine[i], p);
			tern_stanza_unref(p);
		}
	}
	free(theirs);
 out:
	free(node);
	free(domain);
	free(res);
}

/*
 * XEP-0191 3.4: after an unblock each side gets the other's current
 * presence if it may see it.  A probe routed on behalf of the one that
 * may see has the presence module answer with exactly that.  (Only to
 * subscribers: a probe from anyone else is answered <unsubscribed/>,
 * which would cancel a pending request.)  The contact's presence comes
 * only from a local contact, whose roster can be asked.
 */
static void
unblock_presence(const char *host, const char *user, const char *item)
{
	struct tern_stanza	*p;
	char			*node, *domain, cbare[2048], ubare[2048];

	if (tern_jid_split(item, &node, &domain, NULL) == -1)
		return;
	if (node == NULL)
		goto out;
	snprintf(cbare, sizeof(cbare), "%s@%s", node, domain);
	snprintf(ubare, sizeof(ubare), "%s@%s", user, host);
	if (subscriber(host, user, cbare)) {
		p = presence_new("probe", cbare, ubare);
		tern_route(p);
		tern_stanza_unref(p);
	}
	if (tern_host_find(domain) != NULL &&
	    subscriber(domain, node, ubare)) {
		p = presence_new("probe", ubare, cbare);
		tern_route(p);
		tern_stanza_unref(p);
	}
 out:
	free(node);
	free(domain);
}

/* Presence consequences of a block or unblock (changed items only). */
static void
presence_after(const char *host, const char *user, const struct items *l,
    int blocking)
{
	struct tern_session	**mine;
	size_t			  n, i;

	mine = resources(host, user, 1, &n);
	for (i = 0; n > 0 && i < l->n; i++) {
		if (!l->changed[i])
			continue;
		if (blocking)
			block_presence(host, user, l->jid[i], mine, n);
		else
			unblock_presence(host, user, l->jid[i]);
	}
	free(mine);
}

/* The result, the pushes and the presence of a command that was applied. */
static void
done(struct tern_event *ev, const char *action, const struct items *l,
    int blocking)
{
	const char		*host = tern_host_name(ev->host);
	struct tern_stanza	*r = tern_stanza_reply(ev->stanza);

	tern_reply(ev, r);
	tern_stanza_unref(r);
	push(host, ev->to_node, action, l);
	if (l != NULL)
		presence_after(host, ev->to_node, l, blocking);
}

static int
block_set(struct tern_event *ev, void *conf)
{
	const struct blocking_conf	*c = conf;
	const char			*host = tern_host_name(ev->host);
	struct items			 l;
	size_t				 have = 0, add;

	if (not_owner(ev) || parse_items(ev, tern_stanza_child(ev->stanza,
	    NS_BLOCKING, "block"), c->max_items, &l) == -1)
		return TERN_DONE;
	if (l.n == 0)		/* XEP-0191 3.3 */
		answer_error(ev, "modify", "bad-request",
		    "The block element has no item", 0);
	else if (mark_changes(host, ev->to_node, &l, 1, &add) == -1 ||
	    tern_kv_each(STORE, host, ev->to_node, count_cb, &have) == -1)
		answer_error(ev, "wait", "internal-server-error", NULL, 0);
	else if (have + add > c->max_items)
		answer_error(ev, "cancel", "policy-violation",
		    "The blocklist is full", 0);
	else if (apply(host, ev->to_node, &l, 1) == -1)
		answer_error(ev, "wait", "internal-server-error", NULL, 0);
	else
		done(ev, "block", &l, 1);
	items_free(&l);
	return TERN_DONE;
}

static int
collect_cb(const char *key, const void *val, size_t len, void *arg)
{
	char	*p;

	if ((p = strdup(key)) == NULL)
		oom();
	items_add_take(arg, p);
	((struct items *)arg)->changed[((struct items *)arg)->n - 1] = 1;
	return 0;
}

/* XEP-0191 3.5: an empty unblock empties the list. */
static void
unblock_all(struct tern_event *ev)
{
	const char	*host = tern_host_name(ev->host);
	struct items	 l;

	memset(&l, 0, sizeof(l));
	if (tern_kv_each(STORE, host, ev->to_node, collect_cb, &l) == -1 ||
	    tern_kv_del_user(STORE, host, ev->to_node) == -1)
		answer_error(ev, "wait", "internal-server-error", NULL, 0);
	else {
		done(ev, "unblock", NULL, 0);
		presence_after(host, ev->to_node, &l, 0);
	}
	items_free(&l);
}

static int
unblock_set(struct tern_event *ev, void *conf)
{
	const struct blocking_conf	*c = conf;
	const char			*host = tern_host_name(ev->host);
	struct items			 l;
	size_t				 n;

	if (not_owner(ev) || parse_items(ev, tern_stanza_child(ev->stanza,
	    NS_BLOCKING, "unblock"), c->max_items, &l) == -1)
		return TERN_DONE;
	if (l.n == 0)
		unblock_all(ev);
	else if (mark_changes(host, ev->to_node, &l, 0, &n) == -1 ||
	    apply(host, ev->to_node, &l, 0) == -1)
		answer_error(ev, "wait", "internal-server-error", NULL, 0);
	else
		done(ev, "unblock", &l, 0);
	items_free(&l);
	return TERN_DONE;
}

/*
 * "jid-blocked": for other modules that deliver what they stored (offline
 * messages, pending subscription requests), which the block must stop as
 * well.  ev->user is the account's node, ev->to a JID; TERN_DONE if the
 * account blocked it (or the blocklist cannot be read).
 */
static int
jid_blocked(struct tern_event *ev, void *conf)
{
	if (ev->user == NULL || ev->to == NULL)
		return TERN_PASS;
	return blocked(tern_host_name(ev->host), ev->user, ev->to) != 0 ?
	    TERN_DONE : TERN_PASS;
}

/* A blocklist set, or a block or unblock get, makes no sense. */
static int
wrong_type(struct tern_event *ev, void *conf)
{
	answer_error(ev, "modify", "bad-request", NULL, 0);
	return TERN_DONE;
}

static void
blocking_session_free(void *data)
{
	free(data);
}

#define IQ(type, name)	"iq-" type "/bare/" NS_BLOCKING ":" name
#define STANZA(kind, dest, fn)	{ kind "/" dest, TERN_PRIO_HIGH, fn }

static const struct tern_hook hooks[] = {
	{ IQ("get", "blocklist"), TERN_PRIO_DEFAULT, blocklist_get },
	{ IQ("set", "block"), TERN_PRIO_DEFAULT, block_set },
	{ IQ("set", "unblock"), TERN_PRIO_DEFAULT, unblock_set },
	{ IQ("set", "blocklist"), TERN_PRIO_DEFAULT, wrong_type },
	{ IQ("get", "block"), TERN_PRIO_DEFAULT, wrong_type },
	{ IQ("get", "unblock"), TERN_PRIO_DEFAULT, wrong_type },
	{ "jid-blocked", TERN_PRIO_DEFAULT, jid_blocked },
	STANZA("message", "bare", inbound),
	STANZA("message", "full", inbound),
	STANZA("presence", "bare", inbound),
	STANZA("presence", "full", inbound),
	STANZA("iq", "bare", inbound),
	STANZA("iq", "full", inbound),
	STANZA("pre-message", "bare", outbound),
	STANZA("pre-message", "full", outbound),
	STANZA("pre-message", "host", outbound),
	STANZA("pre-presence", "bare", outbound),
	STANZA("pre-presence", "full", outbound),
	STANZA("pre-presence", "host", outbound),
	STANZA("pre-iq", "bare", outbound),
	STANZA("pre-iq", "full", outbound),
	STANZA("pre-iq", "host", outbound),
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "blocking_max_items", TERN_CONF_INT,
	    offsetof(struct blocking_conf, max_items), 1, 100000, "1000",
	    NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

static const char *const features[] = { NS_BLOCKING, NULL };
static const char *const stores[] = { STORE, NULL };

const struct tern_module mod_blocking = {
	.abi = TERN_MODULE_ABI,
	.name = "blocking",
	.features = features,
	.directives = directives,
	.conf_size = sizeof(struct blocking_conf),
	.hooks = hooks,
	.stores = stores,
	.session_free = blocking_session_free,
};
