/*
 * The binary codec's dictionary, version 1 (doc/binary.md 5.6 prints the
 * same lists; tests/unit/test_codec_bin.c checks that they agree).  A
 * published dictionary never changes: a new entry means a new version,
 * with its own table here.  Token n of a list is its nth string.
 *
 * The index below (a hash table per list, and the dictionary's SHA-256)
 * is built on first use and kept for the life of the process.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "codec_bin_int.h"
#include "log.h"

static const char *const ns1[] = {
	"",
	"jabber:client",
	"jabber:server",
	"http://etherx.jabber.org/streams",
	"urn:ietf:params:xml:ns:xmpp-streams",
	"urn:ietf:params:xml:ns:xmpp-stanzas",
	"urn:ietf:params:xml:ns:xmpp-tls",
	"urn:ietf:params:xml:ns:xmpp-sasl",
	"urn:ietf:params:xml:ns:xmpp-bind",
	"urn:ietf:params:xml:ns:xmpp-session",
	"http://www.w3.org/XML/1998/namespace",
	"jabber:iq:roster",
	"urn:xmpp:sasl-cb:0",
	"urn:xmpp:features:rosterver",
	"urn:xmpp:features:pre-approval",
	"http://jabber.org/protocol/disco#info",
	"http://jabber.org/protocol/disco#items",
	"http://jabber.org/protocol/caps",
	"jabber:iq:version",
	"urn:xmpp:time",
	"jabber:iq:last",
	"urn:xmpp:ping",
	"vcard-temp",
	"vcard-temp:x:update",
	"jabber:iq:private",
	"urn:xmpp:blocking",
	"urn:xmpp:blocking:errors",
	"jabber:iq:register",
	"http://jabber.org/features/iq-register",
	"urn:xmpp:delay",
	"jabber:x:delay",
	"msgoffline",
	"jabber:x:data",
	"urn:xmpp:receipts",
	"http://jabber.org/protocol/chatstates",
	"urn:xmpp:carbons:2",
	"urn:xmpp:forward:0",
	"urn:xmpp:mam:2",
	"http://jabber.org/protocol/rsm",
	"http://jabber.org/protocol/muc",
	"http://jabber.org/protocol/muc#user",
	"http://jabber.org/protocol/muc#admin",
	"http://jabber.org/protocol/muc#owner",
	"http://jabber.org/protocol/pubsub",
	"http://jabber.org/protocol/pubsub#event",
	"http://jabber.org/protocol/pubsub#owner",
	"urn:xmpp:avatar:metadata",
	"urn:xmpp:avatar:data",
	"urn:xmpp:sm:3",
	"urn:xmpp:csi:0",
	"urn:xmpp:hints",
	"urn:xmpp:sid:0",
	"urn:xmpp:chat-markers:0",
	"urn:xmpp:message-correct:0",
	"urn:xmpp:eme:0",
	"eu.siacs.conversations.axolotl",
	"urn:xmpp:http:upload:0",
	"jabber:x:oob",
	"http://jabber.org/protocol/nick",
	"urn:xmpp:jingle-message:0",
	"urn:xmpp:idle:1",
	"urn:xmpp:bookmarks:1",
	"http://jabber.org/protocol/address",
	"jabber:x:conference",
	"urn:xmpp:reply:0",
	"urn:xmpp:reactions:0",
	"urn:xmpp:fallback:0",
	"urn:xmpp:occupant-id:0",
	"http://jabber.org/protocol/commands",
	"urn:xmpp:push:0",
	"urn:xmpp:bind:0",
	"urn:xmpp:sasl:2",
	"urn:xmpp:mam:2#extended",
	"http://jabber.org/protocol/muc#roominfo",
	"http://jabber.org/protocol/pubsub#publish-options",
	"urn:xmpp:avatar:metadata+notify",
	"http://jabber.org/protocol/nick+notify",
	"http://tern.im/protocol/binary/0",
};

/* The first 15 fit in an element's tag byte. */
static const char *const element1[] = {
	"message", "presence", "iq", "body", "query", "item", "x", "error",
	"show", "status", "active", "request", "received", "c", "delay",
	"stream", "features", "starttls", "required", "proceed", "failure",
	"mechanisms", "mechanism", "auth", "challenge", "response", "success",
	"abort", "bind", "resource", "jid", "session", "optional",
	"sasl-channel-binding", "channel-binding", "text", "subject",
	"thread", "priority", "group", "ver", "pre-approval", "composing",
	"paused", "inactive", "gone", "sent", "forwarded", "private",
	"no-copy", "no-store", "no-permanent-store", "store", "result", "fin",
	"set", "first", "last", "max", "after", "before", "count", "index",
	"identity", "feature", "field", "value", "option", "instructions",
	"title", "reported", "ping", "blocklist", "block", "unblock",
	"blocked", "vCard", "PHOTO", "TYPE", "BINVAL", "FN", "NICKNAME",
	"photo", "name", "version", "os", "tz", "utc", "username", "password",
	"email", "registered", "remove", "event", "items", "pubsub", "publish",
	"publish-options", "retract", "metadata", "info", "data", "nick",
	"enable", "enabled", "resume", "resumed", "r", "a", "stanza-id",
	"origin-id", "markable", "displayed", "acknowledged", "replace",
	"encrypted", "header", "key", "iv", "payload", "encryption", "url",
	"desc", "idle", "conference", "addresses", "address", "destroy",
	"reason", "invite", "decline", "actor", "continue", "history", "slot",
	"put", "get", "reaction", "reactions", "reply", "fallback", "propose",
	"accept", "occupant-id", "dictionary", "select", "binary",
	"bad-format", "bad-namespace-prefix", "conflict",
	"connection-timeout", "host-gone", "host-unknown",
	"improper-addressing", "internal-server-error", "invalid-from",
	"invalid-namespace", "invalid-xml", "not-authorized",
	"not-well-formed", "policy-violation", "remote-connection-failed",
	"reset", "resource-constraint", "restricted-xml", "see-other-host",
	"system-shutdown", "undefined-condition", "unsupported-encoding",
	"unsupported-feature", "unsupported-stanza-type",
	"unsupported-version", "bad-request", "feature-not-implemented",
	"forbidden", "item-not-found", "jid-malformed", "not-acceptable",
	"not-allowed", "payment-required", "recipient-unavailable",
	"redirect", "registration-required", "remote-server-not-found",
	"remote-server-timeout", "service-unavailable",
	"subscription-required", "unexpected-request", "aborted",
	"account-disabled", "credentials-expired", "encryption-required",
	"incorrect-encoding", "invalid-authzid", "invalid-mechanism",
	"malformed-request", "mechanism-too-weak", "temporary-auth-failure",
	"unsupported-dictionary",
};

