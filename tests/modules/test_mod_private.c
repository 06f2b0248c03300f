/* mod_private (XEP-0049) on the in-process harness. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tern/module.h"

#define Q_OPEN		"<query xmlns='jabber:iq:private'>"
#define Q_CLOSE		"</query>"
#define PREFS		"<prefs xmlns='urn:example:prefs'>" \
			"<nick>Al</nick></prefs>"

static void
setup(void)
{
	harness_start("modules private; private_max_size 1k; "
	    "private_quota 2k;");
}

TestSuite(mod_private, .init = setup, .fini = harness_stop);

/* The next stanza of s contains every string given (NULL-ended). */
static const char *
expect(struct session *s, ...)
{
	const char	*r = harness_next(s), *want;
	va_list		 ap;

	cr_assert_not_null(r, "nothing received");
	va_start(ap, s);
	while ((want = va_arg(ap, const char *)) != NULL)
		cr_assert_not_null(strstr(r, want), "no %s in %s", want, r);
	va_end(ap);
	return r;
}

/* Sends an iq of type with a jabber:iq:private query holding body. */
static void
iq(struct session *s, const char *type, const char *id, const char *body)
{
	char	buf[8192];

	snprintf(buf, sizeof(buf), "<iq type='%s' id='%s'>" Q_OPEN "%s"
	    Q_CLOSE "</iq>", type, id, body);
	harness_send(s, buf);
}

/* An element of about size bytes of XML in namespace urn:example:<n>. */
static void
sized(char *buf, size_t bufsize, int n, size_t size)
{
	int	len;

	cr_assert_lt(size + 16, bufsize);
	len = snprintf(buf, bufsize, "<e xmlns='urn:example:%d'>", n);
	memset(buf + len, 'x', size - 40);
	snprintf(buf + len + size - 40, bufsize - len - (size - 40), "</e>");
}

Test(mod_private, get_of_nothing_stored_echoes_the_query)
{
	struct session	*a = harness_login("alice@example.org/phone");

	iq(a, "get", "g1", "<prefs xmlns='urn:example:prefs'/>");
	expect(a, "type='result'", "id='g1'", Q_OPEN,
	    "<prefs xmlns='urn:example:prefs'/>", NULL);
}

Test(mod_private, set_then_get)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	iq(a, "set", "s1", PREFS);
	r = expect(a, "type='result'", "id='s1'", NULL);
	cr_assert_null(strstr(r, "query"), "%s", r);
	iq(a, "get", "g1", "<prefs xmlns='urn:example:prefs'/>");
	expect(a, "type='result'", "id='g1'", PREFS, NULL);
	/* To the own bare JID as well. */
	harness_send(a, "<iq type='get' id='g2' to='alice@example.org'>"
	    Q_OPEN "<prefs xmlns='urn:example:prefs'/>" Q_CLOSE "</iq>");
	expect(a, "type='result'", "id='g2'", PREFS, NULL);
}

Test(mod_private, keyed_by_namespace_and_name)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	iq(a, "set", "s1", PREFS);
	expect(a, "type='result'", NULL);
	iq(a, "get", "g1", "<other xmlns='urn:example:prefs'/>");
	r = expect(a, "type='result'", "<other xmlns='urn:example:prefs'/>",
	    NULL);
	cr_assert_null(strstr(r, "<nick>"), "%s", r);
	iq(a, "get", "g2", "<prefs xmlns='urn:example:other'/>");
	r = expect(a, "type='result'", NULL);
	cr_assert_null(strstr(r, "<nick>"), "%s", r);
}

Test(mod_private, several_elements_in_one_set_and_get)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r, *p1, *p2;

	iq(a, "set", "s1", PREFS "<storage xmlns='storage:bookmarks'>"
	    "<conference jid='room@conf.example.org' name='Room'/>"
	    "</storage>");
	expect(a, "type='result'", NULL);
	iq(a, "get", "g1", "<storage xmlns='storage:bookmarks'/>");
	expect(a, "type='result'", "room@conf.example.org", NULL);
	iq(a, "get", "g2", "<storage xmlns='storage:bookmarks'/>"
	    "<prefs xmlns='urn:example:prefs'/>");
	r = expect(a, "type='result'", "room@conf.example.org",
	    "<nick>Al</nick>", NULL);
	/* Answered in the order asked. */
	p1 = strstr(r, "storage");
	p2 = strstr(r, "prefs");
	cr_assert(p1 != NULL && p2 != NULL && p1 < p2, "%s", r);
}

