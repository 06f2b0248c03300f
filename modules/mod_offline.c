/*
 * XEP-0160 offline messages.  A message of type normal or chat for an
 * account with no available resource of non-negative priority (the
 * router's "message/offline" event) is stored with a XEP-0203 <delay/>
 * and delivered, oldest first, to the first resource that then sends
 * available presence with a non-negative priority.
 *
 * Store "offline": one key per message, 16 hex digits of a per-account
 * sequence (the last key plus one), so key order is arrival order; the
 * value is the stanza as XML text.  A message is deleted only once it
 * was handed to the session, so a crash in between delivers it twice
 * rather than never; one from a JID the user has blocked since (the
 * "jid-blocked" event of the blocking module) is deleted unseen.
 * Quotas (offline_max_messages, offline_max_bytes) are checked by
 * counting the account's keys, a scan bounded by the quota itself.
 *
 * Delivery goes in bursts of at most offline_burst bytes, one a second,
 * so that a full store never exceeds the connection's max_pending_output
 * (which closes a connection that does not read).  The pending burst
 * timer lives in the session's data slot and dies with the session.
 *
 * Not stored (XEP-0160 section 3, XEP-0085 5.8, XEP-0334): messages
 * with nothing but chat states, hints and <thread/> (dropped silently:
 * nobody wants an error for a typing notification) unless they carry
 * <store/>, and messages with <no-store/> (the router then answers
 * <service-unavailable/>, as for any message nobody stored).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tern/module.h"

#define NS_DELAY	"urn:xmpp:delay"
#define NS_HINTS	"urn:xmpp:hints"
#define NS_CHATSTATES	"http://jabber.org/protocol/chatstates"
#define STORE		"offline"
#define KEY_LEN		16	/* hex digits of the sequence */
#define BURST_EVERY	1	/* seconds between bursts */

struct offline_conf {
	unsigned	max_messages;	/* offline_max_messages */
	size_t		max_bytes;	/* offline_max_bytes */
	size_t		burst;		/* offline_burst */
};

/* A delivery that goes on in the next burst. */
struct offline_session {
	struct tern_session	*s;
	struct tern_timer	*timer;
	size_t			 burst;	/* a copy: a reload frees confs */
};

extern const struct tern_module mod_offline;

enum verdict { STORE_IT, DISCARD, REFUSE };

/* Elements that are not content: a message of only these is not kept. */
static const struct {
	const char	*ns;
	const char	*name;		/* NULL: any name */
} not_content[] = {
	{ NS_CHATSTATES, NULL },
	{ NS_HINTS, NULL },
	{ TERN_NS_CLIENT, "thread" },
};

static int
is_content(const struct tern_stanza *el)
{
	const char	*ns = tern_stanza_ns(el);
	const char	*name = tern_stanza_name(el);
	size_t		 i;

	for (i = 0; i < sizeof(not_content) / sizeof(not_content[0]); i++)
		if (ns != NULL && strcmp(ns, not_content[i].ns) == 0 &&
		    (not_content[i].name == NULL ||
		    strcmp(name, not_content[i].name) == 0))
			return 0;
	return 1;
}

static enum verdict
judge(const struct tern_stanza *st)
{
	struct tern_stanza	*el;
	size_t			 i;
	int			 content = 0;

	for (i = 0; (el = tern_stanza_element(st, i)) != NULL; i++)
		if (is_content(el))
			content = 1;
	if (tern_stanza_child(st, NS_HINTS, "store") != NULL)
		return STORE_IT;
	if (!content)
		return DISCARD;
	if (tern_stanza_child(st, NS_HINTS, "no-store") != NULL)
		return REFUSE;
	return STORE_IT;
}

static int
is_delay(const struct tern_stanza *el)
{
	const char	*ns = tern_stanza_ns(el);

	return ns != NULL && strcmp(ns, NS_DELAY) == 0 &&
	    strcmp(tern_stanza_name(el), "delay") == 0;
}

static int
is_our_delay(const struct tern_stanza *el, const char *host)
{
	const char	*from = tern_stanza_attr(el, "from");

	return is_delay(el) && from != NULL && strcmp(from, host) == 0;
}

/*
 * A <delay/> in c that claims to be ours is a forgery by the sender: it
 * goes.  The others stay, in their order, after the other children.
 */
static void
strip_forged_delays(struct tern_stanza *c, const char *host)
{
	struct tern_stanza	*keep, *el;
	size_t			 i;
	int			 forged = 0;

	for (i = 0; (el = tern_stanza_element(c, i)) != NULL; i++)
		if (is_our_delay(el, host))
			forged = 1;
	if (!forged)
		return;
	keep = tern_stanza_new(NS_DELAY, "keep");
	for (i = 0; (el = tern_stanza_element(c, i)) != NULL; i++)
		if (is_delay(el) && !is_our_delay(el, host))
			tern_stanza_add_child_take(keep, tern_stanza_copy(el));
	tern_stanza_remove_children(c, NS_DELAY, "delay");
	for (i = 0; (el = tern_stanza_element(keep, i)) != NULL; i++)
		tern_stanza_add_child_take(c, tern_stanza_copy(el));
	tern_stanza_unref(keep);
}

