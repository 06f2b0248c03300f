/* mod_ping on the in-process harness. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

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