Test(mod_private, prefixed_elements)
{
	struct session	*a = harness_login("alice@example.org/phone");

	iq(a, "set", "s1", "<p:prefs xmlns:p='urn:example:prefs'>"
	    "<p:nick>Al</p:nick></p:prefs>");
	expect(a, "type='result'", NULL);
	iq(a, "get", "g1", "<prefs xmlns='urn:example:prefs'/>");
	expect(a, "type='result'", "Al</", NULL);
}

Test(mod_private, empty_query_is_not_acceptable)
{
	struct session	*a = harness_login("alice@example.org/phone");

	iq(a, "get", "g1", "");
	expect(a, "type='error'", "id='g1'", "<not-acceptable", NULL);
	iq(a, "set", "s1", "");
	expect(a, "type='error'", "id='s1'", "<not-acceptable", NULL);
}

Test(mod_private, reserved_namespaces_are_not_acceptable)
{
	struct session	*a = harness_login("alice@example.org/phone");

	iq(a, "set", "s1", "<query xmlns='jabber:iq:roster'/>");
	expect(a, "type='error'", "id='s1'", "<not-acceptable", NULL);
	iq(a, "set", "s2", "<vCard xmlns='vcard-temp'><FN>x</FN></vCard>");
	expect(a, "type='error'", "id='s2'", "<not-acceptable", NULL);
	/* No namespace of its own: jabber:iq:private. */
	iq(a, "set", "s3", "<nick>x</nick>");
	expect(a, "type='error'", "id='s3'", "<not-acceptable", NULL);
	iq(a, "get", "g1", "<query xmlns='jabber:iq:roster'/>");
	expect(a, "type='error'", "id='g1'", "<not-acceptable", NULL);
	/* A refused set stores none of its elements. */
	iq(a, "set", "s4", PREFS "<query xmlns='jabber:iq:roster'/>");
	expect(a, "type='error'", "id='s4'", NULL);
	iq(a, "get", "g2", "<prefs xmlns='urn:example:prefs'/>");
	expect(a, "<prefs xmlns='urn:example:prefs'/>", NULL);
}

Test(mod_private, others_are_forbidden)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*b = harness_login("bob@example.org/pc");

	iq(a, "set", "s1", PREFS);
	expect(a, "type='result'", NULL);
	harness_send(b, "<iq type='get' id='g1' to='alice@example.org'>"
	    Q_OPEN "<prefs xmlns='urn:example:prefs'/>" Q_CLOSE "</iq>");
	expect(b, "type='error'", "id='g1'", "<forbidden", NULL);
	harness_send(b, "<iq type='set' id='s2' to='alice@example.org'>"
	    Q_OPEN "<prefs xmlns='urn:example:prefs'/>" Q_CLOSE "</iq>");
	expect(b, "type='error'", "id='s2'", "<forbidden", NULL);
	cr_assert_null(harness_next(a));
	iq(a, "get", "g2", "<prefs xmlns='urn:example:prefs'/>");
	expect(a, PREFS, NULL);
	/* bob's own storage is separate. */
	iq(b, "get", "g3", "<prefs xmlns='urn:example:prefs'/>");
	expect(b, "<prefs xmlns='urn:example:prefs'/>", NULL);
}

Test(mod_private, duplicates_are_a_bad_request)
{
	struct session	*a = harness_login("alice@example.org/phone");

	iq(a, "set", "s1", PREFS PREFS);
	expect(a, "type='error'", "id='s1'", "<bad-request", NULL);
	iq(a, "get", "g1", "<prefs xmlns='urn:example:prefs'/>"
	    "<prefs xmlns='urn:example:prefs'/>");
	expect(a, "type='error'", "id='g1'", "<bad-request", NULL);
}

