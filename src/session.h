/*
 * The session table: bound c2s sessions by full JID, and by bare JID the
 * list of that account's resources.  The router is the one place that
 * finds a session; modules get them from the router's events.
 *
 * A session is owned by its stream.  session_unbind removes it from the
 * tables; the stream frees it (session_free) from the reaper.
 */
#ifndef TERN_SESSION_H
#define TERN_SESSION_H

#include <stddef.h>

struct jid;
struct stanza;
struct stream;

struct session {
	struct jid	*jid;		/* full JID */
	struct stream	*stream;
	int		 available;	/* sent available presence */
	int		 priority;	/* -128..127 */
	struct session	*next;		/* next resource of the same account */
	struct stanza	*presence;	/* last broadcast presence, or NULL */
	void		**slots;	/* module data, by registry index */
	size_t		  nslots;
	long long	  last_active;	/* time of the last stanza in */
};

/*
 * Binds jid (full, owned by the session from now on) to stream.
 * Returns NULL if the full JID is taken; *taken then points at the
 * session holding it.
 */
struct session	*session_bind(struct stream *, struct jid *jid,
		    struct session **taken);
void		 session_unbind(struct session *);
void		 session_free(struct session *);

struct session	*session_find_full(const char *full);
/* First resource of a bare JID (follow ->next), or NULL. */
struct session	*session_find_bare(const char *bare);
size_t		 session_count(void);
/* Calls fn for every session; fn may unbind sessions (even others). */
void		 session_each(void (*fn)(struct session *, void *), void *);

/* Queues st (borrowed) to the session's stream. */
void		 session_send(struct session *, const struct stanza *);

/*
 * Sessions without a stream (the in-process module test harness) hand
 * what is sent to them to this function.
 */
extern void	(*session_capture)(struct session *, const struct stanza *);
/* ... and a close (tern_session_close) of such a session to this one. */
extern void	(*session_close_capture)(struct session *, const char *);

#endif
