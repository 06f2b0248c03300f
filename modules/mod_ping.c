/*
 * XEP-0199 XMPP Ping: answers pings to the server (and a client's ping
 * to its own bare JID or with no 'to'), and pings clients that have
 * been silent for ping_interval (section 4.2), closing those that send
 * nothing within ping_timeout of the ping with <connection-timeout/>.
 *
 * Any stanza from the client counts as an answer (the router stamps each
 * one as activity), so a client that is busy, or answers with an error,
 * is never closed.  One repeating timer per host walks the host's
 * sessions; a session with a ping outstanding holds the time it was sent
 * in its data slot, freed once it answers or with the session.  An idle
 * session therefore costs nothing between pings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#define NS_PING		"urn:xmpp:ping"
#define CHECK_MAX	30	/* seconds between two walks, at most */

struct ping_conf {
	unsigned		 interval;	/* ping_interval: 0 disables */
	unsigned		 timeout;	/* ping_timeout */
	/* Not directives: the host's runtime state, from init to fini. */
	struct tern_host	*host;
	struct tern_timer	*timer;
	unsigned long long	 seq;		/* ping ids */
};

/* A ping outstanding on a session. */
struct pending {
	uint64_t	sent;
	int		closed;		/* closed already: do not repeat */
};

extern const struct tern_module mod_ping;

static int
ping_host(struct tern_event *ev, void *conf)
{
	struct tern_stanza	*r = tern_stanza_reply(ev->stanza);

	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

/*
 * A ping to one's own bare JID (or without 'to') is answered from it.
 * Others get the router's <service-unavailable/>, as for an account
 * that does not exist: no probing for accounts with pings.
 */
static int
ping_account(struct tern_event *ev, void *conf)
{
	struct tern_stanza	*r;

	if (ev->origin == NULL || ev->to == NULL ||
	    strcmp(tern_session_bare(ev->origin), ev->to) != 0)
		return TERN_PASS;
	r = tern_stanza_reply(ev->stanza);
	tern_stanza_set_attr(r, "from", ev->to);
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

static void
send_ping(struct ping_conf *c, struct tern_session *s)
{
	struct tern_stanza	*iq;
	char			 id[32];

	snprintf(id, sizeof(id), "tern-ping-%llu", ++c->seq);
	iq = tern_stanza_new(TERN_NS_CLIENT, "iq");
	tern_stanza_set_attr(iq, "type", "get");
	tern_stanza_set_attr(iq, "id", id);
	tern_stanza_set_attr(iq, "from", tern_host_name(c->host));
	tern_stanza_set_attr(iq, "to", tern_session_jid(s));
	tern_stanza_add_child(iq, NS_PING, "ping");
	tern_session_send(s, iq);
	tern_stanza_unref(iq);
}

static void
set_pending(struct tern_session *s, struct pending *p)
{
	free(tern_session_data(s, &mod_ping));
	tern_session_set_data(s, &mod_ping, p);
}

/*
 * Idle time is read before the clock, so the activity time derived from
 * them can only err late: a session that answered is never taken for one
 * that did not.
 */
static void
check_session(struct tern_session *s, void *arg)
{
	struct ping_conf	*c = arg;
	struct pending		*p = tern_session_data(s, &mod_ping);
	unsigned		 idle = tern_session_idle(s);
	uint64_t		 now = tern_now();

	if (p != NULL && now - idle >= p->sent) {
		set_pending(s, NULL);		/* it said something */
		p = NULL;
	}
	if (p != NULL) {
		if (!p->closed && now - p->sent >= c->timeout) {
			p->closed = 1;
			/* The stream logs the error with the connection. */
			tern_log(TERN_LOG_DEBUG, "ping: %s did not answer in "
			    "%us", tern_session_jid(s), c->timeout);
			tern_session_close(s, "connection-timeout",
			    "No answer to a ping");
		}
		return;
	}
	if (idle < c->interval)
		return;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		tern_log(TERN_LOG_ERROR, "ping: out of memory");
		abort();
	}
	p->sent = now;
	set_pending(s, p);
	send_ping(c, s);
}

static void
check(void *arg)
{
	struct ping_conf	*c = arg;

	tern_host_each_session(c->host, check_session, c);
}

/* Walks often enough that pings and closes are at most half late. */
static int
ping_init(struct tern_host *h, void *conf)
{
	struct ping_conf	*c = conf;
	unsigned		 period;

	c->host = h;
	if (c->interval == 0)
		return 0;
	period = (c->interval < c->timeout ? c->interval : c->timeout) / 2;
	if (period < 1)
		period = 1;
	if (period > CHECK_MAX)
		period = CHECK_MAX;
	c->timer = tern_timer_add(period, 1, check, c);
	return 0;
}

static void
ping_fini(struct tern_host *h, void *conf)
{
	struct ping_conf	*c = conf;

	tern_timer_cancel(c->timer);
	c->timer = NULL;
}

static const char *const features[] = { NS_PING, NULL };

static const struct tern_hook hooks[] = {
	{ "iq-get/host/" NS_PING ":ping", TERN_PRIO_DEFAULT, ping_host },
	{ "iq-get/bare/" NS_PING ":ping", TERN_PRIO_DEFAULT, ping_account },
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
	.init = ping_init,
	.fini = ping_fini,
	.session_free = free,
};
