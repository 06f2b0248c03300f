/*
 * The roster store, shared by mod_roster and mod_presence: the format of
 * a roster item in store "roster", and static helpers that read and
 * write it.  mod_roster owns the store (it lists it in .stores, answers
 * roster get and set, and pushes changes); mod_presence changes the
 * subscription state of items through these helpers and has mod_roster
 * push a changed item by firing ROSTER_PUSH_EVENT (roster_push below).
 * Neither module calls a function of the other.
 *
 * Keys of store "roster", per account: the prepared bare JID of each
 * contact, and ROSTER_VER_KEY ("", which sorts first) for the version.
 *
 * An item's value: byte 0 is ROSTER_FORMAT, byte 1 the RI_* flags, then
 * the name and each group as NUL-terminated strings (an empty name is
 * no name).  A record with RI_HIDDEN is not a roster item: it keeps the
 * state of a subscription request from someone who is not in the roster
 * (RI_PENDING_IN), which RFC 6121 3.1.3 says must not create an item.
 *
 * The version value is "<epoch>-<counter>" in text: the epoch (hex
 * seconds when the roster got its first version) keeps a client's cached
 * version from matching a new account of the same name.  It changes
 * whenever something a roster get shows changes, never otherwise.
 *
 * Ownership: strings returned are allocated and freed by the caller;
 * struct roster_item owns its strings (roster_item_clear frees them).
 */
#ifndef TERN_ROSTER_STORE_H
#define TERN_ROSTER_STORE_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#define ROSTER_STORE		"roster"
#define ROSTER_VER_KEY		""
#define ROSTER_FORMAT		1
#define NS_ROSTER		"jabber:iq:roster"
/* Longest contact JID kept: the store lists no longer keys. */
#define ROSTER_JID_MAX		1023

/*
 * Fired on the account's host to push one item to the account's
 * interested resources: ev->user is the account's node, ev->stanza the
 * <item/> (roster_item_element).  mod_roster adds the current version.
 */
#define ROSTER_PUSH_EVENT	"roster-push"
/*
 * Fired on the account's host to ask whether its roster is full
 * (ev->user: the node): mod_roster returns TERN_DONE when one more item
 * would go over roster_max_items (or the roster cannot be read).
 */
#define ROSTER_FULL_EVENT	"roster-full"
/*
 * Fired on the account's host by any module (mod_blocking, mod_last) to
 * ask whether a contact may see the account's presence: ev->user is the
 * node, ev->to the contact's prepared bare JID.  mod_roster returns
 * TERN_DONE for a 'from' or 'both' subscription, or the account itself.
 */
#define ROSTER_SUBSCRIBER_EVENT	"presence-subscriber"

/* Item flags (RFC 6121 Appendix A states). */
#define RI_TO		0x01	/* subscribed to the contact */
#define RI_FROM		0x02	/* the contact is subscribed to us */
#define RI_ASK		0x04	/* Pending Out: our request */
#define RI_PENDING_IN	0x08	/* Pending In: the contact's */
#define RI_APPROVED	0x10	/* pre-approved (RFC 6121 3.4) */
#define RI_HIDDEN	0x20	/* not a roster item: pending-in only */
#define RI_VISIBLE_MASK	(RI_TO | RI_FROM | RI_ASK | RI_APPROVED)

struct roster_item {
	unsigned	  flags;
	char		 *name;		/* NULL: none */
	char		**groups;
	size_t		  ngroups;
};

static inline void *
roster_alloc(size_t n)
{
	void	*p = calloc(1, n ? n : 1);

	if (p == NULL) {
		tern_log(TERN_LOG_ERROR, "roster: out of memory");
		abort();
	}
	return p;
}

static inline char *
roster_strdup(const char *s)
{
	size_t	 n = strlen(s) + 1;
	char	*p = roster_alloc(n);

	memcpy(p, s, n);
	return p;
}

/* "node@domain", allocated. */
static inline char *
roster_jid_join(const char *node, const char *domain)
{
	size_t	 n = strlen(node) + strlen(domain) + 2;
	char	*p = roster_alloc(n);

	snprintf(p, n, "%s@%s", node, domain);
	return p;
}

static inline void
roster_item_clear(struct roster_item *it)
{
	size_t	i;

	free(it->name);
	for (i = 0; i < it->ngroups; i++)
		free(it->groups[i]);
	free(it->groups);
	memset(it, 0, sizeof(*it));
}

