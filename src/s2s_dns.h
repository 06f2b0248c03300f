/*
 * Where a remote domain's server is: the s2s_route override, else DNS
 * (SRV _xmpps-server._tcp and _xmpp-server._tcp by priority and weight,
 * else the domain's A/AAAA records on port 5269), through libevent's
 * evdns.  Fills s->addrs and calls s2s_out_resolved().
 */
#ifndef TERN_S2S_DNS_H
#define TERN_S2S_DNS_H

#include <stddef.h>

struct s2s;

/* One SRV record. */
struct s2s_srv {
	char		 host[256];	/* "" for the "." target */
	unsigned	 prio, weight, port;
	int		 tls;		/* from _xmpps-server._tcp */
};

void	s2s_dns_resolve(struct s2s *);
/* Stops a lookup in progress; no callback follows. */
void	s2s_dns_cancel(struct s2s *);

/*
 * Parses a DNS response m (len bytes, peer-controlled) to an SRV
 * question: its SRV records are appended to v (room for max, count in
 * *n; tls copied into each), *nxdomain set for NXDOMAIN.  0, or -1 if
 * it is not a response or is malformed (records read so far are kept).
 */
int	s2s_dns_parse_srv(const unsigned char *m, size_t len, int tls,
	    struct s2s_srv *v, size_t max, size_t *n, int *nxdomain);
/* Sorts by priority, weighted random within a priority (RFC 2782). */
void	s2s_dns_order(struct s2s_srv *v, size_t n);

#endif