/* Token 0: a namespaced attribute follows; token 1: xml:lang. */
static const char *const attr1[] = {
	"{ns}", "xml:lang", "to", "from", "id", "type", "name", "jid",
	"subscription", "ask", "approved", "ver", "node", "hash", "category",
	"var", "label", "by", "stamp", "code", "role", "affiliation", "nick",
	"seconds", "action", "queryid", "h", "max", "resume", "location",
	"previd", "bytes", "width", "height", "url", "mechanism", "version",
	"sid", "for", "parent", "publisher", "with", "start", "end",
	"sha256", "xmlns", "status", "reason", "thread", "lang",
};

/* Token 0: the stream domain. */
static const char *const value1[] = {
	"{domain}", "chat", "groupchat", "headline", "normal", "error",
	"get", "set", "result", "unavailable", "subscribe", "subscribed",
	"unsubscribe", "unsubscribed", "probe", "away", "xa", "dnd", "both",
	"none", "to", "from", "remove", "true", "false", "0", "1", "cancel",
	"continue", "modify", "auth", "wait", "en", "1.0", "sha-1", "client",
	"pc", "phone", "web", "bot", "server", "im", "account", "registered",
	"submit", "form", "hidden", "text-single", "text-multi",
	"list-single", "list-multi", "boolean", "jid-single", "fixed",
	"FORM_TYPE", "participant", "moderator", "visitor", "member",
	"owner", "admin", "outcast", "image/png", "image/jpeg", "image/webp",
	"current", "pubsub#persist_items", "pubsub#access_model", "presence",
	"open", "whitelist", "authorize", "pep", "tls-exporter",
	"tls-server-end-point", "tls-unique", "SCRAM-SHA-256",
	"SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "PLAIN",
	"conversation", "directory", "text", "pending", "ask",
};

static const struct codec_bin_dict dict1 = {
	.version = 1,
	.lists = {
		[BIN_NS] = { ns1, sizeof(ns1) / sizeof(ns1[0]) },
		[BIN_ELEMENT] = { element1,
		    sizeof(element1) / sizeof(element1[0]) },
		[BIN_ATTR] = { attr1, sizeof(attr1) / sizeof(attr1[0]) },
		[BIN_VALUE] = { value1, sizeof(value1) / sizeof(value1[0]) },
	},
};

const struct codec_bin_dict *const codec_bin_dicts[] = { &dict1, NULL };




static struct dict_index	*indexes;

/*
 * A hash of the length and at most the first and last 8 bytes, read as
 * two words: a long value (an id, a JID) costs no more than a short one
 * to look up; equal hashes are confirmed with memcmp.
 */
uint32_t
codec_bin_hash(const char *s, size_t n)
{
	uint64_t	a = 0, b = 0, h;

	if (n >= 8) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
	} else if (n >= 4) {
		uint32_t	x, y;

		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		a = x;
		b = y;
	} else if (n > 0)
		a = (uint64_t)(unsigned char)s[0] << 16 |
		    (uint64_t)(unsigned char)s[n / 2] << 8 |
		    (unsigned char)s[n - 1];
	h = (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL) ^ n;
	h ^= h >> 32;
	h *= 0x165667b19e3779f9ULL;
	return (uint32_t)(h >> 32);
}

