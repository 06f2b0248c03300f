/*
 * mod_presence on the in-process harness: RFC 6121 sections 3 and 4
 * (subscriptions with the roster states on both sides, pending and
 * pre-approved requests, probes, broadcasts, directed presence).
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tern/module.h"

#define NS	"xmlns='jabber:iq:roster'"
#define A	"alice@example.org"
#define B	"bob@example.org"
#define C	"carol@example.org"

static void
setup(void)
{
	harness_start("modules roster presence;");
}

static void
setup_small(void)
{
	harness_start("modules roster presence; presence_max_directed 2; "
	    "presence_max_pending 1; roster_max_items 1;");
}

TestSuite(mod_presence, .init = setup, .fini = harness_stop);
TestSuite(mod_presence_limits, .init = setup_small, .fini = harness_stop);

/* Whether r contains every needle of ap. */
static int
has_all(const char *r, va_list ap)
{
	const char	*n;

	while ((n = va_arg(ap, const char *)) != NULL)
		if (strstr(r, n) == NULL)
			return 0;
	return 1;
}

/* The next stanza: it must exist and contain each needle (NULL-ended). */
static const char *
expect(struct session *s, ...)
{
	const char	*r = harness_next(s);
	va_list		 ap;

	cr_assert_not_null(r, "expected another stanza");
	va_start(ap, s);
	cr_assert(has_all(r, ap), "unexpected %s", r);
	va_end(ap);
	return r;
}

static void
expect_none(struct session *s)
{
	const char	*r = harness_next(s);

	cr_assert_null(r, "unexpected %s", r);
}

/* What a session received, in any order. */
struct got {
	char	*v[128];
	size_t	 n;
};

static void
gather(struct session *s, struct got *g)
{
	const char	*r;

	memset(g, 0, sizeof(*g));
	while ((r = harness_next(s)) != NULL) {
		cr_assert_lt(g->n, 128);
		g->v[g->n++] = strdup(r);
	}
}

/* Takes the stanza with every needle out of g; 0 if there is none. */
static int
take(struct got *g, ...)
{
	va_list	ap;
	size_t	i;
	int	ok;

	for (i = 0; i < g->n; i++) {
		va_start(ap, g);
		ok = has_all(g->v[i], ap);
		va_end(ap);
		if (ok) {
			free(g->v[i]);
			g->v[i] = g->v[--g->n];
			return 1;
		}
	}
	return 0;
}

static const char *
dump(const struct got *g)
{
	static char	buf[16384];
	size_t		i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < g->n && len < sizeof(buf) - 2; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\n%s",
		    g->v[i]);
	return buf;
}

static void
got_free(struct got *g)
{
	while (g->n > 0)
		free(g->v[--g->n]);
}

#define TAKE(g, ...)	cr_assert(take((g), __VA_ARGS__, NULL), \
			    "missing %s in:%s", #__VA_ARGS__, dump(g))
#define GOT_ALL(g)	cr_assert_eq((g)->n, 0, "unexpected:%s", dump(g))

static void
send_fmt(struct session *s, const char *fmt, ...)
{
	char	xml[2048];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(xml, sizeof(xml), fmt, ap);
	va_end(ap);
	harness_send(s, xml);
}

static void
roster_get(struct session *s)
{
	harness_send(s, "<iq type='get' id='g'><query " NS "/></iq>");
}

/* Interested and available, with everything it got so far dropped. */
static struct session *
online(const char *full)
{
	struct session	*s = harness_login(full);

	roster_get(s);
	harness_send(s, "<presence/>");
	harness_drain(s);
	return s;
}

static void
pres(struct session *s, const char *to, const char *type)
{
	send_fmt(s, "<presence to='%s' type='%s'/>", to, type);
}

/* The roster item of jid in s's roster as a roster get shows it. */
static void
expect_item(struct session *s, const char *jid, const char *sub,
    int ask)
{
	char		 j[128], su[64];
	const char	*r, *p;

	roster_get(s);
	r = expect(s, "type='result'", NULL);
	snprintf(j, sizeof(j), "jid='%s'", jid);
	snprintf(su, sizeof(su), "subscription='%s'", sub);
	p = strstr(r, j);
	cr_assert_not_null(p, "%s not in %s", jid, r);
	p = strstr(p, su);
	cr_assert_not_null(p, "%s not %s in %s", jid, sub, r);
	cr_assert_eq(strstr(r, "ask='subscribe'") != NULL, ask, "%s", r);
}