/* A copy of st with our XEP-0203 <delay/> (UTC, as XEP-0082 wants). */
static struct tern_stanza *
stamped(const struct tern_stanza *st, const char *host)
{
	struct tern_stanza	*c = tern_stanza_copy(st), *d;
	time_t			 now = (time_t)tern_now();
	struct tm		 tm;
	char			 stamp[32];

	strip_forged_delays(c, host);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	d = tern_stanza_add_text_child(c, NS_DELAY, "delay",
	    "Offline Storage");
	tern_stanza_set_attr(d, "from", host);
	tern_stanza_set_attr(d, "stamp", stamp);
	return c;
}

static void
oom(void)
{
	tern_log(TERN_LOG_ERROR, "offline: out of memory");
	abort();
}

/* What a scan of an account's store found. */
struct tally {
	size_t			n;
	size_t			bytes;
	unsigned long long	last;	/* highest sequence */
};

static int
tally_cb(const char *key, const void *val, size_t len, void *arg)
{
	struct tally		*t = arg;
	unsigned long long	 seq;
	char			*end;

	t->n++;
	t->bytes += len;
	seq = strtoull(key, &end, 16);
	if (*end == '\0' && end - key == KEY_LEN && seq > t->last)
		t->last = seq;
	return 0;
}

/* Message types that are never stored (XEP-0160 section 3). */
static const char *const never_stored[] = {
	"error", "groupchat", "headline", NULL
};

static int
storable_type(const struct tern_stanza *st)
{
	const char	*type = tern_stanza_attr(st, "type");
	size_t		 i;

	for (i = 0; type != NULL && never_stored[i] != NULL; i++)
		if (strcmp(type, never_stored[i]) == 0)
			return 0;
	return 1;
}

/* Stores xml for user unless the quota is reached; a stanza error or 0. */
static const char *
put(const struct offline_conf *c, const char *host, const char *user,
    const char *xml, const char **text)
{
	struct tally	t = { 0, 0, 0 };
	size_t		len = strlen(xml);
	char		key[KEY_LEN + 1];

	*text = NULL;
	if (tern_kv_each(STORE, host, user, tally_cb, &t) == -1)
		return "internal-server-error";
	if (len > c->max_bytes) {
		*text = "The message is too large for offline storage";
		return "service-unavailable";
	}
	if (t.n >= c->max_messages || t.bytes + len > c->max_bytes) {
		tern_log(TERN_LOG_INFO, "offline: storage of %s@%s is full "
		    "(%zu messages, %zu bytes)", user, host, t.n, t.bytes);
		*text = "The recipient's offline storage is full";
		return "service-unavailable";
	}
	snprintf(key, sizeof(key), "%0*llx", KEY_LEN, t.last + 1);
	if (tern_kv_put(STORE, host, user, key, xml, len) == -1)
		return "internal-server-error";
	return NULL;
}

static int
offline_message(struct tern_event *ev, void *conf)
{
	const char		*host = tern_host_name(ev->host);
	const char		*cond, *text;
	struct tern_stanza	*copy;
	char			*xml;

	if (ev->to_node == NULL || !storable_type(ev->stanza))
		return TERN_PASS;
	switch (judge(ev->stanza)) {
	case DISCARD:
		return TERN_DONE;
	case REFUSE:
		/* Not stored: the router answers service-unavailable. */
		return TERN_PASS;
	case STORE_IT:
		break;
	}
	copy = stamped(ev->stanza, host);
	xml = tern_stanza_to_xml(copy);
	tern_stanza_unref(copy);
	cond = put(conf, host, ev->to_node, xml, &text);
	free(xml);
	if (cond != NULL && strcmp(cond, "internal-server-error") == 0)
		tern_reply_error(ev, "wait", cond, "Offline storage failed");
	else if (cond != NULL)
		tern_reply_error(ev, "cancel", cond, text);
	return TERN_DONE;
}

/* One burst of stored messages, oldest first. */
struct burst {
	size_t			 budget;	/* bytes; at least one */
	size_t			 bytes;
	size_t			 n;
	int			 more;		/* messages left */
	struct {
		char			*key;
		struct tern_stanza	*st;	/* NULL if unreadable */
	}			*v;
};

static int
burst_cb(const char *key, const void *val, size_t len, void *arg)
{
	struct burst	*b = arg;

	if (b->n > 0 && b->bytes + len > b->budget) {
		b->more = 1;
		return 1;
	}
	if ((b->v = realloc(b->v, (b->n + 1) * sizeof(*b->v))) == NULL ||
	    (b->v[b->n].key = strdup(key)) == NULL)
		oom();
	b->v[b->n].st = tern_stanza_from_xml(val, len);
	b->bytes += len;
	b->n++;
	return 0;
}

/* Whether s is still bound (a send may end a session that does not read). */
static int
bound(struct tern_session *s, const char *host, const char *user)
{
	struct tern_session	*t;

	for (t = tern_sessions_first(host, user); t != NULL;
	    t = tern_sessions_next(t))
		if (t == s)
			return 1;
	return 0;
}

