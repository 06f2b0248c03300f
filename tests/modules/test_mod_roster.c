/* mod_roster on the in-process harness: RFC 6121 section 2. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tern/module.h"

#define NS	"xmlns='jabber:iq:roster'"

static void
setup(void)
{
	harness_start("modules roster;");
}

static void
setup_small(void)
{
	harness_start("modules roster; roster_max_items 2; "
	    "roster_max_name_length 8; roster_max_group_length 8; "
	    "roster_max_groups 2;");
}

TestSuite(mod_roster, .init = setup, .fini = harness_stop);
TestSuite(mod_roster_limits, .init = setup_small, .fini = harness_stop);

/* The next stanza: it must exist and contain each needle (NULL-ended). */
static const char *
expect(struct session *s, ...)
{
	const char	*r = harness_next(s), *n;
	va_list		 ap;

	va_start(ap, s);
	n = va_arg(ap, const char *);
	cr_assert_not_null(r, "expected a stanza with %s", n ? n : "");
	for (; n != NULL; n = va_arg(ap, const char *))
		cr_assert_not_null(strstr(r, n), "%s not in %s", n, r);
	va_end(ap);
	return r;
}

static void
expect_none(struct session *s)
{
	const char	*r = harness_next(s);

	cr_assert_null(r, "unexpected %s", r);
}

/* A roster get; the result stays queued. */
static void
get(struct session *s, const char *ver)
{
	char	xml[256];

	if (ver == NULL)
		snprintf(xml, sizeof(xml), "<iq type='get' id='g'>"
		    "<query " NS "/></iq>");
	else
		snprintf(xml, sizeof(xml), "<iq type='get' id='g'>"
		    "<query " NS " ver='%s'/></iq>", ver);
	harness_send(s, xml);
}

/* A session that asked for the roster (an interested resource). */
static struct session *
interested(const char *full)
{
	struct session	*s = harness_login(full);

	get(s, NULL);
	expect(s, "type='result'", NULL);
	expect_none(s);
	return s;
}

static void
set(struct session *s, const char *id, const char *item)
{
	char	xml[4096];

	snprintf(xml, sizeof(xml), "<iq type='set' id='%s'><query " NS ">"
	    "%s</query></iq>", id, item);
	harness_send(s, xml);
}

/* The ver of a roster result or push (static copy). */
static const char *
ver_of(const char *r)
{
	static char	 ver[64];
	const char	*p = strstr(r, "ver='");

	cr_assert_not_null(p, "no ver in %s", r);
	p += 5;
	snprintf(ver, sizeof(ver), "%.*s", (int)strcspn(p, "'"), p);
	return ver;
}

/* An error answer with the condition. */
static void
expect_error(struct session *s, const char *id, const char *cond)
{
	char	idattr[64], el[128];

	snprintf(idattr, sizeof(idattr), "id='%s'", id);
	snprintf(el, sizeof(el), "<%s xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-stanzas'/>", cond);
	expect(s, "type='error'", idattr, el, NULL);
	expect_none(s);
}

Test(mod_roster, empty_roster_has_a_version)
{
	struct session	*a = harness_login("alice@example.org/a");
	const char	*r;

	get(a, NULL);
	r = expect(a, "type='result'", "id='g'", "<query " NS " ver='",
	    "to='alice@example.org/a'", NULL);
	cr_assert_null(strstr(r, "<item"), "%s", r);
	expect_none(a);
}

