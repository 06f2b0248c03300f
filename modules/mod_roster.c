/*
 * RFC 6121 section 2: roster management, with roster versioning
 * (RFC 6121 2.6, XEP-0237).  Answers roster get and set for the
 * sender's own account, keeps the items in store "roster" (format in
 * roster_store.h, shared with mod_presence), and pushes every change to
 * the account's interested resources: those that asked for the roster
 * (2.1.6).  mod_presence changes subscription state in the same store
 * and fires ROSTER_PUSH_EVENT for the push.
 *
 * Removing an item (2.5.2) cancels the subscriptions both ways: this
 * module routes the unsubscribe / unsubscribed itself (from the bare
 * JID, as the user's server would after its own processing) and the
 * unavailable presence of the user's available resources.
 *
 * A session is interested when its data slot holds &interested; the
 * slot owns nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#include "roster_store.h"

#define NS_ROSTERVER	"urn:xmpp:features:rosterver"

struct roster_conf {
	unsigned	max_items;	/* roster_max_items */
	unsigned	max_name;	/* roster_max_name_length */
	unsigned	max_group;	/* roster_max_group_length */
	unsigned	max_groups;	/* roster_max_groups */
};

extern const struct tern_module mod_roster;

static char		interested;
static unsigned long	push_seq;

/* The account the event's roster iq is for, if the sender may use it. */
static int
authorized(const struct tern_event *ev)
{
	const struct tern_session	*s = ev->origin;

	return s != NULL && ev->to_node != NULL && ev->to_domain != NULL &&
	    ev->to_resource == NULL &&
	    strcmp(tern_session_user(s), ev->to_node) == 0 &&
	    strcmp(tern_host_name(tern_session_host(s)), ev->to_domain) == 0;
}

struct get_arg {
	struct tern_stanza	*query;
	int			 bad;
};

static int
add_item(const char *key, const void *val, size_t len, void *arg)
{
	struct get_arg		*ga = arg;
	struct roster_item	 it;

	if (*key == '\0' || (roster_value_flags(val, len) & RI_HIDDEN))
		return 0;
	if (roster_item_decode(val, len, &it) == -1) {
		ga->bad++;
		return 0;
	}
	tern_stanza_add_child_take(ga->query, roster_item_element(key, &it));
	roster_item_clear(&it);
	return 0;
}