/* Adds a group (copied) to the item. */
static inline void
roster_item_add_group(struct roster_item *it, const char *g)
{
	char	**v = roster_alloc((it->ngroups + 1) * sizeof(*v));

	if (it->ngroups > 0)
		memcpy(v, it->groups, it->ngroups * sizeof(*v));
	free(it->groups);
	it->groups = v;
	it->groups[it->ngroups++] = roster_strdup(g);
}

/* The flags of a stored value without decoding it; RI_HIDDEN if bad. */
static inline unsigned
roster_value_flags(const void *val, size_t len)
{
	const unsigned char	*p = val;

	if (len < 3 || p[0] != ROSTER_FORMAT || p[len - 1] != '\0')
		return RI_HIDDEN;
	return p[1];
}

/* Decodes a stored value into it (cleared first): 0, or -1 if bad. */
static inline int
roster_item_decode(const void *val, size_t len, struct roster_item *it)
{
	const char	*p = val, *end = p + len;

	memset(it, 0, sizeof(*it));
	if (len < 3 || (unsigned char)p[0] != ROSTER_FORMAT ||
	    p[len - 1] != '\0')
		return -1;
	it->flags = (unsigned char)p[1];
	p += 2;
	if (*p != '\0')
		it->name = roster_strdup(p);
	for (p += strlen(p) + 1; p < end; p += strlen(p) + 1)
		roster_item_add_group(it, p);
	return 0;
}

/* The stored value of it (allocated) and its length. */
static inline char *
roster_item_encode(const struct roster_item *it, size_t *lenp)
{
	const char	*name = it->name ? it->name : "";
	size_t		 len = 2 + strlen(name) + 1, i, n;
	char		*v, *p;

	for (i = 0; i < it->ngroups; i++)
		len += strlen(it->groups[i]) + 1;
	p = v = roster_alloc(len);
	*p++ = ROSTER_FORMAT;
	*p++ = (char)(it->flags & 0xff);
	n = strlen(name) + 1;
	memcpy(p, name, n);
	p += n;
	for (i = 0; i < it->ngroups; i++) {
		n = strlen(it->groups[i]) + 1;
		memcpy(p, it->groups[i], n);
		p += n;
	}
	*lenp = len;
	return v;
}

/*
 * Reads the item of contact jid: 0, 1 when absent (it is then empty
 * with RI_HIDDEN, as a record that holds nothing), -1 on a storage
 * error or a bad record (logged).
 */
static inline int
roster_item_get(const char *host, const char *user, const char *jid,
    struct roster_item *it)
{
	void	*val;
	size_t	 len;
	int	 rc;

	memset(it, 0, sizeof(*it));
	rc = tern_kv_get(ROSTER_STORE, host, user, jid, &val, &len);
	if (rc == 1)
		it->flags = RI_HIDDEN;
	if (rc != 0)
		return rc;
	rc = roster_item_decode(val, len, it);
	free(val);
	if (rc == -1)
		tern_log(TERN_LOG_ERROR, "roster: bad record for %s in the "
		    "roster of %s@%s", jid, user, host);
	return rc;
}

/* The current version into buf: 0, or -1 on a storage error. */
static inline int
roster_version(const char *host, const char *user, char *buf, size_t len)
{
	void	*val;
	size_t	 vlen;
	int	 rc;

	rc = tern_kv_get(ROSTER_STORE, host, user, ROSTER_VER_KEY, &val,
	    &vlen);
	if (rc == -1)
		return -1;
	if (rc == 1) {
		snprintf(buf, len, "0");
		return 0;
	}
	snprintf(buf, len, "%s", (char *)val);
	free(val);
	return 0;
}

/* A new version after a change: 0 or -1. */
static inline int
roster_version_bump(const char *host, const char *user)
{
	char		buf[64];
	uint64_t	epoch = 0, n = 0;

	if (roster_version(host, user, buf, sizeof(buf)) == -1)
		return -1;
	if (sscanf(buf, "%" SCNx64 "-%" SCNu64, &epoch, &n) != 2 ||
	    epoch == 0)
		epoch = tern_now() ? tern_now() : 1;
	snprintf(buf, sizeof(buf), "%" PRIx64 "-%" PRIu64, epoch, n + 1);
	return tern_kv_put(ROSTER_STORE, host, user, ROSTER_VER_KEY, buf,
	    strlen(buf));
}

