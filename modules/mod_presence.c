/*
 * RFC 6121 sections 3 and 4: presence subscriptions and presence
 * exchange for the accounts of this server.
 *
 * Subscriptions: a subscription stanza a user sends ("outbound", the
 * pre-presence events) changes the sender's roster item, then goes on
 * from the sender's bare JID; one that reaches an account ("inbound",
 * presence/bare and presence/full) changes the receiver's item.  Both
 * follow the rules table below, which is RFC 6121 Appendix A with the
 * actions of 3.1-3.4.  Items live in mod_roster's store (roster_store.h)
 * and mod_roster pushes their changes (ROSTER_PUSH_EVENT).  A request
 * from someone not in the roster is a hidden record (RI_PENDING_IN); the
 * request itself waits in store "presence_pending" (key: the contact's
 * bare JID) and is delivered again at each initial presence until it is
 * answered.
 *
 * Presence: initial presence goes to the contacts with a 'from'
 * subscription and to the account's available resources, and probes
 * the contacts with a 'to' subscription (from the full JID, so that the
 * answers reach the new resource, which is not available until the
 * event returns); later presence is broadcast the same way; unavailable
 * presence (sent, or a connection that drops) too, plus to whoever got
 * directed presence from the session.  A probe is answered with the
 * last presence of each available resource, or unavailable.
 *
 * Per session (data slot, struct psess): its last available presence
 * (a reference) and the JIDs it sent directed presence to.
 */
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#include "roster_store.h"

#define PENDING_STORE	"presence_pending"
#define NS_PREAPPROVAL	"urn:xmpp:features:pre-approval"

struct presence_conf {
	unsigned	max_directed;	/* presence_max_directed */
	unsigned	max_pending;	/* presence_max_pending */
};

/* A growing list of JIDs. */
struct jids {
	char		**v;
	size_t		  n, cap;
	const char	 *skip;		/* collect: not this key */
	unsigned	  mask;		/* collect: any of these flags */
};

struct psess {
	struct tern_stanza	*last;	/* available presence, or NULL */
	struct jids		 directed;	/* prepared JIDs */
};

extern const struct tern_module mod_presence;

enum { OUT, IN };

/* Actions, in the order they run. */
#define A_SHOW		0x001	/* the record becomes an item */
#define A_STORE		0x002	/* keep the request till answered */
#define A_UNPEND	0x004	/* forget the kept request */
#define A_ROUTE		0x008	/* route on from the bare JID */
#define A_DELIVER	0x010	/* to the available resources */
#define A_REPLY		0x020	/* answer 'subscribed' for him */
#define A_PRESENCE	0x040	/* his presence to the contact */
#define A_UNAVAIL	0x080	/* unavailable from each resource */

/*
 * The subscription state machine: the first row of the direction and
 * type whose 'when' flags (any; 0 = always) the item has applies.  No
 * row: the stanza is dropped and nothing changes.
 */