/* RFC 6121 2.2 and 2.6.3: the roster, or an empty result if unchanged. */
static int
roster_get(struct tern_event *ev, void *conf)
{
	struct tern_stanza	*q, *r;
	struct get_arg		 ga;
	const char		*ver;
	char			 cur[64];

	if (!authorized(ev)) {
		tern_reply_error(ev, "auth", "forbidden",
		    "Only your own roster can be read");
		return TERN_DONE;
	}
	if (roster_version(ev->to_domain, ev->to_node, cur,
	    sizeof(cur)) == -1) {
		tern_reply_error(ev, "wait", "internal-server-error",
		    "Storage error");
		return TERN_DONE;
	}
	tern_session_set_data(ev->origin, &mod_roster, &interested);
	q = tern_stanza_child(ev->stanza, NS_ROSTER, "query");
	ver = q ? tern_stanza_attr(q, "ver") : NULL;
	r = tern_stanza_reply(ev->stanza);
	if (ver == NULL || strcmp(ver, cur) != 0) {
		ga.query = tern_stanza_add_child(r, NS_ROSTER, "query");
		ga.bad = 0;
		tern_stanza_set_attr(ga.query, "ver", cur);
		if (tern_kv_each(ROSTER_STORE, ev->to_domain, ev->to_node,
		    add_item, &ga) == -1) {
			tern_stanza_unref(r);
			tern_reply_error(ev, "wait", "internal-server-error",
			    "Storage error");
			return TERN_DONE;
		}
		if (ga.bad > 0)
			tern_log(TERN_LOG_ERROR, "roster: %d bad records in "
			    "the roster of %s@%s", ga.bad, ev->to_node,
			    ev->to_domain);
	}
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

/* Sends the push of item (borrowed) to each interested resource. */
static void
push(const char *host, const char *user, const struct tern_stanza *item)
{
	struct tern_session	**v;
	struct tern_stanza	 *iq, *q;
	char			  ver[64], id[32], *bare;
	size_t			  n, i;

	if (roster_version(host, user, ver, sizeof(ver)) == -1)
		return;		/* logged; the next get resynchronizes */
	bare = roster_jid_join(user, host);
	v = roster_sessions(host, user, 0, &n);
	for (i = 0; i < n; i++) {
		if (tern_session_data(v[i], &mod_roster) != &interested)
			continue;
		iq = tern_stanza_new(TERN_NS_CLIENT, "iq");
		snprintf(id, sizeof(id), "push%lu", ++push_seq);
		tern_stanza_set_attr(iq, "type", "set");
		tern_stanza_set_attr(iq, "id", id);
		tern_stanza_set_attr(iq, "from", bare);
		tern_stanza_set_attr(iq, "to", tern_session_jid(v[i]));
		q = tern_stanza_add_child(iq, NS_ROSTER, "query");
		tern_stanza_set_attr(q, "ver", ver);
		tern_stanza_add_child_take(q, tern_stanza_copy(item));
		tern_session_send(v[i], iq);
		tern_stanza_unref(iq);
	}
	free(v);
	free(bare);
}

/* ROSTER_PUSH_EVENT, from mod_presence (or anyone). */
static int
push_event(struct tern_event *ev, void *conf)
{
	if (ev->user != NULL && ev->stanza != NULL)
		push(tern_host_name(ev->host), ev->user, ev->stanza);
	return TERN_DONE;
}

struct count_arg {
	unsigned	n;
};

static int
count_item(const char *key, const void *val, size_t len, void *arg)
{
	struct count_arg	*ca = arg;

	if (*key != '\0' && !(roster_value_flags(val, len) & RI_HIDDEN))
		ca->n++;
	return 0;
}

/* A stanza error for a roster set. */
struct set_error {
	const char	*type;
	const char	*cond;
	const char	*text;
};

static const struct set_error
    err_items = { "modify", "bad-request",
	"A roster set holds exactly one <item/>" },
    err_jid = { "modify", "bad-request",
	"The item needs a valid bare JID in 'jid'" },
    err_jidlong = { "modify", "not-acceptable",
	"The item's JID is too long" },
    err_dup = { "modify", "bad-request", "A group is listed twice" },
    err_name = { "modify", "not-acceptable", "The name is too long" },
    err_gempty = { "modify", "not-acceptable", "A group name is empty" },
    err_glong = { "modify", "not-acceptable", "A group name is too long" },
    err_gmany = { "modify", "not-acceptable",
	"The item is in too many groups" },
    err_full = { "cancel", "not-allowed", "The roster is full" },
    err_missing = { "cancel", "item-not-found",
	"No such item in the roster" },
    err_store = { "wait", "internal-server-error", "Storage error" };

/* The single <item/> of a roster set, or NULL. */
static struct tern_stanza *
set_item(const struct tern_stanza *iq)
{
	struct tern_stanza	*q, *item;

	q = tern_stanza_child(iq, NS_ROSTER, "query");
	if (q == NULL || tern_stanza_nelements(q) != 1)
		return NULL;
	item = tern_stanza_element(q, 0);
	if (strcmp(tern_stanza_name(item), "item") != 0 ||
	    tern_stanza_ns(item) == NULL ||
	    strcmp(tern_stanza_ns(item), NS_ROSTER) != 0)
		return NULL;
	return item;
}

/* The prepared bare JID of the item, or NULL if absent or not bare. */
static char *
item_jid(const struct tern_stanza *item)
{
	const char	*jid = tern_stanza_attr(item, "jid");
	char		*prep, *res = NULL;

	if (jid == NULL || *jid == '\0' || (prep = tern_jid_prep(jid)) ==
	    NULL)
		return NULL;
	if (tern_jid_split(prep, NULL, NULL, &res) == -1 || res != NULL) {
		free(res);
		free(prep);
		return NULL;
	}
	return prep;
}

/* The error for adding group text to the item's groups, or NULL. */
static const struct set_error *
group_error(const char *text, const struct roster_item *it,
    const struct roster_conf *c)
{
	size_t	k;

	if (*text == '\0')
		return &err_gempty;
	if (strlen(text) > c->max_group)
		return &err_glong;
	for (k = 0; k < it->ngroups; k++)
		if (strcmp(it->groups[k], text) == 0)
			return &err_dup;
	if (it->ngroups >= c->max_groups)
		return &err_gmany;
	return NULL;
}

/* Checks and reads name and groups (RFC 6121 2.3.3) into it. */
static const struct set_error *
parse_item(const struct tern_stanza *item, const struct roster_conf *c,
    struct roster_item *it)
{
	const struct tern_stanza	*g;
	const struct set_error		*e;
	const char			*name;
	char				*text;
	size_t				 i;

	name = tern_stanza_attr(item, "name");
	if (name != NULL && strlen(name) > c->max_name)
		return &err_name;
	if (name != NULL && *name != '\0')
		it->name = roster_strdup(name);
	for (i = 0; (g = tern_stanza_element(item, i)) != NULL; i++) {
		if (strcmp(tern_stanza_name(g), "group") != 0)
			continue;
		text = tern_stanza_text(g);
		if ((e = group_error(text, it, c)) == NULL)
			roster_item_add_group(it, text);
		free(text);
		if (e != NULL)
			return e;
	}
	return NULL;
}

static void
reply_set_error(struct tern_event *ev, const struct set_error *e)
{
	tern_reply_error(ev, e->type, e->cond, e->text);
}

static void
reply_result(struct tern_event *ev)
{
	struct tern_stanza	*r = tern_stanza_reply(ev->stanza);

	tern_reply(ev, r);
	tern_stanza_unref(r);
}

/* Routes a presence of type from the account to contact. */
static void
send_presence(const char *from, const char *to, const char *type)
{
	struct tern_stanza	*p = tern_stanza_new(TERN_NS_CLIENT,
				    "presence");

	tern_stanza_set_attr(p, "type", type);
	tern_stanza_set_attr(p, "from", from);
	tern_stanza_set_attr(p, "to", to);
	tern_route(p);
	tern_stanza_unref(p);
}

/* RFC 6121 2.5.2: what the removal cancels, as presence to contact. */
static void
cancel_subscriptions(const char *host, const char *user, const char *jid,
    unsigned flags)
{
	struct tern_session	**v;
	char			 *bare = roster_jid_join(user, host);
	size_t			  n, i;

	if (flags & (RI_TO | RI_ASK))
		send_presence(bare, jid, "unsubscribe");
	if (flags & (RI_FROM | RI_PENDING_IN))
		send_presence(bare, jid, "unsubscribed");
	if (flags & RI_FROM) {
		v = roster_sessions(host, user, 1, &n);
		for (i = 0; i < n; i++)
			if (tern_session_available(v[i]))
				send_presence(tern_session_jid(v[i]), jid,
				    "unavailable");
		free(v);
	}
	free(bare);
}

/* RFC 6121 2.5: subscription='remove'. */
static void
remove_item(struct tern_event *ev, const char *jid)
{
	struct roster_item	 it;
	const char		*host = ev->to_domain, *user = ev->to_node;
	int			 rc;

	rc = roster_item_get(host, user, jid, &it);
	if (rc == 1 || (rc == 0 && (it.flags & RI_HIDDEN))) {
		roster_item_clear(&it);
		reply_set_error(ev, &err_missing);
		return;
	}
	if (rc == -1 || tern_kv_del(ROSTER_STORE, host, user, jid) == -1 ||
	    roster_version_bump(host, user) == -1) {
		roster_item_clear(&it);
		reply_set_error(ev, &err_store);
		return;
	}
	reply_result(ev);
	roster_push(host, user, jid, NULL);
	cancel_subscriptions(host, user, jid, it.flags);
	roster_item_clear(&it);
}

/* Whether name and groups differ. */
static int
names_differ(const struct roster_item *a, const struct roster_item *b)
{
	size_t	i;

	if ((a->name == NULL) != (b->name == NULL) || (a->name != NULL &&
	    strcmp(a->name, b->name) != 0) || a->ngroups != b->ngroups)
		return 1;
	for (i = 0; i < a->ngroups; i++)
		if (strcmp(a->groups[i], b->groups[i]) != 0)
			return 1;
	return 0;
}

/* Room for one more item under roster_max_items: NULL, or the error. */
static const struct set_error *
check_room(const char *host, const char *user, const struct roster_conf *c)
{
	struct count_arg	ca = { 0 };

	if (tern_kv_each(ROSTER_STORE, host, user, count_item, &ca) == -1)
		return &err_store;
	return ca.n >= c->max_items ? &err_full : NULL;
}

/* ROSTER_FULL_EVENT: TERN_DONE when there is no room for an item. */
static int
full_event(struct tern_event *ev, void *conf)
{
	if (ev->user == NULL)
		return TERN_PASS;
	return check_room(tern_host_name(ev->host), ev->user, conf) == NULL ?
	    TERN_PASS : TERN_DONE;
}

/* RFC 6121 2.3 and 2.4: adds or updates the item; new has name, groups. */
static void
update_item(struct tern_event *ev, const char *jid, struct roster_item *new,
    const struct roster_conf *c)
{
	struct roster_item	 old;
	const struct set_error	*e = NULL;
	const char		*host = ev->to_domain, *user = ev->to_node;
	int			 rc;

	if ((rc = roster_item_get(host, user, jid, &old)) == -1)
		e = &err_store;
	else if (old.flags & RI_HIDDEN)
		e = check_room(host, user, c);
	if (e != NULL) {
		roster_item_clear(&old);
		reply_set_error(ev, e);
		return;
	}
	/* 'subscription' (but remove), 'ask', 'approved' are ignored. */
	new->flags = old.flags & ~RI_HIDDEN;
	rc = roster_item_save(host, user, jid, new, old.flags,
	    names_differ(&old, new));
	roster_item_clear(&old);
	if (rc == -1) {
		reply_set_error(ev, &err_store);
		return;
	}
	reply_result(ev);
	if (rc == 1)
		roster_push(host, user, jid, new);
}

static int
roster_set(struct tern_event *ev, void *conf)
{
	struct roster_item	 it;
	struct tern_stanza	*item;
	const struct set_error	*e;
	const char		*sub;
	char			*jid;

	if (!authorized(ev)) {
		tern_reply_error(ev, "auth", "forbidden",
		    "Only your own roster can be changed");
		return TERN_DONE;
	}
	if ((item = set_item(ev->stanza)) == NULL) {
		reply_set_error(ev, &err_items);
		return TERN_DONE;
	}
	if ((jid = item_jid(item)) == NULL) {
		reply_set_error(ev, &err_jid);
		return TERN_DONE;
	}
	if (strlen(jid) > ROSTER_JID_MAX) {
		free(jid);
		reply_set_error(ev, &err_jidlong);
		return TERN_DONE;
	}
	sub = tern_stanza_attr(item, "subscription");
	if (sub != NULL && strcmp(sub, "remove") == 0)
		remove_item(ev, jid);
	else {
		memset(&it, 0, sizeof(it));
		if ((e = parse_item(item, conf, &it)) != NULL)
			reply_set_error(ev, e);
		else
			update_item(ev, jid, &it, conf);
		roster_item_clear(&it);
	}
	free(jid);
	return TERN_DONE;
}

/*
 * ROSTER_SUBSCRIBER_EVENT: TERN_DONE when the contact (ev->to, a bare
 * JID) may see the presence of ev->user: a 'from' or 'both'
 * subscription, or the user's own account.
 */
static int
subscriber_event(struct tern_event *ev, void *conf)
{
	struct roster_item	 it;
	const char		*host = tern_host_name(ev->host);
	char			*bare;
	unsigned		 flags;
	int			 self, rc;

	if (ev->user == NULL || ev->to == NULL)
		return TERN_PASS;
	bare = roster_jid_join(ev->user, host);
	self = strcmp(bare, ev->to) == 0;
	free(bare);
	if (self)
		return TERN_DONE;
	rc = roster_item_get(host, ev->user, ev->to, &it);
	flags = it.flags;
	roster_item_clear(&it);
	return rc == 0 && (flags & RI_FROM) ? TERN_DONE : TERN_PASS;
}

/* RFC 6121 2.6.1: advertise versioning once authenticated. */
static int
features(struct tern_event *ev, void *conf)
{
	if (ev->authenticated && ev->features != NULL)
		tern_stanza_add_child(ev->features, NS_ROSTERVER, "ver");
	return TERN_PASS;
}

static const struct tern_hook hooks[] = {
	{ "iq-get/bare/" NS_ROSTER ":query", TERN_PRIO_DEFAULT, roster_get },
	{ "iq-set/bare/" NS_ROSTER ":query", TERN_PRIO_DEFAULT, roster_set },
	{ ROSTER_PUSH_EVENT, TERN_PRIO_DEFAULT, push_event },
	{ ROSTER_FULL_EVENT, TERN_PRIO_DEFAULT, full_event },
	{ ROSTER_SUBSCRIBER_EVENT, TERN_PRIO_DEFAULT, subscriber_event },
	{ "stream-features", TERN_PRIO_DEFAULT, features },
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "roster_max_items", TERN_CONF_INT, offsetof(struct roster_conf,
	    max_items), 1, 100000, "1000", NULL },
	{ "roster_max_name_length", TERN_CONF_INT, offsetof(struct
	    roster_conf, max_name), 1, 65536, "256", NULL },
	{ "roster_max_group_length", TERN_CONF_INT, offsetof(struct
	    roster_conf, max_group), 1, 65536, "256", NULL },
	{ "roster_max_groups", TERN_CONF_INT, offsetof(struct roster_conf,
	    max_groups), 1, 10000, "32", NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

static const char *const stores[] = { ROSTER_STORE, NULL };

const struct tern_module mod_roster = {
	.abi = TERN_MODULE_ABI,
	.name = "roster",
	.directives = directives,
	.conf_size = sizeof(struct roster_conf),
	.hooks = hooks,
	.stores = stores,
};
