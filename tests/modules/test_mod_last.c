/* mod_last on the in-process harness: XEP-0012. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tern/module.h"

#define NS_LAST		"jabber:iq:last"
#define HAS(r, s)	cr_assert_not_null(strstr((r), (s)), "%s", (r))
#define HASNT(r, s)	cr_assert_null(strstr((r), (s)), "%s", (r))
#define Q_SELF		"<iq type='get' id='l1' to='alice@example.org'>" \
			"<query xmlns='" NS_LAST "'/></iq>"

static const char *
ask(struct session *a, const char *xml)
{
	const char	*r;

	harness_send(a, xml);
	r = harness_next(a);
	cr_assert_not_null(r, "no answer to %s", xml);
	return r;
}

/* The seconds='' of a result. */
static long
seconds(const char *r)
{
	const char	*p = strstr(r, "seconds='");

	cr_assert_not_null(p, "%s", r);
	return strtol(p + 9, NULL, 10);
}

static void
setup(void)
{
	harness_start("modules last;");
}

TestSuite(mod_last, .init = setup, .fini = harness_stop);

Test(mod_last, server_uptime)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	r = ask(a, "<iq type='get' id='u1' to='example.org'>"
	    "<query xmlns='" NS_LAST "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "from='example.org'");
	HAS(r, "<query xmlns='" NS_LAST "' seconds='");
	cr_assert_leq(seconds(r), 5, "%s", r);
	sleep(1);
	r = ask(a, "<iq type='get' id='u2' to='example.org'>"
	    "<query xmlns='" NS_LAST "'/></iq>");
	cr_assert_geq(seconds(r), 1, "%s", r);
}

Test(mod_last, never_logged_out_is_item_not_found)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	r = ask(a, Q_SELF);
	HAS(r, "type='error'");
	HAS(r, "<item-not-found");
}

Test(mod_last, logout_with_status)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*a2;
	const char	*r;

	harness_send(a, "<presence/>");
	harness_send(a, "<presence type='unavailable'>"
	    "<status>Gone fishing &amp; more</status></presence>");
	harness_logout(a);
	sleep(1);
	a2 = harness_login("alice@example.org/laptop");
	r = ask(a2, Q_SELF);
	HAS(r, "type='result'");
	HAS(r, "from='alice@example.org'");
	HAS(r, ">Gone fishing &amp; more</query>");
	cr_assert(seconds(r) >= 1 && seconds(r) <= 5, "%s", r);
	/* Without 'to': the account's own, answered from its JID. */
	r = ask(a2, "<iq type='get' id='l2'><query xmlns='" NS_LAST "'/>"
	    "</iq>");
	HAS(r, "type='result'");
	HAS(r, "from='alice@example.org'");
	HAS(r, "Gone fishing");
}

Test(mod_last, available_resource_is_zero)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*a2 = harness_login("alice@example.org/laptop");
	const char	*r;

	harness_send(a, "<presence/>");
	harness_send(a, "<presence type='unavailable'><status>x</status>"
	    "</presence>");
	sleep(1);
	harness_send(a2, "<presence/>");
	r = ask(a, Q_SELF);
	HAS(r, "type='result'");
	cr_assert_eq(seconds(r), 0, "%s", r);
	HASNT(r, ">x<");
}

Test(mod_last, dropped_connection_records_no_status)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*a2;
	const char	*r;

	harness_send(a, "<presence/>");
	harness_logout(a);
	a2 = harness_login("alice@example.org/laptop");
	r = ask(a2, Q_SELF);
	HAS(r, "type='result'");
	HAS(r, "seconds='");
	HAS(r, "/>");
	cr_assert_null(strstr(r, "</query>"), "%s", r);
}

Test(mod_last, never_available_session_records_nothing)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*a2;

	harness_logout(a);
	a2 = harness_login("alice@example.org/laptop");
	HAS(ask(a2, Q_SELF), "<item-not-found");
}

Test(mod_last, others_are_forbidden)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*b = harness_login("bob@example.org/pc");
	const char	*r;

	harness_send(a, "<presence/>");
	harness_logout(a);
	r = ask(b, "<iq type='get' id='f1' to='alice@example.org'>"
	    "<query xmlns='" NS_LAST "'/></iq>");
	HAS(r, "type='error'");
	HAS(r, "type='auth'");
	HAS(r, "<forbidden");
	r = ask(b, "<iq type='get' id='f2' to='nobody@example.org'>"
	    "<query xmlns='" NS_LAST "'/></iq>");
	HAS(r, "<service-unavailable");
}

Test(mod_last, long_status_is_cut_on_a_character)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*a2;
	char		 xml[8192], *p;
	const char	*r, *s, *e;
	int		 i;

	p = xml + sprintf(xml, "<presence type='unavailable'><status>a");
	for (i = 0; i < 1000; i++)
		p += sprintf(p, "\xc3\xa9");		/* e-acute, 2 bytes */
	sprintf(p, "</status></presence>");
	harness_send(a, "<presence/>");
	harness_send(a, xml);
	a2 = harness_login("alice@example.org/laptop");
	r = ask(a2, Q_SELF);
	s = strchr(strstr(r, "seconds='"), '>') + 1;
	e = strstr(s, "</query>");
	cr_assert_not_null(e, "%s", r);
	/* 'a' then 511 whole characters: 1023 bytes <= 1024. */
	cr_assert_eq(e - s, 1023, "%s", r);
}

Test(mod_last, kept_across_restart_and_deleted_with_the_account)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	harness_send(a, "<presence/>");
	harness_send(a, "<presence type='unavailable'><status>bye</status>"
	    "</presence>");
	harness_logout(a);
	harness_restart();
	a = harness_login("alice@example.org/phone");
	r = ask(a, Q_SELF);
	HAS(r, ">bye</query>");
	harness_logout(a);
	cr_assert_eq(tern_user_delete("example.org", "alice"), 0);
	cr_assert_eq(tern_user_create("example.org", "alice", "pw"), 0);
	a = harness_login("alice@example.org/phone");
	HAS(ask(a, Q_SELF), "<item-not-found");
}

Test(mod_last, session_outliving_its_account_leaves_no_record)
{
	struct session	*a = harness_login("alice@example.org/phone");

	harness_send(a, "<presence/>");
	cr_assert_eq(tern_user_delete("example.org", "alice"), 0);
	harness_logout(a);
	cr_assert_eq(tern_user_create("example.org", "alice", "pw"), 0);
	a = harness_login("alice@example.org/phone");
	HAS(ask(a, Q_SELF), "<item-not-found");
}