static void
expect_no_item(struct session *s, const char *jid)
{
	char		 j[128];
	const char	*r;

	roster_get(s);
	r = expect(s, "type='result'", NULL);
	snprintf(j, sizeof(j), "jid='%s'", jid);
	cr_assert_null(strstr(r, j), "%s", r);
}

/* Session u of ujid subscribes to c's account cjid, which approves. */
static void
handshake(struct session *u, const char *ujid, struct session *c,
    const char *cjid)
{
	pres(u, cjid, "subscribe");
	pres(c, ujid, "subscribed");
	harness_drain(u);
	harness_drain(c);
}

Test(mod_presence, handshake_both_ways)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	const char	*r;
	struct got	 g;

	/* 3.1.2: alice's item goes to None + Pending Out. */
	pres(a, B, "subscribe");
	expect(a, "type='set'", "jid='" B "'", "subscription='none'",
	    "ask='subscribe'", NULL);
	expect_none(a);
	/* 3.1.3: bob gets the request from alice's bare JID, no push. */
	r = expect(b, "<presence", "type='subscribe'", "from='" A "'",
	    "to='" B "'", NULL);
	expect_none(b);
	(void)r;

	/* 3.1.5: bob approves: bob's item is 'from'. */
	pres(b, A, "subscribed");
	expect(b, "type='set'", "jid='" A "'", "subscription='from'", NULL);
	expect_none(b);
	/* 3.1.6: alice's item is 'to'; the approval, bob's presence. */
	gather(a, &g);
	TAKE(&g, "type='set'", "jid='" B "'", "subscription='to'");
	TAKE(&g, "type='subscribed'", "from='" B "'", "to='" A "'");
	TAKE(&g, "<presence", "from='" B "/b'", "to='" A "'");
	GOT_ALL(&g);
	expect_item(a, B, "to", 0);
	expect_item(b, A, "from", 0);

	/* And back: bob subscribes to alice, who approves: both. */
	pres(b, A, "subscribe");
	expect(b, "type='set'", "subscription='from'", "ask='subscribe'",
	    NULL);
	expect(a, "type='subscribe'", "from='" B "'", NULL);
	expect_none(a);
	pres(a, B, "subscribed");
	expect(a, "type='set'", "jid='" B "'", "subscription='both'", NULL);
	expect_none(a);
	gather(b, &g);
	TAKE(&g, "type='set'", "jid='" A "'", "subscription='both'");
	TAKE(&g, "type='subscribed'", "from='" A "'");
	TAKE(&g, "<presence", "from='" A "/a'", "to='" B "'");
	GOT_ALL(&g);
	expect_item(a, B, "both", 0);
	expect_item(b, A, "both", 0);
}

Test(mod_presence, pending_request_waits_for_the_next_login)
{
	struct session	*a = online(A "/a"), *b;
	struct got	 g;

	pres(a, B, "subscribe");
	expect(a, "ask='subscribe'", NULL);
	expect_none(a);
	/* Bob is offline: the request waits; no roster item for alice. */
	b = harness_login(B "/b");
	roster_get(b);
	expect(b, "type='result'", NULL);
	expect_no_item(b, A);
	expect_none(b);
	harness_send(b, "<presence/>");
	gather(b, &g);
	TAKE(&g, "type='subscribe'", "from='" A "'", "to='" B "'");
	TAKE(&g, "<presence", "from='" B "/b'", "to='" B "/b'");
	GOT_ALL(&g);
	/* Not answered: again at the next login. */
	harness_logout(b);
	b = harness_login(B "/b2");
	harness_send(b, "<presence/>");
	gather(b, &g);
	TAKE(&g, "type='subscribe'", "from='" A "'");
	got_free(&g);
	/* Answered: never again. */
	pres(b, A, "subscribed");
	harness_drain(b);
	harness_logout(b);
	b = harness_login(B "/b3");
	harness_send(b, "<presence/>");
	gather(b, &g);
	cr_assert_not(take(&g, "type='subscribe'", NULL), "%s", dump(&g));
	got_free(&g);
	harness_drain(a);
	expect_item(a, B, "to", 0);
}