static const struct rule {
	int		 dir;
	const char	*type;
	unsigned	 when, set, clear, act;
} rules[] = {
	/* 3.1.2: the user asks; already 'to': just route. */
	{ OUT, "subscribe", RI_TO, 0, 0, A_ROUTE },
	{ OUT, "subscribe", 0, RI_ASK, 0, A_SHOW | A_ROUTE },
	/* 3.3.2: the user unsubscribes. */
	{ OUT, "unsubscribe", 0, 0, RI_TO | RI_ASK, A_ROUTE },
	/* 3.1.5: the user approves; 3.4: or pre-approves. */
	{ OUT, "subscribed", RI_PENDING_IN, RI_FROM,
	    RI_PENDING_IN | RI_APPROVED,
	    A_SHOW | A_UNPEND | A_ROUTE | A_PRESENCE },
	{ OUT, "subscribed", RI_FROM, 0, 0, 0 },
	{ OUT, "subscribed", 0, RI_APPROVED, 0, A_SHOW },
	/* 3.2.2: the user cancels or denies (or drops a pre-approval). */
	{ OUT, "unsubscribed", RI_FROM, 0,
	    RI_FROM | RI_PENDING_IN | RI_APPROVED,
	    A_UNPEND | A_ROUTE | A_UNAVAIL },
	{ OUT, "unsubscribed", 0, 0, RI_PENDING_IN | RI_APPROVED,
	    A_UNPEND | A_ROUTE },
	/* 3.1.3: a request: auto-replies, or kept and delivered once. */
	{ IN, "subscribe", RI_FROM, 0, 0, A_REPLY | A_PRESENCE },
	{ IN, "subscribe", RI_APPROVED, RI_FROM, RI_APPROVED,
	    A_REPLY | A_PRESENCE },
	{ IN, "subscribe", RI_PENDING_IN, 0, 0, 0 },
	{ IN, "subscribe", 0, RI_PENDING_IN, 0, A_STORE | A_DELIVER },
	/* 3.1.6: approved; without a pending request it is ignored. */
	{ IN, "subscribed", RI_ASK, RI_TO, RI_ASK, A_DELIVER },
	/* 3.3.3: the contact unsubscribes or withdraws a request. */
	{ IN, "unsubscribe", RI_FROM, 0, RI_FROM | RI_PENDING_IN,
	    A_UNPEND | A_DELIVER | A_UNAVAIL },
	{ IN, "unsubscribe", RI_PENDING_IN, 0, RI_PENDING_IN,
	    A_UNPEND | A_DELIVER },
	/* 3.2.3: the contact cancels our subscription or denies it. */
	{ IN, "unsubscribed", RI_TO | RI_ASK, 0, RI_TO | RI_ASK, A_DELIVER },
};

static const char *const sub_types[] = {
	"subscribe", "subscribed", "unsubscribe", "unsubscribed", NULL
};

/* One subscription stanza being processed for user about contact. */
struct ctx {
	const char		*host, *user, *contact;
	char			*bare;		/* user's bare JID */
	const struct tern_stanza *st;
	struct tern_event	*ev;
	const struct presence_conf *conf;
};

static int
is_type(const char *type, const char *const *names)
{
	for (; type != NULL && *names != NULL; names++)
		if (strcmp(type, *names) == 0)
			return 1;
	return 0;
}

static void
jids_add(struct jids *l, const char *jid)
{
	char	**v;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		v = roster_alloc(l->cap * sizeof(*v));
		if (l->n > 0)
			memcpy(v, l->v, l->n * sizeof(*v));
		free(l->v);
		l->v = v;
	}
	l->v[l->n++] = roster_strdup(jid);
}

static int
jids_has(const struct jids *l, const char *jid)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], jid) == 0)
			return 1;
	return 0;
}

