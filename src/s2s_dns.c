/*
 * Resolving remote servers.  evdns_getaddrinfo turns a host name (or
 * address) into A/AAAA results; its callback may run before the call
 * returns, so s->dns_pending says whether there is a request to cancel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "s2s_dns.h"
#include "s2s_int.h"
#include "xmalloc.h"

#define XMPP_SERVER_PORT	5269

static void
addrinfo_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct s2s		*s = arg;
	struct evutil_addrinfo	*ai;
	char			 why[300];

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* s may be gone */
	s->dns_pending = 0;
	s->dnsreq = NULL;
	if (result != 0) {
		snprintf(why, sizeof(why), "DNS: %s", result ==
		    EVUTIL_EAI_NONAME ? "no address record" :
		    evutil_gai_strerror(result));
		s2s_out_resolved(s, why);
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		s->addrs = xreallocarray(s->addrs, s->naddrs + 1,
		    sizeof(*s->addrs));
		memset(&s->addrs[s->naddrs], 0, sizeof(*s->addrs));
		memcpy(&s->addrs[s->naddrs].ss, ai->ai_addr, ai->ai_addrlen);
		s->addrs[s->naddrs].len = (socklen_t)ai->ai_addrlen;
		s->naddrs++;
	}
	evutil_freeaddrinfo(res);
	s2s_out_resolved(s, "DNS: no usable address");
}

/* A/AAAA of host on port. */
static void
lookup_host(struct s2s *s, const char *host, int port)
{
	struct evutil_addrinfo			 hints;
	struct evdns_getaddrinfo_request	*req;
	char					 p[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(p, sizeof(p), "%d", port);
	snprintf(s->target, sizeof(s->target), "%s:%d", host, port);
	s->dns_pending = 1;
	req = evdns_getaddrinfo(s2s_dns(), host, p, &hints, addrinfo_cb, s);
	if (s->dns_pending)
		s->dnsreq = req;
}

void
s2s_dns_resolve(struct s2s *s)
{
	const struct conf_s2s_route	*r;

	if ((r = conf_s2s_route_find(loop_conf(), s->remote)) != NULL) {
		log_debug("s2s %s -> %s: s2s_route %s:%d", s->local, s->remote,
		    r->host, r->port);
		lookup_host(s, r->host, r->port);
		return;
	}
	lookup_host(s, s->remote, XMPP_SERVER_PORT);
}

void
s2s_dns_cancel(struct s2s *s)
{
	if (s->dns_pending && s->dnsreq != NULL)
		evdns_getaddrinfo_cancel(s->dnsreq);
	s->dns_pending = 0;
	s->dnsreq = NULL;
}
