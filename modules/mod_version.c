/*
 * XEP-0092 Software Version of the server: name, version and, unless
 * version_hide_os is set, the operating system (uname's sysname, as
 * Prosody reports it: no kernel release, which helps an attacker more
 * than an admin).  Queries to accounts and resources are not ours: the
 * router delivers those to the clients.
 *
 * To hide the server's version entirely, leave "version" out of the
 * host's modules: queries then get <service-unavailable/> and disco no
 * longer lists jabber:iq:version, which a directive of this module could
 * not withdraw (the feature lists are static).
 */
#include <sys/utsname.h>

#include <stddef.h>

#include "tern/module.h"

#define NS_VERSION	"jabber:iq:version"
#define SERVER_NAME	"tern"

/* COMPAT: the build passes -DTERN_VERSION; this is for a bare compile. */
#ifndef TERN_VERSION
#define TERN_VERSION	"0.1.0"
#endif

struct version_conf {
	int	hide_os;	/* version_hide_os */
};

static int
version_host(struct tern_event *ev, void *conf)
{
	struct version_conf	*c = conf;
	struct tern_stanza	*r, *q;
	struct utsname		 u;

	r = tern_stanza_reply(ev->stanza);
	q = tern_stanza_add_child(r, NS_VERSION, "query");
	tern_stanza_add_text_child(q, NS_VERSION, "name", SERVER_NAME);
	tern_stanza_add_text_child(q, NS_VERSION, "version", TERN_VERSION);
	if (!c->hide_os && uname(&u) == 0)
		tern_stanza_add_text_child(q, NS_VERSION, "os", u.sysname);
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

static const char *const features[] = { NS_VERSION, NULL };

static const struct tern_hook hooks[] = {
	{ "iq-get/host/" NS_VERSION ":query", TERN_PRIO_DEFAULT,
	    version_host },
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "version_hide_os", TERN_CONF_BOOL, offsetof(struct version_conf,
	    hide_os), 0, 1, "no", NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct tern_module mod_version = {
	.abi = TERN_MODULE_ABI,
	.name = "version",
	.features = features,
	.directives = directives,
	.conf_size = sizeof(struct version_conf),
	.hooks = hooks,
};
