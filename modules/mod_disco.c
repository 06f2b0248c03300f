/*
 * XEP-0030 Service Discovery and XEP-0115 Entity Capabilities.
 *
 * disco#info to the server lists the server/im identity, the identities
 * and features of every module enabled on the host; disco#items lists
 * nothing yet (no module declares items).  disco#info and disco#items to
 * an account's bare JID are answered by the server on the account's
 * behalf (RFC 6120 10.3): identity account/registered and the account
 * features of the enabled modules.  The router only fires the bare
 * events for accounts that exist, so a query about a missing account gets
 * its <service-unavailable/>.  Anyone may ask about an account: what it
 * reveals is what the server supports for every account.
 *
 * The feature and identity lists of a host never change while it runs
 * (modules are per host and fixed until a reload restarts them), so they
 * are collected, sorted and hashed (XEP-0115 section 5) on first use and
 * kept in the host's conf until fini.  The hash is advertised in stream
 * features as <c xmlns='http://jabber.org/protocol/caps'/>, and
 * disco#info with node='NODE#VER' is answered like the plain query.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tern/module.h"

#define NS_INFO		"http://jabber.org/protocol/disco#info"
#define NS_ITEMS	"http://jabber.org/protocol/disco#items"
#define NS_CAPS		"http://jabber.org/protocol/caps"
#define CAPS_NODE	"https://tern.example/caps"
#define CAPS_HASH	"sha-1"
#define VER_MAX		64	/* base64 of a SHA-1 is 28 */

/* One entity's sorted, duplicate-free identities and features. */
struct info {
	const struct tern_identity	**ids;
	size_t				  nids;
	const char			**features;
	size_t				  nfeatures;
};

struct disco_conf {
	int		built;		/* server and account filled */
	struct info	server;
	struct info	account;
	char		ver[VER_MAX];	/* XEP-0115 ver of server */
};

static const struct tern_identity account_identity = {
	"account", "registered", NULL
};

/* Allocation failure is fatal (STYLE 6). */
static void *
grow(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL) {
		tern_log(TERN_LOG_ERROR, "disco: out of memory");
		abort();
	}
	return p;
}

static void
add_feature(const char *f, void *arg)
{
	struct info	*in = arg;

	in->features = grow(in->features, in->nfeatures + 1,
	    sizeof(*in->features));
	in->features[in->nfeatures++] = f;
}

static void
add_identity(const struct tern_identity *id, void *arg)
{
	struct info	*in = arg;

	in->ids = grow(in->ids, in->nids + 1, sizeof(*in->ids));
	in->ids[in->nids++] = id;
}

static int
strcmp_null(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

/* XEP-0115 5.1: by category, type, (xml:lang: none here), then name. */
static int
identity_cmp(const void *a, const void *b)
{
	const struct tern_identity	*x = *(const struct tern_identity *
					    const *)a;
	const struct tern_identity	*y = *(const struct tern_identity *
					    const *)b;
	int				 c;

	if ((c = strcmp(x->category, y->category)) != 0 ||
	    (c = strcmp_null(x->type, y->type)) != 0)
		return c;
	return strcmp_null(x->name, y->name);
}

static int
feature_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts both lists (i;octet) and drops duplicates. */
static void
info_sort(struct info *in)
{
	size_t	i, n;

	if (in->nids > 0) {
		qsort(in->ids, in->nids, sizeof(*in->ids), identity_cmp);
		for (i = n = 1; i < in->nids; i++)
			if (identity_cmp(&in->ids[i], &in->ids[n - 1]) != 0)
				in->ids[n++] = in->ids[i];
		in->nids = n;
	}
	if (in->nfeatures > 0) {
		qsort(in->features, in->nfeatures, sizeof(*in->features),
		    feature_cmp);
		for (i = n = 1; i < in->nfeatures; i++)
			if (strcmp(in->features[i], in->features[n - 1]) != 0)
				in->features[n++] = in->features[i];
		in->nfeatures = n;
	}
}

static void
info_free(struct info *in)
{
	free(in->ids);
	free(in->features);
	memset(in, 0, sizeof(*in));
}

static void
crypto_fail(void)
{
	tern_log(TERN_LOG_ERROR, "disco: SHA-1 failed in libcrypto");
	abort();
}

static void
digest_str(EVP_MD_CTX *md, const char *s)
{
	if (s != NULL && EVP_DigestUpdate(md, s, strlen(s)) != 1)
		crypto_fail();
}

/*
 * XEP-0115 5.1: "category/type/lang/name<" per identity, then
 * "feature<" per feature, both sorted; SHA-1, base64.
 */
static void
caps_ver(const struct info *in, char ver[VER_MAX])
{
	unsigned char	 dig[EVP_MAX_MD_SIZE];
	unsigned int	 dlen;
	EVP_MD_CTX	*md;
	size_t		 i;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1)
		crypto_fail();
	for (i = 0; i < in->nids; i++) {
		digest_str(md, in->ids[i]->category);
		digest_str(md, "/");
		digest_str(md, in->ids[i]->type);
		digest_str(md, "//");		/* no xml:lang */
		digest_str(md, in->ids[i]->name);
		digest_str(md, "<");
	}
	for (i = 0; i < in->nfeatures; i++) {
		digest_str(md, in->features[i]);
		digest_str(md, "<");
	}
	/* 20 bytes of SHA-1 are 28 of base64: VER_MAX holds them. */
	if (EVP_DigestFinal_ex(md, dig, &dlen) != 1 || dlen != 20)
		crypto_fail();
	EVP_MD_CTX_free(md);
	EVP_EncodeBlock((unsigned char *)ver, dig, (int)dlen);
}

