/* mod_blocking on the in-process harness. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tern/module.h"

#define HOST	"example.org"
#define NS	"urn:xmpp:blocking"
#define ALICE	"alice@" HOST
#define BOB	"bob@" HOST

static void
setup(void)
{
	harness_start("modules blocking;");
}

TestSuite(mod_blocking, .init = setup, .fini = harness_stop);

/* The next stanza, which must exist and contain both needles. */
static const char *
expect(struct session *s, const char *n1, const char *n2)
{
	const char	*r = harness_next(s);

	cr_assert_not_null(r, "expected a stanza with %s", n1);
	cr_assert_not_null(strstr(r, n1), "%s not in %s", n1, r);
	if (n2 != NULL)
		cr_assert_not_null(strstr(r, n2), "%s not in %s", n2, r);
	return r;
}

static void
nothing(struct session *s)
{
	const char	*r = harness_next(s);

	cr_assert_null(r, "unexpected %s", r);
}

/*
 * Sends an iq with payload; returns the answer (result or error).
 * Presence that comes first (from the presence module) is skipped.
 */
static const char *
iq(struct session *s, const char *type, const char *payload)
{
	char		 xml[8192];
	const char	*r;

	snprintf(xml, sizeof(xml), "<iq type='%s' id='q1'>%s</iq>", type,
	    payload);
	harness_send(s, xml);
	while ((r = harness_next(s)) != NULL &&
	    strncmp(r, "<presence", 9) == 0)
		;
	cr_assert_not_null(r, "no answer to %s", xml);
	cr_assert_not_null(strstr(r, "id='q1'"), "not the answer: %s", r);
	return r;
}

static void
ok(struct session *s, const char *type, const char *payload)
{
	const char	*r = iq(s, type, payload);

	cr_assert_not_null(strstr(r, "type='result'"), "%s", r);
}

static void
block(struct session *s, const char *jid)
{
	char	p[2048];

	snprintf(p, sizeof(p), "<block xmlns='" NS "'><item jid='%s'/>"
	    "</block>", jid);
	ok(s, "set", p);
}

static const char *
blocklist(struct session *s)
{
	const char	*r = iq(s, "get", "<blocklist xmlns='" NS "'/>");

	cr_assert_not_null(strstr(r, "type='result'"), "%s", r);
	return r;
}