static void
jids_free(struct jids *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
collect(const char *key, const void *val, size_t len, void *arg)
{
	struct jids	*l = arg;
	unsigned	 f = roster_value_flags(val, len);

	if (*key != '\0' && strcmp(key, l->skip) != 0 &&
	    !(f & RI_HIDDEN) && (f & l->mask))
		jids_add(l, key);
	return 0;
}

/* The user's contacts (not the user) with any of the flags in mask. */
static void
contacts(const char *host, const char *user, unsigned mask, struct jids *l)
{
	char	*bare = roster_jid_join(user, host);

	memset(l, 0, sizeof(*l));
	l->skip = bare;
	l->mask = mask;
	if (tern_kv_each(ROSTER_STORE, host, user, collect, l) == -1)
		tern_log(TERN_LOG_ERROR, "presence: cannot read the roster "
		    "of %s", bare);
	l->skip = NULL;
	free(bare);
}

static int
count_hidden(const char *key, const void *val, size_t len, void *arg)
{
	if (*key != '\0' && (roster_value_flags(val, len) & RI_HIDDEN))
		(*(unsigned *)arg)++;
	return 0;
}

static struct psess *
psess_get(struct tern_session *s)
{
	struct psess	*ps = tern_session_data(s, &mod_presence);

	if (ps == NULL) {
		ps = roster_alloc(sizeof(*ps));
		tern_session_set_data(s, &mod_presence, ps);
	}
	return ps;
}

static void
psess_free(void *data)
{
	struct psess	*ps = data;

	tern_stanza_unref(ps->last);
	jids_free(&ps->directed);
	free(ps);
}

/* Routes a copy of st (borrowed) with from and to set. */
static void
route_copy(const struct tern_stanza *st, const char *from, const char *to)
{
	struct tern_stanza	*c = tern_stanza_copy(st);

	if (from != NULL)
		tern_stanza_set_attr(c, "from", from);
	tern_stanza_set_attr(c, "to", to);
	tern_route(c);
	tern_stanza_unref(c);
}

/* Routes a new presence of type (NULL: available) from, to. */
static void
route_new(const char *type, const char *from, const char *to)
{
	struct tern_stanza	*p = tern_stanza_new(TERN_NS_CLIENT,
				    "presence");

	if (type != NULL)
		tern_stanza_set_attr(p, "type", type);
	tern_stanza_set_attr(p, "from", from);
	tern_stanza_set_attr(p, "to", to);
	tern_route(p);
	tern_stanza_unref(p);
}

/* The last presence of each available resource of the user, to 'to'. */
static size_t
send_resources_presence(const char *host, const char *user, const char *to,
    const struct tern_session *except)
{
	struct tern_session	**v;
	struct psess		 *ps;
	size_t			  n, i, sent = 0;

	v = roster_sessions(host, user, 1, &n);
	for (i = 0; i < n; i++) {
		if (v[i] == except || !tern_session_available(v[i]))
			continue;
		ps = tern_session_data(v[i], &mod_presence);
		if (ps != NULL && ps->last != NULL)
			route_copy(ps->last, tern_session_jid(v[i]), to);
		else
			route_new(NULL, tern_session_jid(v[i]), to);
		sent++;
	}
	free(v);
	return sent;
}

static void
act_store(struct ctx *c)
{
	char	*xml = tern_stanza_to_xml(c->st);

	if (tern_kv_put(PENDING_STORE, c->host, c->user, c->contact, xml,
	    strlen(xml)) == -1)
		tern_log(TERN_LOG_ERROR, "presence: cannot keep the "
		    "subscription request from %s to %s", c->contact, c->bare);
	free(xml);
}

static void
act_unpend(struct ctx *c)
{
	tern_kv_del(PENDING_STORE, c->host, c->user, c->contact);
}

static void
act_route(struct ctx *c)
{
	route_copy(c->st, c->bare, c->contact);
}

static void
act_deliver(struct ctx *c)
{
	struct tern_session	**v;
	size_t			  n, i;

	v = roster_sessions(c->host, c->user, 1, &n);
	for (i = 0; i < n; i++)
		if (tern_session_available(v[i]))
			tern_session_send(v[i], c->st);
	free(v);
}

static void
act_reply(struct ctx *c)
{
	route_new("subscribed", c->bare, c->contact);
}

static void
act_presence(struct ctx *c)
{
	send_resources_presence(c->host, c->user, c->contact, NULL);
}

static void
act_unavail(struct ctx *c)
{
	struct tern_session	**v;
	size_t			  n, i;

	v = roster_sessions(c->host, c->user, 1, &n);
	for (i = 0; i < n; i++)
		if (tern_session_available(v[i]))
			route_new("unavailable", tern_session_jid(v[i]),
			    c->contact);
	free(v);
}

static const struct {
	unsigned	  bit;
	void		(*fn)(struct ctx *);
} actions[] = {
	{ A_STORE, act_store },
	{ A_UNPEND, act_unpend },
	{ A_ROUTE, act_route },
	{ A_DELIVER, act_deliver },
	{ A_REPLY, act_reply },
	{ A_PRESENCE, act_presence },
	{ A_UNAVAIL, act_unavail },
};

static const struct rule *
find_rule(int dir, const char *type, unsigned flags)
{
	size_t	i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].dir == dir && strcmp(rules[i].type, type) == 0 &&
		    (rules[i].when == 0 || (flags & rules[i].when)))
			return &rules[i];
	return NULL;
}

