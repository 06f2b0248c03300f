/*
 * Refcounted XML element trees (see stanza.h).  Every string in a tree is
 * its own allocation owned by the element that holds it; child elements
 * are owned by their parent through one reference each, so a child kept
 * with stanza_ref outlives its parent.  Adjacent text children are always
 * merged, so two trees that mean the same XML compare node by node.
 */
#include <stdlib.h>
#include <string.h>

#include "stanza.h"
#include "xmalloc.h"

static int
ns_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* NULL in the pattern matches anything. */
static int
el_match(const struct stanza *el, const char *ns, const char *name)
{
	if (ns != NULL && (el->ns == NULL || strcmp(el->ns, ns) != 0))
		return 0;
	if (name != NULL && strcmp(el->name, name) != 0)
		return 0;
	return 1;
}

struct stanza *
stanza_new(const char *ns, const char *name)
{
	struct stanza	*st;

	st = xcalloc(1, sizeof(*st));
	st->refs = 1;
	st->ns = ns != NULL ? xstrdup(ns) : NULL;
	st->name = xstrdup(name);
	return st;
}

struct stanza *
stanza_ref(struct stanza *st)
{
	st->refs++;
	return st;
}

void
stanza_unref(struct stanza *st)
{
	size_t	i;

	if (st == NULL || --st->refs > 0)
		return;
	for (i = 0; i < st->nattrs; i++) {
		free(st->attrs[i].ns);
		free(st->attrs[i].name);
		free(st->attrs[i].value);
	}
	free(st->attrs);
	for (i = 0; i < st->nkids; i++) {
		stanza_unref(st->kids[i].el);
		free(st->kids[i].text);
	}
	free(st->kids);
	free(st->ns);
	free(st->name);
	free(st);
}

static struct stanza_node *
node_append(struct stanza *st)
{
	struct stanza_node	*n;

	if (st->nkids == st->kidcap) {
		st->kidcap = st->kidcap == 0 ? 2 : st->kidcap * 2;
		st->kids = xreallocarray(st->kids, st->kidcap,
		    sizeof(*st->kids));
	}
	n = &st->kids[st->nkids++];
	memset(n, 0, sizeof(*n));
	return n;
}

struct stanza *
stanza_copy(const struct stanza *st)
{
	struct stanza		*cp;
	const struct stanza_node *n;
	size_t			 i;

	cp = stanza_new(st->ns, st->name);
	if (st->nattrs > 0) {
		cp->attrs = xreallocarray(NULL, st->nattrs, sizeof(*cp->attrs));
		cp->attrcap = cp->nattrs = st->nattrs;
		for (i = 0; i < st->nattrs; i++) {
			cp->attrs[i].ns = st->attrs[i].ns != NULL ?
			    xstrdup(st->attrs[i].ns) : NULL;
			cp->attrs[i].name = xstrdup(st->attrs[i].name);
			cp->attrs[i].value = xstrdup(st->attrs[i].value);
		}
	}
	for (i = 0; i < st->nkids; i++) {
		n = &st->kids[i];
		if (n->el != NULL)
			stanza_add_child_take(cp, stanza_copy(n->el));
		else
			stanza_add_text(cp, n->text, n->textlen);
	}
	return cp;
}

static struct stanza_attr *
attr_find(const struct stanza *st, const char *ns, const char *name)
{
	size_t	i;

	for (i = 0; i < st->nattrs; i++)
		if (ns_equal(st->attrs[i].ns, ns) &&
		    strcmp(st->attrs[i].name, name) == 0)
			return &st->attrs[i];
	return NULL;
}

const char *
stanza_attr(const struct stanza *st, const char *name)
{
	return stanza_attr_ns(st, NULL, name);
}

void
stanza_set_attr(struct stanza *st, const char *name, const char *value)
{
	stanza_set_attr_ns(st, NULL, name, value);
}

const char *
stanza_attr_ns(const struct stanza *st, const char *ns, const char *name)
{
	struct stanza_attr	*a;

	if ((a = attr_find(st, ns, name)) == NULL)
		return NULL;
	return a->value;
}

void
stanza_set_attr_ns(struct stanza *st, const char *ns, const char *name,
    const char *value)
{
	struct stanza_attr	*a;
	char			*v;
	size_t			 i;

	if ((a = attr_find(st, ns, name)) != NULL) {
		if (value == NULL) {
			free(a->ns);
			free(a->name);
			free(a->value);
			i = a - st->attrs;
			memmove(a, a + 1, (st->nattrs - i - 1) * sizeof(*a));
			st->nattrs--;
			return;
		}
		/* value may point into the old one. */
		v = xstrdup(value);
		free(a->value);
		a->value = v;
		return;
	}
	if (value == NULL)
		return;
	if (st->nattrs == st->attrcap) {
		st->attrcap = st->attrcap == 0 ? 4 : st->attrcap * 2;
		st->attrs = xreallocarray(st->attrs, st->attrcap,
		    sizeof(*st->attrs));
	}
	a = &st->attrs[st->nattrs++];
	a->ns = ns != NULL ? xstrdup(ns) : NULL;
	a->name = xstrdup(name);
	a->value = xstrdup(value);
}

