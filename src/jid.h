/*
 * JIDs (RFC 7622 syntax, prepared with the stringprep profiles of RFC 3920
 * as Prosody and jabberd2 do: nodeprep, nameprep, resourceprep).  This is
 * the only place that prepares JIDs (house rule 15).
 *
 * A struct jid is one allocation holding the prepared parts and the bare
 * and full strings; it is immutable once made.
 */
#ifndef TERN_JID_H
#define TERN_JID_H

#include <stddef.h>

#define JID_PART_MAX	1023	/* bytes per part, after preparation */

struct jid {
	char	*node;		/* NULL when absent */
	char	*domain;	/* never NULL */
	char	*resource;	/* NULL when absent */
	char	*bare;		/* node@domain or domain */
	char	*full;		/* bare[/resource] */
};

/* Parses and prepares s.  NULL if s is not a valid JID.  Caller frees. */
struct jid	*jid_parse(const char *s);
/* Builds a JID from parts (node, resource may be NULL); NULL if invalid. */
struct jid	*jid_new(const char *node, const char *domain,
		    const char *resource);
struct jid	*jid_copy(const struct jid *);
/* A copy without the resource. */
struct jid	*jid_bare_copy(const struct jid *);
void		 jid_free(struct jid *);

/* Both compare prepared forms; NULL-safe for absent parts. */
int		 jid_equal(const struct jid *, const struct jid *);
int		 jid_equal_bare(const struct jid *, const struct jid *);

/*
 * Prepare one part; return a new string (caller frees) or NULL if the
 * input is invalid (bad UTF-8, prohibited code points, empty, or longer
 * than JID_PART_MAX after preparation).
 */
char		*jid_prep_node(const char *);
char		*jid_prep_domain(const char *);
char		*jid_prep_resource(const char *);

#endif
