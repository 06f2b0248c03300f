/*
 * XEP-0199 XMPP Ping: answers pings to the server, and pings clients that
 * have been silent for ping_interval, closing those that do not answer
 * within ping_timeout with <connection-timeout/>.
 */
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#define NS_PING	"urn:xmpp:ping"

struct ping_conf {
	unsigned	interval;	/* ping_interval: 0 disables */
	unsigned	timeout;	/* ping_timeout */
};

static int
ping_host(struct tern_event *ev, void *conf)
{
	struct tern_stanza	*r = tern_stanza_reply(ev->stanza);

	tern_route(r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

static const char *const features[] = { NS_PING, NULL };

static const struct tern_hook hooks[] = {
	{ "iq-get/host/" NS_PING ":ping", TERN_PRIO_DEFAULT, ping_host },
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "ping_interval", TERN_CONF_TIME, offsetof(struct ping_conf,
	    interval), 0, 86400, "0", NULL },
	{ "ping_timeout", TERN_CONF_TIME, offsetof(struct ping_conf, timeout),
	    1, 3600, "60s", NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct tern_module mod_ping = {
	.abi = TERN_MODULE_ABI,
	.name = "ping",
	.features = features,
	.directives = directives,
	.conf_size = sizeof(struct ping_conf),
	.hooks = hooks,
};
