/*
 * mod_register (XEP-0077) on the in-process harness.
 *
 * The harness has no unauthenticated streams, so registration events are
 * fired by hand through tern_fire, as stream.c fires them; their stanza
 * carries a 'from' naming a harness session so that the reply, which
 * tern_reply routes when the event has no stream, is captured there.
 * Throttling by address needs a real connection: see the interop tests.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "harness.h"
#include "tern/module.h"

#define NS_REG		"jabber:iq:register"
#define NS_FEATURE	"http://jabber.org/features/iq-register"
#define PROBE		"probe@example.org/unauthenticated"

static void
closed(void)
{
	harness_start("modules register;");
}

static void
open_reg(void)
{
	harness_start("modules register vcard; register_allow yes;");
}

TestSuite(mod_register, .init = closed, .fini = harness_stop);
TestSuite(mod_register_open, .init = open_reg, .fini = harness_stop);

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

/* Fires an unauthenticated iq of type with a register query body. */
static int
unauth(const char *type, const char *id, const char *body)
{
	struct tern_event	 ev;
	struct tern_stanza	*st;
	char			 xml[2048], name[128];
	int			 rc;

	snprintf(xml, sizeof(xml), "<iq xmlns='jabber:client' type='%s' "
	    "id='%s' from='" PROBE "'><query xmlns='" NS_REG "'>%s</query>"
	    "</iq>", type, id, body);
	st = tern_stanza_from_xml(xml, strlen(xml));
	cr_assert_not_null(st, "%s", xml);
	memset(&ev, 0, sizeof(ev));
	ev.stanza = st;
	snprintf(name, sizeof(name), "iq-%s/unauthenticated/" NS_REG
	    ":query", type);
	rc = tern_fire(tern_host_find("example.org"), name, &ev);
	tern_stanza_unref(st);
	return rc;
}

/* Whether a stream-features event adds <register/>. */
static int
advertised(int authenticated)
{
	struct tern_event	 ev;
	struct tern_stanza	*f;
	int			 found;

	f = tern_stanza_new("http://etherx.jabber.org/streams", "features");
	memset(&ev, 0, sizeof(ev));
	ev.features = f;
	ev.authenticated = authenticated;
	tern_fire(tern_host_find("example.org"), "stream-features", &ev);
	found = tern_stanza_child(f, NS_FEATURE, "register") != NULL;
	tern_stanza_unref(f);
	return found;
}

static int
password_is(const char *user, const char *pw)
{
	char	*authpw;
	int	 ok;

	if (account_get("example.org", user, &authpw) != 0)
		return 0;
	ok = account_check_password(authpw, pw, strlen(pw)) == 0;
	free(authpw);
	return ok;
}

/* -- registration disabled (the default) ------------------------------ */

Test(mod_register, not_advertised_by_default)
{
	cr_assert_not(advertised(0));
	cr_assert_not(advertised(1));
}

Test(mod_register, registration_refused_by_default)
{
	struct session	*p = harness_login(PROBE);

	cr_assert_eq(unauth("get", "r1", ""), TERN_DONE);
	expect(p, "type='error'", "id='r1'", "<service-unavailable", NULL);
	cr_assert_eq(unauth("set", "r2", "<username>dave</username>"
	    "<password>secret</password>"), TERN_DONE);
	expect(p, "type='error'", "id='r2'", "<service-unavailable", NULL);
	cr_assert_eq(tern_user_exists("example.org", "dave"), 0);
}

/* -- logged-in users: always ----------------------------------------- */

Test(mod_register, get_when_registered)
{
	struct session	*a = harness_login("alice@example.org/phone");

	harness_send(a, "<iq type='get' id='g1' to='example.org'>"
	    "<query xmlns='" NS_REG "'/></iq>");
	expect(a, "type='result'", "id='g1'", "<registered/>",
	    "<username>alice</username>", NULL);
	harness_send(a, "<iq type='get' id='g2'><query xmlns='" NS_REG "'/>"
	    "</iq>");
	expect(a, "type='result'", "id='g2'", "<registered/>", NULL);
}

Test(mod_register, change_password)
{
	struct session	*a = harness_login("alice@example.org/phone");

	harness_send(a, "<iq type='set' id='c1' to='example.org'>"
	    "<query xmlns='" NS_REG "'><username>alice</username>"
	    "<password>n3w-secret</password></query></iq>");
	expect(a, "type='result'", "id='c1'", NULL);
	cr_assert(password_is("alice", "n3w-secret"));
	cr_assert_not(password_is("alice", "pw"));
	/* Without 'to', with the bare JID as username. */
	harness_send(a, "<iq type='set' id='c2'><query xmlns='" NS_REG "'>"
	    "<username>alice@example.org</username>"
	    "<password>third</password></query></iq>");
	expect(a, "type='result'", "id='c2'", NULL);
	cr_assert(password_is("alice", "third"));
}

