/*
 * Delivery rules of RFC 6120 section 10 and RFC 6121 section 8 between
 * local sessions: 'from' stamping, classification of the destination
 * (server, bare JID, full JID, missing account, remote domain), and the
 * default answers when nothing handles a stanza.  The router is the one
 * place that looks sessions up.
 */
#ifndef TERN_ROUTER_H
#define TERN_ROUTER_H

struct session;
struct stanza;

/* A stanza from a bound client session (borrowed; 'from' is stamped). */
void	router_from_session(struct session *, struct stanza *);
/* Routes a stanza whose 'from' is already right (borrowed). */
void	router_route(struct stanza *);
/* A session was bound / is about to leave the tables. */
void	router_bound(struct session *);
void	router_unbound(struct session *);

#endif
