/*
 * Refcounted XML element trees: the one representation of a stanza inside
 * tern, whatever codec it arrived through.  Names are local names; each
 * element carries its namespace URI (never a prefix).  Attributes carry a
 * namespace URI too: NULL for plain attributes, STANZA_NS_XML for xml:lang.
 *
 * Ownership: stanza_new/_copy/_ref return a reference the caller releases
 * with stanza_unref.  A child added to a parent is owned by the parent.
 * A stanza that is fanned out to several sessions is copied before it is
 * changed (house rule 4).
 */
#ifndef TERN_STANZA_H
#define TERN_STANZA_H

#include <stddef.h>

#define STANZA_NS_XML		"http://www.w3.org/XML/1998/namespace"
#define STANZA_NS_STREAMS	"http://etherx.jabber.org/streams"
#define STANZA_NS_CLIENT	"jabber:client"
#define STANZA_NS_SERVER	"jabber:server"
#define STANZA_NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define STANZA_NS_STREAM_ERR	"urn:ietf:params:xml:ns:xmpp-streams"

struct stanza_attr {
	char	*ns;		/* NULL: no namespace */
	char	*name;
	char	*value;
};

struct stanza;

struct stanza_node {
	struct stanza	*el;	/* element child, or NULL for text */
	char		*text;	/* text child (NUL-terminated), or NULL */
	size_t		 textlen;
};

struct stanza {
	int			 refs;
	char			*ns;
	char			*name;
	struct stanza_attr	*attrs;
	size_t			 nattrs;
	size_t			 attrcap;
	struct stanza_node	*kids;
	size_t			 nkids;
	size_t			 kidcap;
};

enum stanza_kind {
	STANZA_OTHER = 0,	/* not a jabber:client message/presence/iq */
	STANZA_MESSAGE,
	STANZA_PRESENCE,
	STANZA_IQ,
};

struct stanza	*stanza_new(const char *ns, const char *name);
struct stanza	*stanza_ref(struct stanza *);
void		 stanza_unref(struct stanza *);
struct stanza	*stanza_copy(const struct stanza *);	/* deep */

/* Attributes without a namespace; value NULL removes. */
const char	*stanza_attr(const struct stanza *, const char *name);
void		 stanza_set_attr(struct stanza *, const char *name,
		    const char *value);
const char	*stanza_attr_ns(const struct stanza *, const char *ns,
		    const char *name);
void		 stanza_set_attr_ns(struct stanza *, const char *ns,
		    const char *name, const char *value);

/*
 * Adds a new empty child element and returns it (borrowed: the parent
 * owns it).  ns NULL means the parent's namespace.
 */
struct stanza	*stanza_add_child(struct stanza *, const char *ns,
		    const char *name);
/* Appends child, taking over the caller's reference. */
void		 stanza_add_child_take(struct stanza *, struct stanza *child);
/* Appends text (merged with a preceding text node). */
void		 stanza_add_text(struct stanza *, const char *, size_t);
/* Adds <name xmlns=ns>text</name>; returns the child (borrowed). */
struct stanza	*stanza_add_text_child(struct stanza *, const char *ns,
		    const char *name, const char *text);
/*
 * Removes and releases every child element with this ns and name (NULL
 * matches any); text nodes left side by side are merged.
 */
void		 stanza_remove_children(struct stanza *, const char *ns,
		    const char *name);

/* First child element matching ns and name; NULL matches any. Borrowed. */
struct stanza	*stanza_child(const struct stanza *, const char *ns,
		    const char *name);
/* Number of child elements (text nodes not counted). */
size_t		 stanza_nelements(const struct stanza *);
/* Concatenated direct text children ("" if none); caller frees. */
char		*stanza_text(const struct stanza *);

enum stanza_kind stanza_kind(const struct stanza *);

/*
 * An iq result answering st: same id, to = st's from, from = st's to.
 * Caller releases it.
 */
struct stanza	*stanza_reply(const struct stanza *st);
/*
 * The RFC 6120 8.3 error reply to st: same name and id, type="error",
 * addresses swapped, <error type=etype><condition xmlns=stanzas/>
 * [<text>text</text>]</error>.  Returns NULL when st is itself of type
 * error (errors are never answered).  Caller releases it.
 */
struct stanza	*stanza_error_reply(const struct stanza *st,
		    const char *etype, const char *condition,
		    const char *text);

#endif