Test(mod_register, change_password_with_a_form)
{
	struct session	*a = harness_login("alice@example.org/phone");

	harness_send(a, "<iq type='set' id='c1'><query xmlns='" NS_REG "'>"
	    "<x xmlns='jabber:x:data' type='submit'>"
	    "<field var='FORM_TYPE'><value>" NS_REG ":changepassword</value>"
	    "</field><field var='username'><value>alice</value></field>"
	    "<field var='password'><value>formed</value></field></x>"
	    "</query></iq>");
	expect(a, "type='result'", "id='c1'", NULL);
	cr_assert(password_is("alice", "formed"));
}

Test(mod_register, change_password_errors)
{
	struct session	*a = harness_login("alice@example.org/phone");

	/* XEP-0077 3.3: an empty password keeps the old one. */
	harness_send(a, "<iq type='set' id='c1'><query xmlns='" NS_REG "'>"
	    "<username>alice</username><password/></query></iq>");
	expect(a, "type='error'", "id='c1'", "<bad-request", NULL);
	harness_send(a, "<iq type='set' id='c2'><query xmlns='" NS_REG "'>"
	    "<password>x</password></query></iq>");
	expect(a, "type='error'", "id='c2'", "<bad-request", NULL);
	harness_send(a, "<iq type='set' id='c3'><query xmlns='" NS_REG "'/>"
	    "</iq>");
	expect(a, "type='error'", "id='c3'", "<bad-request", NULL);
	/* Someone else's password. */
	harness_send(a, "<iq type='set' id='c4'><query xmlns='" NS_REG "'>"
	    "<username>bob</username><password>x</password></query></iq>");
	expect(a, "type='error'", "id='c4'", "<forbidden", NULL);
	cr_assert(password_is("alice", "pw"));
	cr_assert(password_is("bob", "pw"));
}

Test(mod_register, errors_do_not_echo_the_password)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	harness_send(a, "<iq type='set' id='c1'><query xmlns='" NS_REG "'>"
	    "<username>bob</username><password>s3cr3t</password></query>"
	    "</iq>");
	r = expect(a, "type='error'", NULL);
	cr_assert_null(strstr(r, "s3cr3t"), "%s", r);
}

Test(mod_register, others_are_forbidden)
{
	struct session	*b = harness_login("bob@example.org/pc");

	harness_send(b, "<iq type='set' id='c1' to='alice@example.org'>"
	    "<query xmlns='" NS_REG "'><username>alice</username>"
	    "<password>x</password></query></iq>");
	expect(b, "type='error'", "id='c1'", "<forbidden", NULL);
	harness_send(b, "<iq type='set' id='c2' to='alice@example.org'>"
	    "<query xmlns='" NS_REG "'><remove/></query></iq>");
	expect(b, "type='error'", "id='c2'", "<forbidden", NULL);
	cr_assert_eq(tern_user_exists("example.org", "alice"), 1);
	cr_assert(password_is("alice", "pw"));
}

Test(mod_register, users_of_other_hosts_get_nothing)
{
	struct session	*o = harness_login("alice@other.org/phone");

	harness_send(o, "<iq type='set' id='c1' to='example.org'>"
	    "<query xmlns='" NS_REG "'><remove/></query></iq>");
	expect(o, "type='error'", "id='c1'", "<service-unavailable", NULL);
	cr_assert_eq(tern_user_exists("example.org", "alice"), 1);
}

Test(mod_register, remove_account)
{
	struct session	*a = harness_login("alice@example.org/phone");

	harness_send(a, "<iq type='set' id='u1'><query xmlns='" NS_REG "'>"
	    "<remove/></query></iq>");
	expect(a, "type='result'", "id='u1'", NULL);
	cr_assert_eq(tern_user_exists("example.org", "alice"), 0);
	cr_assert_eq(tern_user_exists("example.org", "bob"), 1);
}

Test(mod_register, remove_must_be_alone)
{
	struct session	*a = harness_login("alice@example.org/phone");

	harness_send(a, "<iq type='set' id='u1'><query xmlns='" NS_REG "'>"
	    "<remove/><username>alice</username></query></iq>");
	expect(a, "type='error'", "id='u1'", "<bad-request", NULL);
	cr_assert_eq(tern_user_exists("example.org", "alice"), 1);
}

static void
feature_cb(const char *f, void *arg)
{
	if (strcmp(f, NS_REG) == 0)
		(*(int *)arg)++;
}