Test(mod_roster, add_get_update_remove)
{
	struct session	*a = interested("alice@example.org/a");
	const char	*r;

	set(a, "s1", "<item jid='bob@example.org' name='Bob'>"
	    "<group>Friends</group><group>Work</group></item>");
	expect(a, "type='result'", "id='s1'", NULL);
	r = expect(a, "type='set'", "<query " NS " ver='",
	    "jid='bob@example.org'", "name='Bob'", "subscription='none'",
	    "<group>Friends</group>", "<group>Work</group>",
	    "from='alice@example.org'", "to='alice@example.org/a'", NULL);
	cr_assert_null(strstr(r, "ask="), "%s", r);
	expect_none(a);

	get(a, NULL);
	expect(a, "type='result'", "jid='bob@example.org'", "name='Bob'",
	    "subscription='none'", "<group>Friends</group>", NULL);

	set(a, "s2", "<item jid='bob@example.org' name='Robert'>"
	    "<group>Family</group></item>");
	expect(a, "type='result'", "id='s2'", NULL);
	r = expect(a, "type='set'", "name='Robert'", "<group>Family</group>",
	    NULL);
	cr_assert_null(strstr(r, "Friends"), "%s", r);

	set(a, "s3", "<item jid='bob@example.org' subscription='remove'/>");
	expect(a, "type='result'", "id='s3'", NULL);
	expect(a, "type='set'", "jid='bob@example.org'",
	    "subscription='remove'", NULL);
	expect_none(a);
	get(a, NULL);
	r = expect(a, "type='result'", NULL);
	cr_assert_null(strstr(r, "<item"), "%s", r);
}

Test(mod_roster, pushes_go_to_every_interested_resource)
{
	struct session	*a1 = interested("alice@example.org/one");
	struct session	*a2 = interested("alice@example.org/two");
	struct session	*a3 = harness_login("alice@example.org/quiet");
	struct session	*b = interested("bob@example.org/b");
	const char	*r;
	char		 v1[64];

	set(a1, "s1", "<item jid='carol@example.org'/>");
	expect(a1, "type='result'", "id='s1'", NULL);
	r = expect(a1, "type='set'", "jid='carol@example.org'",
	    "to='alice@example.org/one'", NULL);
	snprintf(v1, sizeof(v1), "%s", ver_of(r));
	r = expect(a2, "type='set'", "jid='carol@example.org'",
	    "to='alice@example.org/two'", NULL);
	cr_assert_str_eq(ver_of(r), v1);
	expect_none(a1);
	expect_none(a2);
	expect_none(a3);	/* never asked for the roster */
	expect_none(b);		/* another account */
}

Test(mod_roster, versioning)
{
	struct session	*a = interested("alice@example.org/a");
	const char	*r;
	char		 v0[64], v1[64];

	get(a, NULL);
	snprintf(v0, sizeof(v0), "%s", ver_of(expect(a, "type='result'",
	    NULL)));
	set(a, "s1", "<item jid='bob@example.org'/>");
	expect(a, "id='s1'", NULL);
	r = expect(a, "type='set'", NULL);
	snprintf(v1, sizeof(v1), "%s", ver_of(r));
	cr_assert_str_neq(v0, v1);

	/* Up to date: an empty result. */
	get(a, v1);
	r = expect(a, "type='result'", "id='g'", NULL);
	cr_assert_null(strstr(r, "<query"), "%s", r);
	/* Older or empty version: the whole roster with the current one. */
	get(a, v0);
	r = expect(a, "type='result'", "jid='bob@example.org'", NULL);
	cr_assert_str_eq(ver_of(r), v1);
	get(a, "");
	r = expect(a, "type='result'", "jid='bob@example.org'", NULL);

	/* The same item again changes nothing: no push, same version. */
	set(a, "s2", "<item jid='bob@example.org'/>");
	expect(a, "type='result'", "id='s2'", NULL);
	expect_none(a);
	get(a, v1);
	r = expect(a, "type='result'", NULL);
	cr_assert_null(strstr(r, "<query"), "%s", r);
}

Test(mod_roster, roster_survives_a_restart)
{
	struct session	*a = interested("alice@example.org/a");
	const char	*r;
	char		 v[64];

	set(a, "s1", "<item jid='bob@example.org' name='B'/>");
	expect(a, "id='s1'", NULL);
	snprintf(v, sizeof(v), "%s", ver_of(expect(a, "type='set'", NULL)));
	harness_restart();
	a = harness_login("alice@example.org/a");
	get(a, v);
	r = expect(a, "type='result'", NULL);
	cr_assert_null(strstr(r, "<query"), "%s", r);
	get(a, NULL);
	expect(a, "jid='bob@example.org'", "name='B'", NULL);
}

