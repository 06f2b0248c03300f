/*
 * XEP-0049 Private XML Storage (jabber:iq:private): an account keeps
 * arbitrary XML elements on the server, each under the key of its
 * namespace and name ("{ns}name") in the "private" store, as XML text.
 *
 * Only the account itself may read or write (an iq without 'to' or to
 * its own bare JID); others get <forbidden/>.  A set may carry several
 * elements (each stored) and a get may ask for several (each answered
 * with the stored element, or with the element as queried when nothing
 * is stored); an element may appear only once per request.  Storing an
 * empty element deletes the key: a later get answers the same either way.
 *
 * Bounds: each element at most private_max_size bytes of XML, and the
 * account's elements together at most private_quota bytes, tracked in a
 * counter kept in the same store under QUOTA_KEY (never a "{...}" key)
 * so that a set needs point reads only.  A counter that is missing (or
 * was dropped after a failed write) is rebuilt by one scan of the
 * account's keys.  Namespaces reserved by the XEP ("jabber:*" and
 * vcard-temp) are refused with <not-acceptable/>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#define NS_PRIVATE	"jabber:iq:private"
#define STORE		"private"
#define QUOTA_KEY	"quota"		/* bytes in use, decimal */
#define KEY_MAX		256		/* "{ns}name" and its NUL */

struct private_conf {
	size_t	max_size;	/* private_max_size: per element */
	size_t	quota;		/* private_quota: per account */
};

/* One element of a request. */
struct item {
	struct tern_stanza	*el;	/* borrowed from the request */
	char			 key[KEY_MAX];
	char			*xml;	/* set: what to store */
	size_t			 len;
	int			 del;	/* set: an empty element */
};

/* XEP-0049 2.3: namespaces the server keeps for itself. */
static const struct reserved {
	const char	*ns;
	int		 prefix;	/* ns is a prefix, else exact */
} reserved[] = {
	{ "jabber:", 1 },
	{ "vcard-temp", 0 },
};

static int
is_reserved(const char *ns)
{
	size_t	i;

	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (reserved[i].prefix ? strncmp(ns, reserved[i].ns,
		    strlen(reserved[i].ns)) == 0 : strcmp(ns, reserved[i].ns)
		    == 0)
			return 1;
	return 0;
}

/* Whether the event's sender is the account its stanza is addressed to. */
static int
is_owner(const struct tern_event *ev)
{
	return ev->origin != NULL && ev->to_node != NULL &&
	    tern_session_host(ev->origin) == ev->host &&
	    strcmp(tern_session_user(ev->origin), ev->to_node) == 0;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct item *const	*x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

static void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL) {
		tern_log(TERN_LOG_ERROR, "private: out of memory");
		abort();
	}
	return p;
}