Test(mod_register, disco_feature)
{
	int	n = 0;

	tern_host_features(tern_host_find("example.org"), 0, feature_cb, &n);
	cr_assert_eq(n, 1);
}

/* -- registration enabled -------------------------------------------- */

Test(mod_register_open, advertised_before_authentication_only)
{
	cr_assert(advertised(0));
	cr_assert_not(advertised(1));
}

Test(mod_register_open, fields)
{
	struct session	*p = harness_login(PROBE);
	const char	*r;

	cr_assert_eq(unauth("get", "r1", ""), TERN_DONE);
	r = expect(p, "type='result'", "id='r1'", "<instructions>",
	    "<username/>", "<password/>", "xmlns='jabber:x:data'",
	    "var='FORM_TYPE'", "var='username'", "var='password'", NULL);
	cr_assert_null(strstr(r, "<registered/>"), "%s", r);
}

Test(mod_register_open, creates_an_account)
{
	struct session	*p = harness_login(PROBE);

	unauth("set", "r1", "<username>Dave</username>"
	    "<password>d4ve-pw</password>");
	expect(p, "type='result'", "id='r1'", NULL);
	/* The username is prepared: Dave is dave. */
	cr_assert_eq(tern_user_exists("example.org", "dave"), 1);
	cr_assert(password_is("dave", "d4ve-pw"));
	cr_assert_eq(tern_user_exists("other.org", "dave"), 0);
}

Test(mod_register_open, creates_an_account_with_a_form)
{
	struct session	*p = harness_login(PROBE);

	unauth("set", "r1", "<x xmlns='jabber:x:data' type='submit'>"
	    "<field var='FORM_TYPE'><value>" NS_REG "</value></field>"
	    "<field var='username'><value>erin</value></field>"
	    "<field var='password'><value>erin-pw</value></field></x>");
	expect(p, "type='result'", "id='r1'", NULL);
	cr_assert(password_is("erin", "erin-pw"));
}

Test(mod_register_open, existing_username_is_a_conflict)
{
	struct session	*p = harness_login(PROBE);

	unauth("set", "r1", "<username>bob</username>"
	    "<password>other</password>");
	expect(p, "type='error'", "id='r1'", "<conflict", "type='cancel'",
	    NULL);
	cr_assert(password_is("bob", "pw"));
}

Test(mod_register_open, missing_fields_are_not_acceptable)
{
	struct session	*p = harness_login(PROBE);

	unauth("set", "r1", "<username>dave</username>");
	expect(p, "type='error'", "id='r1'", "<not-acceptable", NULL);
	unauth("set", "r2", "<username>dave</username><password/>");
	expect(p, "type='error'", "id='r2'", "<not-acceptable", NULL);
	unauth("set", "r3", "<password>x</password>");
	expect(p, "type='error'", "id='r3'", "<not-acceptable", NULL);
	unauth("set", "r4", "<username/><password>x</password>");
	expect(p, "type='error'", "id='r4'", "<not-acceptable", NULL);
	cr_assert_eq(tern_user_exists("example.org", "dave"), 0);
}

Test(mod_register_open, invalid_usernames_are_not_acceptable)
{
	static const char *const bad[] = {
		"a@b", "a/b", "a b", "a\"b", "dave@other.org",
	};
	struct session	*p = harness_login(PROBE);
	char		 body[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "<username>%s</username>"
		    "<password>x</password>", strcmp(bad[i], "a\"b") == 0 ?
		    "a&quot;b" : bad[i]);
		unauth("set", "r1", body);
		expect(p, "type='error'", "<not-acceptable", NULL);
	}
	cr_assert_eq(tern_user_exists("other.org", "dave"), 0);
}

Test(mod_register_open, remove_needs_a_login)
{
	struct session	*p = harness_login(PROBE);

	unauth("set", "r1", "<remove/>");
	expect(p, "type='error'", "id='r1'", "<registration-required", NULL);
}

Test(mod_register_open, removal_deletes_module_data)
{
	struct session	*a = harness_login("alice@example.org/phone");

	harness_send(a, "<iq type='set' id='v1'><vCard xmlns='vcard-temp'>"
	    "<FN>Alice</FN></vCard></iq>");
	expect(a, "type='result'", NULL);
	harness_send(a, "<iq type='set' id='u1'><query xmlns='" NS_REG "'>"
	    "<remove/></query></iq>");
	expect(a, "type='result'", "id='u1'", NULL);
	harness_logout(a);
	/* Registered again: the old vCard is gone. */
	cr_assert_eq(tern_user_create("example.org", "alice", "pw"), 0);
	a = harness_login("alice@example.org/phone");
	harness_send(a, "<iq type='get' id='v2'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(a, "type='error'", "<item-not-found", NULL);
}