Test(mod_presence, pre_approval)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct got	 g;

	/* 3.4: bob approves before alice asks. */
	pres(b, A, "subscribed");
	expect(b, "type='set'", "jid='" A "'", "subscription='none'",
	    "approved='true'", NULL);
	expect_none(b);
	expect_none(a);
	/* Alice asks: approved at once, bob is not asked. */
	pres(a, B, "subscribe");
	gather(a, &g);
	TAKE(&g, "type='set'", "ask='subscribe'");
	TAKE(&g, "type='set'", "subscription='to'");
	TAKE(&g, "type='subscribed'", "from='" B "'");
	TAKE(&g, "<presence", "from='" B "/b'");
	GOT_ALL(&g);
	gather(b, &g);
	TAKE(&g, "type='set'", "jid='" A "'", "subscription='from'");
	cr_assert_not(take(&g, "type='subscribe'", NULL), "%s", dump(&g));
	got_free(&g);
	GOT_ALL(&g);
	roster_get(b);
	cr_assert_null(strstr(expect(b, "type='result'", NULL), "approved"));
}

Test(mod_presence, pre_approval_feature)
{
	struct tern_host	*h = tern_host_find("example.org");
	struct tern_event	 ev;
	char			*x;

	memset(&ev, 0, sizeof(ev));
	ev.features = tern_stanza_new("http://etherx.jabber.org/streams",
	    "features");
	ev.authenticated = 1;
	tern_fire(h, "stream-features", &ev);
	x = tern_stanza_to_xml(ev.features);
	cr_assert_not_null(strstr(x, "<sub xmlns='urn:xmpp:features:"
	    "pre-approval'/>"), "%s", x);
	free(x);
	tern_stanza_unref(ev.features);
}

Test(mod_presence, auto_reply_when_already_subscribed)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct got	 g;

	handshake(a, A, b, B);
	/* Alice's server lost her item: she asks again. */
	cr_assert_eq(tern_kv_del("roster", "example.org", "alice", B), 0);
	pres(a, B, "subscribe");
	gather(a, &g);
	TAKE(&g, "type='set'", "ask='subscribe'");
	TAKE(&g, "type='set'", "subscription='to'");
	TAKE(&g, "type='subscribed'", "from='" B "'");
	TAKE(&g, "<presence", "from='" B "/b'");
	GOT_ALL(&g);
	expect_none(b);		/* answered on bob's behalf */
}

Test(mod_presence, probes_on_login)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct got	 g;

	handshake(a, A, b, B);
	harness_logout(a);
	expect_none(b);		/* bob is not subscribed to alice */
	send_fmt(b, "<presence><show>away</show><status>out</status>"
	    "</presence>");
	harness_drain(b);
	/* Alice comes back: her probe is answered with bob's presence. */
	a = harness_login(A "/a2");
	harness_send(a, "<presence/>");
	gather(a, &g);
	TAKE(&g, "<presence", "from='" A "/a2'", "to='" A "/a2'");
	TAKE(&g, "<presence", "from='" B "/b'", "to='" A "/a2'",
	    "<show>away</show>", "<status>out</status>");
	GOT_ALL(&g);
	/* Bob offline: the answer is unavailable from his bare JID. */
	harness_logout(b);
	expect(a, "type='unavailable'", "from='" B "/b'", NULL);
	harness_logout(a);
	a = harness_login(A "/a3");
	harness_send(a, "<presence/>");
	gather(a, &g);
	TAKE(&g, "<presence", "from='" A "/a3'");
	TAKE(&g, "type='unavailable'", "from='" B "'", "to='" A "/a3'");
	GOT_ALL(&g);
}

Test(mod_presence, explicit_probe)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct session	*c = online(C "/c");

	handshake(a, A, b, B);
	/* A subscriber's probe is answered, another's is not. */
	pres(a, B, "probe");
	expect(a, "<presence", "from='" B "/b'", "to='" A "/a'", NULL);
	expect_none(a);
	pres(c, B, "probe");
	expect_none(c);
	expect_none(b);
}

