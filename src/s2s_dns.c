/*
 * Resolving remote servers (RFC 6120 3.2, XEP-0368).  The s2s_route
 * override wins; otherwise SRV records of _xmpps-server._tcp (direct
 * TLS) and _xmpp-server._tcp are asked for together, ordered by
 * priority and, within one priority, by a weighted random draw (RFC
 * 2782); each target's A/AAAA records are then looked up in that order
 * and their addresses become the list connect_next() walks.  With no
 * SRV record the domain's own A/AAAA records on port 5269 are used; a
 * lone "." target means the domain offers no XMPP service.
 *
 * libevent's evdns resolves addresses (evdns_getaddrinfo) but has no
 * SRV query, so SRV questions are built and parsed here and sent over
 * UDP to evdns's first nameserver (dns_nameserver, or resolv.conf).
 * evdns_getaddrinfo may call back before it returns: s->dns_pending
 * says whether a request is still out to cancel.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/rand.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "s2s_dns.h"
#include "s2s_int.h"
#include "xmalloc.h"

#define XMPP_SERVER_PORT	5269
#define DNS_T_SRV		33
#define DNS_MAX_UDP		4096
#define SRV_MAX_TARGETS		16
#define SRV_TIMEOUT		5	/* seconds, at most */

/* One SRV lookup (both services) for an outgoing stream. */
struct srv_lookup {
	struct s2s		*s;
	int			 fd;
	struct event		*ev;
	uint16_t		 id[2];		/* xmpps, xmpp */
	int			 answered[2];
	int			 nxdomain[2];
	struct s2s_srv		 raw[SRV_MAX_TARGETS];	/* as answered */
	size_t			 nraw;
	struct s2s_srv	 t[SRV_MAX_TARGETS];
	size_t			 nt, next;	/* next to resolve */
	int			 any;		/* an SRV record was seen */
	int			 dot;		/* a "." target was seen */
};

static void	resolve_next_target(struct s2s *);

/* The addresses of host:port (tls: direct TLS) are added to s->addrs. */
static void
addrinfo_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct s2s		*s = arg;
	struct srv_lookup	*l = s->srv;
	struct evutil_addrinfo	*ai;
	char			 why[400];
	int			 tls = l != NULL && l->next > 0 ?
				    l->t[l->next - 1].tls : 0;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* s may be gone */
	s->dns_pending = 0;
	s->dnsreq = NULL;
	if (result != 0) {
		snprintf(why, sizeof(why), "DNS: %s for %s", result ==
		    EVUTIL_EAI_NONAME ? "no address record" : result ==
		    EVUTIL_EAI_AGAIN ? "timeout" :
		    evutil_gai_strerror(result), s->target);
		if (l != NULL && l->next < l->nt)	/* else out_fail logs */
			log_info("s2s %s -> %s: %s", s->local, s->remote, why);
		free(s->why);
		s->why = xstrdup(why);
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
		s->addrs[s->naddrs].tls = tls;
		s->naddrs++;
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	if (l != NULL && l->next < l->nt) {
		resolve_next_target(s);
		return;
	}
	s2s_out_resolved(s, s->why != NULL ? s->why :
	    "DNS: no usable address");
}

/* A/AAAA of host on port. */
static void
lookup_host(struct s2s *s, const char *host, unsigned port)
{
	struct evutil_addrinfo			 hints;
	struct evdns_getaddrinfo_request	*req;
	char					 p[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(p, sizeof(p), "%u", port);
	snprintf(s->target, sizeof(s->target), "%s:%u", host, port);
	s->dns_pending = 1;
	req = evdns_getaddrinfo(s2s_dns(), host, p, &hints, addrinfo_cb, s);
	if (s->dns_pending)
		s->dnsreq = req;
}

static void
resolve_next_target(struct s2s *s)
{
	struct srv_lookup	*l = s->srv;
	struct s2s_srv	*t = &l->t[l->next++];

	lookup_host(s, t->host, t->port);
}

/*
 * SRV over UDP.
 */

static void
srv_free(struct srv_lookup *l)
{
	if (l == NULL)
		return;
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->fd != -1)
		close(l->fd);
	free(l);
}

/* Writes name as DNS labels at p (room: len); bytes used or -1. */
static int
put_name(unsigned char *p, size_t len, const char *name)
{
	const char	*dot;
	size_t		 n, off = 0;

	while (*name != '\0') {
		dot = strchr(name, '.');
		n = dot != NULL ? (size_t)(dot - name) : strlen(name);
		if (n == 0 || n > 63 || off + n + 2 > len)
			return -1;
		p[off++] = (unsigned char)n;
		memcpy(p + off, name, n);
		off += n;
		name += n + (dot != NULL);
	}
	p[off++] = 0;
	return (int)off;
}