/* Whether two items share a key: sorts pointers, request order is kept. */
static int
has_duplicates(const struct item *items, size_t n)
{
	const struct item	**v;
	size_t			  i;
	int			  dup = 0;

	v = xcalloc(n, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = &items[i];
	qsort(v, n, sizeof(*v), key_cmp);
	for (i = 1; i < n && !dup; i++)
		dup = strcmp(v[i - 1]->key, v[i]->key) == 0;
	free(v);
	return dup;
}

/*
 * Fills items[] from the query's n elements, checking what get and set
 * share (namespace, key length, duplicates).  0, or -1 after answering
 * with an error.
 */
static int
collect(struct tern_event *ev, const struct tern_stanza *query,
    struct item *items, size_t n)
{
	const char	*ns, *name;
	size_t		 i;
	int		 len;

	for (i = 0; i < n; i++) {
		items[i].el = tern_stanza_element(query, i);
		ns = tern_stanza_ns(items[i].el);
		name = tern_stanza_name(items[i].el);
		if (ns == NULL || is_reserved(ns)) {
			tern_reply_error(ev, "modify", "not-acceptable",
			    "Elements in jabber:* and vcard-temp namespaces "
			    "are reserved");
			return -1;
		}
		len = snprintf(items[i].key, KEY_MAX, "{%s}%s", ns, name);
		if (len < 0 || len >= KEY_MAX) {
			tern_reply_error(ev, "modify", "not-acceptable",
			    "Namespace and element name are too long");
			return -1;
		}
	}
	if (has_duplicates(items, n)) {
		tern_reply_error(ev, "modify", "bad-request",
		    "Each element may appear only once");
		return -1;
	}
	return 0;
}

/* The stored element of key, or a copy of the queried one; NULL: error. */
static struct tern_stanza *
load_one(const char *host, const char *user, const struct item *it)
{
	struct tern_stanza	*el;
	void			*val;
	size_t			 len;
	int			 rc;

	if ((rc = tern_kv_get(STORE, host, user, it->key, &val, &len)) == -1)
		return NULL;
	if (rc == 1)
		return tern_stanza_copy(it->el);
	if ((el = tern_stanza_from_xml(val, len)) == NULL)
		tern_log(TERN_LOG_ERROR, "private: stored %s of %s@%s cannot "
		    "be parsed", it->key, user, host);
	free(val);
	return el;
}

static void
answer_get(struct tern_event *ev, struct item *items, size_t n)
{
	const char		*host = tern_host_name(ev->host);
	struct tern_stanza	*r, *q, *el;
	size_t			 i;

	r = tern_stanza_reply(ev->stanza);
	q = tern_stanza_add_child(r, NS_PRIVATE, "query");
	for (i = 0; i < n; i++) {
		if ((el = load_one(host, ev->to_node, &items[i])) == NULL) {
			tern_reply_error(ev, "wait", "internal-server-error",
			    "Storage error");
			tern_stanza_unref(r);
			return;
		}
		tern_stanza_add_child_take(q, el);
	}
	tern_reply(ev, r);
	tern_stanza_unref(r);
}

/* Sums the sizes of an account's elements (the quota counter excluded). */
static int
sum_cb(const char *key, const void *val, size_t len, void *arg)
{
	if (key[0] == '{')
		*(size_t *)arg += len;
	return 0;
}

/* Bytes the account uses now; -1 on a storage error. */
static long long
usage(const char *host, const char *user)
{
	char		*end;
	void		*val;
	size_t		 len, sum = 0;
	long long	 n;
	int		 rc;

	if ((rc = tern_kv_get(STORE, host, user, QUOTA_KEY, &val, &len)) ==
	    -1)
		return -1;
	if (rc == 0) {
		n = strtoll(val, &end, 10);
		rc = *end != '\0' || n < 0;
		free(val);
		if (rc == 0)
			return n;
	}
	if (tern_kv_each(STORE, host, user, sum_cb, &sum) == -1)
		return -1;
	return (long long)sum;
}

/* Size now stored under key (0 if none); -1 on a storage error. */
static long long
stored_len(const char *host, const char *user, const char *key)
{
	void	*val;
	size_t	 len;
	int	 rc;

	if ((rc = tern_kv_get(STORE, host, user, key, &val, &len)) == -1)
		return -1;
	if (rc == 1)
		return 0;
	free(val);
	return (long long)len;
}

/* XML of each element to store; 0, or -1 after answering an error. */
static int
prepare_set(struct tern_event *ev, const struct private_conf *c,
    struct item *items, size_t n)
{
	struct tern_stanza	*empty;
	char			*bare, text[96];
	size_t			 i;

	for (i = 0; i < n; i++) {
		items[i].xml = tern_stanza_to_xml(items[i].el);
		items[i].len = strlen(items[i].xml);
		if (items[i].len > c->max_size) {
			snprintf(text, sizeof(text), "An element is too "
			    "large (at most %zu bytes)", c->max_size);
			tern_reply_error(ev, "modify", "not-acceptable", text);
			return -1;
		}
		empty = tern_stanza_new(tern_stanza_ns(items[i].el),
		    tern_stanza_name(items[i].el));
		bare = tern_stanza_to_xml(empty);
		items[i].del = strcmp(bare, items[i].xml) == 0;
		free(bare);
		tern_stanza_unref(empty);
	}
	return 0;
}

/* The usage after the set, or -1 after answering an error. */
static long long
check_quota(struct tern_event *ev, const struct private_conf *c,
    const struct item *items, size_t n)
{
	const char	*host = tern_host_name(ev->host);
	long long	 cur, now, old;
	char		 text[96];
	size_t		 i;

	if ((now = cur = usage(host, ev->to_node)) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((old = stored_len(host, ev->to_node, items[i].key)) == -1)
			goto fail;
		now += (items[i].del ? 0 : (long long)items[i].len) - old;
	}
	if (now < 0)
		now = 0;	/* a counter that drifted: never below zero */
	/* A set that frees space passes even over a lowered quota. */
	if (now > (long long)c->quota && now > cur) {
		snprintf(text, sizeof(text), "Private storage is full (at "
		    "most %zu bytes per account)", c->quota);
		tern_reply_error(ev, "modify", "policy-violation", text);
		return -1;
	}
	return now;
 fail:
	tern_reply_error(ev, "wait", "internal-server-error", "Storage error");
	return -1;
}

/* Writes the items and the counter; 0 or -1 (counter dropped). */
static int
write_set(const char *host, const char *user, const struct item *items,
    size_t n, long long total)
{
	char	num[32];
	size_t	i;
	int	rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		if (items[i].del)
			rc = tern_kv_del(STORE, host, user, items[i].key) ==
			    -1 ? -1 : 0;
		else
			rc = tern_kv_put(STORE, host, user, items[i].key,
			    items[i].xml, items[i].len);
	if (rc == 0) {
		snprintf(num, sizeof(num), "%lld", total);
		rc = tern_kv_put(STORE, host, user, QUOTA_KEY, num,
		    strlen(num));
	}
	if (rc == -1)	/* rebuilt by the next set */
		tern_kv_del(STORE, host, user, QUOTA_KEY);
	return rc;
}

static void
answer_set(struct tern_event *ev, const struct private_conf *c,
    struct item *items, size_t n)
{
	struct tern_stanza	*r;
	long long		 total;

	if (prepare_set(ev, c, items, n) == -1 ||
	    (total = check_quota(ev, c, items, n)) == -1)
		return;
	if (write_set(tern_host_name(ev->host), ev->to_node, items, n,
	    total) == -1) {
		tern_reply_error(ev, "wait", "internal-server-error",
		    "Storage error");
		return;
	}
	r = tern_stanza_reply(ev->stanza);
	tern_reply(ev, r);
	tern_stanza_unref(r);
}

static int
private_iq(struct tern_event *ev, void *conf, int set)
{
	const struct tern_stanza	*query;
	struct item			*items;
	size_t				 i, n;

	if (!is_owner(ev)) {
		tern_reply_error(ev, "auth", "forbidden",
		    "Private storage belongs to its account only");
		return TERN_DONE;
	}
	query = tern_stanza_child(ev->stanza, NS_PRIVATE, "query");
	if ((n = tern_stanza_nelements(query)) == 0) {
		/* XEP-0049 2.3: "MUST respond with Not Acceptable". */
		tern_reply_error(ev, "modify", "not-acceptable",
		    "Name the element to get or set");
		return TERN_DONE;
	}
	items = xcalloc(n, sizeof(*items));
	if (collect(ev, query, items, n) == 0) {
		if (set)
			answer_set(ev, conf, items, n);
		else
			answer_get(ev, items, n);
	}
	for (i = 0; i < n; i++)
		free(items[i].xml);
	free(items);
	return TERN_DONE;
}

static int
private_get(struct tern_event *ev, void *conf)
{
	return private_iq(ev, conf, 0);
}

static int
private_set(struct tern_event *ev, void *conf)
{
	return private_iq(ev, conf, 1);
}

static const char *const features[] = { NS_PRIVATE, NULL };
static const char *const stores[] = { STORE, NULL };

static const struct tern_hook hooks[] = {
	{ "iq-get/bare/" NS_PRIVATE ":query", TERN_PRIO_DEFAULT, private_get },
	{ "iq-set/bare/" NS_PRIVATE ":query", TERN_PRIO_DEFAULT, private_set },
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "private_max_size", TERN_CONF_SIZE, offsetof(struct private_conf,
	    max_size), 1024, 1024 * 1024, "64k", NULL },
	{ "private_quota", TERN_CONF_SIZE, offsetof(struct private_conf,
	    quota), 1024, 64 * 1024 * 1024, "1m", NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct tern_module mod_private = {
	.abi = TERN_MODULE_ABI,
	.name = "private",
	.features = features,
	.directives = directives,
	.conf_size = sizeof(struct private_conf),
	.hooks = hooks,
	.stores = stores,
};