Test(mod_roster, jid_is_prepared)
{
	struct session	*a = interested("alice@example.org/a");

	set(a, "s1", "<item jid='Bob@EXAMPLE.org'/>");
	expect(a, "type='result'", NULL);
	expect(a, "type='set'", "jid='bob@example.org'", NULL);
	set(a, "s2", "<item jid='BOB@example.org' subscription='remove'/>");
	expect(a, "type='result'", "id='s2'", NULL);
	expect(a, "subscription='remove'", "jid='bob@example.org'", NULL);
}

Test(mod_roster, own_jid_may_be_an_item)
{
	struct session	*a = interested("alice@example.org/a");

	set(a, "s1", "<item jid='alice@example.org' name='me'/>");
	expect(a, "type='result'", "id='s1'", NULL);
	expect(a, "type='set'", "jid='alice@example.org'", NULL);
}

Test(mod_roster, subscription_ask_approved_are_ignored_in_a_set)
{
	struct session	*a = interested("alice@example.org/a");
	const char	*r;

	set(a, "s1", "<item jid='bob@example.org' subscription='both' "
	    "ask='subscribe' approved='true'/>");
	expect(a, "type='result'", NULL);
	r = expect(a, "type='set'", "subscription='none'", NULL);
	cr_assert_null(strstr(r, "ask="), "%s", r);
	cr_assert_null(strstr(r, "approved="), "%s", r);
}

Test(mod_roster, bad_requests)
{
	struct session	*a = interested("alice@example.org/a");

	set(a, "e1", "<item jid='bob@example.org'/>"
	    "<item jid='carol@example.org'/>");
	expect_error(a, "e1", "bad-request");
	set(a, "e2", "");
	expect_error(a, "e2", "bad-request");
	set(a, "e3", "<item name='x'/>");
	expect_error(a, "e3", "bad-request");
	set(a, "e4", "<item jid=''/>");
	expect_error(a, "e4", "bad-request");
	set(a, "e5", "<item jid='a@b@c'/>");
	expect_error(a, "e5", "bad-request");
	set(a, "e6", "<item jid='bob@example.org/res'/>");
	expect_error(a, "e6", "bad-request");
	set(a, "e7", "<item jid='bob@example.org'><group>G</group>"
	    "<group>G</group></item>");
	expect_error(a, "e7", "bad-request");
	set(a, "e8", "<item jid='bob@example.org'><group></group></item>");
	expect_error(a, "e8", "not-acceptable");
	set(a, "e9", "<foo jid='bob@example.org'/>");
	expect_error(a, "e9", "bad-request");
	/* Nothing was stored. */
	get(a, NULL);
	cr_assert_null(strstr(expect(a, "type='result'", NULL), "<item"));
}

Test(mod_roster, remove_missing_item_is_item_not_found)
{
	struct session	*a = interested("alice@example.org/a");

	set(a, "r1", "<item jid='nobody@example.org' subscription='remove'/>");
	expect_error(a, "r1", "item-not-found");
}

Test(mod_roster, others_rosters_are_forbidden)
{
	struct session	*a = interested("alice@example.org/a");

	harness_send(a, "<iq type='get' id='f1' to='bob@example.org'>"
	    "<query " NS "/></iq>");
	expect_error(a, "f1", "forbidden");
	harness_send(a, "<iq type='set' id='f2' to='bob@example.org'>"
	    "<query " NS "><item jid='carol@example.org'/></query></iq>");
	expect_error(a, "f2", "forbidden");
	/* To one's own bare JID is the same as no 'to'. */
	harness_send(a, "<iq type='get' id='f3' to='alice@example.org'>"
	    "<query " NS "/></iq>");
	expect(a, "type='result'", "id='f3'", "from='alice@example.org'",
	    NULL);
}

