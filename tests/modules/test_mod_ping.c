/* mod_ping on the in-process harness: XEP-0199. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define HAS(r, s)	cr_assert_not_null(strstr((r), (s)), "%s", (r))
#define PING		"<ping xmlns='urn:xmpp:ping'/>"

static void
setup(void)
{
	harness_start("modules ping;");
}

TestSuite(mod_ping, .init = setup, .fini = harness_stop);

Test(mod_ping, answers_pings_to_the_server)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	harness_send(a, "<iq type='get' id='p1' to='example.org'>"
	    "<ping xmlns='urn:xmpp:ping'/></iq>");
	r = harness_next(a);
	cr_assert_not_null(r);
	cr_assert_not_null(strstr(r, "type='result'"), "%s", r);
	cr_assert_not_null(strstr(r, "id='p1'"), "%s", r);
	cr_assert_not_null(strstr(r, "from='example.org'"), "%s", r);
	cr_assert_not_null(strstr(r, "to='alice@example.org/phone'"), "%s", r);
	cr_assert_null(harness_next(a));
}

Test(mod_ping, other_iq_still_service_unavailable)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	harness_send(a, "<iq type='get' id='v1' to='example.org'>"
	    "<query xmlns='urn:example:nothing'/></iq>");
	r = harness_next(a);
	cr_assert_not_null(r);
	cr_assert_not_null(strstr(r, "service-unavailable"), "%s", r);
}

Test(mod_ping, own_account_ping_is_answered)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	harness_send(a, "<iq type='get' id='p2'>" PING "</iq>");
	r = harness_next(a);
	cr_assert_not_null(r);
	HAS(r, "type='result'");
	HAS(r, "id='p2'");
	HAS(r, "from='alice@example.org'");
	harness_send(a, "<iq type='get' id='p3' to='alice@example.org'>"
	    PING "</iq>");
	r = harness_next(a);
	cr_assert_not_null(r);
	HAS(r, "type='result'");
	HAS(r, "from='alice@example.org'");
}

/* No probing for accounts: another's bare JID answers as a missing one. */
Test(mod_ping, others_account_ping_is_service_unavailable)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	harness_send(a, "<iq type='get' id='p4' to='bob@example.org'>"
	    PING "</iq>");
	r = harness_next(a);
	cr_assert_not_null(r);
	HAS(r, "<service-unavailable");
	harness_send(a, "<iq type='get' id='p5' to='nobody@example.org'>"
	    PING "</iq>");
	r = harness_next(a);
	cr_assert_not_null(r);
	HAS(r, "<service-unavailable");
}

Test(mod_ping, no_server_pings_by_default)
{
	struct session	*a = harness_login("alice@example.org/phone");

	sleep(2);
	harness_tick();
	cr_assert_null(harness_next(a));
}

TestSuite(mod_ping_idle, .fini = harness_stop);

/* The next stanza must be one server ping to jid; returns its id. */
static void
expect_ping(struct session *s, const char *jid, char *id, size_t idlen)
{
	const char	*r = harness_next(s), *p;
	char		 to[256];

	cr_assert_not_null(r, "no ping to %s", jid);
	HAS(r, "<iq type='get' id='");
	HAS(r, "from='example.org'");
	snprintf(to, sizeof(to), "to='%s'", jid);
	HAS(r, to);
	HAS(r, PING);
	p = strstr(r, "id='") + 4;
	cr_assert_lt((size_t)(strchr(p, '\'') - p), idlen);
	memcpy(id, p, strchr(p, '\'') - p);
	id[strchr(p, '\'') - p] = '\0';
	cr_assert_null(harness_next(s), "more than one ping");
}

Test(mod_ping_idle, idle_sessions_are_pinged_once_until_they_answer)
{
	struct session	*a, *b;
	char		 id[64], id2[64], xml[256];

	harness_start("modules ping; ping_interval 2s; ping_timeout 30s;");
	a = harness_login("alice@example.org/phone");
	b = harness_login("bob@example.org/pc");
	sleep(2);
	harness_send(b, "<presence/>");		/* b is not idle */
	sleep(1);
	harness_tick();
	expect_ping(a, "alice@example.org/phone", id, sizeof(id));
	cr_assert_null(harness_next(b), "bob was active, not idle");

	/* Pending: not pinged again. */
	sleep(1);
	harness_tick();
	cr_assert_null(harness_next(a));

	/* The answer resets the idle time: no ping for ping_interval. */
	snprintf(xml, sizeof(xml), "<iq type='result' id='%s' "
	    "to='example.org'/>", id);
	harness_send(a, xml);
	cr_assert_null(harness_next(a), "the pong was answered");
	sleep(1);
	harness_tick();
	cr_assert_null(harness_next(a));

	/* Idle again: a new ping with a new id. */
	sleep(2);
	harness_tick();
	expect_ping(a, "alice@example.org/phone", id2, sizeof(id2));
	cr_assert_str_neq(id, id2);
}

Test(mod_ping_idle, any_stanza_counts_as_an_answer)
{
	struct session	*a;
	char		 id[64], id2[64];

	harness_start("modules ping; ping_interval 1s; ping_timeout 1s;");
	a = harness_login("alice@example.org/phone");
	sleep(2);
	harness_tick();
	expect_ping(a, "alice@example.org/phone", id, sizeof(id));
	/* Not the pong, but proof of life all the same. */
	harness_send(a, "<presence/>");
	sleep(1);
	harness_tick();
	/* Not timed out (a closed session is never pinged again). */
	expect_ping(a, "alice@example.org/phone", id2, sizeof(id2));
	cr_assert_str_neq(id, id2);
}

Test(mod_ping_idle, unanswered_ping_is_not_repeated)
{
	struct session	*a;
	const char	*r;
	char		 id[64];

	harness_start("modules ping; ping_interval 1s; ping_timeout 1s;");
	a = harness_login("alice@example.org/phone");
	sleep(2);
	harness_tick();
	expect_ping(a, "alice@example.org/phone", id, sizeof(id));
	/*
	 * ping_timeout passes: the session is closed once with
	 * connection-timeout and never pinged again.
	 */
	sleep(2);
	harness_tick();
	sleep(2);
	harness_tick();
	r = harness_next(a);
	cr_assert_not_null(r, "the silent session was not closed");
	cr_assert_str_eq(r, "<closed condition='connection-timeout'/>");
	cr_assert_null(harness_next(a));
}

Test(mod_ping_idle, each_host_pings_its_own_sessions)
{
	struct session	*a, *o;
	char		 id[64];

	harness_start("modules ping; ping_interval 1s; ping_timeout 5s;");
	a = harness_login("alice@example.org/phone");
	o = harness_login("olga@other.org/x");
	sleep(2);
	harness_tick();
	expect_ping(a, "alice@example.org/phone", id, sizeof(id));
	cr_assert_not_null(harness_next(o));
	cr_assert_null(harness_next(o), "pinged twice");
}