static void
dict_hash(const struct codec_bin_dict *d, unsigned char out[32])
{
	static const char *const heads[BIN_NLISTS] = {
		"[ns]\n", "[element]\n", "[attr]\n", "[value]\n",
	};
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	char		 first[64];
	size_t		 l, i;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatalx("codec_bin: SHA-256 unavailable");
	snprintf(first, sizeof(first), "tern-binary-dictionary %u\n",
	    d->version);
	EVP_DigestUpdate(ctx, first, strlen(first));
	for (l = 0; l < BIN_NLISTS; l++) {
		EVP_DigestUpdate(ctx, heads[l], strlen(heads[l]));
		for (i = 0; i < d->lists[l].n; i++) {
			EVP_DigestUpdate(ctx, d->lists[l].s[i],
			    strlen(d->lists[l].s[i]));
			EVP_DigestUpdate(ctx, "\n", 1);
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		fatalx("codec_bin: SHA-256 failed");
	EVP_MD_CTX_free(ctx);
}

static void
dict_put(struct dict_index *x, int l, size_t k)
{
	const char	*s = x->d->lists[l].s[k];
	uint32_t	 hv = codec_bin_hash(s, strlen(s));
	size_t		 h = hv & x->mask[l];

	while (x->slots[l][h].tok1 != 0)
		h = (h + 1) & x->mask[l];
	x->lens[l][k] = (uint32_t)strlen(s);
	x->slots[l][h].hash = hv;
	x->slots[l][h].len = (uint32_t)strlen(s);
	if (strlen(s) > x->maxlen[l])
		x->maxlen[l] = strlen(s);
	x->slots[l][h].tok1 = (int)k + 1;
}

/* Built once, on first use; never freed (static data). */
const struct dict_index *
codec_bin_dict_index(const struct codec_bin_dict *d)
{
	struct dict_index	*x;
	size_t			 n, l, i, k, cap;

	if (indexes == NULL) {
		for (n = 0; codec_bin_dicts[n] != NULL; n++)
			;
		indexes = xcalloc(n, sizeof(*indexes));
		for (i = 0; i < n; i++) {
			x = &indexes[i];
			x->d = codec_bin_dicts[i];
			for (l = 0; l < BIN_NLISTS; l++) {
				for (cap = 16; cap < 4 * x->d->lists[l].n;)
					cap *= 2;
				x->slots[l] = xcalloc(cap,
				    sizeof(*x->slots[l]));
				x->mask[l] = cap - 1;
				x->lens[l] = xcalloc(x->d->lists[l].n + 1,
				    sizeof(uint32_t));
				for (k = 0; k < x->d->lists[l].n; k++)
					dict_put(x, l, k);
			}
			dict_hash(x->d, x->hash);
			for (k = 0; k < 32; k++)
				snprintf(x->hex + 2 * k, 3, "%02x",
				    x->hash[k]);
		}
	}
	for (i = 0; codec_bin_dicts[i] != NULL; i++)
		if (codec_bin_dicts[i] == d)
			return &indexes[i];
	fatalx("codec_bin: unknown dictionary");
}

/* Token of s (n bytes, hash hv) in list l, or -1. */
int
codec_bin_dict_lookup(const struct dict_index *x, int l, const char *s,
    size_t n, uint32_t hv)
{
	const struct dict_slot	*e;
	size_t			 h = hv & x->mask[l];

	if (n > x->maxlen[l])
		return -1;
	for (; (e = &x->slots[l][h])->tok1 != 0; h = (h + 1) & x->mask[l])
		if (e->hash == hv && e->len == n &&
		    memcmp(x->d->lists[l].s[e->tok1 - 1], s, n) == 0)
			return e->tok1 - 1;
	return -1;
}


const struct codec_bin_dict *
codec_bin_dict_current(void)
{
	return codec_bin_dicts[0];
}

void
codec_bin_dict_hash(const struct codec_bin_dict *d, unsigned char out[32])
{
	memcpy(out, codec_bin_dict_index(d)->hash, 32);
}

const char *
codec_bin_dict_hex(const struct codec_bin_dict *d)
{
	return codec_bin_dict_index(d)->hex;
}

const struct codec_bin_dict *
codec_bin_dict_find(unsigned long version, const char *hex)
{
	size_t	i;

	for (i = 0; codec_bin_dicts[i] != NULL; i++)
		if (codec_bin_dicts[i]->version == version && (hex == NULL ||
		    strcmp(codec_bin_dict_hex(codec_bin_dicts[i]), hex) == 0))
			return codec_bin_dicts[i];
	return NULL;
}