Test(mod_presence, broadcast_on_login_and_logout)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct session	*c = online(C "/c"), *b2;
	struct got	 g;

	handshake(a, A, b, B);
	/* A dropped connection: unavailable to the subscribers. */
	harness_logout(b);
	expect(a, "type='unavailable'", "from='" B "/b'", "to='" A "'",
	    NULL);
	expect_none(a);
	/* Initial presence goes to the subscribers. */
	b = harness_login(B "/b2");
	send_fmt(b, "<presence><priority>3</priority></presence>");
	expect(a, "<presence", "from='" B "/b2'", "to='" A "'",
	    "<priority>3</priority>", NULL);
	expect_none(a);
	/* Later presence too, and to bob's other resources. */
	b2 = online(B "/b3");
	harness_drain(b);
	harness_drain(a);
	send_fmt(b, "<presence><show>dnd</show></presence>");
	expect(a, "<show>dnd</show>", "from='" B "/b2'", NULL);
	gather(b2, &g);
	TAKE(&g, "<show>dnd</show>", "from='" B "/b2'", "to='" B "/b3'");
	GOT_ALL(&g);
	/* Explicit unavailable. */
	send_fmt(b, "<presence type='unavailable'><status>bye</status>"
	    "</presence>");
	expect(a, "type='unavailable'", "from='" B "/b2'",
	    "<status>bye</status>", NULL);
	expect(b2, "type='unavailable'", "from='" B "/b2'", NULL);
	expect_none(a);
	expect_none(c);		/* no subscription, nothing */
}

Test(mod_presence, own_resources)
{
	struct session	*one = online(A "/one"), *two;
	struct got	 g;

	two = harness_login(A "/two");
	send_fmt(two, "<presence><priority>5</priority></presence>");
	expect(one, "<presence", "from='" A "/two'", "to='" A "/one'",
	    "<priority>5</priority>", NULL);
	expect_none(one);
	gather(two, &g);
	TAKE(&g, "<presence", "from='" A "/two'", "to='" A "/two'");
	TAKE(&g, "<presence", "from='" A "/one'", "to='" A "/two'");
	GOT_ALL(&g);
	harness_logout(two);
	expect(one, "type='unavailable'", "from='" A "/two'", NULL);
	expect_none(one);
}

Test(mod_presence, directed_presence_is_undone)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct session	*c = online(C "/c");

	send_fmt(a, "<presence to='" C "'><status>hi</status></presence>");
	expect(c, "<presence", "from='" A "/a'", "<status>hi</status>",
	    NULL);
	send_fmt(a, "<presence type='unavailable'/>");
	expect(c, "type='unavailable'", "from='" A "/a'", "to='" C "'",
	    NULL);
	expect_none(c);
	expect_none(b);

	/* Undone on a dropped connection too, even if never available. */
	a = harness_login(A "/a2");
	send_fmt(a, "<presence to='" C "/c'/>");
	expect(c, "<presence", "from='" A "/a2'", "to='" C "/c'", NULL);
	harness_logout(a);
	expect(c, "type='unavailable'", "from='" A "/a2'", "to='" C "/c'",
	    NULL);
	expect_none(c);

	/* A directed unavailable ends it: nothing more at the end. */
	a = online(A "/a3");
	send_fmt(a, "<presence to='" C "'/>");
	expect(c, "<presence", "from='" A "/a3'", NULL);
	send_fmt(a, "<presence to='" C "' type='unavailable'/>");
	expect(c, "type='unavailable'", "from='" A "/a3'", NULL);
	harness_logout(a);
	expect_none(c);
}

Test(mod_presence, directed_presence_to_a_subscriber_is_not_doubled)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");

	handshake(b, B, a, A);	/* bob subscribed to alice */
	send_fmt(a, "<presence to='" B "'/>");
	expect(b, "<presence", "from='" A "/a'", NULL);
	harness_logout(a);
	expect(b, "type='unavailable'", "from='" A "/a'", NULL);
	expect_none(b);
}