/* An error for a subscription stanza the user sent. */
struct perr {
	const char	*type, *cond, *text;
};

static const struct perr
    err_store = { "wait", "internal-server-error", "Storage error" },
    err_full = { "cancel", "not-allowed", "The roster is full" },
    err_jidlong = { "modify", "not-acceptable", "The JID is too long" },
    err_pending = { "wait", "resource-constraint",
	"Too many subscription requests are pending" };

/* Whether the rule may create a record: NULL, or the error. */
static const struct perr *
no_room(const struct ctx *c, const struct rule *r, unsigned was)
{
	unsigned	n = 0;

	if (!(was & RI_HIDDEN))
		return NULL;
	if ((r->act & A_SHOW) && roster_full(c->host, c->user))
		return &err_full;
	if ((r->act & A_STORE) && !(was & RI_PENDING_IN)) {
		if (tern_kv_each(ROSTER_STORE, c->host, c->user, count_hidden,
		    &n) == -1)
			return &err_store;
		if (n >= c->conf->max_pending) {
			tern_log(TERN_LOG_INFO, "presence: subscription "
			    "request from %s to %s dropped: %u pending",
			    c->contact, c->bare, n);
			return &err_pending;
		}
	}
	return NULL;
}

/* Saves the item changed by the rule, and has it pushed: 0 or -1. */
static int
save(const struct ctx *c, struct roster_item *it, unsigned was)
{
	int	rc;

	if (it->flags == was)
		return 0;
	if ((rc = roster_item_save(c->host, c->user, c->contact, it, was,
	    0)) == 1)
		roster_push(c->host, c->user, c->contact,
		    (it->flags & RI_HIDDEN) ? NULL : it);
	return rc == -1 ? -1 : 0;
}

/*
 * Applies the rules to one subscription stanza: 0, or -1 (an outbound
 * stanza is then answered with an error).
 */
static int
apply(struct ctx *c, int dir, const char *type)
{
	const struct rule	*r = NULL;
	const struct perr	*e = NULL;
	struct roster_item	 it;
	unsigned		 was;
	size_t			 i;

	memset(&it, 0, sizeof(it));
	if (strlen(c->contact) > ROSTER_JID_MAX)
		e = &err_jidlong;
	else if (roster_item_get(c->host, c->user, c->contact, &it) == -1)
		e = &err_store;
	else if ((r = find_rule(dir, type, it.flags)) == NULL) {
		roster_item_clear(&it);
		return 0;
	} else if ((e = no_room(c, r, it.flags)) == NULL) {
		was = it.flags;
		it.flags = (was | r->set) & ~r->clear;
		if (r->act & A_SHOW)
			it.flags &= ~RI_HIDDEN;
		if (save(c, &it, was) == -1)
			e = &err_store;
	}
	roster_item_clear(&it);
	if (e != NULL) {
		if (dir == OUT)
			tern_reply_error(c->ev, e->type, e->cond, e->text);
		return -1;
	}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (r->act & actions[i].bit)
			actions[i].fn(c);
	return 0;
}

/* Directed presence (RFC 6121 4.6): remembered until unavailable. */
static int
directed(struct tern_event *ev, const struct presence_conf *conf,
    int available)
{
	struct tern_session	*s = ev->origin;
	struct jids		*l;
	size_t			 i;

	if (s == NULL || ev->to == NULL || (strcmp(ev->to_node,
	    tern_session_user(s)) == 0 && strcmp(ev->to_domain,
	    tern_host_name(ev->host)) == 0))
		return TERN_PASS;	/* to the user's own account */
	l = &psess_get(s)->directed;
	for (i = 0; i < l->n && strcmp(l->v[i], ev->to) != 0; i++)
		;
	if (!available) {
		if (i < l->n) {
			free(l->v[i]);
			l->v[i] = l->v[--l->n];
		}
		return TERN_PASS;
	}
	if (i < l->n)
		return TERN_PASS;
	if (l->n >= conf->max_directed) {
		tern_reply_error(ev, "wait", "resource-constraint",
		    "Too many entities got directed presence");
		return TERN_DONE;
	}
	jids_add(l, ev->to);
	return TERN_PASS;
}