/* Whether what a roster get shows of the item differs. */
static inline int
roster_visible_change(unsigned was, unsigned now, int names_changed)
{
	if ((was & RI_HIDDEN) && (now & RI_HIDDEN))
		return 0;
	if ((was & RI_HIDDEN) != (now & RI_HIDDEN))
		return 1;
	return names_changed || (was & RI_VISIBLE_MASK) !=
	    (now & RI_VISIBLE_MASK);
}

/*
 * Stores the item of contact jid after a change from flags was (as
 * roster_item_get left them; RI_HIDDEN for an absent one).  A hidden
 * record that holds nothing is deleted.  Bumps the version when the
 * change is visible.  Returns -1 on a storage error, 1 when the change
 * is visible (the caller pushes it), else 0.
 */
static inline int
roster_item_save(const char *host, const char *user, const char *jid,
    const struct roster_item *it, unsigned was, int names_changed)
{
	char	*v;
	size_t	 len;
	int	 rc;

	if ((it->flags & RI_HIDDEN) && !(it->flags & RI_PENDING_IN))
		rc = tern_kv_del(ROSTER_STORE, host, user, jid) == -1 ? -1 : 0;
	else {
		v = roster_item_encode(it, &len);
		rc = tern_kv_put(ROSTER_STORE, host, user, jid, v, len);
		free(v);
	}
	if (rc == -1)
		return -1;
	if (!roster_visible_change(was, it->flags, names_changed))
		return 0;
	return roster_version_bump(host, user) == -1 ? -1 : 1;
}

static inline const char *
roster_subscription(unsigned flags)
{
	static const char *const names[] = { "none", "to", "from", "both" };

	return names[flags & (RI_TO | RI_FROM)];
}

/* A new <item/> for contact jid; it NULL: subscription='remove'. */
static inline struct tern_stanza *
roster_item_element(const char *jid, const struct roster_item *it)
{
	struct tern_stanza	*el = tern_stanza_new(NS_ROSTER, "item");
	size_t			 i;

	tern_stanza_set_attr(el, "jid", jid);
	if (it == NULL) {
		tern_stanza_set_attr(el, "subscription", "remove");
		return el;
	}
	if (it->name != NULL)
		tern_stanza_set_attr(el, "name", it->name);
	tern_stanza_set_attr(el, "subscription", roster_subscription(
	    it->flags));
	if (it->flags & RI_ASK)
		tern_stanza_set_attr(el, "ask", "subscribe");
	if (it->flags & RI_APPROVED)
		tern_stanza_set_attr(el, "approved", "true");
	for (i = 0; i < it->ngroups; i++)
		tern_stanza_add_text_child(el, NS_ROSTER, "group",
		    it->groups[i]);
	return el;
}

/*
 * A snapshot of the account's sessions (only the available ones if
 * available): sending to one may end it or another and change the list,
 * while a session's memory lasts until the event loop reaps it.  The
 * caller frees the array.
 */
static inline struct tern_session **
roster_sessions(const char *host, const char *user, int available,
    size_t *np)
{
	struct tern_session	*s, **v;
	size_t			 n = 0;

	for (s = tern_sessions_first(host, user); s != NULL;
	    s = tern_sessions_next(s))
		if (!available || tern_session_available(s))
			n++;
	v = roster_alloc(n * sizeof(*v));
	*np = 0;
	for (s = tern_sessions_first(host, user); s != NULL && *np < n;
	    s = tern_sessions_next(s))
		if (!available || tern_session_available(s))
			v[(*np)++] = s;
	return v;
}

/* Has mod_roster push the item to the account's interested resources. */
static inline void
roster_push(const char *host, const char *user, const char *jid,
    const struct roster_item *it)
{
	struct tern_host	*h = tern_host_find(host);
	struct tern_event	 ev;

	if (h == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.user = user;
	ev.stanza = roster_item_element(jid, it);
	tern_fire(h, ROSTER_PUSH_EVENT, &ev);
	tern_stanza_unref(ev.stanza);
}

/* Whether the account's roster has no room for one more item. */
static inline int
roster_full(const char *host, const char *user)
{
	struct tern_host	*h = tern_host_find(host);
	struct tern_event	 ev;

	if (h == NULL)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.user = user;
	return tern_fire(h, ROSTER_FULL_EVENT, &ev) == TERN_DONE;
}

#endif
