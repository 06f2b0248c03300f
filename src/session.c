/*
 * Session tables.  by_full maps a full JID to its session; by_bare maps a
 * bare JID to the head of a singly linked list of its resources (an
 * account rarely has more than a handful).  Keys are the JID strings that
 * each session owns.
 */
#include <stdlib.h>

#include "htab.h"
#include "jid.h"
#include "module.h"
#include "stanza.h"
#include "session.h"
#include "stream.h"
#include "xmalloc.h"

static struct htab	by_full;
static struct htab	by_bare;

struct session *
session_bind(struct stream *st, struct jid *jid, struct session **taken)
{
	struct session	*s, *head;

	if ((*taken = htab_get(&by_full, jid->full)) != NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->jid = jid;
	s->stream = st;
	htab_put(&by_full, jid->full, s);
	head = htab_get(&by_bare, jid->bare);
	s->next = head;
	/* The key must be a string this head owns. */
	htab_put(&by_bare, jid->bare, s);
	return s;
}

void
session_unbind(struct session *s)
{
	struct session	*head, **p;

	if (htab_get(&by_full, s->jid->full) != s)
		return;
	htab_del(&by_full, s->jid->full);
	head = htab_get(&by_bare, s->jid->bare);
	for (p = &head; *p != NULL; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	if (head == NULL)
		htab_del(&by_bare, s->jid->bare);
	else
		htab_put(&by_bare, head->jid->bare, head);
	s->next = NULL;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	module_session_free(s);
	if (s->presence != NULL)
		stanza_unref(s->presence);
	jid_free(s->jid);
	free(s);
}

struct session *
session_find_full(const char *full)
{
	return htab_get(&by_full, full);
}

struct session *
session_find_bare(const char *bare)
{
	return htab_get(&by_bare, bare);
}

struct collect {
	struct session	**v;
	size_t		  n;
};

static void
collect(void *val, void *arg)
{
	struct collect	*c = arg;

	c->v[c->n++] = val;
}

void
session_each(void (*fn)(struct session *, void *), void *arg)
{
	struct collect	c;
	size_t		i;

	/* A snapshot: fn may change the tables while we walk. */
	c.v = xcalloc(by_full.n ? by_full.n : 1, sizeof(*c.v));
	c.n = 0;
	htab_each(&by_full, collect, &c);
	for (i = 0; i < c.n; i++)
		fn(c.v[i], arg);
	free(c.v);
}

size_t
session_count(void)
{
	return by_full.n;
}

void	(*session_capture)(struct session *, const struct stanza *);
void	(*session_close_capture)(struct session *, const char *);

void
session_send(struct session *s, const struct stanza *st)
{
	if (s->stream != NULL)
		stream_send(s->stream, st);
	else if (session_capture != NULL)	/* the module test harness */
		session_capture(s, st);
}
