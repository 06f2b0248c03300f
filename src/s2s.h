/*
 * Federation (RFC 6120 server-to-server streams, XEP-0220 Server
 * Dialback, XEP-0178 SASL EXTERNAL): the router hands stanzas for
 * domains this server does not serve to s2s_route(); incoming server
 * streams come from s2s listeners through s2s_accept().
 */
#ifndef TERN_S2S_H
#define TERN_S2S_H

#include <stddef.h>
#include <sys/socket.h>

struct jid;
struct stanza;

/* Creates the dialback secret and the resolver; after loop_init(). */
void	s2s_init(void);
void	s2s_free(void);
/*
 * SIGHUP: streams opened from now on use the hosts' current certificates
 * and s2s_ca_file (a bad one is logged; the system store still counts).
 */
void	s2s_reload(void);
/* A socket accepted on an s2s listener (direct: XEP-0368 TLS). */
void	s2s_accept(int fd, const struct sockaddr *, socklen_t, int direct);
/*
 * A stanza (borrowed) for the remote domain of to.  Queued until a
 * connection is authenticated; bounced to its sender when that fails.
 */
void	s2s_route(const struct stanza *, const struct jid *to);
/* SIGTERM: closes every server stream; the count still open. */
void	s2s_shutdown_all(void);
size_t	s2s_count(void);

#endif