Test(mod_private, element_size_limit)
{
	struct session	*a = harness_login("alice@example.org/phone");
	char		 el[4096];

	sized(el, sizeof(el), 1, 1100);
	iq(a, "set", "s1", el);
	expect(a, "type='error'", "id='s1'", "<not-acceptable",
	    "1024 bytes", NULL);
	iq(a, "get", "g1", "<e xmlns='urn:example:1'/>");
	expect(a, "type='result'", "<e xmlns='urn:example:1'/>", NULL);
	sized(el, sizeof(el), 1, 1000);
	iq(a, "set", "s2", el);
	expect(a, "type='result'", "id='s2'", NULL);
}

Test(mod_private, quota_per_account)
{
	struct session	*a = harness_login("alice@example.org/phone");
	char		 el[4096];

	sized(el, sizeof(el), 1, 900);
	iq(a, "set", "s1", el);
	expect(a, "type='result'", NULL);
	sized(el, sizeof(el), 2, 900);
	iq(a, "set", "s2", el);
	expect(a, "type='result'", NULL);
	sized(el, sizeof(el), 3, 900);
	iq(a, "set", "s3", el);
	expect(a, "type='error'", "id='s3'", "<policy-violation",
	    "2048 bytes", NULL);
	/* Replacing an element counts only the difference. */
	sized(el, sizeof(el), 2, 1000);
	iq(a, "set", "s4", el);
	expect(a, "type='result'", "id='s4'", NULL);
	/* Survives a restart (the counter is stored). */
	harness_restart();
	a = harness_login("alice@example.org/phone");
	sized(el, sizeof(el), 3, 900);
	iq(a, "set", "s5", el);
	expect(a, "type='error'", "id='s5'", "<policy-violation", NULL);
	/* An empty element deletes, and frees its space. */
	iq(a, "set", "s6", "<e xmlns='urn:example:1'/>");
	expect(a, "type='result'", "id='s6'", NULL);
	iq(a, "set", "s7", el);
	expect(a, "type='result'", "id='s7'", NULL);
	/* Other accounts have their own quota. */
	harness_drain(a);
	a = harness_login("bob@example.org/pc");
	iq(a, "set", "s8", el);
	expect(a, "type='result'", "id='s8'", NULL);
}

Test(mod_private, empty_element_deletes)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	iq(a, "set", "s1", PREFS);
	expect(a, "type='result'", NULL);
	iq(a, "set", "s2", "<prefs xmlns='urn:example:prefs'/>");
	expect(a, "type='result'", NULL);
	iq(a, "get", "g1", "<prefs xmlns='urn:example:prefs'/>");
	r = expect(a, "type='result'", "<prefs xmlns='urn:example:prefs'/>",
	    NULL);
	cr_assert_null(strstr(r, "nick"), "%s", r);
}

Test(mod_private, overlong_namespace_is_not_acceptable)
{
	struct session	*a = harness_login("alice@example.org/phone");
	char		 ns[400], el[600];

	memset(ns, 'n', sizeof(ns) - 1);
	ns[sizeof(ns) - 1] = '\0';
	memcpy(ns, "urn:", 4);
	snprintf(el, sizeof(el), "<x xmlns='%s'/>", ns);
	iq(a, "set", "s1", el);
	expect(a, "type='error'", "id='s1'", "<not-acceptable", NULL);
}

Test(mod_private, kept_across_restarts_and_deleted_with_the_account)
{
	struct session	*a = harness_login("alice@example.org/phone");

	iq(a, "set", "s1", PREFS);
	expect(a, "type='result'", NULL);
	harness_restart();
	a = harness_login("alice@example.org/phone");
	iq(a, "get", "g1", "<prefs xmlns='urn:example:prefs'/>");
	expect(a, PREFS, NULL);
	harness_logout(a);
	cr_assert_eq(tern_user_delete("example.org", "alice"), 0);
	cr_assert_eq(tern_user_create("example.org", "alice", "pw"), 0);
	a = harness_login("alice@example.org/phone");
	iq(a, "get", "g2", "<prefs xmlns='urn:example:prefs'/>");
	expect(a, "<prefs xmlns='urn:example:prefs'/>", NULL);
}

static void
feature_cb(const char *f, void *arg)
{
	if (strcmp(f, "jabber:iq:private") == 0)
		(*(int *)arg)++;
}

Test(mod_private, disco_feature)
{
	int	n = 0;

	tern_host_features(tern_host_find("example.org"), 0, feature_cb, &n);
	cr_assert_eq(n, 1);
}