static int
count_cb(const char *key, const void *val, size_t len, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static struct session *
online(const char *full)
{
	struct session	*s = harness_login(full);

	harness_send(s, "<presence/>");
	return s;
}

Test(mod_blocking, empty_blocklist)
{
	struct session	*a = harness_login(ALICE "/a");
	const char	*r = blocklist(a);

	cr_assert_not_null(strstr(r, "<blocklist xmlns='" NS "'/>"), "%s", r);
	nothing(a);
}

Test(mod_blocking, block_prepares_sorts_and_lists)
{
	struct session	*a = harness_login(ALICE "/a");
	const char	*r;

	ok(a, "set", "<block xmlns='" NS "'><item jid='Bob@Example.ORG'/>"
	    "<item jid='other.org'/><item jid='bob@example.org'/></block>");
	r = blocklist(a);
	cr_assert_not_null(strstr(r, "<item jid='bob@example.org'/>"
	    "<item jid='other.org'/></blocklist>"), "%s", r);
	nothing(a);
}

Test(mod_blocking, pushes_go_to_resources_that_asked)
{
	struct session	*a = harness_login(ALICE "/a");
	struct session	*b = harness_login(ALICE "/b");
	struct session	*c = harness_login(ALICE "/c");
	const char	*r;

	blocklist(a);
	blocklist(b);
	block(a, BOB);
	r = expect(a, "<iq", "type='set'");
	cr_assert_not_null(strstr(r, "to='" ALICE "/a'"), "%s", r);
	cr_assert_not_null(strstr(r, "from='" ALICE "'"), "%s", r);
	cr_assert_not_null(strstr(r, "<block xmlns='" NS "'><item jid='"
	    BOB "'/></block>"), "%s", r);
	expect(b, "to='" ALICE "/b'", "<block xmlns='" NS "'><item jid='"
	    BOB "'/></block>");
	nothing(a);
	nothing(b);
	nothing(c);
	ok(c, "set", "<unblock xmlns='" NS "'><item jid='" BOB "'/>"
	    "</unblock>");
	expect(a, "<unblock xmlns='" NS "'><item jid='" BOB "'/></unblock>",
	    "type='set'");
	expect(b, "<unblock xmlns='" NS "'><item jid='" BOB "'/></unblock>",
	    "type='set'");
	nothing(c);
	ok(c, "set", "<unblock xmlns='" NS "'/>");
	expect(a, "<unblock xmlns='" NS "'/>", "type='set'");
	expect(b, "<unblock xmlns='" NS "'/>", "type='set'");
	nothing(c);
}

Test(mod_blocking, bad_commands)
{
	struct session	*a = harness_login(ALICE "/a");
	const char	*r;

	r = iq(a, "set", "<block xmlns='" NS "'/>");
	cr_assert_not_null(strstr(r, "bad-request"), "%s", r);
	r = iq(a, "set", "<block xmlns='" NS "'><item/></block>");
	cr_assert_not_null(strstr(r, "bad-request"), "%s", r);
	r = iq(a, "set", "<block xmlns='" NS "'><item jid='" BOB "'/>"
	    "<item jid='a@b@c'/></block>");
	cr_assert_not_null(strstr(r, "jid-malformed"), "%s", r);
	cr_assert_not_null(strstr(r, "type='modify'"), "%s", r);
	r = iq(a, "set", "<unblock xmlns='" NS "'><item jid=''/></unblock>");
	cr_assert_not_null(strstr(r, "jid-malformed"), "%s", r);
	r = iq(a, "set", "<blocklist xmlns='" NS "'/>");
	cr_assert_not_null(strstr(r, "bad-request"), "%s", r);
	r = iq(a, "get", "<block xmlns='" NS "'><item jid='" BOB "'/>"
	    "</block>");
	cr_assert_not_null(strstr(r, "bad-request"), "%s", r);
	/* Nothing was blocked on the way. */
	r = blocklist(a);
	cr_assert_not_null(strstr(r, "<blocklist xmlns='" NS "'/>"), "%s", r);
}

Test(mod_blocking, too_long_a_jid)
{
	struct session	*a = harness_login(ALICE "/a");
	char		 jid[1400], p[1600];
	const char	*r;
	int		 i;

	memset(jid, 'n', 500);
	jid[500] = '@';
	for (i = 0; i < 10; i++) {
		memset(jid + 501 + i * 61, 'd', 60);
		jid[501 + i * 61 + 60] = '.';
	}
	strcpy(jid + 501 + 10 * 61, "org");
	snprintf(p, sizeof(p), "<block xmlns='" NS "'><item jid='%s'/>"
	    "</block>", jid);
	r = iq(a, "set", p);
	cr_assert_not_null(strstr(r, "not-acceptable"), "%s", r);
}

Test(mod_blocking, only_the_owner_manages_the_list)
{
	struct session	*a = harness_login(ALICE "/a");
	struct session	*b = harness_login(BOB "/b");
	const char	*r;

	harness_send(b, "<iq type='get' id='x' to='" ALICE "'>"
	    "<blocklist xmlns='" NS "'/></iq>");
	expect(b, "service-unavailable", "id='x'");
	harness_send(b, "<iq type='set' id='y' to='" ALICE "'>"
	    "<block xmlns='" NS "'><item jid='carol@" HOST "'/></block></iq>");
	expect(b, "service-unavailable", "id='y'");
	r = blocklist(a);
	cr_assert_not_null(strstr(r, "<blocklist xmlns='" NS "'/>"), "%s", r);
	/* Addressed to one's own bare JID is the same as no 'to'. */
	harness_send(a, "<iq type='set' id='z' to='" ALICE "'>"
	    "<block xmlns='" NS "'><item jid='carol@" HOST "'/></block></iq>");
	expect(a, "type='result'", "id='z'");
}

Test(mod_blocking, inbound_from_blocked_is_not_delivered)
{
	struct session	*a = online(ALICE "/a");
	struct session	*b = online(BOB "/b");
	const char	*r;

	block(a, BOB);
	harness_send(b, "<message to='" ALICE "' type='chat' id='m1'>"
	    "<body>hi</body></message>");
	r = expect(b, "type='error'", "<service-unavailable");
	cr_assert_not_null(strstr(r, "id='m1'"), "%s", r);
	cr_assert_not_null(strstr(r, "from='" ALICE "'"), "%s", r);
	cr_assert_null(strstr(r, "blocked"), "%s", r);
	harness_send(b, "<message to='" ALICE "/a' id='m2'>"
	    "<body>hi</body></message>");
	expect(b, "id='m2'", "<service-unavailable");
	harness_send(b, "<message to='" ALICE "' type='headline'>"
	    "<body>h</body></message>");
	harness_send(b, "<presence to='" ALICE "'/>");
	harness_send(b, "<presence to='" ALICE "' type='subscribe'/>");
	harness_send(b, "<iq to='" ALICE "/a' type='result' id='r'/>");
	nothing(b);
	harness_send(b, "<iq to='" ALICE "/a' type='get' id='g'>"
	    "<query xmlns='jabber:iq:version'/></iq>");
	expect(b, "id='g'", "<service-unavailable");
	harness_send(b, "<iq to='" ALICE "' type='get' id='v'>"
	    "<vCard xmlns='vcard-temp'/></iq>");
	expect(b, "id='v'", "<service-unavailable");
	nothing(b);
	nothing(a);
}

Test(mod_blocking, outbound_to_blocked_is_refused)
{
	struct session	*a = online(ALICE "/a");
	struct session	*b = online(BOB "/b");
	const char	*r;

	block(a, BOB);
	harness_send(a, "<message to='" BOB "' type='chat' id='m1'>"
	    "<body>hi</body></message>");
	r = expect(a, "type='error'", "<not-acceptable");
	cr_assert_not_null(strstr(r, "<blocked xmlns='urn:xmpp:blocking:"
	    "errors'/>"), "%s", r);
	cr_assert_not_null(strstr(r, "id='m1'"), "%s", r);
	cr_assert_not_null(strstr(r, "type='cancel'"), "%s", r);
	harness_send(a, "<presence to='" BOB "/b'/>");
	expect(a, "<not-acceptable", "urn:xmpp:blocking:errors");
	harness_send(a, "<iq to='" BOB "/b' type='get' id='i'>"
	    "<query xmlns='jabber:iq:version'/></iq>");
	expect(a, "id='i'", "urn:xmpp:blocking:errors");
	/* Errors and results are dropped without an answer. */
	harness_send(a, "<iq to='" BOB "/b' type='result' id='r'/>");
	harness_send(a, "<message to='" BOB "' type='error' id='e'/>");
	nothing(a);
	nothing(b);
}

Test(mod_blocking, unblock_restores)
{
	struct session	*a = online(ALICE "/a");
	struct session	*b = online(BOB "/b");

	block(a, BOB);
	ok(a, "set", "<unblock xmlns='" NS "'><item jid='" BOB "'/>"
	    "<item jid='never@blocked.example'/></unblock>");
	harness_send(b, "<message to='" ALICE "/a' type='chat'>"
	    "<body>back</body></message>");
	expect(a, "<body>back</body>", NULL);
	harness_send(a, "<message to='" BOB "/b' type='chat'>"
	    "<body>yes</body></message>");
	expect(b, "<body>yes</body>", NULL);
	block(a, BOB);
	block(a, "carol@" HOST);
	ok(a, "set", "<unblock xmlns='" NS "'/>");
	cr_assert_not_null(strstr(blocklist(a), "<blocklist xmlns='" NS
	    "'/>"));
	harness_send(b, "<message to='" ALICE "/a' type='chat'>"
	    "<body>again</body></message>");
	expect(a, "<body>again</body>", NULL);
}

Test(mod_blocking, full_jid_item)
{
	struct session	*a = online(ALICE "/a");
	struct session	*b1 = online(BOB "/phone");
	struct session	*b2 = online(BOB "/laptop");

	block(a, BOB "/phone");
	harness_send(b1, "<message to='" ALICE "/a' type='chat'>"
	    "<body>1</body></message>");
	expect(b1, "<service-unavailable", NULL);
	harness_send(b2, "<message to='" ALICE "/a' type='chat'>"
	    "<body>2</body></message>");
	expect(a, "<body>2</body>", NULL);
	nothing(b2);
}

Test(mod_blocking, domain_items)
{
	struct session	*a = online(ALICE "/a");
	struct session	*d = online("dave@other.org/x");
	struct session	*e = online("erin@sub.other.org/y");
	struct session	*f = online("frank@another.org/z");
	struct session	*g = online("gus@" HOST "/res");

	block(a, "other.org");
	block(a, HOST "/res");
	harness_send(d, "<message to='" ALICE "' type='chat'>"
	    "<body>d</body></message>");
	expect(d, "<service-unavailable", NULL);
	harness_send(e, "<message to='" ALICE "' type='chat'>"
	    "<body>e</body></message>");
	expect(e, "<service-unavailable", NULL);
	harness_send(f, "<message to='" ALICE "/a' type='chat'>"
	    "<body>f</body></message>");
	expect(a, "<body>f</body>", NULL);
	harness_send(g, "<message to='" ALICE "/a' type='chat'>"
	    "<body>g</body></message>");
	expect(g, "<service-unavailable", NULL);
	harness_send(a, "<message to='x@sub.other.org' type='chat'>"
	    "<body>out</body></message>");
	expect(a, "<not-acceptable", "urn:xmpp:blocking:errors");
	nothing(a);
}

Test(mod_blocking, own_resources_and_server_are_never_blocked)
{
	struct session	*a = online(ALICE "/a");
	struct session	*a2 = online(ALICE "/b");

	block(a, ALICE);
	block(a, HOST);
	harness_send(a2, "<message to='" ALICE "/a' type='chat'>"
	    "<body>self</body></message>");
	expect(a, "<body>self</body>", NULL);
	harness_send(a, "<message to='" ALICE "/b' type='chat'>"
	    "<body>self2</body></message>");
	expect(a2, "<body>self2</body>", NULL);
	/* The server still answers (here: nobody handles the iq). */
	harness_send(a, "<iq to='" HOST "' type='get' id='s'>"
	    "<query xmlns='urn:example:none'/></iq>");
	expect(a, "id='s'", "<service-unavailable");
	blocklist(a);
	nothing(a);
}

Test(mod_blocking, limit)
{
	struct session	*a;
	const char	*r;

	harness_stop();
	harness_start("modules blocking; blocking_max_items 2;");
	a = harness_login(ALICE "/a");
	r = iq(a, "set", "<block xmlns='" NS "'><item jid='x@a.example'/>"
	    "<item jid='y@a.example'/><item jid='z@a.example'/></block>");
	cr_assert_not_null(strstr(r, "policy-violation"), "%s", r);
	block(a, "x@a.example");
	block(a, "y@a.example");
	r = iq(a, "set", "<block xmlns='" NS "'><item jid='z@a.example'/>"
	    "</block>");
	cr_assert_not_null(strstr(r, "policy-violation"), "%s", r);
	/* Blocking again what is blocked needs no room. */
	block(a, "y@a.example");
	r = blocklist(a);
	cr_assert_null(strstr(r, "z@a.example"), "%s", r);
}

Test(mod_blocking, survives_a_restart_and_dies_with_the_account)
{
	struct session	*a = harness_login(ALICE "/a"), *b, *c;
	int		 n = 0;

	block(a, BOB);
	c = harness_login("carol@" HOST "/c");
	block(c, BOB);
	harness_restart();
	a = online(ALICE "/a");
	b = online(BOB "/b");
	harness_send(b, "<message to='" ALICE "/a' type='chat'>"
	    "<body>hi</body></message>");
	expect(b, "<service-unavailable", NULL);
	nothing(a);
	cr_assert_eq(tern_user_delete(HOST, "carol"), 0);
	cr_assert_eq(tern_kv_each("blocking", HOST, "carol", count_cb, &n),
	    0);
	cr_assert_eq(n, 0);
	cr_assert_eq(tern_kv_each("blocking", HOST, "alice", count_cb, &n),
	    0);
	cr_assert_eq(n, 1);
}

/* What modules route on a user's behalf (no pre-* event). */
static void
route(const char *xml)
{
	struct tern_stanza	*st = tern_stanza_from_xml(xml, strlen(xml));

	cr_assert_not_null(st);
	tern_route(st);
	tern_stanza_unref(st);
}

Test(mod_blocking, routed_on_a_users_behalf)
{
	struct session	*a = online(ALICE "/a");
	struct session	*b = online(BOB "/b");

	block(a, BOB);
	/* A presence broadcast from alice to bob is dropped... */
	route("<presence from='" ALICE "/a' to='" BOB "'/>");
	nothing(b);
	/* ... but not "offline", nor errors. */
	route("<presence from='" ALICE "/a' to='" BOB "' type='unavailable'/>");
	expect(b, "type='unavailable'", NULL);
	route("<message from='" ALICE "' to='" BOB "/b' type='error' "
	    "id='e'><error type='cancel'><service-unavailable xmlns='"
	    "urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
	expect(b, "id='e'", NULL);
	/* From bob to alice: the blocker's rule. */
	route("<message from='" BOB "/b' to='" ALICE "' type='chat' "
	    "id='m'><body>x</body></message>");
	expect(b, "id='m'", "<service-unavailable");
	nothing(a);
}

Test(mod_blocking, blocking_sends_no_presence_without_subscription)
{
	struct session	*a = online(ALICE "/a");
	struct session	*b = online(BOB "/b");

	block(a, BOB);
	ok(a, "set", "<unblock xmlns='" NS "'/>");
	nothing(a);
	nothing(b);
}

static void
feature_cb(const char *f, void *arg)
{
	if (strcmp(f, NS) == 0)
		(*(int *)arg)++;
}

Test(mod_blocking, advertises_the_feature)
{
	int	found = 0;

	tern_host_features(tern_host_find(HOST), 0, feature_cb, &found);
	cr_assert_eq(found, 1);
}

static void
setup_offline(void)
{
	harness_start("modules blocking offline;");
}

TestSuite(mod_blocking_offline, .init = setup_offline,
    .fini = harness_stop);

Test(mod_blocking_offline, blocked_messages_are_not_stored)
{
	struct session	*a = harness_login(ALICE "/a");
	struct session	*b = online(BOB "/b");
	int		 n = 0;

	block(a, BOB);
	harness_logout(a);
	harness_send(b, "<message to='" ALICE "' type='chat' id='o'>"
	    "<body>x</body></message>");
	expect(b, "id='o'", "<service-unavailable");
	cr_assert_eq(tern_kv_each("offline", HOST, "alice", count_cb, &n),
	    0);
	cr_assert_eq(n, 0);
}

static void
setup_presence(void)
{
	harness_start("modules blocking roster presence;");
}

TestSuite(mod_blocking_presence, .init = setup_presence,
    .fini = harness_stop);

static void
pres(struct session *s, const char *to, const char *type)
{
	char	xml[512];

	snprintf(xml, sizeof(xml), "<presence to='%s' type='%s'/>", to,
	    type);
	harness_send(s, xml);
}

/* Whether s received a stanza with both needles (the rest is dropped). */
static int
received(struct session *s, const char *n1, const char *n2)
{
	const char	*r;
	int		 found = 0;

	while ((r = harness_next(s)) != NULL)
		if (strstr(r, n1) != NULL && (n2 == NULL ||
		    strstr(r, n2) != NULL))
			found = 1;
	return found;
}

/* alice/a and bob/b, subscribed both ways, available. */
static void
friends(struct session **a, struct session **b)
{
	*a = harness_login(ALICE "/a");
	*b = harness_login(BOB "/b");
	pres(*a, BOB, "subscribe");
	pres(*b, ALICE, "subscribed");
	pres(*b, ALICE, "subscribe");
	pres(*a, BOB, "subscribed");
	harness_send(*a, "<presence/>");
	harness_send(*b, "<presence/>");
	harness_drain(*a);
	harness_drain(*b);
	/* Both see each other. */
	harness_send(*b, "<presence><show>away</show></presence>");
	cr_assert(received(*a, "from='" BOB "/b'", "<show>away</show>"));
	harness_drain(*b);
}

Test(mod_blocking_presence, block_and_unblock_exchange_presence)
{
	struct session	*a, *b;

	friends(&a, &b);
	blocklist(a);
	block(a, BOB);
	/* XEP-0191 3.3: each side sees the other go offline. */
	cr_assert(received(b, "from='" ALICE "/a'", "type='unavailable'"));
	cr_assert(received(a, "from='" BOB "/b'", "type='unavailable'"));
	/* Later presence does not cross the block, either way. */
	harness_send(b, "<presence><show>dnd</show></presence>");
	cr_assert_not(received(a, "from='" BOB "/b'", NULL));
	harness_send(a, "<presence><show>xa</show></presence>");
	cr_assert_not(received(b, "from='" ALICE "/a'", NULL));
	/* 3.4: unblocking brings the current presence back. */
	ok(a, "set", "<unblock xmlns='" NS "'><item jid='" BOB "'/>"
	    "</unblock>");
	cr_assert(received(b, "from='" ALICE "/a'", "<show>xa</show>"));
	cr_assert(received(a, "from='" BOB "/b'", "<show>dnd</show>"));
}

Test(mod_blocking_presence, a_blocked_contact_does_not_see_a_login)
{
	struct session	*a, *b;

	friends(&a, &b);
	block(a, BOB);
	harness_drain(b);
	harness_logout(a);
	/* Unavailable presence is harmless and may go through. */
	harness_drain(b);
	a = harness_login(ALICE "/a2");
	harness_send(a, "<presence/>");
	cr_assert_not(received(b, "from='" ALICE "/a2'", NULL));
	cr_assert_not(received(a, "from='" BOB "/b'", NULL));
}

Test(mod_blocking_presence, no_presence_for_non_subscribers)
{
	struct session	*a = online(ALICE "/a");
	struct session	*b = online(BOB "/b");

	/* bob asks to subscribe: alice has not answered yet. */
	pres(b, ALICE, "subscribe");
	harness_drain(a);
	harness_drain(b);
	block(a, BOB);
	ok(a, "set", "<unblock xmlns='" NS "'/>");
	nothing(a);
	/*
	 * No presence either way, and no probe from bob reached alice's
	 * presence module: it would have answered <unsubscribed/>, which
	 * cancels bob's request.
	 */
	nothing(b);
}

Test(mod_blocking_offline, stored_before_the_block_is_not_delivered)
{
	struct session	*b = online(BOB "/b");
	struct session	*c = online("carol@" HOST "/c");
	struct session	*a;
	int		 n = 0;

	harness_send(b, "<message to='" ALICE "' type='chat'>"
	    "<body>from bob</body></message>");
	harness_send(c, "<message to='" ALICE "' type='chat'>"
	    "<body>from carol</body></message>");
	nothing(b);
	nothing(c);
	a = harness_login(ALICE "/a");
	block(a, BOB);
	harness_send(a, "<presence/>");
	expect(a, "<body>from carol</body>", NULL);
	nothing(a);
	cr_assert_eq(tern_kv_each("offline", HOST, "alice", count_cb, &n),
	    0);
	cr_assert_eq(n, 0);
}
