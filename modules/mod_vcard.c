/*
 * XEP-0054 vcard-temp: each account's vCard, stored whole as XML text in
 * the "vcard" store and served by the server on the account's behalf.
 *
 * Anyone may read an account's vCard (an iq get to its bare JID; a get
 * without 'to' reads one's own); only the account itself may replace it
 * (an iq set without 'to' or to its own bare JID).  A vCard larger than
 * vcard_max_size is refused with <not-acceptable/>.
 *
 * A missing vCard is an error, as XEP-0054 1.2 recommends: one's own
 * gets <item-not-found/> (3.1: "SHOULD be item-not-found"); another
 * account's gets <service-unavailable/>, the condition the router gives
 * for an account that does not exist, because 3.3 requires the same
 * condition in both cases so that accounts cannot be discovered this way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#define NS_VCARD	"vcard-temp"
#define STORE		"vcard"
#define KEY		"vcard"		/* one vCard per account */

struct vcard_conf {
	size_t	max_size;	/* vcard_max_size: bytes of XML */
};

/* Whether the event's sender is the account its stanza is addressed to. */
static int
is_owner(const struct tern_event *ev)
{
	return ev->origin != NULL && ev->to_node != NULL &&
	    tern_session_host(ev->origin) == ev->host &&
	    strcmp(tern_session_user(ev->origin), ev->to_node) == 0;
}

static int
vcard_get(struct tern_event *ev, void *conf)
{
	const char		*host = tern_host_name(ev->host);
	struct tern_stanza	*r, *vc;
	void			*val;
	size_t			 len;
	int			 rc;

	rc = tern_kv_get(STORE, host, ev->to_node, KEY, &val, &len);
	if (rc == -1) {
		tern_reply_error(ev, "wait", "internal-server-error",
		    "Storage error");
		return TERN_DONE;
	}
	if (rc == 1) {
		if (is_owner(ev))
			tern_reply_error(ev, "cancel", "item-not-found", NULL);
		else
			tern_reply_error(ev, "cancel", "service-unavailable",
			    NULL);
		return TERN_DONE;
	}
	vc = tern_stanza_from_xml(val, len);
	free(val);
	if (vc == NULL) {
		tern_log(TERN_LOG_ERROR, "vcard: the stored vCard of %s@%s "
		    "cannot be parsed", ev->to_node, host);
		tern_reply_error(ev, "wait", "internal-server-error",
		    "Stored vCard is damaged");
		return TERN_DONE;
	}
	r = tern_stanza_reply(ev->stanza);
	tern_stanza_add_child_take(r, vc);
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

static int
vcard_set(struct tern_event *ev, void *conf)
{
	const struct vcard_conf	*c = conf;
	const char		*host = tern_host_name(ev->host);
	struct tern_stanza	*vc, *r;
	char			*xml, text[96];
	size_t			 len;

	if (!is_owner(ev)) {
		tern_reply_error(ev, "auth", "forbidden",
		    "Only the account itself may change its vCard");
		return TERN_DONE;
	}
	vc = tern_stanza_child(ev->stanza, NS_VCARD, "vCard");
	xml = tern_stanza_to_xml(vc);
	if ((len = strlen(xml)) > c->max_size) {
		free(xml);
		snprintf(text, sizeof(text), "The vCard is too large (at "
		    "most %zu bytes)", c->max_size);
		tern_reply_error(ev, "modify", "not-acceptable", text);
		return TERN_DONE;
	}
	if (tern_kv_put(STORE, host, ev->to_node, KEY, xml, len) == -1) {
		free(xml);
		tern_reply_error(ev, "wait", "internal-server-error",
		    "Storage error");
		return TERN_DONE;
	}
	free(xml);
	r = tern_stanza_reply(ev->stanza);
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

static const char *const features[] = { NS_VCARD, NULL };
static const char *const stores[] = { STORE, NULL };

static const struct tern_hook hooks[] = {
	{ "iq-get/bare/" NS_VCARD ":vCard", TERN_PRIO_DEFAULT, vcard_get },
	{ "iq-set/bare/" NS_VCARD ":vCard", TERN_PRIO_DEFAULT, vcard_set },
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "vcard_max_size", TERN_CONF_SIZE, offsetof(struct vcard_conf,
	    max_size), 1024, 1024 * 1024, "64k", NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct tern_module mod_vcard = {
	.abi = TERN_MODULE_ABI,
	.name = "vcard",
	.features = features,
	.account_features = features,
	.directives = directives,
	.conf_size = sizeof(struct vcard_conf),
	.hooks = hooks,
	.stores = stores,
};