/* A subscription request to an account of ours that does not exist. */
static void
no_such_contact(const char *bare, const char *node, const char *domain)
{
	char	*contact;

	if (tern_host_find(domain) == NULL ||
	    tern_user_exists(domain, node) != 0)
		return;
	/* 3.1.3: the contact's server would answer unsubscribed. */
	contact = roster_jid_join(node, domain);
	route_new("unsubscribed", contact, bare);
	free(contact);
}

/* pre-presence/bare, pre-presence/full: what a local user sends. */
static int
outbound(struct tern_event *ev, void *conf)
{
	const char	*type = tern_stanza_attr(ev->stanza, "type");
	struct ctx	 c;
	char		*contact;

	if (ev->origin == NULL || ev->to_node == NULL)
		return TERN_PASS;
	if (type == NULL || strcmp(type, "unavailable") == 0)
		return directed(ev, conf, type == NULL);
	if (!is_type(type, sub_types))
		return TERN_PASS;	/* probes, errors: routed as is */
	contact = roster_jid_join(ev->to_node, ev->to_domain);
	memset(&c, 0, sizeof(c));
	c.host = tern_host_name(ev->host);
	c.user = tern_session_user(ev->origin);
	c.contact = contact;
	c.bare = roster_jid_join(c.user, c.host);
	c.st = ev->stanza;
	c.ev = ev;
	c.conf = conf;
	if (apply(&c, OUT, type) == 0 && strcmp(type, "subscribe") == 0)
		no_such_contact(c.bare, ev->to_node, ev->to_domain);
	free(c.bare);
	free(contact);
	return TERN_DONE;
}

/* RFC 6121 4.3.2: a probe from contact (from: its full or bare JID). */
static void
answer_probe(const char *host, const char *user, const char *bare,
    const char *contact, const char *from)
{
	struct roster_item	it;
	unsigned		flags;
	int			rc;

	if (strcmp(bare, contact) != 0) {
		rc = roster_item_get(host, user, contact, &it);
		flags = it.flags;
		roster_item_clear(&it);
		if (rc == -1)
			return;
		if (!(flags & RI_FROM)) {
			route_new("unsubscribed", bare, contact);
			return;
		}
	}
	if (send_resources_presence(host, user, from, NULL) == 0)
		route_new("unavailable", bare, from);
}

/* presence/bare, presence/full: subscriptions and probes for a user. */
static int
inbound(struct tern_event *ev, void *conf)
{
	const char	*type = tern_stanza_attr(ev->stanza, "type");
	const char	*from = tern_stanza_attr(ev->stanza, "from");
	struct tern_stanza *st;
	struct ctx	 c;
	char		*contact;

	if (ev->to_node == NULL || (strcmp(type ? type : "", "probe") != 0 &&
	    !is_type(type, sub_types)))
		return TERN_PASS;
	if (from == NULL || (contact = tern_jid_bare(from)) == NULL)
		return TERN_DONE;
	memset(&c, 0, sizeof(c));
	c.host = ev->to_domain;
	c.user = ev->to_node;
	c.contact = contact;
	c.bare = roster_jid_join(c.user, c.host);
	c.ev = ev;
	c.conf = conf;
	if (strcmp(type, "probe") == 0)
		answer_probe(c.host, c.user, c.bare, contact, from);
	else {
		/* Subscription stanzas are between bare JIDs. */
		st = tern_stanza_copy(ev->stanza);
		tern_stanza_set_attr(st, "from", contact);
		tern_stanza_set_attr(st, "to", c.bare);
		c.st = st;
		apply(&c, IN, type);
		tern_stanza_unref(st);
	}
	free(c.bare);
	free(contact);
	return TERN_DONE;
}

