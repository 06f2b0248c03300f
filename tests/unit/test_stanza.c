/*
 * Unit tests for stanza.c: building, copying and releasing trees,
 * attributes, text merging, child lookup, kinds and the reply helpers.
 * Every tree built here is released, so ASan and valgrind see no leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "stanza.h"

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Same names, namespaces, attributes (in order) and children. */
static int
tree_equal(const struct stanza *a, const struct stanza *b)
{
	size_t	i;

	if (!str_eq(a->ns, b->ns) || strcmp(a->name, b->name) != 0 ||
	    a->nattrs != b->nattrs || a->nkids != b->nkids)
		return 0;
	for (i = 0; i < a->nattrs; i++)
		if (!str_eq(a->attrs[i].ns, b->attrs[i].ns) ||
		    strcmp(a->attrs[i].name, b->attrs[i].name) != 0 ||
		    strcmp(a->attrs[i].value, b->attrs[i].value) != 0)
			return 0;
	for (i = 0; i < a->nkids; i++) {
		if ((a->kids[i].el == NULL) != (b->kids[i].el == NULL))
			return 0;
		if (a->kids[i].el != NULL) {
			if (!tree_equal(a->kids[i].el, b->kids[i].el))
				return 0;
		} else if (a->kids[i].textlen != b->kids[i].textlen ||
		    memcmp(a->kids[i].text, b->kids[i].text,
		    a->kids[i].textlen) != 0)
			return 0;
	}
	return 1;
}

static struct stanza *
sample_message(void)
{
	struct stanza	*m, *x;

	m = stanza_new(STANZA_NS_CLIENT, "message");
	stanza_set_attr(m, "to", "juliet@example.com/balcony");
	stanza_set_attr(m, "from", "romeo@example.net/orchard");
	stanza_set_attr(m, "type", "chat");
	stanza_set_attr(m, "id", "m1");
	stanza_set_attr_ns(m, STANZA_NS_XML, "lang", "en");
	stanza_add_text_child(m, NULL, "body", "Wherefore art thou?");
	stanza_add_child(m, "http://jabber.org/protocol/chatstates", "active");
	x = stanza_add_child(m, "jabber:x:data", "x");
	stanza_set_attr(x, "type", "form");
	stanza_add_text_child(stanza_add_child(x, NULL, "field"), NULL,
	    "value", "1");
	return m;
}

Test(stanza, new_and_names)
{
	struct stanza	*st;

	st = stanza_new(STANZA_NS_CLIENT, "iq");
	cr_assert_eq(st->refs, 1);
	cr_assert_str_eq(st->ns, STANZA_NS_CLIENT);
	cr_assert_str_eq(st->name, "iq");
	cr_assert_eq(st->nattrs, 0);
	cr_assert_eq(st->nkids, 0);
	stanza_unref(st);

	st = stanza_new(NULL, "plain");
	cr_assert_null(st->ns);
	stanza_unref(st);
	stanza_unref(NULL);
}

Test(stanza, refcount)
{
	struct stanza	*st, *child;

	st = sample_message();
	cr_assert_eq(stanza_ref(st), st);
	cr_assert_eq(st->refs, 2);
	stanza_unref(st);
	cr_assert_eq(st->refs, 1);

	/* A child kept with a reference outlives its parent. */
	child = stanza_ref(stanza_child(st, NULL, "body"));
	stanza_unref(st);
	cr_assert_eq(child->refs, 1);
	cr_assert_str_eq(child->name, "body");
	stanza_unref(child);
}

Test(stanza, deep_copy)
{
	struct stanza	*m, *cp;
	char		*t;

	m = sample_message();
	stanza_add_text(m, "tail", 4);
	cp = stanza_copy(m);
	cr_assert_neq(cp, m);
	cr_assert_eq(cp->refs, 1);
	cr_assert(tree_equal(m, cp));

	/* Changing the copy leaves the original alone. */
	stanza_set_attr(cp, "to", "other@example.com");
	stanza_remove_children(cp, NULL, "body");
	stanza_add_text(stanza_child(cp, "jabber:x:data", "x"), "y", 1);
	cr_assert_str_eq(stanza_attr(m, "to"), "juliet@example.com/balcony");
	t = stanza_text(stanza_child(m, NULL, "body"));
	cr_assert_str_eq(t, "Wherefore art thou?");
	free(t);
	cr_assert_eq(stanza_child(m, "jabber:x:data", "x")->nkids, 1);
	cr_assert_not(tree_equal(m, cp));
	stanza_unref(m);
	stanza_unref(cp);
}