Test(mod_presence, unsubscribe)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct got	 g;

	handshake(a, A, b, B);
	/* 3.3: alice stops her subscription. */
	pres(a, B, "unsubscribe");
	gather(a, &g);
	TAKE(&g, "type='set'", "jid='" B "'", "subscription='none'");
	TAKE(&g, "type='unavailable'", "from='" B "/b'");
	GOT_ALL(&g);
	gather(b, &g);
	TAKE(&g, "type='set'", "jid='" A "'", "subscription='none'");
	TAKE(&g, "type='unsubscribe'", "from='" A "'");
	GOT_ALL(&g);
	expect_item(a, B, "none", 0);
	expect_item(b, A, "none", 0);
	/* Nothing more flows from bob to alice. */
	send_fmt(b, "<presence><show>xa</show></presence>");
	expect_none(a);
}

Test(mod_presence, cancel_a_subscription)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct got	 g;

	handshake(a, A, b, B);
	/* 3.2: bob cancels alice's subscription. */
	pres(b, A, "unsubscribed");
	expect(b, "type='set'", "jid='" A "'", "subscription='none'", NULL);
	expect_none(b);
	gather(a, &g);
	TAKE(&g, "type='set'", "jid='" B "'", "subscription='none'");
	TAKE(&g, "type='unsubscribed'", "from='" B "'");
	TAKE(&g, "type='unavailable'", "from='" B "/b'");
	GOT_ALL(&g);
}

Test(mod_presence, deny_a_request)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct got	 g;

	pres(a, B, "subscribe");
	harness_drain(a);
	expect(b, "type='subscribe'", NULL);
	pres(b, A, "unsubscribed");
	expect_none(b);		/* alice was never in bob's roster */
	gather(a, &g);
	TAKE(&g, "type='set'", "subscription='none'");
	TAKE(&g, "type='unsubscribed'", "from='" B "'");
	GOT_ALL(&g);
	expect_item(a, B, "none", 0);
	harness_logout(b);
	b = harness_login(B "/b2");
	harness_send(b, "<presence/>");
	gather(b, &g);
	cr_assert_not(take(&g, "type='subscribe'", NULL), "%s", dump(&g));
	got_free(&g);
}

Test(mod_presence, withdrawn_request_is_not_delivered)
{
	struct session	*a = online(A "/a"), *b;
	struct got	 g;

	pres(a, B, "subscribe");
	pres(a, B, "unsubscribe");
	harness_drain(a);
	expect_item(a, B, "none", 0);
	b = harness_login(B "/b");
	harness_send(b, "<presence/>");
	gather(b, &g);
	cr_assert_not(take(&g, "type='subscribe'", NULL), "%s", dump(&g));
	got_free(&g);
}

Test(mod_presence, roster_remove_cancels_both_ways)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");
	struct got	 g;

	handshake(a, A, b, B);
	handshake(b, B, a, A);
	expect_item(a, B, "both", 0);
	/* 2.5.2: alice removes bob. */
	send_fmt(a, "<iq type='set' id='rm'><query " NS "><item jid='" B
	    "' subscription='remove'/></query></iq>");
	gather(a, &g);
	TAKE(&g, "type='result'", "id='rm'");
	TAKE(&g, "type='set'", "jid='" B "'", "subscription='remove'");
	TAKE(&g, "type='unavailable'", "from='" B "/b'");
	GOT_ALL(&g);
	gather(b, &g);
	TAKE(&g, "type='unsubscribe'", "from='" A "'");
	TAKE(&g, "type='unsubscribed'", "from='" A "'");
	TAKE(&g, "type='set'", "jid='" A "'", "subscription='to'");
	TAKE(&g, "type='set'", "jid='" A "'", "subscription='none'");
	TAKE(&g, "type='unavailable'", "from='" A "/a'");
	GOT_ALL(&g);
	expect_no_item(a, B);
	expect_item(b, A, "none", 0);
}

Test(mod_presence, request_to_a_missing_account)
{
	struct session	*a = online(A "/a");
	struct got	 g;

	pres(a, "nobody@example.org", "subscribe");
	gather(a, &g);
	TAKE(&g, "type='set'", "ask='subscribe'");
	TAKE(&g, "type='set'", "jid='nobody@example.org'",
	    "subscription='none'");
	TAKE(&g, "type='unsubscribed'", "from='nobody@example.org'");
	GOT_ALL(&g);
	expect_item(a, "nobody@example.org", "none", 0);
}