/*
 * Sends st (the session's own presence, borrowed) to the contacts with
 * a 'from' subscription (returned in l) and to the account's available
 * resources, with the session itself if self.
 */
static void
broadcast(struct tern_session *s, const struct tern_stanza *st, int self,
    struct jids *l)
{
	struct tern_session	**v;
	const char		 *host = tern_host_name(tern_session_host(s));
	const char		 *user = tern_session_user(s);
	size_t			  n, i;

	contacts(host, user, RI_FROM, l);
	for (i = 0; i < l->n; i++)
		route_copy(st, NULL, l->v[i]);
	v = roster_sessions(host, user, 1, &n);
	for (i = 0; i < n; i++)
		if (v[i] != s && tern_session_available(v[i]))
			route_copy(st, NULL, tern_session_jid(v[i]));
	free(v);
	if (self)
		route_copy(st, NULL, tern_session_jid(s));
}

/* Unavailable to whoever got directed presence and no broadcast. */
static void
undo_directed(struct tern_session *s, const struct jids *covered)
{
	struct psess	*ps = tern_session_data(s, &mod_presence);
	struct jids	 l;
	size_t		 i;
	char		*bare;

	if (ps == NULL)
		return;
	/* Taken first: sending may come back here for this session. */
	l = ps->directed;
	memset(&ps->directed, 0, sizeof(ps->directed));
	for (i = 0; i < l.n; i++) {
		bare = tern_jid_bare(l.v[i]);
		if (bare == NULL || !jids_has(covered, bare))
			route_new("unavailable", tern_session_jid(s), l.v[i]);
		free(bare);
	}
	jids_free(&l);
}

struct pending {
	struct jids	keys, xml;
};

static int
collect_pending(const char *key, const void *val, size_t len, void *arg)
{
	struct pending	*p = arg;
	char		*x = roster_alloc(len + 1);

	memcpy(x, val, len);
	jids_add(&p->keys, key);
	jids_add(&p->xml, x);
	free(x);
	return 0;
}

/* Whether user blocked jid (the blocking module, if enabled, says). */
static int
blocked(struct tern_session *s, const char *user, const char *jid)
{
	struct tern_event	q;

	if (jid == NULL)
		return 0;
	memset(&q, 0, sizeof(q));
	q.user = user;
	q.to = jid;
	return tern_fire(tern_session_host(s), "jid-blocked", &q) ==
	    TERN_DONE;
}

/* RFC 6121 3.1.3: requests not answered yet, to a new resource. */
static void
deliver_pending(struct tern_session *s, const char *host, const char *user)
{
	struct pending		 p;
	struct roster_item	 it;
	struct tern_stanza	*st;
	unsigned		 flags;
	size_t			 i;
	int			 rc;

	memset(&p, 0, sizeof(p));
	tern_kv_each(PENDING_STORE, host, user, collect_pending, &p);
	for (i = 0; i < p.keys.n; i++) {
		rc = roster_item_get(host, user, p.keys.v[i], &it);
		flags = it.flags;
		roster_item_clear(&it);
		if (rc == 0 && (flags & RI_PENDING_IN) && (st =
		    tern_stanza_from_xml(p.xml.v[i], strlen(p.xml.v[i]))) !=
		    NULL) {
			/* Sent directly: ask blocking, as routing would. */
			if (!blocked(s, user, tern_stanza_attr(st, "from")))
				tern_session_send(s, st);
			tern_stanza_unref(st);
		} else if (rc != -1)	/* answered, or the item removed */
			tern_kv_del(PENDING_STORE, host, user, p.keys.v[i]);
	}
	jids_free(&p.keys);
	jids_free(&p.xml);
}