Test(stanza, attrs_set_replace_remove)
{
	struct stanza	*st;
	const char	*v;
	char		 name[16];
	int		 i;

	st = stanza_new(STANZA_NS_CLIENT, "presence");
	cr_assert_null(stanza_attr(st, "to"));
	stanza_set_attr(st, "to", "a@example.org");
	stanza_set_attr(st, "id", "p1");
	stanza_set_attr(st, "type", "probe");
	cr_assert_eq(st->nattrs, 3);
	cr_assert_str_eq(stanza_attr(st, "to"), "a@example.org");

	/* Replace keeps the position. */
	stanza_set_attr(st, "to", "b@example.org");
	cr_assert_eq(st->nattrs, 3);
	cr_assert_str_eq(st->attrs[0].name, "to");
	cr_assert_str_eq(stanza_attr(st, "to"), "b@example.org");

	/* Replacing a value with itself. */
	v = stanza_attr(st, "id");
	stanza_set_attr(st, "id", v);
	cr_assert_str_eq(stanza_attr(st, "id"), "p1");

	/* Remove keeps the order of the rest. */
	stanza_set_attr(st, "id", NULL);
	cr_assert_eq(st->nattrs, 2);
	cr_assert_null(stanza_attr(st, "id"));
	cr_assert_str_eq(st->attrs[0].name, "to");
	cr_assert_str_eq(st->attrs[1].name, "type");
	stanza_set_attr(st, "missing", NULL);
	cr_assert_eq(st->nattrs, 2);

	/* Namespaced attributes are apart from plain ones. */
	stanza_set_attr_ns(st, STANZA_NS_XML, "lang", "de");
	stanza_set_attr(st, "lang", "plain");
	cr_assert_str_eq(stanza_attr_ns(st, STANZA_NS_XML, "lang"), "de");
	cr_assert_str_eq(stanza_attr(st, "lang"), "plain");
	cr_assert_null(stanza_attr_ns(st, "urn:other", "lang"));
	stanza_set_attr_ns(st, STANZA_NS_XML, "lang", "fr");
	cr_assert_str_eq(stanza_attr_ns(st, STANZA_NS_XML, "lang"), "fr");
	stanza_set_attr_ns(st, STANZA_NS_XML, "lang", NULL);
	cr_assert_null(stanza_attr_ns(st, STANZA_NS_XML, "lang"));
	cr_assert_str_eq(stanza_attr(st, "lang"), "plain");
	cr_assert_eq(st->nattrs, 3);

	/* Many attributes: storage grows. */
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		stanza_set_attr(st, name, name);
	}
	cr_assert_eq(st->nattrs, 103);
	cr_assert_str_eq(stanza_attr(st, "a77"), "a77");
	stanza_unref(st);
}

Test(stanza, text_merge)
{
	struct stanza	*st;
	char		*t;

	st = stanza_new(STANZA_NS_CLIENT, "body");
	t = stanza_text(st);
	cr_assert_str_eq(t, "");
	free(t);

	stanza_add_text(st, "Hello", 5);
	stanza_add_text(st, ", ", 2);
	stanza_add_text(st, "", 0);
	stanza_add_text(st, "world!xyz", 6);
	cr_assert_eq(st->nkids, 1);
	cr_assert_eq(st->kids[0].textlen, 13);
	cr_assert_str_eq(st->kids[0].text, "Hello, world!");

	/* An element in between starts a new text node. */
	stanza_add_child(st, NULL, "br");
	stanza_add_text(st, " again", 6);
	cr_assert_eq(st->nkids, 3);
	cr_assert_eq(stanza_nelements(st), 1);
	t = stanza_text(st);
	cr_assert_str_eq(t, "Hello, world! again");
	free(t);

	/* Removing that element merges the text around it. */
	stanza_remove_children(st, NULL, "br");
	cr_assert_eq(st->nkids, 1);
	cr_assert_str_eq(st->kids[0].text, "Hello, world! again");
	cr_assert_eq(st->kids[0].textlen, 19);
	stanza_unref(st);
}

