/*
 * Where a remote domain's server is: the s2s_route override, else DNS
 * (SRV _xmpps-server._tcp and _xmpp-server._tcp by priority and weight,
 * else the domain's A/AAAA records on port 5269), through libevent's
 * evdns.  Fills s->addrs and calls s2s_out_resolved().
 */
#ifndef TERN_S2S_DNS_H
#define TERN_S2S_DNS_H

struct s2s;

void	s2s_dns_resolve(struct s2s *);
/* Stops a lookup in progress; no callback follows. */
void	s2s_dns_cancel(struct s2s *);

#endif
