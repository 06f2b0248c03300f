/* mod_version on the in-process harness: XEP-0092. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "harness.h"

#define NS_VERSION	"jabber:iq:version"
#define HAS(r, s)	cr_assert_not_null(strstr((r), (s)), "%s", (r))
#define HASNT(r, s)	cr_assert_null(strstr((r), (s)), "%s", (r))

static const char *
ask(struct session *a, const char *xml)
{
	const char	*r;

	harness_send(a, xml);
	r = harness_next(a);
	cr_assert_not_null(r, "no answer to %s", xml);
	return r;
}

TestSuite(mod_version, .fini = harness_stop);

Test(mod_version, answers_name_version_and_os)
{
	struct session	*a;
	struct utsname	 u;
	char		 os[512];
	const char	*r;

	harness_start("modules version;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='v1' to='example.org'>"
	    "<query xmlns='" NS_VERSION "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "id='v1'");
	HAS(r, "from='example.org'");
	HAS(r, "<query xmlns='" NS_VERSION "'><name>tern</name>"
	    "<version>");
	cr_assert_eq(uname(&u), 0);
	snprintf(os, sizeof(os), "<os>%s</os>", u.sysname);
	HAS(r, os);
	HASNT(r, "<version></version>");
	cr_assert_null(harness_next(a));
}

Test(mod_version, hide_os)
{
	struct session	*a;
	const char	*r;

	harness_start("modules version; version_hide_os yes;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='v1' to='example.org'>"
	    "<query xmlns='" NS_VERSION "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "<name>tern</name>");
	HAS(r, "<version>");
	HASNT(r, "<os>");
}

Test(mod_version, set_is_service_unavailable)
{
	struct session	*a;
	const char	*r;

	harness_start("modules version;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='set' id='v2' to='example.org'>"
	    "<query xmlns='" NS_VERSION "'/></iq>");
	HAS(r, "type='error'");
	HAS(r, "<service-unavailable");
}

Test(mod_version, not_enabled_is_service_unavailable)
{
	struct session	*a;
	const char	*r;

	harness_start("modules ping;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='v3' to='example.org'>"
	    "<query xmlns='" NS_VERSION "'/></iq>");
	HAS(r, "<service-unavailable");
}

Test(mod_version, accounts_are_not_answered_for)
{
	struct session	*a;
	const char	*r;

	harness_start("modules version;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='v4' to='bob@example.org'>"
	    "<query xmlns='" NS_VERSION "'/></iq>");
	HAS(r, "<service-unavailable");
}