static int
send_query(struct srv_lookup *l, int i, const char *service,
    const char *domain)
{
	unsigned char	 q[600];
	char		 name[300];
	int		 n;

	snprintf(name, sizeof(name), "_%s._tcp.%s", service, domain);
	memset(q, 0, 12);
	q[0] = l->id[i] >> 8;
	q[1] = l->id[i] & 0xff;
	q[2] = 0x01;			/* RD */
	q[5] = 1;			/* QDCOUNT */
	if ((n = put_name(q + 12, sizeof(q) - 16, name)) == -1)
		return -1;
	n += 12;
	q[n++] = 0;
	q[n++] = DNS_T_SRV;
	q[n++] = 0;
	q[n++] = 1;			/* IN */
	return send(l->fd, q, (size_t)n, 0) == n ? 0 : -1;
}

/*
 * Reads a possibly compressed name at *off into out (dotted, no
 * trailing dot; "" for the root); *off moves past it.  0 or -1.
 */
static int
get_name(const unsigned char *m, size_t len, size_t *off, char *out,
    size_t outlen)
{
	size_t	pos = *off, o = 0, n;
	int	jumps = 0, jumped = 0;

	for (;;) {
		if (pos >= len)
			return -1;
		n = m[pos];
		if ((n & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++jumps > 16)
				return -1;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			pos = ((n & 0x3f) << 8) | m[pos + 1];
			continue;
		}
		if (n & 0xc0)
			return -1;
		pos++;
		if (n == 0)
			break;
		if (pos + n > len || o + n + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, m + pos, n);
		o += n;
		pos += n;
	}
	out[o] = '\0';
	if (!jumped)
		*off = pos;
	return 0;
}

int
s2s_dns_parse_srv(const unsigned char *m, size_t len, int tls,
    struct s2s_srv *v, size_t max, size_t *n, int *nxdomain)
{
	char		 name[300];
	size_t		 off = 12, rdend;
	unsigned	 qd, an, type, rdlen, k;
	struct s2s_srv	*t;

	if (len < 12 || !(m[2] & 0x80))
		return -1;
	qd = (unsigned)(m[4] << 8 | m[5]);
	an = (unsigned)(m[6] << 8 | m[7]);
	if ((m[3] & 0x0f) == 3)
		*nxdomain = 1;
	for (k = 0; k < qd; k++) {
		if (get_name(m, len, &off, name, sizeof(name)) == -1 ||
		    off + 4 > len)
			return -1;
		off += 4;
	}
	for (k = 0; k < an; k++) {
		if (get_name(m, len, &off, name, sizeof(name)) == -1 ||
		    off + 10 > len)
			return -1;
		type = (unsigned)(m[off] << 8 | m[off + 1]);
		rdlen = (unsigned)(m[off + 8] << 8 | m[off + 9]);
		off += 10;
		rdend = off + rdlen;
		if (rdend > len)
			return -1;
		if (type == DNS_T_SRV && rdlen >= 7 && *n < max) {
			t = &v[*n];
			t->prio = (unsigned)(m[off] << 8 | m[off + 1]);
			t->weight = (unsigned)(m[off + 2] << 8 | m[off + 3]);
			t->port = (unsigned)(m[off + 4] << 8 | m[off + 5]);
			off += 6;
			if (get_name(m, len, &off, t->host,
			    sizeof(t->host)) == -1 || off > rdend)
				return -1;
			t->tls = tls;
			(*n)++;
		}
		off = rdend;
	}
	return 0;
}

void
s2s_dns_order(struct s2s_srv *v, size_t n)
{
	struct s2s_srv	 tmp;
	size_t		 i, j, end;
	uint32_t	 total, r, acc;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j].prio < v[j - 1].prio; j--) {
			tmp = v[j];
			v[j] = v[j - 1];
			v[j - 1] = tmp;
		}
	/* Each place takes one of the rest of its priority, by weight. */
	for (i = 0; i < n; i++) {
		for (end = i; end < n && v[end].prio == v[i].prio; end++)
			;
		total = 0;
		for (j = i; j < end; j++)
			total += v[j].weight;
		if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
			r = 0;
		r = r % (total + 1);
		acc = 0;
		for (j = i; j < end - 1; j++) {
			acc += v[j].weight;
			if (acc >= r)
				break;
		}
		tmp = v[i];
		v[i] = v[j];
		v[j] = tmp;
	}
}

/* The usable targets of the answers; "." alone means no service. */
static void
targets(struct srv_lookup *l)
{
	size_t	i;

	l->nt = 0;
	for (i = 0; i < l->nraw; i++) {
		l->any = 1;
		if (l->raw[i].host[0] == '\0')
			l->dot = 1;
		else if (l->raw[i].port != 0)
			l->t[l->nt++] = l->raw[i];
	}
}