struct stanza *
stanza_add_child(struct stanza *st, const char *ns, const char *name)
{
	struct stanza	*child;

	child = stanza_new(ns != NULL ? ns : st->ns, name);
	stanza_add_child_take(st, child);
	return child;
}

void
stanza_add_child_take(struct stanza *st, struct stanza *child)
{
	node_append(st)->el = child;
}

void
stanza_add_text(struct stanza *st, const char *text, size_t len)
{
	struct stanza_node	*n;

	if (len == 0)
		return;
	if (st->nkids > 0 && st->kids[st->nkids - 1].el == NULL) {
		n = &st->kids[st->nkids - 1];
		n->text = xreallocarray(n->text, n->textlen + len + 1, 1);
	} else {
		n = node_append(st);
		n->text = xmalloc(len + 1);
	}
	memcpy(n->text + n->textlen, text, len);
	n->textlen += len;
	n->text[n->textlen] = '\0';
}

struct stanza *
stanza_add_text_child(struct stanza *st, const char *ns, const char *name,
    const char *text)
{
	struct stanza	*child;

	child = stanza_add_child(st, ns, name);
	if (text != NULL)
		stanza_add_text(child, text, strlen(text));
	return child;
}

void
stanza_remove_children(struct stanza *st, const char *ns, const char *name)
{
	struct stanza_node	*n, *prev;
	size_t			 i, j;

	for (i = j = 0; i < st->nkids; i++) {
		n = &st->kids[i];
		if (n->el != NULL && el_match(n->el, ns, name)) {
			stanza_unref(n->el);
			continue;
		}
		prev = j > 0 ? &st->kids[j - 1] : NULL;
		if (n->el == NULL && prev != NULL && prev->el == NULL) {
			/* Removal left two text nodes side by side. */
			prev->text = xreallocarray(prev->text,
			    prev->textlen + n->textlen + 1, 1);
			memcpy(prev->text + prev->textlen, n->text,
			    n->textlen + 1);
			prev->textlen += n->textlen;
			free(n->text);
			continue;
		}
		st->kids[j++] = *n;
	}
	st->nkids = j;
}

struct stanza *
stanza_child(const struct stanza *st, const char *ns, const char *name)
{
	size_t	i;

	for (i = 0; i < st->nkids; i++)
		if (st->kids[i].el != NULL &&
		    el_match(st->kids[i].el, ns, name))
			return st->kids[i].el;
	return NULL;
}

size_t
stanza_nelements(const struct stanza *st)
{
	size_t	i, n = 0;

	for (i = 0; i < st->nkids; i++)
		if (st->kids[i].el != NULL)
			n++;
	return n;
}

char *
stanza_text(const struct stanza *st)
{
	char	*s;
	size_t	 i, len = 0;

	for (i = 0; i < st->nkids; i++)
		if (st->kids[i].el == NULL)
			len += st->kids[i].textlen;
	s = xmalloc(len + 1);
	len = 0;
	for (i = 0; i < st->nkids; i++) {
		if (st->kids[i].el != NULL)
			continue;
		memcpy(s + len, st->kids[i].text, st->kids[i].textlen);
		len += st->kids[i].textlen;
	}
	s[len] = '\0';
	return s;
}

static const struct {
	const char		*name;
	enum stanza_kind	 kind;
} stanza_kinds[] = {
	{ "message",	STANZA_MESSAGE },
	{ "presence",	STANZA_PRESENCE },
	{ "iq",		STANZA_IQ },
};

enum stanza_kind
stanza_kind(const struct stanza *st)
{
	size_t	i;

	if (st->ns == NULL || (strcmp(st->ns, STANZA_NS_CLIENT) != 0 &&
	    strcmp(st->ns, STANZA_NS_SERVER) != 0))
		return STANZA_OTHER;
	for (i = 0; i < sizeof(stanza_kinds) / sizeof(stanza_kinds[0]); i++)
		if (strcmp(st->name, stanza_kinds[i].name) == 0)
			return stanza_kinds[i].kind;
	return STANZA_OTHER;
}

/* A new element named name answering st: id kept, to and from swapped. */
static struct stanza *
answer_new(const struct stanza *st, const char *name, const char *type)
{
	struct stanza	*r;

	r = stanza_new(st->ns, name);
	stanza_set_attr(r, "type", type);
	stanza_set_attr(r, "id", stanza_attr(st, "id"));
	stanza_set_attr(r, "to", stanza_attr(st, "from"));
	stanza_set_attr(r, "from", stanza_attr(st, "to"));
	return r;
}

struct stanza *
stanza_reply(const struct stanza *st)
{
	return answer_new(st, "iq", "result");
}

struct stanza *
stanza_error_reply(const struct stanza *st, const char *etype,
    const char *condition, const char *text)
{
	struct stanza	*r, *err;
	const char	*type;

	if ((type = stanza_attr(st, "type")) != NULL &&
	    strcmp(type, "error") == 0)
		return NULL;
	r = answer_new(st, st->name, "error");
	err = stanza_add_child(r, NULL, "error");
	stanza_set_attr(err, "type", etype);
	stanza_add_child(err, STANZA_NS_STANZAS, condition);
	if (text != NULL)
		stanza_add_text_child(err, STANZA_NS_STANZAS, "text", text);
	return r;
}