Test(stanza, children)
{
	struct stanza	*m, *c, *own;

	m = sample_message();
	cr_assert_eq(stanza_nelements(m), 3);

	c = stanza_child(m, NULL, NULL);
	cr_assert_str_eq(c->name, "body");
	/* ns NULL on add_child means the parent's namespace. */
	cr_assert_str_eq(c->ns, STANZA_NS_CLIENT);
	cr_assert_eq(stanza_child(m, STANZA_NS_CLIENT, "body"), c);
	cr_assert_null(stanza_child(m, "urn:other", "body"));

	c = stanza_child(m, "http://jabber.org/protocol/chatstates", NULL);
	cr_assert_not_null(c);
	cr_assert_str_eq(c->name, "active");
	c = stanza_child(m, NULL, "x");
	cr_assert_str_eq(c->ns, "jabber:x:data");
	cr_assert_str_eq(stanza_child(c, NULL, "field")->ns, "jabber:x:data");
	cr_assert_null(stanza_child(m, NULL, "field"));

	/* add_child_take: the parent takes the caller's reference. */
	own = stanza_new("urn:xmpp:delay", "delay");
	stanza_add_child_take(m, own);
	cr_assert_eq(own->refs, 1);
	cr_assert_eq(stanza_child(m, "urn:xmpp:delay", "delay"), own);

	/* remove_children removes every match and nothing else. */
	stanza_add_child(m, "urn:xmpp:delay", "delay");
	cr_assert_eq(stanza_nelements(m), 5);
	stanza_remove_children(m, "urn:xmpp:delay", "delay");
	cr_assert_eq(stanza_nelements(m), 3);
	cr_assert_null(stanza_child(m, "urn:xmpp:delay", NULL));
	stanza_remove_children(m, NULL, NULL);
	cr_assert_eq(stanza_nelements(m), 0);
	cr_assert_eq(m->nkids, 0);
	stanza_unref(m);
}

Test(stanza, text_child)
{
	struct stanza	*st, *c;
	char		*t;

	st = stanza_new(STANZA_NS_CLIENT, "message");
	c = stanza_add_text_child(st, "urn:x", "subject", "Hi & bye");
	cr_assert_str_eq(c->ns, "urn:x");
	t = stanza_text(c);
	cr_assert_str_eq(t, "Hi & bye");
	free(t);
	c = stanza_add_text_child(st, NULL, "empty", NULL);
	cr_assert_eq(c->nkids, 0);
	stanza_unref(st);
}

Test(stanza, kind)
{
	static const struct {
		const char		*ns;
		const char		*name;
		enum stanza_kind	 kind;
	} cases[] = {
		{ STANZA_NS_CLIENT,	"message",	STANZA_MESSAGE },
		{ STANZA_NS_CLIENT,	"presence",	STANZA_PRESENCE },
		{ STANZA_NS_CLIENT,	"iq",		STANZA_IQ },
		{ STANZA_NS_SERVER,	"message",	STANZA_MESSAGE },
		{ STANZA_NS_SERVER,	"presence",	STANZA_PRESENCE },
		{ STANZA_NS_SERVER,	"iq",		STANZA_IQ },
		{ STANZA_NS_STREAMS,	"features",	STANZA_OTHER },
		{ "urn:ietf:params:xml:ns:xmpp-tls", "starttls", STANZA_OTHER },
		{ "urn:other",		"message",	STANZA_OTHER },
		{ NULL,			"iq",		STANZA_OTHER },
		{ STANZA_NS_CLIENT,	"iqx",		STANZA_OTHER },
	};
	struct stanza	*st;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st = stanza_new(cases[i].ns, cases[i].name);
		cr_assert_eq(stanza_kind(st), cases[i].kind, "case %zu", i);
		stanza_unref(st);
	}
}