/* Collects the host's lists once; they hold until fini. */
static struct disco_conf *
build(struct tern_host *h, struct disco_conf *c)
{
	if (c->built)
		return c;
	tern_host_identities(h, add_identity, &c->server);
	tern_host_features(h, 0, add_feature, &c->server);
	info_sort(&c->server);
	caps_ver(&c->server, c->ver);
	add_identity(&account_identity, &c->account);
	tern_host_features(h, 1, add_feature, &c->account);
	info_sort(&c->account);
	c->built = 1;
	return c;
}

/*
 * A result for the event's iq with an empty <query/> of ns (node copied
 * from the request).  For an iq without 'to' (the account's own), the
 * answer comes from the bare JID, as some clients (Psi) want.
 */
static struct tern_stanza *
reply_new(struct tern_event *ev, const char *ns, struct tern_stanza **q)
{
	struct tern_stanza	*r = tern_stanza_reply(ev->stanza);
	const char		*node;

	node = tern_stanza_attr(tern_stanza_element(ev->stanza, 0), "node");
	if (tern_stanza_attr(ev->stanza, "to") == NULL && ev->to != NULL)
		tern_stanza_set_attr(r, "from", ev->to);
	*q = tern_stanza_add_child(r, ns, "query");
	if (node != NULL)
		tern_stanza_set_attr(*q, "node", node);
	return r;
}

static void
send_info(struct tern_event *ev, const struct info *in)
{
	struct tern_stanza	*r, *q, *el;
	size_t			 i;

	r = reply_new(ev, NS_INFO, &q);
	for (i = 0; i < in->nids; i++) {
		el = tern_stanza_add_child(q, NS_INFO, "identity");
		tern_stanza_set_attr(el, "category", in->ids[i]->category);
		tern_stanza_set_attr(el, "type", in->ids[i]->type);
		if (in->ids[i]->name != NULL)
			tern_stanza_set_attr(el, "name", in->ids[i]->name);
	}
	for (i = 0; i < in->nfeatures; i++)
		tern_stanza_set_attr(tern_stanza_add_child(q, NS_INFO,
		    "feature"), "var", in->features[i]);
	tern_reply(ev, r);
	tern_stanza_unref(r);
}

/* The query's node, or NULL when it has none (an empty one is none). */
static const char *
query_node(const struct tern_event *ev)
{
	const char	*node;

	node = tern_stanza_attr(tern_stanza_element(ev->stanza, 0), "node");
	return node != NULL && *node != '\0' ? node : NULL;
}

static int
node_is_caps(const char *node, const char *ver)
{
	size_t	n = strlen(CAPS_NODE);

	return strncmp(node, CAPS_NODE, n) == 0 && node[n] == '#' &&
	    strcmp(node + n + 1, ver) == 0;
}

static int
host_info(struct tern_event *ev, void *conf)
{
	struct disco_conf	*c = build(ev->host, conf);
	const char		*node = query_node(ev);

	if (node != NULL && !node_is_caps(node, c->ver))
		tern_reply_error(ev, "cancel", "item-not-found",
		    "No such node");
	else
		send_info(ev, &c->server);
	return TERN_DONE;
}

static int
account_info(struct tern_event *ev, void *conf)
{
	struct disco_conf	*c = build(ev->host, conf);

	if (query_node(ev) != NULL)
		tern_reply_error(ev, "cancel", "item-not-found",
		    "No such node");
	else
		send_info(ev, &c->account);
	return TERN_DONE;
}

/* No module declares items yet: an empty list, and no nodes. */
static int
items(struct tern_event *ev, void *conf)
{
	struct tern_stanza	*r, *q;

	if (query_node(ev) != NULL) {
		tern_reply_error(ev, "cancel", "item-not-found",
		    "No such node");
		return TERN_DONE;
	}
	r = reply_new(ev, NS_ITEMS, &q);
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

/* XEP-0115 6.3: the server's caps in its stream features. */
static int
features_caps(struct tern_event *ev, void *conf)
{
	struct disco_conf	*c = build(ev->host, conf);
	struct tern_stanza	*el;

	el = tern_stanza_add_child(ev->features, NS_CAPS, "c");
	tern_stanza_set_attr(el, "hash", CAPS_HASH);
	tern_stanza_set_attr(el, "node", CAPS_NODE);
	tern_stanza_set_attr(el, "ver", c->ver);
	return TERN_PASS;
}

static void
disco_fini(struct tern_host *h, void *conf)
{
	struct disco_conf	*c = conf;

	info_free(&c->server);
	info_free(&c->account);
	c->built = 0;
}

static const char *const features[] = { NS_INFO, NS_ITEMS, NULL };

static const struct tern_identity identities[] = {
	{ "server", "im", "tern" },
	{ NULL, NULL, NULL }
};

static const struct tern_hook hooks[] = {
	{ "iq-get/host/" NS_INFO ":query", TERN_PRIO_DEFAULT, host_info },
	{ "iq-get/host/" NS_ITEMS ":query", TERN_PRIO_DEFAULT, items },
	{ "iq-get/bare/" NS_INFO ":query", TERN_PRIO_DEFAULT, account_info },
	{ "iq-get/bare/" NS_ITEMS ":query", TERN_PRIO_DEFAULT, items },
	{ "stream-features", TERN_PRIO_DEFAULT, features_caps },
	{ NULL, 0, NULL }
};

const struct tern_module mod_disco = {
	.abi = TERN_MODULE_ABI,
	.name = "disco",
	.features = features,
	.account_features = features,
	.identities = identities,
	.conf_size = sizeof(struct disco_conf),
	.hooks = hooks,
	.fini = disco_fini,
};