Test(mod_roster_limits, size_limits)
{
	struct session	*a = interested("alice@example.org/a");

	set(a, "n1", "<item jid='bob@example.org' name='123456789'/>");
	expect_error(a, "n1", "not-acceptable");
	set(a, "g1", "<item jid='bob@example.org'><group>123456789</group>"
	    "</item>");
	expect_error(a, "g1", "not-acceptable");
	set(a, "g2", "<item jid='bob@example.org'><group>a</group>"
	    "<group>b</group><group>c</group></item>");
	expect_error(a, "g2", "not-acceptable");
	set(a, "ok", "<item jid='bob@example.org' name='12345678'>"
	    "<group>12345678</group><group>b</group></item>");
	expect(a, "type='result'", "id='ok'", NULL);
	expect(a, "type='set'", NULL);
	expect_none(a);
}

Test(mod_roster_limits, roster_full_is_not_allowed)
{
	struct session	*a = interested("alice@example.org/a");

	set(a, "1", "<item jid='bob@example.org'/>");
	expect(a, "type='result'", NULL);
	expect(a, "type='set'", NULL);
	set(a, "2", "<item jid='carol@example.org'/>");
	expect(a, "type='result'", NULL);
	expect(a, "type='set'", NULL);
	set(a, "3", "<item jid='dave@example.org'/>");
	expect_error(a, "3", "not-allowed");
	/* Updating an item that is there still works. */
	set(a, "4", "<item jid='carol@example.org' name='C'/>");
	expect(a, "type='result'", "id='4'", NULL);
	expect(a, "type='set'", "name='C'", NULL);
	/* And after a removal there is room again. */
	set(a, "5", "<item jid='bob@example.org' subscription='remove'/>");
	expect(a, "type='result'", NULL);
	expect(a, "type='set'", NULL);
	set(a, "6", "<item jid='dave@example.org'/>");
	expect(a, "type='result'", "id='6'", NULL);
}

Test(mod_roster, rosterver_stream_feature_when_authenticated)
{
	struct tern_host	*h = tern_host_find("example.org");
	struct tern_event	 ev;
	char			*x;

	cr_assert_not_null(h);
	memset(&ev, 0, sizeof(ev));
	ev.features = tern_stanza_new("http://etherx.jabber.org/streams",
	    "features");
	tern_fire(h, "stream-features", &ev);
	x = tern_stanza_to_xml(ev.features);
	cr_assert_null(strstr(x, "rosterver"), "%s", x);
	free(x);
	ev.authenticated = 1;
	tern_fire(h, "stream-features", &ev);
	x = tern_stanza_to_xml(ev.features);
	cr_assert_not_null(strstr(x, "<ver xmlns='urn:xmpp:features:"
	    "rosterver'/>"), "%s", x);
	free(x);
	tern_stanza_unref(ev.features);
}

Test(mod_roster, deleting_the_account_deletes_the_roster)
{
	struct session	*a = interested("alice@example.org/a");
	void		*val;
	size_t		 len;

	set(a, "s1", "<item jid='bob@example.org'/>");
	expect(a, "type='result'", NULL);
	harness_logout(a);
	cr_assert_eq(tern_user_delete("example.org", "alice"), 0);
	cr_assert_eq(tern_kv_get("roster", "example.org", "alice",
	    "bob@example.org", &val, &len), 1);
}

Test(mod_roster, overlong_jid_is_not_acceptable)
{
	struct session	*a = interested("alice@example.org/a");
	char		 item[1200], node[1021];

	memset(node, 'n', sizeof(node) - 1);
	node[sizeof(node) - 1] = '\0';
	snprintf(item, sizeof(item), "<item jid='%s@example.org'/>", node);
	set(a, "l1", item);
	expect_error(a, "l1", "not-acceptable");
}