Test(stanza, reply)
{
	struct stanza	*iq, *r;

	iq = stanza_new(STANZA_NS_CLIENT, "iq");
	stanza_set_attr(iq, "type", "get");
	stanza_set_attr(iq, "id", "ping1");
	stanza_set_attr(iq, "from", "romeo@example.net/orchard");
	stanza_set_attr(iq, "to", "example.net");
	stanza_add_child(iq, "urn:xmpp:ping", "ping");

	r = stanza_reply(iq);
	cr_assert_str_eq(r->ns, STANZA_NS_CLIENT);
	cr_assert_str_eq(r->name, "iq");
	cr_assert_eq(stanza_kind(r), STANZA_IQ);
	cr_assert_str_eq(stanza_attr(r, "type"), "result");
	cr_assert_str_eq(stanza_attr(r, "id"), "ping1");
	cr_assert_str_eq(stanza_attr(r, "to"), "romeo@example.net/orchard");
	cr_assert_str_eq(stanza_attr(r, "from"), "example.net");
	cr_assert_eq(r->nkids, 0);
	stanza_unref(r);

	/* Absent addresses stay absent. */
	stanza_set_attr(iq, "to", NULL);
	stanza_set_attr(iq, "from", NULL);
	r = stanza_reply(iq);
	cr_assert_null(stanza_attr(r, "to"));
	cr_assert_null(stanza_attr(r, "from"));
	cr_assert_str_eq(stanza_attr(r, "id"), "ping1");
	stanza_unref(r);

	/* On a server stream the answer is in jabber:server. */
	stanza_unref(iq);
	iq = stanza_new(STANZA_NS_SERVER, "iq");
	stanza_set_attr(iq, "type", "set");
	stanza_set_attr(iq, "id", "s1");
	r = stanza_reply(iq);
	cr_assert_str_eq(r->ns, STANZA_NS_SERVER);
	stanza_unref(r);
	stanza_unref(iq);
}

Test(stanza, error_reply)
{
	struct stanza	*m, *r, *err, *cond, *text;
	char		*t;

	m = sample_message();
	r = stanza_error_reply(m, "cancel", "service-unavailable",
	    "No such user");
	cr_assert_not_null(r);
	cr_assert_str_eq(r->ns, STANZA_NS_CLIENT);
	cr_assert_str_eq(r->name, "message");
	cr_assert_str_eq(stanza_attr(r, "type"), "error");
	cr_assert_str_eq(stanza_attr(r, "id"), "m1");
	cr_assert_str_eq(stanza_attr(r, "to"), "romeo@example.net/orchard");
	cr_assert_str_eq(stanza_attr(r, "from"), "juliet@example.com/balcony");
	cr_assert_eq(stanza_nelements(r), 1);

	err = stanza_child(r, STANZA_NS_CLIENT, "error");
	cr_assert_not_null(err);
	cr_assert_str_eq(stanza_attr(err, "type"), "cancel");
	cr_assert_eq(stanza_nelements(err), 2);
	cond = err->kids[0].el;
	cr_assert_not_null(cond);
	cr_assert_str_eq(cond->ns, STANZA_NS_STANZAS);
	cr_assert_str_eq(cond->name, "service-unavailable");
	cr_assert_eq(cond->nkids, 0);
	text = err->kids[1].el;
	cr_assert_str_eq(text->ns, STANZA_NS_STANZAS);
	cr_assert_str_eq(text->name, "text");
	t = stanza_text(text);
	cr_assert_str_eq(t, "No such user");
	free(t);

	/* Errors are never answered. */
	cr_assert_null(stanza_error_reply(r, "cancel", "bad-request", NULL));
	stanza_unref(r);

	/* Without text, no <text/>; an iq keeps its name. */
	stanza_unref(m);
	m = stanza_new(STANZA_NS_CLIENT, "iq");
	stanza_set_attr(m, "type", "get");
	stanza_set_attr(m, "id", "q1");
	stanza_set_attr(m, "from", "a@example.org/r");
	r = stanza_error_reply(m, "modify", "bad-request", NULL);
	cr_assert_str_eq(r->name, "iq");
	cr_assert_str_eq(stanza_attr(r, "to"), "a@example.org/r");
	cr_assert_null(stanza_attr(r, "from"));
	err = stanza_child(r, NULL, "error");
	cr_assert_eq(stanza_nelements(err), 1);
	cr_assert_not_null(stanza_child(err, STANZA_NS_STANZAS,
	    "bad-request"));
	cr_assert_null(stanza_child(err, NULL, "text"));
	stanza_unref(r);

	stanza_set_attr(m, "type", "error");
	cr_assert_null(stanza_error_reply(m, "cancel", "bad-request", NULL));
	stanza_unref(m);
}
