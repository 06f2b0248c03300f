/*
 * The in-process module harness: a ternd without sockets.  A fake host
 * runs the real router, sessions table, store and modules; sessions have
 * no stream, and what the server sends them is captured in a queue the
 * test reads as XML text.
 */
#ifndef TERN_HARNESS_H
#define TERN_HARNESS_H

#include <stddef.h>

struct session;

/*
 * Starts with the given host-block body (e.g. "modules roster;") for
 * host "example.org" (and "other.org" with the same modules); creates
 * the accounts alice, bob and carol on example.org (password "pw").
 */
void		 harness_start(const char *host_body);
void		 harness_stop(void);
/* Simulates a restart: modules stopped and started, data kept. */
void		 harness_restart(void);
/* A bound session for a full JID (not yet available). */
struct session	*harness_login(const char *full);
/* Ends a session as a dropped connection would. */
void		 harness_logout(struct session *);
/* Sends XML text from the session, as its client would. */
void		 harness_send(struct session *, const char *xml);
/*
 * The next stanza the session received, as XML (static buffer, valid
 * until the next call), or NULL when none is queued.  A module closing
 * the session (tern_session_close) queues <closed condition='COND'/>.
 */
const char	*harness_next(struct session *);
/* Drops everything queued for the session; returns how many. */
size_t		 harness_drain(struct session *);
/* Runs the event loop once without blocking (timers). */
void		 harness_tick(void);

#endif