/*
 * Whether user@host blocked the sender of st since it was stored: asked
 * with the "jid-blocked" event, which the blocking module answers.
 */
static int
sender_blocked(struct tern_host *h, const char *user,
    const struct tern_stanza *st)
{
	struct tern_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.user = user;
	if ((ev.to = tern_stanza_attr(st, "from")) == NULL)
		return 0;
	return tern_fire(h, "jid-blocked", &ev) == TERN_DONE;
}

/*
 * Hands one burst to s, deleting each message once it was handed over
 * (or found unreadable, or from a JID the user blocked since: XEP-0191
 * says nothing from it is delivered).  Returns 1 if messages are left
 * for another burst.
 */
static int
deliver_burst(struct tern_session *s, size_t budget)
{
	struct tern_host	*h = tern_session_host(s);
	const char		*host, *user = tern_session_user(s);
	struct burst		 b;
	size_t			 i;
	int			 ok = 1;

	if (h == NULL)
		return 0;
	host = tern_host_name(h);
	memset(&b, 0, sizeof(b));
	b.budget = budget;
	if (tern_kv_each(STORE, host, user, burst_cb, &b) == -1)
		return 0;
	for (i = 0; i < b.n; i++) {
		if (ok && b.v[i].st == NULL)
			tern_log(TERN_LOG_WARN, "offline: dropping an "
			    "unreadable message of %s@%s", user, host);
		else if (ok && !sender_blocked(h, user, b.v[i].st)) {
			tern_session_send(s, b.v[i].st);
			/* Ended by the send: kept, as it may not have left. */
			ok = bound(s, host, user);
		}
		if (ok && tern_kv_del(STORE, host, user, b.v[i].key) == -1)
			ok = 0;	/* delivered again rather than lost */
		free(b.v[i].key);
		tern_stanza_unref(b.v[i].st);
	}
	free(b.v);
	return ok && b.more;
}

static void
burst_timer(void *arg)
{
	struct offline_session	*os = arg;
	struct tern_session	*s = os->s;
	struct tern_host	*h = tern_session_host(s);

	os->timer = NULL;	/* a one-shot timer frees itself */
	if (h == NULL || !tern_host_has_module(h, mod_offline.name) ||
	    !tern_session_available(s) || tern_session_priority(s) < 0 ||
	    !bound(s, tern_host_name(h), tern_session_user(s)))
		return;	/* the rest waits for the next presence */
	if (deliver_burst(s, os->burst))
		os->timer = tern_timer_add(BURST_EVERY, 0, burst_timer, os);
}

/*
 * Available presence with a non-negative priority (initial presence, or
 * a resource leaving a negative priority): the stored messages go to
 * that resource (XEP-0160 section 2).  tern_session_priority is already
 * the new one during presence/self.
 */
static int
offline_presence(struct tern_event *ev, void *conf)
{
	const struct offline_conf	*c = conf;
	struct tern_session		*s = ev->origin;
	struct offline_session		*os;

	if (s == NULL || tern_stanza_attr(ev->stanza, "type") != NULL ||
	    tern_session_priority(s) < 0)
		return TERN_PASS;
	os = tern_session_data(s, &mod_offline);
	if (os != NULL && os->timer != NULL)
		return TERN_PASS;	/* a delivery is under way */
	if (!deliver_burst(s, c->burst))
		return TERN_PASS;
	if (os == NULL) {
		if ((os = calloc(1, sizeof(*os))) == NULL)
			oom();
		os->s = s;
		tern_session_set_data(s, &mod_offline, os);
	}
	os->burst = c->burst;
	os->timer = tern_timer_add(BURST_EVERY, 0, burst_timer, os);
	return TERN_PASS;
}

static void
offline_session_free(void *data)
{
	struct offline_session	*os = data;

	tern_timer_cancel(os->timer);
	free(os);
}

static const char *const features[] = { "msgoffline", NULL };
static const char *const stores[] = { STORE, NULL };

/*
 * presence/self runs early so that stored messages reach the resource
 * whatever the presence module does with its presence.
 */
static const struct tern_hook hooks[] = {
	{ "message/offline", TERN_PRIO_DEFAULT, offline_message },
	{ "presence/self", TERN_PRIO_HIGH, offline_presence },
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "offline_max_messages", TERN_CONF_INT,
	    offsetof(struct offline_conf, max_messages), 1, 10000, "500",
	    NULL },
	{ "offline_max_bytes", TERN_CONF_SIZE,
	    offsetof(struct offline_conf, max_bytes), 1024, 1LL << 30, "1m",
	    NULL },
	{ "offline_burst", TERN_CONF_SIZE,
	    offsetof(struct offline_conf, burst), 4096, 1LL << 30, "256k",
	    NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct tern_module mod_offline = {
	.abi = TERN_MODULE_ABI,
	.name = "offline",
	.features = features,
	.directives = directives,
	.conf_size = sizeof(struct offline_conf),
	.hooks = hooks,
	.stores = stores,
	.session_free = offline_session_free,
};