/* Both answers in (or time is up): on to the addresses. */
static void
srv_done(struct s2s *s, const char *timeout)
{
	struct srv_lookup	*l = s->srv;

	event_free(l->ev);
	l->ev = NULL;
	close(l->fd);
	l->fd = -1;
	if (timeout != NULL)
		log_info("s2s %s -> %s: DNS: SRV %s; trying the domain's "
		    "address records", s->local, s->remote, timeout);
	targets(l);
	if (l->nt == 0) {
		if (l->dot) {
			s2s_out_resolved(s, "DNS: the domain's SRV record "
			    "says it offers no XMPP service");
			return;
		}
		if (!l->any)
			log_debug("s2s %s -> %s: no SRV record; using port "
			    "%d", s->local, s->remote, XMPP_SERVER_PORT);
		snprintf(l->t[0].host, sizeof(l->t[0].host), "%s", s->remote);
		l->t[0].port = XMPP_SERVER_PORT;
		l->t[0].tls = 0;
		l->nt = 1;
	} else
		s2s_dns_order(l->t, l->nt);
	l->next = 0;
	resolve_next_target(s);
}

static void
srv_cb(int fd, short ev, void *arg)
{
	struct s2s		*s = arg;
	struct srv_lookup	*l = s->srv;
	unsigned char		 m[DNS_MAX_UDP];
	ssize_t			 n;
	uint16_t		 id;
	int			 i;

	if (ev & EV_TIMEOUT) {
		srv_done(s, "timeout");
		return;
	}
	while ((n = recv(fd, m, sizeof(m), 0)) >= 0) {
		if (n < 12)
			continue;
		id = (uint16_t)(m[0] << 8 | m[1]);
		for (i = 0; i < 2; i++)
			if (!l->answered[i] && id == l->id[i] &&
			    s2s_dns_parse_srv(m, (size_t)n, i == 0, l->raw,
			    SRV_MAX_TARGETS, &l->nraw, &l->nxdomain[i]) == 0)
				l->answered[i] = 1;
	}
	if (errno == ECONNREFUSED) {
		srv_done(s, "query refused (no nameserver there)");
		return;
	}
	if (l->answered[0] && l->answered[1])
		srv_done(s, NULL);
}

/* Asks both SRV questions; -1 if no nameserver can be asked. */
static int
srv_start(struct s2s *s)
{
	struct srv_lookup	*l;
	struct sockaddr_storage	 ns;
	unsigned		 t = loop_conf()->s2s.connect_timeout / 3;
	struct timeval		 tv = { t < 1 ? 1 : t > SRV_TIMEOUT ?
				    SRV_TIMEOUT : t, 0 };
	int			 len;

	len = evdns_base_get_nameserver_addr(s2s_dns(), 0,
	    (struct sockaddr *)&ns, sizeof(ns));
	if (len <= 0 || (size_t)len > sizeof(ns))
		return -1;
	l = xcalloc(1, sizeof(*l));
	l->s = s;
	if (RAND_bytes((unsigned char *)l->id, sizeof(l->id)) != 1)
		fatalx("s2s: RAND_bytes failed");
	l->id[1] ^= l->id[0] == l->id[1];
	if ((l->fd = socket(ns.ss_family, SOCK_DGRAM, 0)) == -1 ||
	    evutil_make_socket_nonblocking(l->fd) == -1 ||
	    evutil_make_socket_closeonexec(l->fd) == -1 ||
	    connect(l->fd, (struct sockaddr *)&ns, (socklen_t)len) == -1 ||
	    send_query(l, 0, "xmpps-server", s->remote) == -1 ||
	    send_query(l, 1, "xmpp-server", s->remote) == -1) {
		log_info("s2s %s -> %s: DNS: cannot send the SRV query: %s",
		    s->local, s->remote, strerror(errno));
		srv_free(l);
		return -1;
	}
	l->ev = event_new(loop_base(), l->fd, EV_READ | EV_PERSIST, srv_cb,
	    s);
	event_add(l->ev, &tv);
	s->srv = l;
	return 0;
}

void
s2s_dns_resolve(struct s2s *s)
{
	const struct conf_s2s_route	*r;
	struct srv_lookup		*l;

	if ((r = conf_s2s_route_find(loop_conf(), s->remote)) != NULL) {
		log_debug("s2s %s -> %s: s2s_route %s:%d", s->local, s->remote,
		    r->host, r->port);
		lookup_host(s, r->host, (unsigned)r->port);
		return;
	}
	if (strcmp(s->remote, "invalid") == 0 || (strlen(s->remote) > 8 &&
	    strcmp(s->remote + strlen(s->remote) - 8, ".invalid") == 0)) {
		/* RFC 6761 6.4: never exists; no query. */
		s2s_out_resolved(s, "DNS: .invalid names do not exist "
		    "(RFC 6761)");
		return;
	}
	if (srv_start(s) == 0)
		return;
	/* No nameserver to ask for SRV: the domain on port 5269. */
	l = xcalloc(1, sizeof(*l));
	l->fd = -1;
	snprintf(l->t[0].host, sizeof(l->t[0].host), "%s", s->remote);
	l->t[0].port = XMPP_SERVER_PORT;
	l->nt = 1;
	s->srv = l;
	resolve_next_target(s);
}

void
s2s_dns_cancel(struct s2s *s)
{
	if (s->dns_pending && s->dnsreq != NULL)
		evdns_getaddrinfo_cancel(s->dnsreq);
	s->dns_pending = 0;
	s->dnsreq = NULL;
	srv_free(s->srv);
	s->srv = NULL;
}