/* RFC 6121 4.2.2: what a resource gets when it becomes available. */
static void
initial(struct tern_session *s)
{
	const char	*host = tern_host_name(tern_session_host(s));
	const char	*user = tern_session_user(s);
	struct jids	 l;
	size_t		 i;

	contacts(host, user, RI_TO, &l);
	for (i = 0; i < l.n; i++)
		route_new("probe", tern_session_jid(s), l.v[i]);
	jids_free(&l);
	send_resources_presence(host, user, tern_session_jid(s), s);
	deliver_pending(s, host, user);
}

/* presence/self: the session's own availability (RFC 6121 4.2-4.5). */
static int
self_presence(struct tern_event *ev, void *conf)
{
	struct tern_session	*s = ev->origin;
	const char		*type = tern_stanza_attr(ev->stanza, "type");
	struct psess		*ps;
	struct jids		 l;
	int			 was;

	if (s == NULL)
		return TERN_PASS;
	ps = psess_get(s);
	was = tern_session_available(s);
	memset(&l, 0, sizeof(l));
	if (type == NULL) {
		tern_stanza_unref(ps->last);
		ps->last = tern_stanza_ref(ev->stanza);
		broadcast(s, ev->stanza, 1, &l);
		if (!was)
			initial(s);
	} else if (strcmp(type, "unavailable") == 0) {
		if (was)
			broadcast(s, ev->stanza, 1, &l);
		undo_directed(s, &l);
		tern_stanza_unref(ps->last);
		ps->last = NULL;
	}
	jids_free(&l);
	return TERN_PASS;
}

/* A session ended: as unavailable presence (RFC 6121 4.5.2). */
static int
unbind(struct tern_event *ev, void *conf)
{
	struct tern_session	*s = ev->session;
	struct tern_stanza	*st;
	struct jids		 l;

	if (s == NULL || tern_session_data(s, &mod_presence) == NULL)
		return TERN_PASS;
	memset(&l, 0, sizeof(l));
	if (tern_session_available(s)) {
		st = tern_stanza_new(TERN_NS_CLIENT, "presence");
		tern_stanza_set_attr(st, "type", "unavailable");
		tern_stanza_set_attr(st, "from", tern_session_jid(s));
		broadcast(s, st, 0, &l);
		tern_stanza_unref(st);
	}
	undo_directed(s, &l);
	jids_free(&l);
	return TERN_PASS;
}

/* RFC 6121 3.4.1: pre-approval is supported. */
static int
features(struct tern_event *ev, void *conf)
{
	if (ev->authenticated && ev->features != NULL)
		tern_stanza_add_child(ev->features, NS_PREAPPROVAL, "sub");
	return TERN_PASS;
}

static const struct tern_hook hooks[] = {
	{ "presence/self", TERN_PRIO_DEFAULT, self_presence },
	{ "pre-presence/bare", TERN_PRIO_DEFAULT, outbound },
	{ "pre-presence/full", TERN_PRIO_DEFAULT, outbound },
	{ "presence/bare", TERN_PRIO_DEFAULT, inbound },
	{ "presence/full", TERN_PRIO_DEFAULT, inbound },
	{ "resource-unbind", TERN_PRIO_DEFAULT, unbind },
	{ "stream-features", TERN_PRIO_DEFAULT, features },
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "presence_max_directed", TERN_CONF_INT, offsetof(struct
	    presence_conf, max_directed), 1, 100000, "1000", NULL },
	{ "presence_max_pending", TERN_CONF_INT, offsetof(struct
	    presence_conf, max_pending), 1, 100000, "100", NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

static const char *const depends[] = { "roster", NULL };
static const char *const stores[] = { PENDING_STORE, NULL };

const struct tern_module mod_presence = {
	.abi = TERN_MODULE_ABI,
	.name = "presence",
	.depends = depends,
	.directives = directives,
	.conf_size = sizeof(struct presence_conf),
	.hooks = hooks,
	.stores = stores,
	.session_free = psess_free,
};