Test(mod_presence, across_hosts)
{
	struct session	*a = online(A "/a"), *d;
	struct got	 g;

	cr_assert_eq(tern_user_create("other.org", "dave", "pw"), 0);
	d = online("dave@other.org/d");
	pres(a, "dave@other.org", "subscribe");
	harness_drain(a);
	expect(d, "type='subscribe'", "from='" A "'", NULL);
	pres(d, A, "subscribed");
	expect(d, "type='set'", "subscription='from'", NULL);
	gather(a, &g);
	TAKE(&g, "type='set'", "jid='dave@other.org'", "subscription='to'");
	TAKE(&g, "type='subscribed'", "from='dave@other.org'");
	TAKE(&g, "<presence", "from='dave@other.org/d'");
	GOT_ALL(&g);
	harness_logout(d);
	expect(a, "type='unavailable'", "from='dave@other.org/d'", NULL);
}

Test(mod_presence, subscription_to_a_full_jid_is_to_the_bare_jid)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");

	pres(a, B "/b", "subscribe");
	expect(a, "ask='subscribe'", "jid='" B "'", NULL);
	expect(b, "type='subscribe'", "from='" A "'", "to='" B "'", NULL);
}

Test(mod_presence, requests_go_to_every_available_resource)
{
	struct session	*a = online(A "/a"), *b1 = online(B "/1");
	struct session	*b2 = online(B "/2"), *b3 = harness_login(B "/3");

	harness_drain(b1);
	pres(a, B, "subscribe");
	expect(b1, "type='subscribe'", NULL);
	expect(b2, "type='subscribe'", NULL);
	expect_none(b3);	/* not available */
}

Test(mod_presence_limits, directed_presence_limit)
{
	struct session	*a = online(A "/a");

	send_fmt(a, "<presence to='x@example.org'/>");
	send_fmt(a, "<presence to='y@example.org'/>");
	expect_none(a);
	send_fmt(a, "<presence to='z@example.org' id='p3'/>");
	expect(a, "type='error'", "id='p3'", "<resource-constraint", NULL);
	/* Ending one makes room. */
	send_fmt(a, "<presence to='x@example.org' type='unavailable'/>");
	send_fmt(a, "<presence to='z@example.org'/>");
	expect_none(a);
}

Test(mod_presence_limits, pending_requests_limit)
{
	struct session	*a = online(A "/a"), *c = online(C "/c"), *b;
	struct got	 g;

	pres(a, B, "subscribe");
	pres(c, B, "subscribe");
	b = harness_login(B "/b");
	harness_send(b, "<presence/>");
	gather(b, &g);
	TAKE(&g, "type='subscribe'", "from='" A "'");
	cr_assert_not(take(&g, "from='" C "'", NULL), "%s", dump(&g));
	got_free(&g);
}

Test(mod_presence_limits, roster_full)
{
	struct session	*a = online(A "/a");

	pres(a, B, "subscribe");
	expect(a, "type='set'", "ask='subscribe'", NULL);
	send_fmt(a, "<presence to='" C "' type='subscribe' id='s2'/>");
	expect(a, "type='error'", "id='s2'", "<not-allowed", NULL);
	expect_none(a);
}

/* Whether contact may see user's presence, as other modules ask it. */
static int
subscriber(const char *user, const char *contact)
{
	struct tern_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.user = user;
	ev.to = contact;
	return tern_fire(tern_host_find("example.org"),
	    "presence-subscriber", &ev) == TERN_DONE;
}

Test(mod_presence, presence_subscriber_event)
{
	struct session	*a = online(A "/a"), *b = online(B "/b");

	cr_assert(subscriber("alice", A));	/* oneself */
	cr_assert_not(subscriber("bob", A));
	pres(a, B, "subscribe");
	cr_assert_not(subscriber("bob", A));	/* only pending */
	pres(b, A, "subscribed");
	cr_assert(subscriber("bob", A));
	cr_assert_not(subscriber("alice", B));	/* 'to' is not 'from' */
	cr_assert_not(subscriber("bob", C));
}
